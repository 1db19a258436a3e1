import { kvDim, type ModelConfig } from '../model/config.ts';
import { allreducePlan, multicastGroups, type Segment } from './collectives.ts';
import { ringOrder } from './ring.ts';
import { scoreClasses } from './programs/decode-fabric.ts';
import type { MeshConfig } from './config.ts';
import { columnHeads, columnRuns, owners, slotsForRow, split } from './placement.ts';

/**
 * The fabric decode's cost model in closed form: what `traceFabricToken(compileFabricDecode(…))`
 * (src/mesh/fabric-trace.ts) charges for one token, without compiling the decode — no streams, no
 * items, no per-core tables — so it runs on a whole wafer with a real model (well under a second for
 * Llama-3.1-70B on 762 × 1172 cores).
 *
 * It follows src/mesh/programs/decode-fabric.ts phase by phase and reproduces the trace's
 * arithmetic exactly: a fabric phase is its rounds one after another; a round costs its slowest
 * item — item k of a stream enters k ÷ bw cycles after the stream's first, then pays α per hop from
 * its origin to its end and β per ramp relay (every ramping core after the origin on a reduction,
 * one delivery on a broadcast) — the first slowest in stream and item order, so the split into
 * serialisation, hops and ramps is the trace's too. Where a stream's items all travel the same way
 * (allreduces, segments, the embedding, the logits, the next token's id) only its last item is costed; where
 * they do not (reduce-scatters, allgathers, multicasts) every element is, from the placement's
 * per-coordinate owners (a few tens of thousands of coordinates, not a million cores). A compute
 * pass costs ⌈the busiest core's FLOPs ÷ FLOPs per cycle⌉, each core's FLOPs being
 * (column part) + (column part) × (row part), maximised and summed over columns and rows apart.
 * Every layer is the same program, so one layer is costed and repeated.
 */

/** Cycles of one phase (or of several added up), split as the trace splits them, with its words and FLOPs. */
export interface ClosedCost {
  readonly cycles: number;
  /** The busiest core's FLOPs ÷ FLOPs per cycle (compute passes). */
  readonly compute: number;
  /** The critical word's hops × α. */
  readonly hops: number;
  /** The critical word's wait behind the words before it on its stream. */
  readonly serialisation: number;
  /** The critical word's ramps × β. */
  readonly ramps: number;
  /** Words summed over every link they cross (the phase's closed-form count). */
  readonly linkWords: number;
  /** FLOPs of every core (compute), or the adds the cores did for reductions (fabric). */
  readonly flops: number;
}

/** The fabric phases of one layer, in program order. */
export const LAYER_PHASES = ['attention norm', 'q, k, v', 'attention scores', 'column maxima', 'column sums', 'wo', 'ffn norm', 'w1, w3', 'w2'] as const;
export type LayerPhase = (typeof LAYER_PHASES)[number];
/** Every kind of step of a token: the compute passes together, each fabric phase of a layer, and those outside the layers. */
export type PhaseKind = 'compute' | 'embedding' | LayerPhase | 'final norm' | 'logits' | 'next token';
export const PHASE_KINDS: readonly PhaseKind[] = ['compute', 'embedding', ...LAYER_PHASES, 'final norm', 'logits', 'next token'];

/** The compute passes of shaders/mesh_core.wgsl the decode runs (the per-layer ones once per layer). */
export type ComputeEntry = 'embed_load' | 'embed_sumsq' | 'qkv' | 'scores' | 'softmax' | 'rescale' | 'wo' | 'residual' | 'w13' | 'w2' | 'classifier' | 'argmax_local' | 'argmax_pick';

