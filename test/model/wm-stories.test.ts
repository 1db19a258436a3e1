import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate } from '../../src/engines/generate.ts';
import { parameterCount } from '../../src/model/config.ts';
import { readCheckpoint, writeCheckpoint } from '../../src/model/checkpoint.ts';
import { readTokenizer } from '../../src/model/tokenizer.ts';
import { WEIGHT_ORDER } from '../../src/model/weights.ts';

const ROOT = resolve(__dirname, '../..');
const CKPT = resolve(ROOT, 'public/models/wm-stories.bin');
const TOK = resolve(ROOT, 'public/models/wm-stories.tok.bin');

// The model card in README.md documents these.
const SHA256 = {
  checkpoint: 'd03f54e72baaebe73b79d27fd0608564ea7e701fc1ef4889ec0ded839abd3332',
  tokenizer: 'c9ac2509e0452721e3f01c843de12affd21a3853fc0d7be8102f507bff11aa90',
};
const GREEDY_SAMPLE =
  ', there was a little girl named Nora. She lived in a quiet village. She had a pink cup. Nora loved the cup very much. ' +
  'It was a warm spring morning. Nora wanted to fly a kite at the park, but she was scared. "What if I fall?" she said. ' +
  'Her mom said, "You can do it. J';

describe('the default model, wm-stories', () => {
  const ckpt = new Uint8Array(readFileSync(CKPT));
  const tokBytes = new Uint8Array(readFileSync(TOK));

  it('ships the documented files: checksums, shape, size', () => {
    expect(createHash('sha256').update(ckpt).digest('hex')).toBe(SHA256.checkpoint);
    expect(createHash('sha256').update(tokBytes).digest('hex')).toBe(SHA256.tokenizer);
    expect(ckpt.byteLength + tokBytes.byteLength).toBeLessThanOrEqual(2_000_000);
    const m = readCheckpoint(ckpt, 'wm-stories');
    expect(m.config).toEqual({ dim: 128, hiddenDim: 192, nLayers: 3, nHeads: 4, nKvHeads: 2, vocabSize: 512, seqLen: 256, sharedClassifier: true });
    expect(parameterCount(m.config)).toBe(435_072);
    expect(readTokenizer(tokBytes, 'wm-stories.tok.bin', 512).size).toBe(512);
  });

  it('round-trips through the writer', () => {
    const m = readCheckpoint(ckpt, 'wm-stories');
    const again = readCheckpoint(writeCheckpoint(m), 'again');
    expect(again.config).toEqual(m.config);
    for (const k of WEIGHT_ORDER) expect(again.weights[k]).toEqual(m.weights[k]);
  });

  it('writes the documented greedy sample from "Once upon a time"', async () => {
    const model = readCheckpoint(ckpt, 'wm-stories');
    const tok = readTokenizer(tokBytes, 'wm-stories.tok.bin', 512);
    const promptIds = tok.encode('Once upon a time');
    const r = await generate(new CpuEngine(model), { promptIds, tokens: 120, temperature: 0, topP: 1, seed: 0 });
    expect(r.ids).toHaveLength(120);
    expect(tok.decode(r.ids, promptIds[promptIds.length - 1])).toBe(GREEDY_SAMPLE);
    // Readable, not a loop: many distinct words.
    expect(new Set(GREEDY_SAMPLE.split(/\W+/)).size).toBeGreaterThan(35);
  });
});
