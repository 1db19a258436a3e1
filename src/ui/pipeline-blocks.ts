import type { PhaseInfo, PipelineReport } from '../worker/types.ts';

/**
 * The blocks a step of the layer-pipelined decode runs on: a layer's steps on the block holding
 * that layer; the embedding's and the head's on the block their name says; a hand-off on the two
 * blocks it joins; the id's return on the last block and the first. Empty for no step.
 */
export function stepBlocks(p: PipelineReport, step: PhaseInfo | null): number[] {
  if (!step) return [];
  const pair = /\(block (\d+) to (\d+)\)$/.exec(step.name);
  if (pair) return [Number(pair[1]), Number(pair[2])];
  if (step.name === 'next token: the id back to the first block') return [p.blocks.length - 1, 0];
  // A fabric phase of a layer is named by it ("L3 …"); a compute pass carries its layer.
  const named = /^L(\d+) /.exec(step.name);
  const layer = step.layer ?? (named ? Number(named[1]) : null);
  if (layer !== null) {
    const k = p.blocks.findIndex((b) => layer >= b.layerFirst && layer < b.layerFirst + b.layerCount);
    return k >= 0 ? [k] : [];
  }
  const one = /\(block (\d+)\)$/.exec(step.name);
  if (one) return [Number(one[1])];
  // The embedding's compute passes run on the first block, the head's on the last.
  return [step.name.startsWith('embed_') ? 0 : p.blocks.length - 1];
}
