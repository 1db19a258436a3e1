import { WafermeshError } from '../errors.ts';
import type { GpuResources } from '../gpu/resources.ts';
import { headSize, kvDim } from '../model/config.ts';
import { checkPrefill } from '../model/reference.ts';
import type { Model } from '../model/weights.ts';
import type { FabricCount } from '../mesh/fabric.ts';
import { prefillImage, prefillInput, prefillLoad, REGIONS, type GemmName, type PrefillPlan } from '../mesh/programs/prefill-fabric.ts';
import { FabricRuntime, type FabricOptions } from './fabric-runtime.ts';
import type { FabricViolation } from './machine.ts';

/** The core passes of shaders/prefill_core.wgsl (its OP_* constants). */
const OP = { prep: 0, rmsPartial: 1, rmsApply: 2, takeC: 3, addC: 4, siluMul: 5, attention: 6 } as const;
/** Bytes between two ops' parameters in the uniform buffer (the binding-offset alignment). */
const OP_STRIDE = 256;

export interface PrefillRun {
  /** (T, vocab) logits of every prompt position. */
  readonly logits: Float32Array;
  /**
   * The KV cache the prefill wrote, (layers, T, kvDim) keys (after RoPE) and values, read at the
   * west edge after the fabric carried it there — on a mesh of its own only; in a decode mesh's
   * SRAM (`sram`) it stays on the wafer, in the west edge's buffers, for the re-layout.
   */
  readonly kv: { readonly positions: number; readonly k: Float32Array; readonly v: Float32Array } | undefined;
  /** What each fabric phase moved over the whole prefill (a layer's phases summed over the layers), counted where it moved. */
  readonly phases: readonly FabricCount[];
  readonly violation: FabricViolation | null;
  /** Accesses outside a core's slice in the core passes and tile products (instrumented). */
  readonly outOfSlice: number;
  /** GPU dispatches: fabric phases, tile products, core passes. */
  readonly dispatches: number;
  /** Wall time from the first submit to the GPU's finish, ms. */
  readonly ms: number;
}

type Step = { kind: 'op'; op: number } | { kind: 'fabric'; phase: number } | { kind: 'product'; gemm: GemmName };

/**
 * Runs the wafer prefill (src/mesh/programs/prefill-fabric.ts) on the emulated mesh: the block's
 * SRAM image is loaded (on a mesh of its own), or, with `sram` (a decode mesh's SRAM holding the
 * weights loadPrefill put there), only the prompt's input; then per layer one submit of core passes, tile products and fabric phases
 * in order, then the final norm and classifier; the logits and the KV cache are read from the
 * cores' SRAM, the fabric's counters from where the words moved.
 */
