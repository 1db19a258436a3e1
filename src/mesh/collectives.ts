import { CATALOG } from '../catalog.ts';
import { WafermeshError } from '../errors.ts';
import type { Address, FabricCount, FabricRound, FabricStream, LocalCopy, StreamItem } from './fabric.ts';

/**
 * The collectives: which algorithms reduce, gather and broadcast along a line of cores (a row or
 * a column), the fabric streams that move their words, and what each costs — its words per link,
 * steps, ramp words and adds, and its cycles — in one place. The fabric decode builds its phases
 * from them, the trace and the closed form charge them, the cost model reads the trace.
 */

/** Allreduce algorithms this code implements (the catalog lists them with their descriptions; a test holds the two equal). */
export type Allreduce = 'chain' | 'ring' | 'ktree';
export const ALLREDUCE_ALGORITHMS: readonly Allreduce[] = ['chain', 'ring', 'ktree'];
/** Other names accepted for an algorithm. */
export const ALLREDUCE_ALIASES: Readonly<Record<string, Allreduce>> = { tree: 'ktree' };
export const DEFAULT_ALLREDUCE = CATALOG.defaults.allreduce as Allreduce;

/** The algorithm a name (or alias) names; refuses any other in one line. */
export function allreduceOf(name: string): Allreduce {
  const a = ALLREDUCE_ALIASES[name] ?? name;
  if (!(ALLREDUCE_ALGORITHMS as readonly string[]).includes(a)) {
    throw new WafermeshError('bad-option', `allreduce "${name}" is not one of ${ALLREDUCE_ALGORITHMS.join(', ')} (tree is ktree)`);
  }
  return a as Allreduce;
}

/** A core's four outgoing links, in the catalog's link order: link id = core * 4 + DIR[...]. */
export const DIR = Object.fromEntries(CATALOG.linkOrder.map((d, i) => [d, i])) as { readonly [K in (typeof CATALOG.linkOrder)[number]]: number };

// ---------------------------------------------------------------------------------------------
// The collectives on the fabric: each builds the streams that move its words neighbour by
// neighbour (src/mesh/fabric.ts), and beside it a closed-form cost — words per link, fabric steps,
// ramp words and adds — written from the algorithm, not by walking the streams, so that the GPU's
// measurement of the streams can be held against it.
// ---------------------------------------------------------------------------------------------

/** Which lines of the mesh a collective runs on, and their length. */
export interface Lines {
  readonly axis: 'row' | 'col';
  readonly lines: readonly number[];
  /** Cores per line (mesh width for rows, height for columns). */
  readonly length: number;
  /** The mesh's width (core index = row * width + column). */
  readonly width: number;
}

/** One element of a collective on one line: where it is read and where it goes. */
export interface LineElement {
  /** Reduce-scatter: the home position; gather: the origin position. */
  readonly at: number;
  readonly src: Address;
  readonly dst: Address;
}

/**
 * A round on every line of `l`: each element becomes up to one item flowing east/south (from the
 * line's first core) and one flowing west/north (from its last), plus a local copy at `at`.
 */
function bothWays(
  l: Lines,
  elements: (line: number) => readonly LineElement[],
  item: (e: LineElement, forward: boolean) => StreamItem | null,
): FabricRound {
  const N = l.length;
  const streams: FabricStream[] = [];
  const locals: LocalCopy[] = [];
  for (const line of l.lines) {
    const els = elements(line);
    for (const forward of [true, false]) {
      const items = els.map((e) => item(e, forward)).filter((i): i is StreamItem => i !== null);
      const flow = l.axis === 'row' ? (forward ? 'east' : 'west') : forward ? 'south' : 'north';
      if (items.length) streams.push({ axis: l.axis, line, flow, first: forward ? 0 : N - 1, items });
    }
    for (const e of els) locals.push({ core: lineCore(l.axis, line, e.at, l.width), src: e.src, dst: e.dst });
  }
  return { axis: l.axis, locals, streams };
}

/**
 * Chain reduce-scatter along each line: element j's partial sums flow from both ends of the line
 * toward its home, every core adding its own value as the wavefront passes (a streamed chain); the
 * home seeds its result with its own value and adds what arrives from each side.
 */
export function chainReduceScatter(l: Lines, elements: (line: number) => readonly LineElement[]): FabricRound {
  const last = l.length - 1;
  return bothWays(l, elements, (e, forward) =>
    (forward ? e.at > 0 : e.at < last) ? { kind: 'reduce', origin: forward ? 0 : last, end: e.at, src: e.src, dst: e.dst } : null,
  );
}

