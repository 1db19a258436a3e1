import { checkKvCache, type KvCache } from '../model/kv.ts';
import { WafermeshError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GpuResources, mapOrExplain } from '../gpu/resources.ts';
import { kvDim, tensorSizes, type ModelConfig } from '../model/config.ts';
import { checkStep } from '../model/reference.ts';
import { WEIGHT_ORDER, type Model } from '../model/weights.ts';
import { baselinePasses, baselineProgram, launchedKernels, type BaselineKernel } from '../baseline/program.ts';
import { gpuMachineTrace, type MachineTrace } from '../cost/model.ts';
import type { GpuHardware } from '../cost/hardware.ts';
import { baselineOverrides, GpuPrefill, type PrefillRun } from './gpu-prefill.ts';
import type { Machine, PassInfo } from './machine.ts';

/**
 * The conventional GPU: every weight in one off-chip buffer, streamed through the kernels for
 * every token, as a GPU decoding at batch 1 does.
 */
export class GpuEngine implements Machine {
  readonly engine = 'gpu' as const;
  readonly plan = 'gpu' as const;
  readonly wafer = null;
  readonly decode = null;
  readonly config: ModelConfig;
  readonly passes: readonly PassInfo[];
  readonly description: string;
  readonly program: BaselineKernel[];
  readonly instrumented: boolean;
  private readonly res: GpuResources;
  private readonly weights: GPUBuffer;
  private readonly kv: GPUBuffer;
  private readonly act: GPUBuffer;
  private readonly counters: GPUBuffer;
  private readonly steps: GPUBuffer[] = [];
  private readonly group0: GPUBindGroup;
  private readonly stepGroups: GPUBindGroup[] = [];
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly embeddingOffset: number;
  private readonly logitsOffset: number;
  private readonly wg: number;
  private readonly launched: BaselineKernel[];
  private last: MachineTrace | undefined;
  private prefiller: GpuPrefill | undefined;
  private lastPrefillRun: PrefillRun | undefined;

