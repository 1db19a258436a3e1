import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG, modelEntry } from '../../src/catalog.ts';
import { HANDOFF_LINKS } from '../../src/engines/disaggregated.ts';
import { gpuPreset } from '../../src/cost/hardware.ts';
import { attendedPairs, gemmWordsPerCore, gpuGemmSeconds, headBlockSide, gpuPrefill, kvTransfer, waferGemmCycles, waferMatvecCycles, waferPrefill } from '../../src/cost/prefill.ts';

const llama8b = modelEntry('llama-3.1-8b')!.config!;
const t = { hop: 1, ramp: 8, bw: 1 };

describe('a GPU GEMM: compute-bound or bound by reading the weights once', () => {
  // K = N = 1000, 2 B weights and activations, 1 TFLOPS, 10 GB/s: compute 2·T·10⁶ ÷ 10¹², memory
  // (2·10⁶ + T·2000·2) ÷ 10¹⁰; equal where 2·10⁻⁶·T = 2·10⁻⁴ + 4·10⁻⁷·T, at T = 125.
  const at = (T: number) => gpuGemmSeconds({ M: T, K: 1000, N: 1000 }, 1e12, 1e10, 2, 2);

  it('crosses over at T = 125, as computed by hand', () => {
    expect(at(100).bound).toBe('memory');
    expect(at(100).seconds).toBeCloseTo(2.4e-4, 12);
    expect(at(124).bound).toBe('memory');
    expect(at(125).compute).toBeCloseTo(at(125).memory, 15);
    expect(at(126).bound).toBe('compute');
    expect(at(200).seconds).toBeCloseTo(4e-4, 12);
  });

  it("Llama-3.1-8B's products on one H100 at fp16: q/k/v compute-bound, the last position's classifier bound by reading its weights", () => {
    const p = gpuPrefill(llama8b, 2048, 'h100');
    const qkv = p.gemms.find((g) => g.name === 'q, k, v')!;
    expect(qkv.bound).toBe('compute');
    expect(qkv.ms).toBeCloseTo(Number(((2 * 2048 * 4096 * 6144) / 989e12 * 1e3).toPrecision(4)), 8);
    const head = p.gemms.find((g) => g.name.startsWith('classifier'))!;
    expect(head.bound).toBe('memory');
    // Its bytes at the H100's measured sustained 3.18 TB/s (the bandwidth the preset streams at).
    expect(head.ms).toBeCloseTo(Number((((4096 * 128256 * 2 + (4096 + 128256) * 2) / 3.18e12) * 1e3).toPrecision(4)), 8);
    // TTFT is the sum of its parts, and the prompt's rate is T over it.
    const sum = Object.values(p.time_breakdown_ms).reduce((a, b) => a + b, 0);
    expect(p.ttft_ms).toBeCloseTo(sum, 1);
    expect(p.prefill_tokens_per_s).toBeCloseTo(2048 / (p.ttft_ms / 1e3), -2);
  });

  it('the w2 product crosses from HBM-bound to compute-bound where the formula says, on the H100 preset', () => {
    const hw = gpuPreset('h100');
    const K = llama8b.hiddenDim;
    const N = llama8b.dim;
    const peak = hw.peakFlops.fp16;
    const bw = hw.hbmBytesPerS;
    // 2·T·K·N ÷ peak = (2·K·N + 2·T·(K + N)) ÷ bw  ⇒  T* = (2·K·N ÷ bw) ÷ (2·K·N ÷ peak − 2·(K + N) ÷ bw)
    const cross = (2 * K * N) / bw / ((2 * K * N) / peak - (2 * (K + N)) / bw);
    expect(cross).toBeGreaterThan(250);
    expect(cross).toBeLessThan(350);
    expect(gpuGemmSeconds({ M: Math.floor(cross), K, N }, peak, bw, 2, 2).bound).toBe('memory');
    expect(gpuGemmSeconds({ M: Math.ceil(cross) + 1, K, N }, peak, bw, 2, 2).bound).toBe('compute');
    const short = gpuPrefill(llama8b, Math.floor(cross), 'h100').gemms.find((g) => g.name === 'w2')!;
    const long = gpuPrefill(llama8b, Math.ceil(cross) + 1, 'h100').gemms.find((g) => g.name === 'w2')!;
    expect([short.bound, long.bound]).toEqual(['memory', 'compute']);
  });

  it('counts causal attention pairs: 1 + 2 + … + T', () => {
    expect(attendedPairs(4)).toBe(10);
    expect(attendedPairs(1)).toBe(1);
  });
});

