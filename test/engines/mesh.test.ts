import { afterAll, describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { MeshEngine } from '../../src/engines/mesh.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { columnRuns, place } from '../../src/mesh/placement.ts';
import { BOS, type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import type { Model } from '../../src/model/weights.ts';
import { checkTensor } from '../helpers/check.ts';
import { raceReference } from '../helpers/race.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';

const stories = loadStories260K();
const gqaSeparate: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 3, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 64, sharedClassifier: false };

/** Greedy ids of the mesh and the reference for `tokens` tokens, and the largest logit difference. */
async function race(model: Model, mesh: MeshConfig, tokens: number, allreduce: 'ring' | 'tree' = 'tree') {
  const engine = await MeshEngine.create(await testGpu(), model, mesh, allreduce);
  const { ids, cpuIds, maxDiff } = await raceReference(engine, model, tokens);
  engine.dispose();
  return { meshIds: ids, cpuIds, maxDiff };
}

describe('mesh engine, token for token against the CPU reference', () => {
  afterAll(async () => (await testGpu()).destroy());

  it('matches the reference logits on 1x1, 2x2 and 3x2 meshes (ring and tree)', async () => {
    const model = randomModel({ dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, seqLen: 24, sharedClassifier: false }, 3);
    for (const [w, h, a] of [[1, 1, 'tree'], [2, 2, 'tree'], [3, 2, 'ring']] as const) {
      const engine = await MeshEngine.create(await testGpu(), model, meshFromPreset('wse-3-big-sram', w, h), a);
      const cpu = new CpuEngine(model);
      let token = BOS;
      for (let pos = 0; pos < 6; pos++) {
        const want = Float32Array.from(await cpu.forward(token, pos));
        checkTensor(`${w}x${h} logits at pos ${pos}`, await engine.forward(token, pos), want, { atol: 2e-4, rtol: 2e-3 });
        token = (token * 7 + pos + 3) % 64;
      }
      engine.dispose();
    }
  });

  it('stories260K on 8x8 cores of 48 KB: 256 greedy ids', async () => {
    const r = await race(stories, meshFromPreset('wse-3', 8, 8), 256);
    expect(r.meshIds).toHaveLength(256);
    expect(r.meshIds).toEqual(r.cpuIds);
    expect(r.maxDiff).toBeLessThan(1e-3);
  });

  it('stories260K on a non-square 6x10 mesh, ring allreduce: 256 greedy ids', async () => {
    const r = await race(stories, meshFromPreset('wse-3', 6, 10), 256, 'ring');
    expect(r.meshIds).toEqual(r.cpuIds);
    expect(r.maxDiff).toBeLessThan(1e-3);
  });

  it('1x1 with SRAM large enough: stories260K for 64 ids, a short-context GQA model for its whole context', async () => {
    const r = await race(stories, meshFromPreset('wse-3-big-sram', 1, 1), 64);
    expect(r.meshIds).toEqual(r.cpuIds);
    const short = randomModel({ ...gqaSeparate, seqLen: 40 }, 4);
    const s = await race(short, meshFromPreset('wse-3-big-sram', 1, 1), 40);
    expect(s.meshIds).toEqual(s.cpuIds);
    expect(s.maxDiff).toBeLessThan(1e-3);
  });

  it('a separate-classifier GQA checkpoint on 4x4 and on a mesh it barely fits', async () => {
    const model = randomModel(gqaSeparate, 9);
    const r = await race(model, meshFromPreset('wse-3', 4, 4), 64);
    expect(r.meshIds).toEqual(r.cpuIds);
    expect(r.meshIds.length).toBeGreaterThan(10);
    // Barely: SRAM cut to exactly what the fullest core needs for the whole context.
    const probe = place(model.config, meshFromPreset('wse-3', 3, 2, 1 << 20));
    const barely = meshFromPreset('wse-3', 3, 2, probe.fullest.totalWords * 4);
    expect(place(model.config, barely).context).toBe(64);
    expect(place(model.config, { ...barely, sramBytes: barely.sramBytes - 4 }).context).toBeLessThan(64);
    const b = await race(model, barely, 64);
    expect(b.meshIds).toEqual(b.cpuIds);
  });

  it('a mesh wider than the attention units (some columns hold no attention coordinates, some no hidden ones): ids equal the reference', async () => {
    const model = randomModel({ dim: 32, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 61, seqLen: 24, sharedClassifier: false }, 5);
    const mesh = meshFromPreset('wse-3-big-sram', 12, 2);
    // 2 KV heads × 4 pairs = 8 units over 12 columns: 4 columns hold no attention coordinates.
    expect(Array.from({ length: 12 }, (_, c) => columnRuns(model.config, mesh, 'dim', c).length).filter((n) => n === 0)).toHaveLength(4);
    for (const a of ['ring', 'tree'] as const) {
      const r = await race(model, mesh, 24, a);
      expect(r.meshIds, a).toEqual(r.cpuIds);
    }
  });

  it('refuses a model that does not fit before anything runs', async () => {
    await expect(MeshEngine.create(await testGpu(), stories, meshFromPreset('wse-3', 2, 2))).rejects.toThrow(
      /does-not-fit: the model does not fit a 2x2 mesh of 49152-byte cores/,
    );
  });
});
