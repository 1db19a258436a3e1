import { kvDim, type ModelConfig } from '../model/config.ts';
import type { MeshConfig } from './config.ts';
import { add, rounds, Slowest, ZERO, type ClosedCost } from './fabric-closed.ts';
import { columnHeads, columnRuns, columnWidth, layOutCore, slotsForRow, split, vectorLength, type VectorKind } from './placement.ts';

/**
 * Regions of a wafer: what a part of the model needs on a block of cores, and what it costs to
 * move the activation vector from one block to the next. A block ("region") is tiled exactly as
 * src/mesh/placement.ts tiles a whole mesh — the region is that mesh — so a region's layers cost
 * what `fabricTokenCycles` says for that mesh. Used by the placement search (src/cost/placement-search.ts).
 */

/** What one region holds: `layers` layers, `tables` embedding-sized tables (the embedding, the classifier), a KV cache of `context` positions. */
export interface RegionContents {
  readonly layers: number;
  /** 0, 1 (the embedding or the classifier) or 2 (both, an unshared classifier on a one-region model). */
  readonly tables: 0 | 1 | 2;
  readonly context: number;
  /** Bytes per stored weight / KV value. */
  readonly valueBytes: number;
}

export interface RegionFit {
  readonly fits: boolean;
  /** The fullest core: where it is and the bytes it needs (weights, scratch, its KV slots). */
  readonly row: number;
  readonly col: number;
  readonly needBytes: number;
  readonly sramBytes: number;
  /** Bytes over the whole region: weights (tables included) and the KV cache. */
  readonly weightBytes: number;
  readonly kvBytes: number;
}

/**
 * Whether `contents` fit `mesh`, by the placement's own core layout (`layOutCore`): each core
 * holds its tiles of the region's layers and tables, its scratch and its share of the KV cache
 * (position t in row t mod height). Cores differ only through their row slice sizes, their column
 * widths and heads, and their slots, so one core of each kind is laid out — equal to `place`'s
 * fullest core wherever `place` fits the same model (test/mesh/regions.test.ts), but fast enough to
 * try hundreds of regions of a whole wafer.
 */
export function fitRegion(model: ModelConfig, mesh: MeshConfig, c: RegionContents): RegionFit {
  // One table is laid out as the shared embedding; the others are counted from its size.
  const m: ModelConfig = { ...model, nLayers: c.layers, sharedClassifier: true };
  const slotsAt = (r: number) => (c.layers === 0 ? 0 : slotsForRow(Math.max(c.context, 1), mesh.height, r));
  const kinds: VectorKind[] = ['dim', 'kv', 'hidden', 'vocab'];
  const rowReps = new Map<string, number>();
  for (let r = 0; r < mesh.height; r++) {
    const key = `${kinds.map((k) => { const [lo, hi] = split(vectorLength(m, k), mesh.height, r); return hi - lo; }).join(',')}|${slotsAt(r)}`;
    if (!rowReps.has(key)) rowReps.set(key, r);
  }
  const colReps = columnKinds(m, mesh);
  // Every term of a core's layout grows with each of its sizes, so the fullest core is a pair of
  // a row and a column that no other row or column exceeds in every size: lay out only those.
  let need = -1;
  let at = { row: 0, col: 0 };
  for (const r of paretoMax(rowReps)) {
    for (const col of paretoMax(colReps)) {
      const core = layOutCore(m, mesh, r, col, slotsAt(r), c.valueBytes);
      const table = core.regions.find((x) => x.name === 'embedding')!.words;
      const words = core.totalWords + (c.tables - 1) * table;
      if (words > need) {
        need = words;
        at = { row: r, col };
      }
    }
  }
  const tableValues = model.vocabSize * model.dim;
  const layerValues = model.dim * (2 + 2 * model.dim + 2 * kvDim(model) + 3 * model.hiddenDim);
  return {
    fits: need * 4 <= mesh.sramBytes && (c.layers === 0 || c.context >= 1),
    row: at.row,
    col: at.col,
    needBytes: need * 4,
    sramBytes: mesh.sramBytes,
    weightBytes: (c.layers * layerValues + c.tables * tableValues) * c.valueBytes,
    kvBytes: 2 * c.layers * c.context * kvDim(model) * c.valueBytes,
  };
}

const columnKindCache = new Map<string, Map<string, number>>();

/** One column of each kind (its widths of every vector kind and its heads), by mesh width: they do not depend on rows or layers. */
function columnKinds(m: ModelConfig, mesh: MeshConfig): Map<string, number> {
  const cacheKey = `${m.dim},${m.hiddenDim},${m.nHeads},${m.nKvHeads},${m.vocabSize},${mesh.width}`;
  let reps = columnKindCache.get(cacheKey);
  if (reps) return reps;
  reps = new Map<string, number>();
  const kinds: VectorKind[] = ['dim', 'kv', 'hidden', 'vocab'];
  for (let col = 0; col < mesh.width; col++) {
    const key = `${kinds.map((k) => columnWidth(m, mesh, k, col)).join(',')}/${columnHeads(m, mesh, col).count}`;
    if (!reps.has(key)) reps.set(key, col);
  }
  if (columnKindCache.size > 256) columnKindCache.clear();
  columnKindCache.set(cacheKey, reps);
  return reps;
}

