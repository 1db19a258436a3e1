import { afterAll, describe, expect, it } from 'vitest';
import { runMeshGemm } from '../../src/engines/gemm-runtime.ts';
import { GpuResources } from '../../src/gpu/resources.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { firstDifference } from '../../src/mesh/fabric.ts';
import { compileMeshGemm, meshGemmClosed, meshGemmCycles, ringShiftCost, summaCycles } from '../../src/mesh/programs/meshgemm.ts';
import { Rng } from '../../src/model/rng.ts';
import { testGpu } from '../helpers/gpu.ts';

function matmul(a: Float32Array, b: Float32Array, M: number, K: number, N: number): Float32Array {
  const c = new Float32Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
    c[i * N + j] = s;
  }
  return c;
}

describe('MeshGEMM in closed form', () => {
  it('one shift on the folded ring of 4 (0 2 3 1): each tile steps to its ring predecessor, at most two hops', () => {
    // Ring 0 → 2 → 3 → 1 → 0; a shift sends each tile back one place: 2→0, 3→2, 1→3, 0→1.
    const c = ringShiftCost(4, 5);
    // East links: 0→1 (0's tile to 1) and 1→2, 2→3 (1's tile to 3); west: 3→2 (3's to 2), 2→1, 1→0 (2's to 0).
    expect(c.east).toEqual([5, 5, 5, 0]);
    expect(c.west).toEqual([0, 5, 5, 5]);
    // The last of 5 words leaves at step 4 and is two hops from home: 7 steps.
    expect(c.steps).toBe(7);
    expect(c.rampWords).toBe(20);
    expect(ringShiftCost(5, 3).steps).toBe(5);
    expect(ringShiftCost(2, 3)).toEqual({ east: [3, 0], west: [0, 3], steps: 4, rampWords: 6 });
    expect(ringShiftCost(1, 3).rampWords).toBe(0);
  });

  it('a core carries six colours over the product: on each axis its tile out, a tile in, and one passing through', () => {
    const g = compileMeshGemm(meshFromPreset('wse-3', 6, 6), 6, 6, 6);
    // The shift phase: count, per core, the streams whose span covers it.
    const per = new Map<number, number>();
    for (const r of g.phases[1].rounds) {
      for (const st of r.streams) {
        const lo = Math.min(st.first, ...st.items.map((i) => i.end));
        const hi = Math.max(st.first, ...st.items.map((i) => i.end));
        for (let p = lo; p <= hi; p++) {
          const core = st.axis === 'row' ? st.line * 6 + p : p * 6 + st.line;
          per.set(core, (per.get(core) ?? 0) + 1);
        }
      }
    }
    expect(Math.max(...per.values())).toBe(6);
  });

  it('aligns row i of A by i and column j of B by j: every link of the alignment carries (P−1)… words as the rounds say', () => {
    const g = compileMeshGemm(meshFromPreset('wse-3', 4, 4), 8, 8, 8);
    expect([g.mt, g.kt, g.nt]).toEqual([2, 2, 2]);
    // Rows move 0, 1, 2, 3 steps by logical index: 6 row shifts of 4 tiles (of 4 words), the same for columns.
    expect(g.models[0].rampWords).toBe(2 * 6 * 4 * 4);
    expect(g.phases).toHaveLength(4);
    for (const m of g.models.slice(1)) expect(m.rampWords).toBe(2 * 4 * 4 * 4);
  });

  it('in cycles, Cannon on the interleaved ring beats SUMMA on a large mesh of small tiles (hops dominate) and loses on a small mesh of large tiles (its alignment costs a second pass)', () => {
    const t = { hop: 1, ramp: 8, bw: 1 };
    const large = meshFromPreset('wse-3', 64, 64);
    const cannon = meshGemmCycles(compileMeshGemm(large, 128, 128, 128), t, large.flopsPerCoreCycle);
    const summa = summaCycles(large, 128, 128, 128, t);
    expect(cannon.fabric).toBeLessThan(summa.fabric);
    const small = meshFromPreset('wse-3-big-sram', 4, 4);
    const c2 = meshGemmCycles(compileMeshGemm(small, 512, 512, 512), t, small.flopsPerCoreCycle);
    const s2 = summaCycles(small, 512, 512, 512, t);
    expect(s2.fabric).toBeLessThan(c2.fabric);
    // O(1) routes per core against one per source along its row and column.
    expect(cannon.routesPerCore).toBe(6);
    expect(summa.routesPerCore).toBe(128);
  });

  it('its closed form (no program compiled) equals the compiled phases\' cycles', () => {
    for (const t of [{ hop: 1, ramp: 8, bw: 1 }, { hop: 3, ramp: 2, bw: 2 }]) {
      for (const [w, h, M, K, N] of [[1, 1, 3, 4, 2], [2, 2, 5, 5, 5], [3, 3, 10, 4, 5], [4, 4, 8, 8, 8], [6, 7, 13, 11, 9], [9, 9, 40, 30, 20]]) {
        const mesh = meshFromPreset('wse-3', w, h);
        const g = compileMeshGemm(mesh, M, K, N);
        const c = meshGemmCycles(g, t, mesh.flopsPerCoreCycle);
        const closed = meshGemmClosed(g.P, M, K, N, t, mesh.flopsPerCoreCycle);
        expect(closed.fabric, `${w}x${h} ${M}x${K}x${N}`).toBeCloseTo(c.fabric, 9);
        expect(closed.compute).toBe(c.compute);
      }
    }
  });

  it('refuses tiles that do not fit a core, and bad sizes, in one line', () => {
    expect(() => compileMeshGemm(meshFromPreset('wse-3', 2, 2), 512, 512, 512)).toThrow(/^does-not-fit: a 512x512 by 512x512 product needs \d+ bytes of tiles per core on a 2x2 grid but a core has 49152; use a larger mesh or smaller matrices$/);
    expect(() => compileMeshGemm(meshFromPreset('wse-3', 2, 2), 0, 5, 5)).toThrow(/^bad-option: M = 0 must be a whole number ≥ 1$/);
  });
});

