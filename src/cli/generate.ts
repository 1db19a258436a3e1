import { CATALOG } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import type { MachineTrace } from '../cost/model.ts';
import { createMachine, type Machine } from '../engines/index.ts';
import type { Allreduce } from '../mesh/collectives.ts';
import { checkPromptFits, generate } from '../engines/generate.ts';
import { BOS, describeConfig } from '../model/config.ts';
import { DEFAULT_MODEL } from '../model/registry.ts';
import { TextStream } from '../model/tokenizer.ts';
import { nodeGpu } from '../gpu/node.ts';
import type { GpuContext } from '../gpu/device.ts';
import { loadModel } from './load.ts';
import type { Command } from './command.ts';
import { CHOICES, MESH_CHOICES, MESH_OPTIONS, meshOption, numberOption } from './options.ts';

export const generateCommand: Command = {
  summary: 'generate text (or token ids) from BOS plus a prompt with one engine',
  usage: '[--engine cpu|gpu|mesh] [--mesh WxH] [--preset NAME] [--allreduce NAME] [--model PATH|NAME] [--tokenizer PATH] [--prompt TEXT] [--tokens N] [--temperature T] [--top-p P] [--seed S] [--json]',
  options: {
    engine: { type: 'string', default: 'cpu' },
    model: { type: 'string', default: DEFAULT_MODEL },
    tokenizer: { type: 'string' },
    prompt: { type: 'string', default: '' },
    tokens: { type: 'string', default: '256' },
    temperature: { type: 'string', default: '0' },
    'top-p': { type: 'string', default: '1' },
    seed: { type: 'string', default: '42' },
    ...MESH_OPTIONS,
    allreduce: { type: 'string', default: CATALOG.defaults.allreduce },
    json: { type: 'boolean' },
  },
  choices: { model: CHOICES.runnableModel, ...MESH_CHOICES, allreduce: CHOICES.allreduce },
  async run(v) {
    const tokens = numberOption('tokens', v.tokens, 256, true);
    const temperature = numberOption('temperature', v.temperature, 0);
    const topP = numberOption('top-p', v['top-p'], 1);
    const seed = numberOption('seed', v.seed, 42, true);
    const prompt = String(v.prompt ?? '');
    const { model, tokenizer } = await loadModel(String(v.model), v.tokenizer as string | undefined);
    if (prompt !== '' && !tokenizer) {
      throw new WafermeshError(
        'no-tokenizer',
        `a prompt needs a tokenizer and model ${model.source} has none; pass --tokenizer PATH or leave --prompt empty`,
      );
    }
    // Every token covers at most maxTokenLength bytes: a longer prompt cannot fit, so it is refused
    // before the (quadratic) merge loop runs.
    const promptBytes = new TextEncoder().encode(prompt).length;
    if (tokenizer && promptBytes > model.config.seqLen * tokenizer.maxTokenLength) {
      throw new WafermeshError('prompt-too-long', `the prompt is ${promptBytes} bytes, more than the context of ${model.config.seqLen} tokens can hold; shorten the prompt`);
    }
    const promptIds = tokenizer ? tokenizer.encode(prompt, true) : [BOS];
    const mesh = meshOption(v);
    const allreduce = String(v.allreduce) as Allreduce;
    let gpu: GpuContext | undefined;
    let engine: Machine | undefined;
    const traces: MachineTrace[] = [];
    try {
      // --json on the mesh reads back what moved on the fabric after every token (measured words and steps).
      engine = await createMachine(String(v.engine), model, { gpu: async () => (gpu = await nodeGpu()), mesh, allreduce, measure: !!v.json });
      checkPromptFits(promptIds.length, engine);
      const eng = engine;
      const stream = tokenizer ? new TextStream(tokenizer, promptIds[promptIds.length - 1]) : undefined;
      const write = (s: string) => process.stdout.write(s);
      if (!v.json) {
        if (tokenizer) write(tokenizer.decode(promptIds.slice(1)));
      }
      const result = await generate(engine, { promptIds, tokens, temperature, topP, seed }, (id, i) => {
        const t = eng.lastTrace();
        if (t) traces.push(t);
        if (v.json) return;
        if (stream) write(stream.push(id));
        else write(`${i === 0 ? '' : ' '}${id}`);
      });
      const genMs = result.forwardMs.slice(Math.max(0, promptIds.length - 1));
      const sorted = [...genMs].sort((a, b) => a - b);
      const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
      const totalGenMs = genMs.reduce((a, b) => a + b, 0);
      const timings = {
        total_ms: round(result.totalMs),
        forward_passes: result.forwardPasses,
        prompt_ms: round(result.forwardMs.slice(0, promptIds.length - 1).reduce((a, b) => a + b, 0)),
        ms_per_token_median: round(median),
        tokens_per_s: genMs.length ? round((1000 * genMs.length) / totalGenMs) : 0,
      };
      if (v.json) {
        const out: Record<string, unknown> = {
          engine: engine.engine,
          model: model.source,
          config: describeConfig(model.config),
          prompt,
          prompt_ids: promptIds,
          ids: result.ids,
          ...(tokenizer ? { text: tokenizer.decode(result.ids, promptIds[promptIds.length - 1]) } : {}),
          stop: result.stop,
          ...(engine.wafer ? { mesh: meshSummary(engine, traces) } : {}),
          ...(engine.plan === 'gpu' ? { gpu: gpuSummary(engine, traces) } : {}),
          temperature,
          top_p: topP,
          seed,
          timings,
        };
        console.log(JSON.stringify(out));
      } else {
        if (stream) write(stream.flush());
        write('\n');
        console.error(
          `[${engine.engine}] ${result.ids.length} tokens, ${timings.tokens_per_s} tok/s (wall clock, median ${timings.ms_per_token_median} ms/token), stop: ${result.stop}`,
        );
      }
      return 0;
    } finally {
      engine?.dispose();
      gpu?.destroy();
    }
  },
};

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * The wafer over the generated tokens: fabric words and steps counted where they moved, beside the
 * closed form, and the cycles the cost model gives them at the preset's clock (modelled).
 */
