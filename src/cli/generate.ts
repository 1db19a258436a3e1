import { CATALOG } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { gpuPrefillCost, type MachineTrace } from '../cost/model.ts';
import { gpuPreset, type GpuHardware } from '../cost/hardware.ts';
import type { MeasuredPrefillPhase } from '../engines/machine.ts';
import { createMachine, type Machine } from '../engines/index.ts';
import type { Allreduce } from '../mesh/collectives.ts';
import { checkPromptFits, Decoder } from '../engines/generate.ts';
import { Disaggregated, HANDOFF_LINKS } from '../engines/disaggregated.ts';
import { BOS, describeConfig, kvDim, type ModelConfig } from '../model/config.ts';
import { fabricPrefill } from '../cost/prefill.ts';
import { compilePrefill, prefillBase } from '../mesh/programs/prefill-fabric.ts';
import type { WaferProgram } from '../mesh/program.ts';
import type { FabricCount } from '../mesh/fabric.ts';
import { DEFAULT_MODEL } from '../model/registry.ts';
import { TextStream } from '../model/tokenizer.ts';
import { nodeGpu } from '../gpu/node.ts';
import type { GpuContext } from '../gpu/device.ts';
import { loadModel } from './load.ts';
import type { Command } from './command.ts';
import { CHOICES, MESH_CHOICES, MESH_OPTIONS, meshOption, numberOption, placementOption } from './options.ts';
import { compileProgram } from '../mesh/programs/decode.ts';
import { describePlacement } from '../mesh/pipelined.ts';

