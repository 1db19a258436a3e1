import type { FitReport } from '../worker/types.ts';

const runs = (rs: [number, number][]) => (rs.length ? rs.map(([a, b]) => (b - a === 1 ? `${a}` : `${a}–${b - 1}`)).join(', ') : 'none');

/**
 * The weight tiles core (r, c) holds, one line per matrix shape, as the placement splits them:
 * rows of the matrix's output × columns of its input (e.g. "wq: rows 0–7 × columns 0–7").
 */
export function tileLines(f: FitReport, r: number, c: number): string[] {
  const t = f.tiles;
  if (!t) return [];
  const rows = (k: keyof typeof t.rows) => runs([t.rows[k][r]].filter(([a, b]) => b > a));
  const cols = (k: keyof typeof t.cols) => runs(t.cols[k][c] ?? []);
  return [
    `tiles of every layer (rows × columns):`,
    `  wq, wo: rows ${rows('dim')} × columns ${cols('dim')}`,
    `  wk, wv: rows ${rows('kv')} × columns ${cols('dim')}`,
    `  w1, w3: rows ${rows('hidden')} × columns ${cols('dim')}`,
    `  w2: rows ${rows('dim')} × columns ${cols('hidden')}`,
    `  embedding / classifier: tokens ${rows('vocab')} × columns ${cols('dim')}`,
  ];
}
