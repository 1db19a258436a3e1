import { WafermeshError } from '../errors.ts';
import { DIR } from './collectives.ts';

/**
 * The fabric as data: how words move between neighbouring cores, step by step, for the GPU
 * fabric executor (src/engines/fabric-runtime.ts, shaders/fabric.wgsl) to run and for the cost
 * model to charge.
 *
 * A phase is a list of rounds; a round is a set of streams. A stream is one colour on one line
 * segment (a row or a column) flowing one way: its words ("items") enter the fabric at an origin
 * core (up its ramp), travel one hop per fabric step through the routers, and leave it at the
 * cores that take them down their ramp. The schedule is systolic: item k of a stream crosses the
 * core `d` hops downstream of the stream's first core at step k + d, so a link carries at most one
 * word per step and no queue ever holds more than one — by construction, and the GPU measures it.
 *
 * Two kinds of item, which is all the decode's collectives need:
 * - `reduce`: a partial sum flowing toward a home core. Each core whose router takes the colour
 *   down its ramp adds its own value (the add happens in the core, after the ramp) and sends the
 *   sum on; the home adds what arrives into its result. The other cores only route it.
 * - `bcast`: a value copied out of the origin's SRAM and delivered (down the ramp) at every ramp
 *   position it passes; the router multicasts it on downstream in the same step.
 *
 * A core reads and writes only its own SRAM and its own outgoing link registers, and reads only the
 * registers of its neighbours that point at it.
 */

/** Flow directions: east / south (+1 along the line) and west / north (−1). */
export type Flow = 'east' | 'west' | 'south' | 'north';

/** A word address in a core's SRAM: the core's base of a region (per core, see `regions`) + offset. */
export interface Address {
  readonly region: number;
  readonly offset: number;
}

export interface StreamItem {
  readonly kind: 'reduce' | 'bcast';
  /** How a reduction combines (default sum); the core does it after the ramp. */
  readonly op?: 'sum' | 'max';
  /** Position along the line (column index on a row, row index on a column) where it enters. */
  readonly origin: number;
  /** The last position it reaches (its home, for a reduction); it must be a ramp position. */
  readonly end: number;
  /** Where each ramping core reads its value (the origin's word; a reduction's addends). */
  readonly src: Address;
  /** Where it is delivered: the home's result (reduce), or every ramping core after the origin (bcast). */
  readonly dst: Address;
}

export interface FabricStream {
  readonly axis: 'row' | 'col';
  /** Which row (axis row) or column (axis col). */
  readonly line: number;
  readonly flow: Flow;
  /** The upstream end of the segment: the stream's clock starts there. */
  readonly first: number;
  /**
   * The positions whose router takes this colour's words down the ramp to its core (the route's
   * "to the ramp" entry); the others only pass them on. Absent: every core.
   */
  readonly ramps?: readonly number[];
  /**
   * For a row's KV-cache positions: the stream carries `perSlot` items per position this row holds
   * up to the one decoded (position t lives in row t mod height), of its items listed for every
   * slot; absent: all its items, whatever the position.
   */
  readonly perSlot?: number;
  /**
   * With `perSlot`, on a block of the mesh that keeps its own KV cache (a layer-pipelined
   * placement): the row's index in its block and the block's height, which say the positions the
   * row holds (t with t mod slotHeight == slotRow). Absent: the mesh row `line` and the mesh height.
   */
  readonly slotRow?: number;
  readonly slotHeight?: number;
  readonly items: readonly StreamItem[];
}

/** A core's local copy before a round's streams run (a reduction's home seeds its result with its own value). */
export interface LocalCopy {
  readonly core: number;
  readonly src: Address;
  readonly dst: Address;
}

export interface FabricRound {
  readonly axis: 'row' | 'col';
  /** Runs only for a token whose embedding row lives in this mesh row (a broadcast from that row). */
  readonly tokenRow?: number;
  readonly locals: readonly LocalCopy[];
  readonly streams: readonly FabricStream[];
}

export interface FabricPhase {
  readonly name: string;
  readonly rounds: readonly FabricRound[];
}

export const FLOW_DIR: Readonly<Record<Flow, number>> = { east: DIR.east, west: DIR.west, south: DIR.south, north: DIR.north };
const FORWARD: Readonly<Record<Flow, boolean>> = { east: true, south: true, west: false, north: false };

/** Hops from the stream's first core to position p (downstream is positive). */
export const downstream = (s: Pick<FabricStream, 'flow' | 'first'>, p: number) => (FORWARD[s.flow] ? p - s.first : s.first - p);

/** The core at position p of a stream's line. */
export const streamCore = (width: number, s: Pick<FabricStream, 'axis' | 'line'>, p: number) => (s.axis === 'row' ? s.line * width + p : p * width + s.line);

/** The positions a stream's words cross: [lo, hi] along its line. */
export function streamSpan(s: FabricStream): { lo: number; hi: number } {
  return { lo: Math.min(...s.items.map((i) => Math.min(i.origin, i.end))), hi: Math.max(...s.items.map((i) => Math.max(i.origin, i.end))) };
}

