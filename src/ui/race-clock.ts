/**
 * The race's one clock, as pure arithmetic (tested without a browser): both panes reveal their
 * tokens on the same modelled time axis, screen time = modelled time ÷ scale, nothing holds the
 * faster one back.
 */

/** Seconds on screen the slower machine takes at 1× (10…60 s: a quarter second per token, clamped). */
export function raceSeconds(tokens: number): number {
  return Math.min(60, Math.max(10, tokens * 0.25));
}

/** A pane's track: each token's piece and the modelled time at which it is done (cumulative, seconds). */
export interface Track {
  pieces: string[];
  /** ends[i]: modelled seconds from the start until token i is decoded; non-decreasing. */
  ends: number[];
}

export const emptyTrack = (): Track => ({ pieces: [], ends: [] });

/** Appends tokens that each took `seconds[i]` of modelled time. */
export function extend(t: Track, pieces: string[], seconds: number[]): void {
  let end = t.ends.length ? t.ends[t.ends.length - 1] : 0;
  pieces.forEach((p, i) => {
    end += seconds[i];
    t.pieces.push(p);
    t.ends.push(end);
  });
}

/** Tokens of a track done by modelled time `t` (binary search). */
export function revealedAt(track: Track, t: number): number {
  let lo = 0;
  let hi = track.ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (track.ends[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Modelled seconds the whole track takes (0 when empty). */
export const trackSeconds = (t: Track) => (t.ends.length ? t.ends[t.ends.length - 1] : 0);

/**
 * Modelled seconds per second on screen, so that the slower of the tracks takes `raceSeconds`
 * on screen at 1×. `expected` is how many tokens the race will have (the slower track's total
 * is extrapolated from what is decoded when not all is: its first token, which ends the prefill,
 * plus the decode steps' mean for the rest). A track shorter than `expected` (the GPU's one
 * prefill in the disaggregated mode) is extrapolated as if it had them: pass it apart if not.
 */
export function chooseScale(tracks: Track[], expected: number): number {
  let slow = 0;
  for (const t of tracks) {
    if (!t.ends.length) continue;
    const total = trackSeconds(t);
    const n = t.ends.length;
    // The first token ends the prefill (the time to first token), unlike the decode steps after
    // it: the rest is extrapolated from the decode steps alone once there are some.
    const estimate = n >= 2 ? t.ends[0] + ((total - t.ends[0]) / (n - 1)) * (Math.max(expected, n) - 1) : (total / n) * Math.max(expected, n);
    slow = Math.max(slow, estimate);
  }
  return slow > 0 ? slow / raceSeconds(Math.max(expected, ...tracks.map((t) => t.ends.length))) : 0;
}

/**
 * Whether the clock may move to modelled time `t`: every track that is still being decoded must
 * hold what it reveals by then, so a pane is never shown behind its own modelled pace because the
 * engines (on this machine's clock) had not decoded it yet. A finished decode never holds.
 */
export function covered(tracks: Track[], t: number, decoding: boolean): boolean {
  if (!decoding) return true;
  return tracks.every((tr) => trackSeconds(tr) >= t);
}

/** "1 s on screen = 0.42 ms modelled" and the slow-motion factor, for the page. */
export function describeScale(scale: number, speed: number): { perScreenSecond: string; slowMotion: string } {
  const modelledPerScreenSecond = scale * speed;
  return { perScreenSecond: formatSeconds(modelledPerScreenSecond), slowMotion: slowMotionFactor(modelledPerScreenSecond) };
}

/** "1,234× slower than real time" or "3.2× faster than real time" or "real time". */
export function slowMotionFactor(modelledPerScreenSecond: number): string {
  if (modelledPerScreenSecond <= 0) return '';
  if (Math.abs(modelledPerScreenSecond - 1) < 1e-9) return 'real time';
  if (modelledPerScreenSecond < 1) return `${fmtFactor(1 / modelledPerScreenSecond)}× slower than real time`;
  return `${fmtFactor(modelledPerScreenSecond)}× faster than real time`;
}

const fmtFactor = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en') : x.toPrecision(3));

/** Seconds in the unit that reads best: "3.21 s", "45.1 ms", "820 µs", "12.0 ns". */
export function formatSeconds(s: number): string {
  const a = Math.abs(s);
  if (a >= 1) return `${s.toPrecision(3)} s`;
  if (a >= 1e-3) return `${(s * 1e3).toPrecision(3)} ms`;
  if (a >= 1e-6) return `${(s * 1e6).toPrecision(3)} µs`;
  return `${(s * 1e9).toPrecision(3)} ns`;
}
