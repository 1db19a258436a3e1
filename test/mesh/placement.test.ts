import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvDim, type ModelConfig } from '../../src/model/config.ts';
import { makeMesh, meshFromPreset, parseMeshSize } from '../../src/mesh/config.ts';
import { columnHeads, columnRuns, kvCopies, place, refuseIfNotFits, slotsForRow, smallestFittingMesh, split } from '../../src/mesh/placement.ts';
import { modelEntry } from '../../src/catalog.ts';
import { loadStories260K } from '../helpers/models.ts';

const stories = loadStories260K().config;

describe('mesh configuration', () => {
  it('parses sizes and refuses nonsense with the value and the range', () => {
    expect(parseMeshSize('6x10')).toEqual({ width: 6, height: 10 });
    expect(() => parseMeshSize('big')).toThrow(/bad-mesh: mesh "big" is not WIDTHxHEIGHT/);
    expect(() => meshFromPreset('wse-3', 0, 4)).toThrow(/width = 0 is out of range; use a whole number in 1…2048/);
    expect(() => meshFromPreset('wse-3', 2000, 2000)).toThrow(/cores = 4000000 is out of range/);
    expect(() => meshFromPreset('wse-3', 4, 4, 1000.5)).toThrow(/SRAM per core \(bytes\) = 1000.5 is out of range/);
    expect(() => meshFromPreset('tpu', 4, 4)).toThrow(/mesh preset "tpu" is unknown; use one of wse-3/);
    expect(() => makeMesh({ ...meshFromPreset('wse-3', 2, 2), clockHz: NaN })).toThrow(/clock \(Hz\) = NaN is out of range/);
  });
});

describe('placement', () => {
  it('splits are balanced and cover every index once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 64 }), (n, parts) => {
        let next = 0;
        for (let i = 0; i < parts; i++) {
          const [lo, hi] = split(n, parts, i);
          expect(lo).toBe(next);
          expect(hi - lo).toBeGreaterThanOrEqual(Math.floor(n / parts));
          expect(hi - lo).toBeLessThanOrEqual(Math.ceil(n / parts));
          next = hi;
        }
        expect(next).toBe(n);
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('every weight is on exactly one core: tile words add up to the model\'s matrices', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom<[number, number]>([8, 4], [8, 8], [4, 1], [2, 2]),
        (w, h, [heads, kv]) => {
          const m: ModelConfig = { dim: heads * 8, hiddenDim: 40, nLayers: 2, nHeads: heads, nKvHeads: kv, vocabSize: 50, seqLen: 16, sharedClassifier: false };
          const p = place(m, meshFromPreset('wse-3-big-sram', w, h));
          const sum = (name: string) => p.cores.reduce((n, c) => n + c.regions.filter((r) => r.name === name).reduce((a, r) => a + r.words, 0), 0);
          expect(sum('L1.wq')).toBe(m.dim * m.dim);
          expect(sum('L0.w2')).toBe(m.dim * m.hiddenDim);
          expect(sum('L0.wk')).toBe(kvDim(m) * m.dim);
          expect(sum('embedding')).toBe(m.vocabSize * m.dim);
          expect(sum('wcls')).toBe(m.vocabSize * m.dim);
          // Regions of a core never overlap and stay inside its SRAM when it fits.
          for (const c of p.cores) {
            let end = 0;
            for (const r of c.regions) {
              expect(r.offset).toBe(end);
              end += r.words;
            }
            expect(end).toBe(c.totalWords);
            if (p.fits) expect(c.totalWords * 4).toBeLessThanOrEqual(p.mesh.sramBytes);
          }
        },
      ),
      { numRuns: 60, seed: 12 },
    );
  });

  it('a column keeps the KV coordinates its query coordinates need (GQA)', () => {
    const mesh = meshFromPreset('wse-3', 8, 8);
    const hs = stories.dim / stories.nHeads;
    for (let c = 0; c < 8; c++) {
      const kvRuns = columnRuns(stories, mesh, 'kv', c);
      for (const [lo, hi] of columnRuns(stories, mesh, 'dim', c)) {
        expect(lo % 2).toBe(0);
        for (let i = lo; i < hi; i++) {
          const h = Math.floor(i / hs);
          const need = Math.floor(h / (stories.nHeads / stories.nKvHeads)) * hs + (i % hs);
          expect(kvRuns.some(([a, b]) => need >= a && need < b)).toBe(true);
        }
      }
    }
  });

  it('deals KV positions to rows round-robin', () => {
    expect([0, 1, 2, 3].map((r) => slotsForRow(10, 4, r))).toEqual([3, 3, 2, 2]);
    expect(slotsForRow(2, 4, 3)).toBe(0);
  });

  it('fits stories260K on 8x8 and 6x10 48 KB cores with its full context', () => {
    for (const [w, h] of [[8, 8], [6, 10]]) {
      const p = place(stories, meshFromPreset('wse-3', w, h));
      expect(p.fits).toBe(true);
      expect(p.context).toBe(512);
      expect(p.maxContext).toBeGreaterThanOrEqual(512);
    }
  });

  it('refuses stories260K on 2x2 cores of 48 KB, naming the core, the bytes and a mesh that fits', () => {
    const p = place(stories, meshFromPreset('wse-3', 2, 2));
    expect(p.fits).toBe(false);
    expect(() => refuseIfNotFits(p)).toThrow(
      /^does-not-fit: the model does not fit a 2x2 mesh of 49152-byte cores: core \(\d,\d\) needs \d+ bytes \(weights \d+, scratch \d+, one KV position \d+\) but has 49152; the smallest 1:1 mesh that fits with the full context is (\d+)x\1$/,
    );
    const bigger = smallestFittingMesh(stories, meshFromPreset('wse-3', 2, 2))!;
    expect(place(stories, bigger).fits).toBe(true);
    expect(place(stories, { ...bigger, width: bigger.width - 1, height: bigger.height - 1 }).context).toBeLessThan(512);
  });

  it('a 1x1 mesh with large SRAM holds the whole model and its context', () => {
    const p = place(stories, meshFromPreset('wse-3-big-sram', 1, 1));
    expect(p.fits).toBe(true);
    expect(p.context).toBe(512);
  });
});

