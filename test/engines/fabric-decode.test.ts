import { afterAll, describe, expect, it } from 'vitest';
import { createMachine } from '../../src/engines/index.ts';
import { MeshEngine } from '../../src/engines/mesh.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { compileFabricDecode } from '../../src/mesh/programs/decode-fabric.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { columnHeads, columnRuns, kvColumns, kvCopies, place } from '../../src/mesh/placement.ts';
import { BOS, type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import type { Model } from '../../src/model/weights.ts';
import { raceReference } from '../helpers/race.ts';
import { scoreClasses } from '../../src/mesh/programs/decode-fabric.ts';
import type { Allreduce } from '../../src/mesh/collectives.ts';
import { checkTensor } from '../helpers/check.ts';
import { generate } from '../../src/engines/generate.ts';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { testGpu } from '../helpers/gpu.ts';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readCheckpoint } from '../../src/model/checkpoint.ts';
import { loadStories260K } from '../helpers/models.ts';

const stories = loadStories260K();
const gqaSeparate: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };

async function race(model: Model, mesh: MeshConfig, tokens: number, allreduce: Allreduce) {
  const m = await createMachine('mesh', model, { gpu: testGpu, mesh, allreduce });
  try {
    return await raceReference(m, model, tokens);
  } finally {
    m.dispose();
  }
}

// One device for the whole file: every describe's machines run on it.
afterAll(async () => (await testGpu()).destroy());

