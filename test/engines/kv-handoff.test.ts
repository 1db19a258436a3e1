import { afterAll, describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { Disaggregated } from '../../src/engines/disaggregated.ts';
import { generate } from '../../src/engines/generate.ts';
import { createMachine } from '../../src/engines/index.ts';
import type { Machine } from '../../src/engines/machine.ts';
import { MeshEngine } from '../../src/engines/mesh.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { compileFabricDecode } from '../../src/mesh/programs/decode-fabric.ts';
import { compileKvHandoff, landingValues } from '../../src/mesh/programs/handoff.ts';
import { kvCopies, place } from '../../src/mesh/placement.ts';
import { BOS, kvDim, type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import { ReferenceTransformer } from '../../src/model/reference.ts';
import type { Model } from '../../src/model/weights.ts';
import { Rng } from '../../src/model/rng.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';
import { loadWmStories } from '../helpers/prefill.ts';

const stories = loadStories260K();
const gqa: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };

afterAll(async () => (await testGpu()).destroy());

describe('the KV cache handed to the wafer, in closed form', () => {
  it('lands every KV word (once per copy) on the west edge cores and sends each east to the one core that keeps it', () => {
    const m = randomModel(gqa, 1).config;
    for (const [w, h, T] of [[6, 7, 20], [14, 3, 11], [3, 2, 5]] as const) {
      const mesh = meshFromPreset('wse-3', w, h);
      const ho = compileKvHandoff(compileProgram(m, mesh, 'chain'), T);
      // Each position's keys and values of every layer and KV coordinate, once per copy the wafer keeps.
      expect(ho.edgeWords, `${w}x${h}`).toBe(2 * m.nLayers * kvDim(m) * T * kvCopies(m, mesh));
      // A slot (one position per row) per phase.
      expect(ho.phases).toHaveLength(Math.ceil(T / h));
      for (const p of ho.phases) {
        // Only east links of the rows, and a word bound for column c crosses c links: the words on
        // link (r, x) east are the row's words for columns beyond x.
        for (let l = 0; l < p.model.linkWords.length; l++) if (l % 4 !== 0) expect(p.model.linkWords[l]).toBe(0);
        for (const land of p.landings) {
          const perCol = new Array(w).fill(0);
          for (const r of p.phase.rounds) for (const s of r.streams) if (s.line === land.row) for (const it of s.items) perCol[it.end]++;
          for (let x = 0; x < w; x++) expect(p.model.linkWords[(land.row * w + x) * 4]).toBe(perCol.slice(x + 1).reduce((a, b) => a + b, 0));
          const locals = p.phase.rounds.flatMap((r) => r.locals).filter((l) => l.core === land.row * w).length;
          expect(locals + perCol.reduce((a, b) => a + b, 0)).toBe(land.sources.length);
        }
        expect(p.model.rampWords).toBe(p.phase.rounds.reduce((n, r) => n + r.streams.reduce((x, s) => x + s.items.length, 0), 0));
      }
      // Handed out, the same words flow the other way: west link x + 1 carries what east link x carried in.
      const out = compileKvHandoff(compileProgram(m, mesh, 'chain'), T, { out: true });
      out.phases.forEach((p, i) => {
        expect(p.model.steps).toBe(ho.phases[i].model.steps);
        for (let core = 0; core < w * h; core++) {
          expect(p.model.linkWords[core * 4]).toBe(0);
          if (core % w < w - 1) expect(p.model.linkWords[(core + 1) * 4 + 1]).toBe(ho.phases[i].model.linkWords[core * 4]);
        }
      });
    }
  });

  it('takes words from the cache where they live: keys and values of each layer, position and coordinate', () => {
    const model = randomModel(gqa, 2);
    const ref = new ReferenceTransformer(model);
    for (let p = 0; p < 6; p++) ref.forward((p * 5 + 2) % gqa.vocabSize, p);
    const kv = ref.kvCache(6);
    const ho = compileKvHandoff(compileProgram(model.config, meshFromPreset('wse-3', 1, 1, 1 << 20), 'chain'), 6);
    // One core: it keeps every coordinate, so its landings are the whole cache, K then V per layer.
    const got = ho.phases.flatMap((p) => p.landings.flatMap((l) => [...landingValues(l, kv, gqa.nLayers, kvDim(model.config))]));
    const want: number[] = [];
    const kvd = kvDim(model.config);
    for (let t = 0; t < 6; t++) for (let l = 0; l < gqa.nLayers; l++) for (const src of [kv.k, kv.v]) want.push(...src.subarray((l * 6 + t) * kvd, (l * 6 + t + 1) * kvd));
    expect(got).toEqual(want);
  });

  it('refuses more positions than the wafer keeps', () => {
    const program = compileProgram(randomModel(gqa, 1).config, meshFromPreset('wse-3', 6, 7), 'chain');
    expect(() => compileKvHandoff(program, program.placement.context + 1)).toThrow(/^context-full: a KV cache of 41 positions does not fit this mesh's KV cache of 40 positions/);
  });
});

describe('disaggregated generation: prefill on one machine, the KV cache to the other, decode there', () => {
  const opts = (promptIds: number[], tokens: number) => ({ promptIds, tokens, temperature: 0, topP: 1, seed: 0, prefill: true });
  const monolithic = async (model: Model, promptIds: number[], tokens: number) => (await generate(new CpuEngine(model), { ...opts(promptIds, tokens), prefill: false })).ids;
  const wafer = async (model: Model, mesh: MeshConfig, allreduce: 'chain' | 'ktree', options: { shards?: number; instrument?: boolean } = {}) =>
    MeshEngine.create(await testGpu(), model, compileFabricDecode(compileProgram(model.config, mesh, allreduce)), options);

  it('stories260K: the GPU baseline or the CPU prefills, the wafer (8x8) decodes; ids equal a run on one machine; the hand-off measured = modelled per link and phase', async () => {
    const prompt = [BOS, 403, 261, 378, 430, 266, 413, 298, 267, 265, 268, 289, 331, 421, 270, 292, 263, 322, 288];
    const want = await monolithic(stories, prompt, 30);
    for (const prefiller of ['gpu', 'cpu'] as const) {
      const p: Machine = await createMachine(prefiller, stories, { gpu: testGpu });
      const d = await wafer(stories, meshFromPreset('wse-3', 8, 8), 'ktree', { instrument: true });
      try {
        const dis = new Disaggregated(p, d);
        expect((await generate(dis, opts(prompt, 30))).ids, `${prefiller} → mesh`).toEqual(want);
        expect(dis.handoffs).toHaveLength(1);
        const h = dis.handoffs[0];
        expect(h.positions).toBe(prompt.length);
        expect(h.bytes).toBe(2 * stories.config.nLayers * prompt.length * kvDim(stories.config) * 4);
        expect(h.wafer!.violation).toBeNull();
        expect(h.wafer!.phases).toHaveLength(Math.ceil(prompt.length / 8));
        for (const ph of h.wafer!.phases) expect(ph.firstDifference, ph.name).toBeNull();
        expect(h.wafer!.phases.reduce((n, ph) => n + ph.measured.rampWords, 0)).toBe(h.wafer!.edgeWords * 7 / 8);
        expect(h.modelledMs).toBeGreaterThan(0);
      } finally {
        p.dispose();
        d.dispose();
      }
    }
  }, 600_000);

  it('stories260K, every pair of engines (the wafer on 8x8), prompts of 1, 7 and 100 tokens and one that fills the context but one position: ids equal a run on one machine; the wafer hands its KV cache out over the fabric too', async () => {
    const rng = new Rng(4);
    // SRAM for a context of 120 positions (not 512), so that a prompt filling it stays quick on the wafer.
    let [lo, hi] = [1024, 48 * 1024]; // context(lo) < 120 ≤ context(hi), in words of 4 bytes
    while (hi - lo > 4) {
      const mid = lo + Math.floor((hi - lo) / 8) * 4;
      if (place(stories.config, meshFromPreset('wse-3', 8, 8, mid)).context >= 120) hi = mid;
      else lo = mid;
    }
    const sram = hi;
    const mesh = meshFromPreset('wse-3', 8, 8, sram);
    const make = async (e: 'cpu' | 'gpu' | 'mesh') => (e === 'mesh' ? wafer(stories, mesh, 'ktree') : createMachine(e, stories, { gpu: testGpu }));
    const pairs = [['cpu', 'gpu'], ['gpu', 'cpu'], ['cpu', 'mesh'], ['gpu', 'mesh'], ['mesh', 'cpu'], ['mesh', 'gpu']] as const;
    const machines = { cpu: await make('cpu'), gpu: await make('gpu'), mesh: await make('mesh') };
    try {
      const context = Math.min(...Object.values(machines).map((m) => m.context));
      for (const length of [1, 7, 100, context - 1]) {
        const prompt = [BOS, ...Array.from({ length: length - 1 }, () => 3 + (rng.nextU32() % (stories.config.vocabSize - 3)))];
        const want = await monolithic(stories, prompt, 16);
        for (const [from, to] of pairs) {
          const dis = new Disaggregated(machines[from], machines[to]);
          // The pair holds the smaller context: a prompt filling it but one position leaves room for 2 ids.
          const room = Math.min(16, dis.context - prompt.length + 1);
          expect((await generate(dis, opts(prompt, 16))).ids, `${from} → ${to}, prompt ${length}`).toEqual(want.slice(0, room));
          const h = dis.handoffs[0];
          if (from === 'mesh') for (const ph of h.waferOut!.phases) expect(ph.firstDifference, `${from} → ${to}, prompt ${length}: ${ph.name}`).toBeNull();
          if (to === 'mesh') for (const ph of h.wafer!.phases) expect(ph.firstDifference, `${from} → ${to}, prompt ${length}: ${ph.name}`).toBeNull();
        }
      }
    } finally {
      for (const m of Object.values(machines)) m.dispose();
    }
  }, 900_000);

  it('wm-stories: the GPU baseline prefills 7 tokens, the wafer (8x8) decodes; ids equal a run on one machine', async () => {
    const wm = loadWmStories();
    const prompt = [BOS, 300, 41, 402, 7, 211, 90];
    const want = await monolithic(wm, prompt, 16);
    const p = await createMachine('gpu', wm, { gpu: testGpu });
    const d = await wafer(wm, meshFromPreset('wse-3', 8, 8), 'ktree', { instrument: true });
    try {
      const dis = new Disaggregated(p, d);
      expect((await generate(dis, opts(prompt, 16))).ids).toEqual(want);
      for (const ph of dis.handoffs[0].wafer!.phases) expect(ph.firstDifference, ph.name).toBeNull();
    } finally {
      p.dispose();
      d.dispose();
    }
  }, 600_000);

  it('a GQA model: the wafer keeps the KV cache 3 times (14x3), in 3 buffers (6x7), in parts (6x7, few words landed at once), and the GPU decodes a CPU prefill', async () => {
    const model = randomModel(gqa, 5);
    const prompt = [BOS, 12, 40, 7, 88, 3, 61, 25, 19, 70, 33, 5];
    const want = await monolithic(model, prompt, 20);
    const cases: [string, () => Promise<Machine>, number?][] = [
      ['14x3', () => wafer(model, meshFromPreset('wse-3', 14, 3), 'chain', { instrument: true })],
      ['6x7 in 3 buffers', () => wafer(model, meshFromPreset('wse-3', 6, 7), 'ktree', { instrument: true, shards: 3 })],
      ['6x7 in parts', () => wafer(model, meshFromPreset('wse-3', 6, 7), 'ktree', { instrument: true }), 50],
      ['gpu', () => createMachine('gpu', model, { gpu: testGpu })],
    ];
    for (const [name, make, maxLanding] of cases) {
      const p = new CpuEngine(model);
      const d = await make();
      if (maxLanding) {
        const m = d as MeshEngine;
        const importKv = m.importKv.bind(m);
        m.importKv = (kv) => importKv(kv, { maxLanding });
      }
      try {
        const dis = new Disaggregated(p, d);
        expect((await generate(dis, opts(prompt, 20))).ids, name).toEqual(want);
        const w = dis.handoffs[0].wafer;
        if (d.engine === 'mesh') {
          expect(w!.violation).toBeNull();
          for (const ph of w!.phases) expect(ph.firstDifference, `${name}: ${ph.name}`).toBeNull();
          if (maxLanding) expect(w!.phases.length).toBeGreaterThan(Math.ceil(prompt.length / 7));
        } else {
          expect(w).toBeUndefined();
        }
      } finally {
        d.dispose();
      }
    }
  }, 600_000);

  it('refuses machines holding different models, in one line', async () => {
    const model = randomModel(gqa, 5);
    const d = await wafer(model, meshFromPreset('wse-3', 6, 7), 'chain');
    try {
      expect(() => new Disaggregated(new CpuEngine(randomModel({ ...gqa, nLayers: 1 }, 1)), d)).toThrow(/^bad-option: the prefill and decode machines hold different models/);
    } finally {
      d.dispose();
    }
  });
});
