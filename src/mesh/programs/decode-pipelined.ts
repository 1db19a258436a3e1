import { WafermeshError } from '../../errors.ts';
import type { ModelConfig } from '../../model/config.ts';
import { addCounts, DIR, linesModel, segmentCost, segmentRound, type Allreduce, type Lines, type Segment } from '../collectives.ts';
import type { MeshConfig } from '../config.ts';
import { computeFlops } from '../fabric-trace.ts';
import { checkColours, type FabricCount, type FabricPhase, type FabricRound } from '../fabric.ts';
import { columnRuns, split, STATS_LAYOUT } from '../placement.ts';
import { ROLE_EMBED, ROLE_HEAD, type PipelineBlock, type WaferProgram } from '../program.ts';
import { compileFabricDecode, type FabricDecode, type FabricDecodeStep } from './decode-fabric.ts';
import { compileRegionHandoff } from './region-handoff.ts';

/**
 * The decode of a layer-pipelined program (program.ts `Pipeline`) on the fabric. Each block runs
 * exactly the phases a mesh of its size runs for its layers (`compileFabricDecode` of the block's
 * own program), moved to the block's place on the mesh: its rows and columns are segments of the
 * mesh's, and its streams use only the links inside the block. In order: the first block embeds
 * the token; each block runs its layers; after a block's last layer x goes to the next block
 * (`compileRegionHandoff`: down or up the columns, or east along the rows, then down the next
 * block's columns), where Σx² is taken again for its first norm (`block_sumsq`); the last block
 * runs the head (final norm, classifier, the next id on its column 0); the id returns to the first
 * block (along a row, up column 0, then along the first block's rows), where the next token is
 * embedded from it. Each phase's closed form is the block's (moved likewise) or the hand-off's
 * and the id return's own.
 */
