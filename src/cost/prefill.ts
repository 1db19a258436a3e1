import { CATALOG, hardwarePreset, type Catalog } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import type { FabricTiming } from '../mesh/fabric.ts';
import { meshGemmClosed, summaCycles } from '../mesh/programs/meshgemm.ts';
import { ringOrder } from '../mesh/ring.ts';
import { lineAllreduceCycles } from '../mesh/collectives.ts';
import { kvDim, type ModelConfig } from '../model/config.ts';
import { gpuPreset, waferPreset, type GpuHardware } from './hardware.ts';
import { BYTES_PER_VALUE, type Precision } from './model.ts';
import { allreduceSeconds, formatBytes, predict, type Prediction, type PredictOptions } from './predict.ts';

/**
 * Prefill at real scale, modelled: the prompt's T positions as one batch on a preset — a GPU's
 * GEMMs on its tensor cores, or the wafer's GEMMs on its fabric (MeshGEMM or SUMMA, whichever is
 * faster per product) with the weights where the decode placement keeps them. Nothing here reads a
 * published speed.
 */

const round = (x: number, d = 4) => Number(x.toPrecision(d));

/** One product of the prompt: C (M × N) = A (M × K) · W (K × N), repeated `count` times per token pass. */
export interface GemmShape {
  readonly name: string;
  readonly M: number;
  readonly K: number;
  readonly N: number;
  readonly count: number;
}

/** A layer's products over a T-position prompt (q/k/v fused, w1/w3 fused), then the classifier for the last position only. */
export function prefillGemms(model: ModelConfig, T: number): GemmShape[] {
  const kvd = kvDim(model);
  const L = model.nLayers;
  return [
    { name: 'q, k, v', M: T, K: model.dim, N: model.dim + 2 * kvd, count: L },
    { name: 'wo', M: T, K: model.dim, N: model.dim, count: L },
    { name: 'w1, w3', M: T, K: model.dim, N: 2 * model.hiddenDim, count: L },
    { name: 'w2', M: T, K: model.hiddenDim, N: model.dim, count: L },
    { name: 'classifier (last position)', M: 1, K: model.dim, N: model.vocabSize, count: 1 },
  ];
}

/** Σ over query positions t = 0 … T − 1 of the keys it attends (t + 1): causal attention's (query, key) pairs. */
export function attendedPairs(T: number): number {
  return (T * (T + 1)) / 2;
}

// ---------------------------------------------------------------- GPUs ----

/**
 * One GEMM on an off-chip-memory accelerator: the longer of its FLOPs ÷ the dense peak for the
 * precision and its bytes (the weights read once, the activations read and written once) ÷ the
 * memory bandwidth.
 */
export function gpuGemmSeconds(
  g: Pick<GemmShape, 'M' | 'K' | 'N'>,
  peakFlops: number,
  bytesPerS: number,
  weightBytesPerValue: number,
  activationBytes: number,
): { seconds: number; compute: number; memory: number; bound: 'compute' | 'memory'; flops: number; bytes: number } {
  const flops = 2 * g.M * g.K * g.N;
  const bytes = g.K * g.N * weightBytesPerValue + g.M * (g.K + g.N) * activationBytes;
  const compute = flops / peakFlops;
  const memory = bytes / bytesPerS;
  return { seconds: Math.max(compute, memory), compute, memory, bound: compute >= memory ? 'compute' : 'memory', flops, bytes };
}

/** FlashAttention's query block (FlashAttention-2, Dao 2023: 128-row tiles): K and V are read once per block of queries. */
export const FLASH_QUERY_BLOCK = 128;

export interface GemmReport {
  readonly name: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly count: number;
  /** Seconds of one product. */
  readonly ms: number;
  readonly bound?: 'compute' | 'memory';
  /** Wafers: the algorithm taken and both costs in cycles. */
  readonly algorithm?: 'meshgemm' | 'summa' | 'matvec';
  /** Cycles of each (absent: its tiles do not fit the SRAM a core has free, even a row at a time). */
  readonly meshgemm_cycles?: number;
  readonly summa_cycles?: number;
  /** Wafers: the prompt's rows cut into this many chunks so the tiles fit the SRAM a core has free (absent: one). */
  readonly chunks?: number;
}

export interface PrefillPrediction {
  readonly hardware: string;
  readonly chips: number;
  readonly precision: Precision;
  readonly prompt: number;
  /** Time to first token: the whole prompt's prefill, whose last position's logits give the first id (modelled). */
  readonly ttft_ms: number;
  readonly prefill_tokens_per_s: number;
  readonly bound: string;
  readonly time_breakdown_ms: Record<string, number>;
  readonly gemms: GemmReport[];
  /** Wafers: the region each layer's products run on (the decode placement's). */
  readonly region?: { readonly width: number; readonly height: number; readonly placement: string };
  readonly assumptions: string[];
  readonly left_out: string[];
}

