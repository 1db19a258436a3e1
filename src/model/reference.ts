import { WafermeshError } from '../errors.ts';
import { headSize, kvDim, type ModelConfig } from './config.ts';
import { matvec, rmsnorm, rope, softmax, swiglu } from './ops.ts';
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
