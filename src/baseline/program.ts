import { kvDim, type ModelConfig } from '../model/config.ts';

/**
 * The conventional GPU's decode of one token as data: its kernels in order, with the off-chip
 * bytes each reads (weights and KV cache, each distinct element once) and its FLOPs. The engine
 * (src/engines/gpu.ts) runs exactly these kernels; its instrumented mode counts the bytes on the GPU
 * and a test holds the two equal; the cost model and the UI read this list.
 */
export interface BaselineKernel {
  readonly entry: 'embed' | 'qkv' | 'attention' | 'wo_residual' | 'ffn_up' | 'ffn_down' | 'classifier';
  readonly name: string;
  readonly layer: number | null;
  /** Is it a compute pass (a kernel launch), or the embedding row's buffer copy? */
  readonly launch: boolean;
  readonly weightBytes: number;
  readonly kvBytes: (pos: number) => number;
  readonly flops: (pos: number) => number;
  /** Invocations it dispatches. */
  readonly threads: number;
}

export function baselineProgram(c: ModelConfig, bytesPerValue = 4): BaselineKernel[] {
  const kvd = kvDim(c);
  const B = bytesPerValue;
  const none = () => 0;
  const out: BaselineKernel[] = [
    { entry: 'embed', name: 'embedding row copy', layer: null, launch: false, weightBytes: c.dim * B, kvBytes: none, flops: none, threads: 0 },
  ];
  for (let l = 0; l < c.nLayers; l++) {
    out.push(
      {
        entry: 'qkv',
        name: 'rmsnorm; q, k, v; RoPE; KV-cache write',
        layer: l,
        launch: true,
        weightBytes: ((c.dim + 2 * kvd) * c.dim + c.dim) * B,
        kvBytes: none,
        flops: () => 2 * (c.dim + 2 * kvd) * c.dim,
        threads: (c.dim + 2 * kvd) / 2,
      },
      {
        entry: 'attention',
        name: 'attention over the KV cache',
        layer: l,
        launch: true,
        weightBytes: 0,
        kvBytes: (pos) => 2 * (pos + 1) * kvd * B,
        flops: (pos) => 4 * (pos + 1) * c.dim,
        threads: c.nKvHeads,
      },
      { entry: 'wo_residual', name: 'wo; residual', layer: l, launch: true, weightBytes: c.dim * c.dim * B, kvBytes: none, flops: () => 2 * c.dim * c.dim, threads: c.dim },
      {
        entry: 'ffn_up',
        name: 'rmsnorm; w1, w3; SwiGLU',
        layer: l,
        launch: true,
        weightBytes: (2 * c.hiddenDim * c.dim + c.dim) * B,
        kvBytes: none,
        flops: () => 4 * c.hiddenDim * c.dim,
        threads: c.hiddenDim,
      },
      { entry: 'ffn_down', name: 'w2; residual', layer: l, launch: true, weightBytes: c.dim * c.hiddenDim * B, kvBytes: none, flops: () => 2 * c.dim * c.hiddenDim, threads: c.dim },
    );
  }
  out.push({
    entry: 'classifier',
    name: 'final rmsnorm; classifier',
    layer: null,
    launch: true,
    weightBytes: (c.vocabSize * c.dim + c.dim) * B,
    kvBytes: none,
    flops: () => 2 * c.vocabSize * c.dim,
    threads: c.vocabSize,
  });
  return out;
}

/** Off-chip bytes one token at `pos` reads: every weight once, plus the KV cache up to pos. */
export function baselineBytes(c: ModelConfig, pos: number, bytesPerValue = 4): { weights: number; kv: number } {
  let weights = 0;
  let kv = 0;
  for (const k of baselineProgram(c, bytesPerValue)) {
    weights += k.weightBytes;
    kv += k.kvBytes(pos);
  }
  return { weights, kv };
}

