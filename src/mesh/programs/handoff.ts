import { WafermeshError } from '../../errors.ts';
import { kvDim } from '../../model/config.ts';
import { phaseCycles, type FabricCount, type FabricPhase, type FabricRound, type FabricStream, type LocalCopy } from '../fabric.ts';
import { DIR } from '../collectives.ts';
import { columnRuns } from '../placement.ts';
import type { WaferProgram } from '../program.ts';

import type { KvCache } from '../../model/kv.ts';

/** What lands on (or, handed out, leaves from) one edge core in one hand-off phase: words at `offset` of its SRAM. */
export interface Landing {
  readonly row: number;
  /** The mesh core (row, 0) it lands on. */
  readonly core: number;
  /** Word offset in that core's SRAM. */
  readonly offset: number;
  /** Per landed word, where it comes from in a KvCache: (0 key | 1 value, layer, position, coordinate) packed. */
  readonly sources: Int32Array;
}

export interface HandoffPhase {
  readonly phase: FabricPhase;
  /** Words per link, steps and deliveries, in closed form (no stream is simulated). */
  readonly model: FabricCount;
  readonly landings: readonly Landing[];
}

export interface KvHandoff {
  readonly program: WaferProgram;
  readonly positions: number;
  readonly phases: readonly HandoffPhase[];
  /** The region table the phases' addresses use: per core, [landing zone base, KV-cache base]. */
  readonly regionTable: Uint32Array;
  readonly regions: readonly string[];
  /** Words that enter the wafer at its edge (every KV word the positions hold, once per copy). */
  readonly edgeWords: number;
  /** Modelled fabric cycles of the phases at the preset (one after another). */
  readonly fabricCycles: number;
}

const LANDING = 0;
const KV = 1;
/** A source packed as ((kind · layers + layer) · positions + position) · kvDim + coordinate. */
const packSource = (kind: 0 | 1, layer: number, pos: number, coord: number, layers: number, positions: number, kvd: number) => ((kind * layers + layer) * positions + pos) * kvd + coord;

/**
 * The KV cache of positions 0 … positions−1 entering the wafer at its west edge and reaching the
 * cores that keep it, through the fabric like any other phase. Position t lives in row t mod
 * height, slot ⌊t / height⌋, and each core keeps K and V of its column's KV coordinates for every
 * layer. A phase hands over one slot (one position per row): the host's I/O lands a row's words
 * on its edge core (row, 0) — in the scratch the decode has not started using — and a round per
 * destination column c sends them east to (row, c) only (its router alone takes them down the
 * ramp); the edge core's own words are local copies. A row's words that do not fit the edge core's
 * scratch go in further phases.
 */
