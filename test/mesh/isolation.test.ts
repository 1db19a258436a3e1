import { afterAll, describe, expect, it } from 'vitest';
import { MeshEngine } from '../../src/engines/mesh.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { passSources, xyRoute } from '../helpers/direct-reads.ts';
import { tracePhase } from '../../src/mesh/trace.ts';
import { BOS } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { checkTensor } from '../helpers/check.ts';
import { testGpu } from '../helpers/gpu.ts';

describe('isolation (instrumented mode)', () => {
  afterAll(async () => (await testGpu()).destroy());

  it.each([
    [3, 2, 'tree'],
    [2, 3, 'ring'],
  ] as const)(
    'on %ix%i (%s): compute stays in its own slice, remote reads come only from the cores the pass routes from, along charged links, and FLOPs are what the program says',
    async (w, h, allreduce) => {
      const model = randomModel({ dim: 32, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 30, seqLen: 8, sharedClassifier: true }, 5);
      const engine = await MeshEngine.create(await testGpu(), model, meshFromPreset('wse-3-big-sram', w, h), allreduce, { instrument: true });
      const rt = engine.meshRuntime;
      const program = engine.wafer;
      const nCores = w * h;
      const cpu = new CpuEngine(model);
      let token = BOS;
      let exactChecks = 0;
      for (let pos = 0; pos < 5; pos++) {
        let logits: Float32Array | undefined;
        for (let p = 0; p < program.passes.length; p++) {
          await rt.clearCounters();
          logits = await rt.stepPasses(token, pos, p, p + 1);
          const { violations, flops, reads, ncc } = await rt.readCounters();
          expect(ncc).toBe(nCores);
          expect(violations, `pass ${program.passes[p].entry}: out-of-slice accesses`).toBe(0);
          // Links the pass's transfers charge.
          const links = new Float64Array(nCores * 4);
          let expectedFlops = new Float64Array(nCores);
          for (const i of program.passes[p].phases) {
            tracePhase(program, i, token, pos, links);
            const ph = program.phases[i];
            if (ph.kind === 'compute') expectedFlops = expectedFlops.map((f, c) => f + ph.flops(c, pos));
          }
          for (let dst = 0; dst < nCores; dst++) {
            const want = passSources(program, p, dst, token, pos);
            const got = new Set<number>();
            for (let src = 0; src < nCores; src++) if (src !== dst && reads[dst * ncc + src] > 0) got.add(src);
            expect([...got].sort(), `pass ${program.passes[p].entry} pos ${pos}: sources of core ${dst}`).toEqual([...want].sort());
            for (const src of got) {
              for (const link of xyRoute(program.mesh, src, dst)) {
                expect(links[link], `pass ${program.passes[p].entry}: link ${link} on the route ${src}→${dst} carries nothing`).toBeGreaterThan(0);
              }
            }
            expect(flops[dst], `pass ${program.passes[p].entry}: FLOPs of core ${dst}`).toBe(expectedFlops[dst]);
          }
          // Where a pass's only transfer is a row allreduce or a column broadcast, every core
          // receives from each source exactly the words that collective sends it.
          const transfers = program.passes[p].phases.map((i) => program.phases[i]).filter((ph) => ph.kind === 'transfer');
          if (transfers.length === 1 && transfers[0].kind === 'transfer' && (transfers[0].collective === 'row-allreduce' || transfers[0].collective === 'col-broadcast')) {
            const t = transfers[0];
            for (let dst = 0; dst < nCores; dst++) {
              for (const src of passSources(program, p, dst, token, pos)) {
                expect(reads[dst * ncc + src], `pass ${program.passes[p].entry}: words ${src}→${dst}`).toBe(t.words(src, pos));
              }
            }
            exactChecks++;
          }
        }
        checkTensor(`logits at ${pos}`, logits!, Float32Array.from(await cpu.forward(token, pos)), { atol: 2e-4, rtol: 2e-3 });
        token = (token * 5 + 3) % 30;
      }
      expect(exactChecks).toBe(5 * (1 + 2 * model.config.nLayers + 2));
      engine.dispose();
    },
  );
});
