import { describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import { ReferenceTransformer } from '../../src/model/reference.ts';
import { argmax } from '../../src/model/sampler.ts';
import type { Model } from '../../src/model/weights.ts';
import { checkTensor, maxAbsDiff } from '../helpers/check.ts';
import { loadStories260K } from '../helpers/models.ts';
import { GQA_SEPARATE, loadWmStories, promptLengths, randomPrompt } from '../helpers/prefill.ts';

const MULTI_QUERY_SHARED: ModelConfig = { dim: 32, hiddenDim: 37, nLayers: 2, nHeads: 4, nKvHeads: 1, vocabSize: 50, seqLen: 48, sharedClassifier: true };

const MODELS: [string, () => Model][] = [
  ['stories260K', loadStories260K],
  ['wm-stories', loadWmStories],
  ['random GQA, separate classifier', () => randomModel(GQA_SEPARATE, 5)],
  ['random multi-query, shared classifier, odd hidden', () => randomModel(MULTI_QUERY_SHARED, 6)],
];

/** The logits of every prompt position fed one token at a time, (T, vocab). */
function tokenByToken(ref: ReferenceTransformer, prompt: readonly number[], startPos = 0): Float32Array {
  const V = ref.config.vocabSize;
  const out = new Float32Array(prompt.length * V);
  prompt.forEach((id, t) => out.set(ref.forward(id, startPos + t), t * V));
  return out;
}

/** Greedy-decodes up to `n` ids on two references in lockstep from `first` at `pos`; each picks its own next id. */
function decodeBoth(a: ReferenceTransformer, b: ReferenceTransformer, first: number, pos: number, n: number) {
  const ids = { a: [] as number[], b: [] as number[] };
  let [ta, tb] = [first, first];
  let maxDiff = 0;
  for (let p = pos; p < Math.min(pos + n, a.config.seqLen); p++) {
    const la = a.forward(ta, p);
    const lb = b.forward(tb, p);
    maxDiff = Math.max(maxDiff, maxAbsDiff(la, lb));
    ids.a.push((ta = argmax(la)));
    ids.b.push((tb = argmax(lb)));
  }
  return { ...ids, maxDiff };
}

describe('CPU reference prefill (the prompt as a batch)', () => {
  for (const [name, load] of MODELS) {
    const model = load();
    it.each(promptLengths(model.config))(`${name}: %i tokens give every position's logits as token-by-token, and decoding goes on the same`, (n) => {
      const c = model.config;
      const prompt = randomPrompt(c, n);
      const stepped = new ReferenceTransformer(model);
      const want = tokenByToken(stepped, prompt);
      const batched = new ReferenceTransformer(model);
      const got = batched.prefill(prompt);
      expect(got.length).toBe(n * c.vocabSize);
      checkTensor(`${name} prefill ${n}`, got, want, { atol: 1e-4, rtol: 0 });
      // Every sum is taken in forward's order: the same floats, not merely close ones.
      expect(maxAbsDiff(got, want)).toBe(0);
      const first = argmax(got.subarray((n - 1) * c.vocabSize));
      const d = decodeBoth(stepped, batched, first, n, 16);
      expect(d.a.length).toBe(Math.min(16, c.seqLen - n));
      expect(d.b).toEqual(d.a);
      expect(d.maxDiff).toBeLessThan(1e-4);
    });
  }

  it('continues from a cache filled before startPos (token by token, or by an earlier prefill)', () => {
    const model = randomModel(GQA_SEPARATE, 8);
    const c = model.config;
    const prompt = randomPrompt(c, 30);
    const stepped = new ReferenceTransformer(model);
    const want = tokenByToken(stepped, prompt);
    // Two batches: 0 … 10, then 11 … 29.
    const chunked = new ReferenceTransformer(model);
    const a = chunked.prefill(prompt.slice(0, 11));
    const b = chunked.prefill(prompt.slice(11), 11);
    checkTensor('two prefills', [...a, ...b], want, { atol: 1e-4, rtol: 0 });
    // Five single steps, then a batch from position 5.
    const mixed = new ReferenceTransformer(model);
    for (let p = 0; p < 5; p++) mixed.forward(prompt[p], p);
    checkTensor('steps then a prefill', mixed.prefill(prompt.slice(5), 5), want.subarray(5 * c.vocabSize), { atol: 1e-4, rtol: 0 });
    const first = argmax(want.subarray(29 * c.vocabSize));
    const afterChunks = decodeBoth(stepped, chunked, first, 30, 10);
    expect(afterChunks.b).toEqual(afterChunks.a);
    expect(afterChunks.maxDiff).toBeLessThan(1e-4);
    const afterMixed = decodeBoth(tokenByTokenRef(model, prompt), mixed, first, 30, 10);
    expect(afterMixed.b).toEqual(afterMixed.a);
    expect(afterMixed.maxDiff).toBeLessThan(1e-4);
  });

  it('CpuEngine.prefill returns the last position\'s logits and leaves the cache for decoding', async () => {
    const model = loadStories260K();
    const prompt = randomPrompt(model.config, 7);
    const ref = new ReferenceTransformer(model);
    const want = Float32Array.from(tokenByToken(ref, prompt).subarray(6 * model.config.vocabSize));
    const cpu = new CpuEngine(model);
    const last = await cpu.prefill(prompt, 0);
    expect(last.length).toBe(model.config.vocabSize);
    checkTensor('CpuEngine.prefill', last, want, { atol: 1e-4, rtol: 0 });
    expect(cpu.lastTrace()).toBeUndefined();
    const next = argmax(last);
    checkTensor('forward after prefill', await cpu.forward(next, 7), ref.forward(next, 7), { atol: 1e-4, rtol: 0 });
  });

  it('refuses an empty batch, a batch past the context and ids outside the vocabulary', () => {
    const ref = new ReferenceTransformer(randomModel({ dim: 8, hiddenDim: 8, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 10, seqLen: 4, sharedClassifier: true }));
    expect(() => ref.prefill([])).toThrow(/bad-prompt: prefill needs at least one token/);
    expect(() => ref.prefill([1, 2, 3], 2)).toThrow(/context-full: prefill of 3 tokens from position 2 reaches position 4, outside the context 0…3/);
    expect(() => ref.prefill([1, 10])).toThrow(/bad-token: token id 10/);
    expect(() => ref.prefill([1], -1)).toThrow(/context-full/);
  });
});

function tokenByTokenRef(model: Model, prompt: readonly number[]): ReferenceTransformer {
  const ref = new ReferenceTransformer(model);
  tokenByToken(ref, prompt);
  return ref;
}