function meshSummary(engine: Machine, traces: MachineTrace[]) {
  const p = engine.wafer!;
  const n = Math.max(1, traces.length);
  const measured = (t: MachineTrace) => {
    if (!t.fabricMeasured) throw new WafermeshError('internal', `the mesh engine did not report what it moved at position ${t.pos}`);
    return t.fabricMeasured;
  };
  const per = (f: (t: MachineTrace) => number) => round(traces.reduce((a, t) => a + f(t), 0) / n);
  const cycles = traces.reduce((a, t) => a + t.fabric!.cycles, 0) / n;
  return {
    mesh: `${p.mesh.width}x${p.mesh.height}`,
    sram_bytes_per_core: p.mesh.sramBytes,
    collectives: p.allreduce,
    passes_per_token: engine.passes.length,
    measured_fabric_words_per_token: per((t) => measured(t).words),
    measured_fabric_steps_per_token: per((t) => measured(t).steps),
    modelled_fabric_words_per_token: per((t) => measured(t).modelledWords),
    modelled_fabric_steps_per_token: per((t) => measured(t).modelledSteps),
    fabric_phases_equal_to_model: traces.every((t) => measured(t).phasesEqual === measured(t).phases),
    modelled_cycles_per_token: round(cycles),
    modelled_tokens_per_s: cycles > 0 ? round(p.mesh.clockHz / cycles) : 0,
    sram_peak_bytes_per_core: p.placement.fullest.totalWords * 4,
    context: p.placement.context,
  };
}

/** Off-chip traffic of the GPU baseline over the generated tokens. */
function gpuSummary(engine: Machine, traces: MachineTrace[]) {
  const n = Math.max(1, traces.length);
  return {
    passes_per_token: engine.passes.length,
    weight_bytes_per_token: round(traces.reduce((a, t) => a + t.offchip.weights, 0) / n),
    kv_bytes_per_token: round(traces.reduce((a, t) => a + t.offchip.kv, 0) / n),
    offchip_bytes_per_token: round(traces.reduce((a, t) => a + t.offchip.weights + t.offchip.kv, 0) / n),
  };
}
