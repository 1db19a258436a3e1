import type { ModelConfig } from './config.ts';

/**
 * All weights of a model as float32 arrays in llama2.c's layout (row-major, out × in per matrix).
 * A Model is (config, weights); `wcls` is the token embedding itself when the classifier is shared.
 */
export interface Weights {
  tokenEmbedding: Float32Array; // (vocab, dim)
  rmsAtt: Float32Array; // (L, dim)
  wq: Float32Array; // (L, dim, dim)
  wk: Float32Array; // (L, kvDim, dim)
  wv: Float32Array; // (L, kvDim, dim)
  wo: Float32Array; // (L, dim, dim)
  rmsFfn: Float32Array; // (L, dim)
  w1: Float32Array; // (L, hidden, dim)
  w2: Float32Array; // (L, dim, hidden)
  w3: Float32Array; // (L, hidden, dim)
  rmsFinal: Float32Array; // (dim,)
  wcls: Float32Array; // (vocab, dim)
}

export interface Model {
  readonly config: ModelConfig;
  readonly weights: Weights;
  /** Where it came from, for headers and messages: a path or a builder description. */
  readonly source: string;
}

/** The weight tensors in file order (without the legacy RoPE tables and the optional wcls). */
export const WEIGHT_ORDER = [
  'tokenEmbedding',
  'rmsAtt',
  'wq',
  'wk',
  'wv',
  'wo',
  'rmsFfn',
  'w1',
  'w2',
  'w3',
  'rmsFinal',
] as const satisfies readonly (keyof Weights)[];