/** The kernels that are GPU dispatches (the embedding row is a buffer copy). */
export function launchedKernels(program: readonly BaselineKernel[]): BaselineKernel[] {
  return program.filter((k) => k.launch);
}

/** The launched kernels as a machine lists its passes (name and layer). */
export function baselinePasses(c: ModelConfig): { name: string; layer: number | null }[] {
  return launchedKernels(baselineProgram(c)).map((k) => ({ name: k.name, layer: k.layer }));
}

/**
 * The prefill's tile: a GEMM invocation computes `rows` output rows for `tokens` prompt tokens in
 * registers, so each weight it reads serves a whole tile of tokens. The engine injects these into
 * shaders/baseline_prefill.wgsl. No workgroup memory: on lavapipe, GEMM tiles staged through
 * workgroup memory with barriers ran 2–5× slower than register tiles, and an attention that
 * staged k and v blocks in workgroup memory (read once per query tile) 1.5× slower than one
 * query per invocation reading them itself (stories260K's shapes, T = 7 and 200).
 */
export const PREFILL_TILE = { tokens: 16, rows: 8 } as const;

export type PrefillEntry =
  | 'pf_embed'
  | 'pf_norm_att'
  | 'pf_qkv'
  | 'pf_attention'
  | 'pf_wo'
  | 'pf_norm_ffn'
  | 'pf_ffn_up'
  | 'pf_ffn_down'
  | 'pf_norm_final'
  | 'pf_classifier';

/** One kernel of a prefill: what it reads and writes off chip, its FLOPs, and its launch grid. */
export interface PrefillKernel {
  readonly entry: PrefillEntry;
  readonly name: string;
  readonly layer: number | null;
  /** Weight bytes read (each element once per token tile that uses it). */
  readonly weightBytes: number;
  /** KV-cache bytes read (attention: each query reads the cached k and v of the positions it sees). */
  readonly kvReadBytes: number;
  /** KV-cache bytes written (k and v of every prompt position). */
  readonly kvWriteBytes: number;
  /** Multiply-adds × 2 of the matmuls and attention (norms, RoPE, softmax and SwiGLU not counted, as for the decode). */
  readonly flops: number;
  /** Invocations along x (rows, tiles, …) and along y (token tiles). */
  readonly grid: readonly [number, number];
}

export interface PrefillPlan {
  /** Prompt tokens T, at positions startPos … startPos+T−1. */
  readonly tokens: number;
  readonly startPos: number;
  /** Positions whose logits are computed: all T, or only the last. */
  readonly logits: 'all' | 'last';
  readonly tile: { readonly tokens: number; readonly rows: number };
  /** Token tiles of the prompt, ⌈T / tile⌉, and of the positions whose logits are computed. */
  readonly tiles: number;
  readonly logitTiles: number;
  readonly kernels: readonly PrefillKernel[];
  /** Totals over the kernels. */
  readonly weightBytes: number;
  readonly kvReadBytes: number;
  readonly kvWriteBytes: number;
  readonly flops: number;
}

/**
 * The conventional GPU's prefill of `T` prompt tokens as one batch, in closed form. Off-chip bytes:
 * every layer weight and norm once per token tile (⌈T/tile⌉ tiles), the final norm and classifier
 * once per tile of the positions whose logits are wanted, one embedding row per token, the KV
 * cache written once (2·L·T·kvDim values) and read by each query for the positions it sees
 * (2·kvDim·Σ_t (startPos+t+1) values per layer). FLOPs: 2·T·(matrix parameters) + per layer
 * 4·dim·Σ_t (startPos+t+1) for attention (the classifier only for the positions with logits).
 * Activations stay on chip (as for the decode).
 */
