import { WafermeshError } from '../errors.ts';

/** The shape of a Llama-architecture decoder, as in llama2.c's `Config`. Frozen once built. */
export interface ModelConfig {
  readonly dim: number; // transformer width
  readonly hiddenDim: number; // SwiGLU hidden width
  readonly nLayers: number;
  readonly nHeads: number; // query heads
  readonly nKvHeads: number; // key/value heads (grouped-query attention when < nHeads)
  readonly vocabSize: number;
  readonly seqLen: number; // context length: positions 0 … seqLen−1
  readonly sharedClassifier: boolean; // classifier == token embedding (llama2.c: vocab_size > 0)
}

export const BOS = 1;
export const EOS = 2;

/** Bounds that keep an absurd header from allocating the machine away. */
const LIMITS = {
  dim: 1 << 16,
  hiddenDim: 1 << 18,
  nLayers: 1 << 10,
  nHeads: 1 << 10,
  vocabSize: 1 << 20,
  seqLen: 1 << 20,
};

/** The fields as llama2.c's header and config.json name them, for messages a person reads. */
const HEADER_NAMES: Record<keyof typeof LIMITS | 'nKvHeads', string> = {
  dim: 'dim',
  hiddenDim: 'hidden_dim',
  nLayers: 'n_layers',
  nHeads: 'n_heads',
  nKvHeads: 'n_kv_heads',
  vocabSize: 'vocab_size',
  seqLen: 'seq_len',
};

/** Where a config came from, for its messages: its fields' names there and what to do about a bad one. */
export interface ConfigSource {
  readonly names: Readonly<Record<keyof typeof LIMITS | 'nKvHeads', string>>;
  readonly advice: string;
}

const HEADER: ConfigSource = { names: HEADER_NAMES, advice: 'the checkpoint header is corrupt or not a llama2.c version-0 file' };

/** Validates and freezes a config; throws a one-line WafermeshError naming the bad field as its source names it. */
export function makeConfig(c: ModelConfig, source: ConfigSource = HEADER): ModelConfig {
  const field = (name: keyof typeof LIMITS | 'nKvHeads', v: number, max: number) => {
    if (!Number.isInteger(v) || v < 1 || v > max) {
      throw new WafermeshError('bad-config', `${source.names[name]} = ${v} is not a whole number in 1…${max}; ${source.advice}`);
    }
  };
  field('dim', c.dim, LIMITS.dim);
  field('hiddenDim', c.hiddenDim, LIMITS.hiddenDim);
  field('nLayers', c.nLayers, LIMITS.nLayers);
  field('nHeads', c.nHeads, LIMITS.nHeads);
  field('nKvHeads', c.nKvHeads, c.nHeads);
  field('vocabSize', c.vocabSize, LIMITS.vocabSize);
  field('seqLen', c.seqLen, LIMITS.seqLen);
  if (c.dim % c.nHeads !== 0) {
    throw new WafermeshError('bad-config', `dim = ${c.dim} is not a multiple of n_heads = ${c.nHeads}; each head needs an equal slice`);
  }
  if ((c.dim / c.nHeads) % 2 !== 0) {
    throw new WafermeshError('bad-config', `head size ${c.dim / c.nHeads} (dim ${c.dim} / n_heads ${c.nHeads}) is odd; rotary embeddings rotate pairs`);
  }
  if (c.nHeads % c.nKvHeads !== 0) {
    throw new WafermeshError('bad-config', `n_heads = ${c.nHeads} is not a multiple of n_kv_heads = ${c.nKvHeads}; query heads must share KV heads evenly`);
  }
  if (c.vocabSize < 3) {
    throw new WafermeshError('bad-config', `vocab_size = ${c.vocabSize} is below 3; ids 1 (BOS) and 2 (EOS) must exist`);
  }
  return Object.freeze({ ...c });
}

export const headSize = (c: ModelConfig): number => c.dim / c.nHeads;
export const kvDim = (c: ModelConfig): number => (c.dim * c.nKvHeads) / c.nHeads;

/** Number of float32 values of each tensor, in llama2.c's file order. */
export function tensorSizes(c: ModelConfig) {
  const hs = headSize(c);
  const kv = kvDim(c);
  const L = c.nLayers;
  return {
    tokenEmbedding: c.vocabSize * c.dim, // (vocab, dim)
    rmsAtt: L * c.dim, // (L, dim)
    wq: L * c.dim * c.dim, // (L, dim, dim)
    wk: L * kv * c.dim, // (L, kvDim, dim)
    wv: L * kv * c.dim, // (L, kvDim, dim)
    wo: L * c.dim * c.dim, // (L, dim, dim)
    rmsFfn: L * c.dim, // (L, dim)
    w1: L * c.hiddenDim * c.dim, // (L, hidden, dim)
    w2: L * c.dim * c.hiddenDim, // (L, dim, hidden)
    w3: L * c.hiddenDim * c.dim, // (L, hidden, dim)
    rmsFinal: c.dim, // (dim,)
    freqCisReal: (c.seqLen * hs) / 2, // (seq, head/2), legacy, unused
    freqCisImag: (c.seqLen * hs) / 2, // (seq, head/2), legacy, unused
    wcls: c.sharedClassifier ? 0 : c.vocabSize * c.dim, // (vocab, dim)
  };
}

/** Trainable parameters (the legacy RoPE tables and a shared classifier are not counted twice). */
export function parameterCount(c: ModelConfig): number {
  const s = tensorSizes(c);
  return (
    s.tokenEmbedding + s.rmsAtt + s.wq + s.wk + s.wv + s.wo + s.rmsFfn + s.w1 + s.w2 + s.w3 + s.rmsFinal + s.wcls
  );
}

/** Bytes of a llama2.c version-0 file for this config: 7 int32 then float32 tensors. */
export function checkpointBytes(c: ModelConfig): number {
  const s = tensorSizes(c);
  let floats = 0;
  for (const v of Object.values(s)) floats += v;
  return 7 * 4 + floats * 4;
}

export function describeConfig(c: ModelConfig): string {
  return (
    `dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads / ${c.nKvHeads} kv heads, ` +
    `vocab ${c.vocabSize}, seq_len ${c.seqLen}, ${c.sharedClassifier ? 'shared' : 'separate'} classifier`
  );
}
