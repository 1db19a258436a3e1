import { afterAll, describe, expect, it } from 'vitest';
import { gpuPreset } from '../../src/cost/hardware.ts';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate, type Decodable } from '../../src/engines/generate.ts';
import { GpuEngine } from '../../src/engines/gpu.ts';
import type { Machine } from '../../src/engines/machine.ts';
import { randomModel } from '../../src/model/random.ts';
import { argmax } from '../../src/model/sampler.ts';
import type { Model } from '../../src/model/weights.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';
import { GQA_SEPARATE, promptLengths, randomPrompt } from '../helpers/prefill.ts';

const TOKENS = 16;

/** A machine's decode seen through a wrapper that counts prefills and forward passes. */
function counting(m: Machine) {
  const seen = { prefills: 0, forwards: 0 };
  const d: Decodable = {
    config: m.config,
    context: m.context,
    reset: () => m.reset(),
    forward: (t, p) => (seen.forwards++, m.forward(t, p)),
    prefill: (ts, p) => (seen.prefills++, m.prefill!(ts, p)),
  };
  return { d, seen };
}

async function compare(machine: Machine, model: Model, n: number, sampling = { temperature: 0, topP: 1, seed: 0 }) {
  const promptIds = randomPrompt(model.config, n);
  const opts = { promptIds, tokens: TOKENS, ...sampling };
  const stepped = await generate(machine, opts);
  const { d, seen } = counting(machine);
  const batched = await generate(d, { ...opts, prefill: true });
  expect(batched.ids).toEqual(stepped.ids);
  expect(batched.stop).toBe(stepped.stop);
  expect(seen.prefills).toBe(1);
  // The prefill stands for the prompt's P forward passes; the rest are the generated ids' own.
  expect(seen.forwards).toBe(stepped.forwardPasses - n);
  expect(batched.forwardPasses).toBe(1 + seen.forwards);
  return { stepped, batched };
}

describe('the Decoder with prefill: the prompt as one batch, the same ids', () => {
  afterAll(async () => (await testGpu()).destroy());
  const stories = loadStories260K();

  it.each(promptLengths(stories.config))('cpu, stories260K, %i-token prompt: greedy and sampled ids unchanged', async (n) => {
    const cpu = new CpuEngine(stories);
    const g = await compare(cpu, stories, n);
    expect(g.stepped.ids.length).toBeGreaterThan(0);
    await compare(cpu, stories, n, { temperature: 1, topP: 0.9, seed: 42 });
  });

  it.each(promptLengths(stories.config))('gpu, stories260K, %i-token prompt: greedy ids unchanged', async (n) => {
    const gpu = await GpuEngine.create(await testGpu(), stories, gpuPreset('toy-gpu'));
    const start = gpu.liveBuffers;
    await compare(gpu, stories, n);
    expect(gpu.liveBuffers).toBe(start);
    gpu.dispose();
  });

  it('stops where token-by-token stops: the context ends right after the prompt; no id wanted', async () => {
    const model = randomModel(GQA_SEPARATE, 4);
    const cpu = new CpuEngine(model);
    // 39 prompt ids fill positions 0 … 38: the id from position 38, then one more from 39, the last.
    const full = await compare(cpu, model, 39);
    expect(full.batched.stop).toBe('context');
    expect(full.batched.ids).toHaveLength(2);
    // tokens = 0: nothing is generated, so no prefill runs (the prompt's first P − 1 positions, one pass each).
    const { d, seen } = counting(cpu);
    const r = await generate(d, { promptIds: randomPrompt(model.config, 7), tokens: 0, temperature: 0, topP: 1, seed: 0, prefill: true });
    expect(r.ids).toEqual([]);
    expect(seen).toEqual({ prefills: 0, forwards: 6 });
  });

  it('a machine that decodes greedily on its own is handed the id a prefill chose (fed), then finds its own', async () => {
    const cpu = new CpuEngine(stories);
    const calls: [number, number, boolean][] = [];
    let found: number | undefined;
    // A stand-in for a wafer that keeps its argmax: it uses its own id unless the host feeds one.
    const wafer: Decodable = {
      ...counting(cpu).d,
      greedy: async (token, pos, fed) => {
        calls.push([token, pos, fed]);
        const id = argmax(await cpu.forward(fed ? token : found!, pos));
        found = id;
        return id;
      },
    };
    const promptIds = randomPrompt(stories.config, 7);
    const opts = { promptIds, tokens: 5, temperature: 0, topP: 1, seed: 0 };
    const r = await generate(wafer, { ...opts, prefill: true });
    expect(r.ids).toEqual((await generate(new CpuEngine(stories), opts)).ids);
    expect(calls.map(([, pos, fed]) => [pos, fed])).toEqual([[7, true], [8, false], [9, false], [10, false]]);
    expect(calls[0][0]).toBe(r.ids[0]);
  });

  it('a machine without prefill, or prefill not asked for, feeds the prompt one token at a time', async () => {
    const cpu = new CpuEngine(stories);
    const promptIds = randomPrompt(stories.config, 7);
    const { d, seen } = counting(cpu);
    await generate(d, { promptIds, tokens: 4, temperature: 0, topP: 1, seed: 0 });
    expect(seen).toEqual({ prefills: 0, forwards: 10 });
    const { prefill: _, ...without } = d;
    const r = await generate(without, { promptIds, tokens: 4, temperature: 0, topP: 1, seed: 0, prefill: true });
    expect(r.forwardPasses).toBe(10);
  });
});
