import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate } from '../../src/engines/generate.ts';
import { BOS, type ModelConfig } from '../../src/model/config.ts';
import { writeCheckpoint } from '../../src/model/checkpoint.ts';
import { rope, softmax } from '../../src/model/ops.ts';
import { randomModel } from '../../src/model/random.ts';
import { ReferenceTransformer } from '../../src/model/reference.ts';
import { argmax } from '../../src/model/sampler.ts';
import type { Model } from '../../src/model/weights.ts';
import { STORIES260K_PATH, loadStories260K } from '../helpers/models.ts';

// stories260K's first greedy ids from BOS, as the independent C decode (tools/cdecode) gives them.
const STORIES260K_GREEDY_32 = [
  461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299, 362, 409, 283, 264, 283, 452, 288, 13, 431, 431, 431, 431,
  431, 431, 431, 431, 431, 431, 431, 431,
];

async function greedy(model: Model, tokens: number): Promise<number[]> {
  const r = await generate(new CpuEngine(model), { promptIds: [BOS], tokens, temperature: 0, topP: 1, seed: 0 });
  return r.ids;
}

describe('CPU reference decode', () => {
  it('pins stories260K greedy ids from BOS', async () => {
    expect((await greedy(loadStories260K(), 32))).toEqual(STORIES260K_GREEDY_32);
  });

  describe('agrees token for token with an independent C decode', () => {
    let decode = '';
    const dir = mkdtempSync(join(tmpdir(), 'wm-cdecode-'));
    beforeAll(() => {
      // A C compiler is part of the project's setup (g++/gcc ship on the Node machines); if it
      // were missing this fails loudly rather than skipping.
      decode = join(dir, 'decode');
      execFileSync('cc', ['-O2', '-o', decode, resolve(__dirname, '../../tools/cdecode/decode.c'), '-lm']);
    });
    const cIds = (path: string, steps: number) =>
      execFileSync(decode, [path, String(steps)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);

    it('on stories260K for the whole context (512 ids)', async () => {
      const ids = await greedy(loadStories260K(), 512);
      expect(ids).toHaveLength(512);
      expect(ids).toEqual(cIds(STORIES260K_PATH, 512));
    });

    it.each<[string, ModelConfig]>([
      ['separate classifier, GQA', { dim: 48, hiddenDim: 96, nLayers: 3, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 64, sharedClassifier: false }],
      ['multi-query, shared classifier', { dim: 32, hiddenDim: 80, nLayers: 2, nHeads: 4, nKvHeads: 1, vocabSize: 64, seqLen: 40, sharedClassifier: true }],
      ['one head, one layer', { dim: 16, hiddenDim: 8, nLayers: 1, nHeads: 1, nKvHeads: 1, vocabSize: 20, seqLen: 30, sharedClassifier: false }],
    ])('on a random checkpoint: %s', async (_, config) => {
      const model = randomModel(config, 7);
      const path = join(dir, `${config.dim}-${config.nKvHeads}.bin`);
      writeFileSync(path, writeCheckpoint(model));
      const ids = await greedy(model, config.seqLen);
      expect(ids).toEqual(cIds(path, config.seqLen));
      expect(ids.length).toBeGreaterThan(0);
    });
  });

  it('gives finite logits and depends on the KV cache (a different history, different logits)', () => {
    const ref = new ReferenceTransformer(loadStories260K());
    ref.forward(BOS, 0);
    const a = Float32Array.from(ref.forward(300, 1));
    ref.reset();
    ref.forward(BOS, 0);
    ref.forward(400, 1);
    const b = Float32Array.from(ref.forward(300, 2));
    expect(a.every(Number.isFinite)).toBe(true);
    expect(argmax(a) === argmax(b) && a.every((v, i) => v === b[i])).toBe(false);
  });

  it('refuses positions past the context and ids outside the vocabulary', () => {
    const ref = new ReferenceTransformer(randomModel({ dim: 8, hiddenDim: 8, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 10, seqLen: 4, sharedClassifier: true }));
    expect(() => ref.forward(1, 4)).toThrow(/context-full: position 4 is outside the context 0…3/);
    expect(() => ref.forward(10, 0)).toThrow(/bad-token: token id 10/);
  });
});

describe('kernel references', () => {
  it('softmax rows sum to 1 and keep the order of their inputs', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -50, max: 50, noNaN: true }), { minLength: 1, maxLength: 64 }), (xs) => {
        const x = Float32Array.from(xs);
        softmax(x, x.length);
        const sum = x.reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
        for (let i = 1; i < xs.length; i++) {
          if (Math.fround(xs[i - 1]) < Math.fround(xs[i])) expect(x[i - 1]).toBeLessThanOrEqual(x[i]);
        }
      }),
      { numRuns: 100, seed: 1 },
    );
  });

  it('rope is a rotation: it keeps each pair\'s length and undoes itself at -pos', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 511 }), fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: 16, maxLength: 16 }), (pos, xs) => {
        const v = Float32Array.from(xs);
        rope(v, 16, pos, 8);
        for (let i = 0; i < 16; i += 2) {
          expect(Math.hypot(v[i], v[i + 1])).toBeCloseTo(Math.hypot(xs[i], xs[i + 1]), 4);
        }
        rope(v, 16, -pos, 8);
        for (let i = 0; i < 16; i++) expect(v[i]).toBeCloseTo(xs[i], 3);
      }),
      { numRuns: 50, seed: 2 },
    );
  });
});
