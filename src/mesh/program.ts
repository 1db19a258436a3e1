import { WafermeshError } from '../errors.ts';
import { headSize, type ModelConfig } from '../model/config.ts';
import type { MeshConfig } from './config.ts';
import { columnRuns, columnWidth, place, refuseIfNotFits, slotsForRow, split, vectorLength, type Placement, type VectorKind } from './placement.ts';

/**
 * The wafer program: the decode of one token as a list of phases, each either local compute on
 * every core or a routed transfer (a collective along rows or columns), compiled once from
 * (model, mesh, placement) and replayed per token. The runtime executes it, and the counters,
 * the modelled cycles and the UI's animation are all read from it, so they cannot disagree.
 *
 * Links: each core has four outgoing links, id = core * 4 + dir (east, west, south, north); a
 * link carries `wordsPerLinkCycle` 32-bit words per cycle and costs `cyclesPerHop` per hop.
 */

export type Allreduce = 'ring' | 'tree';
export const ALLREDUCE_ALGORITHMS: readonly Allreduce[] = ['ring', 'tree'];
export const DIR = { east: 0, west: 1, south: 2, north: 3 } as const;

/**
 * Cycles a collective step costs besides hops and serialisation: the receiving core's
 * synchronisation and forwarding set-up. An assumption (WaferLLM's PLMR model charges a
 * per-message latency of this order); it is what makes a K-ary tree beat a ring on short vectors.
 */
export const CYCLES_PER_STEP = 8;

/** A collective along lines (every row, or every column) of the mesh. */
export type Collective =
  | 'row-allreduce' // sum across each row; every core of the row gets the sum
  | 'row-segment-allreduce' // sums across segments of each row (the columns one head spans)
  | 'col-allreduce' // across each column (attention: a softmax-combining sum)
  | 'col-gather' // each core broadcasts its share of a row-reduced vector along its column
  | 'col-broadcast'; // one row's cores broadcast along their columns (the token's embedding)

/** Words per core of a collective, as a function of the position decoded. */
export type WordsFn = (core: number, pos: number) => number;

export interface TransferPhase {
  readonly kind: 'transfer';
  readonly name: string;
  readonly layer: number | null;
  readonly collective: Collective;
  readonly algorithm: Allreduce | 'line';
  /** Words the core contributes (its vector length in an allreduce; what it sends in a gather or broadcast). */
  readonly words: WordsFn;
  /** For col-broadcast: the source row. */
  readonly sourceRow?: (token: number) => number;
  /** For col-gather: the vectors gathered (each core takes its column slice of each). */
  readonly gathers?: readonly VectorKind[];
  /** For row-segment-allreduce: the column ranges [first, end) reduced separately (one per head). */
  readonly segments?: readonly (readonly [number, number])[];
}

export interface ComputePhase {
  readonly kind: 'compute';
  readonly name: string;
  readonly layer: number | null;
  /** FLOPs of core `core` at position `pos` (the same loops the kernel runs). */
  readonly flops: (core: number, pos: number) => number;
}

export type Phase = TransferPhase | ComputePhase;

/** One GPU dispatch: a transfer phase followed by the local compute it feeds. */
export interface Pass {
  readonly entry: string; // WGSL entry point in shaders/mesh_step.wgsl
  readonly layer: number | null;
  readonly phases: readonly number[]; // indices into program.phases
}

export interface WaferProgram {
  readonly model: ModelConfig;
  readonly mesh: MeshConfig;
  readonly placement: Placement;
  readonly allreduce: Allreduce;
  readonly phases: readonly Phase[];
  readonly passes: readonly Pass[];
}

