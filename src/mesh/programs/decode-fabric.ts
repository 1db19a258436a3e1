import { headSize, kvDim, type ModelConfig } from '../../model/config.ts';
import type { MeshConfig } from '../config.ts';
import {
  addCounts,
  chainReduceScatter,
  chainReduceScatterModel,
  lineAllgather,
  lineAllgatherModel,
  lineAllreduce,
  lineAllreduceModel,
  lineMulticast,
  lineMulticastModel,
  linesModel,
  segmentCost,
  segmentRound,
  type Elements,
  type LineElement,
  type Lines,
  type MulticastElement,
  type Segment,
} from '../collectives.ts';
import { checkColours, type Address, type FabricCount, type FabricPhase, type FabricRound, type RouteUse } from '../fabric.ts';
import { columnHeads, columnRuns, kvColumns, owners, split, STATS_LAYOUT } from '../placement.ts';
import type { WaferProgram } from '../program.ts';
import { ringAllreduce, ringAllreduceModel } from '../ring.ts';
import type { Allreduce } from '../collectives.ts';
import { compileFabricDecodePipelined } from './decode-pipelined.ts';

/**
 * The decode on the fabric: every transfer of the wafer program as fabric phases (words moving
 * neighbour to neighbour, src/mesh/fabric.ts), between local compute passes that touch only a
 * core's own SRAM (shaders/mesh_core.wgsl). Each phase comes with its closed-form cost, so what the
 * GPU counts can be held against it.
 */
export type FabricDecodeStep = { readonly kind: 'compute'; readonly entry: string; readonly layer: number | null } | { readonly kind: 'fabric'; readonly phase: number };

export interface FabricDecode {
  readonly program: WaferProgram;
  /** Region names the fabric addresses; per-head score regions last. */
  readonly regions: readonly string[];
  /** (cores, regions): each core's base word of each region. */
  readonly regionTable: Uint32Array;
  readonly phases: readonly FabricPhase[];
  /** Each phase's closed-form cost for the token decoded at a position. */
  readonly models: readonly ((token: number, pos: number) => FabricCount)[];
  readonly steps: readonly FabricDecodeStep[];
  /** Per phase: the colours each router carries at once and the routes it is configured with (within the preset's colours). */
  readonly routes: readonly RouteUse[];
  /** A layer-pipelined decode: the FLOPs a core does in a compute pass of a layer (or none), where the pass runs on one block only. */
  readonly coreFlops?: (entry: string, layer: number | null, core: number, pos: number) => number;
}

const BASE_REGIONS = ['x', 'q', 'k', 'v', 'attO', 'att', 'hb', 'hb2', 'partial', 'partialB', 'logits', 'stats'] as const;
type BaseRegion = (typeof BASE_REGIONS)[number];

/**
 * The attention scores' segments: per set of heads, the columns their coordinates span, reduced
 * to (and broadcast from) the holder nearest the middle. A column inside the span that holds none
 * of the set's coordinates (a column of another head set, or of none) only routes the words: the
 * segment's ramps are its holders then. Segments that share a column run in a second round.
 */