/** Steps a stream needs: its last item crosses its far end `items − 1 + hops` steps after the clock starts. */
export const streamSteps = (s: FabricStream) => (s.items.length ? s.items.length + Math.max(...s.items.map((i) => downstream(s, i.end))) : 0);

/**
 * Checks a round's shape: one axis, items inside their segment and downstream of their origin, and
 * streams flowing the same way meeting at a core only where one ends and the next starts (a colour
 * each; a link still carries one word a step).
 */
export function checkRound(width: number, height: number, r: FabricRound): void {
  const N = r.axis === 'row' ? width : height;
  const used = new Set<string>();
  for (const s of r.streams) {
    if (s.axis !== r.axis) throw new WafermeshError('internal', `a ${r.axis} round holds a ${s.axis} stream`);
    const lines = r.axis === 'row' ? height : width;
    if (s.line < 0 || s.line >= lines) throw new WafermeshError('internal', `stream line ${s.line} is outside the mesh`);
    if ((r.axis === 'row') !== (s.flow === 'east' || s.flow === 'west')) throw new WafermeshError('internal', `a ${s.flow} stream cannot run along a ${r.axis}`);
    if (s.perSlot && s.axis !== 'row') throw new WafermeshError('internal', 'only a row holds KV-cache positions: a column stream cannot be bounded by them');
    for (const it of s.items) {
      if (it.origin < 0 || it.origin >= N || it.end < 0 || it.end >= N) throw new WafermeshError('internal', `item ${it.origin}→${it.end} leaves the line of ${N}`);
      if (downstream(s, it.origin) < 0 || downstream(s, it.end) < downstream(s, it.origin)) throw new WafermeshError('internal', `item ${it.origin}→${it.end} flows against its stream (${s.flow} from ${s.first})`);
      if (s.ramps && (!s.ramps.includes(it.end) || !s.ramps.includes(it.origin))) throw new WafermeshError('internal', `item ${it.origin}→${it.end} starts or ends off a ramp position`);
    }
    // Its words leave every position of its span but the downstream end (one writer per outgoing
    // register) and arrive at every one but the upstream end (one reader per incoming register).
    const { lo, hi } = streamSpan(s);
    const up = FORWARD[s.flow] ? lo : hi;
    const down = FORWARD[s.flow] ? hi : lo;
    for (let p = lo; p <= hi; p++) {
      for (const [use, skip] of [['out', down], ['in', up]] as const) {
        if (p === skip) continue;
        const key = `${s.line}:${p}:${s.flow}:${use}`;
        if (used.has(key)) throw new WafermeshError('internal', `two ${s.flow} streams share the ${use === 'out' ? 'outgoing' : 'incoming'} ${s.flow} link at position ${p} of ${r.axis} ${s.line}`);
        used.add(key);
      }
    }
  }
}

/** The measured or modelled traffic of one fabric phase. */
export interface FabricCount {
  /** Steps the phase takes: per round, the last step in which a word moved or arrived, + 1; summed. */
  readonly steps: number;
  /** Words written into each link (core * 4 + dir). */
  readonly linkWords: Float64Array;
  /** Words taken down a ramp into a core (adds and deliveries). */
  readonly rampWords: number;
  /** Adds the cores did for reductions. */
  readonly flops: number;
  /**
   * Measured only: the most words offered to one link register in one step. A link carries one
   * word a step and the schedule gives every word its link to itself (checkRound), so this is 1
   * wherever a word moved; a second word in the same step would overwrite the first (the link
   * would need a queue) and is counted as 2 — the check that the schedule holds on the GPU.
   */
  readonly maxQueue?: number;
}

/** The first link (or total) where two counts differ, in words, or null if they agree exactly. */
export function firstDifference(modelled: FabricCount, measured: FabricCount): string | null {
  if (modelled.steps !== measured.steps) return `steps: modelled ${modelled.steps}, measured ${measured.steps}`;
  for (let l = 0; l < modelled.linkWords.length; l++) {
    if (modelled.linkWords[l] !== measured.linkWords[l]) {
      const dir = ['east', 'west', 'south', 'north'][l % 4];
      return `link ${l} (core ${Math.floor(l / 4)} ${dir}): modelled ${modelled.linkWords[l]} words, measured ${measured.linkWords[l]}`;
    }
  }
  if (modelled.rampWords !== measured.rampWords) return `ramp words: modelled ${modelled.rampWords}, measured ${measured.rampWords}`;
  if (modelled.flops !== measured.flops) return `adds: modelled ${modelled.flops}, measured ${measured.flops}`;
  return null;
}

/** What a phase asks of each core's router: colours configured at once, and routes over the phase. */
export interface RouteUse {
  /** Per core: the most colours its router carries in one round. */
  readonly coloursAtOnce: Uint16Array;
  /** Per core: routes (a colour's rx → tx and ramp set-up) it is configured with over the phase. */
  readonly routes: Uint16Array;
  readonly maxColoursAtOnce: number;
  readonly maxRoutes: number;
}

