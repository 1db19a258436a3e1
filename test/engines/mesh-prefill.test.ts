import { afterAll, describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate } from '../../src/engines/generate.ts';
import { createMachine } from '../../src/engines/index.ts';
import { MeshEngine } from '../../src/engines/mesh.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { compileFabricDecode } from '../../src/mesh/programs/decode-fabric.ts';
import { runPrefillFabric } from '../../src/engines/mesh-prefill.ts';
import { GpuResources } from '../../src/gpu/resources.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { DEFAULT_ALLREDUCE, DIR } from '../../src/mesh/collectives.ts';
import { firstDifference } from '../../src/mesh/fabric.ts';
import { compileKvRelayout, compilePrefill, prefillModel } from '../../src/mesh/programs/prefill-fabric.ts';
import { compileKvHandoff } from '../../src/mesh/programs/handoff.ts';
import { ringOrder } from '../../src/mesh/ring.ts';
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
  checkTensor('keys', run.kv!.k, kv.k, { atol: 1e-4, rtol: 1e-4 });
  checkTensor('values', run.kv!.v, kv.v, { atol: 1e-4, rtol: 1e-4 });
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

/**
 * The engine's prefill in the decode mesh's own SRAM, then the KV cache to the decode's owners by
 * fabric phases only: greedy ids equal the CPU reference, the KV cache handed out afterwards equals
 * the reference prefill's, and every prefill, re-layout and hand-off phase is measured = modelled.
 * Instrumented (the small meshes): no access outside a core's SRAM or its neighbours' links, in the
 * prefill, the re-layout and the hand-off (a violation is refused with an error).
 */
async function engineRun(model: Model, mesh: MeshConfig, T: number, tokens: number, instrument: boolean) {
  const promptIds = randomPrompt(model.config, T);
  const opts = { promptIds, tokens, temperature: 0, topP: 1, seed: 0 };
  const expected = await generate(new CpuEngine(model), opts);
  const ref = new ReferenceTransformer(model);
  ref.prefill(promptIds);
  const kvRef = ref.kvCache(T);
  const m = (await createMachine('mesh', model, { gpu: testGpu, mesh, meshPrefill: 'fabric-gemm', instrument })) as MeshEngine;
  try {
    const got = await generate(m, { ...opts, prefill: true });
    expect(got.ids).toEqual(expected.ids);
    // The prompt was one pass (the prefill), then one per generated id after the first.
    expect(got.forwardPasses).toBe(1 + expected.ids.length - 1);
    const p = m.lastPrefill!;
    expect(p.phases.length).toBeGreaterThan(0);
    expect(p.relayout.length).toBe(p.handoff.phases.length);
    for (const ph of [...p.phases, ...p.relayout, ...p.handoff.phases]) expect(ph.firstDifference, ph.name).toBeNull();
    // Nothing entered at the edge from outside; the re-layout put every landed word in place once.
    expect(p.handoff.edgeWords).toBe(0);
    const landed = p.relayout.reduce((n, ph) => n + ph.measured.rampWords, 0);
    expect(landed).toBeGreaterThan(0);
    expect(landed).toBeLessThanOrEqual(p.relayoutWords);
    expect(p.handoff.phases.reduce((n, ph) => n + ph.measured.rampWords, 0)).toBeGreaterThan(0);
    // The decode owners' KV cache, handed out through the west edge, is the reference prefill's.
    const kv = await m.kvCache(T);
    checkTensor('keys', kv.k, kvRef.k, { atol: 1e-4, rtol: 1e-4 });
    checkTensor('values', kv.v, kvRef.v, { atol: 1e-4, rtol: 1e-4 });
    return p;
  } finally {
    m.dispose();
  }
}

/** 64 KiB cores: the decode's words and the prefill's side by side (48 KiB holds only one of them for these models). */
const SRAM64 = 64 * 1024;