/**
 * Allgather (a broadcast wave per element) along each line: element j leaves its origin both ways
 * and every core it passes takes a copy down its ramp while the router sends it on.
 */
export function lineAllgather(l: Lines, elements: (line: number) => readonly LineElement[]): FabricRound {
  const last = l.length - 1;
  return bothWays(l, elements, (e, forward) =>
    (forward ? e.at < last : e.at > 0) ? { kind: 'bcast', origin: e.at, end: forward ? last : 0, src: e.src, dst: e.dst } : null,
  );
}

/** The core at position p of a line: lines are rows (p = column) or columns (p = row). */
export function lineCore(axis: 'row' | 'col', line: number, p: number, width: number): number {
  return axis === 'row' ? line * width + p : p * width + line;
}

/** Closed-form cost of chainReduceScatter on one line with homes `homes` (in element order). */
export function chainReduceScatterCost(N: number, homes: readonly number[]): { east: number[]; west: number[]; steps: number; rampWords: number } {
  // Link p→p+1 (east) carries the elements homed east of p; link p→p−1 (west) those homed west of p.
  const east = Array.from({ length: N }, (_, p) => homes.filter((h) => h > p).length);
  const west = Array.from({ length: N }, (_, p) => homes.filter((h) => h < p).length);
  // Element k of the east stream (homes > 0, in order) reaches its home h at step k + h; of the west
  // stream, at step k + (N − 1 − h).
  let last = -1;
  homes.filter((h) => h > 0).forEach((h, k) => (last = Math.max(last, k + h)));
  homes.filter((h) => h < N - 1).forEach((h, k) => (last = Math.max(last, k + N - 1 - h)));
  // Every hop ends in a ramp (an add, or the home's add into its result).
  const rampWords = homes.reduce((a, h) => a + h + (N - 1 - h), 0);
  return { east, west, steps: last + 1, rampWords };
}

/** Closed-form cost of lineAllgather on one line with element origins `origins` (in element order). */
export function lineAllgatherCost(N: number, origins: readonly number[]): { east: number[]; west: number[]; steps: number; rampWords: number } {
  const east = Array.from({ length: N }, (_, p) => (p < N - 1 ? origins.filter((o) => o <= p).length : 0));
  const west = Array.from({ length: N }, (_, p) => (p > 0 ? origins.filter((o) => o >= p).length : 0));
  const ne = origins.filter((o) => o < N - 1).length;
  const nw = origins.filter((o) => o > 0).length;
  // The last element of either stream reaches the far end N − 1 hops after its turn.
  const steps = ne + nw === 0 ? 0 : Math.max(ne, nw) + N - 1;
  return { east, west, steps, rampWords: origins.length * (N - 1) };
}

/** A round's closed-form cost over all its lines, as a FabricCount (lines run at once: the slowest sets the steps). */
export function linesModel(width: number, height: number, l: Lines, cost: (line: number) => { east: number[]; west: number[]; steps: number; rampWords: number }, adds: boolean): FabricCount {
  const linkWords = new Float64Array(width * height * 4);
  let steps = 0;
  let rampWords = 0;
  for (const line of l.lines) {
    const c = cost(line);
    for (let p = 0; p < l.length; p++) {
      const core = lineCore(l.axis, line, p, width);
      linkWords[core * 4 + (l.axis === 'row' ? DIR.east : DIR.south)] += c.east[p];
      linkWords[core * 4 + (l.axis === 'row' ? DIR.west : DIR.north)] += c.west[p];
    }
    steps = Math.max(steps, c.steps);
    rampWords += c.rampWords;
  }
  return { steps, linkWords, rampWords, flops: adds ? rampWords : 0 };
}

export function chainReduceScatterModel(width: number, height: number, l: Lines, homes: (line: number) => readonly number[]): FabricCount {
  return linesModel(width, height, l, (line) => chainReduceScatterCost(l.length, homes(line)), true);
}

export function lineAllgatherModel(width: number, height: number, l: Lines, origins: (line: number) => readonly number[]): FabricCount {
  return linesModel(width, height, l, (line) => lineAllgatherCost(l.length, origins(line)), false);
}

/** One element of a multicast on one line: copied from position `at` to every core in [lo, hi] (lo ≤ at ≤ hi). */
export interface MulticastElement {
  readonly at: number;
  readonly lo: number;
  readonly hi: number;
  readonly src: Address;
  readonly dst: Address;
}

/**
 * A multicast's elements on one line in groups whose spans [lo, hi] share no core: each
 * group is streamed on its own segment of the line, all at once, so a word that travels a few hops
 * at the far end of the line does not wait for a stream clocked from its near end.
 */
