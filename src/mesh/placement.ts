import { WafermeshError } from '../errors.ts';
import { headSize, kvDim, type ModelConfig } from '../model/config.ts';
import { makeMesh, MESH_LIMITS, type MeshConfig } from './config.ts';

/**
 * Where everything lives on the wafer. Every matrix W (out, in) is tiled over the whole mesh (a 2D
 * partition, as WaferLLM does): core (row r, column c) holds W[rows(r), cols(c)], where rows(r)
 * is the r-th of `height` balanced contiguous slices of the output and cols(c) the c-th slice of
 * the input. Activation vectors are kept in the same column slices (replicated down each column),
 * so a matrix-vector product is a local tile product plus a reduction along each row.
 *
 * Column slices are made of whole RoPE pairs, and a column keeps exactly the KV coordinates its
 * query coordinates attend with, each stored once (see columnRuns): attention dot products need no
 * data from other columns, only a reduction along the row. KV-cache positions are dealt to rows
 * round-robin (position t lives in row t mod height).
 */

export type VectorKind = 'dim' | 'kv' | 'hidden' | 'vocab';

/** [lo, hi) of part i when n items are split into `parts` balanced contiguous parts. */
export function split(n: number, parts: number, i: number): [number, number] {
  return [Math.floor((i * n) / parts), Math.floor(((i + 1) * n) / parts)];
}

export interface Region {
  readonly name: string; // e.g. "L0.wq", "kv", "x"
  readonly offset: number; // words from the start of the core's SRAM
  readonly words: number;
}

export interface CorePlacement {
  readonly row: number;
  readonly col: number;
  readonly regions: readonly Region[];
  readonly weightWords: number;
  readonly scratchWords: number;
  /** KV-cache words per position slot this core stores (all layers, K and V). */
  readonly kvWordsPerSlot: number;
  /** Position slots allocated (positions t < context with t mod height == row). */
  readonly kvSlots: number;
  /** Words one more position slot costs: its KV words and its scores (two per head the core covers). */
  readonly slotWords: number;
  readonly totalWords: number;
}

export interface Placement {
  readonly model: ModelConfig;
  readonly mesh: MeshConfig;
  /** The context the KV cache holds: min(seq_len, what SRAM allows). */
  readonly context: number;
  /** The longest context SRAM would allow (may exceed seq_len). */
  readonly maxContext: number;
  readonly cores: readonly CorePlacement[]; // row-major: index = row * width + col
  readonly fits: boolean;
  readonly fullest: CorePlacement;
  /** Bytes per stored weight / KV value (4 = f32). */
  readonly valueBytes: number;
}

/**
 * How many times (at most) the KV cache holds each KV coordinate: 1 whenever every column gets an
 * attention unit (KV head, RoPE pair) — the mesh is no wider than the units — or that spreads the
 * units over the columns as evenly as any split does. Otherwise a group's query heads are split into f sets (f the
 * smallest divisor of the group size that balances the units best), each set keeping its own copy
 * of the group's K and V (sets that share a column share it): at most f copies, not one per query
 * head. The rule weighs only the balance
 * of attention units, not the KV memory f multiplies (the hidden split evens out the weights).
 */
export function kvCopies(m: ModelConfig, mesh: MeshConfig): number {
  const kvMul = m.nHeads / m.nKvHeads;
  const units = m.nKvHeads * (headSize(m) / 2);
  if (units >= mesh.width) return 1;
  // The fullest column's units over the average: 1 is perfect balance.
  const imbalance = (f: number) => (Math.ceil((units * f) / mesh.width) * mesh.width) / (units * f);
  let best = 1;
  for (let f = 2; f <= kvMul; f++) if (kvMul % f === 0 && imbalance(f) < imbalance(best) - 1e-9) best = f;
  return best;
}

/**
 * Column slice of a vector of `kind` owned by mesh column c, as sorted disjoint [lo, hi) runs.
 *
 * Attention is laid out so that the query heads sharing a KV head sit in the same columns as it:
 * the unit of the column split is (KV head g, head set s, RoPE pair p), and a column that owns it
 * holds pair p of K and V head g and pair p of the query heads of set s of group g (query head h
 * uses KV head h / (nHeads / nKvHeads)). A column thus computes its share of every attention dot
 * product locally, and the KV cache holds each KV coordinate `kvCopies` times (once on meshes no
 * wider than KV heads × pairs) — not once per query head. `hidden` and `vocab` are split into
 * balanced contiguous runs.
 */