function finish(base: Omit<PrefillPrediction, 'ttft_ms' | 'prefill_tokens_per_s' | 'bound' | 'time_breakdown_ms'>, time: Record<string, number>): PrefillPrediction {
  const seconds = Object.values(time).reduce((a, b) => a + b, 0);
  const bound = Object.entries(time).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  return {
    ...base,
    ttft_ms: round(seconds * 1e3),
    prefill_tokens_per_s: round(base.prompt / seconds),
    bound,
    time_breakdown_ms: Object.fromEntries(Object.entries(time).map(([k, v]) => [k, round(v * 1e3)])),
  };
}

export interface PrefillOptions extends PredictOptions {
  readonly chips?: number;
  readonly precision?: Precision;
  /** Wafers: a decode prediction already made on the same wafers for at least T positions; its placement is used instead of searching again. */
  readonly decode?: Prediction;
}

function checkPrompt(model: ModelConfig, T: number): void {
  if (!Number.isInteger(T) || T < 1 || T > model.seqLen) throw new WafermeshError('bad-option', `--prompt ${T} must be a whole number in 1…${model.seqLen} (the model's seq_len)`);
}

/**
 * A GPU server's prefill of T positions, tensor parallel over `chips`: every GEMM the longer of
 * compute at the dense peak and its bytes at the HBM bandwidth (gpuGemmSeconds), causal attention
 * as FlashAttention runs it, two allreduces of the T × dim activations per layer, a launch per
 * kernel.
 */
export function gpuPrefill(model: ModelConfig, T: number, hardware: string, options: PrefillOptions = {}): PrefillPrediction {
  const catalog = options.catalog ?? CATALOG;
  const hw: GpuHardware = gpuPreset(hardware, catalog);
  const chips = options.chips ?? 1;
  const precision = options.precision ?? 'fp16';
  checkPrompt(model, T);
  const vb = BYTES_PER_VALUE[precision];
  const ab = precision === 'fp32' ? 4 : 2;
  const kvd = kvDim(model);
  const weights = model.nLayers * (model.dim * (2 * model.dim + 2 * kvd) + 3 * model.dim * model.hiddenDim) * vb + (model.sharedClassifier ? 1 : 2) * model.vocabSize * model.dim * vb;
  const kv = 2 * model.nLayers * T * kvd * vb;
  if ((weights + kv) / chips > hw.hbmBytes) {
    throw new WafermeshError('does-not-fit', `the weights and a ${T}-position KV cache (${formatBytes(weights + kv)}) do not fit ${chips} ${hardware} (${formatBytes(chips * hw.hbmBytes)}); use --chips ${Math.ceil((weights + kv) / hw.hbmBytes)} or more`);
  }
  const peak = chips * hw.peakFlops[precision];
  const bw = chips * hw.hbmBytesPerS;
  const time: Record<string, number> = { 'GEMMs: compute': 0, 'GEMMs: HBM (weights, activations)': 0, 'attention': 0 };
  const gemms: GemmReport[] = [];
  for (const g of prefillGemms(model, T)) {
    const c = gpuGemmSeconds(g, peak, bw, vb, ab);
    time[c.bound === 'compute' ? 'GEMMs: compute' : 'GEMMs: HBM (weights, activations)'] += g.count * c.seconds;
    gemms.push({ name: g.name, m: g.M, k: g.K, n: g.N, count: g.count, ms: round(c.seconds * 1e3), bound: c.bound });
  }
  // Causal attention, FlashAttention-style: Q read and O written once; K and V read once per block of queries, up to the block's last position.
  const pairs = attendedPairs(T);
  let kvReads = 0;
  for (let q0 = 0; q0 < T; q0 += FLASH_QUERY_BLOCK) kvReads += Math.min(T, q0 + FLASH_QUERY_BLOCK);
  const attFlops = 4 * model.dim * pairs;
  const attBytes = 2 * T * model.dim * ab + 2 * T * kvd * vb + 2 * kvd * vb * kvReads;
  time['attention'] = model.nLayers * Math.max(attFlops / peak, attBytes / bw);
  const ar = allreduceSeconds(chips, T * model.dim * ab, hw);
  if (chips > 1) time['allreduces'] = 2 * model.nLayers * ar.seconds;
  const kernels = 5 * model.nLayers + 1;
  time['kernel launches'] = kernels * hw.launchSeconds;
  return finish(
    {
      hardware,
      chips,
      precision,
      prompt: T,
      gemms,
      assumptions: [
        `${chips} x ${hw.description}: ${peak / 1e12} TFLOPS dense at ${precision} (${hardwarePreset(hardware, 'gpu', catalog).figures[precision === 'fp32' ? 'fp32Flops' : precision === 'fp16' ? 'fp16Flops' : 'fp8Flops'].source}), ${bw / 1e12} TB/s HBM`,
        `each GEMM (q/k/v fused, w1/w3 fused, per layer; the classifier for the last position only) takes the longer of 2·M·K·N ÷ the dense peak and (K·N weights at ${vb} B + M·(K + N) activations at ${ab} B, each read or written once) ÷ the HBM bandwidth — peak rates, an upper bound on speed`,
        `causal attention per layer: 4·dim·T(T+1)/2 FLOPs; K and V read once per ${FLASH_QUERY_BLOCK}-query block (FlashAttention-2, Dao 2023) with the query heads that share a KV head in the same block, Q read and O written once, the new K and V written once`,
        ...(chips > 1 ? [`tensor parallel: 2 allreduces of ${formatBytes(T * model.dim * ab)} per layer, ${ar.algorithm}, ${round(ar.seconds * 1e6, 3)} µs each`] : []),
        `${kernels} kernels, ${hw.launchSeconds * 1e6} µs each`,
      ],
      left_out: [
        'elementwise work (norms, RoPE, SwiGLU, residual adds) fused into the GEMMs: not counted apart',
        'the embedding lookup (T rows read)',
        'kernels reaching less than the peak FLOPs and bandwidth: real ones do, and no efficiency factor is applied',
      ],
    },
    time,
  );
}

