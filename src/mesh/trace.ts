import { chargeLine, DIR, lineTotal, ZERO_LINE, type LineCost } from './collectives.ts';
import type { Phase, TransferPhase, WaferProgram } from './program.ts';

/** Where a phase's modelled cycles go. */
export interface CycleBreakdown {
  compute: number; // the busiest core's FLOPs ÷ FLOPs per cycle
  hops: number; // latency: hops along the longest route × cycles per hop
  serialisation: number; // words through the busiest link ÷ words per link-cycle
  steps: number; // per-step synchronisation of collectives (the functional model)
  ramps: number; // words taken down the ramp and added or delivered in a core (β; the fabric model)
}

/** What one phase of one token cost, read off the wafer program. */
export interface PhaseTrace {
  readonly index: number;
  readonly name: string;
  readonly kind: Phase['kind'];
  readonly layer: number | null;
  /** Modelled cycles: hops of the longest route + serialisation on the busiest link + per-step cost, or compute. */
  readonly cycles: number;
  readonly breakdown: CycleBreakdown;
  /** Words summed over every link crossed (a word crossing 3 links counts 3). */
  readonly linkWords: number;
  readonly maxLinkWords: number;
  readonly maxHops: number;
  readonly steps: number;
  readonly flops: number; // all cores
  readonly maxCoreFlops: number;
}

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
  readonly passes: number; // GPU dispatches the emulator runs for it
  /** Words per link (core * 4 + dir) over the whole token, when asked for. */
  readonly perLink?: Float64Array;
}

/**
 * Traces one phase: its cost (the slowest line of a transfer, the busiest core of a compute)
 * and, when `perLink` is given, its words added per link (core * 4 + dir).
 */
export function tracePhase(program: WaferProgram, index: number, token: number, pos: number, perLink?: Float64Array): PhaseTrace {
  const { mesh } = program;
  const phase = program.phases[index];
  const W = mesh.width;
  const H = mesh.height;
  const base = { index, name: phase.name, kind: phase.kind, layer: phase.layer };
  if (phase.kind === 'compute') {
    let flops = 0;
    let maxCoreFlops = 0;
    for (let c = 0; c < W * H; c++) {
      const f = phase.flops(c, pos);
      flops += f;
      if (f > maxCoreFlops) maxCoreFlops = f;
    }
    const cycles = Math.ceil(maxCoreFlops / mesh.flopsPerCoreCycle);
    return {
      ...base,
      cycles,
      breakdown: { compute: cycles, hops: 0, serialisation: 0, steps: 0, ramps: 0 },
      linkWords: 0,
      maxLinkWords: 0,
      maxHops: 0,
      steps: 0,
      flops,
      maxCoreFlops,
    };
  }
  if (phase.collective === 'row-segment-allreduce') return traceSegments(program, phase, base, pos, perLink);
  const byRow = phase.collective === 'row-allreduce';
  const kind = phase.collective === 'row-allreduce' || phase.collective === 'col-allreduce' ? 'allreduce' : phase.collective === 'col-gather' ? 'gather' : 'broadcast';
  const lines = byRow ? H : W;
  const N = byRow ? W : H;
  const member = (line: number, i: number) => (byRow ? line * W + i : i * W + line);
  const source = phase.sourceRow ? phase.sourceRow(token) : 0;
  const words = new Float64Array(N);
  const local = new Float64Array(N * 2);
  let worst = ZERO_LINE;
  let linkWords = 0;
  let maxLinkWords = 0;
  let memo: { key: string; cost: LineCost } | undefined;
  for (let line = 0; line < lines; line++) {
    // An allreduce's members all carry the same count and a broadcast's only its source does, so
    // one evaluation describes the line; a gather needs every member's share.
    if (kind === 'allreduce') words.fill(phase.words(member(line, 0), pos));
    else if (kind === 'broadcast') words[source] = phase.words(member(line, source), pos);
    else for (let i = 0; i < N; i++) words[i] = phase.words(member(line, i), pos);
    local.fill(0);
    const key = perLink ? '' : Array.prototype.join.call(words, ',');
    let cost: LineCost;
    if (memo && memo.key === key && !perLink) cost = memo.cost;
    else {
      cost = chargeLine(words, kind, phase.algorithm, mesh.cyclesPerHop, mesh.wordsPerLinkCycle, source, local);
      memo = { key, cost };
    }
    if (perLink) {
      const fwd = byRow ? DIR.east : DIR.south;
      const back = byRow ? DIR.west : DIR.north;
      for (let i = 0; i < N; i++) {
        perLink[member(line, i) * 4 + fwd] += local[i * 2];
        perLink[member(line, i) * 4 + back] += local[i * 2 + 1];
      }
    }
    linkWords += cost.linkWords;
    maxLinkWords = Math.max(maxLinkWords, cost.maxLinkWords);
    if (lineTotal(cost) > lineTotal(worst)) worst = cost;
  }
  return transferTrace(base, worst, linkWords, maxLinkWords);
}

