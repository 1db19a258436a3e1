import { WafermeshError } from '../errors.ts';
import { mapOrExplain, type GpuResources } from '../gpu/resources.ts';
import { buildImage, meshPrelude } from '../mesh/image.ts';
import type { FabricDecode, FabricDecodeStep } from '../mesh/programs/decode-fabric.ts';
import { prefillBase } from '../mesh/programs/prefill-fabric.ts';
import { coreTableWords, FabricRuntime, planBands, roundCount, type Band } from './fabric-runtime.ts';
import { CT } from '../mesh/image.ts';
import { bandLimit } from '../mesh/capacity.ts';
import { owners } from '../mesh/placement.ts';
import { MESH_LIMITS } from '../mesh/config.ts';
import { split, STATS_LAYOUT } from '../mesh/placement.ts';
import type { WaferProgram } from '../mesh/program.ts';
import type { Model } from '../model/weights.ts';
import { landingValues, type KvHandoff } from '../mesh/programs/handoff.ts';
import type { KvCache } from '../model/kv.ts';
import type { FabricCount, FabricPhase } from '../mesh/fabric.ts';
import type { FabricViolation } from './machine.ts';
import { kvDim } from '../model/config.ts';

export interface MeshRuntimeOptions {
  /** Count every out-of-slice SRAM access and FLOP of the compute passes, and check every fabric access (slower; for tests). */
  instrument?: boolean;
  /**
   * Split the mesh's SRAM into at least this many buffers (bands of rows), as a mesh too large for
   * one binding is: tests force it on small meshes.
   */
  shards?: number;
  /** See FabricOptions.wholeMesh. */
  wholeMesh?: number;
}

/** Bytes per core in a band's largest buffer: its SRAM, its core table, the fabric's routes and link counters. */
export function bandBytesPerCore(sramBytes: number, regionCount: number, rounds: number, phases: number): number {
  return Math.max(sramBytes, CT * 4, coreTableWords(regionCount, rounds) * 4, phases * 16);
}

/**
 * The wafer on the GPU: SRAM, the core tables, one pipeline per compute pass of
 * shaders/mesh_core.wgsl (a core touches only its own SRAM) and the fabric under the cores
 * (FabricRuntime: every transfer moves neighbour to neighbour).
 */
export class MeshRuntime {
  readonly program: WaferProgram;
  readonly instrumented: boolean;
  readonly countersLength: number;
  private readonly res: GpuResources;
  /** The SRAM, one buffer per band of rows. */
  private srams: GPUBuffer[] = [];
  /** The mesh's shards (bands of rows). */
  bands: readonly Band[] = [];
  private counters!: GPUBuffer;
  private stepBuffers: GPUBuffer[] = [];
  private groups0: GPUBindGroup[] = [];
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
  private readonly logitsReads: { buffer: GPUBuffer; offset: number; lo: number; n: number }[] = [];
  /** The mesh row holding each token's embedding row. */
  private tokenRows: Uint32Array = new Uint32Array(0);

  /** The decode it runs: compute passes and fabric phases, in order. */
  readonly decode: FabricDecode;
  /** The fabric under the cores. */
  fabric!: FabricRuntime;

  private readonly shards: number;
  private wholeMesh: number | undefined;

  private constructor(res: GpuResources, decode: FabricDecode, instrument: boolean, shards: number) {
    this.res = res;
    this.program = decode.program;
    this.instrumented = instrument;
    this.shards = shards;
    this.decode = decode;
    // Counters: out-of-slice accesses, then FLOPs per core.
    this.countersLength = 1 + this.program.mesh.width * this.program.mesh.height;
  }

  static async create(res: GpuResources, decode: FabricDecode, model: Model, options: MeshRuntimeOptions = {}): Promise<MeshRuntime> {
    const rt = new MeshRuntime(res, decode, options.instrument ?? false, options.shards ?? 1);
    rt.wholeMesh = options.wholeMesh;
    await rt.init(model);
    return rt;
  }