export function columnRuns(m: ModelConfig, mesh: MeshConfig, kind: VectorKind, c: number): [number, number][] {
  if (kind === 'hidden') return [hiddenSplit(m, mesh)[c]];
  if (kind === 'vocab') return [split(m.vocabSize, mesh.width, c)];
  const hs = headSize(m);
  const pairs = hs / 2; // RoPE pairs per head
  const f = kvCopies(m, mesh);
  const perSet = m.nHeads / m.nKvHeads / f; // query heads per set
  const [u0, u1] = split(m.nKvHeads * f * pairs, mesh.width, c); // unit (g, s, p) = (g * f + s) * pairs + p
  if (u1 <= u0) return []; // a column with no attention units
  const runs: [number, number][] = [];
  for (let gs = Math.floor(u0 / pairs); gs * pairs < u1; gs++) {
    const p0 = Math.max(u0, gs * pairs) - gs * pairs;
    const p1 = Math.min(u1, (gs + 1) * pairs) - gs * pairs;
    const g = Math.floor(gs / f);
    if (kind === 'kv') runs.push([g * hs + 2 * p0, g * hs + 2 * p1]);
    else for (let h = gs * perSet; h < (gs + 1) * perSet; h++) runs.push([h * hs + 2 * p0, h * hs + 2 * p1]);
  }
  // Sorted, with overlapping (two sets of one group in a column) and touching runs merged.
  runs.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const r of runs) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

const hiddenSplits = new Map<string, [number, number][]>();

/**
 * The hidden (FFN) coordinates of each column: contiguous runs sized so that every column holds
 * about the same weights. A column's share of one layer's matrices is A·(its dim coordinates) +
 * B·(its hidden coordinates) words summed over the rows (A = 2·dim + 2·kv dim + 2·hidden for wq, wo,
 * wk, wv, w1, w3; B = dim for w2): attention is split in whole (KV head, RoPE pair) units, so where
 * columns hold unequal dim shares the hidden share evens them out (water-filling, whole coordinates).
 */
function hiddenSplit(m: ModelConfig, mesh: MeshConfig): [number, number][] {
  const key = `${m.dim},${m.hiddenDim},${m.nHeads},${m.nKvHeads},${mesh.width}`;
  const cached = hiddenSplits.get(key);
  if (cached) return cached;
  const W = mesh.width;
  const d = Array.from({ length: W }, (_, c) => columnWidth(m, mesh, 'dim', c));
  const A = 2 * m.dim + 2 * kvDim(m) + 2 * m.hiddenDim;
  const B = m.dim;
  const share = (level: number) => d.map((dc) => Math.max(0, (level - A * dc) / B));
  const total = (level: number) => share(level).reduce((a, b) => a + b, 0);
  let lo = 0;
  let hi = A * Math.max(...d) + B * m.hiddenDim;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (total(mid) < m.hiddenDim) lo = mid;
    else hi = mid;
  }
  // Whole coordinates: floors, then the remainder to the largest fractions (ties to the left).
  const exact = share(hi);
  const counts = exact.map(Math.floor);
  let left = m.hiddenDim - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, c) => [x - Math.floor(x), c]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let i = 0; left > 0; i = (i + 1) % W, left--) counts[order[i][1]]++;
  const runs: [number, number][] = [];
  let at = 0;
  for (const n of counts) {
    runs.push([at, at + n]);
    at += n;
  }
  hiddenSplits.set(key, runs);
  return runs;
}

/**
 * For every KV coordinate, the columns that hold it, ascending: one column on meshes no wider than
 * KV heads × RoPE pairs, up to `kvCopies` columns otherwise (the first is owners' col.kv).
 */
export function kvColumns(m: ModelConfig, mesh: MeshConfig): number[][] {
  const out = Array.from({ length: kvDim(m) }, () => [] as number[]);
  for (let c = 0; c < mesh.width; c++) for (const [lo, hi] of columnRuns(m, mesh, 'kv', c)) for (let i = lo; i < hi; i++) out[i].push(c);
  return out;
}

/** The query heads whose coordinates column c holds: [first, first + count) (count 0 for none). */
export function columnHeads(m: ModelConfig, mesh: MeshConfig, c: number): { first: number; count: number } {
  const runs = columnRuns(m, mesh, 'dim', c);
  if (runs.length === 0) return { first: 0, count: 0 };
  const hs = headSize(m);
  const first = Math.floor(runs[0][0] / hs);
  return { first, count: Math.floor((runs[runs.length - 1][1] - 1) / hs) - first + 1 };
}

