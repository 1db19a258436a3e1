import { WafermeshError } from '../errors.ts';
import { mapOrExplain, type GpuResources } from '../gpu/resources.ts';
import { headSize, kvDim } from '../model/config.ts';
import type { Model } from '../model/weights.ts';
import { columnRuns, split, vectorLength, type CorePlacement, type VectorKind } from './placement.ts';
import type { WaferProgram } from './program.ts';

/** Core-table fields, in the order shaders/mesh_step.wgsl reads them (CT words per core). */
const FIELDS = [
  'row', 'col', 'layer0', 'layerStride',
  'rmsAtt', 'wq', 'wk', 'wv', 'wo', 'rmsFfn', 'w1', 'w3', 'w2',
  'rmsFinal', 'embedding', 'wcls',
  'x', 'xb', 'q', 'k', 'v', 'attO', 'att', 'hb', 'hb2', 'partial', 'partialB', 'logits', 'stats', 'scores', 'scoresAll', 'kv',
  'nDim', 'nKv', 'nHid', 'slots',
  'loDim', 'rowsDim', 'loKv', 'rowsKv', 'loHid', 'rowsHid', 'loVocab', 'rowsVocab',
  'idxDim', 'idxKv', 'idxKvPos', 'idxHid',
] as const;
export const CT = FIELDS.length; // 48
const LAYER_REGIONS = ['rmsAtt', 'wq', 'wk', 'wv', 'wo', 'rmsFfn', 'w1', 'w3', 'w2'] as const;
export const MAX_HEADS = 64; // the kernels keep per-head statistics in private arrays of 64

function indices(runs: [number, number][]): number[] {
  const out: number[] = [];
  for (const [lo, hi] of runs) for (let i = lo; i < hi; i++) out.push(i);
  return out;
}

/**
 * The wafer's memory image and configuration: every core's SRAM slice filled with its tiles
 * (weights placed once, never moved), the core table (region offsets, slice sizes) and the index
 * lists saying which vector coordinates each core owns. These are the router and core
 * configuration a real wafer would be loaded with before it runs.
 */