export function baselinePrefill(
  c: ModelConfig,
  T: number,
  startPos = 0,
  { logits = 'all', tile = PREFILL_TILE, bytesPerValue = 4 }: { logits?: 'all' | 'last'; tile?: { tokens: number; rows: number }; bytesPerValue?: number } = {},
): PrefillPlan {
  const kvd = kvDim(c);
  const B = bytesPerValue;
  const TT = tile.tokens;
  const tiles = Math.ceil(T / TT);
  const R = logits === 'all' ? T : 1; // positions with logits
  const logitTiles = Math.ceil(R / TT);
  const blocks = (rows: number) => Math.ceil(rows / tile.rows);
  let attended = 0; // Σ_t (startPos + t + 1)
  for (let t = 0; t < T; t++) attended += startPos + t + 1;
  const none = { kvReadBytes: 0, kvWriteBytes: 0 };
  const norm = (entry: PrefillEntry, name: string, layer: number | null, n: number): PrefillKernel => ({
    entry,
    name,
    layer,
    weightBytes: c.dim * B * n,
    ...none,
    flops: 0,
    grid: [n, 1],
  });
  const kernels: PrefillKernel[] = [
    { entry: 'pf_embed', name: 'embedding rows', layer: null, weightBytes: T * c.dim * B, ...none, flops: 0, grid: [T * c.dim, 1] },
  ];
  for (let l = 0; l < c.nLayers; l++) {
    kernels.push(
      norm('pf_norm_att', 'rmsnorm (attention)', l, tiles),
      {
        entry: 'pf_qkv',
        name: 'q, k, v; RoPE; KV-cache write',
        layer: l,
        weightBytes: (c.dim + 2 * kvd) * c.dim * B * tiles,
        kvReadBytes: 0,
        kvWriteBytes: 2 * T * kvd * B,
        flops: 2 * T * (c.dim + 2 * kvd) * c.dim,
        grid: [blocks(c.dim + 2 * kvd), tiles],
      },
      {
        entry: 'pf_attention',
        name: 'causal attention over the KV cache',
        layer: l,
        weightBytes: 0,
        kvReadBytes: 2 * kvd * attended * B,
        kvWriteBytes: 0,
        flops: 4 * c.dim * attended,
        grid: [T * c.nKvHeads, 1],
      },
      { entry: 'pf_wo', name: 'wo; residual', layer: l, weightBytes: c.dim * c.dim * B * tiles, ...none, flops: 2 * T * c.dim * c.dim, grid: [blocks(c.dim), tiles] },
      norm('pf_norm_ffn', 'rmsnorm (feed-forward)', l, tiles),
      {
        entry: 'pf_ffn_up',
        name: 'w1, w3; SwiGLU',
        layer: l,
        weightBytes: 2 * c.hiddenDim * c.dim * B * tiles,
        ...none,
        flops: 4 * T * c.hiddenDim * c.dim,
        // A tile of rows is rows/2 hidden units, each a w1 row and its w3 row.
        grid: [blocks(2 * c.hiddenDim), tiles],
      },
      { entry: 'pf_ffn_down', name: 'w2; residual', layer: l, weightBytes: c.dim * c.hiddenDim * B * tiles, ...none, flops: 2 * T * c.dim * c.hiddenDim, grid: [blocks(c.dim), tiles] },
    );
  }
  kernels.push(norm('pf_norm_final', 'final rmsnorm', null, logitTiles), {
    entry: 'pf_classifier',
    name: 'classifier',
    layer: null,
    weightBytes: c.vocabSize * c.dim * B * logitTiles,
    ...none,
    flops: 2 * R * c.vocabSize * c.dim,
    grid: [blocks(c.vocabSize), logitTiles],
  });
  const sum = (f: (k: PrefillKernel) => number) => kernels.reduce((a, k) => a + f(k), 0);
  return {
    tokens: T,
    startPos,
    logits,
    tile,
    tiles,
    logitTiles,
    kernels,
    weightBytes: sum((k) => k.weightBytes),
    kvReadBytes: sum((k) => k.kvReadBytes),
    kvWriteBytes: sum((k) => k.kvWriteBytes),
    flops: sum((k) => k.flops),
  };
}
