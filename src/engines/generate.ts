import { errorCode, WafermeshError } from '../errors.ts';
import { BOS } from '../model/config.ts';
import { Sampler, type SamplerOptions } from '../model/sampler.ts';
import type { Machine } from './machine.ts';

/** What generation needs of a machine. */
export type Decodable = Pick<Machine, 'context' | 'config' | 'forward' | 'reset'> & Partial<Pick<Machine, 'greedy' | 'prefill'>>;

export interface GenerateOptions extends SamplerOptions {
  /** Ids to start from: BOS then the encoded prompt. */
  promptIds: readonly number[];
  /** Generated ids wanted (fewer if the model emits BOS or the context ends). */
  tokens: number;
  /**
   * Feed the prompt as one batch where the machine can (Machine.prefill): the first step runs the
   * whole prompt and its last position's logits give the first generated id, as the prompt's last
   * forward pass would; the ids are the same. Off by default: one forward pass per prompt token.
   */
  prefill?: boolean;
}

export type StopReason = 'tokens' | 'bos' | 'context';

export interface GenerateResult {
  ids: number[]; // generated ids only (not the prompt's, not the final BOS)
  stop: StopReason;
  /** Steps run: forward passes, where a prefill (the whole prompt) counts as one. */
  forwardPasses: number;
  /** Wall-clock ms of each forward pass, in order. */
  forwardMs: number[];
  totalMs: number;
}

/** Refuses a prompt (ids with BOS) longer than the context the engine holds. */
export function checkPromptFits(promptLength: number, engine: Pick<Machine, 'context' | 'config'>): void {
  if (promptLength > engine.context) {
    const why = engine.context < engine.config.seqLen ? `this engine's KV cache holds ${engine.context} positions (seq_len ${engine.config.seqLen})` : `the context (seq_len) is ${engine.context}`;
    throw new WafermeshError('prompt-too-long', `the prompt is ${promptLength} tokens with BOS but ${why}; shorten the prompt`);
  }
}

/**
 * llama2.c's generation loop, one forward pass at a time: feed BOS and the prompt, then sample;
 * stop when the model emits BOS, when `tokens` ids were generated, or when the context is full.
 * The CLI runs it to the end (`generate`); the demo's worker steps it token by token, or feeds it
 * logits it computed pass by pass (`input` / `accept`).
 */
export class Decoder {
  readonly ids: number[] = [];
  stop: StopReason | undefined;
  private readonly sampler: Sampler;
  private readonly passes: number;
  private token: number;
  private pos = 0;
  /** The host chose the token to feed next (a prefill's first id): a greedy machine must be given it. */
  private hostChose = false;

