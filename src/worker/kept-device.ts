import type { GpuContext } from '../gpu/device.ts';

/**
 * One GPU device for every session the worker opens, kept between them: a session's engines
 * destroy their own buffers and drop their pipeline caches when it closes, and the next session's
 * pipelines are compiled on a device that has seen them (opening again is quick). A device that
 * was lost is never handed out again: the next call takes a new one. A failed attempt (no
 * WebGPU) is tried again on the next call.
 */
export function keptDevice(take: () => Promise<GpuContext>): () => Promise<GpuContext> {
  let kept: Promise<GpuContext> | undefined;
  return async () => {
    const ctx = kept && (await kept.catch(() => undefined));
    if (ctx && !ctx.lostMessage) return ctx;
    kept = take();
    return kept;
  };
}
