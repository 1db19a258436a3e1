import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseScale, covered, describeScale, emptyTrack, extend, formatSeconds, raceSeconds, revealedAt, slowMotionFactor, trackSeconds } from '../../src/ui/race-clock.ts';

const track = (perToken: number[]) => {
  const t = emptyTrack();
  extend(t, perToken.map((_, i) => `t${i}`), perToken);
  return t;
};

describe('the race clock', () => {
  it('gives the slower machine 10 to 60 s on screen at 1×', () => {
    expect(raceSeconds(1)).toBe(10);
    expect(raceSeconds(48)).toBe(12);
    expect(raceSeconds(1024)).toBe(60);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.double({ min: 1e-9, max: 1e-2, noNaN: true }), fc.double({ min: 1.01, max: 1e5, noNaN: true }), (n, fast, ratio) => {
        const wafer = track(new Array(n).fill(fast));
        const gpu = track(new Array(n).fill(fast * ratio));
        const scale = chooseScale([wafer, gpu], n);
        const screen = trackSeconds(gpu) / scale;
        expect(screen).toBeGreaterThanOrEqual(10 - 1e-9);
        expect(screen).toBeLessThanOrEqual(60 + 1e-9);
        expect(screen).toBeCloseTo(raceSeconds(n), 6);
      }),
      { numRuns: 100, seed: 12 },
    );
  });

  it('lets the faster pane pull away: when it has shown everything, the slower one has shown its share of the modelled time, not a token more', () => {
    const n = 24;
    const wafer = track(new Array(n).fill(3e-6));
    const gpu = track(new Array(n).fill(8.4e-3));
    const scale = chooseScale([wafer, gpu], n);
    const t = trackSeconds(wafer);
    expect(revealedAt(wafer, t)).toBe(n);
    expect(revealedAt(gpu, t)).toBe(0);
    // Halfway through the slower machine's time, the faster one is long done and the slower shows half.
    const half = (raceSeconds(n) / 2) * scale * (1 + 1e-9);
    expect(revealedAt(wafer, half)).toBe(n);
    expect(revealedAt(gpu, half)).toBe(n / 2);
  });

  it('reveals each token once its machine has finished it, with uneven token times', () => {
    const t = track([1, 2, 3]);
    expect([0, 0.99, 1, 2.5, 3, 5.9, 6, 100].map((x) => revealedAt(t, x))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
  });

  it('waits while the engines have not decoded what it would show, never once the decode is done', () => {
    const wafer = track([1e-6, 1e-6]);
    const gpu = track([1e-3, 1e-3]);
    expect(covered([wafer, gpu], 1e-3, true)).toBe(false); // the wafer's next token is not decoded yet
    expect(covered([wafer, gpu], 2e-6, true)).toBe(true);
    expect(covered([wafer, gpu], 1, false)).toBe(true);
  });

  it('states its scale in words', () => {
    expect(describeScale(0.0204, 1)).toEqual({ perScreenSecond: '20.4 ms', slowMotion: '49.0× slower than real time' });
    expect(describeScale(1, 1).slowMotion).toBe('real time');
    expect(slowMotionFactor(5000)).toBe('5,000× faster than real time');
    expect(formatSeconds(71e-6)).toBe('71.0 µs');
    expect(formatSeconds(12)).toBe('12.0 s');
  });
});
