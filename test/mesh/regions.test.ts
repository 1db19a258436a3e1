import { afterAll, describe, expect, it } from 'vitest';
import { FabricRuntime } from '../../src/engines/fabric-runtime.ts';
import { GpuResources } from '../../src/gpu/resources.ts';
import { compileRegionHandoff } from '../../src/mesh/programs/region-handoff.ts';
import { testGpu } from '../helpers/gpu.ts';
import fc from 'fast-check';
import { makeMesh, meshFromPreset } from '../../src/mesh/config.ts';
import { fabricTokenCycles, tokenParts } from '../../src/mesh/fabric-closed.ts';
import { columnRuns, place } from '../../src/mesh/placement.ts';
import { fitRegion, handoffCost, idReturnCost } from '../../src/mesh/regions.ts';
import { makeConfig, type ModelConfig } from '../../src/model/config.ts';
import { loadStories260K } from '../helpers/models.ts';

const stories = loadStories260K().config;

/** dim 8, two heads of 4 (two RoPE pairs each), two KV heads: on 2 columns, column 0 holds coordinates 0…3 and column 1 holds 4…7. */
const tiny: ModelConfig = makeConfig({ dim: 8, hiddenDim: 16, nLayers: 1, nHeads: 2, nKvHeads: 2, vocabSize: 16, seqLen: 8, sharedClassifier: true });

describe('a token in parts', () => {
  it('front + layers × one layer + head is the closed form of the whole token, cycle for cycle and word for word', () => {
    for (const [w, h, algorithm] of [[8, 8, 'ktree'], [6, 10, 'chain'], [5, 3, 'ring']] as const) {
      const mesh = meshFromPreset('wse-3', w, h);
      const c = fabricTokenCycles(stories, mesh, 40, algorithm, 1, 64);
      const p = tokenParts(c);
      for (const k of ['cycles', 'compute', 'hops', 'serialisation', 'ramps', 'linkWords', 'flops'] as const) {
        expect(p.front[k] + stories.nLayers * p.layer[k] + p.head[k], `${w}x${h} ${algorithm} ${k}`).toBeCloseTo(c.total[k], 6);
      }
      // One layer of the model costs what a one-layer model's layer costs: the layer does not depend on how many there are.
      const one = tokenParts(fabricTokenCycles(makeConfig({ ...stories, nLayers: 1 }), mesh, 40, algorithm, 1, 64));
      expect(one.layer).toEqual(p.layer);
      expect(one.front).toEqual(p.front);
      expect(one.head).toEqual(p.head);
    }
  });
});

describe('fitRegion', () => {
  it("equals place()'s fullest core wherever place fits the same model and context", () => {
    fc.assert(
      fc.property(
        fc.record({
          heads: fc.constantFrom(2, 4, 8),
          kvDiv: fc.constantFrom(1, 2),
          headSize: fc.constantFrom(4, 8),
          hidden: fc.integer({ min: 8, max: 96 }),
          layers: fc.integer({ min: 1, max: 3 }),
          vocab: fc.integer({ min: 16, max: 300 }),
          shared: fc.boolean(),
          w: fc.integer({ min: 1, max: 12 }),
          h: fc.integer({ min: 1, max: 12 }),
          context: fc.integer({ min: 1, max: 64 }),
          vb: fc.constantFrom(1, 2, 4),
        }),
        (r) => {
          const model = makeConfig({ dim: r.heads * r.headSize, hiddenDim: r.hidden, nLayers: r.layers, nHeads: r.heads, nKvHeads: r.heads / r.kvDiv, vocabSize: r.vocab, seqLen: r.context, sharedClassifier: r.shared });
          const mesh = makeMesh({ ...meshFromPreset('wse-3', r.w, r.h), sramBytes: 1 << 20 });
          const p = place(model, mesh, r.vb);
          const f = fitRegion(model, mesh, { layers: r.layers, tables: r.shared ? 1 : 2, context: r.context, valueBytes: r.vb });
          expect(f.needBytes).toBe(p.fullest.totalWords * 4);
          expect(f.fits).toBe(p.fits && p.context >= r.context);
          // With less SRAM than the fullest core needs, neither fits.
          const small = makeMesh({ ...mesh, sramBytes: Math.max(1024, Math.floor((f.needBytes - 4) / 4) * 4) });
          if (small.sramBytes < f.needBytes) {
            expect(fitRegion(model, small, { layers: r.layers, tables: r.shared ? 1 : 2, context: r.context, valueBytes: r.vb }).fits).toBe(false);
            const q = place(model, small, r.vb);
            expect(q.fits && q.context >= r.context).toBe(false);
          }
        },
      ),
      { numRuns: 60, seed: 13 },
    );
  });

  it('counts tables and layers: no table is one embedding table less than one, and a table-only region holds no KV cache', () => {
    const mesh = meshFromPreset('wse-3', 4, 4);
    const one = fitRegion(stories, mesh, { layers: 2, tables: 1, context: 64, valueBytes: 4 });
    const none = fitRegion(stories, mesh, { layers: 2, tables: 0, context: 64, valueBytes: 4 });
    const two = fitRegion(stories, mesh, { layers: 2, tables: 2, context: 64, valueBytes: 4 });
    // Core (0,0)'s embedding tile: its vocab rows × its dim columns, f32.
    const table = one.needBytes - none.needBytes;
    expect(two.needBytes - one.needBytes).toBe(table);
    expect(table).toBeGreaterThan(0);
    expect(table % 4).toBe(0);
    expect(one.weightBytes - none.weightBytes).toBe(stories.vocabSize * stories.dim * 4);
    const tableOnly = fitRegion(stories, mesh, { layers: 0, tables: 1, context: 64, valueBytes: 4 });
    expect(tableOnly.kvBytes).toBe(0);
    expect(tableOnly.needBytes).toBeLessThan(one.needBytes);
  });

  it('says a region that cannot hold its layers does not fit, with the bytes its fullest core needs', () => {
    const mesh = meshFromPreset('wse-3', 2, 2); // 48 KB a core: stories260K is ~1 MB
    const f = fitRegion(stories, mesh, { layers: stories.nLayers, tables: 1, context: 64, valueBytes: 4 });
    expect(f.fits).toBe(false);
    expect(f.needBytes).toBeGreaterThan(f.sramBytes);
    expect(f.sramBytes).toBe(mesh.sramBytes);
  });
});

