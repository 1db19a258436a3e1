import { WafermeshError } from '../errors.ts';
import type { GpuContext } from './device.ts';
import { compileShader, type ShaderName } from './shaders.ts';

/**
 * Maps a readback buffer; if mapping fails (device lost, or disposed while in flight) the error
 * says why in one line instead of an empty AbortError.
 */
export async function mapOrExplain(ctx: GpuContext, staging: GPUBuffer, what: string): Promise<void> {
  try {
    await staging.mapAsync(GPUMapMode.READ);
  } catch (e) {
    // A lost device rejects the map before its lost promise settles: give the handler a moment
    // to say why, so the error names the loss rather than an empty AbortError.
    await Promise.race([ctx.whenLost, new Promise((r) => setTimeout(r, 1000))]);
    ctx.check();
    throw new WafermeshError('gpu-readback', `reading "${what}" back from the GPU failed (${(e as Error).name}: ${(e as Error).message || 'no detail'}); the device was lost or the engine disposed mid-read`);
  }
}

/**
 * The one owner of an engine's GPU objects: it creates and labels buffers, caches pipelines, and
 * destroys everything in dispose(). `liveBuffers` lets a test prove nothing leaks.
 */
export class GpuResources {
  /** Owners not yet disposed, in this process: a test proves every engine it closed let go of its own. */
  static readonly open = new Set<GpuResources>();
  readonly ctx: GpuContext;
  private readonly buffers = new Set<GPUBuffer>();
  private readonly modules = new Map<string, Promise<GPUShaderModule>>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private disposed = false;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    GpuResources.open.add(this);
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  get liveBuffers(): number {
    return this.buffers.size;
  }

  /** Shader modules and pipelines cached now (0 once disposed: the cache is dropped with the engine). */
  get cachedPipelines(): number {
    return this.pipelines.size + this.modules.size;
  }

  /** A storage buffer of `size` bytes (rounded up to 4), optionally filled with `data`. */
  buffer(label: string, size: number, usage: GPUBufferUsageFlags, data?: ArrayBufferView): GPUBuffer {
    if (this.disposed) throw new WafermeshError('disposed', `cannot create buffer "${label}": its engine was disposed`);
    const bytes = Math.max(4, Math.ceil(size / 4) * 4);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new WafermeshError(
        'buffer-too-large',
        `buffer "${label}" needs ${bytes} bytes but this adapter allows ${this.device.limits.maxBufferSize}; use a smaller model or mesh`,
      );
    }
    const b = this.device.createBuffer({ label, size: bytes, usage, mappedAtCreation: data !== undefined });
    if (data) {
      new Uint8Array(b.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      b.unmap();
    }
    this.buffers.add(b);
    return b;
  }

  storage(label: string, data: ArrayBufferView | number, extraUsage: GPUBufferUsageFlags = 0): GPUBuffer {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage;
    return typeof data === 'number' ? this.buffer(label, data, usage) : this.buffer(label, data.byteLength, usage, data);
  }

  uniform(label: string, size: number): GPUBuffer {
    return this.buffer(label, size, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  destroyBuffer(b: GPUBuffer): void {
    if (this.buffers.delete(b)) b.destroy();
  }

  /**
   * A compute pipeline for a kernel with its override constants (and a generated WGSL prelude, see
   * compileShader); cached by (kernel, prelude, entry, layout, constants).
   */
  pipeline(
    name: ShaderName,
    constants: Record<string, number> = {},
    entryPoint = 'main',
    layout: GPUPipelineLayout | 'auto' = 'auto',
    prelude = '',
  ): Promise<GPUComputePipeline> {
    const layoutKey = layout === 'auto' ? 'auto' : layout.label;
    const moduleKey = `${name}\n${prelude}`;
    const key = `${moduleKey}:${entryPoint}:${layoutKey}:${JSON.stringify(Object.entries(constants).sort())}`;
    let p = this.pipelines.get(key);
    if (!p) {
      let m = this.modules.get(moduleKey);
      if (!m) {
        m = compileShader(this.device, name, undefined, prelude);
        this.modules.set(moduleKey, m);
      }
      p = m.then((module) =>
        this.device.createComputePipelineAsync({
          label: `${name}${entryPoint === 'main' ? '' : `.${entryPoint}`}`,
          layout,
          compute: { module, entryPoint, constants },
        }),
      );
      this.pipelines.set(key, p);
    }
    return p;
  }

  bindGroup(label: string, pipeline: GPUComputePipeline, buffers: GPUBuffer[], group = 0): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(group),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /**
   * Copies `size` bytes at `offset` of `src` out to the CPU: one staging buffer per read in
   * flight, the data copied out before unmap, then the staging buffer destroyed.
   */
  async read(src: GPUBuffer, offset = 0, size = src.size - offset): Promise<ArrayBuffer> {
    if (offset % 4 !== 0 || size % 4 !== 0 || size <= 0 || offset + size > src.size) {
      throw new WafermeshError('bad-readback', `cannot read ${size} bytes at ${offset} of "${src.label}" (${src.size} bytes): ranges are whole 4-byte words inside the buffer`);
    }
    const staging = this.buffer(`${src.label}:readback`, size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      const enc = this.device.createCommandEncoder({ label: `${src.label}:readback` });
      enc.copyBufferToBuffer(src, offset, staging, 0, size);
      this.device.queue.submit([enc.finish()]);
      await mapOrExplain(this.ctx, staging, src.label);
      const out = staging.getMappedRange(0, size).slice(0);
      staging.unmap();
      this.ctx.check();
      return out;
    } finally {
      this.destroyBuffer(staging);
    }
  }

  async readF32(src: GPUBuffer, offset = 0, count = (src.size - offset) / 4): Promise<Float32Array> {
    return new Float32Array(await this.read(src, offset, count * 4));
  }

  dispose(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers.clear();
    this.pipelines.clear();
    this.modules.clear();
    this.disposed = true;
    GpuResources.open.delete(this);
  }
}