export function scoreClasses(m: ModelConfig, mesh: MeshConfig): { seg: Segment; heads: number[] }[][] {
  const own = owners(m, mesh);
  const hs = headSize(m);
  const dims = Array.from({ length: mesh.width }, (_, c) => columnRuns(m, mesh, 'dim', c));
  const holds = (c: number, h: number) => dims[c].some(([a, b]) => a < (h + 1) * hs && b > h * hs);
  const segOf = new Map<string, { seg: Segment; heads: number[] }>();
  for (let h = 0; h < m.nHeads; h++) {
    const [lo, hi] = own.headColumns[h];
    const key = `${lo}:${hi}`;
    const s = segOf.get(key);
    if (s) s.heads.push(h);
    else segOf.set(key, { seg: { lo, hi, centre: lo }, heads: [h] });
  }
  for (const s of segOf.values()) {
    const { lo, hi } = s.seg;
    const holders: number[] = [];
    for (let c = lo; c <= hi; c++) if (s.heads.some((h) => holds(c, h))) holders.push(c);
    const mid = (lo + hi) / 2;
    const centre = holders.reduce((best, c) => (Math.abs(c - mid) < Math.abs(best - mid) || (Math.abs(c - mid) === Math.abs(best - mid) && c < best) ? c : best), holders[0]);
    s.seg = holders.length === hi - lo + 1 ? { lo, hi, centre: Math.floor(mid) } : { lo, hi, centre, ramps: holders };
  }
  const classes: { seg: Segment; heads: number[] }[][] = [[], []];
  for (const s of [...segOf.values()].sort((a, b) => a.seg.lo - b.seg.lo)) {
    const last = classes[0][classes[0].length - 1];
    (last && last.seg.hi >= s.seg.lo ? classes[1] : classes[0]).push(s);
  }
  return classes;
}

