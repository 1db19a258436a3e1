import { WafermeshError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GpuResources, mapOrExplain } from '../gpu/resources.ts';
import { kvDim, tensorSizes, type ModelConfig } from '../model/config.ts';
import { checkStep } from '../model/reference.ts';
import { WEIGHT_ORDER, type Model } from '../model/weights.ts';
import { baselineProgram, type BaselineKernel } from './baseline-program.ts';
import type { Engine } from './engine.ts';

export interface GpuTokenTrace {
  readonly pos: number;
  /** Off-chip bytes read, by the kernels (instrumented) or by the program they run. */
  readonly weightBytes: number;
  readonly kvBytes: number;
  readonly flops: number;
  readonly passes: number;
}

/**
 * The conventional GPU: every weight in one off-chip buffer, streamed through the kernels for
 * every token, as a GPU decoding at batch 1 does.
 */
export class GpuEngine implements Engine {
  readonly name = 'gpu' as const;
  readonly config: ModelConfig;
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
  lastTrace: GpuTokenTrace | undefined;

  private constructor(res: GpuResources, model: Model, instrument: boolean) {
    const c = (this.config = model.config);
    this.res = res;
    this.instrumented = instrument;
    this.program = baselineProgram(c);
    this.description = `conventional GPU: weights in one off-chip buffer, ${this.program.filter((k) => k.launch).length} kernels/token on ${res.ctx.adapterName}`;
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

  static async create(ctx: GpuContext, model: Model, options: { instrument?: boolean } = {}): Promise<GpuEngine> {
    const res = new GpuResources(ctx);
    try {
      const e = new GpuEngine(res, model, options.instrument ?? false);
      const entries = [...new Set(e.program.filter((k) => k.launch).map((k) => k.entry))];
      const made = await Promise.all(entries.map((name) => res.pipeline('baseline', e.constants, name, e.layout)));
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
    checkStep(this.config, token, pos);
    const c = this.config;
    const dev = this.res.device;
    for (let l = 0; l <= c.nLayers; l++) dev.queue.writeBuffer(this.steps[l], 0, Uint32Array.of(pos, token, l, 0));
    if (this.instrumented) dev.queue.writeBuffer(this.counters, 0, new Uint32Array(2));
    const enc = dev.createCommandEncoder({ label: `gpu token ${pos}` });
    // The embedding row: a copy out of off-chip memory into the residual stream.
    enc.copyBufferToBuffer(this.weights, (this.embeddingOffset + token * c.dim) * 4, this.act, 0, c.dim * 4);
    const pass = enc.beginComputePass({ label: 'baseline' });
    pass.setBindGroup(0, this.group0);
    for (const k of this.program) {
      if (!k.launch) continue;
      pass.setPipeline(this.pipelines.get(k.entry)!);
      pass.setBindGroup(1, this.stepGroups[k.layer ?? c.nLayers]);
      pass.dispatchWorkgroups(Math.ceil(k.threads / this.wg));
    }
    pass.end();
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
      let weightBytes = 0;
      let kvBytes = 0;
      let flops = 0;
      for (const k of this.program) {
        weightBytes += k.weightBytes;
        kvBytes += k.kvBytes(pos);
        flops += k.flops(pos);
      }
      if (this.instrumented) {
        // What the kernels counted, plus the embedding row the copy moved.
        weightBytes = counted[0] + c.dim * 4;
        kvBytes = counted[1];
      }
      this.lastTrace = { pos, weightBytes, kvBytes, flops, passes: this.program.filter((k) => k.launch).length };
      return new Float32Array(data, 0, c.vocabSize);
    } finally {
      this.res.destroyBuffer(staging);
    }
  }

  reset(): void {
    this.lastTrace = undefined;
  }

  dispose(): void {
    this.res.dispose();
  }
}
