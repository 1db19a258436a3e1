import { afterAll, describe, expect, it } from 'vitest';
import { baselinePrefill, PREFILL_TILE } from '../../src/baseline/program.ts';
import { gpuPreset } from '../../src/cost/hardware.ts';
import { GpuEngine } from '../../src/engines/gpu.ts';
import { kvDim, parameterCount, type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import { ReferenceTransformer } from '../../src/model/reference.ts';
import { argmax } from '../../src/model/sampler.ts';
import type { Model } from '../../src/model/weights.ts';
import { checkTensor } from '../helpers/check.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';
import { GQA_SEPARATE, promptLengths, randomPrompt } from '../helpers/prefill.ts';

const DECODED = 16;

function engine(model: Model, instrument = false): Promise<GpuEngine> {
  return testGpu().then((ctx) => GpuEngine.create(ctx, model, gpuPreset('toy-gpu'), { instrument }));
}

/** The reference fed token by token: every prompt position's logits (T, vocab), then DECODED greedy ids. */
function reference(model: Model, prompt: readonly number[]) {
  const ref = new ReferenceTransformer(model);
  const V = model.config.vocabSize;
  const logits = new Float32Array(prompt.length * V);
  prompt.forEach((id, p) => logits.set(ref.forward(id, p), p * V));
  const ids: number[] = [];
  let next = argmax(logits.subarray((prompt.length - 1) * V));
  for (let p = prompt.length; p < Math.min(prompt.length + DECODED, model.config.seqLen); p++) {
    ids.push(next);
    next = argmax(ref.forward(next, p));
  }
  return { logits, ids };
}

describe('GPU baseline prefill', () => {
  afterAll(async () => (await testGpu()).destroy());

  const models: [string, () => Model][] = [
    ['stories260K', loadStories260K],
    ['random GQA, separate classifier', () => randomModel(GQA_SEPARATE, 5)],
  ];
  for (const [name, load] of models) {
    const model = load();
    it.each(promptLengths(model.config))(`${name}: %i tokens give the reference's logits at every position, and decoding goes on with its greedy ids`, async (n) => {
      const c = model.config;
      const prompt = randomPrompt(c, n);
      const want = reference(model, prompt);
      const gpu = await engine(model);
      const start = gpu.liveBuffers;
      const got = await gpu.prefillAll(prompt, 0);
      checkTensor(`${name} GPU prefill of ${n}`, got, want.logits, { atol: 1e-4, rtol: 0 });
      expect(gpu.lastTrace()).toBeUndefined();
      // Decode from the cache the prefill left: the first id from the last prompt position's logits.
      const ids: number[] = [];
      let next = argmax(got.subarray((n - 1) * c.vocabSize));
      for (let p = n; p < Math.min(n + DECODED, c.seqLen); p++) {
        ids.push(next);
        next = argmax(await gpu.forward(next, p));
      }
      expect(ids).toEqual(want.ids);
      expect(ids.length).toBe(Math.min(DECODED, c.seqLen - n));
      expect(gpu.liveBuffers, 'buffers left behind by a prefill and decode').toBe(start);
      gpu.dispose();
      expect(gpu.liveBuffers, 'buffers left after dispose').toBe(0);
    });
  }

  it('counts on the GPU exactly the off-chip bytes and FLOPs the plan gives, for whole prompts and pieces from startPos > 0', async () => {
    const model = randomModel(GQA_SEPARATE, 9);
    const c = model.config;
    const gpu = await engine(model, true);
    const prompt = randomPrompt(c, 39);
    // [first prompt index, tokens, logits]: one token; a short tile; three tiles, the last short;
    // then a prompt in two pieces, the second from position 20.
    const cases: [number, number, 'all' | 'last'][] = [
      [0, 1, 'all'],
      [0, 7, 'last'],
      [0, 37, 'all'],
      [0, 20, 'last'],
      [20, 19, 'all'],
    ];
    for (const [from, n, logits] of cases) {
      if (from === 0) gpu.reset();
      const tokens = prompt.slice(from, from + n);
      const out = logits === 'all' ? await gpu.prefillAll(tokens, from) : await gpu.prefill(tokens, from);
      expect(out.length).toBe((logits === 'all' ? n : 1) * c.vocabSize);
      const run = gpu.lastPrefill()!;
      const plan = baselinePrefill(c, n, from, { logits });
      expect(run.plan).toEqual(plan);
      expect(run.counted, `${n} tokens from ${from}`).toEqual({
        weightBytes: plan.weightBytes,
        kvReadBytes: plan.kvReadBytes,
        kvWriteBytes: plan.kvWriteBytes,
        flops: plan.flops,
      });
    }
    gpu.dispose();
  });

  it('the plan in closed form, hand-computed: weights once per token tile, the KV cache as each query sees it', () => {
    const c: ModelConfig = GQA_SEPARATE;
    const kvd = kvDim(c);
    const TT = PREFILL_TILE.tokens;
    const T = 37;
    const start = 2;
    const tiles = Math.ceil(T / TT); // 3 tiles: 16, 16, 5 tokens
    const plan = baselinePrefill(c, T, start);
    const matrices = c.nLayers * ((c.dim + 2 * kvd) * c.dim + c.dim * c.dim + 3 * c.hiddenDim * c.dim) + c.vocabSize * c.dim;
    // Every parameter but the embedding table once per tile, plus one embedding row per token.
    expect(plan.weightBytes).toBe(4 * (tiles * (parameterCount(c) - c.vocabSize * c.dim) + T * c.dim));
    expect(plan.kvWriteBytes).toBe(4 * 2 * c.nLayers * T * kvd);
    // Query t reads k and v of positions 0 … start + t: 3 + 4 + … + 39 positions in all.
    const attended = ((3 + 39) * T) / 2;
    expect(plan.kvReadBytes).toBe(4 * 2 * c.nLayers * kvd * attended);
    expect(plan.flops).toBe(2 * T * matrices + c.nLayers * 4 * c.dim * attended);
    // Only the last position's logits: the final norm and classifier run on one tile of one token.
    const last = baselinePrefill(c, T, start, { logits: 'last' });
    expect(plan.weightBytes - last.weightBytes).toBe(4 * (tiles - 1) * (c.vocabSize * c.dim + c.dim));
    expect(plan.flops - last.flops).toBe(2 * (T - 1) * c.vocabSize * c.dim);
    // A prompt of one tile reads the weights once, as one decoded token does (plus its embedding row).
    expect(baselinePrefill(c, TT).weightBytes).toBe(4 * (parameterCount(c) - c.vocabSize * c.dim + TT * c.dim));
  });

  it('Machine.prefill gives the last position\'s logits; a non-instrumented engine counts nothing', async () => {
    const model = loadStories260K();
    const prompt = randomPrompt(model.config, 7);
    const want = reference(model, prompt).logits.subarray(6 * model.config.vocabSize);
    const gpu = await engine(model);
    const last = await gpu.prefill(prompt, 0);
    checkTensor('GpuEngine.prefill', last, want, { atol: 1e-4, rtol: 0 });
    expect(gpu.lastPrefill()!.counted).toBeUndefined();
    expect(gpu.lastPrefill()!.plan.logits).toBe('last');
    await expect(gpu.prefill([1, 2], model.config.seqLen - 1)).rejects.toThrow(/context-full/);
    gpu.dispose();
    expect(gpu.liveBuffers).toBe(0);
  });
});