// -------------------------------------------------------------- wafers ----

/**
 * Words one core holds for a product, as values move (one to a 32-bit word): MeshGEMM's A, B and C
 * tiles (a resident weight's B tile is shifted as a copy, the resident one staying put), SUMMA's C tile and the A and B panels it
 * receives (and B's own tile when not in place).
 */
export function gemmWordsPerCore(algorithm: 'meshgemm' | 'summa', W: number, H: number, g: Pick<GemmShape, 'M' | 'K' | 'N'>, bInPlace: boolean): number {
  if (algorithm === 'meshgemm') {
    // The weight's tile stays resident; the product shifts a copy of it (or B's own tile, not resident), so B's tile is always held once more.
    const P = Math.min(W, H);
    const mt = Math.ceil(g.M / P);
    const kt = Math.ceil(g.K / P);
    const nt = Math.ceil(g.N / P);
    return mt * kt + mt * nt + kt * nt;
  }
  const steps = Math.max(W, H);
  const mt = Math.ceil(g.M / H);
  const nt = Math.ceil(g.N / W);
  const kt = Math.ceil(g.K / steps);
  return mt * nt + mt * kt + kt * nt + (bInPlace ? 0 : Math.ceil(g.K / H) * nt);
}

/** The fewest chunks of the M rows whose working set fits `freeBytes` a core (Infinity when even one row does not). */
export function chunksToFit(algorithm: 'meshgemm' | 'summa', W: number, H: number, g: Pick<GemmShape, 'M' | 'K' | 'N'>, freeBytes: number, bInPlace: boolean): number {
  for (let c = 1; c <= g.M; c++) {
    if (c > 1 && Math.ceil(g.M / c) === Math.ceil(g.M / (c - 1))) continue;
    if (4 * gemmWordsPerCore(algorithm, W, H, { ...g, M: Math.ceil(g.M / c) }, bInPlace) <= freeBytes) return c;
  }
  return Infinity;
}

/**
 * One GEMM on a W × H region: MeshGEMM on its P × P block (the weight B resident and pre-skewed when
 * `sram.bInPlace`, as the wafer prefill places it; residentMeshGemm) or SUMMA on the rectangle, the faster. With `sram`, each algorithm's working set must fit the SRAM a core
 * has free: the M rows (the prompt's positions) are cut into the fewest chunks that fit, each
 * chunk a product of its own (the weights move again for every chunk).
 */
export function waferGemmCycles(
  W: number,
  H: number,
  g: Pick<GemmShape, 'M' | 'K' | 'N'>,
  t: FabricTiming,
  flopsPerCycle: number,
  sram?: { readonly freeBytes: number; readonly bInPlace: boolean },
): { cycles: number; algorithm: 'meshgemm' | 'summa'; meshgemm: number; summa: number; chunks: number } {
  const cm = sram ? chunksToFit('meshgemm', W, H, g, sram.freeBytes, sram.bInPlace) : 1;
  const cs = sram ? chunksToFit('summa', W, H, g, sram.freeBytes, sram.bInPlace) : 1;
  const one = (c: number) => waferGemmOnce(W, H, { ...g, M: Math.ceil(g.M / (Number.isFinite(c) ? c : 1)) }, t, flopsPerCycle, sram?.bInPlace ?? true);
  const m = one(cm);
  const su = Number.isFinite(cs) ? cs * one(cs).summa : Infinity;
  const meshgemm = Number.isFinite(cm) ? cm * m.meshgemm : Infinity;
  if (!Number.isFinite(meshgemm) && !Number.isFinite(su)) {
    throw new WafermeshError('does-not-fit', `a ${g.M} x ${g.K} x ${g.N} product's tiles do not fit the ${sram!.freeBytes} bytes a core has free beside the weights and the KV cache, even one row at a time`);
  }
  return meshgemm <= su
    ? { cycles: meshgemm, algorithm: 'meshgemm', meshgemm, summa: su, chunks: cm }
    : { cycles: su, algorithm: 'summa', meshgemm, summa: su, chunks: cs };
}

