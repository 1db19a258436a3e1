import { WafermeshError } from '../errors.ts';
import { kvDim, type ModelConfig } from './config.ts';

/**
 * A KV cache as one machine hands it to another: per layer and position, the keys (after RoPE)
 * and values of every KV coordinate, (layers, positions, kvDim) each — the reference's layout.
 */
export interface KvCache {
  readonly positions: number;
  readonly k: Float32Array;
  readonly v: Float32Array;
}

/** Refuses, in one line, a KV cache this model cannot take over (more positions than its context, or another shape). */
export function checkKvCache(c: ModelConfig, kv: KvCache, context = c.seqLen): void {
  const T = kv.positions;
  if (!Number.isInteger(T) || T < 1 || T > context) {
    throw new WafermeshError('bad-kv-cache', `a KV cache of ${T} positions does not fit a context of ${context}; hand over at most ${context} positions`);
  }
  const plane = c.nLayers * T * kvDim(c);
  if (kv.k.length !== plane || kv.v.length !== plane) {
    throw new WafermeshError('bad-kv-cache', `a KV cache of ${T} positions for this model holds ${plane} keys and ${plane} values, not ${kv.k.length} and ${kv.v.length}; it was made for another model`);
  }
}
