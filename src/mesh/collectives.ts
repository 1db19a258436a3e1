import { allreduceIds, CATALOG } from '../catalog.ts';

/**
 * The collectives: which algorithms reduce, gather and broadcast along a line of cores (a row or
 * a column), and what each costs — its words per link, hops, serialisation and steps — in one
 * place. The wafer program names them, the trace charges them, the cost model reads the trace.
 */

/** Allreduce algorithms (the catalog lists them with their descriptions). */
export type Allreduce = 'ring' | 'tree';
export const ALLREDUCE_ALGORITHMS = allreduceIds() as readonly Allreduce[];

/** A core's four outgoing links, in the catalog's link order: link id = core * 4 + DIR[...]. */
export const DIR = Object.fromEntries(CATALOG.linkOrder.map((d, i) => [d, i])) as { readonly [K in (typeof CATALOG.linkOrder)[number]]: number };

/**
 * Cycles a collective step costs besides hops and serialisation: the receiving core's
 * synchronisation and forwarding set-up. An assumption (WaferLLM's PLMR model charges a
 * per-message latency of this order); it is what makes a K-ary tree beat a ring on short vectors.
 */
export const CYCLES_PER_STEP = 8;

export interface LineCost {
  hops: number;
  serialisation: number;
  steps: number; // cycles of per-step cost
  stepCount: number;
  maxHops: number;
  linkWords: number;
  maxLinkWords: number;
}

export const ZERO_LINE: LineCost = { hops: 0, serialisation: 0, steps: 0, stepCount: 0, maxHops: 0, linkWords: 0, maxLinkWords: 0 };
export const lineTotal = (c: LineCost) => c.hops + c.serialisation + c.steps;

/**
 * Charges one line (a row or a column, N members) of a collective into `links` (N × 2: the
 * forward and backward link leaving each member) and returns its modelled cost.
 */
export function chargeLine(
  words: ArrayLike<number>,
  collective: 'allreduce' | 'gather' | 'broadcast',
  algorithm: Allreduce | 'line',
  hop: number,
  bw: number,
  source = 0,
  links: Float64Array = new Float64Array(words.length * 2),
): LineCost {
  const N = words.length;
  const FWD = 0;
  const BACK = 1;
  const link = (i: number, dir: number, w: number) => {
    links[i * 2 + dir] += w;
  };
  const done = (c: Omit<LineCost, 'linkWords' | 'maxLinkWords'>): LineCost => {
    let sum = 0;
    let max = 0;
    for (let i = 0; i < N * 2; i++) {
      sum += links[i];
      max = Math.max(max, links[i]);
    }
    return { ...c, linkWords: sum, maxLinkWords: max };
  };
  if (N < 2) return ZERO_LINE;
  if (collective === 'allreduce') {
    const n = words[0];
    if (n === 0) return ZERO_LINE;
    const ser = Math.ceil(n / bw);
    if (algorithm === 'ring') {
      // A chain: partial sums flow one hop at a time to the far end, the sum flows back.
      for (let i = 0; i + 1 < N; i++) {
        link(i, FWD, n);
        link(i + 1, BACK, n);
      }
      const k = 2 * (N - 1);
      return done({ hops: k * hop, serialisation: k * ser, steps: k * CYCLES_PER_STEP, stepCount: k, maxHops: 1 });
    }
    // Binary tree: at step s, member c (c mod 2^(s+1) = 0) receives from c + 2^s, 2^s hops away;
    // then the sum goes back down the same tree.
    let hops = 0;
    let k = 0;
    let maxHops = 0;
    for (let d = 1; d < N; d *= 2) {
      for (let c = 0; c + d < N; c += 2 * d) {
        for (let j = c + 1; j <= c + d; j++) link(j, BACK, n); // up the tree
        for (let j = c; j < c + d; j++) link(j, FWD, n); // and back down
      }
      hops += 2 * d * hop;
      k += 2;
      maxHops = d;
    }
    return done({ hops, serialisation: k * ser, steps: k * CYCLES_PER_STEP, stepCount: k, maxHops });
  }
  if (collective === 'gather') {
    // Every member broadcasts its words to both ends of the line at once; links are shared.
    let any = false;
    for (let i = 0; i < N; i++) {
      const w = words[i];
      if (w === 0) continue;
      any = true;
      for (let j = i; j + 1 < N; j++) link(j, FWD, w);
      for (let j = i; j > 0; j--) link(j, BACK, w);
    }
    if (!any) return ZERO_LINE;
    const c = done({ hops: (N - 1) * hop, serialisation: 0, steps: CYCLES_PER_STEP, stepCount: 1, maxHops: N - 1 });
    return { ...c, serialisation: Math.ceil(c.maxLinkWords / bw) };
  }
  // broadcast from `source`
  const w = words[source];
  if (w === 0) return ZERO_LINE;
  for (let j = source; j + 1 < N; j++) link(j, FWD, w);
  for (let j = source; j > 0; j--) link(j, BACK, w);
  const far = Math.max(source, N - 1 - source);
  return done({ hops: far * hop, serialisation: Math.ceil(w / bw), steps: CYCLES_PER_STEP, stepCount: 1, maxHops: far });
}