function waferGemmOnce(W: number, H: number, g: Pick<GemmShape, 'M' | 'K' | 'N'>, t: FabricTiming, flopsPerCycle: number, resident: boolean): { meshgemm: number; summa: number } {
  const P = Math.min(W, H);
  // A resident weight (B here) is placed pre-skewed, as the wafer prefill places it: the alignment
  // moves the activations only and the shifts move a copy, so nothing is put back. Otherwise (both
  // operands computed, attention's) Cannon aligns both.
  const mg = resident ? residentMeshGemm(P, g.N, g.K, g.M, t, flopsPerCycle) : meshGemmClosed(P, g.M, g.K, g.N, t, flopsPerCycle);
  const su = summaCycles({ width: W, height: H, flopsPerCoreCycle: flopsPerCycle }, g.M, g.K, g.N, t).total;
  return { meshgemm: mg.total, summa: su };
}

/**
 * MeshGEMM as the wafer prefill runs it (src/mesh/programs/prefill-fabric.ts), in closed form for
 * any P: C (M × N) = A (M × K) · B (K × N) with A a resident weight placed pre-skewed (core (i, j)
 * keeps A(i, i + j mod P)) and B the activations (N = the prompt's positions). The alignment moves
 * B only: P − 1 column rounds; then P − 1 shifts of A (a copy of the resident tile) and B, each a
 * round per axis whose slowest word is the tile's last, two hops from home (one on a grid of 2),
 * and one delivery; P tile products of 2·mt·kt·nt FLOPs. `words`: every word written into a link.
 */
export function residentMeshGemm(P: number, M: number, K: number, N: number, t: FabricTiming, flopsPerCycle: number): { fabric: number; compute: number; total: number; words: number } {
  const mt = Math.ceil(M / P);
  const kt = Math.ceil(K / P);
  const nt = Math.ceil(N / P);
  const hops = P >= 3 ? 2 : 1;
  const round = (m: number) => (m > 0 ? (m - 1) / t.bw + hops * t.hop + t.ramp : 0);
  const fabric = P > 1 ? (P - 1) * round(kt * nt) + (P - 1) * (round(mt * kt) + round(kt * nt)) : 0;
  // A line's shift writes each tile word into every link between a core and its ring predecessor.
  const ring = ringHops(P);
  const words = P > 1 ? ((P * (P - 1)) / 2) * ring * kt * nt + (P - 1) * P * ring * (mt * kt + kt * nt) : 0;
  const compute = (P * 2 * mt * kt * nt) / flopsPerCycle;
  return { fabric, compute, total: fabric + compute, words };
}

/** The wafer prefill's cost, part by part: fabric words written into links, and cycles (modelled). */
export interface FabricPrefillCost {
  /** The block's side, and a core's feature rows (whole heads), hidden rows, vocabulary rows and positions. */
  readonly P: number;
  readonly m: number;
  readonly mh: number;
  readonly mv: number;
  readonly nt: number;
  readonly cycles: { readonly norms: number; readonly productShifts: number; readonly products: number; readonly kvGather: number; readonly attention: number; readonly kvOut: number };
  readonly words: { readonly norms: number; readonly productShifts: number; readonly kvGather: number; readonly kvOut: number };
  readonly totalCycles: number;
  readonly totalWords: number;
}

/**
 * The wafer prefill on the fabric as src/mesh/programs/prefill-fabric.ts runs it, in closed form for
 * any mesh: on the P × P block (P = min(W, H)) the features padded to whole heads a core row
 * (m = ⌈n_heads/P⌉·head size), positions nt = ⌈T/P⌉ a core; per layer two RMSNorms (a chain
 * allreduce of nt words along each column), seven MeshGEMMs with the weights resident and
 * pre-skewed (residentMeshGemm: q, k, v, o on D' × D', w1, w3 on hidden × D', w2 on D' × hidden,
 * K and V expanded to the query heads), the KV gather (an allgather of every core's K and V tiles,
 * 2·m·nt words, along its row) and attention in the cores (scores and weighted values over all T
 * keys, 4·m·nt·T FLOPs, and a softmax of 5 FLOPs a score); then the final norm, the classifier
 * (vocab × D', all T positions) and the KV cache's move out to the west edge column (each core's
 * n_layers·2·m·nt words, column x's in round x). One after another, no overlap; the core passes'
 * elementwise work (norm scales, RoPE, SiLU, residual adds) is not counted.
 */