export const generateCommand: Command = {
  summary: 'generate text (or token ids) from BOS plus a prompt with one engine',
  usage: '[--engine cpu|gpu|mesh] [--prefill cpu|gpu|mesh --decode cpu|gpu|mesh] [--mesh WxH] [--preset NAME] [--sram BYTES] [--allreduce NAME] [--placement whole|pipelined[:G]] [--wafer-prefill token|gemm] [--model PATH|NAME] [--tokenizer PATH] [--prompt TEXT] [--tokens N] [--temperature T] [--top-p P] [--seed S] [--json]',
  options: {
    engine: { type: 'string', default: 'cpu' },
    prefill: { type: 'string' },
    decode: { type: 'string' },
    model: { type: 'string', default: DEFAULT_MODEL },
    tokenizer: { type: 'string' },
    prompt: { type: 'string', default: '' },
    tokens: { type: 'string', default: '256' },
    temperature: { type: 'string', default: '0' },
    'top-p': { type: 'string', default: '1' },
    seed: { type: 'string', default: '42' },
    ...MESH_OPTIONS,
    'wafer-prefill': { type: 'string', default: 'token' },
    allreduce: { type: 'string', default: CATALOG.defaults.allreduce },
    placement: { type: 'string' },
    json: { type: 'boolean' },
  },
  choices: { engine: CHOICES.engine, prefill: CHOICES.engine, decode: CHOICES.engine, model: CHOICES.runnableModel, 'wafer-prefill': CHOICES.waferPrefill, ...MESH_CHOICES, allreduce: CHOICES.allreduce },
  descriptions: {
    engine: 'the machine that decodes: cpu (the reference), gpu (the off-chip GPU baseline) or mesh (the emulated wafer)',
    prefill: 'disaggregated: the machine that prefills the prompt and hands its KV cache to --decode (the wafer takes it in at its edge over the fabric)',
    decode: 'disaggregated: the machine that takes the KV cache and decodes (default: --engine); needs --prefill',
    model: 'the model: a name below, a llama2.c checkpoint PATH, or random:dim=64,layers=2,… (a seeded random model)',
    tokenizer: "a llama2.c tokenizer file (default: the built-in model's own; without one, ids are printed)",
    prompt: 'text to start from, after BOS (needs a tokenizer)',
    tokens: 'how many ids to generate at most (fewer if the model emits BOS or the context ends)',
    temperature: 'sampling temperature; 0 = greedy (the most likely id)',
    'top-p': 'nucleus sampling: sample among the most likely ids holding this much probability; 1 = off',
    seed: "the sampler's random seed (a whole number)",
    mesh: 'the wafer for --engine mesh: WIDTHxHEIGHT cores, e.g. 8x8',
    'wafer-prefill': "how the wafer takes the prompt (--engine mesh, or --prefill mesh): token (one position at a time, as it decodes) or gemm (the whole prompt at once on the fabric, every linear layer a MeshGEMM on the mesh's square block, then the KV cache handed to the decode's layout)",
    preset: 'the wafer core for --engine mesh (SRAM, clock, link width)',
    sram: 'SRAM bytes per core, overriding the preset (a multiple of 4)',
    allreduce: 'how the wafer runs its allreduces: chain, ring or ktree (tree is accepted for ktree)',
    placement: 'for --engine mesh: whole (every layer tiled over the whole mesh, the default) or pipelined[:G] (G layers a block of the mesh, x handed from block to block; without G the fewest that fit)',
    json: 'print one JSON object (ids, text, stop, timings, what moved) instead of streaming text',
  },
  async run(v) {
    const tokens = numberOption('tokens', v.tokens, 256, true);
    const temperature = numberOption('temperature', v.temperature, 0);
    const topP = numberOption('top-p', v['top-p'], 1);
    const seed = numberOption('seed', v.seed, 42, true);
    // The Decoder and the Sampler check these too, but only once the engine exists: here they are
    // refused in the options' own names before a model is read or the GPU started.
    if (tokens < 0) throw new WafermeshError('bad-option', `--tokens ${tokens} must be 0 or more`);
    if (temperature < 0) throw new WafermeshError('bad-option', `--temperature ${temperature} must be 0 or more (0 = greedy)`);
    if (temperature > 0 && !Number.isFinite(1 / temperature)) throw new WafermeshError('bad-option', `--temperature ${temperature} is too small to divide by; use 0 for greedy decoding`);
    if (!(topP > 0 && topP <= 1)) throw new WafermeshError('bad-option', `--top-p ${topP} must be more than 0 and at most 1 (1 = off)`);
    const prompt = String(v.prompt ?? '');
    const { model, tokenizer, warnings } = await loadModel(String(v.model), v.tokenizer as string | undefined);
    for (const w of warnings) console.error(`wafermesh generate: warning: ${w}`);
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
    checkPromptFits(promptIds.length, { context: model.config.seqLen, config: model.config }); // the engine's own context is checked once it exists
    const mesh = meshOption(v);
    const allreduce = String(v.allreduce) as Allreduce;
    if (v.decode !== undefined && v.prefill === undefined) {
      throw new WafermeshError('bad-option', '--decode names the second machine of a disaggregated run; add --prefill ENGINE, or use --engine for one machine');
    }
    const layout = placementOption(v.placement);
    const decodeEngine = String(v.decode ?? v.engine);
    if (v.placement !== undefined && decodeEngine !== 'mesh') {
      throw new WafermeshError('bad-option', `--placement ${String(v.placement)} places the model on the emulated mesh; add --engine mesh (or --decode mesh), or leave --placement out`);
    }
    // The decoding wafer's program, compiled (and refused if it does not fit) before the GPU starts.
    const program = decodeEngine === 'mesh' && layout.kind !== 'whole' ? compileProgram(model.config, mesh, allreduce, 4, layout) : undefined;
    const disaggregated = v.prefill !== undefined;
    const waferGemm = v['wafer-prefill'] === 'gemm';
    if (waferGemm && layout.kind !== 'whole') {
      throw new WafermeshError('bad-option', `--wafer-prefill gemm runs on the whole-mesh placement only, not --placement ${String(v.placement)}; use --placement whole or --wafer-prefill token`);
    }
    if (waferGemm) checkWaferPrefill(String(v.prefill ?? v.engine), program ?? compileProgram(model.config, mesh, allreduce), model.config, promptIds.length);
    let gpu: GpuContext | undefined;
    let engine: Machine | undefined;
    let prefiller: Machine | undefined;
    const traces: MachineTrace[] = [];
    try {
      // --json on the mesh reads back what moved on the fabric after every token (measured words and steps).
      const gpuHw = gpuPreset(CATALOG.defaults.gpu);
      const machineOptions = { gpu: async () => (gpu ??= await nodeGpu()), mesh, allreduce, gpuPreset: gpuHw.name };
      // --wafer-prefill gemm: the machine that prefills (the mesh) gets the wafer prefill on the fabric.
      const fabricPrefill = waferGemm ? { meshPrefill: 'fabric-gemm' as const } : {};
      engine = await createMachine(decodeEngine, model, { ...machineOptions, ...(program ? { program } : {}), ...(disaggregated ? {} : fabricPrefill), measure: !!v.json });
      // Disaggregated: the prompt on --prefill, its KV cache handed to --decode, which decodes.
      if (disaggregated) prefiller = await createMachine(String(v.prefill), model, { ...machineOptions, ...fabricPrefill });
      const pair = prefiller ? new Disaggregated(prefiller, engine) : undefined;
      checkPromptFits(promptIds.length, pair ?? engine);
      const eng = engine;
      const stream = tokenizer ? new TextStream(tokenizer, promptIds[promptIds.length - 1]) : undefined;
      const write = (s: string) => process.stdout.write(s);
      if (!v.json) {
        if (tokenizer) write(tokenizer.decode(promptIds.slice(1)));
      }
      // Machines with a batched prefill (cpu, gpu, the wafer with --wafer-prefill gemm) take the whole
      // prompt in the first step; otherwise the wafer feeds it one token at a time. One warm-up position before timing (a forward pass,
      // and a prefill where it is used), so that pipelines built or compiled on first use are not
      // counted in the time to the first token; the Decoder resets the machine afterwards.
      const batched = (pair ? !!prefiller!.prefill : !!engine.prefill) && tokens > 0;
      if (tokens > 0) {
        await engine.forward(BOS, 0);
        if (pair) {
          await prefiller!.forward(BOS, 0);
          await pair.prefill([BOS], 0);
          pair.handoffs.length = 0;
        } else if (batched) await engine.prefill!([BOS], 0);
      }
      const decoder = new Decoder(pair ?? engine, { promptIds, tokens, temperature, topP, seed, prefill: batched || !!pair });
      const P = promptIds.length;
      const stepMs: number[] = []; // wall clock of each step (a batched prefill is one)
      const promptTraces: MachineTrace[] = []; // the steps before the first id's (the prompt fed token by token)
      let firstStep = -1; // the step that gave the first generated id
      let ttftMs: number | null = null;
      let firstTrace: MachineTrace | undefined;
      let traceMs = 0; // time spent reading traces (the modelled costs), left out of the time to first token
      // Test hook: lose the GPU device (as a driver fault would, not through dispose) once this
      // many ids have been printed; the CLI must then say so in one line and keep what it printed.
      const loseAfter = process.env.WAFERMESH_TEST_LOSE_DEVICE_AFTER === undefined ? undefined : Number(process.env.WAFERMESH_TEST_LOSE_DEVICE_AFTER);
      let lostAfter: number | undefined; // ids generated when the device-lost handler ran
      gpu?.onLost(() => (lostAfter ??= decoder.ids.length));
      if (loseAfter === 0) gpu?.loseDevice();
      const t0 = performance.now();
      try {
        while (!decoder.done) {
          const ts = performance.now();
          const id = await decoder.step();
          const te = performance.now();
          stepMs.push(te - ts);
          if (id !== undefined && firstStep < 0) {
            firstStep = stepMs.length - 1;
            // Disaggregated, the first id is found from the prefill machine's logits once the KV cache
            // has been handed over: the time to it includes the hand-off (kv_handoff_ms says how much).
            ttftMs = te - t0 - traceMs;
          }
          const t = eng.lastTrace();
          traceMs += performance.now() - te;
          if (id === undefined) {
            if (firstStep < 0 && t) promptTraces.push(t);
            continue;
          }
          if (firstStep === stepMs.length - 1) firstTrace = t;
          if (t) traces.push(t);
          if (!v.json) {
            const i = decoder.ids.length - 1;
            if (stream) write(stream.push(id));
            else write(`${i === 0 ? '' : ' '}${id}`);
          }
          if (loseAfter !== undefined && decoder.ids.length === loseAfter) gpu?.loseDevice();
        }
      } catch (e) {
        // A lost device: what was generated so far stays printed (text mode) or is printed (JSON),
        // then one line says what happened.
        if (!gpu?.lostMessage) throw e;
        await gpu.whenLost;
        const n = decoder.ids.length;
        if (v.json) {
          console.log(JSON.stringify({ engine: engine.engine, model: model.source, prompt, prompt_ids: promptIds, ids: decoder.ids, ...(tokenizer ? { text: tokenizer.decode(decoder.ids, promptIds[promptIds.length - 1]) } : {}), stop: 'device-lost', error: gpu.lostMessage }));
        } else if (n > 0 || promptIds.length > 1) {
          if (stream) write(stream.flush());
          write('\n');
        }
        const at = lostAfter ?? n;
        throw new WafermeshError(
          'device-lost',
          n === 0
            ? `${gpu.lostMessage} before the first of ${tokens} tokens; nothing was generated; run the command again`
            : `${gpu.lostMessage} after ${at} of ${tokens} tokens; the ${n} generated before it ${n === 1 ? 'is' : 'are'} printed${v.json ? ' (stop: "device-lost")' : ' above'}; run the command again`,
        );
      }
      const totalMs = performance.now() - t0;
      const result = { ids: decoder.ids, stop: decoder.stop! };
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      // The prefill: every prompt position, BOS included, through the model, up to the logits of the
      // first id (one step batched; P steps token by token, the last of which gives the first id).
      const prefillMs = firstStep >= 0 ? sum(stepMs.slice(0, firstStep + 1)) : null;
      // From the first id's step on (the first id's step included, as before prefill existed).
      const genMs = firstStep >= 0 ? stepMs.slice(firstStep) : [];
      const decodeMs = firstStep >= 0 ? stepMs.slice(firstStep + 1) : [];
      const sorted = [...genMs].sort((a, b) => a - b);
      const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
      const totalGenMs = sum(genMs);
      const timings: Record<string, unknown> = {
        total_ms: round(totalMs),
        forward_passes: stepMs.length,
        prompt_ms: round(firstStep >= 0 ? sum(stepMs.slice(0, firstStep)) : sum(stepMs)),
        ms_per_token_median: round(median),
        tokens_per_s: genMs.length ? round((1000 * genMs.length) / totalGenMs) : 0,
        ttft_ms: ttftMs === null ? null : round(ttftMs),
        prefill: batched ? 'batched' : 'token by token',
        prefill_tokens: P,
        prefill_ms: prefillMs === null ? null : round(prefillMs),
        prefill_tokens_per_s: prefillMs ? round((1000 * P) / prefillMs) : null,
        decode_tokens: decodeMs.length,
        decode_tokens_per_s: decodeMs.length ? round((1000 * decodeMs.length) / sum(decodeMs)) : null,
        ...(pair ? disaggregatedTimings(pair, prefiller!, model.config, P, gpuHw, String(v.preset)) : modelledPrefill(engine, model.config, P, batched, promptTraces, firstTrace, gpuHw, String(v.preset))),
      };
      const waferPrefiller = waferGemm ? (prefiller ?? engine) : undefined;
      if (v.json) {
        const out: Record<string, unknown> = {
          engine: engine.engine,
          ...(prefiller ? { prefill_engine: prefiller.engine, decode_engine: engine.engine } : {}),
          model: model.source,
          config: describeConfig(model.config),
          prompt,
          prompt_ids: promptIds,
          ids: result.ids,
          ...(tokenizer ? { text: tokenizer.decode(result.ids, promptIds[promptIds.length - 1]) } : {}),
          stop: result.stop,
          ...(engine.wafer ? { mesh: meshSummary(engine, traces) } : {}),
          ...(engine.plan === 'gpu' ? { gpu: gpuSummary(engine, traces) } : {}),
          ...(waferPrefiller?.waferPrefill && firstStep >= 0 ? { wafer_prefill: waferPrefillSummary(waferPrefiller, P) } : {}),
          temperature,
          top_p: topP,
          seed,
          timings,
        };
        console.log(JSON.stringify(out));
      } else {
        if (stream) write(stream.flush());
        write('\n');
        // The rate is the decode's alone: the warm-up position runs before the clock starts, and
        // the step that gives the first id (the prompt's prefill) is reported apart, as TTFT.
        const decodeRate = timings.decode_tokens_per_s === null ? 'no decode steps after it' : `then ${timings.decode_tokens_per_s} tok/s over ${decodeMs.length}`;
        console.error(
          `[${prefiller ? `${prefiller.engine} prefill → ${engine.engine} decode` : engine.engine}] ${result.ids.length} token${result.ids.length === 1 ? '' : 's'}: the first after ${timings.ttft_ms ?? '-'} ms (prefill of ${P} position${P === 1 ? '' : 's'}, ${timings.prefill}${waferGemm ? " on the wafer's fabric" : ''}), ${decodeRate} (wall clock, warm-up excluded), stop: ${result.stop}`,
        );
      }
      return 0;
    } finally {
      engine?.dispose();
      prefiller?.dispose();
      gpu?.destroy();
    }
  },
};