export function compileProgram(model: ModelConfig, mesh: MeshConfig, allreduce: Allreduce = 'tree', valueBytes = 4): WaferProgram {
  if (!ALLREDUCE_ALGORITHMS.includes(allreduce)) {
    throw new WafermeshError('bad-option', `allreduce "${allreduce}" is not one of ${ALLREDUCE_ALGORITHMS.join(', ')}`);
  }
  const placement = place(model, mesh, valueBytes);
  refuseIfNotFits(placement);
  const m = model;
  const W = mesh.width;
  const H = mesh.height;
  const rowOf = (core: number) => Math.floor(core / W);
  const colOf = (core: number) => core % W;
  const rows = (k: VectorKind, core: number) => {
    const [lo, hi] = split(vectorLength(m, k), H, rowOf(core));
    return hi - lo;
  };
  const cols = (k: VectorKind, core: number) => columnWidth(m, mesh, k, colOf(core));
  const used = (core: number, pos: number) => slotsForRow(pos + 1, H, rowOf(core)); // positions ≤ pos in this row
  // Elements of column c's slice of a `kind` vector that row r owns after a row reduction.
  const share = (k: VectorKind, core: number) => {
    const [lo, hi] = split(vectorLength(m, k), H, rowOf(core));
    let n = 0;
    for (const [a, b] of runsOf(k, core)) n += Math.max(0, Math.min(b, hi) - Math.max(a, lo));
    return n;
  };
  const runsCache = new Map<string, [number, number][]>();
  const runsOf = (k: VectorKind, core: number) => {
    const key = `${k}:${colOf(core)}`;
    let r = runsCache.get(key);
    if (!r) {
      r = columnRuns(m, mesh, k, colOf(core));
      runsCache.set(key, r);
    }
    return r;
  };

  // The columns each head's coordinates span, and the heads each column covers.
  const hs = headSize(m);
  const colOfDim = (i: number) => {
    for (let c = 0; c < W; c++) for (const [a, b] of columnRuns(m, mesh, 'dim', c)) if (i >= a && i < b) return c;
    return W - 1;
  };
  const headSegments: [number, number][] = Array.from({ length: m.nHeads }, (_, h) => [colOfDim(h * hs), colOfDim(h * hs + hs - 1) + 1]);
  const headsOfCol = Array.from({ length: W }, (_, c) => headSegments.filter(([a, b]) => c >= a && c < b).length);
  const heads = (core: number) => headsOfCol[colOf(core)];

  const phases: Phase[] = [];
  const passes: Pass[] = [];
  let current: number[] = [];
  const transfer = (p: Omit<TransferPhase, 'kind'>) => {
    current.push(phases.length);
    phases.push({ kind: 'transfer', ...p });
  };
  const compute = (p: Omit<ComputePhase, 'kind'>) => {
    current.push(phases.length);
    phases.push({ kind: 'compute', ...p });
  };
  const pass = (entry: string, layer: number | null) => {
    passes.push({ entry, layer, phases: current });
    current = [];
  };
  const rowAllreduce = (name: string, layer: number | null, words: WordsFn) =>
    transfer({ name, layer, collective: 'row-allreduce', algorithm: allreduce, words });
  const gather = (name: string, layer: number | null, gathers: VectorKind[], words: WordsFn) =>
    transfer({ name, layer, collective: 'col-gather', algorithm: 'line', words, gathers });

  // Embedding: the token's row broadcasts its embedding slice down every column.
  transfer({
    name: 'embedding broadcast',
    layer: null,
    collective: 'col-broadcast',
    algorithm: 'line',
    words: (core) => cols('dim', core),
    sourceRow: (token) => Math.floor(((token + 1) * H - 1) / m.vocabSize),
  });
  compute({ name: 'sum of squares', layer: null, flops: (c) => 2 * cols('dim', c) });
  pass('embed', null);

  for (let l = 0; l < m.nLayers; l++) {
    rowAllreduce('attention norm: allreduce Σx²', l, () => 1);
    compute({
      name: 'rmsnorm; q, k, v tile products',
      layer: l,
      flops: (c) => 3 * cols('dim', c) + 2 * (rows('dim', c) + 2 * rows('kv', c)) * cols('dim', c),
    });
    pass('qkv', l);

    rowAllreduce('q, k, v: row reduction', l, (c) => rows('dim', c) + 2 * rows('kv', c));
    gather('q, k, v: column gather', l, ['dim', 'kv'], (c) => share('dim', c) + 2 * share('kv', c));
    compute({
      name: 'RoPE; KV-cache store; score partials',
      layer: l,
      flops: (c, pos) => 3 * cols('dim', c) + 3 * cols('kv', c) + 2 * cols('dim', c) * used(c, pos),
    });
    pass('scores', l);

    // Only the columns a head spans hold parts of its scores: each head's segment of the row is
    // reduced on its own (words per core: its positions, per segment it belongs to).
    transfer({
      name: 'attention scores: per-head row segments',
      layer: l,
      collective: 'row-segment-allreduce',
      algorithm: allreduce,
      words: (c, pos) => used(c, pos),
      segments: headSegments,
    });
    compute({
      name: 'local softmax statistics; weighted values',
      layer: l,
      flops: (c, pos) => 3 * heads(c) * used(c, pos) + 2 * cols('dim', c) * used(c, pos),
    });
    pass('softmax', l);

    transfer({
      name: 'attention: column softmax-combine',
      layer: l,
      collective: 'col-allreduce',
      algorithm: allreduce,
      words: (c) => 2 * heads(c) + cols('dim', c),
    });
    compute({ name: 'wo tile product', layer: l, flops: (c) => 2 * rows('dim', c) * cols('dim', c) });
    pass('wo', l);

    rowAllreduce('wo: row reduction', l, (c) => rows('dim', c));
    gather('wo: column gather', l, ['dim'], (c) => share('dim', c));
    compute({ name: 'residual; Σx²', layer: l, flops: (c) => 3 * cols('dim', c) });
    pass('residual_attn', l);

    rowAllreduce('ffn norm: allreduce Σx²', l, () => 1);
    compute({
      name: 'rmsnorm; w1, w3 tile products',
      layer: l,
      flops: (c) => 3 * cols('dim', c) + 4 * rows('hidden', c) * cols('dim', c),
    });
    pass('w13', l);

    rowAllreduce('w1, w3: row reduction', l, (c) => 2 * rows('hidden', c));
    gather('w1, w3: column gather', l, ['hidden'], (c) => 2 * share('hidden', c));
    compute({
      name: 'SwiGLU; w2 tile product',
      layer: l,
      flops: (c) => 5 * cols('hidden', c) + 2 * rows('dim', c) * cols('hidden', c),
    });
    pass('w2', l);

    rowAllreduce('w2: row reduction', l, (c) => rows('dim', c));
    gather('w2: column gather', l, ['dim'], (c) => share('dim', c));
    compute({ name: 'residual; Σx²', layer: l, flops: (c) => 3 * cols('dim', c) });
    pass('residual_ffn', l);
  }

  rowAllreduce('final norm: allreduce Σx²', null, () => 1);
  compute({
    name: 'rmsnorm; classifier tile product',
    layer: null,
    flops: (c) => 3 * cols('dim', c) + 2 * rows('vocab', c) * cols('dim', c),
  });
  pass('classifier', null);
  rowAllreduce('logits: row reduction', null, (c) => rows('vocab', c));
  pass('logits', null);

  return { model, mesh, placement, allreduce, phases, passes };
}