export function multicastGroups<T extends Pick<MulticastElement, 'at' | 'lo' | 'hi'>>(elements: readonly T[]): T[][] {
  const groups: { hi: number; els: T[] }[] = [];
  for (const e of [...elements].sort((x, y) => x.lo - y.lo)) {
    const last = groups[groups.length - 1];
    if (last && e.lo <= last.hi) {
      last.els.push(e);
      last.hi = Math.max(last.hi, e.hi);
    } else groups.push({ hi: e.hi, els: [e] });
  }
  return groups.map((g) => g.els);
}

/**
 * Multicast along each line: each element leaves its origin `at` toward both ends of its span
 * [lo, hi], and every core it passes takes a copy down its ramp into `dst` while the router sends
 * it on (the stream's colour is taken down at every core: a core inside the span that does not
 * need the word still receives it). Elements whose spans overlap share a stream per flow, clocked
 * from its most upstream origin, the farthest-reaching item first (so its last delivery comes as
 * early as any order allows); groups that do not overlap stream side by side. The origin keeps its
 * own value (copied locally when src and dst differ).
 */
export function lineMulticast(l: Lines, elements: (line: number) => readonly MulticastElement[]): FabricRound {
  const streams: FabricStream[] = [];
  const locals: LocalCopy[] = [];
  for (const line of l.lines) {
    const els = elements(line);
    for (const group of multicastGroups(els)) {
      for (const forward of [true, false]) {
        const items = group.filter((e) => (forward ? e.hi > e.at : e.lo < e.at)).map((e) => ({ kind: 'bcast' as const, origin: e.at, end: forward ? e.hi : e.lo, src: e.src, dst: e.dst }));
        if (items.length === 0) continue;
        const first = forward ? Math.min(...items.map((i) => i.origin)) : Math.max(...items.map((i) => i.origin));
        items.sort((x, y) => Math.abs(y.end - first) - Math.abs(x.end - first));
        const flow = l.axis === 'row' ? (forward ? 'east' : 'west') : forward ? 'south' : 'north';
        streams.push({ axis: l.axis, line, flow, first, items });
      }
    }
    for (const e of els) {
      if (e.src.region !== e.dst.region || e.src.offset !== e.dst.offset) locals.push({ core: lineCore(l.axis, line, e.at, l.width), src: e.src, dst: e.dst });
    }
  }
  return { axis: l.axis, locals, streams };
}

/** Closed-form cost of lineMulticast on one line with elements spanning (at, lo, hi). */
export function lineMulticastCost(N: number, spans: readonly Pick<MulticastElement, 'at' | 'lo' | 'hi'>[]): { east: number[]; west: number[]; steps: number; rampWords: number } {
  // Link p→p+1 carries the elements that start at or west of p and reach east of it; p→p−1 the mirror.
  const east = Array.from({ length: N }, (_, p) => spans.filter((s) => s.at <= p && p < s.hi).length);
  const west = Array.from({ length: N }, (_, p) => spans.filter((s) => s.lo < p && p <= s.at).length);
  // In each group's flow, item k (farthest-reaching first) reaches its end k + (its hops from the
  // stream's first core, the group's most upstream origin) steps after the clock starts; groups run
  // at once, so the slowest item of any sets the steps.
  let steps = 0;
  const flow = (reach: number[]) => reach.sort((a, b) => b - a).forEach((d, k) => (steps = Math.max(steps, k + d + 1)));
  for (const group of multicastGroups(spans)) {
    const eastward = group.filter((s) => s.hi > s.at);
    const westward = group.filter((s) => s.lo < s.at);
    const eastFirst = Math.min(...eastward.map((s) => s.at));
    const westFirst = Math.max(...westward.map((s) => s.at));
    flow(eastward.map((s) => s.hi - eastFirst));
    flow(westward.map((s) => westFirst - s.lo));
  }
  // Every hop ends in a delivery down the ramp.
  const rampWords = spans.reduce((a, s) => a + (s.hi - s.lo), 0);
  return { east, west, steps, rampWords };
}

export function lineMulticastModel(width: number, height: number, l: Lines, spans: (line: number) => readonly Pick<MulticastElement, 'at' | 'lo' | 'hi'>[]): FabricCount {
  return linesModel(width, height, l, (line) => lineMulticastCost(l.length, spans(line)), false);
}

/** Adds phase counts (rounds run one after another: steps add up). */
export function addCounts(a: FabricCount, b: FabricCount): FabricCount {
  const linkWords = Float64Array.from(a.linkWords, (w, i) => w + b.linkWords[i]);
  return { steps: a.steps + b.steps, linkWords, rampWords: a.rampWords + b.rampWords, flops: a.flops + b.flops };
}