export interface FabricTokenCost {
  readonly token: number;
  readonly pos: number;
  readonly algorithm: 'chain' | 'ring' | 'ktree';
  /** Per kind over the whole token (the layers' phases summed over every layer). */
  readonly kinds: Readonly<Record<PhaseKind, ClosedCost>>;
  /** One layer's fabric phases (every layer costs the same). */
  readonly layer: Readonly<Record<LayerPhase, ClosedCost>>;
  /** One of each compute pass. */
  readonly passes: Readonly<Record<ComputeEntry, ClosedCost>>;
  /** The token: every step one after another (no overlap modelled). */
  readonly total: ClosedCost;
  /** Compute passes and fabric phases per token. */
  readonly steps: number;
}

export const ZERO: ClosedCost = { cycles: 0, compute: 0, hops: 0, serialisation: 0, ramps: 0, linkWords: 0, flops: 0 };

/** a + b, field by field, in the trace's order of addition. */
export function add(a: ClosedCost, b: ClosedCost): ClosedCost {
  return {
    cycles: a.cycles + b.cycles,
    compute: a.compute + b.compute,
    hops: a.hops + b.hops,
    serialisation: a.serialisation + b.serialisation,
    ramps: a.ramps + b.ramps,
    linkWords: a.linkWords + b.linkWords,
    flops: a.flops + b.flops,
  };
}

/** A round's slowest item so far: the first of the slowest, as fabric.ts `roundCycles` keeps it. */
export class Slowest {
  cycles = 0;
  serialisation = 0;
  hops = 0;
  ramps = 0;
  constructor(private readonly t: { hop: number; ramp: number; bw: number }) {}
  /** Item k of its stream, `hops` hops from origin to end, `relays` ramps on its way. */
  item(k: number, hops: number, relays: number): void {
    if (hops === 0) return;
    const serialisation = k / this.t.bw;
    const h = hops * this.t.hop;
    const r = relays * this.t.ramp;
    const cycles = serialisation + h + r;
    if (cycles > this.cycles) {
      this.cycles = cycles;
      this.serialisation = serialisation;
      this.hops = h;
      this.ramps = r;
    }
  }
}

/**
 * The folded ring allreduce (ring.ts) of n(line) words on each of `lines` lines of N: per round
 * (2(N − 1) of them) the first slowest chunk's last word, as roundCycles finds it walking the
 * streams line by line and ring link by ring link; lines with equal n are costed once.
 */
function ringClosed(t: { hop: number; ramp: number; bw: number }, N: number, lines: number, n: (line: number) => number): ClosedCost {
  const order = ringOrder(N);
  const links = N < 2 ? [] : order.map((from, j) => ({ j, hops: Math.abs(order[(j + 1) % N] - from) }));
  const counts: number[] = [];
  for (let line = 0; line < lines; line++) if (n(line) > 0 && !counts.includes(n(line))) counts.push(n(line));
  const nRounds = 2 * Math.max(0, N - 1);
  // Per distinct n (in order of its first line): each round's slowest, and the words and adds.
  const perCount = counts.map((words) => {
    const chunk = (c: number) => split(words, N, c)[1] - split(words, N, c)[0];
    const slow: Slowest[] = [];
    let linkWords = 0;
    let adds = 0;
    for (let r = 0; r < nRounds; r++) {
      const gather = r >= N - 1;
      const s = gather ? r - (N - 1) : r;
      const w = new Slowest(t);
      for (const { j, hops } of links) {
        const m = chunk((((gather ? j + 1 - s : j - s) % N) + N) % N);
        if (m === 0) continue;
        w.item(m - 1, hops, 1);
        linkWords += m * hops;
        if (!gather) adds += m;
      }
      slow.push(w);
    }
    return { words, slow, linkWords, adds };
  });
  let linkWords = 0;
  let flops = 0;
  for (let line = 0; line < lines; line++) {
    const g = perCount.find((x) => x.words === n(line));
    if (!g) continue;
    linkWords += g.linkWords;
    flops += g.adds;
  }
  // Each round: the first group (by first line) with the largest cycles; groups keep their lines' order.
  const slowest = Array.from({ length: nRounds }, (_, r) => perCount.reduce<Slowest | null>((best, g) => (best === null || g.slow[r].cycles > best.cycles ? g.slow[r] : best), null) ?? new Slowest(t));
  return rounds(slowest, linkWords, flops);
}