export function compileFabricDecodePipelined(program: WaferProgram, algorithm: Allreduce = program.allreduce): FabricDecode {
  const p = program.pipeline;
  if (!p) throw new WafermeshError('internal', 'compileFabricDecodePipelined needs a layer-pipelined program');
  const { model: m, mesh } = program;
  const W = mesh.width;
  const n = W * mesh.height;
  const w = p.width;
  const h = p.height;
  const subs = p.blocks.map((b) => compileFabricDecode(b.program, algorithm));
  const regions = subs[0].regions;
  const NR = regions.length;
  const R = (name: string) => regions.indexOf(name);
  const coreOf = (b: PipelineBlock, local: number) => (b.y + Math.floor(local / w)) * W + b.x + (local % w);
  const regionTable = new Uint32Array(n * NR);
  p.blocks.forEach((b, k) => {
    for (let i = 0; i < w * h; i++) regionTable.set(subs[k].regionTable.subarray(i * NR, (i + 1) * NR), coreOf(b, i) * NR);
  });

  // A block's round at its place: rows and columns shifted by its corner; KV-cache streams keep
  // their row's index within the block and the block's height (the positions the row holds).
  const shiftRound = (b: PipelineBlock, r: FabricRound): FabricRound => {
    if (r.tokenRow !== undefined) throw new WafermeshError('internal', 'a block round bounded by the token row cannot be moved');
    return {
      axis: r.axis,
      locals: r.locals.map((l) => ({ ...l, core: coreOf(b, l.core) })),
      streams: r.streams.map((s) => {
        const dLine = s.axis === 'row' ? b.y : b.x;
        const dPos = s.axis === 'row' ? b.x : b.y;
        return {
          ...s,
          line: s.line + dLine,
          first: s.first + dPos,
          ...(s.ramps ? { ramps: s.ramps.map((q) => q + dPos) } : {}),
          ...(s.perSlot ? { slotRow: s.slotRow ?? s.line, slotHeight: s.slotHeight ?? h } : {}),
          items: s.items.map((it) => ({ ...it, origin: it.origin + dPos, end: it.end + dPos })),
        };
      }),
    };
  };
  const shifted = new WeakMap<FabricCount, FabricCount>();
  const shiftCount = (b: PipelineBlock, c: FabricCount): FabricCount => {
    let out = shifted.get(c);
    if (out) return out;
    const linkWords = new Float64Array(n * 4);
    for (let i = 0; i < w * h; i++) for (let d = 0; d < 4; d++) linkWords[coreOf(b, i) * 4 + d] = c.linkWords[i * 4 + d];
    out = { steps: c.steps, linkWords, rampWords: c.rampWords, flops: c.flops };
    shifted.set(c, out);
    return out;
  };

  const phases: FabricPhase[] = [];
  const models: ((token: number, pos: number) => FabricCount)[] = [];
  const steps: FabricDecodeStep[] = [];
  const phase = (ph: FabricPhase, model: (token: number, pos: number) => FabricCount) => {
    steps.push({ kind: 'fabric', phase: phases.length });
    phases.push(ph);
    models.push(model);
  };
  // Which part of a block's decode a step is: the embedding, layer i (of the block's), or the head.
  const part = (d: FabricDecode, s: FabricDecodeStep): 'front' | 'head' | number => {
    if (s.kind === 'compute') return s.layer !== null ? s.layer : s.entry.startsWith('embed_') ? 'front' : 'head';
    const name = d.phases[s.phase].name;
    const l = /^L(\d+) /.exec(name);
    return l ? Number(l[1]) : name.startsWith('embedding') ? 'front' : 'head';
  };
  const emit = (k: number, which: 'front' | 'head' | number) => {
    const b = p.blocks[k];
    const d = subs[k];
    for (const s of d.steps) {
      if (part(d, s) !== which) continue;
      if (s.kind === 'compute') {
        steps.push({ kind: 'compute', entry: s.entry, layer: s.layer === null ? null : b.layerFirst + s.layer });
        continue;
      }
      const src = d.phases[s.phase];
      const name = src.name.replace(/^L(\d+) /, (_, l) => `L${b.layerFirst + Number(l)} `) + (typeof which === 'number' ? '' : ` (block ${k})`);
      const model = d.models[s.phase];
      phase({ name, rounds: src.rounds.map((r) => shiftRound(b, r)) }, (t, pos) => shiftCount(b, model(t, pos)));
    }
  };

  emit(0, 'front');
  p.blocks.forEach((b, k) => {
    for (let i = 0; i < b.layerCount; i++) emit(k, i);
    if (k + 1 === p.blocks.length) return;
    const next = p.blocks[k + 1];
    const hand = compileRegionHandoff(m, p.blocks[0].program.mesh, mesh, b, next, { src: R('x'), dst: R('x') });
    const count = handoffCount(m, p.blocks[0].program.mesh, mesh, b, next);
    phase({ ...hand.phase, name: `${hand.phase.name} (block ${k} to ${k + 1})` }, () => count);
    steps.push({ kind: 'compute', entry: 'block_sumsq', layer: next.layerFirst });
  });
  emit(p.blocks.length - 1, 'head');
  if (p.blocks.length > 1) {
    const ret = idReturn(mesh, p.blocks[p.blocks.length - 1], w, h, R('stats'));
    phase({ name: 'next token: the id back to the first block', rounds: ret.rounds }, () => ret.model);
  }
  const routes = phases.map((ph) => checkColours(W, mesh.height, ph, mesh.colours));

  // FLOPs per core of each compute pass: the block's own count where the pass runs on the core's block, none elsewhere.
  const flopsOf = subs.map((d) => computeFlops(d));
  const where = Array.from({ length: n }, () => undefined as { k: number; local: number } | undefined);
  p.blocks.forEach((b, k) => {
    for (let i = 0; i < w * h; i++) where[coreOf(b, i)] = { k, local: i };
  });
  const coreFlops = (entry: string, layer: number | null, core: number, pos: number): number => {
    const at = where[core];
    if (!at) return 0;
    const b = p.blocks[at.k];
    const here =
      entry === 'embed_load' || entry === 'embed_sumsq'
        ? (b.role & ROLE_EMBED) !== 0
        : entry === 'classifier' || entry.startsWith('argmax_')
          ? (b.role & ROLE_HEAD) !== 0
          : layer !== null && layer >= b.layerFirst && layer < b.layerFirst + b.layerCount;
    return here ? flopsOf[at.k](entry === 'block_sumsq' ? 'embed_sumsq' : entry, at.local, pos) : 0;
  };
  return { program, regions, regionTable, phases, models, steps, routes, coreFlops };
}

/**
 * What the hand-off from block a to block b moves (compileRegionHandoff's phase), from the blocks'
 * layout: below or above, each column's dim slice (n_c words) crosses the h links between A's edge
 * row and B's far row and is delivered at B's h cores, in n_c + h steps; beside, per column c a
 * round in which each row's coordinates homed in that row and column (n_rc) cross the w links east
 * and are delivered once, in n_rc + w steps, then B's column allgather (coordinate i from its row's
 * core both ways to the column's ends, delivered at every core it passes, in items + h − 1 steps).
 */
