import { WafermeshError } from '../errors.ts';
import { kvDim } from '../model/config.ts';
import { phaseCycles } from './fabric.ts';
import { columnHeads, columnWidth, owners, split } from './placement.ts';
import type { FabricDecode } from './programs/decode-fabric.ts';

/** Where a step's modelled cycles go. */
export interface CycleBreakdown {
  compute: number; // the busiest core's FLOPs ÷ FLOPs per cycle
  hops: number; // latency: α per hop along the slowest word's route
  serialisation: number; // a word's place in its stream ÷ the words a link carries per cycle
  ramps: number; // β per ramp relay: words taken down the ramp and added or delivered in a core
}

/** What one step of one token cost: a compute pass or a fabric phase, read off the fabric decode. */
export interface PhaseTrace {
  readonly index: number;
  readonly name: string;
  /** A compute pass (a core touches only its own SRAM) or a fabric phase ('transfer': words move neighbour to neighbour). */
  readonly kind: 'compute' | 'transfer';
  readonly layer: number | null;
  /** Modelled cycles: the busiest core's compute, or the fabric phase's slowest word round by round. */
  readonly cycles: number;
  readonly breakdown: CycleBreakdown;
  /** Words summed over every link crossed (a word crossing 3 links counts 3). */
  readonly linkWords: number;
  readonly maxLinkWords: number;
  readonly maxHops: number;
  /** Fabric steps (a word crosses one link per step); 0 for a compute pass. */
  readonly steps: number;
  readonly flops: number; // all cores
  readonly maxCoreFlops: number;
}

/** One token's trace: every step's cost, and totals at the preset's clock. */
export interface TokenTrace {
  readonly token: number;
  readonly pos: number;
  readonly phases: readonly PhaseTrace[];
  readonly cycles: number;
  readonly transferCycles: number;
  readonly computeCycles: number;
  readonly breakdown: CycleBreakdown;
  readonly linkWords: number;
  readonly flops: number;
  readonly seconds: number; // modelled, at the preset's clock
  readonly passes: number; // steps per token: compute passes and fabric phases
  /** Words per link (core * 4 + dir) over the whole token, when asked for. */
  readonly perLink?: Float64Array;
}

/**
 * The cost model of the decode on the fabric, read off the fabric program (no GPU, no step-by-step
 * simulation): each fabric phase's words per link and steps are its closed form (the same the GPU's
 * counters are held against), its cycles the PLMR view of its streams at the preset (α per hop, β
 * per ramp, the link's words per cycle; src/mesh/fabric.ts `roundCycles`); each compute pass costs
 * the busiest core's FLOPs ÷ its FLOPs per cycle, with the FLOPs each core of shaders/mesh_core.wgsl
 * does (`computeFlops`). Phases and passes run one after another: every phase waits for the
 * compute before it and the compute after it waits for its words, so no overlap is modelled.
 */
