import { afterAll, describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate } from '../../src/engines/generate.ts';
import { createMachine } from '../../src/engines/index.ts';
import type { MeshEngine } from '../../src/engines/mesh.ts';
import { runPrefillFabric } from '../../src/engines/mesh-prefill.ts';
import { GpuResources } from '../../src/gpu/resources.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { DIR } from '../../src/mesh/collectives.ts';
import { firstDifference } from '../../src/mesh/fabric.ts';
import { compilePrefill, prefillModel } from '../../src/mesh/programs/prefill-fabric.ts';
import { type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import { ReferenceTransformer } from '../../src/model/reference.ts';
import type { Model } from '../../src/model/weights.ts';
import { checkTensor } from '../helpers/check.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';
import { randomPrompt } from '../helpers/prefill.ts';

const stories = loadStories260K();
const gqa: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };

afterAll(async () => (await testGpu()).destroy());

async function prefillOnWafer(model: Model, mesh: MeshConfig, T: number) {
  const tokens = randomPrompt(model.config, T);
  const ref = new ReferenceTransformer(model);
  const expected = ref.prefill(tokens);
  const plan = compilePrefill(mesh, model.config, T);
  const res = new GpuResources(await testGpu());
  try {
    const run = await runPrefillFabric(res, plan, model, tokens, { instrument: true });
    // Everything the run made is freed (the pipelines stay cached with the resources).
    expect(res.liveBuffers).toBe(0);
    return { plan, run, expected, kv: ref.kvCache(T) };
  } finally {
    res.dispose();
  }
}

function checkRun({ plan, run, expected, kv }: Awaited<ReturnType<typeof prefillOnWafer>>) {
  checkTensor('logits', run.logits, expected, { atol: 1e-4, rtol: 1e-4 });
  checkTensor('keys', run.kv.k, kv.k, { atol: 1e-4, rtol: 1e-4 });
  checkTensor('values', run.kv.v, kv.v, { atol: 1e-4, rtol: 1e-4 });
  expect(run.violation).toBeNull();
  expect(run.outOfSlice).toBe(0);
  const model = prefillModel(plan);
  run.phases.forEach((measured, p) => expect(firstDifference(model[p], measured), plan.phases[p].name).toBeNull());
}

describe('the wafer prefill on the fabric (MeshGEMM layers, fabric norms and KV gather)', () => {
  it('a random GQA model (6 heads, 2 KV heads, own classifier) on 4x4, 5 positions: logits and KV cache equal the CPU reference prefill within 1e-4; measured = modelled per link and phase; no access off a core or its links', async () => {
    const r = await prefillOnWafer(randomModel(gqa, 5), meshFromPreset('wse-3', 4, 4), 5);
    checkRun(r);
  }, 900_000);

  it('a non-square 6x7 mesh runs it on its 6x6 block (the seventh row idles): 5 positions, one core column holding none; logits equal the reference, measured = modelled', async () => {
    const r = await prefillOnWafer(randomModel(gqa, 6), meshFromPreset('wse-3', 6, 7), 5);
    expect([r.plan.P, r.plan.m, r.plan.nt]).toEqual([6, 8, 1]);
    checkRun(r);
    // No word crosses a link of the seventh row, nor enters it.
    for (const c of r.run.phases) for (let core = 36; core < 42; core++) for (let d = 0; d < 4; d++) expect(c.linkWords[core * 4 + d]).toBe(0);
    for (let x = 0; x < 6; x++) expect(r.run.phases.reduce((a, c) => a + c.linkWords[(5 * 6 + x) * 4 + DIR.south], 0)).toBe(0);
  }, 900_000);

  it('stories260K on 8x8, 9 positions: logits and KV cache equal the CPU reference prefill within 1e-4; measured = modelled per link and phase', async () => {
    checkRun(await prefillOnWafer(stories, meshFromPreset('wse-3', 8, 8), 9));
  }, 900_000);
});

