import type { GpuContext } from '../gpu/device.ts';

/**
 * Counts the GPU buffers made on every device it watches and not yet destroyed, whoever made them
 * (an engine's GpuResources or anything else): `live` is created − destroyed. The worker watches
 * each device it takes, so a test can ask it whether closing sessions gave every buffer back.
 */
export class BufferCount {
  private readonly alive = new Set<GPUBuffer>();
  /** Buffers created on watched devices so far. */
  created = 0;

  get live(): number {
    return this.alive.size;
  }

  /** Wraps `ctx.device.createBuffer` so every buffer it makes is counted until destroyed. */
  watch(ctx: GpuContext): GpuContext {
    this.watchDevice(ctx.device);
    return ctx;
  }

  /** Counts every buffer `device` makes from now on until it is destroyed; the function returned puts createBuffer back. */
  watchDevice(device: GPUDevice): () => void {
    const original = device.createBuffer;
    const alive = this.alive;
    const count = () => this.created++;
    device.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor): GPUBuffer {
      const b = original.call(this, descriptor);
      count();
      alive.add(b);
      const destroy = b.destroy;
      b.destroy = function (this: GPUBuffer) {
        alive.delete(b);
        return destroy.call(this);
      };
      return b;
    };
    return () => {
      device.createBuffer = original;
    };
  }

  /** A device source whose devices are all watched. */
  counted(gpu: () => Promise<GpuContext>): () => Promise<GpuContext> {
    return async () => this.watch(await gpu());
  }
}
