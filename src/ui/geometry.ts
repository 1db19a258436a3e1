/**
 * Pure geometry of the wafer view: where each core and each link is drawn on a canvas. Kept
 * apart from rendering so it can be tested without a browser.
 */
export interface WaferLayout {
  width: number; // cores
  height: number;
  cell: number; // px per core, gaps included
  gap: number; // px between cores (links are drawn in the gaps)
  originX: number;
  originY: number;
}

export function layoutWafer(width: number, height: number, canvasW: number, canvasH: number): WaferLayout {
  const cell = Math.max(1, Math.floor(Math.min(canvasW / width, canvasH / height)));
  const gap = cell >= 12 ? Math.max(2, Math.round(cell * 0.22)) : cell >= 5 ? 1 : 0;
  return { width, height, cell, gap, originX: Math.max(0, Math.floor((canvasW - cell * width) / 2)), originY: Math.max(0, Math.floor((canvasH - cell * height) / 2)) };
}

/** The core's square (without its gap). */
export function coreRect(l: WaferLayout, core: number): { x: number; y: number; size: number } {
  const r = Math.floor(core / l.width);
  const c = core % l.width;
  return { x: l.originX + c * l.cell + l.gap / 2, y: l.originY + r * l.cell + l.gap / 2, size: l.cell - l.gap };
}

/** The core under a canvas point, or -1. */
export function coreAt(l: WaferLayout, x: number, y: number): number {
  const c = Math.floor((x - l.originX) / l.cell);
  const r = Math.floor((y - l.originY) / l.cell);
  if (c < 0 || r < 0 || c >= l.width || r >= l.height) return -1;
  return r * l.width + c;
}

/** A link (core * 4 + dir: east, west, south, north) as a segment from its core's centre to the neighbour's; null at the edge. */
export function linkSegment(l: WaferLayout, link: number): { x0: number; y0: number; x1: number; y1: number } | null {
  const core = Math.floor(link / 4);
  const dir = link % 4;
  const r = Math.floor(core / l.width);
  const c = core % l.width;
  const [dr, dc] = [[0, 1], [0, -1], [1, 0], [-1, 0]][dir];
  const r2 = r + dr;
  const c2 = c + dc;
  if (r2 < 0 || c2 < 0 || r2 >= l.height || c2 >= l.width) return null;
  // Offset the two directions of a link pair so both are visible.
  const off = l.cell * 0.12 * (dir % 2 === 0 ? 1 : -1);
  const cx = (cc: number) => l.originX + cc * l.cell + l.cell / 2;
  const cy = (rr: number) => l.originY + rr * l.cell + l.cell / 2;
  const ox = dr !== 0 ? off : 0;
  const oy = dc !== 0 ? off : 0;
  return { x0: cx(c) + ox, y0: cy(r) + oy, x1: cx(c2) + ox, y1: cy(r2) + oy };
}