  constructor(
    private readonly engine: Decodable,
    private readonly options: GenerateOptions,
  ) {
    const c = engine.config;
    const prompt = options.promptIds;
    if (prompt.length === 0 || prompt[0] !== BOS) throw new WafermeshError('bad-prompt', 'prompt ids must start with BOS (id 1)');
    checkPromptFits(prompt.length, engine);
    if (!Number.isInteger(options.tokens) || options.tokens < 0) {
      throw new WafermeshError('bad-option', `tokens = ${options.tokens} must be a whole number ≥ 0`);
    }
    for (const id of prompt) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
        throw new WafermeshError('bad-prompt', `prompt id ${id} is outside the vocabulary 0…${c.vocabSize - 1}`);
      }
    }
    this.sampler = new Sampler(options);
    this.passes = Math.min(prompt.length - 1 + options.tokens, engine.context);
    this.token = prompt[0];
    engine.reset();
    if (this.passes === 0) this.stop = 'tokens';
  }

  get done(): boolean {
    return this.stop !== undefined;
  }

  /** The next forward pass to run: this token at this position. */
  input(): { token: number; pos: number } {
    if (this.done) throw new WafermeshError('decoder-done', `generation has stopped (${this.stop}); start a new generation`);
    return { token: this.token, pos: this.pos };
  }

  /** Takes the logits of input(); returns the generated id, or undefined while the prompt is fed or when it stops. */
  accept(logits: Float32Array): number | undefined {
    const prompt = this.options.promptIds;
    if (this.pos < prompt.length - 1) return this.acceptId(prompt[this.pos + 1]);
    return this.acceptId(sameRefusal(this.pos, () => this.sampler.sample(logits)));
  }

  /** Takes the id that follows input() (the prompt's next id while it is fed). */
  private acceptId(sampled: number): number | undefined {
    const prompt = this.options.promptIds;
    const next = this.pos < prompt.length - 1 ? prompt[this.pos + 1] : sampled;
    this.pos++;
    let produced: number | undefined;
    if (this.pos >= prompt.length) {
      if (next === BOS) {
        this.stop = 'bos';
        return undefined;
      }
      this.ids.push(next);
      produced = next;
    }
    this.token = next;
    if (this.pos >= this.passes) this.stop = this.passes < prompt.length - 1 + this.options.tokens ? 'context' : 'tokens';
    return produced;
  }

  /**
   * Runs one forward pass on the engine. Greedy decoding on a machine that finds the id itself
   * (the mesh engine) keeps it there: the logits never leave, and after the prompt the machine
   * embeds the id it found. With `prefill` the first step feeds the whole prompt at once.
   */
  async step(): Promise<number | undefined> {
    const { token, pos } = this.input();
    const prompt = this.options.promptIds;
    // A prefill when asked for, the machine has one and an id is to be generated (otherwise only
    // the prompt's first P − 1 positions would be fed, one pass each, as without it).
    if (pos === 0 && this.options.prefill && this.engine.prefill && this.passes >= prompt.length) {
      const logits = await this.engine.prefill(prompt, 0);
      while (this.pos < prompt.length - 1) this.acceptId(prompt[this.pos + 1]);
      this.hostChose = true;
      return this.accept(logits);
    }
    if (this.sampler.options.temperature === 0 && this.engine.greedy) {
      const fed = pos < prompt.length || this.hostChose;
      this.hostChose = false;
      const greedy = this.engine.greedy.bind(this.engine);
      return this.acceptId(await sameRefusalAsync(pos, () => greedy(token, pos, fed)));
    }
    this.hostChose = false;
    return this.accept(await this.engine.forward(token, pos));
  }
}

/**
 * One refusal of non-finite logits whichever machine found them — the Sampler on logits read back
 * (cpu, gpu), or the wafer's own non-finite flag (greedy on the mesh) — so every engine refuses
 * a model the same way, in the same words, naming the position.
 */
function nonFiniteLogits(pos: number): WafermeshError {
  return new WafermeshError(
    'non-finite-logits',
    `a logit at position ${pos} is not finite (NaN or infinite), so no token is chosen; the model's weights overflow float32 arithmetic or are corrupt`,
  );
}

function sameRefusal<T>(pos: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw errorCode(e) === 'non-finite-logits' ? nonFiniteLogits(pos) : e;
  }
}

async function sameRefusalAsync<T>(pos: number, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw errorCode(e) === 'non-finite-logits' ? nonFiniteLogits(pos) : e;
  }
}

/** Runs a Decoder to the end; `onToken` sees each generated id as it is produced. */
export async function generate(engine: Decodable, options: GenerateOptions, onToken?: (id: number, index: number) => void): Promise<GenerateResult> {
  const d = new Decoder(engine, options);
  const forwardMs: number[] = [];
  const t0 = performance.now();
  while (!d.done) {
    const t = performance.now();
    const id = await d.step();
    forwardMs.push(performance.now() - t);
    if (id !== undefined) onToken?.(id, d.ids.length - 1);
  }
  return { ids: d.ids, stop: d.stop!, forwardPasses: forwardMs.length, forwardMs, totalMs: performance.now() - t0 };
}