export function buildImage(program: WaferProgram, model: Model): { sram: Float32Array; table: Uint32Array; idx: Uint32Array } {
  const { mesh, placement } = program;
  const m = model.config;
  const w = model.weights;
  const W = mesh.width;
  const H = mesh.height;
  const SRAM = mesh.sramBytes / 4;
  const nCores = W * H;
  if (placement.valueBytes !== 4) {
    throw new WafermeshError('unsupported-precision', `the emulated wafer runs f32 (4 bytes per value); this program was compiled for ${placement.valueBytes}`);
  }
  if (m.nHeads > MAX_HEADS) {
    throw new WafermeshError('unsupported-model', `the mesh engine supports up to ${MAX_HEADS} heads; this model has ${m.nHeads}: use --engine gpu or cpu for it`);
  }
  const sram = new Float32Array(nCores * SRAM);
  const table = new Uint32Array(nCores * CT);
  const idxList: number[] = [];
  const kvd = kvDim(m);
  for (let core = 0; core < nCores; core++) {
    const cp: CorePlacement = placement.cores[core];
    const r = cp.row;
    const c = cp.col;
    const region = new Map(cp.regions.map((x) => [x.name, x]));
    const off = (name: string) => {
      const g = region.get(name);
      if (!g) throw new WafermeshError('internal', `the placement has no region ${name}; the placement and the runtime disagree (a bug: please report it)`);
      return g.offset;
    };
    const dimIdx = indices(columnRuns(m, mesh, 'dim', c));
    const kvIdx = indices(columnRuns(m, mesh, 'kv', c));
    const hidIdx = indices(columnRuns(m, mesh, 'hidden', c));
    const kvMul = m.nHeads / m.nKvHeads;
    const hs = headSize(m);
    const kvPos = dimIdx.map((i) => kvIdx.indexOf(Math.floor(Math.floor(i / hs) / kvMul) * hs + (i % hs)));
    const rowsOf = (k: VectorKind) => split(vectorLength(m, k), H, r);
    const base = core * SRAM;
    // Tile of matrix `mat` (out, in) at element offset `mOff`: rows of this row, input coords `cols`.
    const put = (name: string, mat: Float32Array, mOff: number, outKind: VectorKind, inLen: number, cols: number[]) => {
      const [lo, hi] = rowsOf(outKind);
      let a = base + off(name);
      for (let i = lo; i < hi; i++) for (const j of cols) sram[a++] = mat[mOff + i * inLen + j];
    };
    const vec = (name: string, v: Float32Array, vOff: number, cols: number[]) => {
      let a = base + off(name);
      for (const j of cols) sram[a++] = v[vOff + j];
    };
    for (let l = 0; l < m.nLayers; l++) {
      vec(`L${l}.rmsAtt`, w.rmsAtt, l * m.dim, dimIdx);
      put(`L${l}.wq`, w.wq, l * m.dim * m.dim, 'dim', m.dim, dimIdx);
      put(`L${l}.wk`, w.wk, l * kvd * m.dim, 'kv', m.dim, dimIdx);
      put(`L${l}.wv`, w.wv, l * kvd * m.dim, 'kv', m.dim, dimIdx);
      put(`L${l}.wo`, w.wo, l * m.dim * m.dim, 'dim', m.dim, dimIdx);
      vec(`L${l}.rmsFfn`, w.rmsFfn, l * m.dim, dimIdx);
      put(`L${l}.w1`, w.w1, l * m.hiddenDim * m.dim, 'hidden', m.dim, dimIdx);
      put(`L${l}.w3`, w.w3, l * m.hiddenDim * m.dim, 'hidden', m.dim, dimIdx);
      put(`L${l}.w2`, w.w2, l * m.dim * m.hiddenDim, 'dim', m.hiddenDim, hidIdx);
    }
    vec('rmsFinal', w.rmsFinal, 0, dimIdx);
    put('embedding', w.tokenEmbedding, 0, 'vocab', m.dim, dimIdx);
    if (!m.sharedClassifier) put('wcls', w.wcls, 0, 'vocab', m.dim, dimIdx);

    const layer0 = off('L0.rmsAtt');
    const layerStride = m.nLayers > 1 ? off('L1.rmsAtt') - layer0 : 0;
    const f: Record<(typeof FIELDS)[number], number> = {
      row: r,
      col: c,
      layer0,
      layerStride,
      ...(Object.fromEntries(LAYER_REGIONS.map((n) => [n, off(`L0.${n}`) - layer0])) as Record<(typeof LAYER_REGIONS)[number], number>),
      rmsFinal: off('rmsFinal'),
      embedding: off('embedding'),
      wcls: m.sharedClassifier ? off('embedding') : off('wcls'),
      x: off('x'),
      xb: off('xb'),
      q: off('q'),
      k: off('k'),
      v: off('v'),
      attO: off('attO'),
      att: off('att'),
      hb: off('hb'),
      hb2: off('hb2'),
      partial: off('partial'),
      partialB: off('partialB'),
      logits: off('logits'),
      stats: off('stats'),
      scores: off('scores'),
      scoresAll: off('scoresAll'),
      kv: off('kv'),
      nDim: dimIdx.length,
      nKv: kvIdx.length,
      nHid: hidIdx.length,
      slots: cp.kvSlots,
      loDim: rowsOf('dim')[0],
      rowsDim: rowsOf('dim')[1] - rowsOf('dim')[0],
      loKv: rowsOf('kv')[0],
      rowsKv: rowsOf('kv')[1] - rowsOf('kv')[0],
      loHid: rowsOf('hidden')[0],
      rowsHid: rowsOf('hidden')[1] - rowsOf('hidden')[0],
      loVocab: rowsOf('vocab')[0],
      rowsVocab: rowsOf('vocab')[1] - rowsOf('vocab')[0],
      idxDim: idxList.push(...dimIdx) - dimIdx.length,
      idxKv: idxList.push(...kvIdx) - kvIdx.length,
      idxKvPos: idxList.push(...kvPos) - kvPos.length,
      idxHid: idxList.push(...hidIdx) - hidIdx.length,
    };
    FIELDS.forEach((name, i) => (table[core * CT + i] = f[name]));
  }
  return { sram, table, idx: Uint32Array.from(idxList.length ? idxList : [0]) };
}

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
    const made = await Promise.all(entries.map((e) => this.res.pipeline('mesh_step', constants, e, layout)));
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

  /** Clears the KV cache and scratch by reloading nothing: positions are always written before read. */
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