export function handoffCount(model: ModelConfig, region: MeshConfig, mesh: MeshConfig, a: { x: number; y: number }, b: { x: number; y: number }): FabricCount {
  const W = mesh.width;
  const w = region.width;
  const h = region.height;
  const linkWords = new Float64Array(W * mesh.height * 4);
  const link = (row: number, col: number, dir: number, words: number) => (linkWords[(row * W + col) * 4 + dir] += words);
  const cols = Array.from({ length: w }, (_, c) => columnRuns(model, region, 'dim', c).flatMap(([lo, hi]) => Array.from({ length: hi - lo }, (_, j) => lo + j)));
  const rowOf = new Uint32Array(model.dim);
  for (let r = 0; r < h; r++) {
    const [lo, hi] = split(model.dim, h, r);
    rowOf.fill(r, lo, hi);
  }
  let steps = 0;
  let rampWords = 0;
  if (b.x === a.x) {
    const down = b.y > a.y;
    let round = 0;
    cols.forEach((list, c) => {
      if (!list.length) return;
      // A's edge row, then every row of B but the far one, send each word on.
      for (let k = 0; k < h; k++) link(down ? a.y + h - 1 + k : a.y - k, a.x + c, down ? DIR.south : DIR.north, list.length);
      rampWords += list.length * h;
      round = Math.max(round, list.length + h);
    });
    return { steps: round, linkWords, rampWords, flops: 0 };
  }
  for (let c = 0; c < w; c++) {
    let round = 0;
    for (let r = 0; r < h; r++) {
      const k = cols[c].filter((i) => rowOf[i] === r).length;
      if (!k) continue;
      for (let q = a.x + c; q < b.x + c; q++) link(a.y + r, q, DIR.east, k);
      rampWords += k;
      round = Math.max(round, k + w);
    }
    steps += round;
  }
  let gather = 0;
  cols.forEach((list, c) => {
    const south = list.filter((i) => rowOf[i] < h - 1);
    const north = list.filter((i) => rowOf[i] > 0);
    for (const i of south) {
      for (let r = rowOf[i]; r < h - 1; r++) link(b.y + r, b.x + c, DIR.south, 1);
      rampWords += h - 1 - rowOf[i];
    }
    for (const i of north) {
      for (let r = rowOf[i]; r > 0; r--) link(b.y + r, b.x + c, DIR.north, 1);
      rampWords += rowOf[i];
    }
    for (const s of [south, north]) if (s.length) gather = Math.max(gather, s.length + h - 1);
  });
  return { steps: steps + gather, linkWords, rampWords, flops: 0 };
}

/**
 * The next token's id from the last block's core (0, 0), where the head's pick left it, to every
 * core of the first block (at the mesh's corner): west along the last block's first row to column
 * 0, north up column 0 (delivered at the first block's column-0 cores), then east along the first
 * block's rows. One word each way; its cost is the segments' closed form.
 */
function idReturn(mesh: MeshConfig, last: PipelineBlock, w: number, h: number, stats: number): { rounds: FabricRound[]; model: FabricCount } {
  const W = mesh.width;
  const H = mesh.height;
  const word = [{ src: { region: stats, offset: STATS_LAYOUT.pickAll }, dst: { region: stats, offset: STATS_LAYOUT.pickAll } }];
  const rounds: FabricRound[] = [];
  const counts: FabricCount[] = [];
  const run = (l: Lines, seg: Segment) => {
    if (seg.lo === seg.hi) return;
    rounds.push(segmentRound(l, 'bcast', [seg], word));
    counts.push(linesModel(W, H, l, () => segmentCost(l.length, 'bcast', [seg], 1), false));
  };
  // West along the last block's first row, delivered at column 0 only.
  run({ axis: 'row', lines: [last.y], length: W, width: W }, { lo: 0, hi: last.x, centre: last.x, ramps: [0, last.x] });
  // Along column 0 from that row to the first block's rows, delivered there.
  const firstRows = Array.from({ length: h }, (_, r) => r);
  const ramps = [...new Set([...firstRows, last.y])].sort((x, y) => x - y);
  run({ axis: 'col', lines: [0], length: H, width: W }, { lo: 0, hi: Math.max(last.y, h - 1), centre: last.y, ramps });
  // Along the first block's rows.
  run({ axis: 'row', lines: firstRows, length: W, width: W }, { lo: 0, hi: w - 1, centre: 0 });
  const model = counts.reduce((x, y) => addCounts(x, y), { steps: 0, linkWords: new Float64Array(W * H * 4), rampWords: 0, flops: 0 });
  return { rounds, model };
}