export async function runPrefillFabric(res: GpuResources, plan: PrefillPlan, model: Model, tokens: readonly number[], options: FabricOptions & { sram?: GPUBuffer } = {}): Promise<PrefillRun> {
  const { mesh, config: c, P, m, mh, mv, nt, sram: L, logical, gemms } = plan;
  if (model.config !== c && JSON.stringify(model.config) !== JSON.stringify(c)) throw new WafermeshError('bad-option', 'the prefill plan was compiled for another model');
  checkPrefill(c, tokens, 0);
  if (tokens.length !== plan.T) throw new WafermeshError('bad-prompt', `the plan is for ${plan.T} positions, not ${tokens.length}`);
  const W = mesh.width;
  const SRAM = mesh.sramBytes / 4;

  // The ops' parameters, and the steps of each submit (one per layer, then the final one).
  const ops: number[][] = [];
  const op = (code: number, ...p: number[]): Step => {
    ops.push([code, ...p]);
    return { kind: 'op', op: ops.length - 1 };
  };
  const gemm = (name: GemmName, weight: number, b: number, post: Step[]): Step[] => {
    const g = gemms[name];
    const first = plan.gemmPhase[name];
    const steps: Step[] = [op(OP.prep, weight, g.mt * g.kt, b, g.kt * g.nt, g.mt * g.nt), { kind: 'fabric', phase: first }];
    for (let s = 0; s < P; s++) {
      steps.push({ kind: 'product', gemm: name });
      if (s < P - 1) steps.push({ kind: 'fabric', phase: first + 1 + s });
    }
    return [...steps, ...post];
  };
  const norm = (phase: number, weight: number): Step[] => [op(OP.rmsPartial, L.x), { kind: 'fabric', phase }, op(OP.rmsApply, L.x, weight, L.xb)];
  const submits: Step[][] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const y = L.layer[l];
    submits.push([
      ...norm(plan.normPhase.att, y.rmsAtt),
      ...gemm('q', y.w.q, L.xb, [op(OP.takeC, L.q, m, 1, 0, 0)]),
      ...gemm('k', y.w.k, L.xb, [op(OP.takeC, y.k, m, 1, 1, L.kAll)]),
      ...gemm('v', y.w.v, L.xb, [op(OP.takeC, y.v, m, 0, 1, L.vAll)]),
      { kind: 'fabric', phase: plan.gatherPhase },
      op(OP.attention, L.q, L.kAll, L.vAll, L.xb),
      ...gemm('o', y.w.o, L.xb, [op(OP.addC, L.x, m * nt)]),
      ...norm(plan.normPhase.ffn, y.rmsFfn),
      ...gemm('w1', y.w.w1, L.xb, [op(OP.takeC, L.h1, mh, 0, 0, 0)]),
      ...gemm('w3', y.w.w3, L.xb, [op(OP.siluMul, L.h1, mh * nt)]),
      ...gemm('w2', y.w.w2, L.h1, [op(OP.addC, L.x, m * nt)]),
    ]);
  }
  submits.push([...norm(plan.normPhase.final, L.rmsFinal), ...gemm('cls', L.wcls, L.xb, []), { kind: 'fabric', phase: plan.edgePhase }]);

  const made: GPUBuffer[] = [];
  const own = (b: GPUBuffer) => (made.push(b), b);
  // On a mesh of its own: the whole image. In a decode mesh's SRAM (one buffer, the weights loaded
  // with the model by loadPrefill): only the prompt's input, core by core.
  let sram: GPUBuffer;
  if (options.sram) {
    sram = options.sram;
    const input = prefillInput(plan, model.weights, tokens);
    const n = L.input.words;
    for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) res.device.queue.writeBuffer(sram, ((y * W + x) * SRAM + L.input.offset) * 4, input, (y * P + x) * n, n);
  } else {
    sram = own(res.storage('prefill:sram', prefillImage(plan, model.weights, tokens)));
  }
  const counters = own(res.storage('prefill:counters', (1 + W * mesh.height) * 4));
  const params = new Uint32Array((ops.length * OP_STRIDE) / 4);
  ops.forEach((p, i) => params.set(p, (i * OP_STRIDE) / 4));
  const paramBuffer = own(res.storage('prefill:ops', params, GPUBufferUsage.UNIFORM));
  let fabric: FabricRuntime | undefined;
  try {
    const { sram: _, ...fabricOptions } = options;
    fabric = await FabricRuntime.create(res, sram, { width: W, height: mesh.height, sramWords: SRAM, regions: plan.regionTable, regionCount: REGIONS }, plan.phases, { perStep: true, ...fabricOptions });
    const dev = res.device;
    const instrument = options.instrument ? 1 : 0;
    const core = await res.pipeline(
      'prefill_core',
      { W, SRAM, P, M: m, NT: nt, HS: headSize(c), T: plan.T, DIM: c.dim, OA: L.a, OB: L.b, OC: L.c, OSSP: L.ssPart, OSST: L.ssTotal, OROPE: L.rope, OID: L.id, INSTRUMENT: instrument },
      'core_op',
    );
    const opGroups = ops.map((_, i) =>
      dev.createBindGroup({
        label: `prefill:op ${i}`,
        layout: core.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: sram } },
          { binding: 1, resource: { buffer: counters } },
          { binding: 2, resource: { buffer: paramBuffer, offset: i * OP_STRIDE, size: 32 } },
        ],
      }),
    );
    const products = new Map<GemmName, { pipeline: GPUComputePipeline; group: GPUBindGroup }>();
    for (const [name, g] of Object.entries(gemms) as [GemmName, (typeof gemms)[GemmName]][]) {
      const pipeline = await res.pipeline('gemm_core', { W, SRAM, P, MT: g.mt, KT: g.kt, NT: g.nt, OA: L.a, OB: L.b, OC: L.c, INSTRUMENT: instrument }, 'tile_product');
      products.set(name, { pipeline, group: res.bindGroup(`prefill:product ${name}`, pipeline, [sram, counters]) });
    }
    fabric.clearCounters();
    fabric.takeDispatchCount();
    let dispatches = 0;
    const groups = Math.ceil((P * P) / 64);
    const t0 = performance.now();
    for (const steps of submits) {
      const enc = dev.createCommandEncoder({ label: 'wafer prefill' });
      const pass = enc.beginComputePass({ label: 'wafer prefill' });
      for (const s of steps) {
        if (s.kind === 'fabric') fabric.encodePhase(pass, s.phase);
        else if (s.kind === 'op') {
          pass.setPipeline(core);
          pass.setBindGroup(0, opGroups[s.op]);
          pass.dispatchWorkgroups(groups);
          dispatches++;
        } else {
          const p = products.get(s.gemm)!;
          pass.setPipeline(p.pipeline);
          pass.setBindGroup(0, p.group);
          pass.dispatchWorkgroups(Math.ceil((P * P) / 16));
          dispatches++;
        }
      }
      pass.end();
      fabric.submit(enc);
    }
    await dev.queue.onSubmittedWorkDone();
    const ms = performance.now() - t0;
    res.ctx.check();
    dispatches += fabric.takeDispatchCount();
    const { phases, violation } = await fabric.readCounters();
    // On a mesh of its own the whole image is read; in a decode mesh's SRAM only the logits (the
    // classifier's C tiles), gathered core by core into one buffer: the KV cache stays on the wafer.
    let out: Float32Array | undefined;
    let tiles: Float32Array | undefined;
    const n = gemms.cls.mt * gemms.cls.nt;
    if (options.sram) {
      const gather = own(res.buffer('prefill:logits', P * P * n * 4, GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST));
      const enc = dev.createCommandEncoder({ label: 'prefill logits' });
      for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) enc.copyBufferToBuffer(sram, ((y * W + x) * SRAM + L.c) * 4, gather, (y * P + x) * n * 4, n * 4);
      dev.queue.submit([enc.finish()]);
      tiles = await res.readF32(gather);
    } else {
      out = await res.readF32(sram);
    }
    const count = new Uint32Array(await res.read(counters, 0, 4));
    // Word w of the classifier's C tile of the core at (y, x): from the gathered tiles, or from the whole image.
    const cTile = (y: number, x: number, w: number) => (tiles ? tiles[(y * P + x) * n + w] : out![(y * W + x) * SRAM + L.c + w]);

    // The logits: the classifier's C tiles, (vocab rows, positions) per core.
    const V = c.vocabSize;
    const T = plan.T;
    const logits = new Float32Array(T * V);
    const kvd = kvDim(c);
    const hs = headSize(c);
    const kvMul = c.nHeads / c.nKvHeads;
    const readKv = !options.sram;
    const k = new Float32Array(readKv ? c.nLayers * T * kvd : 0);
    const v = new Float32Array(readKv ? c.nLayers * T * kvd : 0);
    for (let y = 0; y < P; y++) {
      const edge = y * W * SRAM + L.edge; // the row's west edge core's KV buffer
      for (let x = 0; x < P; x++) {
        const i = logical[y];
        const j = logical[x];
        for (let q = 0; q < nt && j * nt + q < T; q++) {
          const pos = j * nt + q;
          for (let r = 0; r < mv && i * mv + r < V; r++) logits[pos * V + i * mv + r] = cTile(y, x, r * nt + q);
          // The KV cache, from the west edge (slot x: column x's cores'), per layer K then V tiles.
          // KV head g's row e is query head g·kvMul's expanded row (g·kvMul·hs + e) = i·m + r.
          for (let r = 0; r < m && readKv; r++) {
            const d = i * m + r;
            const h = Math.floor(d / hs);
            if (h >= c.nHeads || h % kvMul !== 0) continue;
            const col = (h / kvMul) * hs + (d % hs);
            for (let l = 0; l < c.nLayers; l++) {
              const at = edge + x * plan.kvWords + l * 2 * m * nt + r * nt + q;
              k[(l * T + pos) * kvd + col] = out![at];
              v[(l * T + pos) * kvd + col] = out![at + m * nt];
            }
          }
        }
      }
    }
    return { logits, kv: readKv ? { positions: T, k, v } : undefined, phases, violation, outOfSlice: count[0], dispatches, ms };
  } finally {
    fabric?.dispose();
    for (const b of made) res.destroyBuffer(b);
  }
}

/**
 * Loads the prefill's weights (prefillLoad: each block core's place, weight tiles and RMSNorm
 * weights) into a mesh's SRAM buffer at the plan's offsets: host I/O at load, like the decode's
 * weights, once for every prompt.
 */
export function loadPrefill(res: GpuResources, sram: GPUBuffer, plan: PrefillPlan, model: Model): void {
  const { mesh, P, sram: L } = plan;
  const W = mesh.width;
  const SRAM = mesh.sramBytes / 4;
  const load = prefillLoad(plan, model.weights);
  const n = L.loaded.words;
  for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) res.device.queue.writeBuffer(sram, ((y * W + x) * SRAM + L.loaded.offset) * 4, load, (y * P + x) * n, n);
}
