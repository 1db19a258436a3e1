import { WafermeshError } from '../errors.ts';
import { checkKvCache } from './kv.ts';
import { headSize, kvDim, type ModelConfig } from './config.ts';
import { matmul, matvec, rmsnorm, rope, softmax, swiglu } from './ops.ts';
import type { Model, Weights } from './weights.ts';

/**
 * The CPU reference decode: one readable forward pass in the manner of llama2.c's `forward()`.
 * It is the oracle every engine is checked against, token for token.
 */
export class ReferenceTransformer {
  readonly config: ModelConfig;
  private readonly w: Weights;
  // Activations of one position.
  private readonly x: Float32Array; // (dim,) residual stream
  private readonly xb: Float32Array; // (dim,)
  private readonly xb2: Float32Array; // (dim,)
  private readonly hb: Float32Array; // (hidden,)
  private readonly hb2: Float32Array; // (hidden,)
  private readonly q: Float32Array; // (dim,)
  private readonly att: Float32Array; // (nHeads, seqLen) scores
  private readonly logits: Float32Array; // (vocab,)
  // The KV cache.
  private readonly keyCache: Float32Array; // (L, seqLen, kvDim)
  private readonly valueCache: Float32Array; // (L, seqLen, kvDim)

  constructor(model: Model) {
    const c = (this.config = model.config);
    this.w = model.weights;
    this.x = new Float32Array(c.dim);
    this.xb = new Float32Array(c.dim);
    this.xb2 = new Float32Array(c.dim);
    this.hb = new Float32Array(c.hiddenDim);
    this.hb2 = new Float32Array(c.hiddenDim);
    this.q = new Float32Array(c.dim);
    this.att = new Float32Array(c.nHeads * c.seqLen);
    this.logits = new Float32Array(c.vocabSize);
    this.keyCache = new Float32Array(c.nLayers * c.seqLen * kvDim(c));
    this.valueCache = new Float32Array(c.nLayers * c.seqLen * kvDim(c));
  }

  /**
   * A copy of the KV cache's first `positions` positions, (layers, positions, kvDim) keys (after
   * RoPE) and values: what a prefill hands to another machine.
   */
  kvCache(positions: number): { positions: number; k: Float32Array; v: Float32Array } {
    const c = this.config;
    const kvd = kvDim(c);
    const k = new Float32Array(c.nLayers * positions * kvd);
    const v = new Float32Array(c.nLayers * positions * kvd);
    for (let l = 0; l < c.nLayers; l++) {
      const from = l * c.seqLen * kvd;
      k.set(this.keyCache.subarray(from, from + positions * kvd), l * positions * kvd);
      v.set(this.valueCache.subarray(from, from + positions * kvd), l * positions * kvd);
    }
    return { positions, k, v };
  }

  /** Takes over a KV cache (positions 0 … kv.positions − 1, the layout kvCache() gives), as if it had run them. */
  loadKv(kv: { positions: number; k: Float32Array; v: Float32Array }): void {
    const c = this.config;
    checkKvCache(c, kv);
    const kvd = kvDim(c);
    const T = kv.positions;
    for (let l = 0; l < c.nLayers; l++) {
      this.keyCache.set(kv.k.subarray(l * T * kvd, (l + 1) * T * kvd), l * c.seqLen * kvd);
      this.valueCache.set(kv.v.subarray(l * T * kvd, (l + 1) * T * kvd), l * c.seqLen * kvd);
    }
  }

  /** Forgets the KV cache (a new sequence). */
  reset(): void {
    this.keyCache.fill(0);
    this.valueCache.fill(0);
  }