describe('MeshGEMM on the fabric', () => {
  afterAll(async () => (await testGpu()).destroy());

  it('multiplies on 4x4, 3x3, 1x1 and a non-square 6x7 (on its 6x6 block): C equals the CPU product; measured = modelled per phase; every core did its FLOPs; nothing outside a core or its neighbours', async () => {
    const rng = new Rng(11);
    for (const [w, h, M, K, N] of [[4, 4, 8, 8, 8], [3, 3, 10, 4, 5], [1, 1, 3, 4, 2], [6, 7, 13, 11, 9]] as const) {
      const a = Float32Array.from({ length: M * K }, () => rng.nextNormal());
      const b = Float32Array.from({ length: K * N }, () => rng.nextNormal());
      const g = compileMeshGemm(meshFromPreset('wse-3', w, h), M, K, N);
      const res = new GpuResources(await testGpu());
      try {
        const run = await runMeshGemm(res, g, a, b, { instrument: true });
        expect(run.violation, `${w}x${h}`).toBeNull();
        expect(run.outOfSlice).toBe(0);
        const want = matmul(a, b, M, K, N);
        for (let i = 0; i < want.length; i++) expect(run.c[i], `${w}x${h} C[${i}]`).toBeCloseTo(want[i], 4);
        run.phases.forEach((m, i) => expect(firstDifference(g.models[i], m), `${w}x${h} ${g.phases[i].name}`).toBeNull());
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) expect(run.flops[y * w + x], `${w}x${h} core (${y}, ${x})`).toBe(y < g.P && x < g.P ? g.P * 2 * g.mt * g.kt * g.nt : 0);
      } finally {
        res.dispose();
      }
    }
  }, 600_000);

  it('catches a word read two hops away and a dropped word', async () => {
    const rng = new Rng(2);
    const g = compileMeshGemm(meshFromPreset('wse-3', 4, 4), 8, 8, 8);
    const a = Float32Array.from({ length: 64 }, () => rng.nextNormal());
    const b = Float32Array.from({ length: 64 }, () => rng.nextNormal());
    for (const [fault, code] of [[1, 'link'], [2, 'word']] as const) {
      const res = new GpuResources(await testGpu());
      try {
        const run = await runMeshGemm(res, g, a, b, { instrument: true, fault });
        expect(run.violation?.code).toBe(code);
      } finally {
        res.dispose();
      }
    }
  }, 600_000);
});