describe('the wafer prefill catches a fabric that breaks the rules', () => {
  it('a router reading another core’s SRAM (the fabric’s fault 4) is reported as a violation, and a dropped word breaks measured = modelled', async () => {
    const tiny: ModelConfig = { dim: 8, hiddenDim: 8, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 5, seqLen: 8, sharedClassifier: false };
    const model = randomModel(tiny, 2);
    const plan = compilePrefill(meshFromPreset('wse-3', 2, 3), tiny, 3);
    const tokens = randomPrompt(tiny, 3);
    const res = new GpuResources(await testGpu());
    try {
      const far = await runPrefillFabric(res, plan, model, tokens, { instrument: true, fault: 4 });
      expect(far.violation).not.toBeNull();
      const dropped = await runPrefillFabric(res, plan, model, tokens, { instrument: true, fault: 2 });
      const modelled = prefillModel(plan);
      expect(dropped.phases.some((m, i) => firstDifference(modelled[i], m) !== null)).toBe(true);
    } finally {
      res.dispose();
    }
  }, 900_000);
});

describe("the mesh engine with prefill: 'fabric-gemm'", () => {
  it('a GQA model on 4x3: the prompt prefilled on the fabric, its KV cache handed to the decode through the west edge, then greedy ids equal the CPU reference; every phase measured = modelled', async () => {
    const model = randomModel(gqa, 7);
    const promptIds = randomPrompt(gqa, 7);
    const opts = { promptIds, tokens: 4, temperature: 0, topP: 1, seed: 0 };
    const expected = await generate(new CpuEngine(model), opts);
    const m = (await createMachine('mesh', model, { gpu: testGpu, mesh: meshFromPreset('wse-3', 4, 3), meshPrefill: 'fabric-gemm' })) as MeshEngine;
    try {
      const got = await generate(m, { ...opts, prefill: true });
      expect(got.ids).toEqual(expected.ids);
      // The prompt was one pass (the prefill), then one per generated id after the first.
      expect(got.forwardPasses).toBe(1 + expected.ids.length - 1);
      const p = m.lastPrefill!;
      expect(p.phases.length).toBeGreaterThan(0);
      for (const ph of p.phases) expect(ph.firstDifference, ph.name).toBeNull();
      for (const ph of p.handoff.phases) expect(ph.firstDifference, ph.name).toBeNull();
    } finally {
      m.dispose();
    }
    // Without the option the engine has no prefill: the prompt goes token by token, as before.
    const plain = await createMachine('mesh', model, { gpu: testGpu, mesh: meshFromPreset('wse-3', 4, 3) });
    expect(plain.prefill).toBeUndefined();
    plain.dispose();
  }, 900_000);
});

describe("stories260K through the mesh engine with prefill: 'fabric-gemm'", () => {
  it('on 8x8, a 9-token prompt prefilled on the fabric, then 4 greedy ids equal the CPU reference', async () => {
    const opts = { promptIds: randomPrompt(stories.config, 9), tokens: 4, temperature: 0, topP: 1, seed: 0 };
    const expected = await generate(new CpuEngine(stories), opts);
    const m = (await createMachine('mesh', stories, { gpu: testGpu, mesh: meshFromPreset('wse-3', 8, 8), meshPrefill: 'fabric-gemm' })) as MeshEngine;
    try {
      const got = await generate(m, { ...opts, prefill: true });
      expect(got.ids).toEqual(expected.ids);
      for (const ph of [...m.lastPrefill!.phases, ...m.lastPrefill!.handoff.phases]) expect(ph.firstDifference, ph.name).toBeNull();
    } finally {
      m.dispose();
    }
  }, 900_000);
});

