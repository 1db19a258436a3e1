import { CYCLES_PER_STEP, DIR, type Allreduce, type Phase, type WaferProgram } from './program.ts';

/** What one phase of one token cost, read off the wafer program. */
export interface PhaseTrace {
  readonly index: number;
  readonly name: string;
  readonly kind: Phase['kind'];
  readonly layer: number | null;
  /** Modelled cycles: hops of the longest route + serialisation on the busiest link + per-step cost, or compute. */
  readonly cycles: number;
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
  readonly linkWords: number;
  readonly flops: number;
  readonly seconds: number; // modelled, at the preset's clock
  readonly passes: number; // GPU dispatches the emulator runs for it
  /** Words per link (core * 4 + dir) over the whole token, when asked for. */
  readonly perLink?: Float64Array;
}

interface LineCost {
  cycles: number;
  steps: number;
  maxHops: number;
}

/** Charges one line (a row or a column) of a collective; returns its modelled cost. */
function chargeLine(
  members: readonly number[],
  words: readonly number[],
  collective: 'allreduce' | 'gather' | 'broadcast',
  algorithm: Allreduce | 'line',
  fwd: number,
  back: number,
  links: Float64Array,
  hop: number,
  bw: number,
  source = 0,
): LineCost {
  const N = members.length;
  const link = (i: number, dir: number, w: number) => {
    links[members[i] * 4 + dir] += w;
  };
  if (N < 2) return { cycles: 0, steps: 0, maxHops: 0 };
  if (collective === 'allreduce') {
    const n = words[0];
    if (n === 0) return { cycles: 0, steps: 0, maxHops: 0 };
    const ser = Math.ceil(n / bw);
    if (algorithm === 'ring') {
      // A chain: partial sums flow one hop at a time to the far end, the sum flows back.
      for (let i = 0; i + 1 < N; i++) {
        link(i, fwd, n);
        link(i + 1, back, n);
      }
      const steps = 2 * (N - 1);
      return { cycles: steps * (hop + ser + CYCLES_PER_STEP), steps, maxHops: 1 };
    }
    // Binary tree: at step s, member c (c mod 2^(s+1) = 0) receives from c + 2^s, 2^s hops away;
    // then the sum goes back down the same tree.
    let cycles = 0;
    let steps = 0;
    let maxHops = 0;
    for (let d = 1; d < N; d *= 2) {
      for (let c = 0; c + d < N; c += 2 * d) {
        for (let j = c + 1; j <= c + d; j++) link(j, back, n); // up the tree
        for (let j = c; j < c + d; j++) link(j, fwd, n); // and back down
      }
      cycles += 2 * (d * hop + ser + CYCLES_PER_STEP);
      steps += 2;
      maxHops = d;
    }
    return { cycles, steps, maxHops };
  }
  if (collective === 'gather') {
    // Every member broadcasts its words to both ends of the line at once; links are shared.
    let any = false;
    for (let i = 0; i < N; i++) {
      const w = words[i];
      if (w === 0) continue;
      any = true;
      for (let j = i; j + 1 < N; j++) link(j, fwd, w);
      for (let j = i; j > 0; j--) link(j, back, w);
    }
    if (!any) return { cycles: 0, steps: 0, maxHops: 0 };
    let busiest = 0;
    for (const c of members) busiest = Math.max(busiest, links[c * 4 + fwd], links[c * 4 + back]);
    return { cycles: (N - 1) * hop + Math.ceil(busiest / bw) + CYCLES_PER_STEP, steps: 1, maxHops: N - 1 };
  }
  // broadcast from `source`
  const w = words[source];
  if (w === 0) return { cycles: 0, steps: 0, maxHops: 0 };
  for (let j = source; j + 1 < N; j++) link(j, fwd, w);
  for (let j = source; j > 0; j--) link(j, back, w);
  const far = Math.max(source, N - 1 - source);
  return { cycles: far * hop + Math.ceil(w / bw) + CYCLES_PER_STEP, steps: 1, maxHops: far };
}

/** Charges a phase's links into `links` (core*4+dir) and returns its trace. */
export function tracePhase(program: WaferProgram, index: number, token: number, pos: number, links: Float64Array): PhaseTrace {
  const { mesh } = program;
  const phase = program.phases[index];
  const W = mesh.width;
  const H = mesh.height;
  const nCores = W * H;
  const base = { index, name: phase.name, kind: phase.kind, layer: phase.layer };
  if (phase.kind === 'compute') {
    let flops = 0;
    let maxCoreFlops = 0;
    for (let c = 0; c < nCores; c++) {
      const f = phase.flops(c, pos);
      flops += f;
      maxCoreFlops = Math.max(maxCoreFlops, f);
    }
    return {
      ...base,
      cycles: Math.ceil(maxCoreFlops / mesh.flopsPerCoreCycle),
      linkWords: 0,
      maxLinkWords: 0,
      maxHops: 0,
      steps: 0,
      flops,
      maxCoreFlops,
    };
  }
  const mine = new Float64Array(nCores * 4);
  let cost: LineCost = { cycles: 0, steps: 0, maxHops: 0 };
  const worst = (c: LineCost) => {
    if (c.cycles > cost.cycles) cost = c;
  };
  const along = phase.collective === 'row-allreduce' ? 'row' : 'col';
  const kind = phase.collective === 'row-allreduce' || phase.collective === 'col-allreduce' ? 'allreduce' : phase.collective === 'col-gather' ? 'gather' : 'broadcast';
  if (along === 'row') {
    for (let r = 0; r < H; r++) {
      const members = Array.from({ length: W }, (_, c) => r * W + c);
      worst(chargeLine(members, members.map((c) => phase.words(c, pos)), kind, phase.algorithm, DIR.east, DIR.west, mine, mesh.cyclesPerHop, mesh.wordsPerLinkCycle));
    }
  } else {
    const source = phase.sourceRow ? phase.sourceRow(token) : 0;
    for (let c = 0; c < W; c++) {
      const members = Array.from({ length: H }, (_, r) => r * W + c);
      worst(chargeLine(members, members.map((x) => phase.words(x, pos)), kind, phase.algorithm, DIR.south, DIR.north, mine, mesh.cyclesPerHop, mesh.wordsPerLinkCycle, source));
    }
  }
  let linkWords = 0;
  let maxLinkWords = 0;
  for (let i = 0; i < mine.length; i++) {
    linkWords += mine[i];
    maxLinkWords = Math.max(maxLinkWords, mine[i]);
    links[i] += mine[i];
  }
  return { ...base, cycles: cost.cycles, linkWords, maxLinkWords, maxHops: cost.maxHops, steps: cost.steps, flops: 0, maxCoreFlops: 0 };
}

/** The trace of decoding `token` at `pos`: every phase's cost, and totals at the preset's clock. */
export function traceToken(program: WaferProgram, token: number, pos: number, perLink = false): TokenTrace {
  const links = new Float64Array(program.mesh.width * program.mesh.height * 4);
  const phases = program.phases.map((_, i) => tracePhase(program, i, token, pos, links));
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
  }
  return {
    token,
    pos,
    phases,
    cycles,
    transferCycles,
    computeCycles,
    linkWords,
    flops,
    seconds: cycles / program.mesh.clockHz,
    passes: program.passes.length,
    ...(perLink ? { perLink: links } : {}),
  };
}
