import { personMessage, WafermeshError } from '../errors.ts';
import { headSize, makeConfig, tensorSizes, checkpointBytes, type ModelConfig } from './config.ts';
import { WEIGHT_ORDER, type Model, type Weights } from './weights.ts';

const HEADER_INTS = 7;
const HEADER_BYTES = HEADER_INTS * 4;

/**
 * Reads a llama2.c version-0 checkpoint: 7 little-endian int32 (dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size, seq_len; vocab_size < 0 means a separate classifier), then
 * float32 tensors in WEIGHT_ORDER, the two legacy freq_cis tables, and wcls if separate.
 * Everything is checked: the header's ranges, the size it implies against the file's, and that
 * no weight is NaN or infinite.
 */
export function readCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Model {
  const config = readCheckpointHeader(bytes, bytes.byteLength, source);
  // Copy the floats once into an aligned buffer; tensors are views into it.
  const floats = new Float32Array((bytes.byteLength - HEADER_BYTES) / 4);
  new Uint8Array(floats.buffer).set(bytes.subarray(HEADER_BYTES));
  const sizes = tensorSizes(config);
  let off = 0;
  const take = (n: number) => {
    const t = floats.subarray(off, off + n);
    off += n;
    return t;
  };
  const w: Partial<Weights> = {};
  for (const k of WEIGHT_ORDER) w[k] = take(sizes[k]);
  take(sizes.freqCisReal);
  take(sizes.freqCisImag);
  w.wcls = config.sharedClassifier ? w.tokenEmbedding : take(sizes.wcls);
  const weights = w as Weights;
  checkFinite(weights, source);
  return { config, weights, source };
}

/**
 * The config from a checkpoint's first 28 bytes, checked against the file's size (`fileBytes`)
 * without reading the weights: `fit` and `trace` need no more.
 */
export function readCheckpointHeader(bytes: Uint8Array, fileBytes: number, source = 'checkpoint'): ModelConfig {
  if (bytes.byteLength < HEADER_BYTES) {
    throw new WafermeshError(
      'bad-checkpoint',
      `${source} is ${bytes.byteLength} bytes, shorter than the 28-byte llama2.c header; it is truncated or not a checkpoint`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = Array.from({ length: HEADER_INTS }, (_, i) => view.getInt32(i * 4, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = h;
  let config: ModelConfig;
  try {
    config = makeConfig({
      dim,
      hiddenDim,
      nLayers,
      nHeads,
      nKvHeads,
      vocabSize: Math.abs(vocabRaw),
      seqLen,
      sharedClassifier: vocabRaw > 0,
    });
  } catch (e) {
    throw new WafermeshError('bad-checkpoint', `${source}: header [${h.join(', ')}] is not a valid model (${personMessage(e)})`);
  }
  const expected = checkpointBytes(config);
  if (fileBytes !== expected) {
    const what = fileBytes < expected ? 'truncated' : 'longer than its header says';
    throw new WafermeshError(
      'bad-checkpoint',
      `${source} is ${fileBytes} bytes but its header (${h.join(', ')}) implies ${expected}; the file is ${what}`,
    );
  }
  return config;
}

/**
 * The largest weight magnitude accepted: 2^64. A larger weight's square overflows float32 (whose
 * largest value is about 2^128), so the first RMSNorm's Σx² is infinite in f32 arithmetic: the
 * GPU and the wafer then compute garbage (1/√∞ = 0 gives all-zero logits, not an error) where the
 * CPU reference, in f64, meets Infinity and NaN. Refusing such checkpoints when they are read makes
 * every engine refuse them, the same way, before anything runs.
 */
export const MAX_WEIGHT_MAGNITUDE = 2 ** 64;

/** The tensors as llama2.c's run.c names them, for messages a person reads. */
const TENSOR_NAMES: Record<(typeof WEIGHT_ORDER)[number] | 'wcls', string> = {
  tokenEmbedding: 'token_embedding_table',
  rmsAtt: 'rms_att_weight',
  wq: 'wq',
  wk: 'wk',
  wv: 'wv',
  wo: 'wo',
  rmsFfn: 'rms_ffn_weight',
  w1: 'w1',
  w2: 'w2',
  w3: 'w3',
  rmsFinal: 'rms_final_weight',
  wcls: 'wcls',
};

/** Throws naming the first tensor and index holding NaN, ±Infinity, or a value beyond MAX_WEIGHT_MAGNITUDE. */
export function checkFinite(w: Weights, source: string): void {
  const names = [...WEIGHT_ORDER, 'wcls'] as const;
  for (const key of names) {
    const t = w[key];
    const k = TENSOR_NAMES[key];
    for (let i = 0; i < t.length; i++) {
      const v = t[i];
      if (!Number.isFinite(v)) {
        throw new WafermeshError(
          'bad-checkpoint',
          `${source}: weight ${k}[${i}] is ${v}; the checkpoint is corrupt (re-export or re-download it)`,
        );
      }
      if (Math.abs(v) > MAX_WEIGHT_MAGNITUDE) {
        throw new WafermeshError(
          'bad-checkpoint',
          `${source}: weight ${k}[${i}] is ${v.toPrecision(3)}, beyond ±1.8e19: its square overflows float32, so every engine would compute non-finite values; the checkpoint is corrupt (re-export or re-download it)`,
        );
      }
    }
  }
}

/** Writes a llama2.c version-0 checkpoint that llama2.c's run.c and readCheckpoint both read. */
export function writeCheckpoint(model: Pick<Model, 'config' | 'weights'>): Uint8Array {
  const { config: c, weights: w } = model;
  const out = new Uint8Array(checkpointBytes(c));
  const view = new DataView(out.buffer);
  const header = [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.sharedClassifier ? c.vocabSize : -c.vocabSize, c.seqLen];
  header.forEach((v, i) => view.setInt32(i * 4, v, true));
  const floats = new Float32Array(out.buffer, HEADER_BYTES);
  const sizes = tensorSizes(c);
  let off = 0;
  const put = (t: Float32Array, n: number, name: string) => {
    if (t.length !== n) throw new WafermeshError('bad-model', `tensor ${name} has ${t.length} values, the config needs ${n}`);
    floats.set(t, off);
    off += n;
  };
  for (const k of WEIGHT_ORDER) put(w[k], sizes[k], k);
  // The legacy freq_cis tables llama2.c skips: written with the values they once held.
  const hs = headSize(c);
  const re = new Float32Array(sizes.freqCisReal);
  const im = new Float32Array(sizes.freqCisImag);
  for (let p = 0; p < c.seqLen; p++) {
    for (let i = 0; i < hs / 2; i++) {
      const angle = p / Math.pow(10000, (2 * i) / hs);
      re[p * (hs / 2) + i] = Math.cos(angle);
      im[p * (hs / 2) + i] = Math.sin(angle);
    }
  }
  put(re, sizes.freqCisReal, 'freq_cis_real');
  put(im, sizes.freqCisImag, 'freq_cis_imag');
  if (!c.sharedClassifier) put(w.wcls, sizes.wcls, 'wcls');
  return out;
}
