import { describe, expect, it } from 'vitest';
import { fabricPrefill } from '../../src/cost/prefill.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { phaseCycles } from '../../src/mesh/fabric.ts';
import { compilePrefill, prefillModel } from '../../src/mesh/programs/prefill-fabric.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { loadStories260K } from '../helpers/models.ts';

const gqa: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };
const stories = loadStories260K().config;

/**
 * The cost model's wafer prefill (fabricPrefill, closed form for any mesh) against the emulator's
 * plan (compilePrefill): the words every fabric phase writes into links (prefillModel, the counts
 * the runtime's measurements are checked against) and the phases' cycles at the preset's α, β and
 * bandwidth (phaseCycles of the compiled rounds), a layer's phases run n_layers times.
 */
function compare(mesh: MeshConfig, config: ModelConfig, T: number) {
  const plan = compilePrefill(mesh, config, T);
  const t = { hop: mesh.cyclesPerHop, ramp: mesh.cyclesPerRamp, bw: mesh.wordsPerLinkCycle };
  const c = fabricPrefill(mesh.width, mesh.height, config, T, t, mesh.flopsPerCoreCycle);
  const words = prefillModel(plan).map((p) => p.linkWords.reduce((a, b) => a + b, 0));
  const cycles = plan.phases.map((p, i) => phaseCycles(mesh.height, p, 0, -1, t).cycles * (i < plan.layerPhases ? config.nLayers : 1));
  const part = (xs: number[], pick: (i: number) => boolean) => xs.filter((_, i) => pick(i)).reduce((a, b) => a + b, 0);
  const norms = new Set([plan.normPhase.att, plan.normPhase.ffn, plan.normPhase.final]);
  const isNorm = (i: number) => norms.has(i);
  const isGather = (i: number) => i === plan.gatherPhase;
  const isOut = (i: number) => i === plan.edgePhase;
  const isProduct = (i: number) => !isNorm(i) && !isGather(i) && !isOut(i);
  expect([c.P, c.m, c.mh, c.mv, c.nt]).toEqual([plan.P, plan.m, plan.mh, plan.mv, plan.nt]);
  expect(c.words).toEqual({ norms: part(words, isNorm), productShifts: part(words, isProduct), kvGather: part(words, isGather), kvOut: part(words, isOut) });
  expect(c.totalWords).toBe(words.reduce((a, b) => a + b, 0));
  expect(c.cycles.norms).toBeCloseTo(part(cycles, isNorm), 9);
  expect(c.cycles.productShifts).toBeCloseTo(part(cycles, isProduct), 9);
  expect(c.cycles.kvGather).toBeCloseTo(part(cycles, isGather), 9);
  expect(c.cycles.kvOut).toBeCloseTo(part(cycles, isOut), 9);
  return c;
}

describe("the cost model's wafer prefill is the emulator's plan: same words on the links, same fabric cycles", () => {
  it('stories260K on 8 x 8 (WSE-3 core), 9 positions', () => {
    const c = compare(meshFromPreset('wse-3', 8, 8), stories, 9);
    expect(c.totalWords).toBeGreaterThan(0);
    expect(c.cycles.kvGather).toBeGreaterThan(0);
  });

  it('stories260K on 8 x 8, 64 positions; a GQA model on 6 x 7 (its 6 x 6 block) and on 2 x 3', () => {
    compare(meshFromPreset('wse-3', 8, 8, 256 * 1024), stories, 64);
    compare(meshFromPreset('wse-3', 6, 7, 64 * 1024), gqa, 13);
    compare(meshFromPreset('wse-3', 2, 3, 256 * 1024), gqa, 5);
  });
});