  /** The steps of one token: the decode's compute passes and fabric phases. */
  get steps(): readonly FabricDecodeStep[] {
    return this.decode.steps;
  }

  private async init(model: Model): Promise<void> {
    const { mesh } = this.program;
    const m = model.config;
    const dev = this.res.device;
    // Checked before the image is built: the SRAM is split into bands of rows, each within one binding.
    const d = this.decode;
    this.bands = planBands(mesh.width, mesh.height, bandBytesPerCore(mesh.sramBytes, d.regions.length, roundCount(d.phases), d.phases.length), bandLimit(dev.limits), this.shards);
    const image = buildImage(this.program, model);
    const limit = bandLimit(dev.limits);
    if (image.idx.byteLength > limit || this.countersLength * 4 > limit) {
      throw new WafermeshError('mesh-too-large', `the ${mesh.width}x${mesh.height} mesh's index lists and counters need ${Math.max(image.idx.byteLength, this.countersLength * 4)} bytes in one buffer but this adapter binds at most ${limit}; use a smaller mesh`);
    }
    const SRAM = mesh.sramBytes / 4;
    const tables: GPUBuffer[] = [];
    this.bands.forEach((b, i) => {
      this.srams.push(this.res.storage(`mesh:sram band ${i}`, image.sram.subarray(b.core0 * SRAM, (b.core0 + b.cores) * SRAM)));
      tables.push(this.res.storage(`mesh:table band ${i}`, image.table.subarray(b.core0 * CT, (b.core0 + b.cores) * CT)));
    });
    const idx = this.res.storage('mesh:idx', image.idx);
    this.counters = this.res.storage('mesh:counters', this.countersLength * 4);
    const storage = (type: GPUBufferBindingType): GPUBindGroupLayoutEntry['buffer'] => ({ type });
    const g0 = dev.createBindGroupLayout({
      label: 'mesh_core:group0',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: storage('storage') },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: storage('read-only-storage') },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: storage('read-only-storage') },
        { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: storage('storage') },
        { binding: 4, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      ],
    });
    const g1 = dev.createBindGroupLayout({
      label: 'mesh_core:group1',
      entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } }],
    });
    const layout = dev.createPipelineLayout({ label: 'mesh_core', bindGroupLayouts: [g0, g1] });
    this.bands.forEach((b, i) => {
      const band = this.res.uniform(`mesh:band ${i}`, 16);
      dev.queue.writeBuffer(band, 0, Uint32Array.of(b.core0, b.cores, 0, 0));
      this.groups0.push(
        dev.createBindGroup({
          label: `mesh_core:group0 band ${i}`,
          layout: g0,
          entries: [this.srams[i], tables[i], idx, this.counters, band].map((buffer, binding) => ({ binding, resource: { buffer } })),
        }),
      );
    });
    // One small uniform per layer (and one for the passes outside layers): {pos, token, layer}.
    for (let l = 0; l <= m.nLayers; l++) {
      const b = this.res.uniform(`mesh:step L${l}`, 16);
      this.stepBuffers.push(b);
      this.stepGroups.push(dev.createBindGroup({ label: `mesh_core:L${l}`, layout: g1, entries: [{ binding: 0, resource: { buffer: b } }] }));
    }
    const constants = { W: mesh.width, H: mesh.height, SRAM: mesh.sramBytes / 4, DIM: m.dim, NH: m.nHeads, HS: m.dim / m.nHeads, NL: m.nLayers, INSTRUMENT: this.instrumented ? 1 : 0, WG: this.workgroup };
    const entries = [...new Set(this.steps.flatMap((s) => (s.kind === 'compute' ? [s.entry] : [])))];
    const prelude = meshPrelude(image.ownerOffsets, MESH_LIMITS.maxSide);
    const made = await Promise.all(entries.map((e) => this.res.pipeline('mesh_core', constants, e, layout, prelude)));
    entries.forEach((e, i) => this.pipelines.set(e, made[i]));
    this.tokenRows = owners(m, mesh).row.vocab;
    this.fabric = await FabricRuntime.create(this.res, this.srams, { width: mesh.width, height: mesh.height, sramWords: SRAM, regions: d.regionTable, regionCount: d.regions.length, bands: this.bands }, d.phases, { instrument: this.instrumented, ...(this.wholeMesh !== undefined ? { wholeMesh: this.wholeMesh } : {}) });
    // Logits: row r's slice is read from core (r, 0) of the block holding the head (the whole
    // mesh, or a layer-pipelined placement's last block).
    const pipe = this.program.pipeline;
    const head = pipe ? { ...pipe.blocks[pipe.blocks.length - 1], height: pipe.height } : { x: 0, y: 0, height: mesh.height };
    for (let r = 0; r < head.height; r++) {
      const core = (head.y + r) * mesh.width + head.x;
      const cp = this.program.placement.cores[core];
      const reg = cp.regions.find((x) => x.name === 'logits')!;
      const [lo, hi] = split(m.vocabSize, head.height, r);
      this.logitsReads.push({ ...this.wordAt(core, reg.offset), lo, n: hi - lo });
    }
    this.res.ctx.check();
  }

  /** Runs every pass of the program for `token` at `pos`; returns the logits (vocab,). */
  async step(token: number, pos: number): Promise<Float32Array> {
    const enc = this.encodePasses(token, pos, 0, this.steps.length);
    return this.finishWithLogits(enc);
  }

  /**
   * Runs steps [from, to) only (a compute pass or a fabric phase at a time, for the demo's
   * stepping); returns the logits when `to` is the end of the token.
   */
  async stepPasses(token: number, pos: number, from: number, to: number): Promise<Float32Array | undefined> {
    const enc = this.encodePasses(token, pos, from, to);
    if (to === this.steps.length) return this.finishWithLogits(enc);
    this.submit(enc);
    await this.res.device.queue.onSubmittedWorkDone();
    this.res.ctx.check();
    return undefined;
  }

  /**
   * Greedy decoding on the fabric: runs every pass for the token at `pos` — the host's `token` when
   * `fed`, else the id the wafer found for the token before — and reads back only the id the wafer
   * found now (one word of core 0's SRAM), or -1 when a logit was not finite.
   */
  async stepGreedy(token: number, pos: number, fed: boolean): Promise<number> {
    const enc = this.encodePasses(token, pos, 0, this.steps.length, !fed);
    const staging = this.res.buffer('mesh:id readback', 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const stats = this.program.placement.cores[0].regions.find((x) => x.name === 'stats')!;
    const pick = this.wordAt(0, stats.offset + STATS_LAYOUT.pickAll);
    enc.copyBufferToBuffer(pick.buffer, pick.offset, staging, 0, 4);
    this.submit(enc);
    try {
      await mapOrExplain(this.res.ctx, staging, 'mesh next id');
      const pick = new Float32Array(staging.getMappedRange().slice(0))[0];
      staging.unmap();
      this.res.ctx.check();
      // The column's max-reduce of −(index of the maximum) (+1 where a logit was not finite).
      if (pick > 0) return -1;
      const id = -pick;
      if (!Number.isInteger(id) || id >= this.program.model.vocabSize) {
        throw new WafermeshError('internal', `the wafer's max-reduce found no maximum at position ${pos} (it read ${pick}); this is a bug in the fabric decode`);
      }
      return id;
    } finally {
      this.res.destroyBuffer(staging);
    }
  }

  private encodePasses(token: number, pos: number, from: number, to: number, waferId = false): GPUCommandEncoder {
    const m = this.program.model;
    const dev = this.res.device;
    for (let l = 0; l <= m.nLayers; l++) dev.queue.writeBuffer(this.stepBuffers[l], 0, Uint32Array.of(pos, token, l, waferId ? 1 : 0));
    const enc = dev.createCommandEncoder({ label: `mesh token ${pos}` });
    // All passes in one compute pass: each dispatch is a barrier for the next (WebGPU orders
    // storage writes between dispatches), which is exactly the wafer's phase boundary.
    this.fabric.setToken(token, pos, this.tokenRows[token]);
    const cp = enc.beginComputePass({ label: 'mesh_core + fabric' });
    for (const s of this.steps.slice(from, to)) {
      if (s.kind === 'fabric') {
        this.fabric.encodePhase(cp, s.phase);
        continue;
      }
      cp.setPipeline(this.pipelines.get(s.entry)!);
      cp.setBindGroup(1, this.stepGroups[s.layer ?? m.nLayers]);
      this.bands.forEach((b, i) => {
        cp.setBindGroup(0, this.groups0[i]);
        cp.dispatchWorkgroups(Math.ceil(b.cores / this.workgroup));
      });
    }
    cp.end();
    return enc;
  }

  private submit(enc: GPUCommandEncoder): void {
    this.fabric.submit(enc);
  }

  private async finishWithLogits(enc: GPUCommandEncoder): Promise<Float32Array> {
    const m = this.program.model;
    // Copy each row's logits out of the SRAM of core (r, 0).
    const bytes = m.vocabSize * 4;
    const staging = this.res.buffer('mesh:logits readback', bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    for (const r of this.logitsReads) if (r.n > 0) enc.copyBufferToBuffer(r.buffer, r.offset, staging, r.lo * 4, r.n * 4);
    this.submit(enc);
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
   * Hands a KV cache to the wafer: for each hand-off phase the host's I/O lands the words on the
   * edge cores (row, 0) — the only words written from outside — and the fabric carries them to the
   * cores that keep them. Returns what the fabric counted per phase (and the first violation, when
   * instrumented). The hand-off's fabric is made for it and freed after.
   */
  async importKv(h: KvHandoff, kv: KvCache): Promise<{ phases: FabricCount[]; violation: FabricViolation | null }> {
    const { mesh, model: m } = this.program;
    const SRAM = mesh.sramBytes / 4;
    const dev = this.res.device;
    const fabric = await this.handoffFabric(h);
    try {
      fabric.clearCounters();
      for (const [i, p] of h.phases.entries()) {
        // The edge I/O, then the phase: the queue runs them in this order.
        for (const l of p.landings) {
          const at = this.wordAt(l.core, l.offset);
          dev.queue.writeBuffer(at.buffer, at.offset, landingValues(l, kv, m.nLayers, kvDim(m)));
        }
        const enc = dev.createCommandEncoder({ label: `KV hand-off ${i}` });
        const pass = enc.beginComputePass({ label: p.phase.name });
        fabric.encodePhase(pass, i);
        pass.end();
        fabric.submit(enc);
      }
      await dev.queue.onSubmittedWorkDone();
      this.res.ctx.check();
      return await fabric.readCounters();
    } finally {
      fabric.dispose();
    }
  }

  /** Word `word` of core `core`'s SRAM: the buffer of the band holding it and the byte offset there. */
  private wordAt(core: number, word: number): { buffer: GPUBuffer; offset: number } {
    const i = this.bands.findIndex((b) => core >= b.core0 && core < b.core0 + b.cores);
    return { buffer: this.srams[i], offset: ((core - this.bands[i].core0) * (this.program.mesh.sramBytes / 4) + word) * 4 };
  }

  /** A fabric for a hand-off's phases over this mesh's SRAM (made for it; the caller disposes of it). */
  private handoffFabric(h: KvHandoff): Promise<FabricRuntime> {
    const { mesh } = this.program;
    return FabricRuntime.create(
      this.res,
      this.srams,
      { width: mesh.width, height: mesh.height, sramWords: mesh.sramBytes / 4, regions: h.regionTable, regionCount: h.regions.length, bands: this.bands },
      h.phases.map((p) => p.phase),
      { instrument: this.instrumented },
    );
  }

  /**
   * Hands the wafer's KV cache out (`h` compiled with `out`): each phase moves a slot's words west
   * to the edge cores, and the host's I/O reads them there — the only words read from outside.
   */
  async exportKv(h: KvHandoff, positions: number): Promise<{ kv: KvCache; phases: FabricCount[]; violation: FabricViolation | null }> {
    const { mesh, model: m } = this.program;
    const SRAM = mesh.sramBytes / 4;
    const dev = this.res.device;
    const kvd = kvDim(m);
    const plane = m.nLayers * positions * kvd;
    const k = new Float32Array(plane);
    const v = new Float32Array(plane);
    const fabric = await this.handoffFabric(h);
    try {
      fabric.clearCounters();
      for (const [i, p] of h.phases.entries()) {
        const enc = dev.createCommandEncoder({ label: `KV hand-off out ${i}` });
        const pass = enc.beginComputePass({ label: p.phase.name });
        fabric.encodePhase(pass, i);
        pass.end();
        fabric.submit(enc);
        for (const l of p.landings) {
          const at = this.wordAt(l.core, l.offset);
          const got = await this.res.readF32(at.buffer, at.offset, l.sources.length);
          l.sources.forEach((src, j) => (src < plane ? (k[src] = got[j]) : (v[src - plane] = got[j])));
        }
      }
      this.res.ctx.check();
      const { phases, violation } = await fabric.readCounters();
      return { kv: { positions, k, v }, phases, violation };
    } finally {
      fabric.dispose();
    }
  }

  /**
   * The words every core's decode uses from word 0 (its regions, the most over the cores): another
   * program may use a core's SRAM past them (the wafer prefill).
   */
  get decodeWords(): number {
    return prefillBase(this.program);
  }

  /** The mesh's SRAM as one buffer (cores, SRAM words) f32, or undefined where it is split into bands. */
  get sramBuffer(): GPUBuffer | undefined {
    return this.srams.length === 1 ? this.srams[0] : undefined;
  }

  /**
   * Runs fabric phases over this mesh's SRAM (a fabric made for them, freed after), one submit
   * each, in order. Returns what moved per phase, the first violation (instrumented), and the wall
   * time from the first submit to the GPU's finish, ms.
   */
  async runPhases(phases: readonly FabricPhase[], regions: Uint32Array, regionCount: number): Promise<{ phases: FabricCount[]; violation: FabricViolation | null; ms: number }> {
    const { mesh } = this.program;
    const dev = this.res.device;
    const fabric = await FabricRuntime.create(this.res, this.srams, { width: mesh.width, height: mesh.height, sramWords: mesh.sramBytes / 4, regions, regionCount, bands: this.bands }, phases, { instrument: this.instrumented });
    try {
      fabric.clearCounters();
      await dev.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      for (const [i, p] of phases.entries()) {
        const enc = dev.createCommandEncoder({ label: p.name });
        const pass = enc.beginComputePass({ label: p.name });
        fabric.encodePhase(pass, i);
        pass.end();
        fabric.submit(enc);
      }
      await dev.queue.onSubmittedWorkDone();
      const ms = performance.now() - t0;
      this.res.ctx.check();
      return { ...(await fabric.readCounters()), ms };
    } finally {
      fabric.dispose();
    }
  }

  /**
   * A new sequence needs nothing cleared: a position's KV-cache slot and every scratch region are
   * written before they are read, so the old sequence's values are never seen.
   */
  reset(): void {}

  /** The compute passes' instrumented counters: out-of-slice SRAM accesses, and FLOPs per core (cores,). */
  async readCounters(): Promise<{ violations: number; flops: Uint32Array }> {
    const all = new Uint32Array(await this.res.read(this.counters));
    return { violations: all[0], flops: all.slice(1) };
  }

  async clearCounters(): Promise<void> {
    this.res.device.queue.writeBuffer(this.counters, 0, new Uint32Array(this.countersLength));
  }
}
