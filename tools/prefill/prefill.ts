/**
 * The wafer prefill on the fabric (src/engines/mesh-prefill.ts) against the mesh engine's
 * token-by-token prefill, on one prompt: wall-clock ms of each (GPU work, measured on this driver;
 * each run `--reps` times, the last reported as warm), the fabric prefill's dispatches and fabric
 * steps, its largest logit difference from the CPU reference prefill, whether every fabric phase's
 * measured count equals its closed form, and each product's modelled cycles by MeshGEMM and by SUMMA
 * at the preset.
 *
 *   node tools/prefill/run.mjs [--model ../shared/models/stories260K.bin] [--mesh 8x8] [--tokens 9] [--reps 2]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createMachine } from '../../src/engines/index.ts';
import { runPrefillFabric } from '../../src/engines/mesh-prefill.ts';
import { oneLine } from '../../src/errors.ts';
import { GpuResources } from '../../src/gpu/resources.ts';
import { nodeGpu } from '../../src/gpu/node.ts';
import { meshFromPreset, parseMeshSize } from '../../src/mesh/config.ts';
import { firstDifference } from '../../src/mesh/fabric.ts';
import { meshGemmCycles, summaCycles } from '../../src/mesh/programs/meshgemm.ts';
import { compilePrefill, prefillModel } from '../../src/mesh/programs/prefill-fabric.ts';
import { readCheckpoint } from '../../src/model/checkpoint.ts';
import { BOS } from '../../src/model/config.ts';
import { ReferenceTransformer } from '../../src/model/reference.ts';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: 'string', default: '../shared/models/stories260K.bin' }, mesh: { type: 'string', default: '8x8' }, tokens: { type: 'string', default: '9' }, reps: { type: 'string', default: '2' } },
  });
  try {
    const model = readCheckpoint(new Uint8Array(readFileSync(values.model)), values.model);
    const { width, height } = parseMeshSize(values.mesh);
    const mesh = meshFromPreset('wse-3', width, height);
    const T = Number(values.tokens);
    const reps = Math.max(1, Number(values.reps));
    // BOS, then ids spread over the vocabulary (never BOS).
    const tokens = Array.from({ length: T }, (_, i) => (i === 0 ? BOS : 3 + ((i * 37) % (model.config.vocabSize - 3))));
    const plan = compilePrefill(mesh, model.config, T);
    const ctx = await nodeGpu();
    try {
      const machine = await createMachine('mesh', model, { gpu: async () => ctx, mesh });
      let tokenMs = 0;
      for (let r = 0; r < reps; r++) {
        machine.reset();
        const t0 = performance.now();
        for (let p = 0; p < T; p++) await machine.forward(tokens[p], p);
        tokenMs = performance.now() - t0;
      }
      machine.dispose();
      const res = new GpuResources(ctx);
      let run: Awaited<ReturnType<typeof runPrefillFabric>> | undefined;
      for (let r = 0; r < reps; r++) run = await runPrefillFabric(res, plan, model, tokens);
      res.dispose();
      const expected = new ReferenceTransformer(model).prefill(tokens);
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(expected[i] - run!.logits[i]));
      const modelled = prefillModel(plan);
      const equal = run!.phases.every((m, i) => firstDifference(modelled[i], m) === null);
      const steps = run!.phases.reduce((a, p, i) => a + p.steps * (i < plan.layerPhases ? model.config.nLayers : 1), 0);
      console.log(`${values.model} on ${width}x${height} (block ${plan.P}x${plan.P}), ${T} positions, on ${ctx.adapterName}`);
      console.log(`token by token (mesh engine forward x ${T}): ${tokenMs.toFixed(0)} ms`);
      console.log(`fabric prefill (MeshGEMM layers): ${run!.ms.toFixed(0)} ms, ${run!.dispatches} dispatches, ${steps} fabric steps; max |logit - CPU| ${diff.toExponential(2)}; every phase measured = modelled: ${equal}`);
      const t = { hop: mesh.cyclesPerHop, ramp: mesh.cyclesPerRamp, bw: mesh.wordsPerLinkCycle };
      console.log('modelled cycles per product at the preset (MeshGEMM with pre-skewed weights | SUMMA on the whole mesh):');
      for (const [name, g] of Object.entries(plan.gemms)) {
        console.log(`  ${name} ${g.M}x${g.K} by ${g.K}x${g.N}: ${meshGemmCycles(g, t, mesh.flopsPerCoreCycle).total.toFixed(0)} | ${summaCycles(mesh, g.M, g.K, g.N, t).total.toFixed(0)}`);
      }
    } finally {
      ctx.destroy();
    }
    return 0;
  } catch (e) {
    console.error(`prefill: ${oneLine(e)}`);
    return 1;
  }
}
