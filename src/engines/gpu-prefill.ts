import { WafermeshError } from '../errors.ts';
import { baselinePrefill, PREFILL_TILE, type PrefillEntry, type PrefillPlan } from '../baseline/program.ts';
import { GpuResources, mapOrExplain } from '../gpu/resources.ts';
import type { ModelConfig } from '../model/config.ts';
import { checkPrefill } from '../model/reference.ts';

/**
 * The override declarations of the baseline's kernels (decode and prefill share them), one per
 * constant the engine sets: SHARED and INSTRUMENT are bools, the rest u32.
 */
export function baselineOverrides(constants: Record<string, number>): string {
  return Object.keys(constants)
    .map((k) => `override ${k}: ${k === 'SHARED' || k === 'INSTRUMENT' ? 'bool' : 'u32'};`)
    .join('\n');
}

/** What an instrumented prefill counted on the GPU (bytes off chip, FLOPs), for comparison with its plan. */
export interface PrefillCount {
  readonly weightBytes: number;
  readonly kvReadBytes: number;
  readonly kvWriteBytes: number;
  readonly flops: number;
}

/** A prefill that ran: the logits of the positions asked for, its plan, and what the kernels counted. */
export interface PrefillRun {
  /** (R, vocab): R = T ('all') or 1 ('last'). */
  readonly logits: Float32Array;
  readonly plan: PrefillPlan;
  /** Counted by the kernels (instrumented engines only). */
  readonly counted: PrefillCount | undefined;
}

/** Words of the per-layer uniform (the WGSL `Batch`). */
const BATCH_WORDS = 12;
/** Counters: (lo, hi) pairs of weight bytes, KV bytes read, KV bytes written, FLOPs. */
const COUNTER_WORDS = 8;

/** Where each (T, ·) activation of a prefill lives in its workspace, in f32 elements. */
export function prefillLayout(c: ModelConfig, T: number, startPos: number, logitRows: number) {
  const xb = T * c.dim; // x (T, dim) is at 0
  const q = xb + T * c.dim;
  const att = q + T * c.dim;
  const hb = att + T * c.dim;
  const logits = hb + T * c.hiddenDim; // (R, vocab)
  const scores = logits + logitRows * c.vocabSize; // (T, nHeads, startPos + T)
  const words = scores + T * c.nHeads * (startPos + T);
  return { xb, q, att, hb, logits, scores, words };
}

/**
 * The GPU baseline's prefill (shaders/baseline_prefill.wgsl) on the decode's weights and KV cache:
 * it runs the kernels of `baselinePrefill` in one compute pass and writes positions startPos …
 * startPos+T−1 into the KV cache the decode reads. Its workspace (activations, scores, tokens,
 * counters, uniforms) lives only for one call.
 */
export class GpuPrefill {
  private pipelines: Promise<Map<PrefillEntry, GPUComputePipeline>> | undefined;
  private readonly g0: GPUBindGroupLayout;
  private readonly g1: GPUBindGroupLayout;
  private readonly layout: GPUPipelineLayout;
  private readonly wg = 16;