// ----- Allreduce on a line: a streamed chain to the centre, or WaferLLM's two-level K-tree -----

/** A segment of a line whose words reduce toward (or are broadcast from) its centre; `ramps` absent: every core. */
export interface Segment {
  readonly lo: number;
  readonly hi: number;
  readonly centre: number;
  readonly ramps?: readonly number[];
}

/** Groups of a line for a K = 2 tree: ⌈√N⌉ members each (the last may be shorter), each rooted at its middle. */
export function treeGroups(N: number): Segment[] {
  const g = Math.max(1, Math.ceil(Math.sqrt(N)));
  const out: Segment[] = [];
  for (let lo = 0; lo < N; lo += g) {
    const hi = Math.min(N, lo + g) - 1;
    out.push({ lo, hi, centre: Math.floor((lo + hi) / 2) });
  }
  return out;
}

/** The level-2 segment of a K = 2 tree: from the first group root to the last, centred on the middle root, ramps at roots only. */
export function rootSegment(N: number): Segment {
  const roots = treeGroups(N).map((g) => g.centre);
  return { lo: roots[0], hi: roots[roots.length - 1], centre: roots[Math.floor((roots.length - 1) / 2)], ramps: roots };
}

/**
 * One round on disjoint segments of every line: each element reduced toward the segment's centre
 * (partial sums flowing in from both ends) or broadcast from it out to both ends.
 */
/** What a collective moves: the same elements on every line and segment, or per (line, segment). */
export type Elements = readonly { src: Address; dst: Address }[] | ((line: number, segment: Segment) => readonly { src: Address; dst: Address }[]);

export function segmentRound(
  l: Lines,
  kind: 'reduce' | 'bcast',
  segments: readonly Segment[],
  all: Elements,
  seed = false,
  op: 'sum' | 'max' = 'sum',
  perSlot?: (s: Segment) => number,
): FabricRound {
  const streams: FabricStream[] = [];
  const locals: LocalCopy[] = [];
  for (const line of l.lines) {
    for (const s of segments) {
      const elements = typeof all === 'function' ? all(line, s) : all;
      if (elements.length === 0) continue;
      for (const forward of [true, false]) {
        const far = forward ? (kind === 'reduce' ? s.lo : s.hi) : kind === 'reduce' ? s.hi : s.lo;
        if (far === s.centre) continue;
        const flow = l.axis === 'row' ? (forward ? 'east' : 'west') : forward ? 'south' : 'north';
        const [origin, end] = kind === 'reduce' ? [far, s.centre] : [s.centre, far];
        const items = elements.map((e) => ({ kind, ...(kind === 'reduce' && op === 'max' ? { op } : {}), origin, end, src: e.src, dst: e.dst }));
        streams.push({ axis: l.axis, line, flow, first: origin, ...(s.ramps ? { ramps: s.ramps } : {}), ...(perSlot ? { perSlot: perSlot(s) } : {}), items });
      }
      if (seed) for (const e of elements) locals.push({ core: lineCore(l.axis, line, s.centre, l.width), src: e.src, dst: e.dst });
    }
  }
  return { axis: l.axis, locals, streams };
}

/** The rounds of an allreduce on a line of N: (reduce or broadcast, on which segments). */
export function allreducePlan(N: number, algorithm: 'chain' | 'ktree'): [('reduce' | 'bcast'), Segment[]][] {
  if (algorithm === 'chain') {
    const whole = [{ lo: 0, hi: N - 1, centre: Math.floor((N - 1) / 2) }];
    return [['reduce', whole], ['bcast', whole]];
  }
  const groups = treeGroups(N);
  if (groups.length === 1) return [['reduce', groups], ['bcast', groups]];
  return [['reduce', groups], ['reduce', [rootSegment(N)]], ['bcast', [rootSegment(N)]], ['bcast', groups]];
}

/** Allreduce (a sum, or a maximum) of each element over every line: the chain (reduce to the centre, broadcast back) or the K = 2 tree. */
export function lineAllreduce(l: Lines, algorithm: 'chain' | 'ktree', elements: Elements, op: 'sum' | 'max' = 'sum'): FabricRound[] {
  const of = (line: number, s: Segment) => (typeof elements === 'function' ? elements(line, s) : elements);
  const inPlace = (line: number, s: Segment) => of(line, s).map((e) => ({ src: e.dst, dst: e.dst }));
  // The first reduction reads each core's own value and seeds the centres' results; the rest work in place.
  return allreducePlan(l.length, algorithm)
    .map(([kind, segments], i) => segmentRound(l, kind, segments, i === 0 ? of : inPlace, i === 0, op))
    .filter((r) => r.streams.length > 0 || r.locals.length > 0);
}

