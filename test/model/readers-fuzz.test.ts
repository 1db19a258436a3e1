import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WafermeshError } from '../../src/errors.ts';
import { readCheckpoint, writeCheckpoint } from '../../src/model/checkpoint.ts';
import { parseModelSpec } from '../../src/model/load.ts';
import { parseRandomSpec, randomModel } from '../../src/model/random.ts';
import { readTokenizer, writeTokenizer } from '../../src/model/tokenizer.ts';
import { testTokenizer } from '../helpers/models.ts';

/**
 * The readers, fed random or damaged bytes and strings: each gives a valid result or the
 * project's one error type with a one-line message — never another exception (fast-check prints
 * the seed and the smallest failing input).
 */
function validOrRefused(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof WafermeshError)) throw e;
    expect(e.detail).not.toMatch(/\n/);
    expect(e.detail.length).toBeGreaterThan(10);
  }
}

const goodCheckpoint = writeCheckpoint(randomModel({ dim: 8, hiddenDim: 12, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 10, seqLen: 4, sharedClassifier: false }, 1));
const goodTokenizer = writeTokenizer(testTokenizer(300, [' a', 'b']));

/** `bytes` with some bytes overwritten, then cut or extended. */
const damaged = (good: Uint8Array) =>
  fc
    .record({
      edits: fc.array(fc.tuple(fc.nat(good.byteLength - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      length: fc.oneof(fc.constant(good.byteLength), fc.nat(good.byteLength + 8)),
    })
    .map(({ edits, length }) => {
      const b = new Uint8Array(length);
      b.set(good.subarray(0, Math.min(length, good.byteLength)));
      for (const [i, v] of edits) if (i < length) b[i] = v;
      return b;
    });

describe('the model readers, fuzzed', () => {
  it('readCheckpoint: random bytes and damaged checkpoints', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => validOrRefused(() => readCheckpoint(b, 'fuzz.bin'))), { numRuns: 300, seed: 14 });
    fc.assert(fc.property(damaged(goodCheckpoint), (b) => validOrRefused(() => readCheckpoint(b, 'fuzz.bin'))), { numRuns: 300, seed: 14 });
  });

  it('readTokenizer: random bytes and damaged tokenizers, with and without a vocabulary size', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.option(fc.integer({ min: 3, max: 600 })), (b, v) => validOrRefused(() => readTokenizer(b, 'fuzz.tok', v ?? undefined))), { numRuns: 300, seed: 14 });
    fc.assert(fc.property(damaged(goodTokenizer), (b) => validOrRefused(() => readTokenizer(b, 'fuzz.tok', 300))), { numRuns: 300, seed: 14 });
  });

  it('random:<spec> and model names: random strings', () => {
    const key = fc.constantFrom('dim', 'hidden', 'layers', 'heads', 'kv', 'vocab', 'seq', 'shared', 'seed', 'x', '');
    const value = fc.oneof(fc.integer({ min: -3, max: 300 }).map(String), fc.string({ maxLength: 4 }), fc.constantFrom('1e9', 'NaN', '0x10', '2.5', ''));
    const spec = fc.array(fc.tuple(key, value).map(([k, v]) => `${k}=${v}`), { maxLength: 6 }).map((parts) => parts.join(','));
    fc.assert(fc.property(spec, (s) => validOrRefused(() => parseRandomSpec(s))), { numRuns: 500, seed: 14 });
    fc.assert(fc.property(fc.string(), (s) => validOrRefused(() => parseRandomSpec(s))), { numRuns: 300, seed: 14 });
    fc.assert(fc.property(fc.string(), (s) => validOrRefused(() => parseModelSpec(s))), { numRuns: 300, seed: 14 });
  });
});
