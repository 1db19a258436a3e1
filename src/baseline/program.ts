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
