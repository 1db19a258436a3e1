import type { Lesson } from './lesson.ts';

/**
 * The demo's lessons, as data (one lesson a file once there are several). Their texts follow the
 * README; the ids they name are the catalog's, and test/ui/lessons.test.ts checks them against it.
 */
export const LESSONS: Lesson[] = [
  {
    id: 'weights-stay',
    title: 'Weights stay, activations move',
    steps: [
      {
        text:
          "Every core of the wafer has its own SRAM right beside it. The model's weights are spread over all of them: " +
          "core (r, c) holds row slice r × column slice c of every matrix. Blue on the wafer is weights; they never move.",
        patch: { model: 'wm-stories', preset: 'wse-3', allreduce: 'ktree', mesh: { width: 8, height: 8 } },
      },
      {
        text:
          'Step phase by phase: each pass lights the links its transfers use. To make a token only the small activation ' +
          'vectors travel, core to neighbour core: a matrix–vector product is local tile products, then a reduction along ' +
          'each row (here a binary tree, whose members 2^s apart combine at step s) and a gather down each column.',
        patch: { allreduce: 'ktree' },
      },
      {
        text:
          'Now play. The GPU on the right keeps the same weights in off-chip HBM and streams every one of them through its ' +
          'memory bus for every token; that bus, not arithmetic, limits it. Compare the modelled tokens per second.',
      },
    ],
  },
];
