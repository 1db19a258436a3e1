import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readCheckpoint } from '../../src/model/checkpoint.ts';
import { Tokenizer } from '../../src/model/tokenizer.ts';
import type { Model } from '../../src/model/weights.ts';

export const STORIES260K_PATH = resolve(__dirname, '../../../shared/models/stories260K.bin');

export function loadStories260K(): Model {
  return readCheckpoint(new Uint8Array(readFileSync(STORIES260K_PATH)), 'stories260K');
}

/**
 * A sentencepiece-shaped tokenizer of exactly `size` tokens: <unk>, <s>, </s>, the 256 byte
 * tokens <0x00>…<0xFF>, then the given pieces (scored so earlier pieces merge first), then
 * filler pieces up to `size`.
 */
export function testTokenizer(size: number, pieces: string[] = []): Tokenizer {
  const enc = new TextEncoder();
  const vocab: Uint8Array[] = [enc.encode('<unk>'), enc.encode('<s>'), enc.encode('</s>')];
  for (let b = 0; b < 256; b++) vocab.push(enc.encode(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
  for (const p of pieces) vocab.push(enc.encode(p));
  let i = 0;
  while (vocab.length < size) vocab.push(enc.encode(`<filler${i++}>`));
  vocab.length = size;
  const scores = Float32Array.from(vocab, (_, id) => (id < 259 ? 0 : -(id - 259)));
  return new Tokenizer(vocab, scores);
}
