import { DIR } from '../../src/mesh/collectives.ts';
import type { MeshConfig } from '../../src/mesh/config.ts';
import { columnRuns, vectorLength } from '../../src/mesh/placement.ts';
import type { TransferPhase, WaferProgram } from '../../src/mesh/program.ts';

// What the functional mesh model's direct reads should look like (the isolation test's oracle).

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