/** Closed-form cost of one segment round of n elements on one line of N (per-link words east and west, steps, ramp words). */
export function segmentCost(N: number, kind: 'reduce' | 'bcast', segments: readonly Segment[], words: number | ((s: Segment) => number)): { east: number[]; west: number[]; steps: number; rampWords: number } {
  const east = new Array<number>(N).fill(0);
  const west = new Array<number>(N).fill(0);
  let steps = 0;
  let rampWords = 0;
  for (const s of segments) {
    const n = typeof words === 'function' ? words(s) : words;
    // Reduce: n words on every link from the ends in to the centre; broadcast: from the centre out.
    // (east[p] is the link leaving p eastward, west[p] the one leaving p westward.)
    for (let p = s.lo; p < s.hi; p++) {
      if (kind === 'reduce') {
        if (p < s.centre) east[p] += n;
        else west[p + 1] += n;
      } else if (p >= s.centre) east[p] += n;
      else west[p + 1] += n;
    }
    const span = Math.max(s.centre - s.lo, s.hi - s.centre);
    // The last of n items leaves its origin at step n − 1 and is span hops from the far end.
    if (span > 0 && n > 0) steps = Math.max(steps, n - 1 + span + 1);
    // Each word is taken down the ramp at every ramping core after its origin, up to its end.
    const ramping = (a: number, b: number) => (s.ramps ? s.ramps.filter((p) => p >= a && p <= b).length : Math.max(0, b - a + 1));
    rampWords += n * (kind === 'reduce' ? ramping(s.lo + 1, s.centre) + ramping(s.centre, s.hi - 1) : ramping(s.centre + 1, s.hi) + ramping(s.lo, s.centre - 1));
  }
  return { east, west, steps, rampWords };
}

/** Closed-form cost of lineAllreduce of n elements over every line of `l`. */
export function lineAllreduceModel(width: number, height: number, l: Lines, algorithm: 'chain' | 'ktree', n: number | ((line: number) => number)): FabricCount {
  return allreducePlan(l.length, algorithm)
    .map(([kind, segs]) => linesModel(width, height, l, (line) => segmentCost(l.length, kind, segs, typeof n === 'function' ? n(line) : n), kind === 'reduce'))
    .reduce((x, y) => addCounts(x, y));
}

/**
 * Modelled cycles of one segment round of n words (the PLMR view: a hop costs α = `hop` cycles in
 * the router, a word taken down the ramp and added or delivered costs β = `ramp` cycles in the core,
 * a link carries `bw` words a cycle). The last word leaves its origin (n − 1)/bw cycles after the
 * first and then pays α for every hop and β for every ramp on its way; the slowest side sets the
 * round. A chain ramps at every core (β per hop); the K-tree's roots' segment only at the roots.
 */
export function segmentCycles(kind: 'reduce' | 'bcast', segments: readonly Segment[], n: number, hop: number, ramp: number, bw: number): number {
  if (n === 0) return 0;
  let worst = 0;
  for (const s of segments) {
    const ramping = (a: number, b: number) => (s.ramps ? s.ramps.filter((p) => p >= a && p <= b).length : Math.max(0, b - a + 1));
    // Each side: its hops, and the ramps a word passes through on it (a reduction adds at every
    // ramp up to and including the home; a broadcast multicasts on, so only its far end's delivery
    // is on the critical path).
    const sides =
      kind === 'reduce'
        ? [[s.centre - s.lo, ramping(s.lo + 1, s.centre)], [s.hi - s.centre, ramping(s.centre, s.hi - 1)]]
        : [[s.hi - s.centre, s.hi > s.centre ? 1 : 0], [s.centre - s.lo, s.lo < s.centre ? 1 : 0]];
    for (const [hops, ramps] of sides) if (hops > 0) worst = Math.max(worst, Math.ceil((n - 1) / bw) + hops * hop + ramps * ramp);
  }
  return worst;
}

/** Modelled cycles of an allreduce of n words on a line of N: its rounds one after another. */
export function lineAllreduceCycles(N: number, algorithm: 'chain' | 'ktree', n: number, hop: number, ramp: number, bw: number): number {
  return allreducePlan(N, algorithm).reduce((a, [kind, segs]) => a + segmentCycles(kind, segs, n, hop, ramp, bw), 0);
}
