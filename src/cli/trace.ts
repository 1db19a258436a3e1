import { CATALOG } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import type { Allreduce } from '../mesh/collectives.ts';
import { compileProgram } from '../mesh/programs/decode.ts';
import { traceToken } from '../mesh/trace.ts';
import { BOS } from '../model/config.ts';
import { DEFAULT_MODEL } from '../model/registry.ts';
import { loadConfig } from './load.ts';
import type { Command } from './command.ts';
import { CHOICES, MESH_CHOICES, MESH_OPTIONS, meshOption, numberOption } from './options.ts';

export const traceCommand: Command = {
  summary: "one token's wafer program: every phase with its modelled cycles, link traffic and FLOPs",
  usage: '[--model PATH|NAME] [--mesh WxH] [--preset NAME] [--sram BYTES] [--allreduce NAME] [--pos N] [--token ID] [--json]',
  options: {
    model: { type: 'string', default: DEFAULT_MODEL },
    ...MESH_OPTIONS,
    allreduce: { type: 'string', default: CATALOG.defaults.allreduce },
    pos: { type: 'string', default: '0' },
    token: { type: 'string', default: String(BOS) },
    json: { type: 'boolean' },
  },
  choices: { model: CHOICES.anyModel, ...MESH_CHOICES, allreduce: CHOICES.allreduce },
  async run(v) {
    const model = loadConfig(String(v.model));
    const mesh = meshOption(v);
    const program = compileProgram(model.config, mesh, String(v.allreduce) as Allreduce);
    const pos = numberOption('pos', v.pos, 0, true);
    const token = numberOption('token', v.token, BOS, true);
    if (pos < 0 || pos >= program.placement.context) {
      throw new WafermeshError('bad-option', `--pos ${pos} is outside the context 0…${program.placement.context - 1} this mesh holds`);
    }
    if (token < 0 || token >= model.config.vocabSize) throw new WafermeshError('bad-option', `--token ${token} is outside the vocabulary 0…${model.config.vocabSize - 1}`);
    const t = traceToken(program, token, pos);
    const passOf = new Map<number, number>();
    program.passes.forEach((p, i) => p.phases.forEach((ph) => passOf.set(ph, i)));
    if (v.json) {
      console.log(
        JSON.stringify({
          mesh: `${mesh.width}x${mesh.height}`,
          allreduce: program.allreduce,
          pos,
          token,
          cycles: t.cycles,
          transfer_cycles: t.transferCycles,
          compute_cycles: t.computeCycles,
          fabric_words: t.linkWords,
          flops: t.flops,
          modelled_s_per_token: t.seconds,
          modelled_tokens_per_s: 1 / t.seconds,
          passes: t.passes,
          phases: t.phases.map((p) => ({ ...p, pass: passOf.get(p.index) })),
        }),
      );
      return 0;
    }
    console.log(`${model.source} on a ${mesh.width}x${mesh.height} mesh (${v.preset}, ${mesh.sramBytes}-byte cores, ${program.allreduce} allreduce), token ${token} at position ${pos}`);
    console.log(`${'pass'.padStart(4)}  ${'phase'.padEnd(44)} ${'layer'.padStart(5)} ${'cycles'.padStart(8)} ${'link-words'.padStart(10)} ${'busiest'.padStart(8)} ${'hops'.padStart(5)} ${'FLOPs'.padStart(9)}`);
    for (const p of t.phases) {
      const name = `${p.kind === 'transfer' ? '→ ' : '  '}${p.name}`;
      console.log(
        `${String(passOf.get(p.index)).padStart(4)}  ${name.padEnd(44)} ${(p.layer ?? '-').toString().padStart(5)} ${String(p.cycles).padStart(8)} ${String(p.linkWords).padStart(10)} ${String(p.maxLinkWords).padStart(8)} ${String(p.maxHops).padStart(5)} ${String(p.flops).padStart(9)}`,
      );
    }
    const pct = (x: number) => `${((100 * x) / t.cycles).toFixed(1)}%`;
    console.log(
      `total: ${t.cycles} cycles (transfers ${t.transferCycles} = ${pct(t.transferCycles)}, compute ${t.computeCycles} = ${pct(t.computeCycles)}), ` +
        `${t.linkWords} link-words, ${t.flops} FLOPs, ${t.passes} GPU passes`,
    );
    console.log(`modelled at ${mesh.clockHz / 1e9} GHz: ${(t.seconds * 1e6).toFixed(2)} µs per token = ${Math.round(1 / t.seconds)} tokens/s`);
    return 0;
  },
};