describe('the mesh engine (the decode on the fabric), token for token against the CPU reference', () => {
  it('matches the reference logits position by position on 4x3 (chain) and 1x1 (K-tree)', async () => {
    const model = randomModel(gqaSeparate, 3);
    for (const [w, h, a] of [[4, 3, 'chain'], [1, 1, 'ktree']] as const) {
      const m = await createMachine('mesh', model, { gpu: testGpu, mesh: meshFromPreset(w * h === 1 ? 'wse-3-big-sram' : 'wse-3', w, h), allreduce: a });
      try {
        const cpu = new CpuEngine(model);
        let token = BOS;
        for (let pos = 0; pos < 6; pos++) {
          const want = Float32Array.from(await cpu.forward(token, pos));
          checkTensor(`${w}x${h} logits at pos ${pos}`, await m.forward(token, pos), want, { atol: 2e-4, rtol: 2e-3 });
          token = (token * 7 + pos + 3) % gqaSeparate.vocabSize;
        }
      } finally {
        m.dispose();
      }
    }
  });

  it('stories260K for 256 tokens on 8x8 cores of 48 KB (K-tree) and on 6x10 (chain)', async () => {
    for (const [w, h, a] of [[8, 8, 'ktree'], [6, 10, 'chain']] as const) {
      const r = await race(stories, meshFromPreset('wse-3', w, h), 256, a);
      expect(r.ids, `${w}x${h}`).toHaveLength(256);
      expect(r.ids, `${w}x${h}`).toEqual(r.cpuIds);
      expect(r.maxDiff).toBeLessThan(1e-3);
    }
  });

  it('wm-stories on 8x8, and a separate-classifier GQA model on odd shapes (6x7, 4x3, 1x1, and a mesh it barely fits)', async () => {
    const wm = readCheckpoint(new Uint8Array(readFileSync(resolve(__dirname, '../../public/models/wm-stories.bin'))), 'wm-stories');
    const r = await race(wm, meshFromPreset('wse-3', 8, 8), 64, 'ktree');
    expect(r.ids).toEqual(r.cpuIds);
    const model = randomModel(gqaSeparate, 9);
    for (const [w, h] of [[6, 7], [4, 3], [1, 1]] as const) {
      for (const a of ['chain', 'ring', 'ktree'] as const) {
        const g = await race(model, meshFromPreset(w * h === 1 ? 'wse-3-big-sram' : 'wse-3', w, h), 39, a);
        expect(g.ids, `${w}x${h} ${a}`).toEqual(g.cpuIds);
      }
    }
    // Barely: SRAM cut to exactly what the fullest core needs for the whole context.
    const probe = place(model.config, meshFromPreset('wse-3', 3, 2, 1 << 20));
    const barely = meshFromPreset('wse-3', 3, 2, probe.fullest.totalWords * 4);
    expect(place(model.config, { ...barely, sramBytes: barely.sramBytes - 4 }).context).toBeLessThan(gqaSeparate.seqLen);
    const b = await race(model, barely, 39, 'ktree');
    expect(b.ids).toEqual(b.cpuIds);
  });

  it('stories260K on one core of 4 MB, and a mesh wider than the attention units (some columns hold no attention coordinates, some no hidden ones)', async () => {
    const one = await race(stories, meshFromPreset('wse-3-big-sram', 1, 1), 64, 'ktree');
    expect(one.ids).toEqual(one.cpuIds);
    const model = randomModel({ dim: 32, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 61, seqLen: 24, sharedClassifier: false }, 5);
    const mesh = meshFromPreset('wse-3-big-sram', 10, 2);
    // 2 KV heads × 4 pairs = 8 units over 10 columns: 2 columns hold no attention coordinates
    // (and all the hidden ones), the 8 others no hidden coordinate.
    const width = (kind: 'dim' | 'hidden', c: number) => columnRuns(model.config, mesh, kind, c).reduce((n, [a, b]) => n + b - a, 0);
    expect(Array.from({ length: 10 }, (_, c) => width('dim', c)).filter((n) => n === 0)).toHaveLength(2);
    expect(Array.from({ length: 10 }, (_, c) => width('hidden', c)).filter((n) => n === 0)).toHaveLength(8);
    for (const a of ['chain', 'ring', 'ktree'] as const) {
      const r = await race(model, mesh, 23, a);
      expect(r.ids, a).toEqual(r.cpuIds);
    }
    // 12 columns: a column inside heads 0–1's span (and one inside 2–3's) holds none of their
    // coordinates, so it only routes their scores (the segment's ramps are its holders).
    for (const [w, h] of [[12, 2], [12, 1]] as const) {
      const wide = meshFromPreset('wse-3-big-sram', w, h);
      const gaps = scoreClasses(model.config, wide).flat().filter((x) => x.seg.ramps);
      expect(gaps.length, `${w}x${h}`).toBeGreaterThan(0);
      for (const a of ['chain', 'ktree'] as const) {
        const r = await race(model, wide, 23, a);
        expect(r.ids, `${w}x${h} ${a}`).toEqual(r.cpuIds);
      }
    }
  });

  it('meshes that keep the KV cache more than once: stories260K on 32x2 and 32x32, the GQA model on 14x3 and 16x2 (ring and tree)', async () => {
    // 32 columns over stories260K's 16 (KV head, RoPE pair) units: each KV coordinate in 2 columns.
    for (const [w, h, tokens, a] of [[32, 2, 128, 'ktree'], [32, 32, 16, 'chain']] as const) {
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
      for (const a of ['chain', 'ring', 'ktree'] as const) {
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
    for (const [w, h, a] of [[6, 7, 'ktree'], [4, 3, 'chain'], [14, 3, 'chain']] as const) {
      const m = (await createMachine('mesh', model, { gpu: testGpu, mesh: meshFromPreset('wse-3', w, h), allreduce: a, instrument: true })) as MeshEngine;
      try {
        const last = m.context - 1;
        let token = BOS;
        for (let pos = 0; pos <= last; pos++) {
          if (pos === 0 || pos === 1 || pos === last) {
            const { phases, violation } = await m.measure(token, pos);
            expect(violation, `${w}x${h} pos ${pos}`).toBeNull();
            for (const p of phases) expect(p.firstDifference, `${w}x${h} ${a} pos ${pos}: ${p.name}`).toBeNull();
            // No word waited for a link: at most one word offered to a link register in a step.
            for (const p of phases) expect(p.measured.maxQueue ?? 0, `${w}x${h} ${a} pos ${pos}: ${p.name}`).toBeLessThanOrEqual(1);
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
    const onWafer = async (model: Model, mesh: MeshConfig, tokens: number, allreduce: Allreduce) => {
      const m = await createMachine('mesh', model, { gpu: testGpu, mesh, allreduce });
      try {
        expect(m.greedy, 'the mesh engine finds the id on the wafer').toBeDefined();
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
    expect(await onWafer(stories, meshFromPreset('wse-3', 8, 8), 48, 'ktree')).toEqual(await cpu(stories, 48));
    const model = randomModel(gqaSeparate, 12);
    const want = await cpu(model, 30);
    for (const [w, h, a] of [[6, 7, 'chain'], [1, 3, 'ktree'], [5, 1, 'chain'], [1, 1, 'ktree']] as const) {
      expect(await onWafer(model, meshFromPreset(w * h <= 3 ? 'wse-3-big-sram' : 'wse-3', w, h), 30, a), `${w}x${h}`).toEqual(want);
    }
    // Finite weights whose products overflow f32 in the classifier: the CPU refuses, and so does the wafer.
    const huge = randomModel(gqaSeparate, 3);
    huge.weights.rmsFinal.fill(1e10);
    huge.weights.wcls.fill(3e38);
    await expect(cpu(huge, 2)).rejects.toThrow(/non-finite-logits/);
    await expect(onWafer(huge, meshFromPreset('wse-3', 6, 7), 2, 'ktree')).rejects.toThrow(/non-finite-logits: .*not finite/);
  });
});

describe('the mesh split over several GPU buffers (bands of rows), as a mesh too large for one binding is', () => {
  const sharded = async (model: Model, mesh: MeshConfig, allreduce: Allreduce, shards: number, instrument = false) =>
    MeshEngine.create(await testGpu(), model, compileFabricDecode(compileProgram(model.config, mesh, allreduce)), { shards, instrument });

  it('stories260K on 8x8 in 3 buffers: greedy ids equal the CPU reference; a GQA model on 6x7 in 4 and 4x3 in 3: logits equal it, measured = modelled per link and phase at positions 0, 1 and the last', async () => {
    const m = await sharded(stories, meshFromPreset('wse-3', 8, 8), 'ktree', 3);
    try {
      expect(m.meshRuntime.bands.map((b) => b.rows)).toEqual([3, 3, 2]);
      const opts = { promptIds: [BOS, 403], tokens: 40, temperature: 0, topP: 1, seed: 0 };
      expect((await generate(m, opts)).ids).toEqual((await generate(new CpuEngine(stories), opts)).ids);
    } finally {
      m.dispose();
    }
    const model = randomModel(gqaSeparate, 9);
    for (const [w, h, a, n] of [[6, 7, 'ktree', 4], [4, 3, 'chain', 3]] as const) {
      const e = await sharded(model, meshFromPreset('wse-3', w, h), a, n, true);
      try {
        expect(e.meshRuntime.bands).toHaveLength(n);
        const cpu = new CpuEngine(model);
        const last = e.context - 1;
        let token = BOS;
        for (let pos = 0; pos <= last; pos++) {
          const want = Float32Array.from(await cpu.forward(token, pos));
          let got: Float32Array;
          if (pos === 0 || pos === 1 || pos === last) {
            const { logits, phases, violation } = await e.measure(token, pos);
            expect(violation, `${w}x${h} in ${n} pos ${pos}`).toBeNull();
            for (const p of phases) expect(p.firstDifference, `${w}x${h} in ${n} pos ${pos}: ${p.name}`).toBeNull();
            got = Float32Array.from(logits);
          } else {
            got = Float32Array.from(await e.forward(token, pos));
          }
          checkTensor(`${w}x${h} in ${n} buffers, logits at pos ${pos}`, got, want, { atol: 2e-4, rtol: 2e-3 });
          token = (token * 7 + pos + 3) % model.config.vocabSize;
        }
      } finally {
        e.dispose();
      }
    }
  });
});

describe('the mesh engine: its buffers, and what it refuses in one line', () => {

  it('refuses a model that does not fit before asking for the GPU', async () => {
    let asked = false;
    const gpu = async () => {
      asked = true;
      return testGpu();
    };
    await expect(createMachine('mesh', stories, { gpu, mesh: meshFromPreset('wse-3', 2, 2) })).rejects.toThrow(/^does-not-fit: the model does not fit a 2x2 mesh of 49152-byte cores/);
    expect(asked).toBe(false);
  });

  it('refuses a mesh one row of whose SRAM is more than the adapter binds (rows are the unit it splits by), freeing what it made', async () => {
    const { limits } = (await testGpu()).device;
    const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    const sram = 64 * 1024 * 1024;
    const w = Math.floor(limit / sram) + 1;
    await expect(createMachine('mesh', randomModel(gqaSeparate, 1), { gpu: testGpu, mesh: meshFromPreset('wse-3', w, 1, sram) })).rejects.toThrow(
      new RegExp(`^mesh-too-large: one row of the ${w}-core-wide mesh needs ${w * sram} bytes in one GPU buffer but this adapter binds at most ${limit}; use a narrower mesh or less SRAM per core$`),
    );
  });

  it('refuses a bad token, a position past its KV cache and a prompt longer than it, each in one line; reset() starts a new sequence; dispose() frees every buffer', async () => {
    const model = randomModel(gqaSeparate, 6);
    // SRAM one word short of the whole context: the KV cache holds fewer positions than seq_len.
    const probe = place(model.config, meshFromPreset('wse-3', 3, 2, 1 << 20));
    const mesh = meshFromPreset('wse-3', 3, 2, probe.fullest.totalWords * 4 - 4);
    const m = await createMachine('mesh', model, { gpu: testGpu, mesh, allreduce: 'chain' });
    try {
      expect(m.liveBuffers).toBeGreaterThan(0);
      const context = m.context;
      expect(context).toBeLessThan(gqaSeparate.seqLen);
      await expect(m.forward(gqaSeparate.vocabSize, 0)).rejects.toThrow(/^bad-token: token id 97 is outside the vocabulary 0…96$/);
      await expect(m.forward(BOS, context)).rejects.toThrow(new RegExp(`^context-full: position ${context} is past the ${context} positions this mesh's KV cache holds; use a larger mesh \\(see \`wafermesh fit\`\\)$`));
      await expect(generate(m, { promptIds: Array(context + 1).fill(BOS), tokens: 1, temperature: 0, topP: 1, seed: 0 })).rejects.toThrow(
        new RegExp(`^prompt-too-long: the prompt is ${context + 1} tokens with BOS but this engine's KV cache holds ${context} positions \\(seq_len 40\\); shorten the prompt$`),
      );
      // Two sequences on one machine (generate resets it first): the same ids as the reference, to the last position it holds.
      const opts = { promptIds: [BOS, 5, 6], tokens: 100, temperature: 0, topP: 1, seed: 0 };
      const ref = new CpuEngine(model);
      const cpu = await generate({ config: model.config, context, forward: ref.forward.bind(ref), reset: ref.reset.bind(ref) }, opts);
      const first = await generate(m, opts);
      expect(first.stop).toBe('context');
      expect(first.ids).toEqual(cpu.ids);
      const second = await generate(m, { ...opts, promptIds: [BOS, 9] });
      expect(second.ids).not.toEqual(first.ids);
      expect((await generate(m, opts)).ids).toEqual(first.ids);
    } finally {
      m.dispose();
    }
    expect(m.liveBuffers).toBe(0);
  });
});