/** Rounds one after another: their slowest items' cycles add up. */
export function rounds(rs: readonly Slowest[], linkWords: number, flops: number): ClosedCost {
  let c = ZERO;
  for (const r of rs) c = add(c, { cycles: r.cycles, compute: 0, hops: r.hops, serialisation: r.serialisation, ramps: r.ramps, linkWords: 0, flops: 0 });
  return { ...c, linkWords, flops };
}

/** Ramping positions in [a, b] of a segment (every core, or its `ramps`), as collectives.ts counts them. */
const ramping = (s: Segment, a: number, b: number) => (s.ramps ? s.ramps.filter((p) => p >= a && p <= b).length : Math.max(0, b - a + 1));

/**
 * The slowest item of a segmentRound (collectives.ts) over `lines` lines: on each line and segment
 * with n(line, segment) > 0 elements, a stream from each end in to the centre (reduce) or from the
 * centre out (bcast), of which `live` items run; they all go the same way, so the last is slowest.
 */
function segmentRoundSlowest(
  t: { hop: number; ramp: number; bw: number },
  lines: number,
  kind: 'reduce' | 'bcast',
  segments: readonly Segment[],
  n: (line: number, s: Segment) => number,
  live: (line: number, s: Segment, n: number) => number = (_, __, k) => k,
): Slowest {
  const w = new Slowest(t);
  // Per segment and side: hops and relays (the same on every line).
  const sides = segments.map((s) =>
    ([true, false] as const).map((forward) => {
      const far = forward ? (kind === 'reduce' ? s.lo : s.hi) : kind === 'reduce' ? s.hi : s.lo;
      if (far === s.centre) return null;
      const hops = Math.abs(far - s.centre);
      // A reduction relays at every ramping core after its origin up to its home: (lo, centre] from
      // the west end, [centre, hi) from the east; a broadcast pays its one delivery.
      const relays = kind === 'bcast' ? 1 : !s.ramps ? hops : forward ? s.ramps.filter((p) => p > s.lo && p <= s.centre).length : s.ramps.filter((p) => p >= s.centre && p < s.hi).length;
      return { hops, relays };
    }),
  );
  for (let line = 0; line < lines; line++) {
    segments.forEach((s, i) => {
      const count = n(line, s);
      if (count === 0) return;
      const k = live(line, s, count);
      if (k === 0) return;
      for (const side of sides[i]) if (side) w.item(k - 1, side.hops, side.relays);
    });
  }
  return w;
}

/** Words over links and ramp words of a segment round with n words per segment (collectives.ts `segmentCost`, summed over links). */
function segmentWords(kind: 'reduce' | 'bcast', s: Segment, n: number): { links: number; ramp: number } {
  const ramp = kind === 'reduce' ? ramping(s, s.lo + 1, s.centre) + ramping(s, s.centre, s.hi - 1) : ramping(s, s.centre + 1, s.hi) + ramping(s, s.lo, s.centre - 1);
  return { links: n * Math.max(0, s.hi - s.lo), ramp: n * ramp };
}

/**
 * Closed-form cost of the fabric decode of `model` on `mesh` for the token `token` at position
 * `pos` (which must be below the placement's context: a row's KV-cache streams carry the slots in
 * use up to `pos`, capped at the slots of a `context`-position cache, default the model's seqLen).
 * Equal, phase kind by phase kind and part by part, to `traceFabricToken(compileFabricDecode(
 * compileProgram(model, mesh), algorithm), token, pos)` — see test/mesh/fabric-closed.test.ts.
 */
