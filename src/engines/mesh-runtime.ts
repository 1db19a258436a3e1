import { WafermeshError } from '../errors.ts';
import { mapOrExplain, type GpuResources } from '../gpu/resources.ts';
import { buildImage, meshPrelude } from '../mesh/image.ts';
import { MESH_LIMITS } from '../mesh/config.ts';
import { split } from '../mesh/placement.ts';
import type { WaferProgram } from '../mesh/program.ts';
import { kvDim } from '../model/config.ts';
import type { Model } from '../model/weights.ts';

export interface MeshRuntimeOptions {
  /** Count every SRAM access, remote read and FLOP on the GPU (slower; for tests). */
  instrument?: boolean;
}

/** The wafer on the GPU: SRAM, configuration and one pipeline per kind of pass. */
export class MeshRuntime {
  readonly program: WaferProgram;
  readonly instrumented: boolean;
  readonly countersLength: number;
  readonly ncc: number;
  private readonly res: GpuResources;
  private sram!: GPUBuffer;
  private counters!: GPUBuffer;
  private stepBuffers: GPUBuffer[] = [];
  private group0!: GPUBindGroup;
  private stepGroups: GPUBindGroup[] = [];
  private pipelines = new Map<string, GPUComputePipeline>();
  /**
   * Cores per workgroup: CPU drivers (lavapipe, SwiftShader) run each workgroup on one thread, so
   * small meshes use small groups to keep several threads busy; large meshes use 64.
   */
  private get workgroup(): number {
    const n = this.program.mesh.width * this.program.mesh.height;
    return n >= 1024 ? 64 : n >= 256 ? 32 : n >= 64 ? 16 : 4;
  }
  private readonly logitsReads: { core: number; offset: number; lo: number; n: number }[] = [];

  private constructor(res: GpuResources, program: WaferProgram, instrument: boolean) {
    this.res = res;
    this.program = program;
    this.instrumented = instrument;
    const nCores = program.mesh.width * program.mesh.height;
    this.ncc = instrument ? Math.min(nCores, 256) : 1;
    this.countersLength = 1 + this.ncc + this.ncc * this.ncc;
  }

  static async create(res: GpuResources, program: WaferProgram, model: Model, options: MeshRuntimeOptions = {}): Promise<MeshRuntime> {
    const rt = new MeshRuntime(res, program, options.instrument ?? false);
    await rt.init(model);
    return rt;
  }