/** Compiles the decode; its allreduces run by `algorithm` (default the program's): the streamed chain to the centre, the folded ring, or WaferLLM's K = 2 tree. */
export function compileFabricDecode(program: WaferProgram, algorithm: Allreduce = program.allreduce): FabricDecode {
  if (program.pipeline) return compileFabricDecodePipelined(program, algorithm);
  const { model: m, mesh, placement } = program;
  const W = mesh.width;
  const H = mesh.height;
  const n = W * H;
  const own = owners(m, mesh);
  const heads = Array.from({ length: W }, (_, c) => columnHeads(m, mesh, c));
  const coords = (kind: 'dim' | 'kv' | 'hidden', c: number) => columnRuns(m, mesh, kind, c).flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i));
  const dimOf = Array.from({ length: W }, (_, c) => coords('dim', c));
  const kvOf = Array.from({ length: W }, (_, c) => coords('kv', c));
  const hidOf = Array.from({ length: W }, (_, c) => coords('hidden', c));
  const rows = (kind: 'dim' | 'kv' | 'hidden' | 'vocab', r: number) => split(kind === 'dim' ? m.dim : kind === 'kv' ? kvDim(m) : kind === 'hidden' ? m.hiddenDim : m.vocabSize, H, r);

  // Regions: each core's base of every region the fabric reads or writes.
  const regions: string[] = [...BASE_REGIONS];
  for (let h = 0; h < m.nHeads; h++) regions.push(`scores:${h}`);
  for (let h = 0; h < m.nHeads; h++) regions.push(`scoresAll:${h}`);
  const R = (name: string) => regions.indexOf(name);
  const regionTable = new Uint32Array(n * regions.length);
  placement.cores.forEach((cp, core) => {
    const base = new Map(cp.regions.map((g) => [g.name, g.offset]));
    BASE_REGIONS.forEach((name, i) => (regionTable[core * regions.length + i] = base.get(name)!));
    const hd = heads[cp.col];
    for (let h = hd.first; h < hd.first + hd.count; h++) {
      // Scores are kept [local head][slot]: a head's scores are one region of the core's slots.
      regionTable[core * regions.length + R(`scores:${h}`)] = base.get('scores')! + (h - hd.first) * cp.kvSlots;
      regionTable[core * regions.length + R(`scoresAll:${h}`)] = base.get('scoresAll')! + (h - hd.first) * cp.kvSlots;
    }
  });
  const at = (region: BaseRegion | string, offset: number): Address => ({ region: R(region), offset });

  const rowLines: Lines = { axis: 'row', lines: Array.from({ length: H }, (_, r) => r), length: W, width: W };
  const colLines: Lines = { axis: 'col', lines: Array.from({ length: W }, (_, c) => c), length: H, width: W };
  const allreduce = (l: Lines, elements: Elements, op: 'sum' | 'max' = 'sum') => (algorithm === 'ring' ? ringAllreduce(l, elements, op) : lineAllreduce(l, algorithm, elements, op));
  const allreduceModel = (l: Lines, n: number | ((line: number) => number)) => (algorithm === 'ring' ? ringAllreduceModel(W, H, l, n) : lineAllreduceModel(W, H, l, algorithm, n));
  const phases: FabricPhase[] = [];
  const models: ((token: number, pos: number) => FabricCount)[] = [];
  const steps: FabricDecodeStep[] = [];
  const phase = (name: string, rounds: FabricRound[], model: (token: number, pos: number) => FabricCount) => {
    steps.push({ kind: 'fabric', phase: phases.length });
    phases.push({ name, rounds });
    models.push(model);
  };
  const compute = (entry: string, layer: number | null) => steps.push({ kind: 'compute', entry, layer });
  const both = (a: FabricCount, b: FabricCount) => addCounts(a, b);

  // The KV coordinates: each lives in every column whose attention units use it — one column, or
  // several where the KV cache is kept more than once (kvCopies > 1) — at that column's own index
  // (columnRuns order, which the compute reads). Its row sums are reduced in place in `partial` at
  // one holder (the one nearest the middle of its holders), multicast along the row from there over
  // the span of its holders (the same offset of `partial` holds nothing still needed there), and
  // gathered down every holder column from `partial` into the column's own index. With one holder
  // per coordinate there is no multicast round.
  const holders = kvColumns(m, mesh);
  const reach = (hs: readonly number[], h: number) => Math.max(h - hs[0], hs[hs.length - 1] - h);
  const kvHome = holders.map((hs) => hs.reduce((best, h) => (reach(hs, h) < reach(hs, best) ? h : best)));
  const kvCopied = holders.some((hs) => hs.length > 1);
  const kvIndex = kvOf.map((list) => new Map(list.map((i, j) => [i, j])));

  // A row reduce-scatter of `partial`-like regions to each coordinate's column (each KV coordinate's
  // home, then multicast to its other holders), then the column allgather.
  type Part = { kind: 'dim' | 'kv' | 'hidden'; src: BaseRegion; skip: (r: number) => number; dst: BaseRegion };
  const scatterGather = (name: string, parts: Part[]) => {
    const rs = (r: number): LineElement[] =>
      parts.flatMap((p) => {
        const [lo, hi] = rows(p.kind, r);
        return Array.from({ length: hi - lo }, (_, e) =>
          p.kind === 'kv'
            ? { at: kvHome[lo + e], src: at(p.src, p.skip(r) + e), dst: at(p.src, p.skip(r) + e) }
            : { at: own.col[p.kind][lo + e], src: at(p.src, p.skip(r) + e), dst: at(p.dst, own.pos[p.kind][lo + e]) },
        );
      });
    const mc = (r: number): MulticastElement[] =>
      parts.flatMap((p) => {
        if (p.kind !== 'kv') return [];
        const [lo, hi] = rows('kv', r);
        return Array.from({ length: hi - lo }, (_, e) => {
          const hs = holders[lo + e];
          const a = at(p.src, p.skip(r) + e);
          return hs.length > 1 ? [{ at: kvHome[lo + e], lo: hs[0], hi: hs[hs.length - 1], src: a, dst: a }] : [];
        }).flat();
      });
    const ag = (c: number): LineElement[] =>
      parts.flatMap((p) => {
        if (p.kind !== 'kv') return (p.kind === 'dim' ? dimOf : hidOf)[c].map((i) => ({ at: own.row[p.kind][i], src: at(p.dst, own.pos[p.kind][i]), dst: at(p.dst, own.pos[p.kind][i]) }));
        return kvOf[c].map((i) => {
          const r = own.row.kv[i];
          return { at: r, src: at(p.src, p.skip(r) + i - rows('kv', r)[0]), dst: at(p.dst, kvIndex[c].get(i)!) };
        });
      });
    const rsModel = chainReduceScatterModel(W, H, rowLines, (r) => rs(r).map((e) => e.at));
    const agModel = lineAllgatherModel(W, H, colLines, (c) => ag(c).map((e) => e.at));
    const copies = kvCopied && parts.some((p) => p.kind === 'kv');
    const mcModel = lineMulticastModel(W, H, rowLines, mc);
    const rounds = [chainReduceScatter(rowLines, rs), ...(copies ? [lineMulticast(rowLines, mc)] : []), lineAllgather(colLines, ag)];
    phase(name, rounds, () => (copies ? both(both(rsModel, mcModel), agModel) : both(rsModel, agModel)));
  };
  const sumsq = (name: string) => {
    const model = allreduceModel(rowLines, 1);
    phase(name, allreduce(rowLines, [{ src: at('stats', STATS_LAYOUT.sumsq), dst: at('stats', STATS_LAYOUT.sumsqAll) }]), () => model);
  };

  // Embedding: the cores of the token's row load their slice of its embedding row into x, the
  // others zeros, and x is summed down every column (routes that do not depend on the token).
  compute('embed_load', null);
  const embModel = allreduceModel(colLines, (c) => dimOf[c].length);
  phase('embedding: column allreduce', allreduce(colLines, (c) => dimOf[c].map((_, j) => ({ src: at('x', j), dst: at('x', j) }))), () => embModel);
  compute('embed_sumsq', null);

  const classes = scoreClasses(m, mesh);
  const segOf = new Map(classes.flat().map((x) => [`${x.seg.lo}:${x.seg.hi}`, x]));
  const headsOf = (s: Segment) => segOf.get(`${s.lo}:${s.hi}`)!.heads;
  const slotsOf = (r: number) => placement.cores[r * W].kvSlots;
  const used = (r: number, pos: number) => (pos < r ? 0 : Math.floor((pos - r) / H) + 1);

  for (let l = 0; l < m.nLayers; l++) {
    sumsq(`L${l} attention norm: allreduce Σx²`);
    compute('qkv', l);
    const rd = (r: number) => rows('dim', r)[1] - rows('dim', r)[0];
    const rk = (r: number) => rows('kv', r)[1] - rows('kv', r)[0];
    scatterGather(`L${l} q, k, v: reduce-scatter${kvCopied ? ', multicast to the KV copies' : ''} and gather`, [
      { kind: 'dim', src: 'partial', skip: () => 0, dst: 'q' },
      { kind: 'kv', src: 'partial', skip: rd, dst: 'k' },
      { kind: 'kv', src: 'partial', skip: (r) => rd(r) + rk(r), dst: 'v' },
    ]);
    compute('scores', l);
    const scoreRounds: FabricRound[] = [];
    for (const cls of classes.filter((c) => c.length)) {
      const segs = cls.map((x) => x.seg);
      const el = (dst: 'scores' | 'scoresAll') => (r: number, s: Segment) =>
        Array.from({ length: slotsOf(r) }, (_, t) => headsOf(s).map((h) => ({ src: at(`${dst === 'scores' ? 'scores' : 'scoresAll'}:${h}`, t), dst: at(`scoresAll:${h}`, t) }))).flat();
      const perSlot = (s: Segment) => headsOf(s).length;
      scoreRounds.push(segmentRound(rowLines, 'reduce', segs, el('scores'), true, 'sum', perSlot), segmentRound(rowLines, 'bcast', segs, el('scoresAll'), false, 'sum', perSlot));
    }
    phase(`L${l} attention scores: per-head segments`, scoreRounds, (_, pos) =>
      classes
        .filter((c) => c.length)
        .flatMap((cls) => (['reduce', 'bcast'] as const).map((kind) => linesModel(W, H, rowLines, (r) => segmentCost(W, kind, cls.map((x) => x.seg), (s) => used(r, pos) * headsOf(s).length), kind === 'reduce')))
        .reduce(both),
    );
    compute('softmax', l);
    const colHeads = (c: number) => Array.from({ length: heads[c].count }, (_, i) => heads[c].first + i);
    const maxModel = allreduceModel(colLines, (c) => heads[c].count);
    phase(`L${l} attention: column maxima`, allreduce(colLines, (c) => colHeads(c).map((h) => ({ src: at('stats', STATS_LAYOUT.max + h), dst: at(`scoresAll:${h}`, 0) })), 'max'), () => maxModel);
    compute('rescale', l);
    const sumModel = allreduceModel(colLines, (c) => heads[c].count + dimOf[c].length);
    phase(
      `L${l} attention: column sums`,
      allreduce(colLines, (c) => [
        ...colHeads(c).map((h) => ({ src: at('stats', STATS_LAYOUT.max + m.nHeads + h), dst: at(`scores:${h}`, 0) })),
        ...dimOf[c].map((_, j) => ({ src: at('attO', j), dst: at('att', j) })),
      ]),
      () => sumModel,
    );
    compute('wo', l);
    scatterGather(`L${l} wo: reduce-scatter and gather`, [{ kind: 'dim', src: 'partial', skip: () => 0, dst: 'att' }]);
    compute('residual', l);
    sumsq(`L${l} ffn norm: allreduce Σx²`);
    compute('w13', l);
    const rh = (r: number) => rows('hidden', r)[1] - rows('hidden', r)[0];
    scatterGather(`L${l} w1, w3: reduce-scatter and gather`, [
      { kind: 'hidden', src: 'partial', skip: () => 0, dst: 'hb' },
      { kind: 'hidden', src: 'partial', skip: rh, dst: 'hb2' },
    ]);
    compute('w2', l);
    scatterGather(`L${l} w2: reduce-scatter and gather`, [{ kind: 'dim', src: 'partialB', skip: () => 0, dst: 'att' }]);
    compute('residual', l);
  }
  sumsq('final norm: allreduce Σx²');
  compute('classifier', null);
  const logits = (r: number): LineElement[] => {
    const [lo, hi] = rows('vocab', r);
    return Array.from({ length: hi - lo }, (_, e) => ({ at: 0, src: at('partial', e), dst: at('logits', e) }));
  };
  const logitsModel = chainReduceScatterModel(W, H, rowLines, (r) => logits(r).map((e) => e.at));
  phase('logits: reduce to column 0', [chainReduceScatter(rowLines, logits)], () => logitsModel);
  // Greedy decoding stays on the wafer: column 0's cores take the maximum (and a non-finite flag)
  // of their logits down the column, then −(the index of the first maximum); the id goes along
  // every row, where the next token's embedding is loaded from it. Only the id leaves the wafer.
  const col0: Lines = { axis: 'col', lines: [0], length: H, width: W };
  const stat = (k: keyof typeof STATS_LAYOUT) => at('stats', STATS_LAYOUT[k]);
  compute('argmax_local', null);
  const bestModel = allreduceModel(col0, 2);
  phase('next token: column 0 maximum and non-finite flag', allreduce(col0, [{ src: stat('best'), dst: stat('bestAll') }, { src: stat('bad'), dst: stat('badAll') }], 'max'), () => bestModel);
  compute('argmax_pick', null);
  const along: Segment[] = [{ lo: 0, hi: W - 1, centre: 0 }];
  const pickModel = both(allreduceModel(col0, 1), linesModel(W, H, rowLines, () => segmentCost(W, 'bcast', along, 1), false));
  phase(
    'next token: column 0 first maximum, then along every row',
    [...allreduce(col0, [{ src: stat('pick'), dst: stat('pickAll') }], 'max'), segmentRound(rowLines, 'bcast', along, [{ src: stat('pickAll'), dst: stat('pickAll') }])].filter(
      (r) => r.streams.length > 0 || r.locals.length > 0,
    ),
    () => pickModel,
  );
  // Every phase within the preset's colours per router (refused, naming the phase and core, if not).
  const routes = phases.map((p) => checkColours(W, H, p, mesh.colours));
  return { program, regions, regionTable, phases, models, steps, routes };
}