describe('the KV cache is stored once per KV head', () => {
  it('on stories260K (8 query heads, 4 KV heads) over 8x8: each row holds every KV coordinate of its positions exactly once', () => {
    const mesh = meshFromPreset('wse-3', 8, 8);
    expect(kvCopies(stories, mesh)).toBe(1);
    const p = place(stories, mesh);
    for (let r = 0; r < 8; r++) {
      const row = p.cores.slice(r * 8, r * 8 + 8);
      // K and V of every layer, each KV coordinate once: 2 · layers · kv dim words per position.
      expect(row.reduce((n, c) => n + c.kvWordsPerSlot, 0)).toBe(2 * stories.nLayers * kvDim(stories));
    }
    // Every KV coordinate in exactly one column, and every query coordinate in the column of its KV head's pair.
    const seen = new Array(kvDim(stories)).fill(0);
    const hs = stories.dim / stories.nHeads;
    for (let c = 0; c < 8; c++) {
      const kv = columnRuns(stories, mesh, 'kv', c).flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i));
      for (const i of kv) seen[i]++;
      for (const [a, b] of columnRuns(stories, mesh, 'dim', c)) {
        for (let i = a; i < b; i++) expect(kv, `query coordinate ${i} in column ${c}`).toContain(Math.floor(Math.floor(i / hs) / 2) * hs + (i % hs));
      }
    }
    expect(seen.every((n) => n === 1)).toBe(true);
  });

  it('on a full WSE-3, 70B keeps 4 copies (not 8) and 8B all 4 (its 512 units cannot spread evenly over 762 columns); 512 columns keep one', () => {
    const wafer = meshFromPreset('wse-3', 762, 1172);
    const llama8b = modelEntry('llama-3.1-8b')!.config!;
    const llama70b = modelEntry('llama-3.1-70b')!.config!;
    expect(kvCopies(llama8b, wafer)).toBe(4);
    expect(kvCopies(llama70b, wafer)).toBe(4);
    // A mesh no wider than KV heads × pairs (8 × 64 = 512) keeps one copy.
    expect(kvCopies(llama8b, meshFromPreset('wse-3', 512, 1172))).toBe(1);
    expect(kvCopies(llama70b, meshFromPreset('wse-3', 512, 8))).toBe(1);
  });

  it('hidden columns even out the weights where attention units split unevenly (6 columns, 16 units)', () => {
    const mesh = meshFromPreset('wse-3', 6, 10);
    const hidden = Array.from({ length: 6 }, (_, c) => columnRuns(stories, mesh, 'hidden', c));
    // Contiguous, in order, covering every hidden coordinate once.
    expect(hidden[0][0][0]).toBe(0);
    for (let c = 1; c < 6; c++) expect(hidden[c][0][0]).toBe(hidden[c - 1][0][1]);
    expect(hidden[5][0][1]).toBe(stories.hiddenDim);
    const p = place(stories, mesh);
    const weights = p.cores.slice(0, 6).map((c) => c.weightWords);
    // Columns with 2 or 3 attention units: the spread of weights stays within 10%.
    expect(Math.max(...weights) / Math.min(...weights)).toBeLessThan(1.1);
  });
});