describe('hand-offs between regions (closed form, hand-computed)', () => {
  const region = makeMesh({ ...meshFromPreset('wse-3', 2, 2), cyclesPerHop: 1, cyclesPerRamp: 8, wordsPerLinkCycle: 1 });

  it('vertical: each column streams its 4 coordinates down the next region, h = 2 hops and one delivery: 3 + 2 + 8', () => {
    const c = handoffCost(tiny, region, 'vertical');
    expect(c).toMatchObject({ cycles: 13, serialisation: 3, hops: 2, ramps: 8, linkWords: 16 });
  });

  it('horizontal: a round per column, each row slice\'s coordinates of that column straight across (column 0: row 0\'s 0…3, 2 hops, the last 3 behind, one delivery: 13; column 1: row 1\'s 4…7: 13), then the column gather (3 + 1 + 8)', () => {
    const c = handoffCost(tiny, region, 'horizontal');
    // Words: every coordinate crosses the region's 2 links; then 8 down the columns.
    expect(c).toMatchObject({ cycles: 38, serialisation: 9, hops: 5, ramps: 24, linkWords: 8 * 2 + 8 });
  });

  it('the id returns over the hops between the regions, then down column 0 and along the rows', () => {
    expect(idReturnCost(region, 0).cycles).toBe(0);
    // 5 hops + β, then 1 hop + β, then 1 hop + β.
    expect(idReturnCost(region, 5)).toMatchObject({ cycles: 5 + 8 + 1 + 8 + 1 + 8, hops: 7, ramps: 24, linkWords: 5 + 1 + 2 });
  });

  it('grow with the region: a taller region pays more hops to broadcast, a wider one more rounds along the rows', () => {
    const m = stories;
    const at = (w: number, h: number) => meshFromPreset('wse-3', w, h);
    expect(handoffCost(m, at(8, 16), 'vertical').hops).toBeGreaterThan(handoffCost(m, at(8, 8), 'vertical').hops);
    expect(handoffCost(m, at(16, 8), 'horizontal').ramps).toBeGreaterThan(handoffCost(m, at(8, 8), 'horizontal').ramps);
  });
});