export function fabricPrefill(W: number, H: number, model: ModelConfig, T: number, t: FabricTiming, flopsPerCycle: number): FabricPrefillCost {
  const P = Math.min(W, H);
  const L = model.nLayers;
  const hs = model.dim / model.nHeads;
  const m = Math.ceil(model.nHeads / P) * hs;
  const dimPad = P * m;
  const mh = Math.ceil(model.hiddenDim / P);
  const mv = Math.ceil(model.vocabSize / P);
  const nt = Math.ceil(T / P);
  const g = (M: number, K: number) => residentMeshGemm(P, M, K, T, t, flopsPerCycle);
  const layer = [g(dimPad, dimPad), g(dimPad, dimPad), g(dimPad, dimPad), g(dimPad, dimPad), g(model.hiddenDim, dimPad), g(model.hiddenDim, dimPad), g(dimPad, model.hiddenDim)];
  const cls = g(model.vocabSize, dimPad);
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  // A norm: a chain allreduce of nt words on each of the P columns (its words: reduced in, broadcast out).
  const normCycles = P > 1 ? lineAllreduceCycles(P, 'chain', nt, t.hop, t.ramp, t.bw) : 0;
  const normWords = P * 2 * (P - 1) * nt;
  // The KV gather: each of a row's P cores sends 2·m·nt words both ways; the west stream's last
  // word, from the row's far end, sets the round.
  const own = 2 * m * nt;
  const gatherCycles = P > 1 ? ((P - 1) * own - 1) / t.bw + (P - 1) * t.hop + t.ramp : 0;
  const gatherWords = P * P * (P - 1) * own;
  // The KV cache out: round x carries column x's n words x hops west on every row.
  const n = L * 2 * m * nt;
  let outCycles = 0;
  for (let x = 1; x < P; x++) outCycles += (n - 1) / t.bw + x * t.hop + t.ramp;
  const outWords = (P * n * P * (P - 1)) / 2;
  const attention = (L * (4 * m * nt * T + ELEMENTWISE_FLOPS.softmax * (m / hs) * nt * T)) / flopsPerCycle;
  const cycles = {
    norms: (2 * L + 1) * normCycles,
    productShifts: L * sum(layer.map((x) => x.fabric)) + cls.fabric,
    products: L * sum(layer.map((x) => x.compute)) + cls.compute,
    kvGather: L * gatherCycles,
    attention,
    kvOut: outCycles,
  };
  const words = { norms: (2 * L + 1) * normWords, productShifts: L * sum(layer.map((x) => x.words)) + cls.words, kvGather: L * gatherWords, kvOut: outWords };
  return { P, m, mh, mv, nt, cycles, words, totalCycles: sum(Object.values(cycles)), totalWords: sum(Object.values(words)) };
}

/** Links a word crosses over one shift of a line of P round the folded ring (each core to its predecessor: 2 hops, 1 at the turn and the wrap). */
export function ringHops(P: number): number {
  if (P < 2) return 0;
  const order = ringOrder(P);
  return order.reduce((a, to, l) => a + Math.abs(order[(l + 1) % P] - to), 0);
}

/** A wafer product's report: the algorithm taken, each one's cycles (absent where its tiles cannot fit), the prompt's chunks. */
function waferReport(c: ReturnType<typeof waferGemmCycles>): Pick<GemmReport, 'algorithm' | 'meshgemm_cycles' | 'summa_cycles' | 'chunks'> {
  return {
    algorithm: c.algorithm,
    ...(Number.isFinite(c.meshgemm) ? { meshgemm_cycles: Math.round(c.meshgemm) } : {}),
    ...(Number.isFinite(c.summa) ? { summa_cycles: Math.round(c.summa) } : {}),
    ...(c.chunks > 1 ? { chunks: c.chunks } : {}),
  };
}

/**
 * A matrix-vector product in place (one position: the classifier for the last): W's K × N values
 * tiled ⌈K/H⌉ × ⌈N/W⌉ a core, x's slice broadcast along each row, the partial sums reduced down
 * each column by a streamed chain (α + β a core) — the decode's way, estimated here.
 */
export function waferMatvecCycles(W: number, H: number, K: number, N: number, t: FabricTiming, flopsPerCycle: number): number {
  const kt = Math.ceil(K / H);
  const nt = Math.ceil(N / W);
  const broadcast = W > 1 ? (kt - 1) / t.bw + (W - 1) * t.hop + t.ramp : 0;
  const reduce = H > 1 ? (nt - 1) / t.bw + (H - 1) * (t.hop + t.ramp) : 0;
  return broadcast + (2 * kt * nt) / flopsPerCycle + reduce;
}

