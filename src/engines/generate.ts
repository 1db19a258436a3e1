import { WafermeshError } from '../errors.ts';
import { BOS } from '../model/config.ts';
import { Sampler, type SamplerOptions } from '../model/sampler.ts';
import type { Engine } from './engine.ts';

export interface GenerateOptions extends SamplerOptions {
  /** Ids to start from: BOS then the encoded prompt. */
  promptIds: readonly number[];
  /** Generated ids wanted (fewer if the model emits BOS or the context ends). */
  tokens: number;
}

export type StopReason = 'tokens' | 'bos' | 'context';

export interface GenerateResult {
  ids: number[]; // generated ids only (not the prompt's, not the final BOS)
  stop: StopReason;
  forwardPasses: number;
  /** Wall-clock ms of each forward pass, in order. */
  forwardMs: number[];
  totalMs: number;
}

/** Refuses a prompt (ids with BOS) longer than the context the engine holds. */
export function checkPromptFits(promptLength: number, engine: Pick<Engine, 'context' | 'config'>): void {
  if (promptLength > engine.context) {
    const why = engine.context < engine.config.seqLen ? `this engine's KV cache holds ${engine.context} positions (seq_len ${engine.config.seqLen})` : `the context (seq_len) is ${engine.context}`;
    throw new WafermeshError('prompt-too-long', `the prompt is ${promptLength} tokens with BOS but ${why}; shorten the prompt`);
  }
}

/**
 * llama2.c's generation loop: feed BOS and the prompt, then sample; stop when the model emits
 * BOS, when `tokens` ids were generated, or when the context is full (positions 0 … seqLen−1).
 * `onToken` sees each generated id as it is produced.
 */
export async function generate(
  engine: Engine,
  options: GenerateOptions,
  onToken?: (id: number, index: number) => void,
): Promise<GenerateResult> {
  const c = engine.config;
  const prompt = options.promptIds;
  if (prompt.length === 0 || prompt[0] !== BOS) {
    throw new WafermeshError('bad-prompt', 'prompt ids must start with BOS (id 1)');
  }
  checkPromptFits(prompt.length, engine);
  if (!Number.isInteger(options.tokens) || options.tokens < 0) {
    throw new WafermeshError('bad-option', `tokens = ${options.tokens} must be a whole number ≥ 0`);
  }
  for (const id of prompt) {
    if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
      throw new WafermeshError('bad-prompt', `prompt id ${id} is outside the vocabulary 0…${c.vocabSize - 1}`);
    }
  }
  const sampler = new Sampler(options);
  const passes = Math.min(prompt.length - 1 + options.tokens, engine.context);
  const ids: number[] = [];
  const forwardMs: number[] = [];
  let stop: StopReason = passes < prompt.length - 1 + options.tokens ? 'context' : 'tokens';
  engine.reset();
  const t0 = performance.now();
  let token = prompt[0];
  let pos = 0;
  while (pos < passes) {
    const t = performance.now();
    const logits = await engine.forward(token, pos);
    forwardMs.push(performance.now() - t);
    const next = pos < prompt.length - 1 ? prompt[pos + 1] : sampler.sample(logits);
    pos++;
    if (pos >= prompt.length) {
      if (next === BOS) {
        stop = 'bos';
        break;
      }
      ids.push(next);
      onToken?.(next, ids.length - 1);
    }
    token = next;
  }
  return { ids, stop, forwardPasses: forwardMs.length, forwardMs, totalMs: performance.now() - t0 };
}