describe("the mesh engine with prefill: 'fabric-gemm'", () => {
  it('a GQA model on 4x3: the prompt prefilled in the decode mesh’s SRAM, its KV cache re-laid along column 0 and handed to the decode owners by fabric phases only, then greedy ids equal the CPU reference; the KV cache equals the reference; every phase measured = modelled; no access off a core or its links', async () => {
    await engineRun(randomModel(gqa, 7), meshFromPreset('wse-3', 4, 3, SRAM64), 7, 3, true);
    // Without the option the engine has no prefill: the prompt goes token by token, as before.
    const plain = await createMachine('mesh', randomModel(gqa, 7), { gpu: testGpu, mesh: meshFromPreset('wse-3', 4, 3) });
    expect(plain.prefill).toBeUndefined();
    plain.dispose();
  }, 900_000);

  it('a non-square 6x7 mesh (the 6x6 block prefills, the seventh row only receives its KV positions): 8 positions, two hand-off slots', async () => {
    const p = await engineRun(randomModel(gqa, 8), meshFromPreset('wse-3', 6, 7, SRAM64), 8, 2, true);
    expect(p.relayout.length).toBe(2);
  }, 900_000);

  it('a second prompt of another length on the same engine (the weights loaded once, the scratch left by the first): greedy ids and KV cache equal the CPU reference again', async () => {
    const model = randomModel(gqa, 9);
    const m = (await createMachine('mesh', model, { gpu: testGpu, mesh: meshFromPreset('wse-3', 4, 3, SRAM64), meshPrefill: 'fabric-gemm' })) as MeshEngine;
    try {
      for (const T of [8, 4]) {
        const opts = { promptIds: randomPrompt(gqa, T), tokens: 3, temperature: 0, topP: 1, seed: 0 };
        const expected = await generate(new CpuEngine(model), opts);
        m.reset();
        expect((await generate(m, { ...opts, prefill: true })).ids).toEqual(expected.ids);
        const ref = new ReferenceTransformer(model);
        ref.prefill(opts.promptIds);
        const kv = await m.kvCache(T);
        checkTensor('keys', kv.k, ref.kvCache(T).k, { atol: 1e-4, rtol: 1e-4 });
        checkTensor('values', kv.v, ref.kvCache(T).v, { atol: 1e-4, rtol: 1e-4 });
        for (const ph of [...m.lastPrefill!.phases, ...m.lastPrefill!.relayout, ...m.lastPrefill!.handoff.phases]) expect(ph.firstDifference, ph.name).toBeNull();
      }
    } finally {
      m.dispose();
    }
  }, 900_000);

  it('refuses in one line, at load, a mesh whose cores cannot hold the prefill past the decode, and a mesh split into bands', async () => {
    await expect(createMachine('mesh', stories, { gpu: testGpu, mesh: meshFromPreset('wse-3', 8, 8), meshPrefill: 'fabric-gemm' })).rejects.toThrow(/prefill .* past the decode's \d+ on the 8x8 mesh .* use --sram \d+/);
    const decode = compileFabricDecode(compileProgram(gqa, meshFromPreset('wse-3', 4, 3, SRAM64), DEFAULT_ALLREDUCE));
    await expect(MeshEngine.create(await testGpu(), randomModel(gqa, 7), decode, { prefill: 'fabric-gemm', shards: 2 })).rejects.toThrow(/split into 2 bands/);
  }, 900_000);
});

describe("stories260K through the mesh engine with prefill: 'fabric-gemm'", () => {
  it('on 8x8 (64 KiB cores), a 9-token prompt prefilled on the fabric and re-laid on the wafer, then 4 greedy ids equal the CPU reference; KV cache equal; every phase measured = modelled', async () => {
    await engineRun(stories, meshFromPreset('wse-3', 8, 8, SRAM64), 9, 4, false);
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

describe('the KV re-layout from the prefill’s west edge to the hand-off’s landing zones, by hand', () => {
  // 2x3 mesh, one KV head (4 coordinates) of two query heads: head 0's rows are block row 0's, so
  // every KV word starts in core (0, 0)'s edge buffer; 3 positions, one per decode row (slot 0).
  const tiny: ModelConfig = { dim: 8, hiddenDim: 8, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 5, seqLen: 8, sharedClassifier: false };
  const mesh = meshFromPreset('wse-3', 2, 3);
  const program = compileProgram(tiny, mesh, DEFAULT_ALLREDUCE);
  const h = compileKvHandoff(program, 3);
  const base = Math.max(...program.placement.cores.map((c) => Math.max(c.totalWords, ...c.regions.map((r) => r.offset + r.words))));
  const plan = compilePrefill(mesh, tiny, 3, { base });
  const r = compileKvRelayout(plan, h);
  const link = (y: number, d: keyof typeof DIR) => y * 2 * 4 + DIR[d];

  it('lays the prefill past the decode’s words, the loaded part the same for every prompt length', () => {
    expect(plan.sram.id).toBe(base);
    expect(compilePrefill(mesh, tiny, 8, { base }).sram.loaded).toEqual(plan.sram.loaded);
    expect(plan.sram.input.offset).toBe(plan.sram.loaded.offset + plan.sram.loaded.words);
  });

  it('one re-layout phase before the one hand-off phase: row 0 keeps its 8 words (local copies), sends 8 to row 1 (1 hop) and 8 to row 2 (2 hops) in two rounds: 9 + 10 steps', () => {
    expect(r.relayout).toEqual([true, false]);
    expect(r.phases[1]).toBe(h.phases[0].phase);
    const c = r.models[0];
    expect([c.linkWords[link(0, 'south')], c.linkWords[link(1, 'south')]]).toEqual([16, 8]);
    expect(c.linkWords.reduce((a, b) => a + b, 0)).toBe(24);
    expect([c.steps, c.rampWords, r.words]).toEqual([19, 16, 24]);
    expect(r.phases[0].rounds).toHaveLength(2);
    expect(r.phases[0].rounds[0].locals).toHaveLength(8);
  });

  it('fills every landing word with the KV word the hand-off expects there (the rounds run word by word on the CPU)', () => {
    // SRAM holding, at each west-edge buffer word, a tag of the KV word the prefill left there.
    const W = mesh.width;
    const SRAM = mesh.sramBytes / 4;
    const sram = new Float64Array(W * mesh.height * SRAM).fill(-1);
    const { m, nt, kvWords, P } = plan;
    const order = ringOrder(P);
    const kvd = 4;
    for (let y = 0; y < P; y++) {
      for (let x = 0; x < P; x++) {
        for (let w = 0; w < kvWords; w++) {
          const l = Math.floor(w / (2 * m * nt));
          const kind = Math.floor((w % (2 * m * nt)) / (m * nt));
          const row = Math.floor((w % (m * nt)) / nt);
          const pos = order.indexOf(x) * nt + (w % nt);
          const d = order.indexOf(y) * m + row;
          const head = Math.floor(d / 4);
          if (head % 2 !== 0 || pos >= 3) continue; // query head 1 repeats KV head 0: its copy is not read
          sram[y * W * SRAM + plan.sram.edge + x * kvWords + w] = ((kind * 1 + l) * 3 + pos) * kvd + (head / 2) * 4 + (d % 4);
        }
      }
    }
    const addr = (core: number, a: { region: number; offset: number }) => core * SRAM + r.regionTable[core * r.regionCount + a.region] + a.offset;
    for (const round of r.phases[0].rounds) {
      for (const l of round.locals) sram[addr(l.core, l.dst)] = sram[addr(l.core, l.src)];
      for (const s of round.streams) for (const it of s.items) sram[addr(it.end * W, it.dst)] = sram[addr(it.origin * W, it.src)];
    }
    for (const l of h.phases[0].landings) expect(Array.from(sram.subarray(l.core * SRAM + l.offset, l.core * SRAM + l.offset + l.sources.length))).toEqual(Array.from(l.sources));
  });
});