export function traceFabricToken(d: FabricDecode, token: number, pos: number, perLink = false): TokenTrace {
  const { mesh, model: m } = d.program;
  const n = mesh.width * mesh.height;
  const links = perLink ? new Float64Array(n * 4) : undefined;
  const timing = { hop: mesh.cyclesPerHop, ramp: mesh.cyclesPerRamp, bw: mesh.wordsPerLinkCycle };
  const tokenRow = owners(m, mesh).row.vocab[token];
  const whole = d.coreFlops ? undefined : computeFlops(d);
  const flopsOf = (entry: string, layer: number | null, c: number, pos: number) => (d.coreFlops ? d.coreFlops(entry, layer, c, pos) : whole!(entry, c, pos));
  const phases: PhaseTrace[] = d.steps.map((s, index) => {
    if (s.kind === 'compute') {
      let flops = 0;
      let maxCoreFlops = 0;
      for (let c = 0; c < n; c++) {
        const f = flopsOf(s.entry, s.layer, c, pos);
        flops += f;
        maxCoreFlops = Math.max(maxCoreFlops, f);
      }
      const cycles = Math.ceil(maxCoreFlops / mesh.flopsPerCoreCycle);
      const breakdown = { compute: cycles, hops: 0, serialisation: 0, ramps: 0 };
      return { index, name: s.entry, kind: 'compute', layer: s.layer, cycles, breakdown, linkWords: 0, maxLinkWords: 0, maxHops: 0, steps: 0, flops, maxCoreFlops };
    }
    const phase = d.phases[s.phase];
    const count = d.models[s.phase](token, pos);
    const c = phaseCycles(mesh.height, phase, pos, tokenRow, timing);
    let linkWords = 0;
    let maxLinkWords = 0;
    count.linkWords.forEach((w, l) => {
      linkWords += w;
      maxLinkWords = Math.max(maxLinkWords, w);
      if (links) links[l] += w;
    });
    const breakdown = { compute: 0, hops: c.hops, serialisation: c.serialisation, ramps: c.ramps };
    const layer = /^L(\d+) /.exec(phase.name);
    return {
      index,
      name: phase.name,
      kind: 'transfer',
      layer: layer ? Number(layer[1]) : null,
      cycles: c.cycles,
      breakdown,
      linkWords,
      maxLinkWords,
      maxHops: mesh.cyclesPerHop > 0 ? Math.round(c.hops / mesh.cyclesPerHop) : 0,
      steps: count.steps,
      flops: count.flops,
      maxCoreFlops: 0,
    };
  });
  const breakdown: CycleBreakdown = { compute: 0, hops: 0, serialisation: 0, ramps: 0 };
  let cycles = 0;
  let transferCycles = 0;
  let linkWords = 0;
  let flops = 0;
  for (const p of phases) {
    cycles += p.cycles;
    if (p.kind === 'transfer') transferCycles += p.cycles;
    linkWords += p.linkWords;
    flops += p.flops;
    for (const k of Object.keys(breakdown) as (keyof CycleBreakdown)[]) breakdown[k] += p.breakdown[k];
  }
  return {
    token,
    pos,
    phases,
    cycles,
    transferCycles,
    computeCycles: cycles - transferCycles,
    breakdown,
    linkWords,
    flops,
    seconds: cycles / mesh.clockHz,
    passes: d.steps.length,
    ...(links ? { perLink: links } : {}),
  };
}

/**
 * FLOPs each core does in each compute pass of shaders/mesh_core.wgsl (what its instrumented
 * counters count): tile products 2 per weight, rmsnorm 3 and Σx² 2 per coordinate, RoPE 3 per
 * coordinate, scores and weighted values 2 per coordinate and position, softmax 4 per head and
 * position, SwiGLU 5 per hidden coordinate.
 */
export function computeFlops(d: FabricDecode): (entry: string, core: number, pos: number) => number {
  const { model: m, mesh } = d.program;
  const W = mesh.width;
  const H = mesh.height;
  const cols = (kind: 'dim' | 'kv' | 'hidden') => Array.from({ length: W }, (_, c) => columnWidth(m, mesh, kind, c));
  const nd = cols('dim');
  const nk = cols('kv');
  const nh = cols('hidden');
  const heads = Array.from({ length: W }, (_, c) => columnHeads(m, mesh, c).count);
  const rows = (total: number) => Array.from({ length: H }, (_, r) => split(total, H, r)[1] - split(total, H, r)[0]);
  const rd = rows(m.dim);
  const rk = rows(kvDim(m));
  const rh = rows(m.hiddenDim);
  const rv = rows(m.vocabSize);
  const used = (r: number, pos: number) => (pos < r ? 0 : Math.floor((pos - r) / H) + 1);
  return (entry, core, pos) => {
    const r = Math.floor(core / W);
    const c = core % W;
    const D = nd[c];
    switch (entry) {
      case 'embed_load':
        return 0;
      case 'embed_sumsq':
      case 'block_sumsq':
        return 2 * D;
      case 'qkv':
        return 3 * D + 2 * (rd[r] + 2 * rk[r]) * D;
      case 'scores':
        return 3 * D + 3 * nk[c] + 2 * D * used(r, pos);
      case 'softmax':
        return 4 * heads[c] * used(r, pos) + 2 * D * used(r, pos);
      case 'rescale':
        return 3 * heads[c] + D;
      case 'wo':
        return D + 2 * rd[r] * D;
      case 'residual':
        return 3 * D;
      case 'w13':
        return 3 * D + 4 * rh[r] * D;
      case 'w2':
        return 5 * nh[c] + 2 * rd[r] * nh[c];
      case 'classifier':
        return 3 * D + 2 * rv[r] * D;
      case 'argmax_local':
      case 'argmax_pick':
        return c === 0 ? rv[r] : 0; // a compare per logit, on column 0

      default:
        throw new WafermeshError('internal', `no FLOP count for the compute pass "${entry}"`);
    }
  };
}
