import { WafermeshError } from '../../errors.ts';
import { addCounts, linesModel, type Lines } from '../collectives.ts';
import { phaseCycles, type FabricCount, type FabricPhase, type FabricRound, type FabricStream, type FabricTiming, type Flow } from '../fabric.ts';
import type { MeshConfig } from '../config.ts';
import { ringOrder } from '../ring.ts';

/**
 * MeshGEMM (WaferLLM, OSDI 2025): C = A · B on a P × P grid of cores by Cannon's algorithm, with
 * the cyclic shifts along WaferLLM's interleaved ring, so that every shift moves a tile at most
 * two hops and every core needs O(1) routes (six, whatever P).
 *
 * The grid is logical: physical column x of a row is logical column ℓ(x), its place in the folded
 * ring 0, 2, 4, …, 5, 3, 1 (and the same for rows), so logical neighbours — the wrap-around
 * included — are at most two hops apart on a mesh with no wrap-around link. Core at logical (i, j)
 * starts with tiles A(i, j) and B(i, j). An alignment phase shifts row i of A left by i and column
 * j of B up by j (one ring step per round, the rows or columns still to move taking part); then P
 * times: every core adds A(i, k) · B(k, j) into its C tile (a compute pass, k = i + j + s mod P)
 * and, but after the last, A shifts one step left along its row and B one step up its column (one
 * fabric phase). A shift runs in place: a core's word k leaves before the word k from its ring
 * predecessor arrives (one or two steps later).
 *
 * Tiles are padded to ⌈M/P⌉ × ⌈K/P⌉ (A), ⌈K/P⌉ × ⌈N/P⌉ (B) and ⌈M/P⌉ × ⌈N/P⌉ (C), with zeros, so
 * every shift carries the same words. Cannon needs a square grid: on a W × H mesh it runs on the
 * P × P block of the top-left cores, P = min(W, H), and the other cores idle (SUMMA, modelled
 * beside it, uses a rectangle as it is).
 */
export interface MeshGemm {
  readonly mesh: MeshConfig;
  readonly P: number;
  readonly M: number;
  readonly K: number;
  readonly N: number;
  /** Padded tile shapes: A is mt × kt, B kt × nt, C mt × nt. */
  readonly mt: number;
  readonly kt: number;
  readonly nt: number;
  /** Word offsets of the A, B and C tiles in every core's SRAM (regions 0, 1, 2 of `regionTable`). */
  readonly offsets: { readonly a: number; readonly b: number; readonly c: number };
  readonly regionTable: Uint32Array;
  /** The alignment phase, then the P − 1 shift phases. */
  readonly phases: readonly FabricPhase[];
  /** Each phase's words per link, steps and deliveries in closed form. */
  readonly models: readonly FabricCount[];
  /** Logical column (row) of physical column (row) x. */
  readonly logical: readonly number[];
}

/** The folded ring's links, as (from, to) physical positions, stepping one place toward the ring's start (a shift left / up). */
function leftEdges(P: number): { from: number; to: number }[] {
  const order = ringOrder(P);
  return P < 2 ? [] : order.map((to, l) => ({ from: order[(l + 1) % P], to }));
}

/** One shift on one line of P: the stream per ring link, m words each, in place in region `region`. */
function shiftStreams(axis: 'row' | 'col', line: number, P: number, m: number, region: number): FabricStream[] {
  return leftEdges(P).map(({ from, to }) => {
    const forward = to > from;
    const flow: Flow = axis === 'row' ? (forward ? 'east' : 'west') : forward ? 'south' : 'north';
    const items = Array.from({ length: m }, (_, w) => ({ kind: 'bcast' as const, origin: from, end: to, src: { region, offset: w }, dst: { region, offset: w } }));
    return { axis, line, flow, first: from, ramps: [from, to], items };
  });
}

/** Closed form of one shift on a line of P, m words per tile: per-link words each way, steps, deliveries. */
export function ringShiftCost(P: number, m: number): { east: number[]; west: number[]; steps: number; rampWords: number } {
  const east = new Array<number>(P).fill(0);
  const west = new Array<number>(P).fill(0);
  let steps = 0;
  for (const { from, to } of leftEdges(P)) {
    for (let p = Math.min(from, to); p < Math.max(from, to); p++) {
      if (to > from) east[p] += m;
      else west[p + 1] += m;
    }
    // The last word leaves at step m − 1 and arrives |to − from| (one or two) hops later.
    steps = Math.max(steps, m + Math.abs(to - from));
  }
  return { east, west, steps: m > 0 ? steps : 0, rampWords: P < 2 ? 0 : P * m };
}