describe('column slices, for any model shape and mesh width (property)', () => {
  it('every dim, KV and hidden coordinate has one owning column; query heads sit with their KV head; heads and pairs stay whole', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }), // KV heads
        fc.integer({ min: 1, max: 4 }), // query heads per KV head
        fc.integer({ min: 1, max: 4 }), // pairs per head
        fc.integer({ min: 1, max: 40 }), // hidden
        fc.integer({ min: 1, max: 48 }), // mesh width
        (kv, mul, pairs, hidden, width) => {
          const hs = 2 * pairs;
          const m: ModelConfig = { dim: kv * mul * hs, hiddenDim: hidden, nLayers: 1, nHeads: kv * mul, nKvHeads: kv, vocabSize: 7, seqLen: 8, sharedClassifier: true };
          const mesh = meshFromPreset('wse-3', width, 2);
          const copies = kvCopies(m, mesh);
          expect(mul % copies).toBe(0);
          const seenDim = new Array(m.dim).fill(0);
          const seenKv = new Array(kv * hs).fill(0);
          let hiddenNext = 0;
          for (let c = 0; c < width; c++) {
            const coords = (kind: 'dim' | 'kv') => columnRuns(m, mesh, kind, c).flatMap(([a, b]) => {
              expect(b, `${kind} run of column ${c}`).toBeGreaterThan(a);
              return Array.from({ length: b - a }, (_, i) => a + i);
            });
            const dim = coords('dim');
            const kvs = coords('kv');
            for (const i of dim) seenDim[i]++;
            for (const i of kvs) seenKv[i]++;
            // Whole RoPE pairs; every query coordinate's KV coordinate in the same column.
            for (const i of dim) {
              expect(dim).toContain(i ^ 1);
              expect(kvs).toContain(Math.floor(Math.floor(i / hs) / mul) * hs + (i % hs));
            }
            // The heads a column covers form one range, and columnHeads says which.
            const heads = [...new Set(dim.map((i) => Math.floor(i / hs)))];
            const h = columnHeads(m, mesh, c);
            expect(h.count).toBe(heads.length);
            if (heads.length) expect(heads).toEqual(Array.from({ length: h.count }, (_, i) => h.first + i));
            const [[lo, hi]] = columnRuns(m, mesh, 'hidden', c);
            expect(lo).toBe(hiddenNext);
            expect(hi).toBeGreaterThanOrEqual(lo);
            hiddenNext = hi;
          }
          expect(seenDim.every((n) => n === 1)).toBe(true);
          // Once per head set at most; sets of one group that share a column share its copy.
          expect(seenKv.every((n) => n >= 1 && n <= copies)).toBe(true);
          expect(hiddenNext).toBe(hidden);
        },
      ),
      { numRuns: 300, seed: 20261127 },
    );
  });
});
