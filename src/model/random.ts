import { WafermeshError } from '../errors.ts';
import { makeConfig, parameterCount, tensorSizes, type ConfigSource, type ModelConfig } from './config.ts';

/** Random weights are built in memory; past this they would take the machine with them. */
const MAX_RANDOM_BYTES = 2 ** 30;
import { Rng } from './rng.ts';
import { WEIGHT_ORDER, type Model, type Weights } from './weights.ts';

/**
 * A seeded random model of any shape, for tests and benchmark sweeps without files. Matrices are
 * N(0, (2/√fan_in)²) and embeddings N(0, 0.1²): with these gains the layers, not the embedding,
 * dominate the residual stream, so greedy decoding wanders through many ids instead of repeating
 * its input (token-for-token comparisons need varied sequences); norm weights are near 1.
 */
const MATRIX_GAIN = 2;
const EMBEDDING_STD = 0.1;

export function randomModel(config: ModelConfig, seed = 1): Model {
  const c = makeConfig(config);
  const bytes = parameterCount(c) * 4;
  if (bytes > MAX_RANDOM_BYTES) {
    throw new WafermeshError(
      'model-too-large',
      `a random model of ${parameterCount(c)} parameters needs ${bytes} bytes of weights, over the 1 GiB this emulator builds; \`fit\` and \`trace\` take any size`,
    );
  }
  const rng = new Rng(seed);
  const sizes = tensorSizes(c);
  const fanIn: Record<string, number> = { wq: c.dim, wk: c.dim, wv: c.dim, wo: c.dim, w1: c.dim, w3: c.dim, w2: c.hiddenDim };
  const w: Partial<Weights> = {};
  const fill = (n: number, kind: 'norm' | 'matrix' | 'embedding', fan = 1) => {
    const t = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (kind === 'norm') t[i] = 1 + 0.1 * rng.nextNormal();
      else if (kind === 'embedding') t[i] = EMBEDDING_STD * rng.nextNormal();
      else t[i] = (MATRIX_GAIN * rng.nextNormal()) / Math.sqrt(fan);
    }
    return t;
  };
  for (const k of WEIGHT_ORDER) {
    if (k === 'tokenEmbedding') w[k] = fill(sizes[k], 'embedding');
    else if (k.startsWith('rms')) w[k] = fill(sizes[k], 'norm');
    else w[k] = fill(sizes[k], 'matrix', fanIn[k]);
  }
  w.wcls = c.sharedClassifier ? w.tokenEmbedding : fill(sizes.wcls, 'matrix', c.dim);
  return { config: c, weights: w as Weights, source: `random(${specOf(c, seed)})` };
}

const SPEC_KEYS = {
  dim: 'dim',
  hidden: 'hiddenDim',
  layers: 'nLayers',
  heads: 'nHeads',
  kv: 'nKvHeads',
  vocab: 'vocabSize',
  seq: 'seqLen',
} as const;

export const DEFAULT_RANDOM: ModelConfig = {
  dim: 64,
  hiddenDim: 172,
  nLayers: 5,
  nHeads: 8,
  nKvHeads: 4,
  vocabSize: 512,
  seqLen: 512,
  sharedClassifier: true,
};

/** "dim=64,hidden=172,layers=5,heads=8,kv=4,vocab=512,seq=512,shared=1,seed=1" */
export function specOf(c: ModelConfig, seed: number): string {
  const parts = Object.entries(SPEC_KEYS).map(([k, f]) => `${k}=${c[f]}`);
  return [...parts, `shared=${c.sharedClassifier ? 1 : 0}`, `seed=${seed}`].join(',');
}

/** Parses the part after "random:"; missing keys take DEFAULT_RANDOM's values. */
export function parseRandomSpec(spec: string): { config: ModelConfig; seed: number } {
  const c: Record<string, number | boolean> = { ...DEFAULT_RANDOM };
  let seed = 1;
  for (const part of spec.split(',').filter((p) => p.trim() !== '')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n)) {
      throw new WafermeshError('bad-model', `random model key "${part}" needs a number, e.g. random:dim=64,layers=2`);
    }
    if (k === 'seed') {
      if (!Number.isInteger(n) || n < 0) throw new WafermeshError('bad-model', `random model seed=${v} must be a whole number ≥ 0`);
      seed = n;
    }
    else if (k === 'shared') c.sharedClassifier = n !== 0;
    else if (k in SPEC_KEYS) c[SPEC_KEYS[k as keyof typeof SPEC_KEYS]] = n;
    else {
      throw new WafermeshError('bad-model', `random model key "${k}" is unknown; use ${[...Object.keys(SPEC_KEYS), 'shared', 'seed'].join(', ')}`);
    }
  }
  const names = Object.fromEntries(Object.entries(SPEC_KEYS).map(([k, f]) => [f, `random:${k}`])) as ConfigSource['names'];
  return { config: makeConfig(c as unknown as ModelConfig, { names, advice: 'give the random model a size in that range' }), seed };
}