  constructor(
    private readonly res: GpuResources,
    private readonly config: ModelConfig,
    private readonly weights: GPUBuffer,
    private readonly kv: GPUBuffer,
    /** The decode's override constants (sizes, tensor offsets, INSTRUMENT); the prefill declares the same. */
    private readonly constants: Record<string, number>,
    private readonly instrumented: boolean,
  ) {
    const dev = res.device;
    const binding = (type: GPUBufferBindingType) => ({ visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    this.g0 = dev.createBindGroupLayout({
      label: 'baseline_prefill:group0',
      entries: (['read-only-storage', 'storage', 'storage', 'read-only-storage', 'storage'] as const).map((t, i) => ({ binding: i, ...binding(t) })),
    });
    this.g1 = dev.createBindGroupLayout({ label: 'baseline_prefill:group1', entries: [{ binding: 0, ...binding('uniform') }] });
    this.layout = dev.createPipelineLayout({ label: 'baseline_prefill', bindGroupLayouts: [this.g0, this.g1] });
  }

  private compile(): Promise<Map<PrefillEntry, GPUComputePipeline>> {
    const c = this.config;
    const prelude = [
      baselineOverrides(this.constants),
      `const TILE_T: u32 = ${PREFILL_TILE.tokens}u;`,
      `const TILE_R: u32 = ${PREFILL_TILE.rows}u;`,
      `const HEAD: u32 = ${c.dim / c.nHeads}u;`,
      `const GROUP: u32 = ${c.nHeads / c.nKvHeads}u;`,
    ].join('\n');
    const entries = [...new Set(baselinePrefill(this.config, 1).kernels.map((k) => k.entry))];
    const constants = { ...this.constants, WG: this.wg };
    return Promise.all(entries.map((e) => this.res.pipeline('baseline_prefill', constants, e, this.layout, prelude))).then(
      (made) => new Map(entries.map((e, i) => [e, made[i]])),
    );
  }

  async run(tokens: readonly number[], startPos: number, logits: 'all' | 'last'): Promise<PrefillRun> {
    const c = this.config;
    checkPrefill(c, tokens, startPos);
    if (PREFILL_TILE.rows % 2 !== 0) throw new WafermeshError('bad-tile', `PREFILL_TILE.rows = ${PREFILL_TILE.rows} must be even: RoPE pairs stay in one tile`);
    const T = tokens.length;
    const plan = baselinePrefill(c, T, startPos, { logits });
    const R = logits === 'all' ? T : 1;
    const lay = prefillLayout(c, T, startPos, R);
    const dev = this.res.device;
    if (lay.words * 4 > dev.limits.maxStorageBufferBindingSize) {
      throw new WafermeshError(
        'prefill-too-large',
        `a prefill of ${T} tokens needs a ${lay.words * 4}-byte workspace (activations and attention scores) but this adapter's buffers hold ${dev.limits.maxStorageBufferBindingSize}; prefill the prompt in shorter pieces`,
      );
    }
    this.pipelines ??= this.compile();
    const pipelines = await this.pipelines;
    const align = Math.max(256, dev.limits.minUniformBufferOffsetAlignment);
    const made: GPUBuffer[] = [];
    const buffer = (b: GPUBuffer) => (made.push(b), b);
    try {
      const act = buffer(this.res.storage('gpu:prefill activations', lay.words * 4));
      const ids = buffer(this.res.storage('gpu:prefill tokens', Uint32Array.from(tokens)));
      const counters = buffer(this.res.storage('gpu:prefill counters', COUNTER_WORDS * 4));
      const batches = buffer(this.res.uniform('gpu:prefill batch', (c.nLayers + 1) * align));
      const group0 = dev.createBindGroup({
        label: 'baseline_prefill:group0',
        layout: this.g0,
        entries: [this.weights, this.kv, act, ids, counters].map((b, binding) => ({ binding, resource: { buffer: b } })),
      });
      const perLayer: GPUBindGroup[] = [];
      const words = new Uint32Array(((c.nLayers + 1) * align) / 4);
      for (let l = 0; l <= c.nLayers; l++) {
        words.set([startPos, T, l, T - R, startPos + T, lay.xb, lay.q, lay.att, lay.hb, lay.logits, lay.scores, 0], (l * align) / 4);
        perLayer.push(
          dev.createBindGroup({
            label: `baseline_prefill:L${l}`,
            layout: this.g1,
            entries: [{ binding: 0, resource: { buffer: batches, offset: l * align, size: BATCH_WORDS * 4 } }],
          }),
        );
      }
      dev.queue.writeBuffer(batches, 0, words);
      const enc = dev.createCommandEncoder({ label: `gpu prefill ${startPos}…${startPos + T - 1}` });
      const pass = enc.beginComputePass({ label: 'baseline_prefill' });
      pass.setBindGroup(0, group0);
      for (const k of plan.kernels) {
        pass.setPipeline(pipelines.get(k.entry)!);
        pass.setBindGroup(1, perLayer[k.layer ?? c.nLayers]);
        pass.dispatchWorkgroups(Math.ceil(k.grid[0] / this.wg), k.grid[1]);
      }
      pass.end();
      const bytes = R * c.vocabSize * 4;
      const staging = buffer(this.res.buffer('gpu:prefill readback', bytes + COUNTER_WORDS * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST));
      enc.copyBufferToBuffer(act, lay.logits * 4, staging, 0, bytes);
      enc.copyBufferToBuffer(counters, 0, staging, bytes, COUNTER_WORDS * 4);
      dev.queue.submit([enc.finish()]);
      await mapOrExplain(this.res.ctx, staging, 'gpu prefill logits');
      const data = staging.getMappedRange().slice(0);
      staging.unmap();
      this.res.ctx.check();
      const n = new Uint32Array(data, bytes, COUNTER_WORDS);
      const u64 = (slot: number) => n[2 * slot] + n[2 * slot + 1] * 2 ** 32;
      const counted = this.instrumented ? { weightBytes: u64(0), kvReadBytes: u64(1), kvWriteBytes: u64(2), flops: u64(3) } : undefined;
      return { logits: new Float32Array(data, 0, R * c.vocabSize), plan, counted };
    } finally {
      for (const b of made) this.res.destroyBuffer(b);
    }
  }
}