/**
 * A disaggregated run's prefill and hand-off: measured (the prefill machine's wall clock, then the
 * KV cache's export and import) and modelled at the preset hardware (the GPU baseline's batched
 * prefill where it prefills; the hand-off over the slower of the network and the wafer edge, plus
 * the wafer's fabric phases), with what crossed.
 */
function disaggregatedTimings(pair: Disaggregated, prefiller: Machine, config: ModelConfig, P: number, hw: GpuHardware, waferPreset: string): Record<string, unknown> {
  const h = pair.handoffs[0];
  if (!h) return {};
  const { network, waferEdge } = HANDOFF_LINKS;
  const phases = [...(h.wafer?.phases ?? []), ...(h.waferOut?.phases ?? [])];
  return {
    prefill: prefiller.prefill ? 'batched' : 'token by token',
    prefill_ms: round(h.prefillMs),
    prefill_tokens_per_s: h.prefillMs > 0 ? round((1000 * P) / h.prefillMs) : null,
    kv_handoff_bytes: h.bytes,
    kv_handoff_ms: round(h.handoffMs),
    ...(h.wafer ? { kv_edge_words_in: h.wafer.edgeWords } : {}),
    ...(h.waferOut ? { kv_edge_words_out: h.waferOut.edgeWords } : {}),
    ...(phases.length ? { kv_handoff_fabric_phases: phases.length, kv_handoff_fabric_words: phases.reduce((n, p) => n + p.measured.linkWords.reduce((a, b) => a + b, 0), 0), kv_handoff_phases_equal_to_model: phases.every((p) => p.firstDifference === null) } : {}),
    modelled_kv_handoff_ms: round(h.modelledMs),
    modelled_kv_handoff_links: h.wafer || h.waferOut ? `the slower of ${network.name} and ${waferEdge.name}${network.latencyS.assumed ? ' (network latency assumed)' : ''}` : `${network.name}${network.latencyS.assumed ? ' (latency assumed)' : ''}`,
    ...(prefiller?.waferPrefill && prefiller.prefill
      ? (() => {
          const s = waferPrefillSeconds(prefiller, config, P);
          return { modelled_prefill: 'the wafer prefill on the fabric (MeshGEMM), its KV cache to the decode layout, then the hand-off', modelled_hardware: waferPreset, modelled_ttft_ms: round(1000 * s + h.modelledMs), modelled_prefill_tokens_per_s: round(P / s) };
        })()
      : {}),
    ...(prefiller.plan === 'gpu' && prefiller.prefill
      ? (() => {
          const s = gpuPrefillCost(config, P, hw).seconds;
          // The first id waits for the prefill and the hand-off, as measured here.
          return { modelled_prefill: 'batched', modelled_hardware: hw.name, modelled_ttft_ms: round(1000 * s + h.modelledMs), modelled_prefill_tokens_per_s: round(P / s) };
        })()
      : {}),
  };
}