export function compileKvHandoff(program: WaferProgram, positions: number, options: { maxLanding?: number; out?: boolean } = {}): KvHandoff {
  // `out`: the same words the other way — from the cores that keep them west to the edge cores,
  // where the host's I/O reads them (a wafer's KV cache handed to another machine).
  const out = options.out ?? false;
  const { model: m, mesh, placement } = program;
  const W = mesh.width;
  const H = mesh.height;
  if (!Number.isInteger(positions) || positions < 1 || positions > placement.context) {
    throw new WafermeshError('context-full', `a KV cache of ${positions} positions does not fit this mesh's KV cache of ${placement.context} positions; use a shorter prompt or a larger mesh`);
  }
  const kvd = kvDim(m);
  const L = m.nLayers;
  const regionTable = new Uint32Array(W * H * 2);
  const base = (core: number, name: string) => {
    const r = placement.cores[core].regions.find((x) => x.name === name);
    if (!r) throw new WafermeshError('internal', `core ${core} has no region ${name}; the placement and the hand-off disagree (a bug: please report it)`);
    return r.offset;
  };
  for (let core = 0; core < W * H; core++) {
    regionTable[core * 2 + LANDING] = base(core, 'x');
    regionTable[core * 2 + KV] = base(core, 'kv');
  }
  // The edge core's scratch, x … the KV cache, is free before the first decoded token.
  // `maxLanding` lands fewer words at once (tests of a hand-off in parts).
  let capacity = options.maxLanding ?? Infinity;
  for (let r = 0; r < H; r++) capacity = Math.min(capacity, regionTable[r * W * 2 + KV] - regionTable[r * W * 2 + LANDING]);
  const cols = Array.from({ length: W }, (_, c) => columnRuns(m, mesh, 'kv', c).flatMap(([lo, hi]) => Array.from({ length: hi - lo }, (_, i) => lo + i)));
  const perPosition = cols.reduce((n, c) => n + 2 * L * c.length, 0);
  if (capacity < 1 && perPosition > 0) throw new WafermeshError('does-not-fit', `the edge cores have no scratch to land the KV cache in; use a larger mesh`);
  /** One row's words for position t: destination column, KV-cache offset there, and source. */
  const wordsOf = (t: number) => {
    const slot = Math.floor(t / H);
    const out: { col: number; dst: number; src: number }[] = [];
    cols.forEach((coords, c) => {
      const nk = coords.length;
      for (let l = 0; l < L; l++) {
        const at = (slot * L + l) * 2 * nk;
        coords.forEach((coord, j) => out.push({ col: c, dst: at + j, src: packSource(0, l, t, coord, L, positions, kvd) }));
        coords.forEach((coord, j) => out.push({ col: c, dst: at + nk + j, src: packSource(1, l, t, coord, L, positions, kvd) }));
      }
    });
    return out;
  };
  const phases: HandoffPhase[] = [];
  const slots = Math.ceil(positions / H);
  const chunks = Math.ceil(perPosition / capacity);
  for (let slot = 0; slot < slots; slot++) {
    const rows = Array.from({ length: H }, (_, r) => slot * H + r).filter((t) => t < positions).map((t) => ({ row: t % H, words: wordsOf(t) }));
    for (let chunk = 0; chunk < chunks; chunk++) {
      const part = rows.map(({ row, words }) => ({ row, words: words.slice(chunk * capacity, (chunk + 1) * capacity) })).filter((p) => p.words.length);
      if (!part.length) continue;
      const linkWords = new Float64Array(W * H * 4);
      const rounds: FabricRound[] = [];
      const locals: LocalCopy[] = [];
      let steps = 0;
      let rampWords = 0;
      for (const { row, words } of part) {
        words.forEach((w, i) => {
          const landing = { region: LANDING, offset: i };
          const kv = { region: KV, offset: w.dst };
          if (w.col === 0) locals.push({ core: row * W, src: out ? kv : landing, dst: out ? landing : kv });
        });
      }
      for (let c = 1; c < W; c++) {
        const streams: FabricStream[] = [];
        let roundSteps = 0;
        for (const { row, words } of part) {
          const items = words.flatMap((w, i) => {
            if (w.col !== c) return [];
            const landing = { region: LANDING, offset: i };
            const kv = { region: KV, offset: w.dst };
            return [{ kind: 'bcast' as const, origin: out ? c : 0, end: out ? 0 : c, src: out ? kv : landing, dst: out ? landing : kv }];
          });
          if (!items.length) continue;
          streams.push({ axis: 'row', line: row, flow: out ? 'west' : 'east', first: out ? c : 0, ramps: [0, c], items });
          // Closed form: the row's links between columns 0 and c (east links 0 … c−1 in, west links
          // c … 1 out) carry each word once; the last of n words reaches its end n − 1 + c steps
          // after the first left, and only the end takes them down.
          for (let x = 0; x < c; x++) linkWords[out ? (row * W + x + 1) * 4 + DIR.west : (row * W + x) * 4 + DIR.east] += items.length;
          roundSteps = Math.max(roundSteps, items.length + c);
          rampWords += items.length;
        }
        if (streams.length) {
          rounds.push({ axis: 'row', locals: rounds.length ? [] : locals, streams });
          steps += roundSteps;
        }
      }
      if (!rounds.length) rounds.push({ axis: 'row', locals, streams: [] });
      const landings = part.map(({ row, words }) => ({ row, core: row * W, offset: regionTable[row * W * 2 + LANDING], sources: Int32Array.from(words, (w) => w.src) }));
      phases.push({
        phase: { name: `KV hand-off ${out ? 'out' : 'in'}: slot ${slot}${chunks > 1 ? ` part ${chunk + 1} of ${chunks}` : ''}, ${out ? 'to' : 'from'} the west edge along every row`, rounds },
        model: { steps, linkWords, rampWords, flops: 0 },
        landings,
      });
    }
  }
  const timing = { hop: mesh.cyclesPerHop, ramp: mesh.cyclesPerRamp, bw: mesh.wordsPerLinkCycle };
  const fabricCycles = phases.reduce((n, p) => n + phaseCycles(H, p.phase, 0, -1, timing).cycles, 0);
  const edgeWords = phases.reduce((n, p) => n + p.landings.reduce((x, l) => x + l.sources.length, 0), 0);
  return { program, positions, phases, regionTable, regions: ['landing', 'kv'], edgeWords, fabricCycles };
}

/** The words one landing puts on its edge core, read out of a KV cache. */
export function landingValues(l: Landing, kv: KvCache, layers: number, kvd: number): Float32Array {
  const plane = layers * kv.positions * kvd;
  const out = new Float32Array(l.sources.length);
  l.sources.forEach((s, i) => (out[i] = s < plane ? kv.k[s] : kv.v[s - plane]));
  return out;
}
