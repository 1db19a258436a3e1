import type { Lesson } from './lesson.ts';

const ALGORITHMS = ['chain', 'ring', 'ktree'] as const;

/** Chapter 4: collectives — chain, ring and K-tree allreduces, words against steps. */
export const collectives: Lesson = {
  id: 'collectives',
  title: 'Collectives: chain, ring, K-tree',
  state: { model: 'wm-stories', preset: 'wse-3', mesh: { width: 8, height: 8 }, allreduce: 'ktree', race: 'emulated' },
  figures: (s) => Object.fromEntries(ALGORITHMS.map((a) => [a, { kind: 'trace', mesh: s.mesh, preset: s.preset, allreduce: a }])),
  paragraphs: [
    'A *collective* is a pattern in which many cores combine their numbers. The decode needs the *allreduce* most: every core of a row holds a partial sum ' +
      '(of squares for the norm, of exponentials for the softmax), and every core must end up with the total.',
    'Three ways along a line of cores: the *chain* streams partial sums from both ends to the middle core, each core adding its own, and broadcasts the sum back; ' +
      'the *ring*, folded so neighbours are at most two hops apart, passes chunks round twice; WaferLLM’s *K-tree* (K = 2) reduces small groups to their middle core, then the group roots to the middle. ' +
      'Fewer words moved is not the same as fewer steps, and every core a word is added in costs a ramp relay.',
    'The table is one token on this mesh, modelled by trace. The matrix products’ reduce-scatters are chains in all three; only the allreduces change.',
  ],
  table: {
    caption: 'One token, by allreduce',
    columns: ['allreduce', 'link-words', 'fabric steps', 'cycles'],
    rows: [
      ['chain', '{chain.fabricWords}', '{chain.fabricSteps}', '{chain.cycles}'],
      ['ring', '{ring.fabricWords}', '{ring.fabricSteps}', '{ring.cycles}'],
      ['K-tree', '{ktree.fabricWords}', '{ktree.fabricSteps}', '{ktree.cycles}'],
    ],
  },
  tryThis: { text: 'Switch the allreduce to the ring and load: the wafer’s modelled time per token changes; the words still move only between neighbours.', action: { kind: 'settings', patch: () => ({ allreduce: 'ring' }) } },
  question: {
    text: 'Which allreduce gives this mesh the fewest cycles per token?',
    choices: ['the chain', 'the ring', 'the K-tree'],
    needs: 'figures',
    check: (v) => {
      const cycles = ALGORITHMS.map((a) => v(a, 'cycles'));
      if (cycles.some((c) => typeof c !== 'number')) return null;
      const best = cycles.indexOf(Math.min(...(cycles as number[])));
      return { answer: best, because: 'trace, per token: chain {chain.cycles}, ring {ring.cycles}, K-tree {ktree.cycles} cycles.' };
    },
  },
};