/**
 * Time to the first id and the prefill's rate on the preset hardware, where the machine has a plan:
 * the GPU baseline's batched prefill of the P prompt positions (`gpuPrefillCost`, whose last
 * logits give the first id), or the wafer's prompt fed token by token (the modelled cost of each
 * prompt position, the last of which gives the first id). None for the plain CPU reference.
 */
function modelledPrefill(
  engine: Machine,
  config: ModelConfig,
  P: number,
  batched: boolean,
  promptTraces: MachineTrace[],
  firstTrace: MachineTrace | undefined,
  hw: GpuHardware,
  waferPreset: string,
): Record<string, unknown> {
  let seconds: number;
  if (engine.waferPrefill && batched) {
    seconds = waferPrefillSeconds(engine, config, P);
    return { modelled_prefill: 'the wafer prefill on the fabric (MeshGEMM), then its KV cache to the decode layout', modelled_hardware: waferPreset, modelled_ttft_ms: round(1000 * seconds), modelled_prefill_tokens_per_s: round(P / seconds) };
  }
  if (engine.plan === 'gpu' && batched) seconds = gpuPrefillCost(config, P, hw).seconds;
  else if (engine.plan === 'mesh' && !batched && firstTrace && promptTraces.length === P - 1) {
    seconds = promptTraces.reduce((a, t) => a + t.cost.seconds, 0) + firstTrace.cost.seconds;
  } else return {};
  return {
    modelled_prefill: batched ? 'batched' : 'token by token',
    modelled_hardware: engine.plan === 'gpu' ? hw.name : waferPreset,
    modelled_ttft_ms: round(1000 * seconds),
    modelled_prefill_tokens_per_s: round(P / seconds),
  };
}

