import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readCheckpoint } from '../../src/model/checkpoint.ts';
import { BOS, type ModelConfig } from '../../src/model/config.ts';
import { Rng } from '../../src/model/rng.ts';
import type { Model } from '../../src/model/weights.ts';

export function loadWmStories(): Model {
  return readCheckpoint(new Uint8Array(readFileSync(resolve(__dirname, '../../public/models/wm-stories.bin'))), 'wm-stories');
}

/** The random GQA model with its own classifier that the prefill tests share. */
export const GQA_SEPARATE: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };

/** Prompt lengths the prefill tests run: 1, 7 and 100 tokens, capped at seq_len − 1 (one position left to decode). */
export function promptLengths(c: ModelConfig): number[] {
  return [...new Set([1, 7, 100].map((n) => Math.min(n, c.seqLen - 1)))];
}

/** BOS then n − 1 seeded ids from the vocabulary (never BOS, so a prompt reads like one). */
export function randomPrompt(c: ModelConfig, n: number, seed = 3): number[] {
  const rng = new Rng(seed + n);
  const ids = [BOS];
  while (ids.length < n) {
    const id = rng.nextU32() % c.vocabSize;
    if (id !== BOS) ids.push(id);
  }
  return ids;
}
