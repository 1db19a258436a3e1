import { WafermeshError } from '../errors.ts';
import { Rng } from './rng.ts';

export interface SamplerOptions {
  temperature: number; // 0 = greedy (argmax)
  topP: number; // nucleus sampling threshold in (0, 1]; 1 = off
  seed: number;
}

/** Picks the next id from logits as llama2.c's sampler does: argmax, multinomial or top-p. */
export class Sampler {
  readonly options: SamplerOptions;
  private readonly rng: Rng;

  constructor(options: SamplerOptions) {
    const { temperature, topP, seed } = options;
    if (!Number.isFinite(temperature) || temperature < 0) {
      throw new WafermeshError('bad-option', `temperature = ${temperature} must be a number ≥ 0 (0 = greedy)`);
    }
    if (temperature > 0 && !Number.isFinite(1 / temperature)) {
      throw new WafermeshError('bad-option', `temperature = ${temperature} is too small to divide by; use 0 for greedy decoding`);
    }
    if (!Number.isFinite(topP) || topP <= 0 || topP > 1) {
      throw new WafermeshError('bad-option', `top-p = ${topP} must be in (0, 1] (1 = off)`);
    }
    if (!Number.isInteger(seed)) throw new WafermeshError('bad-option', `seed = ${seed} must be an integer`);
    this.options = { ...options };
    this.rng = new Rng(seed);
  }

  /** logits (vocab,) -> id. Does not modify logits. */
  sample(logits: Float32Array): number {
    for (let i = 0; i < logits.length; i++) {
      if (!Number.isFinite(logits[i])) {
        throw new WafermeshError('non-finite-logits', `logit ${i} is ${logits[i]}; the model produced non-finite values, so no token is sampled`);
      }
    }
    if (this.options.temperature === 0) return argmax(logits);
    const probs = softmaxScaled(logits, 1 / this.options.temperature);
    const coin = this.rng.nextFloat();
    return this.options.topP < 1 ? sampleTopP(probs, this.options.topP, coin) : sampleMult(probs, coin);
  }
}

/** x (n,) -> index of the first maximum. */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** logits (n,) * scale -> probabilities (n,), computed stably in float64. */
function softmaxScaled(logits: Float32Array, scale: number): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v * scale);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    p[i] = Math.exp(logits[i] * scale - max);
    sum += p[i];
  }
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

function sampleMult(probs: Float64Array, coin: number): number {
  let cdf = 0;
  for (let i = 0; i < probs.length; i++) {
    cdf += probs[i];
    if (coin < cdf) return i;
  }
  return probs.length - 1; // rounding
}

/** Top-p: sample among the smallest set of most likely ids whose mass exceeds topP. */
function sampleTopP(probs: Float64Array, topP: number, coin: number): number {
  // Ids below (1 - topP) / (n - 1) can never be in the nucleus (llama2.c's cutoff).
  const cutoff = (1 - topP) / (probs.length - 1);
  const ids: number[] = [];
  for (let i = 0; i < probs.length; i++) if (probs[i] >= cutoff) ids.push(i);
  // A nearly flat distribution can leave nothing above the cutoff: the nucleus is then the top id.
  if (ids.length === 0) return argmax(probs);
  ids.sort((a, b) => probs[b] - probs[a] || a - b);
  let mass = 0;
  let last = ids.length - 1;
  for (let i = 0; i < ids.length; i++) {
    mass += probs[ids[i]];
    if (mass > topP) {
      last = i;
      break;
    }
  }
  const r = coin * mass;
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf += probs[ids[i]];
    if (r < cdf) return ids[i];
  }
  return ids[last];
}
