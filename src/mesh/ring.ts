import { linesModel, lineCore, addCounts, type Elements, type Lines } from './collectives.ts';
import type { FabricCount, FabricRound, FabricStream, Flow, LocalCopy } from './fabric.ts';
import { split } from './placement.ts';

/**
 * The ring allreduce on a line of the mesh, which has no wrap-around link: the ring is folded
 * (interleaved), the even positions in ascending order then the odd ones descending —
 * 0, 2, 4, …, 5, 3, 1 — so that logical neighbours are at most two hops apart (one at the turn and
 * at the wrap from 1 to 0). The n words are cut into one chunk per member; a reduce-scatter of
 * N − 1 steps leaves member j of the ring with chunk j + 1 summed over the line (each step every
 * member sends one chunk to its successor, which adds its own in the core, after the ramp), and an
 * allgather of N − 1 steps passes the summed chunks on round the ring. Every step is a fabric round
 * whose streams run side by side (a colour per ring link; the cores between only route them).
 * On a line the chain is as fast or faster (its words flow both ways at once); the ring is here to
 * compare, as the textbook bandwidth-optimal allreduce.
 */
export function ringOrder(N: number): number[] {
  const evens = Array.from({ length: Math.ceil(N / 2) }, (_, i) => 2 * i);
  const odds = Array.from({ length: Math.floor(N / 2) }, (_, i) => 2 * i + 1).reverse();
  return [...evens, ...odds];
}

/** The chunk of n words member j of a ring of N sends at step s of the reduce-scatter (or the allgather): [lo, hi). */
function chunkOf(N: number, n: number, j: number, s: number, gather: boolean): [number, number] {
  const c = (((gather ? j + 1 - s : j - s) % N) + N) % N;
  return split(n, N, c);
}

type Edge = { from: number; to: number };

/** Ring links as (position, successor position). */
function edges(N: number): Edge[] {
  const order = ringOrder(N);
  return N < 2 ? [] : order.map((from, j) => ({ from, to: order[(j + 1) % N] }));
}

/** Allreduce (sum, or maximum) of each element over every line by the folded ring: 2(N − 1) rounds; the first seeds every core's result with its own value. */
export function ringAllreduce(l: Lines, elements: Elements, op: 'sum' | 'max' = 'sum'): FabricRound[] {
  const N = l.length;
  const whole = { lo: 0, hi: N - 1, centre: 0 };
  const of = (line: number) => (typeof elements === 'function' ? elements(line, whole) : elements);
  const locals: LocalCopy[] = [];
  for (const line of l.lines) for (let p = 0; p < N; p++) for (const e of of(line)) locals.push({ core: lineCore(l.axis, line, p, l.width), src: e.src, dst: e.dst });
  const rounds: FabricRound[] = [];
  const ring = edges(N);
  for (const gather of [false, true]) {
    for (let s = 0; s < N - 1; s++) {
      const streams: FabricStream[] = [];
      for (const line of l.lines) {
        const els = of(line);
        ring.forEach(({ from, to }, j) => {
          const [lo, hi] = chunkOf(N, els.length, j, s, gather);
          if (hi <= lo) return;
          const forward = to > from;
          const flow: Flow = l.axis === 'row' ? (forward ? 'east' : 'west') : forward ? 'south' : 'north';
          const kind = gather ? 'bcast' : 'reduce';
          // In place: the sender's running result goes to the same word of its successor.
          const items = els.slice(lo, hi).map((e) => ({ kind, ...(kind === 'reduce' && op === 'max' ? { op } : {}), origin: from, end: to, src: e.dst, dst: e.dst }) as const);
          streams.push({ axis: l.axis, line, flow, first: from, ramps: [from, to], items });
        });
      }
      rounds.push({ axis: l.axis, locals: rounds.length === 0 ? locals : [], streams });
    }
  }
  if (rounds.length === 0 && locals.length) rounds.push({ axis: l.axis, locals, streams: [] });
  return rounds.filter((r) => r.streams.length > 0 || r.locals.length > 0);
}

/** Closed-form cost of one ring step on one line of N with n words: per-link words each way, steps, ramp words. */
export function ringStepCost(N: number, n: number, s: number, gather: boolean): { east: number[]; west: number[]; steps: number; rampWords: number } {
  const east = new Array<number>(N).fill(0);
  const west = new Array<number>(N).fill(0);
  let steps = 0;
  let rampWords = 0;
  edges(N).forEach(({ from, to }, j) => {
    const [lo, hi] = chunkOf(N, n, j, s, gather);
    const m = hi - lo;
    if (m <= 0) return;
    // m words over each link between `from` and `to` (east[p]: the link leaving p eastward).
    for (let p = Math.min(from, to); p < Math.max(from, to); p++) {
      if (to > from) east[p] += m;
      else west[p + 1] += m;
    }
    // The last word leaves at step m − 1 and arrives |to − from| hops later; one ramp per word, at `to`.
    steps = Math.max(steps, m + Math.abs(to - from));
    rampWords += m;
  });
  return { east, west, steps, rampWords };
}

/** Closed-form cost of ringAllreduce of n(line) elements over every line of `l`. */
export function ringAllreduceModel(width: number, height: number, l: Lines, n: number | ((line: number) => number)): FabricCount {
  const N = l.length;
  const count = (line: number) => (typeof n === 'function' ? n(line) : n);
  let total: FabricCount = { steps: 0, linkWords: new Float64Array(width * height * 4), rampWords: 0, flops: 0 };
  for (const gather of [false, true]) {
    for (let s = 0; s < N - 1; s++) total = addCounts(total, linesModel(width, height, l, (line) => ringStepCost(N, count(line), s, gather), !gather));
  }
  return total;
}
