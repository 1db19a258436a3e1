import type { ModelConfig } from '../../model/config.ts';
import type { MeshConfig } from '../config.ts';
import { checkRound, type Address, type FabricPhase, type FabricRound, type FabricStream, type StreamItem } from '../fabric.ts';
import { columnRuns, split } from '../placement.ts';
import type { Adjacency } from '../regions.ts';

/**
 * The activation's hand-off between two regions of one wafer as a fabric phase: streams between
 * neighbours on the whole mesh, in the format the fabric kernel runs (src/mesh/fabric.ts), so the
 * trace's cost of it (`phaseCycles`) can be held against the closed form `handoffCost`
 * (src/mesh/regions.ts). Both regions have the region mesh's size and layout; region A's core
 * (r, c) is the mesh's (a.y + r, a.x + c), and B lies directly below, above or east of A.
 *
 * Addresses: `src` is A's x (the column's dim coordinates, in its own order), `dst` B's; the
 * caller's region table gives their bases. The fabric runs it as it stands (a test checks the
 * words B receives), and the layer-pipelined decode (decode-pipelined.ts) runs it between its
 * blocks, held against `handoffCount` there.
 */
export function compileRegionHandoff(
  model: ModelConfig,
  region: MeshConfig,
  mesh: MeshConfig,
  a: { readonly x: number; readonly y: number },
  b: { readonly x: number; readonly y: number },
  addr: { readonly src: number; readonly dst: number },
): { phase: FabricPhase; adjacency: Adjacency } {
  const w = region.width;
  const h = region.height;
  const vertical = b.x === a.x && Math.abs(b.y - a.y) === h;
  const horizontal = b.y === a.y && b.x === a.x + w;
  if (!vertical && !horizontal) throw new Error(`regions at (${a.x},${a.y}) and (${b.x},${b.y}) are not neighbours of ${w}x${h}`);
  const runs = Array.from({ length: w }, (_, c) => columnRuns(model, region, 'dim', c));
  // Each coordinate's column in the region and its index in that column's slice.
  const colOf = new Uint32Array(model.dim);
  const posOf = new Uint32Array(model.dim);
  runs.forEach((rs, c) => {
    let k = 0;
    for (const [lo, hi] of rs) for (let i = lo; i < hi; i++, k++) ((colOf[i] = c), (posOf[i] = k));
  });
  const at = (base: number, i: number): Address => ({ region: base, offset: posOf[i] });
  if (vertical) {
    // Each column's slice from A's edge row through B's column: a broadcast delivered at every core of B's column.
    const down = b.y > a.y;
    const streams: FabricStream[] = [];
    for (let c = 0; c < w; c++) {
      const from = down ? a.y + h - 1 : a.y;
      const to = down ? b.y + h - 1 : b.y;
      const items: StreamItem[] = [];
      for (const [lo, hi] of runs[c]) for (let i = lo; i < hi; i++) items.push({ kind: 'bcast', origin: from, end: to, src: at(addr.src, i), dst: at(addr.dst, i) });
      if (items.length) streams.push({ axis: 'col', line: a.x + c, flow: down ? 'south' : 'north', first: from, items });
    }
    const round: FabricRound = { axis: 'col', locals: [], streams };
    checkRound(mesh.width, mesh.height, round);
    return { phase: { name: 'hand-off: down the columns to the next region', rounds: [round] }, adjacency: 'vertical' };
  }
  // Beside: per row r, the coordinates of its row slice (split(dim, h, r), as the reduce-scatters
  // home them) go from A's core (r, c) holding them straight to B's core (r, c), w hops east, taken
  // down the ramp there only. One round per column c: the streams of two columns would share the
  // row's east links between them.
  const rowRounds: FabricRound[] = [];
  for (let c = 0; c < w; c++) {
    const streams: FabricStream[] = [];
    for (let r = 0; r < h; r++) {
      const [lo, hi] = split(model.dim, h, r);
      const items: StreamItem[] = [];
      for (let i = lo; i < hi; i++) if (colOf[i] === c) items.push({ kind: 'bcast', origin: a.x + c, end: b.x + c, src: at(addr.src, i), dst: at(addr.dst, i) });
      if (items.length) streams.push({ axis: 'row', line: a.y + r, flow: 'east', first: a.x + c, ramps: [a.x + c, b.x + c], items });
    }
    if (streams.length) rowRounds.push({ axis: 'row', locals: [], streams });
  }
  // Then B gathers down its columns: coordinate i leaves its row (the row of its slice) both ways.
  const rowOf = new Uint32Array(model.dim);
  for (let r = 0; r < h; r++) {
    const [lo, hi] = split(model.dim, h, r);
    rowOf.fill(r, lo, hi);
  }
  const gather: FabricStream[] = [];
  for (let c = 0; c < w; c++) {
    for (const south of [true, false]) {
      const items: StreamItem[] = [];
      for (const [lo, hi] of runs[c]) {
        for (let i = lo; i < hi; i++) {
          const r = rowOf[i];
          if (south ? r < h - 1 : r > 0) items.push({ kind: 'bcast', origin: b.y + r, end: south ? b.y + h - 1 : b.y, src: at(addr.dst, i), dst: at(addr.dst, i) });
        }
      }
      if (items.length) gather.push({ axis: 'col', line: b.x + c, flow: south ? 'south' : 'north', first: south ? b.y : b.y + h - 1, items });
    }
  }
  const colRound: FabricRound = { axis: 'col', locals: [], streams: gather };
  for (const r of rowRounds) checkRound(mesh.width, mesh.height, r);
  checkRound(mesh.width, mesh.height, colRound);
  return { phase: { name: 'hand-off: along the rows to the next region, then down its columns', rounds: [...rowRounds, colRound] }, adjacency: 'horizontal' };
}