/** A row allreduce of m words along a line of n cores: a streamed chain (each core adds: α + β a core) and the broadcast back. */
function rowAllreduce(n: number, m: number, t: FabricTiming): number {
  return n > 1 ? 2 * ((m - 1) / t.bw + (n - 1) * t.hop) + (n - 1) * t.ramp + t.ramp : 0;
}

/** Moving `words` across a W × H region (a re-layout), bound by its narrower bisection (2 links each way a row): words ÷ (2·min(W, H)·bw) + the region's span in hops + one delivery. */
function relayout(words: number, W: number, H: number, t: FabricTiming): number {
  return words / (2 * Math.min(W, H) * t.bw) + (W + H) * t.hop + t.ramp;
}

/** The side of the largest square blocks of which `n` fit side by side on a W × H region (one per KV-head group). */
export function headBlockSide(W: number, H: number, n: number): number {
  for (let s = Math.min(W, H); s > 1; s--) if (Math.floor(W / s) * Math.floor(H / s) >= n) return s;
  return 1;
}

/** FLOPs per element of the elementwise passes (ours: counted as plain arithmetic, no special-function unit). */
export const ELEMENTWISE_FLOPS = { rmsnorm: 3, rope: 6, swiglu: 6, residual: 1, softmax: 5 };

/**
 * A wafer's prefill of T positions, the weights where the decode placement keeps them: each
 * layer's products run on the region holding that layer (MeshGEMM or SUMMA, the faster, per
 * product), causal attention per KV-head group on its own block of the region, the norms' row
 * reductions, the elementwise passes, the re-layouts into attention's and decode's layouts, and the
 * hand-offs between regions and wafers — one after another, no overlap.
 */
