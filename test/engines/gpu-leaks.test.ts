import { afterAll, describe, expect, it } from 'vitest';
import { createMachine, type EngineName } from '../../src/engines/index.ts';
import { GpuResources } from '../../src/gpu/resources.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { BOS } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import { testGpu, trackBuffers } from '../helpers/gpu.ts';

// Small enough that opening an engine is quick, big enough to have every kind of pass (GQA,
// separate classifier).
const model = randomModel({ dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, seqLen: 16, sharedClassifier: false }, 7);
const OPENS = 20;

describe('no leaks: each GPU engine opened, used and closed again and again', () => {
  afterAll(async () => (await testGpu()).destroy());

  it.each<EngineName>(['gpu', 'mesh'])(
    '%s: every buffer it made is destroyed and its pipeline cache dropped on close; the live-buffer count returns to its start',
    async (name) => {
      const ctx = await testGpu();
      const tracker = trackBuffers(ctx.device);
      try {
        const openAtStart = GpuResources.open.size;
        const owners = new Set<GpuResources>();
        for (let i = 0; i < OPENS; i++) {
          const before = new Set(GpuResources.open);
          const m = await createMachine(name, model, { gpu: async () => ctx, mesh: meshFromPreset('wse-3', 4, 4), measure: i % 2 === 1 });
          for (const r of GpuResources.open) if (!before.has(r)) owners.add(r);
          // Use it as generate does: a prefill (gpu), forward passes, greedy on the wafer, read-backs.
          if (m.prefill) await m.prefill([BOS, 5, 9], 0);
          else await m.forward(BOS, 0);
          if (m.greedy) await m.greedy(5, 1, true);
          else await m.forward(5, 3);
          expect(m.liveBuffers).toBeGreaterThan(0);
          expect(tracker.live()).toBeGreaterThan(0);
          m.dispose();
          expect(m.liveBuffers).toBe(0);
          expect(tracker.live(), `live GPU buffers after closing ${name} engine #${i + 1}`).toBe(0);
        }
        expect(tracker.created()).toBeGreaterThanOrEqual(OPENS * 3);
        expect(owners.size).toBeGreaterThanOrEqual(OPENS);
        expect(GpuResources.open.size).toBe(openAtStart);
        for (const r of owners) expect(r.cachedPipelines).toBe(0);
        // Nothing was used after it was destroyed.
        ctx.check();
      } finally {
        tracker.stop();
      }
    },
    600_000,
  );
});