/** Colours and routes a phase configures per core (a stream is one colour on the cores it spans). */
export function routeUse(width: number, height: number, phase: FabricPhase): RouteUse {
  const n = width * height;
  const coloursAtOnce = new Uint16Array(n);
  const routes = new Uint16Array(n);
  for (const r of phase.rounds) {
    const here = new Uint16Array(n);
    for (const s of r.streams) {
      const { lo, hi } = streamSpan(s);
      for (let p = lo; p <= hi; p++) here[streamCore(width, s, p)]++;
    }
    for (let c = 0; c < n; c++) {
      coloursAtOnce[c] = Math.max(coloursAtOnce[c], here[c]);
      routes[c] += here[c];
    }
  }
  return { coloursAtOnce, routes, maxColoursAtOnce: Math.max(0, ...coloursAtOnce), maxRoutes: Math.max(0, ...routes) };
}

/** Refuses a phase whose routers would need more colours at once than the preset's fabric has. */
export function checkColours(width: number, height: number, phase: FabricPhase, colours: number): RouteUse {
  const use = routeUse(width, height, phase);
  if (use.maxColoursAtOnce > colours) {
    const core = use.coloursAtOnce.indexOf(use.maxColoursAtOnce);
    throw new WafermeshError('too-many-colours', `phase "${phase.name}" needs ${use.maxColoursAtOnce} colours at once at core ${core} but the fabric routes ${colours}; split it into more rounds`);
  }
  return use;
}

/** What a fabric step costs on the preset hardware (the PLMR view). */
export interface FabricTiming {
  /** α: cycles a word takes through a router and over one link. */
  readonly hop: number;
  /** β: cycles a word taken down the ramp costs in the core (added and sent on, or delivered). */
  readonly ramp: number;
  /** Words a link carries per cycle. */
  readonly bw: number;
}

/** Modelled cycles of a round or phase, split into where they go. */
export interface FabricCycles {
  readonly cycles: number;
  /** The critical word's wait behind the words before it on its stream: its index ÷ bandwidth. */
  readonly serialisation: number;
  /** The critical word's hops × α. */
  readonly hops: number;
  /** The critical word's ramps × β (adds in the cores on a reduction's path; the delivery of a broadcast). */
  readonly ramps: number;
}

const ZERO_CYCLES: FabricCycles = { cycles: 0, serialisation: 0, hops: 0, ramps: 0 };

/** Items a stream carries for the token decoded at `pos` (a KV-cache stream only those of the slots in use). */
export function liveItems(height: number, s: FabricStream, pos: number): number {
  if (!s.perSlot) return s.items.length;
  const row = s.slotRow ?? s.line;
  const h = s.slotHeight ?? height;
  const used = pos < row ? 0 : Math.floor((pos - row) / h) + 1;
  return Math.min(s.items.length, used * s.perSlot);
}

/**
 * Modelled cycles of one round at the preset: the streams run at once; on each, item k enters the
 * fabric k ÷ bw cycles after the stream's first word (a link carries bw words a cycle), then pays
 * α per hop from its origin to its end and β per ramp on its way (a reduction adds at every ramping core after its origin, its end included; a
 * broadcast multicasts in the routers and pays one delivery). The slowest item sets the round.
 */
export function roundCycles(height: number, r: FabricRound, pos: number, t: FabricTiming): FabricCycles {
  let worst = ZERO_CYCLES;
  for (const s of r.streams) {
    const n = liveItems(height, s, pos);
    const ramps = s.ramps ? new Set(s.ramps) : undefined;
    for (let k = 0; k < n; k++) {
      const it = s.items[k];
      const d0 = downstream(s, it.origin);
      const d1 = downstream(s, it.end);
      if (d1 === d0) continue;
      let relays = 1;
      if (it.kind === 'reduce') {
        if (!ramps) relays = d1 - d0;
        else {
          relays = 0;
          for (const p of ramps) if (downstream(s, p) > d0 && downstream(s, p) <= d1) relays++;
        }
      }
      const c = { serialisation: k / t.bw, hops: (d1 - d0) * t.hop, ramps: relays * t.ramp };
      const cycles = c.serialisation + c.hops + c.ramps;
      if (cycles > worst.cycles) worst = { cycles, ...c };
    }
  }
  return worst;
}

/** Modelled cycles of a phase: its rounds one after another (a round for a token's row runs only for that row). */
export function phaseCycles(height: number, phase: FabricPhase, pos: number, tokenRow: number, t: FabricTiming): FabricCycles {
  let sum = ZERO_CYCLES;
  for (const r of phase.rounds) {
    if (r.tokenRow !== undefined && r.tokenRow !== tokenRow) continue;
    const c = roundCycles(height, r, pos, t);
    sum = { cycles: sum.cycles + c.cycles, serialisation: sum.serialisation + c.serialisation, hops: sum.hops + c.hops, ramps: sum.ramps + c.ramps };
  }
  return sum;
}
