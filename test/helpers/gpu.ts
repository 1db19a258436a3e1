import { nodeGpu } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/device.ts';

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
  const original = device.createBuffer;
  const alive = new Set<GPUBuffer>();
  let created = 0;
  device.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor): GPUBuffer {
    const b = original.call(this, descriptor);
    created++;
    alive.add(b);
    const destroy = b.destroy;
    b.destroy = function (this: GPUBuffer) {
      alive.delete(b);
      return destroy.call(this);
    };
    return b;
  };
  return {
    live: () => alive.size,
    created: () => created,
    stop: () => {
      device.createBuffer = original;
    },
  };
}