/**
 * `--wafer-prefill gemm` is for the machine that prefills being the wafer, from position 0 (every
 * generate prompt is), on a mesh whose cores hold the prefill past the decode's words (it runs in
 * the same SRAM): refused in one line otherwise, before the GPU is started (generate and bench).
 */
export function checkWaferPrefill(prefillEngine: string, program: WaferProgram, config: ModelConfig, T: number): void {
  if (prefillEngine !== 'mesh') {
    throw new WafermeshError('bad-option', `--wafer-prefill gemm runs the prompt on the wafer's fabric, but the ${prefillEngine} engine takes the prompt here; use --engine mesh (or --prefill mesh --decode ENGINE), or leave out --wafer-prefill`);
  }
  try {
    compilePrefill(program.mesh, config, T, { base: prefillBase(program) });
  } catch (e) {
    if (!(e instanceof WafermeshError && e.code === 'does-not-fit')) throw e;
    throw new WafermeshError('does-not-fit', `--wafer-prefill gemm: ${e.detail}; or use --wafer-prefill token`);
  }
}

/** The wafer prefill of P positions and its KV cache's re-layout and hand-off to the decode layout at the mesh's preset, seconds (modelled: fabricPrefill, the re-layout's and the hand-off's fabric phases). */
function waferPrefillSeconds(engine: Machine, config: ModelConfig, P: number): number {
  const m = engine.wafer!.mesh;
  const c = fabricPrefill(m.width, m.height, config, P, { hop: m.cyclesPerHop, ramp: m.cyclesPerRamp, bw: m.wordsPerLinkCycle }, m.flopsPerCoreCycle);
  const last = engine.waferPrefill;
  return (c.totalCycles + (last ? last.relayoutCycles + last.handoff.fabricCycles : 0)) / m.clockHz;
}

