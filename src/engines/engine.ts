import type { ModelConfig } from '../model/config.ts';

export type EngineName = 'cpu' | 'gpu' | 'mesh';
export const ENGINE_NAMES: readonly EngineName[] = ['cpu', 'gpu', 'mesh'];

/**
 * The one interface every engine implements; the CLI, the benchmarks and the UI drive engines
 * only through it. An engine owns its state (KV cache, GPU buffers) until `dispose()`.
 */
export interface Engine {
  readonly name: EngineName;
  readonly config: ModelConfig;
  /** Human-readable description of where it runs (adapter, driver, mesh …). */
  readonly description: string;
  /** Positions the engine can hold (its KV cache): seq_len, or less where memory is short. */
  readonly context: number;
  /** token at pos -> logits (vocab,). Positions must be fed in order 0, 1, 2 … after reset(). */
  forward(token: number, pos: number): Promise<Float32Array>;
  /** Starts a new sequence (forgets the KV cache). */
  reset(): void;
  /** Frees everything the engine holds; the engine is unusable afterwards. */
  dispose(): void;
}