export function fabricTokenCycles(model: ModelConfig, mesh: MeshConfig, pos: number, algorithm: 'chain' | 'ring' | 'ktree', token = 1, context = model.seqLen): FabricTokenCost {
  const m = model;
  const W = mesh.width;
  const H = mesh.height;
  const t = { hop: mesh.cyclesPerHop, ramp: mesh.cyclesPerRamp, bw: mesh.wordsPerLinkCycle };
  const own = owners(m, mesh);
  const runs = (kind: 'dim' | 'kv' | 'hidden') => Array.from({ length: W }, (_, c) => columnRuns(m, mesh, kind, c));
  const dimRuns = runs('dim');
  const kvRuns = runs('kv');
  const hidRuns = runs('hidden');
  const width = (r: readonly [number, number][]) => r.reduce((a, [lo, hi]) => a + hi - lo, 0);
  const nd = dimRuns.map(width);
  const nk = kvRuns.map(width);
  const nh = hidRuns.map(width);
  const heads = Array.from({ length: W }, (_, c) => columnHeads(m, mesh, c));
  const lengthOf = (kind: 'dim' | 'kv' | 'hidden' | 'vocab') => (kind === 'dim' ? m.dim : kind === 'kv' ? kvDim(m) : kind === 'hidden' ? m.hiddenDim : m.vocabSize);
  const rowSize = (kind: 'dim' | 'kv' | 'hidden' | 'vocab') =>
    Array.from({ length: H }, (_, r) => {
      const [lo, hi] = split(lengthOf(kind), H, r);
      return hi - lo;
    });
  const rd = rowSize('dim');
  const rk = rowSize('kv');
  const rh = rowSize('hidden');
  const rv = rowSize('vocab');
  // Positions up to `pos` that row r holds (position p lives in row p mod H), and what the trace
  // streams of them (its items are the slots a `context`-position cache gives the row).
  const used = (r: number) => (pos < r ? 0 : Math.floor((pos - r) / H) + 1);
  const liveSlots = (r: number) => Math.min(used(r), slotsForRow(Math.max(context, 1), H, r));

  // ---- compute passes: the busiest core's FLOPs (fabric-trace.ts computeFlops), over columns and rows apart ----
  const maxOf = (xs: readonly number[]) => xs.reduce((a, b) => (b > a ? b : a), 0);
  const sumOf = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  const usedSum = sumOf(Array.from({ length: H }, (_, r) => used(r)));
  const cols = Array.from({ length: W }, (_, c) => c);
  /** A pass whose core (r, c) does a(c) + b(c)·g(r) FLOPs with b ≥ 0: its busiest core and its total. */
  const pass = (a: (c: number) => number, b: (c: number) => number, g: readonly number[] | null): ClosedCost => {
    const gMax = g ? maxOf(g) : 0;
    const gSum = g ? sumOf(g) : 0;
    let busiest = 0;
    let flops = 0;
    for (const c of cols) {
      busiest = Math.max(busiest, a(c) + b(c) * gMax);
      flops += a(c) * H + b(c) * gSum;
    }
    const cycles = Math.ceil(busiest / mesh.flopsPerCoreCycle);
    return { ...ZERO, cycles, compute: cycles, flops };
  };
  const rows = (f: (r: number) => number) => Array.from({ length: H }, (_, r) => f(r));
  const passes: Record<ComputeEntry, ClosedCost> = {
    embed_load: pass(() => 0, () => 0, null),
    embed_sumsq: pass((c) => 2 * nd[c], () => 0, null),
    qkv: pass((c) => 3 * nd[c], (c) => 2 * nd[c], rows((r) => rd[r] + 2 * rk[r])),
    scores: pass((c) => 3 * nd[c] + 3 * nk[c], (c) => 2 * nd[c], rows(used)),
    softmax: pass(() => 0, (c) => 4 * heads[c].count + 2 * nd[c], rows(used)),
    rescale: pass((c) => 3 * heads[c].count + nd[c], () => 0, null),
    wo: pass((c) => nd[c], (c) => 2 * nd[c], rd),
    residual: pass((c) => 3 * nd[c], () => 0, null),
    w13: pass((c) => 3 * nd[c], (c) => 4 * nd[c], rh),
    w2: pass((c) => 5 * nh[c], (c) => 2 * nh[c], rd),
    classifier: pass((c) => 3 * nd[c], (c) => 2 * nd[c], rv),
    argmax_local: pass(() => 0, (c) => (c === 0 ? 1 : 0), rv),
    argmax_pick: pass(() => 0, (c) => (c === 0 ? 1 : 0), rv),
  };

  // ---- allreduces: Σx² along the rows, head statistics down the columns ----
  const allreduce = (axis: 'row' | 'col', n: (line: number) => number): ClosedCost => {
    const N = axis === 'row' ? W : H;
    const lines = axis === 'row' ? H : W;
    if (algorithm === 'ring') return ringClosed(t, N, lines, n);
    const plan = allreducePlan(N, algorithm);
    let totalN = 0;
    for (let line = 0; line < lines; line++) totalN += n(line);
    let linkWords = 0;
    let flops = 0;
    const slowest = plan.map(([kind, segs]) => {
      for (const s of segs) {
        const w = segmentWords(kind, s, totalN);
        linkWords += w.links;
        if (kind === 'reduce') flops += w.ramp;
      }
      return segmentRoundSlowest(t, lines, kind, segs, (line) => n(line));
    });
    return rounds(slowest, linkWords, flops);
  };

  // ---- the embedding: x (the token's row's slice, zeros elsewhere) allreduced down every column ----
  const embedding = allreduce('col', (c) => nd[c]);

  // ---- the next token: maximum and flag, then the first maximum's index, down column 0; the id along every row ----
  const best = allreduce('col', (c) => (c === 0 ? 2 : 0));
  const along: Segment = { lo: 0, hi: W - 1, centre: 0 };
  const pick = add(allreduce('col', (c) => (c === 0 ? 1 : 0)), rounds([segmentRoundSlowest(t, H, 'bcast', [along], () => 1)], H * segmentWords('bcast', along, 1).links, 0));

  // ---- reduce-scatter to each coordinate's column (KV: its home, then multicast to its other holders), column allgather ----
  // The columns holding each KV coordinate (more than one where the KV cache is kept more than
  // once), and its home: the holder nearest the middle of its holders, the first of equals.
  const holders: number[][] = Array.from({ length: kvDim(m) }, () => []);
  kvRuns.forEach((rs, c) => rs.forEach(([lo, hi]) => { for (let i = lo; i < hi; i++) holders[i].push(c); }));
  const reach = (hs: readonly number[], h: number) => Math.max(h - hs[0], hs[hs.length - 1] - h);
  const kvHome = holders.map((hs) => hs.reduce((best, h) => (reach(hs, h) < reach(hs, best) ? h : best)));
  const kvCopied = holders.some((hs) => hs.length > 1);
  const homeOf = (kind: 'dim' | 'kv' | 'hidden', i: number) => (kind === 'kv' ? kvHome[i] : own.col[kind][i]);
  const coordsOf = (kind: 'dim' | 'kv' | 'hidden', c: number) => (kind === 'dim' ? dimRuns : kind === 'kv' ? kvRuns : hidRuns)[c];

  const scatterGather = (parts: readonly ('dim' | 'kv' | 'hidden')[]): ClosedCost => {
    // Row reduce-scatter (collectives.ts chainReduceScatter): per row, a stream from the west end
    // with the elements homed east of it, then one from the east end with those homed west of the
    // last core, each in element order; an element homed h goes h (or W − 1 − h) hops, adding at each.
    const rs = new Slowest(t);
    let rsElements = 0;
    for (let r = 0; r < H; r++) {
      for (const forward of [true, false]) {
        let k = 0;
        for (const kind of parts) {
          const [lo, hi] = split(lengthOf(kind), H, r);
          if (forward) rsElements += hi - lo;
          for (let i = lo; i < hi; i++) {
            const h = homeOf(kind, i);
            const d = forward ? h : W - 1 - h;
            if (d > 0) rs.item(k++, d, d);
          }
        }
      }
    }
    const order: Slowest[] = [rs];
    let linkWords = (W - 1) * rsElements;
    const flops = (W - 1) * rsElements;
    // Multicast (collectives.ts lineMulticast) of each KV coordinate from its home to its other holders.
    if (kvCopied && parts.includes('kv')) {
      const mc = new Slowest(t);
      for (let r = 0; r < H; r++) {
        const els: { at: number; lo: number; hi: number }[] = [];
        for (const kind of parts) {
          if (kind !== 'kv') continue;
          const [lo, hi] = split(kvDim(m), H, r);
          for (let i = lo; i < hi; i++) {
            const hs = holders[i];
            if (hs.length > 1) els.push({ at: kvHome[i], lo: hs[0], hi: hs[hs.length - 1] });
          }
        }
        for (const e of els) linkWords += e.hi - e.lo;
        // Groups of elements whose spans overlap, each streamed on its own segment.
        for (const group of multicastGroups(els)) {
          for (const forward of [true, false]) {
            const items = group.filter((e) => (forward ? e.hi > e.at : e.lo < e.at)).map((e) => ({ origin: e.at, end: forward ? e.hi : e.lo }));
            if (items.length === 0) continue;
            const first = forward ? Math.min(...items.map((i) => i.origin)) : Math.max(...items.map((i) => i.origin));
            items.sort((x, y) => Math.abs(y.end - first) - Math.abs(x.end - first));
            items.forEach((it, k) => mc.item(k, Math.abs(it.end - it.origin), 1));
          }
        }
      }
      order.push(mc);
    }
    // Column allgather (collectives.ts lineAllgather): per column, a stream south with the elements
    // whose row is above the last, then one north with those below the first, in element order.
    const ag = new Slowest(t);
    let agElements = 0;
    for (let c = 0; c < W; c++) {
      for (const forward of [true, false]) {
        let k = 0;
        for (const kind of parts) {
          for (const [lo, hi] of coordsOf(kind, c)) {
            if (forward) agElements += hi - lo;
            for (let i = lo; i < hi; i++) {
              const row = own.row[kind][i];
              const d = forward ? H - 1 - row : row;
              if (d > 0) ag.item(k++, d, 1);
            }
          }
        }
      }
    }
    order.push(ag);
    linkWords += (H - 1) * agElements;
    return rounds(order, linkWords, flops);
  };

  // ---- attention scores: per-head segments of columns along the rows, for the slots in use ----
  // Segments that share a column run in a second round; columns inside a segment that hold none of
  // its heads only route (decode-fabric.ts scoreClasses).
  const classes = scoreClasses(m, mesh).map((cls) => cls.map((x) => ({ seg: x.seg, heads: x.heads.length })));
  const scoreRounds: Slowest[] = [];
  let scoreWords = 0;
  let scoreAdds = 0;
  for (const cls of classes.filter((c) => c.length)) {
    const segs = cls.map((x) => x.seg);
    const headsOf = new Map(cls.map((x) => [x.seg, x.heads]));
    for (const kind of ['reduce', 'bcast'] as const) {
      // A row streams heads × (its slots) items per segment, of which heads × (slots in use) run.
      scoreRounds.push(
        segmentRoundSlowest(t, H, kind, segs, (r, s) => slotsForRow(Math.max(context, 1), H, r) * headsOf.get(s)!, (r, s) => liveSlots(r) * headsOf.get(s)!),
      );
      for (const x of cls) {
        const w = segmentWords(kind, x.seg, usedSum * x.heads);
        scoreWords += w.links;
        if (kind === 'reduce') scoreAdds += w.ramp;
      }
    }
  }
  const scores = rounds(scoreRounds, scoreWords, scoreAdds);

  // ---- logits: every row's share reduced along the row to column 0 ----
  const logitsRound = new Slowest(t);
  for (let r = 0; r < H; r++) if (W > 1 && rv[r] > 0) logitsRound.item(rv[r] - 1, W - 1, W - 1);
  const logits = rounds([logitsRound], (W - 1) * m.vocabSize, (W - 1) * m.vocabSize);

  const sumsq = allreduce('row', () => 1);
  const layer: Record<LayerPhase, ClosedCost> = {
    'attention norm': sumsq,
    'q, k, v': scatterGather(['dim', 'kv', 'kv']),
    'attention scores': scores,
    'column maxima': allreduce('col', (c) => heads[c].count),
    'column sums': allreduce('col', (c) => heads[c].count + nd[c]),
    'wo': scatterGather(['dim']),
    'ffn norm': sumsq,
    'w1, w3': scatterGather(['hidden', 'hidden']),
    'w2': scatterGather(['dim']),
  };

  // The token's steps in program order (decode-fabric.ts), added up as the trace adds them.
  const sequence: [PhaseKind, ClosedCost][] = [['compute', passes.embed_load], ['embedding', embedding], ['compute', passes.embed_sumsq]];
  for (let l = 0; l < m.nLayers; l++) {
    sequence.push(
      ['attention norm', layer['attention norm']],
      ['compute', passes.qkv],
      ['q, k, v', layer['q, k, v']],
      ['compute', passes.scores],
      ['attention scores', layer['attention scores']],
      ['compute', passes.softmax],
      ['column maxima', layer['column maxima']],
      ['compute', passes.rescale],
      ['column sums', layer['column sums']],
      ['compute', passes.wo],
      ['wo', layer.wo],
      ['compute', passes.residual],
      ['ffn norm', layer['ffn norm']],
      ['compute', passes.w13],
      ['w1, w3', layer['w1, w3']],
      ['compute', passes.w2],
      ['w2', layer.w2],
      ['compute', passes.residual],
    );
  }
  sequence.push(['final norm', sumsq], ['compute', passes.classifier], ['logits', logits]);
  sequence.push(['compute', passes.argmax_local], ['next token', best], ['compute', passes.argmax_pick], ['next token', pick]);
  const kinds = Object.fromEntries(PHASE_KINDS.map((k) => [k, ZERO])) as Record<PhaseKind, ClosedCost>;
  let total = ZERO;
  for (const [kind, c] of sequence) {
    kinds[kind] = add(kinds[kind], c);
    total = add(total, c);
  }
  return { token, pos, algorithm, kinds, layer, passes, total, steps: sequence.length };
}