export function waferPrefill(name: string, model: ModelConfig, T: number, hardware: string, options: PrefillOptions = {}): PrefillPrediction {
  const catalog = options.catalog ?? CATALOG;
  const chips = options.chips ?? 1;
  const precision = options.precision ?? 'fp16';
  checkPrompt(model, T);
  // The decode placement for a T-position KV cache: the prompt's K and V must fit where decode keeps them.
  const given = options.decode;
  const reuse = given && given.hardware === hardware && given.chips === chips && given.precision === precision && given.context >= T && given.placement;
  const { decode: _given, ...rest } = options;
  const decode = reuse ? given : predict(name, model, hardware, { ...rest, chips, precision, context: T, speculative: undefined });
  const placement = decode.placement!;
  const { width: W, height: H } = placement.region;
  const w = waferPreset(hardware, catalog);
  const fpc = precision === 'fp32' ? w.core.flopsPerCoreCycle : 2 * w.core.flopsPerCoreCycle;
  const t: FabricTiming = { hop: w.core.cyclesPerHop, ramp: w.core.cyclesPerRamp, bw: w.core.wordsPerLinkCycle };
  const hz = w.core.clockHz;
  const L = model.nLayers;
  const kvd = kvDim(model);
  const P = Math.min(W, H);
  // The SRAM a core has beside the weights, the KV cache and the decode's scratch: the prompt's tiles must fit in it.
  const freeBytes = placement.sram_bytes - placement.fullest_core_bytes;
  const cyc = { gemm: 0, attention: 0, norms: 0, elementwise: 0, relayout: 0, handoffs: 0 };
  const fitted = (f: () => ReturnType<typeof waferGemmCycles>) => {
    try {
      return f();
    } catch (e) {
      if (e instanceof WafermeshError && e.code === 'does-not-fit') {
        throw new WafermeshError('does-not-fit', `the decode's placement (${placement.label}) leaves ${freeBytes} bytes a core free for the prompt: ${e.detail}; prefill with --placement whole, or on another machine (--prefill HW --decode ${hardware})`);
      }
      throw e;
    }
  };
  const gemms: GemmReport[] = [];
  for (const g of prefillGemms(model, T)) {
    if (g.M === 1) {
      const mv = waferMatvecCycles(W, H, g.K, g.N, t, fpc);
      cyc.gemm += g.count * mv;
      gemms.push({ name: g.name, m: g.M, k: g.K, n: g.N, count: g.count, ms: round((mv / hz) * 1e3), algorithm: 'matvec' });
      continue;
    }
    const c = fitted(() => waferGemmCycles(W, H, g, t, fpc, { freeBytes, bInPlace: true }));
    cyc.gemm += g.count * c.cycles;
    gemms.push({ name: g.name, m: g.M, k: g.K, n: g.N, count: g.count, ms: round((c.cycles / hz) * 1e3), ...waferReport(c) });
  }
  // Attention: the nKvHeads groups side by side, each on a square block of the region; per group
  // S = Q (T·g × hd) · Kᵀ (hd × T), softmax along the rows, O = S (T·g × T) · V (T × hd).
  const g = model.nHeads / model.nKvHeads;
  const hd = model.dim / model.nHeads;
  const side = headBlockSide(W, H, model.nKvHeads);
  const scores = fitted(() => waferGemmCycles(side, side, { M: T * g, K: hd, N: T }, t, fpc, { freeBytes, bInPlace: false }));
  const values = fitted(() => waferGemmCycles(side, side, { M: T * g, K: T, N: hd }, t, fpc, { freeBytes, bInPlace: false }));
  const mt = Math.ceil((T * g) / side);
  const nt = Math.ceil(T / side);
  const softmax = 2 * rowAllreduce(side, mt, t) + (mt * nt * ELEMENTWISE_FLOPS.softmax) / fpc;
  cyc.attention = L * (scores.cycles + values.cycles + softmax);
  gemms.push(
    { name: 'attention scores Q·Kᵀ (per KV head)', m: T * g, k: hd, n: T, count: L * model.nKvHeads, ms: round((scores.cycles / hz) * 1e3), ...waferReport(scores) },
    { name: 'attention values S·V (per KV head)', m: T * g, k: T, n: hd, count: L * model.nKvHeads, ms: round((values.cycles / hz) * 1e3), ...waferReport(values) },
  );
  // Norms: Σx² of every row of the T × dim activation, reduced along the grid's rows, then the scale.
  const rows = Math.ceil(T / P);
  const cols = Math.ceil(model.dim / P);
  cyc.norms = (2 * L + 1) * (rowAllreduce(P, rows, t) + (rows * cols * ELEMENTWISE_FLOPS.rmsnorm) / fpc);
  // Elementwise: RoPE on q and k, SwiGLU on the hidden, two residual adds, per core's tile.
  const perCore = (n: number) => Math.ceil(T / P) * Math.ceil(n / P);
  cyc.elementwise = (L * (perCore(model.dim + kvd) * ELEMENTWISE_FLOPS.rope + perCore(model.hiddenDim) * ELEMENTWISE_FLOPS.swiglu + 2 * perCore(model.dim) * ELEMENTWISE_FLOPS.residual)) / fpc;
  // Re-layouts (estimates): q, k, v into the head groups' blocks and the output back; K and V into the decode's KV layout.
  cyc.relayout = L * (relayout(T * (2 * model.dim + 2 * kvd), W, H, t) + relayout(2 * T * kvd, W, H, t));
  // Hand-offs: between regions on a wafer (pipelined placements), and between wafers over the wafer's edge I/O.
  const regionsPerWafer = placement.regions_per_wafer;
  const regionHandoffs = placement.kind === 'pipelined' ? chips * Math.max(0, regionsPerWafer - 1) : 0;
  cyc.handoffs = regionHandoffs * (T * model.dim) / (Math.min(W, H) * t.bw) + regionHandoffs * (W + H) * t.hop;
  const edge = catalog.links.waferEdge.bytesPerS.value;
  const ab = precision === 'fp32' ? 4 : 2;
  const waferHandoffs = (chips - 1) * (w.waferToWaferSeconds + (T * model.dim * ab) / edge);
  const time: Record<string, number> = {
    'GEMMs (MeshGEMM or SUMMA)': cyc.gemm / hz,
    'attention': cyc.attention / hz,
    'norms': cyc.norms / hz,
    'elementwise': cyc.elementwise / hz,
    're-layouts (estimate)': cyc.relayout / hz,
  };
  if (regionHandoffs > 0) time['hand-offs between regions (estimate)'] = cyc.handoffs / hz;
  if (chips > 1) time['hand-offs between wafers'] = waferHandoffs;
  const picked = (a: 'meshgemm' | 'summa' | 'matvec') => gemms.filter((x) => x.algorithm === a).map((x) => x.name);
  return finish(
    {
      hardware,
      chips,
      precision,
      prompt: T,
      gemms,
      region: { width: W, height: H, placement: placement.label },
      assumptions: [
        `${chips} wafer(s); the weights stay where the decode placement keeps them (${placement.label}): each layer's products run on its ${W} x ${H} region (placed for a ${decode.context}-position KV cache)`,
        `${fpc} ${precision} FLOPs per core per cycle (dense), ${hz / 1e9} GHz, α = ${t.hop}, β = ${t.ramp} cycles, ${t.bw} word per link per cycle`,
        `each product is costed both ways, the faster taken: MeshGEMM (Cannon on the interleaved ring, residentMeshGemm: the wafer prefill's own) on the ${P} x ${P} block with the weights resident and placed pre-skewed (the alignment moves the activations only; the shifts move a copy of the weight's tile, so nothing is put back); SUMMA (summaCycles) on the ${W} x ${H} rectangle, which leaves the weights in place — MeshGEMM for ${picked('meshgemm').join(', ') || 'none'}; SUMMA for ${picked('summa').join(', ') || 'none'}; the classifier's one position is a matrix-vector product in place (x broadcast along the rows, partial sums reduced down the columns)`,
        `values move one to a 32-bit word (16-bit values are not packed two to a word); shifts, products and reductions one after another, no overlap`,
        `a product's tiles must fit the ${freeBytes} bytes the fullest core has free beside the weights, the KV cache and the decode's scratch (MeshGEMM: A and C tiles; SUMMA: the C tile and the A and B panels it receives; attention's K and V tiles too): where they do not, the prompt's rows are cut into the fewest chunks that fit, each chunk a product of its own (the weights move again each time)`,
        `attention: the ${model.nKvHeads} KV-head groups side by side on ${side} x ${side} blocks, each two products (scores ${T * g} x ${hd} x ${T}, values ${T * g} x ${T} x ${hd}) and a softmax (row max and row sum by streamed chains, ${ELEMENTWISE_FLOPS.softmax} FLOPs a score)`,
        `norms: Σx² of each row reduced along the grid's rows (a streamed chain, α + β a core) and broadcast back, ${ELEMENTWISE_FLOPS.rmsnorm} FLOPs an element; RoPE ${ELEMENTWISE_FLOPS.rope}, SwiGLU ${ELEMENTWISE_FLOPS.swiglu}, residual ${ELEMENTWISE_FLOPS.residual} FLOPs an element (ours)`,
        `re-layouts (estimates): q, k, v to the head groups' blocks and the attention's output back, and K and V into the decode's KV layout — words ÷ (2·min(W, H) links × bw) across the narrower bisection, plus the region's span in hops`,
        ...(regionHandoffs ? [`${regionHandoffs} hand-offs of the T x dim activation between neighbouring regions (estimate: T·dim words over a min(W, H)-link border)`] : []),
        ...(chips > 1 ? [`${chips - 1} hand-off(s) between wafers: ${w.waferToWaferSeconds * 1e6} µs (assumed) + T·dim activations at ${ab} B over the ${catalog.links.waferEdge.name}, ${edge / 1e9} GB/s (${catalog.links.waferEdge.bytesPerS.source})`] : []),
      ],
      left_out: [
        'the causal mask is not exploited: the full T x T scores are computed (attention is at most twice what it needs)',
        'layers on different regions working on different chunks of the prompt at once (a pipeline over regions): the regions take turns',
        'the embedding lookup (T rows broadcast from the table)',
        'the residual stream and the next product\'s input kept beside a product\'s tiles (only the product\'s own tiles are fitted in the free SRAM)',
      ],
    },
    time,
  );
}