export function columnWidth(m: ModelConfig, mesh: MeshConfig, kind: VectorKind, c: number): number {
  return columnRuns(m, mesh, kind, c).reduce((n, [lo, hi]) => n + hi - lo, 0);
}

export function vectorLength(m: ModelConfig, kind: VectorKind): number {
  return kind === 'dim' ? m.dim : kind === 'kv' ? kvDim(m) : kind === 'hidden' ? m.hiddenDim : m.vocabSize;
}

/**
 * Who owns what, computed once: for every element of each kind of vector, the mesh row whose
 * slice holds it (rows split a matrix's output), and for every dim coordinate, the mesh column
 * whose slice holds it. The program reads these tables, and the image hands them to the shader,
 * so no second copy of the ownership formulas exists.
 */
export interface Owners {
  readonly row: Readonly<Record<VectorKind, Uint32Array>>;
  /** For dim, kv and hidden coordinates: the column holding each (the first, if KV is stored more than once) and its index in that column's list. */
  readonly col: Readonly<Record<'dim' | 'kv' | 'hidden', Uint32Array>>;
  readonly pos: Readonly<Record<'dim' | 'kv' | 'hidden', Uint32Array>>;
  /** For each query head, the first and last column its coordinates span (the columns between all hold some). */
  readonly headColumns: readonly (readonly [number, number])[];
}

export function owners(m: ModelConfig, mesh: MeshConfig): Owners {
  const rowTable = (n: number) => {
    const t = new Uint32Array(n);
    for (let r = 0; r < mesh.height; r++) {
      const [lo, hi] = split(n, mesh.height, r);
      t.fill(r, lo, hi);
    }
    return t;
  };
  const columns = (kind: 'dim' | 'kv' | 'hidden', n: number) => {
    const col = new Uint32Array(n).fill(0xffffffff);
    const pos = new Uint32Array(n);
    for (let c = 0; c < mesh.width; c++) {
      let at = 0;
      for (const [lo, hi] of columnRuns(m, mesh, kind, c)) {
        for (let i = lo; i < hi; i++, at++) {
          if (col[i] !== 0xffffffff) continue;
          col[i] = c;
          pos[i] = at;
        }
      }
    }
    return { col, pos };
  };
  const dim = columns('dim', m.dim);
  const kv = columns('kv', kvDim(m));
  const hidden = columns('hidden', m.hiddenDim);
  const row = { dim: rowTable(m.dim), kv: rowTable(kvDim(m)), hidden: rowTable(m.hiddenDim), vocab: rowTable(m.vocabSize) };
  const hs = headSize(m);
  const headColumns = Array.from({ length: m.nHeads }, (_, h) => [dim.col[h * hs], dim.col[h * hs + hs - 1]] as const);
  return { row, col: { dim: dim.col, kv: kv.col, hidden: hidden.col }, pos: { dim: dim.pos, kv: kv.pos, hidden: hidden.pos }, headColumns };
}

/** The matrices of one layer: name, output kind, input kind. */
export const LAYER_MATRICES = [
  ['wq', 'dim', 'dim'],
  ['wk', 'kv', 'dim'],
  ['wv', 'kv', 'dim'],
  ['wo', 'dim', 'dim'],
  ['w1', 'hidden', 'dim'],
  ['w3', 'hidden', 'dim'],
  ['w2', 'dim', 'hidden'],
] as const satisfies readonly (readonly [string, VectorKind, VectorKind])[];

