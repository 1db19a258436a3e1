import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTokenizer } from '../../src/model/tokenizer.ts';

const ROOT = resolve(__dirname, '../..');
const TOKENIZER = resolve(ROOT, 'public/models/wm-stories.tok.bin');

describe('the shipped tokenizer: TypeScript encoder against the training script\'s Python encoder', () => {
  it('gives the same ids for corpus stories and for text outside the corpus', () => {
    const stories = execFileSync('python3', [resolve(ROOT, 'tools/train/corpus.py'), '--stories', '40', '--seed', '777'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    const texts = [...stories, 'Once upon a time', 'Zebras quickly jumped! 12 ünïcödé ☃ "quotes"', '  two  spaces', ''];
    const py = execFileSync('python3', [resolve(ROOT, 'tools/train/tokenizer.py'), 'encode', TOKENIZER], {
      input: texts.map((t) => JSON.stringify(t)).join('\n') + '\n',
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as number[]);
    const tok = readTokenizer(new Uint8Array(readFileSync(TOKENIZER)), TOKENIZER);
    expect(py).toHaveLength(texts.length);
    texts.forEach((t, i) => {
      expect(tok.encode(t), JSON.stringify(t)).toEqual(py[i]);
      expect(tok.decode(tok.encode(t).slice(1))).toBe(t);
    });
  });
});
