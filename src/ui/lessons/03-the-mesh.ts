import type { Lesson } from './lesson.ts';

const twice = (m: { width: number; height: number }) => ({ width: Math.min(64, m.width * 2), height: Math.min(64, m.height * 2) });

/** Chapter 3: the mesh — only neighbours are wired, so distance is time. */
export const theMesh: Lesson = {
  id: 'the-mesh',
  title: 'The mesh: only neighbours',
  state: { model: 'wm-stories', preset: 'wse-3', mesh: { width: 8, height: 8 }, allreduce: 'ktree', race: 'emulated' },
  figures: (s) => ({
    trace: { kind: 'trace', mesh: s.mesh, preset: s.preset, allreduce: s.allreduce },
    big: { kind: 'trace', mesh: twice(s.mesh), preset: s.preset, allreduce: s.allreduce },
  }),
  paragraphs: [
    'Each core is wired only to its four *neighbours* (east, west, south, north) by *links*. A word going farther is passed on router by router; ' +
      'each step across one link is a *hop*, and costs about one cycle of *latency*.',
    'So on a wafer, distance is time. One token here is {trace.passes} steps: *compute passes*, in which every core works on its own SRAM and nothing moves, ' +
      'and {trace.fabricPhases} *fabric phases*, in which words move. Together they carry {trace.fabricWords} link-words (a word counts once per link it crosses) ' +
      'in {trace.fabricSteps} fabric steps; the farthest word goes {trace.maxHops} hops.',
    'Of the token’s {trace.cycles} cycles, {trace.hopCycles} are hop latency and {trace.rampCycles} are *ramp relays*: a word leaving the network into a core ' +
      'to be added. On a mesh twice as wide and tall ({big.cores} cores) the same token takes {big.cycles} cycles, {big.hopCycles} of them hops: each core holds less, but words travel farther.',
  ],
  tryThis: { text: 'Press step one phase a few times: in a fabric phase the arrows show words crossing one link at a time, in the direction they move.', action: { kind: 'step-phase' } },
  question: {
    text: 'The mesh doubles in each direction. What happens to the hop-latency cycles of a token?',
    choices: ['They shrink: each core has less to do', 'They stay about the same', 'They grow: words travel farther'],
    needs: 'figures',
    check: (v) => {
      const a = v('trace', 'hopCycles');
      const b = v('big', 'hopCycles');
      if (typeof a !== 'number' || typeof b !== 'number') return null;
      return {
        answer: b > a * 1.05 ? 2 : b < a * 0.95 ? 0 : 1,
        because: 'trace: {trace.hopCycles} hop cycles on {trace.cores} cores, {big.hopCycles} on {big.cores}.',
      };
    },
  },
};