export function layOutCore(m: ModelConfig, mesh: MeshConfig, row: number, col: number, slots: number | undefined, valueBytes: number): CorePlacement {
  // Weights and the KV cache are stored at `valueBytes` per value (4 = f32, the emulator's; 2 or
  // 1 for `predict`'s fp16 / fp8), packed into 32-bit words; scratch stays f32.
  const packed = (values: number) => Math.ceil((values * valueBytes) / 4);
  const regions: Region[] = [];
  let off = 0;
  const add = (name: string, words: number) => {
    regions.push({ name, offset: off, words });
    off += words;
  };
  const rows = (k: VectorKind) => {
    const [lo, hi] = split(vectorLength(m, k), mesh.height, row);
    return hi - lo;
  };
  const cols = (k: VectorKind) => columnWidth(m, mesh, k, col);
  for (let l = 0; l < m.nLayers; l++) {
    add(`L${l}.rmsAtt`, packed(cols('dim')));
    for (const [name, out, inp] of LAYER_MATRICES) {
      if (name === 'w1') add(`L${l}.rmsFfn`, packed(cols('dim')));
      add(`L${l}.${name}`, packed(rows(out) * cols(inp)));
    }
  }
  add('rmsFinal', packed(cols('dim')));
  add('embedding', packed(rows('vocab') * cols('dim'))); // also the classifier when shared
  if (!m.sharedClassifier) add('wcls', packed(rows('vocab') * cols('dim')));
  const weightWords = off;
  // Scratch: this core's slices of the activations, one row's partial sums of a tile product
  // (q, k and v together, or w1 and w3 together), the attention scores of its own positions
  // (partial and row-reduced), its share of the logits, and reduction statistics. A transfer
  // never writes where it reads, so every reduced result has a region of its own.
  const slotCap = slots ?? 0;
  add('x', cols('dim'));
  add('xb', cols('dim'));
  add('q', cols('dim'));
  add('k', cols('kv'));
  add('v', cols('kv'));
  add('attO', cols('dim'));
  add('att', cols('dim'));
  add('hb', cols('hidden'));
  add('hb2', cols('hidden'));
  add('partial', Math.max(rows('dim') + 2 * rows('kv'), 2 * rows('hidden'), rows('vocab')));
  add('partialB', rows('dim')); // w2's products, written while w1/w3's are still being read
  add('logits', rows('vocab'));
  add('stats', STATS_WORDS(m));
  const scratchStart = weightWords;
  const kvWordsPerSlot = packed(2 * m.nLayers * cols('kv'));
  // Attention scores of its own positions, for the heads its columns cover only.
  const heads = columnHeads(m, mesh, col).count;
  add('scores', heads * slotCap);
  add('scoresAll', heads * slotCap);
  const scratchWords = off - scratchStart;
  add('kv', kvWordsPerSlot * slotCap);
  return { row, col, regions, weightWords, scratchWords, kvWordsPerSlot, kvSlots: slotCap, slotWords: kvWordsPerSlot + 2 * heads, totalWords: off };
}

/** A core's `stats` region: Σx² (its own, row-reduced), then per head max (nHeads words) and Σ exp (nHeads). */
/**
 * A core's statistics words: Σx² (its own, then the row's); for greedy decoding on the wafer, its
 * logits' largest finite value and non-finite flag (its own, then column 0's) and −(the index of
 * the first maximum) (its own, then the wafer's); then per head the softmax maximum and Σ exp.
 */
export const STATS_LAYOUT = { sumsq: 0, sumsqAll: 1, best: 2, bad: 3, bestAll: 4, badAll: 5, pick: 6, pickAll: 7, max: 8 } as const;
export const STATS_WORDS = (m: ModelConfig): number => STATS_LAYOUT.max + 2 * m.nHeads;

/** Positions t < context with t mod height == row. */
export function slotsForRow(context: number, height: number, row: number): number {
  return row >= context ? 0 : Math.ceil((context - row) / height);
}

/**
 * Places a model on a mesh: weights, scratch and as much KV cache as SRAM allows (up to seq_len).
 * Never throws for a model that does not fit: `fits` says so and `refuseIfNotFits` explains.
 */