describe('a wafer GEMM: MeshGEMM or SUMMA, the faster', () => {
  it('4 x 4 cores, 8 x 8 x 8, α = 1, β = 8, 2 FLOPs a cycle: SUMMA (140 cycles) beats MeshGEMM (149, the weights resident and pre-skewed)', () => {
    // MeshGEMM: P = 4, 2 x 2 tiles (4 words); a round (4 − 1) + 2 hops + 8 = 13; the weights placed
    // pre-skewed, so the alignment moves the activations only: 3·13 = 39; shifts 3·(13 + 13) = 78;
    // products 4·2·8 ÷ 2 = 32; nothing put back.
    // SUMMA: 4 steps of 2 x 2 panels; a row multicast 3 + (3, 2, 2, 3 hops) + 8, the columns alike:
    // 2·(44 + 10) = 108; products 4·2·8 ÷ 2 = 32.
    const c = waferGemmCycles(4, 4, { M: 8, K: 8, N: 8 }, t, 2);
    expect(c.meshgemm).toBe(149);
    expect(c.summa).toBe(140);
    expect(c.algorithm).toBe('summa');
    expect(c.cycles).toBe(140);
  });

  it('64 x 64 cores, 64 x 64 x 64 (one value a core): MeshGEMM (1,954 cycles) beats SUMMA (7,168), whose multicasts cross the whole line', () => {
    // MeshGEMM: a round 0 + 2 + 8 = 10; alignment (activations only) 63·10, shifts 63·20: 1,890; products 64·2 ÷ 2 = 64.
    // SUMMA: 64 steps, a row multicast 0 + max(k, 63 − k) + 8: 64·8 + 3,040 = 3,552, twice; products 64.
    const c = waferGemmCycles(64, 64, { M: 64, K: 64, N: 64 }, t, 2);
    expect(c.meshgemm).toBe(1954);
    expect(c.summa).toBe(7168);
    expect(c.algorithm).toBe('meshgemm');
  });

  it('cuts the prompt into the fewest chunks whose tiles fit the SRAM a core has free (32 bytes: both in 2 chunks; 16: neither)', () => {
    // MeshGEMM on 4 x 4, 8 x 8 x 8: the activations' and C tiles and the copy of the weight's tile
    // that the shifts move, 3·(2·2) = 12 words = 48 B; in 2 chunks of 4 rows 1·2 + 1·2 + 2·2 = 8
    // words = 32 B. A chunk: the activations' tile 2 words (rounds of 1 + 2 + 8 = 11 cycles), the
    // weight's 4 (13): alignment 3·11, shifts 3·(13 + 11): 105, products 4·2·2·2·1 ÷ 2 = 16: 121; twice, 242.
    // SUMMA in 2 chunks of 4 rows: C 1 x 2, A panel 1 x 2, B panel 2 x 2 = 8 words = 32 B; row
    // multicasts 4·(1 + 8) + 10 = 46, columns 4·(3 + 8) + 10 = 54, products 16: 116; twice, 232.
    expect(gemmWordsPerCore('meshgemm', 4, 4, { M: 8, K: 8, N: 8 }, true)).toBe(12);
    expect(gemmWordsPerCore('meshgemm', 4, 4, { M: 4, K: 8, N: 8 }, true)).toBe(8);
    expect(gemmWordsPerCore('summa', 4, 4, { M: 4, K: 8, N: 8 }, true)).toBe(8);
    const c = waferGemmCycles(4, 4, { M: 8, K: 8, N: 8 }, t, 2, { freeBytes: 32, bInPlace: true });
    expect(c).toMatchObject({ algorithm: 'summa', chunks: 2, meshgemm: 242, summa: 232 });
    expect(waferGemmCycles(4, 4, { M: 8, K: 8, N: 8 }, t, 2, { freeBytes: 48, bInPlace: true })).toMatchObject({ algorithm: 'summa', summa: 140, meshgemm: 149, chunks: 1 });
    expect(() => waferGemmCycles(4, 4, { M: 8, K: 8, N: 8 }, t, 2, { freeBytes: 16, bInPlace: true })).toThrow(/tiles do not fit the 16 bytes a core has free/);
  });

  it('lays the KV-head groups side by side on the largest square blocks that fit: 8 of 293 x 293 on 762 x 1172 (2 across, 4 down)', () => {
    expect(headBlockSide(762, 1172, 8)).toBe(293);
    expect(headBlockSide(44, 586, 8)).toBe(44);
    expect(headBlockSide(4, 4, 32)).toBe(1);
  });

  it("the classifier's one position is a matrix-vector product in place: broadcast along the rows, reduce down the columns", () => {
    // 4 x 2 cores, K = 8, N = 8: slices of ⌈8/2⌉ = 4 rows, ⌈8/4⌉ = 2 columns; broadcast 3 + 3 + 8,
    // products 2·4·2 ÷ 2 = 8, reduction 1 + 1·(1 + 8).
    expect(waferMatvecCycles(4, 2, 8, 8, t, 2)).toBe(14 + 8 + 10);
  });

  it('Llama-3.2-1B on a whole WSE-3: every product says which algorithm ran and both costs; TTFT is the sum of its parts', () => {
    const m = modelEntry('llama-3.2-1b')!.config!;
    const p = waferPrefill('llama-3.2-1b', m, 512, 'wse-3', { placement: { kind: 'whole' } });
    expect(p.region).toMatchObject({ width: 762, height: 1172 });
    for (const g of p.gemms.filter((x) => x.algorithm !== 'matvec')) {
      expect(['meshgemm', 'summa']).toContain(g.algorithm);
      expect(g.algorithm === 'meshgemm' ? g.meshgemm_cycles! <= g.summa_cycles! : g.summa_cycles! < g.meshgemm_cycles!).toBe(true);
    }
    const qkv = p.gemms.find((g) => g.name === 'q, k, v')!;
    const c = waferGemmCycles(762, 1172, { M: 512, K: m.dim, N: m.dim + 2 * (m.dim / m.nHeads) * m.nKvHeads }, { hop: 1, ramp: 8, bw: 1 }, 64);
    expect(qkv.algorithm).toBe(c.algorithm);
    expect(qkv.ms).toBeCloseTo(Number(((c.cycles / 1.1e9) * 1e3).toPrecision(4)), 8);
    const sum = Object.values(p.time_breakdown_ms).reduce((a, b) => a + b, 0);
    expect(p.ttft_ms).toBeCloseTo(sum, 2);
    expect(p.assumptions.join('\n')).toMatch(/MeshGEMM for .*; SUMMA for /);
    expect(p.left_out.join('\n')).toMatch(/causal mask is not exploited/);
  }, 120_000);
});

