import { describe, expect, it } from 'vitest';
import { Sampler, argmax } from '../../src/model/sampler.ts';
import { Rng } from '../../src/model/rng.ts';

describe('sampler', () => {
  const logits = Float32Array.from([0.1, 2.0, 1.9, -3, 0.5]);

  it('greedy is argmax (first maximum)', () => {
    expect(new Sampler({ temperature: 0, topP: 1, seed: 1 }).sample(logits)).toBe(1);
    expect(argmax([3, 5, 5, 1])).toBe(1);
  });

  it('is reproducible from its seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const s = new Sampler({ temperature: 1, topP: 1, seed });
      return Array.from({ length: 50 }, () => s.sample(logits));
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });

  it('follows the softmax distribution at temperature 1', () => {
    const s = new Sampler({ temperature: 1, topP: 1, seed: 9 });
    const counts = new Array(5).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[s.sample(logits)]++;
    const e = logits.map(Math.exp);
    const z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < 5; i++) expect(Math.abs(counts[i] / n - e[i] / z)).toBeLessThan(0.015);
  });

  it('top-p only picks from the nucleus', () => {
    // probs ≈ [0.07, 0.44, 0.40, 0.00, 0.10]: top-p 0.8 keeps ids 1 and 2 only.
    const s = new Sampler({ temperature: 1, topP: 0.8, seed: 4 });
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(s.sample(logits));
    expect([...seen].sort()).toEqual([1, 2]);
  });

  it('refuses bad options and non-finite logits', () => {
    expect(() => new Sampler({ temperature: -1, topP: 1, seed: 1 })).toThrow(/temperature = -1/);
    expect(() => new Sampler({ temperature: 1, topP: 0, seed: 1 })).toThrow(/top-p = 0/);
    expect(() => new Sampler({ temperature: 0, topP: 1, seed: 1 }).sample(Float32Array.from([1, NaN]))).toThrow(/logit 1 is NaN/);
  });

  it('rng floats are uniform in [0, 1)', () => {
    const r = new Rng(123);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const f = r.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      sum += f;
    }
    expect(Math.abs(sum / 10000 - 0.5)).toBeLessThan(0.02);
  });
});

describe('sampler edge cases', () => {
  it('top-p on a flat distribution picks a real id (the nucleus is never empty)', () => {
    const flat = new Float32Array(512).fill(0.25);
    const s = new Sampler({ temperature: 1e9, topP: 0.001, seed: 1 });
    const id = s.sample(flat);
    expect(Number.isInteger(id) && id >= 0 && id < 512).toBe(true);
  });
  it('refuses a temperature too small to divide by', () => {
    expect(() => new Sampler({ temperature: 1e-310, topP: 1, seed: 1 })).toThrow(/too small to divide by; use 0 for greedy/);
  });
});