  private constructor(res: GpuResources, model: Model, instrument: boolean, private readonly hw: GpuHardware) {
    const c = (this.config = model.config);
    this.res = res;
    this.instrumented = instrument;
    this.program = baselineProgram(c);
    this.launched = launchedKernels(this.program);
    this.passes = baselinePasses(c);
    this.description = `conventional GPU: weights in one off-chip buffer, ${this.launched.length} kernels/token on ${res.ctx.adapterName}`;
    // The checkpoint's floats, in llama2.c's order, with the classifier appended when separate.
    const sizes = tensorSizes(c);
    const offsets: Record<string, number> = {};
    let n = 0;
    for (const k of WEIGHT_ORDER) {
      offsets[k] = n;
      n += sizes[k];
    }
    offsets.wcls = c.sharedClassifier ? 0 : n;
    if (!c.sharedClassifier) n += sizes.wcls;
    const all = new Float32Array(n);
    for (const k of WEIGHT_ORDER) all.set(model.weights[k], offsets[k]);
    if (!c.sharedClassifier) all.set(model.weights.wcls, offsets.wcls);
    this.embeddingOffset = 0;
    if (all.byteLength > res.device.limits.maxStorageBufferBindingSize) {
      throw new WafermeshError('model-too-large', `the model's ${all.byteLength} bytes of weights exceed this adapter's ${res.device.limits.maxStorageBufferBindingSize}-byte buffers; use a smaller model or the cpu engine`);
    }
    this.weights = res.buffer('gpu:weights (off-chip)', all.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, all);
    this.kv = res.storage('gpu:kv cache', 2 * c.nLayers * c.seqLen * kvDim(c) * 4);
    const actWords = 3 * c.dim + c.hiddenDim + c.vocabSize + c.nHeads * c.seqLen;
    this.act = res.storage('gpu:activations', actWords * 4);
    this.logitsOffset = (3 * c.dim + c.hiddenDim) * 4;
    this.counters = res.storage('gpu:counters', 8);
    const dev = res.device;
    const g0 = dev.createBindGroupLayout({
      label: 'baseline:group0',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
        { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      ],
    });
    const g1 = dev.createBindGroupLayout({ label: 'baseline:group1', entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } }] });
    this.layout = dev.createPipelineLayout({ label: 'baseline', bindGroupLayouts: [g0, g1] });
    this.group0 = dev.createBindGroup({
      label: 'baseline:group0',
      layout: g0,
      entries: [this.weights, this.kv, this.act, this.counters].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    for (let l = 0; l <= c.nLayers; l++) {
      const b = res.uniform(`gpu:step L${l}`, 16);
      this.steps.push(b);
      this.stepGroups.push(dev.createBindGroup({ label: `baseline:L${l}`, layout: g1, entries: [{ binding: 0, resource: { buffer: b } }] }));
    }
    this.wg = 16;
    this.constants = {
      DIM: c.dim,
      HID: c.hiddenDim,
      KVD: kvDim(c),
      NH: c.nHeads,
      KVMUL: c.nHeads / c.nKvHeads,
      HS: c.dim / c.nHeads,
      NL: c.nLayers,
      SEQ: c.seqLen,
      VOCAB: c.vocabSize,
      SHARED: c.sharedClassifier ? 1 : 0,
      WG: this.wg,
      INSTRUMENT: instrument ? 1 : 0,
      O_RMSATT: offsets.rmsAtt,
      O_WQ: offsets.wq,
      O_WK: offsets.wk,
      O_WV: offsets.wv,
      O_WO: offsets.wo,
      O_RMSFFN: offsets.rmsFfn,
      O_W1: offsets.w1,
      O_W2: offsets.w2,
      O_W3: offsets.w3,
      O_RMSFINAL: offsets.rmsFinal,
      O_WCLS: offsets.wcls,
    };
  }

  private readonly layout: GPUPipelineLayout;
  private readonly constants: Record<string, number>;

  /** `hw`: the GPU preset its modelled cost is for (the catalog's GPU presets, e.g. toy-gpu). */
  static async create(ctx: GpuContext, model: Model, hw: GpuHardware, options: { instrument?: boolean } = {}): Promise<GpuEngine> {
    const res = new GpuResources(ctx);
    try {
      const e = new GpuEngine(res, model, options.instrument ?? false, hw);
      const entries = [...new Set(e.launched.map((k) => k.entry))];
      const made = await Promise.all(entries.map((name) => res.pipeline('baseline', e.constants, name, e.layout, baselineOverrides(e.constants))));
      entries.forEach((name, i) => e.pipelines.set(name, made[i]));
      ctx.check();
      return e;
    } catch (err) {
      res.dispose();
      throw err;
    }
  }

  get context(): number {
    return this.config.seqLen;
  }

  get liveBuffers(): number {
    return this.res.liveBuffers;
  }

  async forward(token: number, pos: number): Promise<Float32Array> {
    return (await this.run(token, pos, 0, this.launched.length))!;
  }

  async stepPass(token: number, pos: number, pass: number): Promise<Float32Array | undefined> {
    return this.run(token, pos, pass, pass + 1);
  }

  lastTrace(): MachineTrace | undefined {
    return this.last;
  }

  /**
   * The prompt as one batch (shaders/baseline_prefill.wgsl): positions startPos … startPos+T−1
   * enter the KV cache as T forward() calls would leave them; returns the last one's logits
   * (vocab,), the only ones computed. A prefill is not a token of the decode's plan, so
   * lastTrace() is undefined after it; lastPrefill() has its plan and counts.
   */
  async prefill(tokens: readonly number[], startPos: number): Promise<Float32Array> {
    return (await this.runPrefill(tokens, startPos, 'last')).logits;
  }

  /** As prefill(), returning the logits of every prompt position, (T, vocab) (the reference's prefill contract). */
  async prefillAll(tokens: readonly number[], startPos: number): Promise<Float32Array> {
    return (await this.runPrefill(tokens, startPos, 'all')).logits;
  }

  /** The KV cache of the first `positions` positions, (layers, positions, kvDim) keys and values (read back from its (2, L, seq_len, kvDim) buffer). */
  async kvCache(positions: number): Promise<KvCache> {
    const c = this.config;
    const kvd = kvDim(c);
    const all = await this.res.readF32(this.kv);
    const k = new Float32Array(c.nLayers * positions * kvd);
    const v = new Float32Array(c.nLayers * positions * kvd);
    for (let l = 0; l < c.nLayers; l++) {
      k.set(all.subarray((0 * c.nLayers + l) * c.seqLen * kvd, ((0 * c.nLayers + l) * c.seqLen + positions) * kvd), l * positions * kvd);
      v.set(all.subarray((1 * c.nLayers + l) * c.seqLen * kvd, ((1 * c.nLayers + l) * c.seqLen + positions) * kvd), l * positions * kvd);
    }
    return { positions, k, v };
  }

  /** Takes over a KV cache another machine computed (written into its off-chip KV buffer); decoding continues at kv.positions. */
  async importKv(kv: KvCache): Promise<void> {
    const c = this.config;
    checkKvCache(c, kv);
    const kvd = kvDim(c);
    const T = kv.positions;
    for (let l = 0; l < c.nLayers; l++) {
      this.res.device.queue.writeBuffer(this.kv, (0 * c.nLayers + l) * c.seqLen * kvd * 4, kv.k.subarray(l * T * kvd, (l + 1) * T * kvd));
      this.res.device.queue.writeBuffer(this.kv, (1 * c.nLayers + l) * c.seqLen * kvd * 4, kv.v.subarray(l * T * kvd, (l + 1) * T * kvd));
    }
    await this.res.device.queue.onSubmittedWorkDone();
    this.res.ctx.check();
    this.last = undefined;
  }

  /** The last prefill: its plan (bytes and FLOPs in closed form) and, when instrumented, what its kernels counted. */
  lastPrefill(): PrefillRun | undefined {
    return this.lastPrefillRun;
  }

  private async runPrefill(tokens: readonly number[], startPos: number, logits: 'all' | 'last'): Promise<PrefillRun> {
    this.prefiller ??= new GpuPrefill(this.res, this.config, this.weights, this.kv, this.constants, this.instrumented);
    this.last = undefined;
    const run = await this.prefiller.run(tokens, startPos, logits);
    this.lastPrefillRun = run;
    return run;
  }

  /** Runs kernels [from, to) of the token at pos; the last kernel's run returns the logits. */
  private async run(token: number, pos: number, from: number, to: number): Promise<Float32Array | undefined> {
    checkStep(this.config, token, pos);
    const c = this.config;
    const dev = this.res.device;
    for (let l = 0; l <= c.nLayers; l++) dev.queue.writeBuffer(this.steps[l], 0, Uint32Array.of(pos, token, l, 0));
    const enc = dev.createCommandEncoder({ label: `gpu token ${pos}` });
    if (from === 0) {
      if (this.instrumented) dev.queue.writeBuffer(this.counters, 0, new Uint32Array(2));
      // The embedding row: a copy out of off-chip memory into the residual stream.
      enc.copyBufferToBuffer(this.weights, (this.embeddingOffset + token * c.dim) * 4, this.act, 0, c.dim * 4);
    }
    const pass = enc.beginComputePass({ label: 'baseline' });
    pass.setBindGroup(0, this.group0);
    for (const k of this.launched.slice(from, to)) {
      pass.setPipeline(this.pipelines.get(k.entry)!);
      pass.setBindGroup(1, this.stepGroups[k.layer ?? c.nLayers]);
      pass.dispatchWorkgroups(Math.ceil(k.threads / this.wg));
    }
    pass.end();
    if (to < this.launched.length) {
      dev.queue.submit([enc.finish()]);
      await dev.queue.onSubmittedWorkDone();
      this.res.ctx.check();
      return undefined;
    }
    const bytes = c.vocabSize * 4;
    const staging = this.res.buffer('gpu:logits readback', bytes + 8, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    enc.copyBufferToBuffer(this.act, this.logitsOffset, staging, 0, bytes);
    enc.copyBufferToBuffer(this.counters, 0, staging, bytes, 8);
    dev.queue.submit([enc.finish()]);
    try {
      await mapOrExplain(this.res.ctx, staging, 'gpu logits');
      const data = staging.getMappedRange().slice(0);
      staging.unmap();
      this.res.ctx.check();
      const counted = new Uint32Array(data, bytes, 2);
      // What the kernels counted, plus the embedding row the copy moved.
      this.last = gpuMachineTrace(c, token, pos, this.hw, this.instrumented ? { weights: counted[0] + c.dim * 4, kv: counted[1] } : undefined);
      return new Float32Array(data, 0, c.vocabSize);
    } finally {
      this.res.destroyBuffer(staging);
    }
  }

  reset(): void {
    this.last = undefined;
    this.lastPrefillRun = undefined;
  }

  dispose(): void {
    this.res.dispose();
  }
}
