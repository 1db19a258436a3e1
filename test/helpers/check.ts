import { expect } from 'vitest';

/**
 * Compares a tensor against its reference with |a − e| ≤ atol + rtol·|e| per element, failing
 * with the max difference and the first few mismatches (after llm.c's check_tensor).
 */
export function checkTensor(
  name: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4 }: { atol?: number; rtol?: number } = {},
): void {
  expect(actual.length, `${name}: length`).toBe(expected.length);
  let maxDiff = 0;
  const bad: string[] = [];
  let nBad = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? NaN : Math.max(maxDiff, d);
    if (!(d <= atol + rtol * Math.abs(e))) {
      nBad++;
      if (bad.length < 5) bad.push(`[${i}] ${a} vs ${e}`);
    }
  }
  if (nBad > 0) {
    throw new Error(`${name}: ${nBad}/${expected.length} values outside tolerance (atol ${atol}, rtol ${rtol}); max |diff| ${maxDiff}; first: ${bad.join(', ')}`);
  }
}

/** Largest |a − b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
