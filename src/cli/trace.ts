import { CATALOG } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import type { Allreduce } from '../mesh/collectives.ts';
import { compileProgram } from '../mesh/programs/decode.ts';
import { traceFabricToken } from '../mesh/fabric-trace.ts';
import { compileFabricDecode } from '../mesh/programs/decode-fabric.ts';
import { BOS } from '../model/config.ts';
import { DEFAULT_MODEL } from '../model/registry.ts';
import { loadConfig, loadModel } from './load.ts';
import { createMachine } from '../engines/index.ts';
import type { FabricCount } from '../mesh/fabric.ts';
import type { WaferProgram } from '../mesh/program.ts';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpu } from '../gpu/node.ts';
import type { Command } from './command.ts';
import { CHOICES, MESH_CHOICES, MESH_OPTIONS, meshOption, numberOption, placementOption } from './options.ts';
import { describePlacement } from '../mesh/pipelined.ts';

export const traceCommand: Command = {
  summary: "one token's decode on the fabric: every compute pass and fabric phase with its modelled cycles, steps, link traffic and FLOPs (--measure: beside what the GPU counted)",
  usage: '[--model PATH|NAME] [--mesh WxH] [--preset NAME] [--sram BYTES] [--allreduce NAME] [--placement whole|pipelined[:G]] [--pos N] [--token ID] [--measure] [--json]',
  options: {
    model: { type: 'string', default: DEFAULT_MODEL },
    ...MESH_OPTIONS,
    allreduce: { type: 'string', default: CATALOG.defaults.allreduce },
    placement: { type: 'string' },
    pos: { type: 'string', default: '0' },
    token: { type: 'string', default: String(BOS) },
    measure: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  choices: { model: CHOICES.anyModel, ...MESH_CHOICES, allreduce: CHOICES.allreduce },
  descriptions: {
    model: 'the model: a name below, a llama2.c checkpoint PATH, or random:<spec>',
    mesh: 'the wafer: WIDTHxHEIGHT cores, e.g. 8x8',
    preset: 'the wafer core (SRAM per core, clock, link width)',
    sram: 'SRAM bytes per core, overriding the preset (a multiple of 4)',
    allreduce: 'how allreduces run on the fabric: chain, ring or ktree (tree is accepted for ktree)',
    placement: 'whole (every layer tiled over the whole mesh, the default) or pipelined[:G] (G layers a block of the mesh, x handed from block to block, the id back to the first block; without G the fewest that fit)',
    pos: 'the position of the traced token (0 … the context the mesh holds − 1)',
    token: 'the id of the traced token (1 is BOS)',
    measure: 'also run the token on the GPU and print what it counted beside the closed form (needs WebGPU and the model\'s weights)',
    json: 'print one JSON object instead of a table',
  },
  async run(v) {
    const model = loadConfig(String(v.model));
    const mesh = meshOption(v);
    const program = compileProgram(model.config, mesh, String(v.allreduce) as Allreduce, 4, placementOption(v.placement));
    const pos = numberOption('pos', v.pos, 0, true);
    const token = numberOption('token', v.token, BOS, true);
    if (pos < 0 || pos >= program.placement.context) {
      throw new WafermeshError('bad-option', `--pos ${pos} is outside the context 0…${program.placement.context - 1} this mesh holds`);
    }
    if (token < 0 || token >= model.config.vocabSize) throw new WafermeshError('bad-option', `--token ${token} is outside the vocabulary 0…${model.config.vocabSize - 1}`);
    if (v.measure) return measure(String(v.model), program, token, pos, !!v.json);
    const decode = compileFabricDecode(program);
    const t = traceFabricToken(decode, token, pos);
    // Colours each router carries at once (the most in any round of a phase) and the routes it is
    // configured with over the token (a colour's route per round), per phase and for the busiest core.
    const routesPerCore = new Uint32Array(mesh.width * mesh.height);
    for (const r of decode.routes) r.routes.forEach((n, c) => (routesPerCore[c] += n));
    const busiestRouter = routesPerCore.reduce((best, n, c) => (n > routesPerCore[best] ? c : best), 0);
    const routing = {
      colours: mesh.colours,
      max_colours_at_once: Math.max(0, ...decode.routes.map((r) => r.maxColoursAtOnce)),
      max_routes_per_core: routesPerCore[busiestRouter],
      busiest_router: { row: Math.floor(busiestRouter / mesh.width), col: busiestRouter % mesh.width },
    };
    const phaseRoutes = new Map(decode.steps.flatMap((s, i) => (s.kind === 'fabric' ? [[i, decode.routes[s.phase]] as const] : [])));
    if (v.json) {
      console.log(
        JSON.stringify({
          mesh: `${mesh.width}x${mesh.height}`,
          placement: describePlacement(program),
          allreduce: program.allreduce,
          pos,
          token,
          cycles: t.cycles,
          transfer_cycles: t.transferCycles,
          compute_cycles: t.computeCycles,
          breakdown_cycles: t.breakdown,
          fabric_words: t.linkWords,
          flops: t.flops,
          modelled_s_per_token: t.seconds,
          modelled_tokens_per_s: 1 / t.seconds,
          passes: t.passes,
          routing,
          phases: t.phases.map((p) => {
            const r = phaseRoutes.get(p.index);
            return r ? { ...p, colours_at_once: r.maxColoursAtOnce, routes_per_core: r.maxRoutes } : p;
          }),
        }),
      );
      return 0;
    }
    console.log(`${model.source} on the fabric of a ${mesh.width}x${mesh.height} mesh (${v.preset}, ${mesh.sramBytes}-byte cores, ${program.allreduce} allreduce, placement ${describePlacement(program)}), token ${token} at position ${pos} — modelled from the fabric program's closed form`);
    console.log(`${'step'.padStart(4)}  ${'compute pass or → fabric phase'.padEnd(48)} ${'layer'.padStart(5)} ${'cycles'.padStart(8)} ${'steps'.padStart(6)} ${'link-words'.padStart(10)} ${'busiest'.padStart(8)} ${'FLOPs'.padStart(9)}`);
    for (const p of t.phases) {
      const name = `${p.kind === 'transfer' ? '→ ' : '  '}${p.name}`;
      console.log(
        `${String(p.index).padStart(4)}  ${name.padEnd(48)} ${(p.layer ?? '-').toString().padStart(5)} ${String(Math.round(p.cycles)).padStart(8)} ${String(p.steps).padStart(6)} ${String(p.linkWords).padStart(10)} ${String(p.maxLinkWords).padStart(8)} ${String(p.flops).padStart(9)}`,
      );
    }
    const pct = (x: number) => `${((100 * x) / t.cycles).toFixed(1)}%`;
    const b = t.breakdown;
    console.log(
      `total: ${Math.round(t.cycles)} cycles (compute ${Math.round(t.computeCycles)} = ${pct(t.computeCycles)}; fabric ${Math.round(t.transferCycles)} = ${pct(t.transferCycles)}: ` +
        `hops ${Math.round(b.hops)}, serialisation ${Math.round(b.serialisation)}, ramp relays ${Math.round(b.ramps)}), ` +
        `${t.linkWords} link-words, ${t.flops} FLOPs, ${t.passes} steps (compute passes and fabric phases)`,
    );
    console.log(
      `routers: at most ${routing.max_colours_at_once} of the ${mesh.colours} colours at once; the busiest, core (${routing.busiest_router.row},${routing.busiest_router.col}), is configured with ${routing.max_routes_per_core} routes over the token`,
    );
    console.log(`cycles: α = ${mesh.cyclesPerHop} cycle per hop, β = ${mesh.cyclesPerRamp} cycles per ramp relay (assumed), ${mesh.wordsPerLinkCycle} word per link per cycle, ${mesh.flopsPerCoreCycle} FLOPs per core per cycle; phases run one after another (no overlap modelled)`);
    console.log(`modelled at ${mesh.clockHz / 1e9} GHz: ${(t.seconds * 1e6).toFixed(2)} µs per token = ${Math.round(1 / t.seconds)} tokens/s`);
    return 0;
  },
};

/**
 * `trace --measure`: decodes positions 0…pos on the mesh engine (instrumented: every access
 * checked) and prints, phase by phase, the closed-form cost beside what the GPU counted.
 */
async function measure(name: string, program: WaferProgram, token: number, pos: number, json: boolean): Promise<number> {
  const { model } = await loadModel(name);
  let gpu: GpuContext | undefined;
  const m = await createMachine('mesh', model, { gpu: async () => (gpu = await nodeGpu()), program, instrument: true });
  try {
    // The positions before: BOS then the reference's greedy ids are not needed for the counts,
    // which depend only on the position and the token decoded there; feed BOS.
    for (let p = 0; p < pos; p++) await m.forward(BOS, p);
    const r = await m.measure!(token, pos);
    const words = (c: FabricCount) => c.linkWords.reduce((a, b) => a + b, 0);
    // Each fabric phase's modelled cycles, in phase order (the trace lists them among the compute passes).
    const decode = compileFabricDecode(program);
    const cycles = traceFabricToken(decode, token, pos).phases.filter((p) => p.kind === 'transfer').map((p) => p.cycles);
    const phases = r.phases.map((p, i) => ({
      name: p.name,
      modelled: { steps: p.modelled.steps, cycles: cycles[i], link_words: words(p.modelled), ramp_words: p.modelled.rampWords, adds: p.modelled.flops },
      // max_queue: the most words offered to one link register in one step (1: every word had its link to itself).
      measured: { steps: p.measured.steps, link_words: words(p.measured), ramp_words: p.measured.rampWords, adds: p.measured.flops, max_queue: p.measured.maxQueue ?? 0, nonneighbour_accesses: r.violation ? r.violation.count : 0 },
      links_equal: p.firstDifference === null,
      first_difference: p.firstDifference,
    }));
    const total = (f: (p: (typeof phases)[number]) => number) => phases.reduce((a, p) => a + f(p), 0);
    const totals = {
      modelled: { steps: total((p) => p.modelled.steps), cycles: total((p) => p.modelled.cycles), link_words: total((p) => p.modelled.link_words) },
      measured: { steps: total((p) => p.measured.steps), link_words: total((p) => p.measured.link_words), max_queue: Math.max(0, ...phases.map((p) => p.measured.max_queue)), nonneighbour_accesses: r.violation ? r.violation.count : 0 },
      links_equal: phases.every((p) => p.links_equal),
      violation: r.violation,
    };
    if (json) {
      console.log(JSON.stringify({ mesh: `${program.mesh.width}x${program.mesh.height}`, placement: describePlacement(program), engine: 'mesh', pos, token, phases, totals }));
      return totals.links_equal && !r.violation ? 0 : 1;
    }
    console.log(`${name} on the fabric of a ${program.mesh.width}x${program.mesh.height} mesh (placement ${describePlacement(program)}), token ${token} at position ${pos}: modelled (closed form) beside measured (counted on the GPU)`);
    console.log(`${'phase'.padEnd(48)} ${'steps'.padStart(7)} ${'measured'.padStart(9)} ${'link-words'.padStart(11)} ${'measured'.padStart(9)}  equal`);
    for (const p of phases) {
      console.log(`${p.name.padEnd(48)} ${String(p.modelled.steps).padStart(7)} ${String(p.measured.steps).padStart(9)} ${String(p.modelled.link_words).padStart(11)} ${String(p.measured.link_words).padStart(9)}  ${p.links_equal ? 'yes' : `no: ${p.first_difference}`}`);
    }
    console.log(`total: ${totals.modelled.steps} fabric steps and ${totals.modelled.link_words} link-words modelled; ${totals.measured.steps} and ${totals.measured.link_words} measured; at most ${totals.measured.max_queue} word${totals.measured.max_queue === 1 ? '' : 's'} offered to one link in a step${totals.measured.max_queue === 1 ? ' (no contention)' : ' (contention: a word would be lost)'}; ${r.violation ? `violation: ${r.violation.code} at core ${r.violation.core}` : 'no access outside a core or its neighbours\' registers'}`);
    return totals.links_equal && !r.violation ? 0 : 1;
  } finally {
    m.dispose();
    gpu?.destroy();
  }
}