describe('the KV transfer of a disaggregated pair', () => {
  it("Llama-3.1-8B, 2,048 positions at fp16 into a WSE-3: the wafer edge is the slower link, as computed by hand", () => {
    const k = kvTransfer(llama8b, 2048, 'fp16', { prefillWafer: false, decodeWafer: true }, CATALOG, { width: 762, height: 1172, clockHz: 1.1e9, bw: 1, hop: 1 });
    const bytes = 2 * 32 * 2048 * 1024 * 2;
    expect(k.bytes).toBe(bytes);
    const network = 15e-6 + bytes / 200e9;
    const edge = bytes / 150e9;
    const fabric = (bytes / 4 / 1172 + 762) / 1.1e9;
    expect(k.network_ms).toBeCloseTo(Number((network * 1e3).toPrecision(4)), 8);
    expect(k.wafer_edge_ms).toBeCloseTo(Number((edge * 1e3).toPrecision(4)), 8);
    expect(k.ms).toBeCloseTo(Number(((edge + fabric) * 1e3).toPrecision(4)), 8);
    expect(k.bound).toMatch(/CS-3 system I\/O/);
  });

  it('between two GPU servers only the network counts', () => {
    const k = kvTransfer(llama8b, 100, 'fp8', { prefillWafer: false, decodeWafer: false });
    const bytes = 2 * 32 * 100 * 1024;
    expect(k.ms).toBeCloseTo(Number(((15e-6 + bytes / 200e9) * 1e3).toPrecision(4)), 8);
    expect(k.wafer_edge_ms).toBeUndefined();
  });

  it('the links live in the catalog, and the disaggregated engine reads them from there', () => {
    expect(HANDOFF_LINKS).toBe(CATALOG.links);
    expect(CATALOG.links.network.latencyS.assumed).toBe(true);
    expect(CATALOG.links.waferEdge.bytesPerS.value).toBe(1.2e12 / 8);
  });
});

describe('every FLOP figure says its precision and whether it is dense or counts sparsity', () => {
  it('in every preset of the catalog', () => {
    for (const h of CATALOG.hardware) {
      const f = h.figures as unknown as Record<string, { source: string }>;
      const keys = Object.keys(f).filter((k) => /flops/i.test(k));
      expect(keys.length, h.id).toBeGreaterThan(0);
      for (const k of keys) {
        expect(f[k].source, `${h.id} ${k}`).toMatch(/dense|sparsity/i);
        expect(f[k].source, `${h.id} ${k}`).toMatch(/fp32|f32|fp16|bf16|16-bit|fp8|8-bit/i);
      }
    }
    // The seed's H100 figure, 3.958 PFLOPS, is FP8 with sparsity; the dense 16-bit rate is a quarter of it.
    const h100 = CATALOG.hardware.find((h) => h.id === 'h100')!.figures as unknown as Record<string, { value: number; source: string }>;
    expect(h100.fp8Flops.source).toMatch(/3,958 with sparsity/);
    expect(h100.fp16Flops.value * 4).toBeCloseTo(3.958e15, -13);
  });
});

describe('no published number is read', () => {
  /** Every module a file imports, transitively, from the project root. */
  function closure(file: string, root = resolve(__dirname, '../..'), seen = new Set<string>()): Set<string> {
    if (seen.has(file)) return seen;
    seen.add(file);
    const src = readFileSync(join(root, file), 'utf8');
    for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/g)) closure(relative(root, resolve(root, file, '..', m[1])), root, seen);
    return seen;
  }

  it('prefill and serve import neither the published measurements nor the validation', () => {
    for (const f of ['src/cost/prefill.ts', 'src/cost/serve.ts']) {
      const all = [...closure(f)];
      expect(all, f).not.toContain('src/cost/published.ts');
      expect(all, f).not.toContain('src/cost/validate.ts');
    }
  });
});
