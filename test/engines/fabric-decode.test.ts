import { afterAll, describe, expect, it } from 'vitest';
import { createMachine } from '../../src/engines/index.ts';
import type { MeshEngine } from '../../src/engines/mesh.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { columnHeads, kvColumns, kvCopies, place } from '../../src/mesh/placement.ts';
import { BOS, type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import type { Model } from '../../src/model/weights.ts';
import { raceReference } from '../helpers/race.ts';
import { generate } from '../../src/engines/generate.ts';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { testGpu } from '../helpers/gpu.ts';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readCheckpoint } from '../../src/model/checkpoint.ts';
import { loadStories260K } from '../helpers/models.ts';

const stories = loadStories260K();
const gqaSeparate: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };

async function race(model: Model, mesh: MeshConfig, tokens: number, allreduce: 'ring' | 'tree') {
  const m = await createMachine('fabric', model, { gpu: testGpu, mesh, allreduce });
  try {
    return await raceReference(m, model, tokens);
  } finally {
    m.dispose();
  }
}

describe('the decode on the fabric, token for token against the CPU reference', () => {
  afterAll(async () => (await testGpu()).destroy());

  it('stories260K for 256 tokens on 8x8 cores of 48 KB (K-tree) and on 6x10 (chain)', async () => {
    for (const [w, h, a] of [[8, 8, 'tree'], [6, 10, 'ring']] as const) {
      const r = await race(stories, meshFromPreset('wse-3', w, h), 256, a);
      expect(r.ids, `${w}x${h}`).toHaveLength(256);
      expect(r.ids, `${w}x${h}`).toEqual(r.cpuIds);
      expect(r.maxDiff).toBeLessThan(1e-3);
    }
  });

  it('wm-stories on 8x8, and a separate-classifier GQA model on odd shapes (6x7, 4x3, 1x1, and a mesh it barely fits)', async () => {
    const wm = readCheckpoint(new Uint8Array(readFileSync(resolve(__dirname, '../../public/models/wm-stories.bin'))), 'wm-stories');
    const r = await race(wm, meshFromPreset('wse-3', 8, 8), 64, 'tree');
    expect(r.ids).toEqual(r.cpuIds);
    const model = randomModel(gqaSeparate, 9);
    for (const [w, h] of [[6, 7], [4, 3], [1, 1]] as const) {
      for (const a of ['ring', 'tree'] as const) {
        const g = await race(model, meshFromPreset(w * h === 1 ? 'wse-3-big-sram' : 'wse-3', w, h), 39, a);
        expect(g.ids, `${w}x${h} ${a}`).toEqual(g.cpuIds);
      }
    }
    // Barely: SRAM cut to exactly what the fullest core needs for the whole context.
    const probe = place(model.config, meshFromPreset('wse-3', 3, 2, 1 << 20));
    const barely = meshFromPreset('wse-3', 3, 2, probe.fullest.totalWords * 4);
    expect(place(model.config, { ...barely, sramBytes: barely.sramBytes - 4 }).context).toBeLessThan(gqaSeparate.seqLen);
    const b = await race(model, barely, 39, 'tree');
    expect(b.ids).toEqual(b.cpuIds);
  });

  it('meshes that keep the KV cache more than once: stories260K on 32x2 and 32x32, the GQA model on 14x3 and 16x2 (ring and tree)', async () => {
    // 32 columns over stories260K's 16 (KV head, RoPE pair) units: each KV coordinate in 2 columns.
    for (const [w, h, tokens, a] of [[32, 2, 128, 'tree'], [32, 32, 16, 'ring']] as const) {
      const mesh = meshFromPreset('wse-3', w, h);
      expect(kvCopies(stories.config, mesh), `${w}x${h}`).toBe(2);
      const r = await race(stories, mesh, tokens, a);
      expect(r.ids, `${w}x${h}`).toHaveLength(tokens);
      expect(r.ids, `${w}x${h}`).toEqual(r.cpuIds);
      expect(r.maxDiff).toBeLessThan(1e-3);
    }
    // 6 query heads over 2 KV heads: 3 copies, whose holder columns are not neighbours (14x3: KV
    // coordinates 0 and 1 live in columns 0, 2 and 5).
    const model = randomModel(gqaSeparate, 11);
    for (const [w, h] of [[14, 3], [16, 2]] as const) {
      const mesh = meshFromPreset('wse-3', w, h);
      expect(kvCopies(gqaSeparate, mesh), `${w}x${h}`).toBe(3);
      expect(Math.max(...kvColumns(gqaSeparate, mesh).map((hs) => hs.length))).toBe(3);
      // Some columns here cover two heads with the widths of a one-head column: each keeps room for its heads' scores.
      const p = place(gqaSeparate, mesh);
      for (const cp of p.cores) expect(cp.regions.find((g) => g.name === 'scoresAll')!.words, `${w}x${h} core (${cp.row},${cp.col})`).toBe(columnHeads(gqaSeparate, mesh, cp.col).count * cp.kvSlots);
      for (const a of ['ring', 'tree'] as const) {
        const g = await race(model, mesh, 39, a);
        expect(g.ids, `${w}x${h} ${a}`).toEqual(g.cpuIds);
        expect(g.maxDiff, `${w}x${h} ${a}`).toBeLessThan(1e-3);
      }
    }
  });

  it('measured = modelled per link and per phase, with no access outside a core or its neighbours, at positions 0, 1 and the last', async () => {
    const model = randomModel(gqaSeparate, 4);
    // 14x3 keeps the KV cache 3 times: its q, k, v phases multicast along the rows.
    expect(kvCopies(gqaSeparate, meshFromPreset('wse-3', 14, 3))).toBe(3);
    for (const [w, h, a] of [[6, 7, 'tree'], [4, 3, 'ring'], [14, 3, 'ring']] as const) {
      const m = (await createMachine('fabric', model, { gpu: testGpu, mesh: meshFromPreset('wse-3', w, h), allreduce: a, instrument: true })) as MeshEngine;
      try {
        const last = m.context - 1;
        let token = BOS;
        for (let pos = 0; pos <= last; pos++) {
          if (pos === 0 || pos === 1 || pos === last) {
            const { phases, violation } = await m.measure(token, pos);
            expect(violation, `${w}x${h} pos ${pos}`).toBeNull();
            for (const p of phases) expect(p.firstDifference, `${w}x${h} ${a} pos ${pos}: ${p.name}`).toBeNull();
            expect(phases.reduce((s, p) => s + p.measured.linkWords.reduce((x, y) => x + y, 0), 0)).toBeGreaterThan(0);
            // Only where the KV cache is kept more than once do the q, k, v phases multicast (one per layer).
            expect(phases.filter((p) => p.name.includes('multicast to the KV copies')), `${w}x${h}`).toHaveLength(w === 14 ? gqaSeparate.nLayers : 0);
          } else {
            await m.forward(token, pos);
          }
          token = (token * 7 + pos + 3) % model.config.vocabSize;
        }
      } finally {
        m.dispose();
      }
    }
  });

  it('greedy decoding stays on the wafer: only the id leaves, equal to the CPU reference with a prompt, on 8x8, 6x7, 1x3, 5x1 and 1x1; an overflowing model is refused as on the CPU', async () => {
    const prompt = [BOS, 40, 57, 33];
    const opts = (tokens: number) => ({ promptIds: prompt, tokens, temperature: 0, topP: 1, seed: 0 });
    const onWafer = async (model: Model, mesh: MeshConfig, tokens: number, allreduce: 'ring' | 'tree') => {
      const m = await createMachine('fabric', model, { gpu: testGpu, mesh, allreduce });
      try {
        expect(m.greedy, 'the fabric engine finds the id on the wafer').toBeDefined();
        // The logits are never read: forward (the debug read-back) must not run.
        const forward = m.forward.bind(m);
        m.forward = () => Promise.reject(new Error('the logits were read back'));
        const ids = (await generate(m, opts(tokens))).ids;
        m.forward = forward;
        return ids;
      } finally {
        m.dispose();
      }
    };
    const cpu = async (model: Model, tokens: number) => (await generate(new CpuEngine(model), opts(tokens))).ids;
    expect(await onWafer(stories, meshFromPreset('wse-3', 8, 8), 48, 'tree')).toEqual(await cpu(stories, 48));
    const model = randomModel(gqaSeparate, 12);
    const want = await cpu(model, 30);
    for (const [w, h, a] of [[6, 7, 'ring'], [1, 3, 'tree'], [5, 1, 'ring'], [1, 1, 'tree']] as const) {
      expect(await onWafer(model, meshFromPreset(w * h <= 3 ? 'wse-3-big-sram' : 'wse-3', w, h), 30, a), `${w}x${h}`).toEqual(want);
    }
    // Finite weights whose products overflow f32 in the classifier: the CPU refuses, and so does the wafer.
    const huge = randomModel(gqaSeparate, 3);
    huge.weights.rmsFinal.fill(1e10);
    huge.weights.wcls.fill(3e38);
    await expect(cpu(huge, 2)).rejects.toThrow(/non-finite-logits/);
    await expect(onWafer(huge, meshFromPreset('wse-3', 6, 7), 2, 'tree')).rejects.toThrow(/non-finite-logits: .*not finite/);
  });
});
