import { WafermeshError } from '../errors.ts';
import type { GpuResources } from '../gpu/resources.ts';
import type { FabricCount } from '../mesh/fabric.ts';
import type { MeshGemm } from '../mesh/programs/meshgemm.ts';
import { FabricRuntime, type FabricOptions } from './fabric-runtime.ts';
import type { FabricViolation } from './machine.ts';

export interface MeshGemmRun {
  /** The product, M × N (row-major). */
  readonly c: Float32Array;
  /** What each fabric phase moved, counted where it moved (the alignment, then each shift). */
  readonly phases: readonly FabricCount[];
  readonly violation: FabricViolation | null;
  /** FLOPs each core's tile products did (counted in the shader when instrumented; zeros otherwise). */
  readonly flops: Uint32Array;
  /** Accesses outside a core's slice in the tile products (instrumented). */
  readonly outOfSlice: number;
  /** GPU dispatches it took: the fabric's and the products'. */
  readonly dispatches: number;
}

/**
 * Runs MeshGEMM on the emulated mesh: the tiles of A (M × K) and B (K × N) are loaded into the
 * cores' SRAM at their logical places, the fabric aligns them, and P tile products alternate with
 * P − 1 shifts on the interleaved ring; C is read back from the cores' C tiles.
 */
export async function runMeshGemm(res: GpuResources, g: MeshGemm, a: Float32Array, b: Float32Array, options: FabricOptions = {}): Promise<MeshGemmRun> {
  const { mesh, P, M, K, N, mt, kt, nt, offsets, logical } = g;
  if (a.length !== M * K || b.length !== K * N) throw new WafermeshError('bad-option', `A must hold ${M}x${K} and B ${K}x${N} values, not ${a.length} and ${b.length}`);
  const W = mesh.width;
  const SRAM = mesh.sramBytes / 4;
  const image = new Float32Array(W * mesh.height * SRAM);
  // Core at physical (y, x) is logical (i, j) = (ℓ(y), ℓ(x)): it starts with A(i, j) and B(i, j).
  for (let y = 0; y < P; y++) {
    for (let x = 0; x < P; x++) {
      const i = logical[y];
      const j = logical[x];
      const at = (y * W + x) * SRAM;
      for (let r = 0; r < mt; r++) for (let k = 0; k < kt; k++) if (i * mt + r < M && j * kt + k < K) image[at + offsets.a + r * kt + k] = a[(i * mt + r) * K + j * kt + k];
      for (let k = 0; k < kt; k++) for (let c = 0; c < nt; c++) if (i * kt + k < K && j * nt + c < N) image[at + offsets.b + k * nt + c] = b[(i * kt + k) * N + j * nt + c];
    }
  }
  const made: GPUBuffer[] = [];
  const sram = res.storage('meshgemm:sram', image);
  made.push(sram);
  const counters = res.storage('meshgemm:counters', (1 + W * mesh.height) * 4);
  made.push(counters);
  const fabric = await FabricRuntime.create(res, sram, { width: W, height: mesh.height, sramWords: SRAM, regions: g.regionTable, regionCount: 3 }, g.phases, options);
  try {
    const dev = res.device;
    const pipeline = await res.pipeline('gemm_core', { W, SRAM, P, MT: mt, KT: kt, NT: nt, OA: offsets.a, OB: offsets.b, OC: offsets.c, INSTRUMENT: options.instrument ? 1 : 0 }, 'tile_product');
    const group = dev.createBindGroup({ label: 'meshgemm', layout: pipeline.getBindGroupLayout(0), entries: [sram, counters].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    fabric.clearCounters();
    fabric.takeDispatchCount();
    const enc = dev.createCommandEncoder({ label: 'MeshGEMM' });
    const pass = enc.beginComputePass({ label: 'MeshGEMM' });
    fabric.encodePhase(pass, 0);
    for (let s = 0; s < P; s++) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(Math.ceil((P * P) / 16));
      if (s < P - 1) fabric.encodePhase(pass, s + 1);
    }
    pass.end();
    fabric.submit(enc);
    await dev.queue.onSubmittedWorkDone();
    res.ctx.check();
    const dispatches = fabric.takeDispatchCount() + P;
    const { phases, violation } = await fabric.readCounters();
    const out = await res.readF32(sram);
    const count = new Uint32Array(await res.read(counters));
    const c = new Float32Array(M * N);
    for (let y = 0; y < P; y++) {
      for (let x = 0; x < P; x++) {
        const i = logical[y];
        const j = logical[x];
        const at = (y * W + x) * SRAM + offsets.c;
        for (let r = 0; r < mt && i * mt + r < M; r++) for (let q = 0; q < nt && j * nt + q < N; q++) c[(i * mt + r) * N + j * nt + q] = out[at + r * nt + q];
      }
    }
    return { c, phases, violation, flops: count.slice(1), outOfSlice: count[0], dispatches };
  } finally {
    fabric.dispose();
    for (const buf of made) res.destroyBuffer(buf);
  }
}