export function place(model: ModelConfig, meshConfig: MeshConfig, valueBytes = 4): Placement {
  const mesh = makeMesh(meshConfig);
  const sramWords = mesh.sramBytes / 4;
  // Cores differ only through their slice sizes, which take few distinct values: lay out one core
  // per distinct (row sizes, column widths and heads, slots) and copy it, so huge meshes place quickly.
  const kinds: VectorKind[] = ['dim', 'kv', 'hidden', 'vocab'];
  const rowKey = (r: number) => kinds.map((k) => { const [lo, hi] = split(vectorLength(model, k), mesh.height, r); return hi - lo; }).join(',');
  // Two columns of equal widths can cover different numbers of heads, whose scores they keep.
  const colKey = Array.from({ length: mesh.width }, (_, c) => `${kinds.map((k) => columnWidth(model, mesh, k, c)).join(',')}/${columnHeads(model, mesh, c).count}`);
  const templates = new Map<string, CorePlacement>();
  const corePlacement = (m: ModelConfig, msh: MeshConfig, row: number, col: number, slots: number | undefined): CorePlacement => {
    const key = `${rowKey(row)}|${colKey[col]}|${slots}`;
    let t = templates.get(key);
    if (!t) {
      t = layOutCore(m, msh, row, col, slots, valueBytes);
      templates.set(key, t);
    }
    return t.row === row && t.col === col ? t : { ...t, row, col };
  };
  // Longest context: each core's free words after weights and fixed scratch, per slot cost
  // (its KV words plus one attention score per head).
  let maxContext = Infinity;
  for (let r = 0; r < mesh.height; r++) {
    for (let c = 0; c < mesh.width; c++) {
      const base = corePlacement(model, mesh, r, c, 0);
      const perSlot = base.slotWords;
      const free = sramWords - base.totalWords;
      const slots = free < 0 ? -1 : Math.floor(free / perSlot);
      // Row r holds positions r, r + H, …: `slots` of them reach up to context H·slots + r.
      const ctx = slots < 0 ? 0 : slots === 0 ? Math.min(r, maxContext) : mesh.height * slots + r;
      maxContext = Math.min(maxContext, ctx);
    }
  }
  const context = Math.min(model.seqLen, maxContext);
  const cores: CorePlacement[] = [];
  for (let r = 0; r < mesh.height; r++) {
    for (let c = 0; c < mesh.width; c++) cores.push(corePlacement(model, mesh, r, c, slotsForRow(Math.max(context, 1), mesh.height, r)));
  }
  const fullest = cores.reduce((a, b) => (b.totalWords > a.totalWords ? b : a));
  return { model, mesh, context, maxContext, cores, fits: context >= 1 && fullest.totalWords <= sramWords, fullest, valueBytes };
}

/** The smallest mesh with the same aspect ratio (and SRAM) on which the model fits with its full context. */
export function smallestFittingMesh(model: ModelConfig, mesh: MeshConfig, valueBytes = 4): MeshConfig | undefined {
  const g = gcd(mesh.width, mesh.height);
  const a = mesh.width / g;
  const b = mesh.height / g;
  const maxScale = Math.floor(Math.min(MESH_LIMITS.maxSide / Math.max(a, b), Math.sqrt(MESH_LIMITS.maxCores / (a * b))));
  const at = (s: number) => ({ ...mesh, width: a * s, height: b * s });
  const ok = (s: number) => {
    const p = place(model, at(s), valueBytes);
    return p.fits && p.context >= model.seqLen;
  };
  // More cores never need more words per core, so the smallest scale that fits is found by
  // doubling from the smallest until one fits, then bisection: a handful of placements, each of a
  // mesh near the answer's size (placing the largest mesh first would cost seconds for a toy model).
  if (maxScale < 1) return undefined;
  let lo = 0; // does not fit (or is no mesh)
  let hi = 1;
  while (!ok(hi)) {
    if (hi === maxScale) return undefined;
    lo = hi;
    hi = Math.min(maxScale, hi * 2);
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return at(hi);
}

/** Throws a one-line refusal naming the fullest core, bytes needed vs available, and a mesh that fits. */
export function refuseIfNotFits(p: Placement): void {
  if (p.fits) return;
  const m = p.mesh;
  const f = p.fullest;
  const slotBytes = f.slotWords * 4;
  const fixedScratch = (f.scratchWords - (f.slotWords - f.kvWordsPerSlot) * f.kvSlots) * 4;
  const need = f.weightWords * 4 + fixedScratch + slotBytes;
  const bigger = smallestFittingMesh(p.model, m, p.valueBytes);
  throw new WafermeshError(
    'does-not-fit',
    `the model does not fit a ${m.width}x${m.height} mesh of ${m.sramBytes}-byte cores: core (${f.row},${f.col}) needs ` +
      `${need} bytes (weights ${f.weightWords * 4}, scratch ${fixedScratch}, one KV position ${slotBytes}) ` +
      `but has ${m.sramBytes}; ${bigger ? `the smallest ${m.width / gcd(m.width, m.height)}:${m.height / gcd(m.width, m.height)} mesh that fits with the full context is ${bigger.width}x${bigger.height}` : `no mesh of this aspect up to ${MESH_LIMITS.maxSide} cores a side fits; use larger SRAM`}`,
  );
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
