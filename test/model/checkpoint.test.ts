import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkpointBytes, parameterCount, type ModelConfig } from '../../src/model/config.ts';
import { readCheckpoint, writeCheckpoint } from '../../src/model/checkpoint.ts';
import { randomModel } from '../../src/model/random.ts';
import { WEIGHT_ORDER } from '../../src/model/weights.ts';
import { STORIES260K_PATH, loadStories260K } from '../helpers/models.ts';

const GQA_SEPARATE: ModelConfig = {
  dim: 32,
  hiddenDim: 48,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 40,
  seqLen: 16,
  sharedClassifier: false,
};

describe('llama2.c checkpoints', () => {
  it('reads stories260K as its README describes it', () => {
    const bytes = readFileSync(STORIES260K_PATH);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('9414d5a285453a7eab631713d171753232c978f6f97654211469aff8be93c8d6');
    const m = loadStories260K();
    expect(m.config).toEqual({
      dim: 64,
      hiddenDim: 172,
      nLayers: 5,
      nHeads: 8,
      nKvHeads: 4,
      vocabSize: 512,
      seqLen: 512,
      sharedClassifier: true,
    });
    expect(checkpointBytes(m.config)).toBe(bytes.byteLength);
    expect(parameterCount(m.config)).toBeGreaterThan(250_000);
    expect(parameterCount(m.config)).toBeLessThan(270_000);
    expect(m.weights.wcls).toBe(m.weights.tokenEmbedding);
  });

  it('round-trips stories260K byte for byte except the legacy RoPE tables', () => {
    const bytes = new Uint8Array(readFileSync(STORIES260K_PATH));
    const again = writeCheckpoint(loadStories260K());
    expect(again.byteLength).toBe(bytes.byteLength);
    const m = loadStories260K();
    // Everything up to the end of rmsFinal is ours to reproduce exactly.
    let floats = 0;
    for (const k of WEIGHT_ORDER) floats += m.weights[k].length;
    const end = 28 + floats * 4;
    expect(Buffer.compare(Buffer.from(again.subarray(0, end)), Buffer.from(bytes.subarray(0, end)))).toBe(0);
  });

  it('round-trips random models of any shape (separate classifier, GQA)', () => {
    fc.assert(
      fc.property(
        fc.record({
          heads: fc.integer({ min: 1, max: 4 }),
          kvDiv: fc.integer({ min: 0, max: 2 }),
          headPairs: fc.integer({ min: 1, max: 4 }),
          hiddenDim: fc.integer({ min: 1, max: 40 }),
          nLayers: fc.integer({ min: 1, max: 3 }),
          vocabSize: fc.integer({ min: 3, max: 50 }),
          seqLen: fc.integer({ min: 1, max: 12 }),
          shared: fc.boolean(),
          seed: fc.integer({ min: 0, max: 1000 }),
        }),
        (r) => {
          const nHeads = r.heads * 2 ** r.kvDiv;
          const config: ModelConfig = {
            dim: nHeads * r.headPairs * 2,
            hiddenDim: r.hiddenDim,
            nLayers: r.nLayers,
            nHeads,
            nKvHeads: r.heads,
            vocabSize: r.vocabSize,
            seqLen: r.seqLen,
            sharedClassifier: r.shared,
          };
          const m = randomModel(config, r.seed);
          const bytes = writeCheckpoint(m);
          expect(bytes.byteLength).toBe(checkpointBytes(config));
          const back = readCheckpoint(bytes);
          expect(back.config).toEqual(m.config);
          for (const k of [...WEIGHT_ORDER, 'wcls'] as const) expect(back.weights[k]).toEqual(m.weights[k]);
          expect(back.weights.wcls === back.weights.tokenEmbedding).toBe(config.sharedClassifier);
        },
      ),
      { numRuns: 40, seed: 20261126 },
    );
  });

  describe('refuses bad files with one line naming the problem', () => {
    const good = writeCheckpoint(randomModel(GQA_SEPARATE, 3));
    const refuse = (bytes: Uint8Array, pattern: RegExp) => {
      let err: unknown;
      try {
        readCheckpoint(bytes, 'test.bin');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Error);
      const msg = (err as Error).message;
      expect(msg).toMatch(pattern);
      expect(msg).not.toContain('\n');
    };

    it('a file shorter than the header', () => refuse(good.subarray(0, 10), /bad-checkpoint: test\.bin is 10 bytes, shorter than the 28-byte/));
    it('a truncated file', () => refuse(good.subarray(0, good.byteLength - 4), /implies \d+; the file is truncated/));
    it('a file longer than its header says', () => {
      const longer = new Uint8Array(good.byteLength + 8);
      longer.set(good);
      refuse(longer, /the file is longer than its header says/);
    });
    it('a header with an absurd field', () => {
      const bad = good.slice();
      new DataView(bad.buffer).setInt32(0, -5, true);
      refuse(bad, /header \[-5, .*dim = -5/);
    });
    it('heads that do not divide dim', () => {
      const bad = good.slice();
      new DataView(bad.buffer).setInt32(12, 3, true); // n_heads = 3, dim 32
      refuse(bad, /not a multiple of n_heads = 3/);
    });
    it('NaN weights', () => {
      const bad = good.slice();
      new DataView(bad.buffer).setFloat32(28 + 4 * 100, NaN, true);
      refuse(bad, /weight token_embedding_table\[100\] is NaN/);
    });
    it('an infinite weight in the separate classifier', () => {
      const bad = good.slice();
      new DataView(bad.buffer).setFloat32(bad.byteLength - 4, Infinity, true);
      refuse(bad, /weight wcls\[\d+\] is Infinity/);
    });
  });
});