/** The representatives whose size vectors (the numbers in their keys) no other one dominates. */
function paretoMax(reps: Map<string, number>): number[] {
  const vecs = [...reps.entries()].map(([k, v]) => ({ v, x: k.split(/[,|/]/).map(Number) }));
  const dominated = (a: number[], b: number[]) => a.every((ai, i) => ai <= b[i]) && a.some((ai, i) => ai < b[i]);
  return vecs.filter((a) => !vecs.some((b) => dominated(a.x, b.x))).map((a) => a.v);
}

/** Where the next region lies: below or above (the same columns) or beside (the same rows). */
export type Adjacency = 'vertical' | 'horizontal';

/**
 * Moving the activation x (dim words, each column's slice replicated down the column, as every
 * layer leaves it) from region A to the next region B of the same size and layout, as a fabric
 * phase in the cost model's terms (α per hop, β per ramp relay, a stream's k-th word k ÷ bw
 * behind its first):
 *
 * - vertical (B directly below or above A): each column's slice streams from A's edge core down
 *   (or up) B's column, delivered to every core of it — a broadcast, one ramp delivery: h hops.
 * - horizontal (B beside A): per row, the coordinates whose home is that row (the row slices the
 *   reduce-scatters use) go from A's core in their column straight to B's core in the same column
 *   (W hops, one delivery), a round per column (the columns' streams would share the row's links);
 *   then B gathers them down its columns (the allgather that ends every matrix-vector phase).
 *
 * The same phases are compiled into fabric streams (programs/region-handoff.ts), which a test runs.
 */
export function handoffCost(model: ModelConfig, region: MeshConfig, adjacency: Adjacency): ClosedCost {
  const W = region.width;
  const H = region.height;
  const t = { hop: region.cyclesPerHop, ramp: region.cyclesPerRamp, bw: region.wordsPerLinkCycle };
  const colOf = new Uint32Array(model.dim);
  const nd: number[] = [];
  for (let c = 0; c < W; c++) {
    let n = 0;
    for (const [lo, hi] of columnRuns(model, region, 'dim', c)) {
      for (let i = lo; i < hi; i++) colOf[i] = c;
      n += hi - lo;
    }
    nd.push(n);
  }
  if (adjacency === 'vertical') {
    const s = new Slowest(t);
    for (let c = 0; c < W; c++) if (nd[c] > 0) s.item(nd[c] - 1, H, 1);
    return rounds([s], model.dim * H, 0);
  }
  // Along each row, one round per column c: the row slice's coordinates of column c go straight
  // from A's core (r, c) to B's (r, c), W hops, one delivery.
  const along: Slowest[] = [];
  let alongWords = 0;
  for (let c = 0; c < W; c++) {
    const s = new Slowest(t);
    for (let r = 0; r < H; r++) {
      const [lo, hi] = split(model.dim, H, r);
      let n = 0;
      for (let i = lo; i < hi; i++) if (colOf[i] === c) n++;
      if (n > 0) s.item(n - 1, W, 1);
      alongWords += n * W;
    }
    if (s.cycles > 0) along.push(s);
  }
  // B's column allgather: per column a stream south with the coordinates above its last row, one
  // north with those below its first, in coordinate order (collectives.ts lineAllgather).
  const rowOf = (i: number) => {
    // split(dim, H, r) = [⌊r·dim/H⌋, ⌊(r+1)·dim/H⌋): the row whose slice holds i.
    let r = Math.min(H - 1, Math.floor((i * H) / model.dim));
    while (split(model.dim, H, r)[0] > i) r--;
    while (split(model.dim, H, r)[1] <= i) r++;
    return r;
  };
  const gather = new Slowest(t);
  for (let c = 0; c < W; c++) {
    for (const forward of [true, false]) {
      let k = 0;
      for (const [lo, hi] of columnRuns(model, region, 'dim', c)) {
        for (let i = lo; i < hi; i++) {
          const row = rowOf(i);
          const d = forward ? H - 1 - row : row;
          if (d > 0) gather.item(k++, d, 1);
        }
      }
    }
  }
  return rounds([...along, gather], alongWords + (H - 1) * model.dim, 0);
}

/**
 * The next token's id from the last region back to the first, which looks up its embedding: one
 * word over `hops` hops (the distance between the two regions' first cores) delivered once, then
 * down the first region's column 0 and along every row (as the id reaches every core on a whole
 * mesh). Zero when the first region is the last.
 */
export function idReturnCost(region: MeshConfig, hops: number): ClosedCost {
  if (hops === 0) return ZERO;
  const t = { hop: region.cyclesPerHop, ramp: region.cyclesPerRamp, bw: region.wordsPerLinkCycle };
  const across = new Slowest(t);
  across.item(0, hops, 1);
  const down = new Slowest(t);
  down.item(0, region.height - 1, 1);
  const along = new Slowest(t);
  along.item(0, region.width - 1, 1);
  return add(rounds([across], hops, 0), rounds([down, along], region.height - 1 + region.height * (region.width - 1), 0));
}