describe('the hand-off as fabric streams (src/mesh/programs/region-handoff.ts)', () => {
  it("costs, by the trace's own round cost, exactly the closed form, and every word moves between neighbours on legal routes", async () => {
    const { compileRegionHandoff } = await import('../../src/mesh/programs/region-handoff.ts');
    const { checkColours, phaseCycles } = await import('../../src/mesh/fabric.ts');
    const gqa = makeConfig({ dim: 96, hiddenDim: 160, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 64, seqLen: 32, sharedClassifier: false });
    for (const model of [stories, gqa, tiny]) {
      for (const [w, h] of [[4, 6], [7, 3], [2, 2], [1, 5]] as const) {
        const mesh = makeMesh({ ...meshFromPreset('wse-3', 3 * w, 2 * h), cyclesPerHop: 1, cyclesPerRamp: 8, wordsPerLinkCycle: 1 });
        const region = makeMesh({ ...mesh, width: w, height: h });
        const t = { hop: mesh.cyclesPerHop, ramp: mesh.cyclesPerRamp, bw: mesh.wordsPerLinkCycle };
        const cases = [
          { a: { x: 0, y: 0 }, b: { x: 0, y: h }, adjacency: 'vertical' },
          { a: { x: w, y: h }, b: { x: w, y: 0 }, adjacency: 'vertical' },
          { a: { x: 0, y: h }, b: { x: w, y: h }, adjacency: 'horizontal' },
          { a: { x: w, y: 0 }, b: { x: 2 * w, y: 0 }, adjacency: 'horizontal' },
        ] as const;
        for (const k of cases) {
          const { phase, adjacency } = compileRegionHandoff(model, region, mesh, k.a, k.b, { src: 0, dst: 1 });
          expect(adjacency).toBe(k.adjacency);
          // Within the preset's colours per router.
          expect(() => checkColours(mesh.width, mesh.height, phase, mesh.colours), JSON.stringify(k)).not.toThrow();
          const traced = phaseCycles(mesh.height, phase, 0, 0, t);
          const closed = handoffCost(model, region, adjacency);
          const what = `${model.dim} on ${w}x${h} ${JSON.stringify(k)}`;
          expect(traced.cycles, what).toBe(closed.cycles);
          expect(traced.hops, what).toBe(closed.hops);
          expect(traced.ramps, what).toBe(closed.ramps);
          expect(traced.serialisation, what).toBe(closed.serialisation);
          // Words over links: each item crosses |end − origin| links.
          const words = phase.rounds.flatMap((r) => r.streams).flatMap((s) => s.items).reduce((n, it) => n + Math.abs(it.end - it.origin), 0);
          expect(words, what).toBe(closed.linkWords);
        }
        // Regions that do not touch are refused.
        expect(() => compileRegionHandoff(model, region, mesh, { x: 0, y: 0 }, { x: 2 * w, y: 0 }, { src: 0, dst: 1 })).toThrow(/not neighbours/);
      }
    }
  });
});

describe('the hand-off on the fabric', { timeout: 600_000 }, () => {
  afterAll(async () => (await testGpu()).destroy());

  it("moves every coordinate of A's x into B's cores where B's layout keeps it, below and beside, words per link as the closed form says", async () => {
    const model = makeConfig({ dim: 48, hiddenDim: 64, nLayers: 1, nHeads: 6, nKvHeads: 2, vocabSize: 32, seqLen: 8, sharedClassifier: false });
    const [w, h] = [3, 2];
    const mesh = meshFromPreset('wse-3', 2 * w, 2 * h);
    const region = makeMesh({ ...mesh, width: w, height: h });
    const cols = Array.from({ length: w }, (_, c) => columnRuns(model, region, 'dim', c).flatMap(([lo, hi]) => Array.from({ length: hi - lo }, (_, k) => lo + k)));
    const D = Math.max(...cols.map((c) => c.length));
    const SRAM = 2 * D;
    const W = mesh.width;
    const regions = new Uint32Array(W * mesh.height * 2);
    for (let core = 0; core < W * mesh.height; core++) regions.set([0, D], core * 2);
    const res = new GpuResources(await testGpu());
    try {
      for (const b of [{ x: 0, y: h }, { x: w, y: 0 }]) {
        const a = { x: 0, y: 0 };
        const { phase } = compileRegionHandoff(model, region, mesh, a, b, { src: 0, dst: 1 });
        const image = new Float32Array(W * mesh.height * SRAM).fill(-1);
        for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) cols[c].forEach((i, k) => (image[((a.y + r) * W + a.x + c) * SRAM + k] = 100 + i));
        const sram = res.storage('test:sram', image);
        const f = await FabricRuntime.create(res, sram, { width: W, height: mesh.height, sramWords: SRAM, regions, regionCount: 2 }, [phase], { instrument: true });
        f.clearCounters();
        await f.run();
        const { phases, violation } = await f.readCounters();
        const out = await res.readF32(sram);
        f.dispose();
        res.destroyBuffer(sram);
        expect(violation, JSON.stringify(b)).toBeNull();
        for (let r = 0; r < h; r++) {
          for (let c = 0; c < w; c++) {
            const core = (b.y + r) * W + b.x + c;
            expect(Array.from(out.subarray(core * SRAM + D, core * SRAM + D + cols[c].length)), `B core (${r}, ${c}) from ${JSON.stringify(b)}`).toEqual(cols[c].map((i) => 100 + i));
          }
        }
        const words = phases[0].linkWords.reduce((x, y) => x + y, 0);
        expect(words).toBe(handoffCost(model, region, b.y === 0 ? 'horizontal' : 'vertical').linkWords);
      }
    } finally {
      res.dispose();
    }
  });
});
