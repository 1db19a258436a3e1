import type { GpuResources } from './resources.ts';

/** Dispatches `matvec`: W (d, n) @ x (n,) -> out (d,) in one pass, recorded into `pass`. */
export async function encodeMatvec(
  res: GpuResources,
  pass: GPUComputePassEncoder,
  w: GPUBuffer,
  x: GPUBuffer,
  out: GPUBuffer,
  n: number,
  d: number,
): Promise<void> {
  const WG = 64;
  const pipeline = await res.pipeline('matvec', { N: n, D: d, WG });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, res.bindGroup(`matvec ${d}x${n}`, pipeline, [w, x, out]));
  pass.dispatchWorkgroups(Math.ceil(d / WG));
}

/** One-shot matvec on the GPU: uploads, runs, reads back. For tests (test/gpu/matvec.test.ts). */
export async function gpuMatvec(res: GpuResources, w: Float32Array, x: Float32Array, n: number, d: number): Promise<Float32Array> {
  const wb = res.storage('matvec:w', w);
  const xb = res.storage('matvec:x', x);
  const ob = res.storage('matvec:out', d * 4);
  try {
    const enc = res.device.createCommandEncoder({ label: 'matvec' });
    const pass = enc.beginComputePass({ label: 'matvec' });
    await encodeMatvec(res, pass, wb, xb, ob, n, d);
    pass.end();
    res.device.queue.submit([enc.finish()]);
    return await res.readF32(ob, 0, d);
  } finally {
    for (const b of [wb, xb, ob]) res.destroyBuffer(b);
  }
}
