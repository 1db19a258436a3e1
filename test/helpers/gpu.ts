import { nodeGpu } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { BufferCount } from '../../src/worker/buffer-count.ts';

let shared: Promise<GpuContext> | undefined;

/**
 * The test file's GPU device on the software driver. There is no skip: if no adapter can be had
 * the test fails with the one-line reason (which drivers were tried and how to install one).
 */
export function testGpu(): Promise<GpuContext> {
  shared ??= nodeGpu();
  return shared;
}

/**
 * Counts the GPU buffers made on `device` from now on that are not yet destroyed, whoever made
 * them (an engine's GpuResources or anything else): `live()` is created − destroyed. `stop()`
 * puts createBuffer back.
 */
export function trackBuffers(device: GPUDevice): { live: () => number; created: () => number; stop: () => void } {
  const count = new BufferCount();
  const stop = count.watchDevice(device);
  return { live: () => count.live, created: () => count.created, stop };
}
