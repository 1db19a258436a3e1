import { CATALOG, modelEntry } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import { createMachine } from '../engines/index.ts';
import { Decoder } from '../engines/generate.ts';
import { loadModel, parseModelSpec } from '../model/load.ts';
import { TextStream } from '../model/tokenizer.ts';
import { cachedPredict } from './figures.ts';
import type { RealScaleMachine, RealScaleRace } from './types.ts';

/** The prompts the chained stories start from, one story each, in turn. */
const STORY_PROMPTS = ['Once upon a time', 'One day', 'There was a little', 'The sun was', 'Tom and Lily', 'A big dog'];
const TEMPERATURE = 0.8;
const TOP_P = 0.95;

/**
 * The seed article's comparison (../shared/seed/): a coding model served on a WSE-3 at "over
 * 1,000 tokens per second" against 65–70 tokens/s for the GPU-served model it is compared with.
 * Published claims, not our model: shown as such, at the low end of each range.
 */
export const SEED_COMPARISON = {
  mesh: { name: 'GPT-5.3-Codex-Spark on Cerebras WSE-3 (published: "over 1,000 tokens/s")', tokensPerS: 1000 },
  gpu: { name: 'GPT-5.3-Codex on GPUs (published: 65–70 tokens/s)', tokensPerS: 67.5 },
  source: 'the seed article (shared/seed/): OpenAI × Cerebras, early 2026',
};

export type RealScaleChoice = 'llama-8b' | 'seed';

/** The two speeds a real-scale race replays at: predict's for Llama-3.1-8B (fp16, 1,024 positions) on one WSE-3 against one H100, or the seed's published pair. */
export function realScaleMachines(choice: RealScaleChoice): { mesh: RealScaleMachine; gpu: RealScaleMachine } {
  if (choice === 'seed') {
    const note = `published, not modelled: ${SEED_COMPARISON.source}`;
    return {
      mesh: { name: SEED_COMPARISON.mesh.name, tokensPerS: SEED_COMPARISON.mesh.tokensPerS, kind: 'published', note },
      gpu: { name: SEED_COMPARISON.gpu.name, tokensPerS: SEED_COMPARISON.gpu.tokensPerS, kind: 'published', note },
    };
  }
  const id = 'llama-3.1-8b';
  const config = modelEntry(id)!.config!;
  const wafer = cachedPredict(id, config, 'wse-3');
  const gpu = cachedPredict(id, config, 'h100');
  const note = (p: typeof wafer) => `modelled by predict: ${p.model} at ${p.precision}, context ${p.context}, ${p.chips} × ${p.hardware}, bound by ${p.bound}`;
  return {
    mesh: { name: `Llama-3.1-8B on one WSE-3`, tokensPerS: wafer.tokens_per_s, kind: 'modelled', note: note(wafer) },
    gpu: { name: `Llama-3.1-8B on one H100`, tokensPerS: gpu.tokens_per_s, kind: 'modelled', note: note(gpu) },
  };
}

/** The pre-generated text the demo serves (public/real-scale/stories.json), as `realScaleText` writes it. */
export interface RealScaleText {
  model: string;
  prompts: string[];
  temperature: number;
  topP: number;
  pieces: string[];
}

/** Token pieces the served text holds (enough for the wafer to run a few seconds at ~1,000 tokens/s). */
export const REAL_SCALE_TOKENS = 4000;

/**
 * Text for the real-scale race: several short stories of the demo's model, chained until there
 * are `tokens` pieces, decoded on the CPU reference (sampled with a seed per story, so they differ
 * and are reproducible). The toy model writes the words; the race replays them at a real model's
 * speed, and the page says so. Run once to write public/real-scale/stories.json (a test holds the
 * served file equal to what this gives).
 */
export async function realScaleText(tokens: number, fetchBytes: (path: string) => Promise<Uint8Array>): Promise<RealScaleText> {
  const modelId = CATALOG.defaults.model;
  const { model, tokenizer } = await loadModel(parseModelSpec(modelId), fetchBytes);
  if (!tokenizer) throw new WafermeshError('no-tokenizer', `${modelId} has no tokenizer; the real-scale race needs text`);
  const cpu = await createMachine('cpu', model, {});
  const pieces: string[] = [];
  try {
    for (let story = 0; pieces.length < tokens; story++) {
      const prompt = STORY_PROMPTS[story % STORY_PROMPTS.length];
      const promptIds = tokenizer.encode(prompt, true);
      cpu.reset();
      const d = new Decoder(cpu, { promptIds, tokens: tokens - pieces.length, temperature: TEMPERATURE, topP: TOP_P, seed: 1000 + story });
      const text = new TextStream(tokenizer, promptIds[promptIds.length - 1]);
      pieces.push(`${story === 0 ? '' : '\n\n'}${prompt}`);
      while (!d.done && pieces.length < tokens) {
        const id = await d.step();
        if (id !== undefined) pieces.push(text.push(id));
      }
      if (story > 200) break; // a model that stops at once would never fill the text
    }
  } finally {
    cpu.dispose();
  }
  return { model: modelId, prompts: STORY_PROMPTS, temperature: TEMPERATURE, topP: TOP_P, pieces: pieces.slice(0, tokens) };
}

/** Seconds the faster machine should write for at 1× (the served stories are chained again until it does). */
export const REAL_SCALE_FAST_SECONDS = 5;

/**
 * The real-scale race: the served text with the speeds it is replayed at. The stories are
 * chained again, from the first, until the faster machine has at least `REAL_SCALE_FAST_SECONDS`
 * of text to write, so even at thousands of tokens/s it does not finish in a blink.
 */
export function realScaleRace(choice: RealScaleChoice, text: RealScaleText): RealScaleRace {
  const machines = realScaleMachines(choice);
  const want = Math.max(text.pieces.length, Math.ceil(REAL_SCALE_FAST_SECONDS * Math.max(machines.mesh.tokensPerS, machines.gpu.tokensPerS)));
  const pieces: string[] = [];
  for (let round = 0; pieces.length < want && text.pieces.length > 0; round++) {
    for (let i = 0; i < text.pieces.length && pieces.length < want; i++) pieces.push(round > 0 && i === 0 ? `\n\n${text.pieces[i]}` : text.pieces[i]);
  }
  return {
    pieces,
    source: `Pre-generated text: ${text.model} (this demo's toy model) wrote ${text.prompts.length} kinds of story, chained, on the CPU reference beforehand; replayed at the speeds below`,
    machines,
  };
}