/** A transfer phase's trace: the slowest line sets its cycles; words are summed over all lines. */
function transferTrace(base: Pick<PhaseTrace, 'index' | 'name' | 'kind' | 'layer'>, slowest: LineCost, linkWords: number, maxLinkWords: number): PhaseTrace {
  return {
    ...base,
    cycles: lineTotal(slowest),
    breakdown: { compute: 0, hops: slowest.hops, serialisation: slowest.serialisation, steps: slowest.steps, ramps: 0 },
    linkWords,
    maxLinkWords,
    maxHops: slowest.maxHops,
    steps: slowest.stepCount,
    flops: 0,
    maxCoreFlops: 0,
  };
}

/**
 * Segmented row allreduce: each segment (the columns one head spans) of every row is reduced on
 * its own, all at once. Cost: the slowest segment.
 */
function traceSegments(program: WaferProgram, phase: TransferPhase, base: Pick<PhaseTrace, 'index' | 'name' | 'kind' | 'layer'>, pos: number, perLink?: Float64Array): PhaseTrace {
  const { mesh } = program;
  const W = mesh.width;
  let worst = ZERO_LINE;
  let linkWords = 0;
  let maxLinkWords = 0;
  for (let r = 0; r < mesh.height; r++) {
    const n = phase.words(r * W, pos);
    if (n === 0) continue;
    const row = new Float64Array(W * 2);
    for (const [a, b] of phase.segments ?? []) {
      const members = b - a;
      const local = new Float64Array(members * 2);
      const cost = chargeLine(new Float64Array(members).fill(n), 'allreduce', phase.algorithm, mesh.cyclesPerHop, mesh.wordsPerLinkCycle, 0, local);
      for (let i = 0; i < members * 2; i++) row[a * 2 + i] += local[i];
      if (lineTotal(cost) > lineTotal(worst)) worst = cost;
    }
    for (let c = 0; c < W; c++) {
      linkWords += row[c * 2] + row[c * 2 + 1];
      maxLinkWords = Math.max(maxLinkWords, row[c * 2], row[c * 2 + 1]);
      if (perLink) {
        perLink[(r * W + c) * 4 + DIR.east] += row[c * 2];
        perLink[(r * W + c) * 4 + DIR.west] += row[c * 2 + 1];
      }
    }
  }
  // Neighbouring segments meet in one column but use its links in opposite directions (a
  // segment's last member sends west, the next segment's first member east), so no link is
  // shared: the slowest segment is the phase's cost.
  return transferTrace(base, worst, linkWords, maxLinkWords);
}

/** The trace of decoding `token` at `pos`: every phase's cost, and totals at the preset's clock. */
export function traceToken(program: WaferProgram, token: number, pos: number, perLink = false): TokenTrace {
  const links = perLink ? new Float64Array(program.mesh.width * program.mesh.height * 4) : undefined;
  const phases = program.phases.map((_, i) => tracePhase(program, i, token, pos, links));
  const breakdown: CycleBreakdown = { compute: 0, hops: 0, serialisation: 0, steps: 0, ramps: 0 };
  let cycles = 0;
  let transferCycles = 0;
  let computeCycles = 0;
  let linkWords = 0;
  let flops = 0;
  for (const p of phases) {
    cycles += p.cycles;
    if (p.kind === 'transfer') transferCycles += p.cycles;
    else computeCycles += p.cycles;
    linkWords += p.linkWords;
    flops += p.flops;
    breakdown.compute += p.breakdown.compute;
    breakdown.hops += p.breakdown.hops;
    breakdown.serialisation += p.breakdown.serialisation;
    breakdown.steps += p.breakdown.steps;
  }
  return {
    token,
    pos,
    phases,
    cycles,
    transferCycles,
    computeCycles,
    breakdown,
    linkWords,
    flops,
    seconds: cycles / program.mesh.clockHz,
    passes: program.passes.length,
    ...(links ? { perLink: links } : {}),
  };
}