/** Link ids of the dimension-ordered route from src to dst: along the row, then the column. */
export function xyRoute(mesh: MeshConfig, src: number, dst: number): number[] {
  const W = mesh.width;
  let r = Math.floor(src / W);
  let c = src % W;
  const rd = Math.floor(dst / W);
  const cd = dst % W;
  const links: number[] = [];
  while (c !== cd) {
    links.push((r * W + c) * 4 + (cd > c ? DIR.east : DIR.west));
    c += cd > c ? 1 : -1;
  }
  while (r !== rd) {
    links.push((r * W + c) * 4 + (rd > r ? DIR.south : DIR.north));
    r += rd > r ? 1 : -1;
  }
  return links;
}

/**
 * The cores whose SRAM a pass's transfers deliver data from to core `dst` (itself excluded):
 * what the fabric must carry for the pass, derived from its phases alone. The instrumented
 * runtime's remote reads must come from exactly these cores.
 */
export function passSources(program: WaferProgram, passIndex: number, dst: number, token: number, pos: number): Set<number> {
  const { mesh, model: m } = program;
  const W = mesh.width;
  const H = mesh.height;
  const r = Math.floor(dst / W);
  const c = dst % W;
  const out = new Set<number>();
  const phases = program.passes[passIndex].phases.map((i) => program.phases[i]);
  const transfers = phases.filter((p): p is TransferPhase => p.kind === 'transfer');
  const gather = transfers.find((p) => p.collective === 'col-gather');
  for (const p of transfers) {
    if (p.collective === 'col-broadcast') {
      if (p.words(dst, pos) > 0) out.add(p.sourceRow!(token) * W + c);
    } else if (p.collective === 'col-allreduce') {
      if (p.words(dst, pos) > 0) for (let rr = 0; rr < H; rr++) out.add(rr * W + c);
    } else if (p.collective === 'row-allreduce' && !gather) {
      if (p.words(dst, pos) > 0) for (let cc = 0; cc < W; cc++) out.add(r * W + cc);
    } else if (p.collective === 'row-segment-allreduce') {
      if (p.words(dst, pos) > 0) for (const [a, b] of p.segments ?? []) if (c >= a && c < b) for (let cc = a; cc < b; cc++) out.add(r * W + cc);
    }
  }
  if (gather) {
    // Row reduction then column gather: the rows owning any coordinate this column needs.
    const rows = new Set<number>();
    for (const kind of gather.gathers ?? []) {
      const n = vectorLength(m, kind);
      for (const [lo, hi] of columnRuns(m, mesh, kind, c)) for (let i = lo; i < hi; i++) rows.add(Math.floor((i * H + H - 1) / n));
    }
    for (const rr of rows) for (let cc = 0; cc < W; cc++) out.add(rr * W + cc);
  }
  out.delete(dst);
  return out;
}