  /** token at position pos -> logits (vocab,). The returned array is reused by the next call. */
  forward(token: number, pos: number): Float32Array {
    const c = this.config;
    const w = this.w;
    const { x, xb, xb2, hb, hb2, q, att } = this;
    const dim = c.dim;
    const hidden = c.hiddenDim;
    const hs = headSize(c);
    const kvd = kvDim(c);
    const kvMul = c.nHeads / c.nKvHeads; // query heads per KV head
    checkStep(c, token, pos);

    x.set(w.tokenEmbedding.subarray(token * dim, (token + 1) * dim));

    for (let l = 0; l < c.nLayers; l++) {
      // Attention: rmsnorm, then q, k, v for this position; k and v go straight into the cache.
      rmsnorm(xb, x, w.rmsAtt, dim, l * dim);
      const cacheOff = l * c.seqLen * kvd; // layer l's (seqLen, kvDim) block
      const k = this.keyCache.subarray(cacheOff + pos * kvd, cacheOff + (pos + 1) * kvd);
      const v = this.valueCache.subarray(cacheOff + pos * kvd, cacheOff + (pos + 1) * kvd);
      matvec(q, xb, w.wq, dim, dim, l * dim * dim);
      matvec(k, xb, w.wk, dim, kvd, l * kvd * dim);
      matvec(v, xb, w.wv, dim, kvd, l * kvd * dim);
      rope(q, dim, pos, hs);
      rope(k, kvd, pos, hs);

      // Grouped-query attention over positions 0 … pos.
      for (let h = 0; h < c.nHeads; h++) {
        const qo = h * hs;
        const kvo = Math.floor(h / kvMul) * hs;
        const ao = h * c.seqLen;
        for (let t = 0; t <= pos; t++) {
          const ko = cacheOff + t * kvd + kvo;
          let score = 0;
          for (let i = 0; i < hs; i++) score += q[qo + i] * this.keyCache[ko + i];
          att[ao + t] = score / Math.sqrt(hs);
        }
        softmax(att, pos + 1, ao);
        xb.fill(0, qo, qo + hs);
        for (let t = 0; t <= pos; t++) {
          const vo = cacheOff + t * kvd + kvo;
          const a = att[ao + t];
          for (let i = 0; i < hs; i++) xb[qo + i] += a * this.valueCache[vo + i];
        }
      }
      matvec(xb2, xb, w.wo, dim, dim, l * dim * dim);
      for (let i = 0; i < dim; i++) x[i] += xb2[i];

      // Feed-forward: rmsnorm, then w2(silu(w1 x) * w3 x).
      rmsnorm(xb, x, w.rmsFfn, dim, l * dim);
      matvec(hb, xb, w.w1, dim, hidden, l * hidden * dim);
      matvec(hb2, xb, w.w3, dim, hidden, l * hidden * dim);
      swiglu(hb, hb2, hidden);
      matvec(xb, hb, w.w2, hidden, dim, l * dim * hidden);
      for (let i = 0; i < dim; i++) x[i] += xb[i];
    }

    rmsnorm(x, x, w.rmsFinal, dim);
    matvec(this.logits, x, w.wcls, dim, c.vocabSize);
    return this.logits;
  }