const ceil = (a: number, b: number) => Math.ceil(a / b);

/**
 * Compiles C = A (M × K) · B (K × N) on `mesh`, placing the tiles from word `base` of each core's SRAM.
 * `alignA: false`: A's tiles are placed already skewed (core (i, j) starts with A(i, i + j mod P),
 * as a resident weight can be, once, when it is loaded), so the alignment moves B only.
 */
export function compileMeshGemm(mesh: MeshConfig, M: number, K: number, N: number, base = 0, { alignA = true }: { alignA?: boolean } = {}): MeshGemm {
  for (const [name, v] of [['M', M], ['K', K], ['N', N]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new WafermeshError('bad-option', `${name} = ${v} must be a whole number ≥ 1`);
  }
  const { width: W, height: H } = mesh;
  const P = Math.min(W, H);
  const mt = ceil(M, P);
  const kt = ceil(K, P);
  const nt = ceil(N, P);
  const offsets = { a: base, b: base + mt * kt, c: base + mt * kt + kt * nt };
  const need = offsets.c + mt * nt;
  if (need > mesh.sramBytes / 4) {
    throw new WafermeshError('does-not-fit', `a ${M}x${K} by ${K}x${N} product needs ${need * 4} bytes of tiles per core on a ${P}x${P} grid but a core has ${mesh.sramBytes}; use a larger mesh or smaller matrices`);
  }
  const regionTable = new Uint32Array(W * H * 3);
  for (let core = 0; core < W * H; core++) regionTable.set([offsets.a, offsets.b, offsets.c], core * 3);
  const order = ringOrder(P);
  const logical = new Array<number>(P);
  order.forEach((x, l) => (logical[x] = l));
  const lines = Array.from({ length: P }, (_, i) => i);
  const rowLines: Lines = { axis: 'row', lines, length: P, width: W };
  const colLines: Lines = { axis: 'col', lines, length: P, width: W };
  const zero = (): FabricCount => ({ steps: 0, linkWords: new Float64Array(W * H * 4), rampWords: 0, flops: 0 });
  const phases: FabricPhase[] = [];
  const models: FabricCount[] = [];
  // Alignment: round s moves the rows (columns) whose logical index is over s by one more step.
  const align: FabricRound[] = [];
  let alignModel = zero();
  for (let s = 0; s < P - 1; s++) {
    for (const [axis, l, m, region] of [['row', rowLines, mt * kt, 0], ['col', colLines, kt * nt, 1]] as const) {
      if (axis === 'row' && !alignA) continue;
      const moving = lines.filter((x) => logical[x] > s);
      if (!moving.length) continue;
      align.push({ axis, locals: [], streams: moving.flatMap((x) => shiftStreams(axis, x, P, m, region)) });
      alignModel = addCounts(alignModel, linesModel(W, H, { ...l, lines: moving }, () => ringShiftCost(P, m), false));
    }
  }
  phases.push({ name: 'MeshGEMM alignment: row i of A left by i, column j of B up by j, on the interleaved ring', rounds: align });
  models.push(alignModel);
  for (let s = 0; s < P - 1; s++) {
    phases.push({
      name: `MeshGEMM shift ${s + 1} of ${P - 1}: A one step left, B one step up`,
      rounds: ([
        { axis: 'row', locals: [], streams: lines.flatMap((x) => shiftStreams('row', x, P, mt * kt, 0)) },
        { axis: 'col', locals: [], streams: lines.flatMap((x) => shiftStreams('col', x, P, kt * nt, 1)) },
      ] satisfies FabricRound[]).filter((r) => r.streams.length),
    });
    models.push(addCounts(linesModel(W, H, rowLines, () => ringShiftCost(P, mt * kt), false), linesModel(W, H, colLines, () => ringShiftCost(P, kt * nt), false)));
  }
  return { mesh, P, M, K, N, mt, kt, nt, offsets, regionTable, phases, models, logical };
}

/** Modelled cycles of MeshGEMM (Cannon on the interleaved ring) and SUMMA on the same mesh, split into fabric and compute. */
export interface GemmCycles {
  readonly fabric: number;
  readonly compute: number;
  readonly total: number;
  /** Routes (colours) one core's router needs over the whole product. */
  readonly routesPerCore: number;
}

/**
 * MeshGEMM's modelled cycles: its phases at the preset's α, β and bandwidth (phaseCycles), plus P
 * tile products of 2·mt·kt·nt FLOPs at the core's rate; no overlap of shifts and products.
 */
export function meshGemmCycles(g: MeshGemm, t: FabricTiming, flopsPerCycle: number): GemmCycles {
  const fabric = g.phases.reduce((n, p) => n + phaseCycles(g.mesh.height, p, 0, -1, t).cycles, 0);
  const compute = (g.P * 2 * g.mt * g.kt * g.nt) / flopsPerCycle;
  return { fabric, compute, total: fabric + compute, routesPerCore: shiftRoutes(g.P) };
}

/**
 * MeshGEMM's modelled cycles on a P × P grid without compiling it (any size, e.g. a whole wafer):
 * every shift round's slowest word is the last of its tile, (m − 1) / bw cycles behind the first,
 * two hops from home (one on a grid of 2) and one delivery; the alignment is P − 1 row rounds and
 * P − 1 column rounds, and so are the shifts. Equal to meshGemmCycles of the compiled program.
 */
export function meshGemmClosed(P: number, M: number, K: number, N: number, t: FabricTiming, flopsPerCycle: number): GemmCycles {
  const mt = ceil(M, P);
  const kt = ceil(K, P);
  const nt = ceil(N, P);
  const hops = P >= 3 ? 2 : 1;
  const round = (m: number) => (m > 0 ? (m - 1) / t.bw + hops * t.hop + t.ramp : 0);
  const fabric = P > 1 ? 2 * (P - 1) * (round(mt * kt) + round(kt * nt)) : 0;
  const compute = (P * 2 * mt * kt * nt) / flopsPerCycle;
  return { fabric, compute, total: fabric + compute, routesPerCore: shiftRoutes(P) };
}

/**
 * Colours a core's router carries over a MeshGEMM, whatever P: on each axis the tile it sends, the
 * one it receives and (P ≥ 3) the one two hops long passing through it — 6 in all (4 on a grid of 2).
 */
export function shiftRoutes(P: number): number {
  return P >= 3 ? 6 : P === 2 ? 4 : 0;
}

/**
 * SUMMA on a W × H mesh, in closed form (modelled only): C's tiles stay put, ⌈M/H⌉ × ⌈N/W⌉ per
 * core; K is cut into max(W, H) panels, and at step k the core holding A's panel k in each row
 * multicasts it along the row, and the one holding B's panel k in each column down the column
 * (streamed: the farthest core is up to max(W, H) − 1 hops away), then every core adds the panel
 * product. No alignment and any rectangle, but each multicast crosses its whole line, and a core
 * routes a different source every step (W + H routes). The row and column multicasts are costed one
 * after the other, as the emulator runs one axis per round (as MeshGEMM's shifts are).
 */
export function summaCycles(mesh: Pick<MeshConfig, 'width' | 'height' | 'flopsPerCoreCycle'>, M: number, K: number, N: number, t: FabricTiming): GemmCycles {
  const { width: W, height: H } = mesh;
  const steps = Math.max(W, H);
  const mt = ceil(M, H);
  const nt = ceil(N, W);
  const kt = ceil(K, steps);
  let fabric = 0;
  for (let k = 0; k < steps; k++) {
    // The last word of the panel leaves (words − 1) / bw cycles after the first and crosses to the line's far end.
    const rowHops = Math.max(k % W, W - 1 - (k % W));
    const colHops = Math.max(k % H, H - 1 - (k % H));
    const row = W > 1 ? (mt * kt - 1) / t.bw + rowHops * t.hop + t.ramp : 0;
    const col = H > 1 ? (kt * nt - 1) / t.bw + colHops * t.hop + t.ramp : 0;
    fabric += row + col;
  }
  const compute = (steps * 2 * mt * kt * nt) / mesh.flopsPerCoreCycle;
  return { fabric, compute, total: fabric + compute, routesPerCore: W + H };
}