/** k × a, field by field: k copies of a step one after another. */
export function times(k: number, a: ClosedCost): ClosedCost {
  return { cycles: k * a.cycles, compute: k * a.compute, hops: k * a.hops, serialisation: k * a.serialisation, ramps: k * a.ramps, linkWords: k * a.linkWords, flops: k * a.flops };
}

/**
 * A token's cost in three parts, from `fabricTokenCycles`: `front` (the embedding: its load, its
 * allreduce down the columns and the first Σx²), `layer` (one layer's fabric phases and compute
 * passes, every layer the same) and `head` (the final norm, the classifier, the logits reduction
 * and the next token's id). front + nLayers × layer + head is the token (`total`), cycle for cycle:
 * a placement that puts parts of the model on different regions costs each part on its region.
 */
export function tokenParts(c: FabricTokenCost): { readonly front: ClosedCost; readonly layer: ClosedCost; readonly head: ClosedCost } {
  const p = c.passes;
  const front = [p.embed_load, c.kinds.embedding, p.embed_sumsq].reduce(add, ZERO);
  const layer = [...LAYER_PHASES.map((k) => c.layer[k]), p.qkv, p.scores, p.softmax, p.rescale, p.wo, p.residual, p.w13, p.w2, p.residual].reduce(add, ZERO);
  const head = [c.kinds['final norm'], p.classifier, c.kinds.logits, p.argmax_local, p.argmax_pick, c.kinds['next token']].reduce(add, ZERO);
  return { front, layer, head };
}