  private async init(model: Model): Promise<void> {
    const { mesh } = this.program;
    const m = model.config;
    const dev = this.res.device;
    const image = buildImage(this.program, model);
    const sramBytes = image.sram.byteLength;
    if (sramBytes > dev.limits.maxStorageBufferBindingSize) {
      throw new WafermeshError(
        'mesh-too-large',
        `the ${mesh.width}x${mesh.height} mesh needs ${sramBytes} bytes of emulated SRAM but this adapter binds at most ${dev.limits.maxStorageBufferBindingSize}; use fewer cores or less SRAM per core`,
      );
    }
    this.sram = this.res.storage('mesh:sram', image.sram);
    const table = this.res.storage('mesh:table', image.table);
    const idx = this.res.storage('mesh:idx', image.idx);
    this.counters = this.res.storage('mesh:counters', this.countersLength * 4);
    const storage = (type: GPUBufferBindingType): GPUBindGroupLayoutEntry['buffer'] => ({ type });
    const g0 = dev.createBindGroupLayout({
      label: 'mesh_step:group0',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: storage('storage') },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: storage('read-only-storage') },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: storage('read-only-storage') },
        { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: storage('storage') },
      ],
    });
    const g1 = dev.createBindGroupLayout({
      label: 'mesh_step:group1',
      entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } }],
    });
    const layout = dev.createPipelineLayout({ label: 'mesh_step', bindGroupLayouts: [g0, g1] });
    this.group0 = dev.createBindGroup({
      label: 'mesh_step:group0',
      layout: g0,
      entries: [this.sram, table, idx, this.counters].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    // One small uniform per layer (and one for the passes outside layers): {pos, token, layer}.
    for (let l = 0; l <= m.nLayers; l++) {
      const b = this.res.uniform(`mesh:step L${l}`, 16);
      this.stepBuffers.push(b);
      this.stepGroups.push(dev.createBindGroup({ label: `mesh_step:L${l}`, layout: g1, entries: [{ binding: 0, resource: { buffer: b } }] }));
    }
    const constants = {
      W: mesh.width,
      H: mesh.height,
      SRAM: mesh.sramBytes / 4,
      DIM: m.dim,
      KVD: kvDim(m),
      HID: m.hiddenDim,
      VOCAB: m.vocabSize,
      NH: m.nHeads,
      KVMUL: m.nHeads / m.nKvHeads,
      HS: m.dim / m.nHeads,
      NL: m.nLayers,
      TREE: this.program.allreduce === 'tree' ? 1 : 0,
      INSTRUMENT: this.instrumented ? 1 : 0,
      NCC: this.ncc,
      WG: this.workgroup,
    };
    const entries = [...new Set(this.program.passes.map((p) => p.entry))];
    const prelude = meshPrelude(image.ownerOffsets, MESH_LIMITS.maxSide);
    const made = await Promise.all(entries.map((e) => this.res.pipeline('mesh_step', constants, e, layout, prelude)));
    entries.forEach((e, i) => this.pipelines.set(e, made[i]));
    // Logits: row r's slice is read from core (r, 0).
    for (let r = 0; r < mesh.height; r++) {
      const core = r * mesh.width;
      const cp = this.program.placement.cores[core];
      const reg = cp.regions.find((x) => x.name === 'logits')!;
      const [lo, hi] = split(m.vocabSize, mesh.height, r);
      this.logitsReads.push({ core, offset: (core * (mesh.sramBytes / 4) + reg.offset) * 4, lo, n: hi - lo });
    }
    this.res.ctx.check();
  }

  /** Runs every pass of the program for `token` at `pos`; returns the logits (vocab,). */
  async step(token: number, pos: number): Promise<Float32Array> {
    const enc = this.encodePasses(token, pos, 0, this.program.passes.length);
    return this.finishWithLogits(enc);
  }

  /**
   * Runs passes [from, to) only (one phase-group at a time, for the UI and the isolation tests);
   * returns the logits when `to` is the end of the program.
   */
  async stepPasses(token: number, pos: number, from: number, to: number): Promise<Float32Array | undefined> {
    const enc = this.encodePasses(token, pos, from, to);
    if (to === this.program.passes.length) return this.finishWithLogits(enc);
    this.res.device.queue.submit([enc.finish()]);
    await this.res.device.queue.onSubmittedWorkDone();
    this.res.ctx.check();
    return undefined;
  }

  private encodePasses(token: number, pos: number, from: number, to: number): GPUCommandEncoder {
    const m = this.program.model;
    const dev = this.res.device;
    for (let l = 0; l <= m.nLayers; l++) dev.queue.writeBuffer(this.stepBuffers[l], 0, Uint32Array.of(pos, token, l, 0));
    const enc = dev.createCommandEncoder({ label: `mesh token ${pos}` });
    const groups = Math.ceil((this.program.mesh.width * this.program.mesh.height) / this.workgroup);
    // All passes in one compute pass: each dispatch is a barrier for the next (WebGPU orders
    // storage writes between dispatches), which is exactly the wafer's phase boundary.
    const cp = enc.beginComputePass({ label: 'mesh_step' });
    cp.setBindGroup(0, this.group0);
    for (const p of this.program.passes.slice(from, to)) {
      cp.setPipeline(this.pipelines.get(p.entry)!);
      cp.setBindGroup(1, this.stepGroups[p.layer ?? m.nLayers]);
      cp.dispatchWorkgroups(groups);
    }
    cp.end();
    return enc;
  }

  private async finishWithLogits(enc: GPUCommandEncoder): Promise<Float32Array> {
    const m = this.program.model;
    const dev = this.res.device;
    // Copy each row's logits out of the SRAM of core (r, 0).
    const bytes = m.vocabSize * 4;
    const staging = this.res.buffer('mesh:logits readback', bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    for (const r of this.logitsReads) if (r.n > 0) enc.copyBufferToBuffer(this.sram, r.offset, staging, r.lo * 4, r.n * 4);
    dev.queue.submit([enc.finish()]);
    try {
      await mapOrExplain(this.res.ctx, staging, 'mesh logits');
      const out = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      this.res.ctx.check();
      return out;
    } finally {
      this.res.destroyBuffer(staging);
    }
  }

  /**
   * A new sequence needs nothing cleared: a position's KV-cache slot and every scratch region are
   * written before they are read, so the old sequence's values are never seen.
   */
  reset(): void {}

  /** Instrumented counters: out-of-slice accesses, FLOPs per core, remote reads [dst][src]. */
  async readCounters(): Promise<{ violations: number; flops: Uint32Array; reads: Uint32Array; ncc: number }> {
    const all = new Uint32Array(await this.res.read(this.counters));
    return { violations: all[0], flops: all.slice(1, 1 + this.ncc), reads: all.slice(1 + this.ncc), ncc: this.ncc };
  }

  async clearCounters(): Promise<void> {
    this.res.device.queue.writeBuffer(this.counters, 0, new Uint32Array(this.countersLength));
  }
}