/**
 * The last wafer prefill on the fabric: its phases measured where the words moved beside their
 * closed form (a layer's phases summed over the layers), the cost model's words for the same
 * algorithm, and the KV cache's hand-off into the decode's layout.
 */
function waferPrefillSummary(engine: Machine, P: number) {
  const last = engine.waferPrefill!;
  const m = engine.wafer!.mesh;
  const c = engine.config;
  const words = (f: FabricCount) => f.linkWords.reduce((a, b) => a + b, 0);
  const sum = (xs: readonly MeasuredPrefillPhase[], f: (p: MeasuredPrefillPhase) => number) => xs.reduce((a, p) => a + f(p), 0);
  const cost = fabricPrefill(m.width, m.height, c, P, { hop: m.cyclesPerHop, ramp: m.cyclesPerRamp, bw: m.wordsPerLinkCycle }, m.flopsPerCoreCycle);
  const h = last.handoff;
  return {
    algorithm: 'MeshGEMM',
    block: `${cost.P}x${cost.P}`,
    positions: P,
    gpu_ms: round(last.ms),
    fabric_phases: last.phases.length,
    fabric_phases_equal_to_model: last.phases.every((p) => p.firstDifference === null),
    measured_fabric_words: sum(last.phases, (p) => words(p.measured)),
    modelled_fabric_words: sum(last.phases, (p) => words(p.modelled)),
    measured_fabric_steps: sum(last.phases, (p) => p.measured.steps),
    modelled_fabric_steps: sum(last.phases, (p) => p.modelled.steps),
    cost_model_fabric_words: cost.totalWords,
    modelled_cycles: round(cost.totalCycles),
    modelled_ms: round((1000 * cost.totalCycles) / m.clockHz),
    // The KV cache from the prefill's owners to the decode's, on the fabric: along column 0 into the edge cores' landing zones, then east along the rows.
    kv_relayout: {
      fabric_phases: last.relayout.length,
      fabric_phases_equal_to_model: last.relayout.every((p) => p.firstDifference === null),
      words_landed: last.relayoutWords,
      measured_fabric_words: sum(last.relayout, (p) => words(p.measured)),
      modelled_fabric_cycles: round(last.relayoutCycles),
    },
    kv_handoff: {
      bytes: 2 * c.nLayers * P * kvDim(c) * 4,
      edge_words_in: h.edgeWords,
      fabric_phases: h.phases.length,
      fabric_phases_equal_to_model: h.phases.every((p) => p.firstDifference === null),
      measured_fabric_words: h.phases.reduce((a, p) => a + words(p.measured), 0),
      modelled_fabric_cycles: round(h.fabricCycles),
    },
  };
}

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
    placement: describePlacement(p),
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