/** Prefill on any preset: a wafer or a GPU (or other off-chip-memory accelerator). */
export function predictPrefill(name: string, model: ModelConfig, T: number, hardware: string, options: PrefillOptions = {}): PrefillPrediction {
  const preset = hardwarePreset(hardware, undefined, options.catalog ?? CATALOG);
  return preset.kind === 'wafer' ? waferPrefill(name, model, T, preset.id, options) : gpuPrefill(model, T, preset.id, options);
}

// ------------------------------------------------------- disaggregated ----

export interface KvTransfer {
  readonly bytes: number;
  readonly ms: number;
  /** The link that sets the pace, and each link's time. */
  readonly bound: string;
  readonly network_ms: number;
  readonly wafer_edge_ms?: number;
  readonly fabric_ms?: number;
}

/**
 * The KV cache of T positions from one machine to the other: the network's latency and bytes, or a
 * wafer's edge I/O (on either side), whichever is slower (the links in series stream at the
 * slowest one's pace); plus, on a wafer, the fabric carrying the words from (or to) its edge,
 * estimated as words ÷ (the edge's H links × bw) + the wafer's width in hops.
 */
export function kvTransfer(model: ModelConfig, T: number, precision: Precision, ends: { prefillWafer: boolean; decodeWafer: boolean }, catalog: Catalog = CATALOG, fabric?: { width: number; height: number; clockHz: number; bw: number; hop: number }): KvTransfer {
  const bytes = 2 * model.nLayers * T * kvDim(model) * BYTES_PER_VALUE[precision];
  const { network, waferEdge } = catalog.links;
  const onNetwork = network.latencyS.value + bytes / network.bytesPerS.value;
  const wafers = (ends.prefillWafer ? 1 : 0) + (ends.decodeWafer ? 1 : 0);
  const edge = wafers ? bytes / waferEdge.bytesPerS.value : 0;
  const fabricS = wafers && fabric ? wafers * ((bytes / 4 / (fabric.height * fabric.bw) + fabric.width * fabric.hop) / fabric.clockHz) : 0;
  const slower = Math.max(onNetwork, edge);
  return {
    bytes,
    ms: round((slower + fabricS) * 1e3),
    bound: edge > onNetwork ? waferEdge.name : network.name,
    network_ms: round(onNetwork * 1e3),
    ...(wafers ? { wafer_edge_ms: round(edge * 1e3), fabric_ms: round(fabricS * 1e3) } : {}),
  };
}