describe('the wafer prefill plan, costs by hand', () => {
  // 2x3 mesh: the 2x2 block (row 2 idles); dim 8 in 2 heads of 4 (one a core row: m = 4), 3 positions (nt = 2).
  const tiny: ModelConfig = { dim: 8, hiddenDim: 8, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 5, seqLen: 8, sharedClassifier: false };
  const plan = compilePrefill(meshFromPreset('wse-3', 2, 3), tiny, 3);
  const link = (y: number, x: number, d: keyof typeof DIR) => (y * 2 + x) * 4 + DIR[d];

  it('lays whole heads on a core row and pads the positions', () => {
    expect([plan.P, plan.m, plan.nt, plan.dimPad, plan.mh, plan.mv]).toEqual([2, 4, 2, 8, 4, 3]);
  });

  it('the RMSNorm allreduce: 2 sums of squares up each column to row 0 (the centre) and back down; 3 + 3 steps', () => {
    const c = plan.models[plan.normPhase.att];
    for (const x of [0, 1]) {
      expect(c.linkWords[link(1, x, 'north')]).toBe(2);
      expect(c.linkWords[link(0, x, 'south')]).toBe(2);
    }
    expect(c.linkWords.reduce((a, b) => a + b, 0)).toBe(8);
    expect(c.steps).toBe(6);
    // 2 words added at the centre and 2 delivered below it, per column.
    expect([c.rampWords, c.flops]).toEqual([8, 4]);
  });

  it('the KV gather: each core sends its K and V tiles (2 × 4 × 2 = 16 words) to the other core of its row; 17 steps', () => {
    const c = plan.models[plan.gatherPhase];
    for (const y of [0, 1]) {
      expect(c.linkWords[link(y, 0, 'east')]).toBe(16);
      expect(c.linkWords[link(y, 1, 'west')]).toBe(16);
    }
    expect(c.linkWords.reduce((a, b) => a + b, 0)).toBe(64);
    expect([c.steps, c.rampWords]).toEqual([17, 64]);
  });

  it('a Q product (8 x 8 by 8 x 3): B aligned only (column 1 up one place: 8 words each way), then one shift of A (16 words) and B (8 words)', () => {
    const q = plan.gemmPhase.q;
    const align = plan.models[q];
    expect(align.linkWords[link(1, 1, 'north')]).toBe(8);
    expect(align.linkWords[link(0, 1, 'south')]).toBe(8);
    expect(align.linkWords.reduce((a, b) => a + b, 0)).toBe(16);
    expect(align.steps).toBe(9);
    const shift = plan.models[q + 1];
    for (const y of [0, 1]) expect([shift.linkWords[link(y, 0, 'east')], shift.linkWords[link(y, 1, 'west')]]).toEqual([16, 16]);
    for (const x of [0, 1]) expect([shift.linkWords[link(0, x, 'south')], shift.linkWords[link(1, x, 'north')]]).toEqual([8, 8]);
    expect(shift.steps).toBe(17 + 9);
    // 8 products of 2 phases (alignment, one shift), 3 RMSNorms, the KV gather and the move to the west edge.
    expect(plan.phases).toHaveLength(8 * 2 + 3 + 1 + 1);
  });

  it('the KV cache to the west edge: column 1 sends its 1 layer × (K, V) × 4 × 2 = 16 words west on each row; 16 + 1 steps', () => {
    const c = plan.models[plan.edgePhase];
    expect(plan.kvWords).toBe(16);
    for (const y of [0, 1]) expect(c.linkWords[link(y, 1, 'west')]).toBe(16);
    expect(c.linkWords.reduce((a, b) => a + b, 0)).toBe(32);
    expect([c.steps, c.rampWords]).toEqual([17, 32]);
  });

  it('refuses a prompt longer than the context, and a prefill that does not fit a core, in one line', () => {
    expect(() => compilePrefill(meshFromPreset('wse-3', 2, 3), tiny, 9)).toThrow(/outside 1…8/);
    expect(() => compilePrefill(meshFromPreset('wse-3', 2, 2, 1024), stories.config, 8)).toThrow(/needs \d+ bytes per core/);
  });
});