  /**
   * The prompt as a batch (prefill): `tokens` (T,) at positions startPos … startPos+T−1 -> the
   * logits of every one of those positions, (T, vocab), a new array. One pass over the weights for
   * the whole prompt: each layer's matmuls take the (T, dim) activations at once (every weight row
   * is read once and applied to all T rows); attention is causal, over the cache before startPos
   * and the prompt up to each position; RoPE per position. It writes the KV cache exactly as T
   * calls of forward() would, and each position's logits equal forward()'s bit for bit (every sum
   * is taken in forward's order). Positions before startPos must already be in the cache.
   */
  prefill(tokens: readonly number[], startPos = 0): Float32Array {
    const c = this.config;
    const w = this.w;
    const att = this.att;
    const dim = c.dim;
    const hidden = c.hiddenDim;
    const hs = headSize(c);
    const kvd = kvDim(c);
    const kvMul = c.nHeads / c.nKvHeads;
    checkPrefill(c, tokens, startPos);
    const T = tokens.length;
    const row = (a: Float32Array, t: number, n: number) => a.subarray(t * n, (t + 1) * n);
    const x = new Float32Array(T * dim); // (T, dim) residual streams
    const xb = new Float32Array(T * dim); // (T, dim)
    const xb2 = new Float32Array(T * dim); // (T, dim)
    const q = new Float32Array(T * dim); // (T, dim)
    const hb = new Float32Array(T * hidden); // (T, hidden)
    const hb2 = new Float32Array(T * hidden); // (T, hidden)

    for (let t = 0; t < T; t++) x.set(w.tokenEmbedding.subarray(tokens[t] * dim, (tokens[t] + 1) * dim), t * dim);

    for (let l = 0; l < c.nLayers; l++) {
      // q, k, v of every prompt position; k and v go straight into the cache at startPos … startPos+T−1.
      for (let t = 0; t < T; t++) rmsnorm(row(xb, t, dim), row(x, t, dim), w.rmsAtt, dim, l * dim);
      const cacheOff = l * c.seqLen * kvd; // layer l's (seqLen, kvDim) block
      const k = this.keyCache.subarray(cacheOff + startPos * kvd, cacheOff + (startPos + T) * kvd); // (T, kvDim)
      const v = this.valueCache.subarray(cacheOff + startPos * kvd, cacheOff + (startPos + T) * kvd); // (T, kvDim)
      matmul(q, xb, w.wq, T, dim, dim, l * dim * dim);
      matmul(k, xb, w.wk, T, dim, kvd, l * kvd * dim);
      matmul(v, xb, w.wv, T, dim, kvd, l * kvd * dim);
      for (let t = 0; t < T; t++) {
        rope(row(q, t, dim), dim, startPos + t, hs);
        rope(row(k, t, kvd), kvd, startPos + t, hs);
      }

      // Causal grouped-query attention: position startPos+t sees positions 0 … startPos+t.
      for (let t = 0; t < T; t++) {
        const pos = startPos + t;
        for (let h = 0; h < c.nHeads; h++) {
          const qo = t * dim + h * hs;
          const kvo = Math.floor(h / kvMul) * hs;
          const ao = h * c.seqLen;
          for (let p = 0; p <= pos; p++) {
            const ko = cacheOff + p * kvd + kvo;
            let score = 0;
            for (let i = 0; i < hs; i++) score += q[qo + i] * this.keyCache[ko + i];
            att[ao + p] = score / Math.sqrt(hs);
          }
          softmax(att, pos + 1, ao);
          xb.fill(0, qo, qo + hs);
          for (let p = 0; p <= pos; p++) {
            const vo = cacheOff + p * kvd + kvo;
            const a = att[ao + p];
            for (let i = 0; i < hs; i++) xb[qo + i] += a * this.valueCache[vo + i];
          }
        }
      }
      matmul(xb2, xb, w.wo, T, dim, dim, l * dim * dim);
      for (let i = 0; i < T * dim; i++) x[i] += xb2[i];

      // Feed-forward on all T rows: rmsnorm, then w2(silu(w1 x) * w3 x).
      for (let t = 0; t < T; t++) rmsnorm(row(xb, t, dim), row(x, t, dim), w.rmsFfn, dim, l * dim);
      matmul(hb, xb, w.w1, T, dim, hidden, l * hidden * dim);
      matmul(hb2, xb, w.w3, T, dim, hidden, l * hidden * dim);
      swiglu(hb, hb2, T * hidden);
      matmul(xb, hb, w.w2, T, hidden, dim, l * dim * hidden);
      for (let i = 0; i < T * dim; i++) x[i] += xb[i];
    }

    for (let t = 0; t < T; t++) rmsnorm(row(x, t, dim), row(x, t, dim), w.rmsFinal, dim);
    const logits = new Float32Array(T * c.vocabSize); // (T, vocab)
    matmul(logits, x, w.wcls, T, dim, c.vocabSize);
    return logits;
  }
}

/**
 * Refuses a prompt batch the model cannot take: no tokens, an id outside the vocabulary, or
 * positions startPos … startPos+T−1 past the context (shared by every engine's prefill).
 */
export function checkPrefill(c: ModelConfig, tokens: readonly number[], startPos: number): void {
  if (tokens.length === 0) throw new WafermeshError('bad-prompt', 'prefill needs at least one token');
  if (!Number.isInteger(startPos) || startPos < 0) {
    throw new WafermeshError('context-full', `prefill start position ${startPos} is not a whole number ≥ 0`);
  }
  if (startPos + tokens.length > c.seqLen) {
    throw new WafermeshError(
      'context-full',
      `prefill of ${tokens.length} tokens from position ${startPos} reaches position ${startPos + tokens.length - 1}, outside the context 0…${c.seqLen - 1} (seq_len ${c.seqLen}); shorten the prompt`,
    );
  }
  for (const token of tokens) checkStep(c, token, startPos);
}

/** Refuses a token or position the model cannot take (shared by every engine). */
export function checkStep(c: ModelConfig, token: number, pos: number): void {
  if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
    throw new WafermeshError('bad-token', `token id ${token} is outside the vocabulary 0…${c.vocabSize - 1}`);
  }
  if (!Number.isInteger(pos) || pos < 0 || pos >= c.seqLen) {
    throw new WafermeshError('context-full', `position ${pos} is outside the context 0…${c.seqLen - 1} (seq_len ${c.seqLen})`);
  }
}
