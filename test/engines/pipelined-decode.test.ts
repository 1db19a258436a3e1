import { afterAll, describe, expect, it } from 'vitest';
import { createMachine } from '../../src/engines/index.ts';
import type { MeshEngine } from '../../src/engines/mesh.ts';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate } from '../../src/engines/generate.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { compileFabricDecode } from '../../src/mesh/programs/decode-fabric.ts';
import { handoffCost } from '../../src/mesh/regions.ts';
import { phaseCycles } from '../../src/mesh/fabric.ts';
import { BOS, type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import type { Model } from '../../src/model/weights.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';
import { raceReference } from '../helpers/race.ts';

const stories = loadStories260K();
const gqa: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 3, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 24, sharedClassifier: false };

afterAll(async () => (await testGpu()).destroy());

// Each machine compiles its kernels on first use (lavapipe: tens of seconds on a busy machine).
const SLOW = 900_000;

const pipelined = (model: Model, mesh: MeshConfig, G: number, allreduce = 'ktree') => compileProgram(model.config, mesh, allreduce, 4, { kind: 'pipelined', layersPerBlock: G });

async function machine(model: Model, mesh: MeshConfig, G: number, allreduce = 'ktree', instrument = false): Promise<MeshEngine> {
  return (await createMachine('mesh', model, { gpu: testGpu, program: pipelined(model, mesh, G, allreduce), instrument })) as MeshEngine;
}

describe('the layer-pipelined placement on the mesh engine', () => {
  it('lays stories260K out as blocks in snake order, each block a mesh of its own', () => {
    const p = pipelined(stories, meshFromPreset('wse-3', 8, 8), 1).pipeline!;
    // 5 blocks of one layer: a 2 × 3 grid of 4x2 blocks (the least thin), down the first column and up the second.
    expect([p.width, p.height, p.across, p.down]).toEqual([4, 2, 2, 3]);
    expect(p.blocks.map((b) => [b.x, b.y, b.layerFirst, b.layerCount, b.role])).toEqual([
      [0, 0, 0, 1, 1],
      [0, 2, 1, 1, 0],
      [0, 4, 2, 1, 0],
      [4, 4, 3, 1, 0],
      [4, 2, 4, 1, 2],
    ]);
    const d = compileFabricDecode(pipelined(stories, meshFromPreset('wse-3', 8, 8), 1));
    const hand = d.phases.filter((x) => x.name.startsWith('hand-off'));
    expect(hand).toHaveLength(4);
    // The hand-offs' traced cycles equal the placement search's closed form, one direction each.
    const region = pipelined(stories, meshFromPreset('wse-3', 8, 8), 1).pipeline!.blocks[0].program.mesh;
    const t = { hop: region.cyclesPerHop, ramp: region.cyclesPerRamp, bw: region.wordsPerLinkCycle };
    const kinds = ['vertical', 'vertical', 'horizontal', 'vertical'] as const;
    hand.forEach((x, i) => expect(phaseCycles(8, x, 0, 0, t).cycles, x.name).toBe(handoffCost(stories.config, region, kinds[i]).cycles));
  }, SLOW);

  it('stories260K: the logits and greedy ids equal the CPU reference, 1 layer a block on 8x8 and 2 a block (4x4 blocks)', async () => {
    for (const G of [1, 2]) {
      const m = await machine(stories, meshFromPreset('wse-3', 8, 8), G, G === 1 ? 'ktree' : 'chain');
      try {
        const r = await raceReference(m, stories, 12);
        expect(r.ids, `G=${G}`).toEqual(r.cpuIds);
        expect(r.maxDiff, `G=${G}`).toBeLessThan(1e-3);
      } finally {
        m.dispose();
      }
    }
    // Greedy on the wafer: only the id leaves, and it returns to the first block for the next token.
    const opts = { promptIds: [BOS, 40, 57], tokens: 16, temperature: 0, topP: 1, seed: 0 };
    const m = await machine(stories, meshFromPreset('wse-3', 8, 8), 1);
    try {
      expect(m.greedy).toBeDefined();
      m.forward = () => Promise.reject(new Error('the logits were read back'));
      expect((await generate(m, opts)).ids).toEqual((await generate(new CpuEngine(stories), opts)).ids);
    } finally {
      m.dispose();
    }
  }, SLOW);

  it('a random GQA model with a separate classifier: ids equal the reference, beside (3x7 blocks) and below (6x3) one another, and greedy on the wafer', async () => {
    const model = randomModel(gqa, 7);
    for (const [w, h, G, a] of [[6, 7, 2, 'chain'], [6, 9, 1, 'ring'], [4, 3, 1, 'ktree']] as const) {
      const m = await machine(model, meshFromPreset('wse-3', w, h), G, a);
      try {
        const r = await raceReference(m, model, Math.min(16, m.context - 1));
        expect(r.ids, `${w}x${h} G=${G}`).toEqual(r.cpuIds);
        expect(r.maxDiff, `${w}x${h} G=${G}`).toBeLessThan(1e-3);
      } finally {
        m.dispose();
      }
    }
    const opts = { promptIds: [BOS, 5, 9], tokens: 12, temperature: 0, topP: 1, seed: 0 };
    const m = await machine(model, meshFromPreset('wse-3', 6, 9), 1);
    try {
      expect((await generate(m, opts)).ids).toEqual((await generate(new CpuEngine(model), opts)).ids);
    } finally {
      m.dispose();
    }
  }, SLOW);

  it('measured = modelled per link and phase, hand-offs and the id return included, with no access outside a core or its neighbours', async () => {
    const model = randomModel(gqa, 4);
    for (const [mdl, w, h, G] of [[stories, 8, 8, 1], [model, 6, 9, 1], [model, 6, 7, 2]] as const) {
      const m = await machine(mdl, meshFromPreset('wse-3', w, h), G, 'ktree', true);
      try {
        const last = Math.min(m.context - 1, 9);
        let token = BOS;
        for (let pos = 0; pos <= last; pos++) {
          if (pos === 0 || pos === 1 || pos === last) {
            await m.meshRuntime.clearCounters();
            const { phases, violation } = await m.measure(token, pos);
            expect(violation, `${w}x${h} pos ${pos}`).toBeNull();
            for (const p of phases) expect(p.firstDifference, `${w}x${h} G=${G} pos ${pos}: ${p.name}`).toBeNull();
            for (const p of phases) expect(p.measured.maxQueue ?? 0, `${w}x${h} pos ${pos}: ${p.name}`).toBeLessThanOrEqual(1);
            const named = (s: string) => phases.filter((p) => p.name.includes(s));
            const blocks = m.wafer.pipeline!.blocks.length;
            expect(named('hand-off'), `${w}x${h}`).toHaveLength(blocks - 1);
            expect(named('the id back to the first block'), `${w}x${h}`).toHaveLength(blocks > 1 ? 1 : 0);
            // Every hand-off and the id return moved words, and what moved is what was modelled.
            for (const p of [...named('hand-off'), ...named('the id back')]) expect(p.measured.linkWords.reduce((a, b) => a + b, 0), p.name).toBeGreaterThan(0);
            // The compute passes ran on the active block only: no core outside every block did any work.
            const { violations, flops } = await m.meshRuntime.readCounters();
            expect(violations).toBe(0);
            const used = new Set<number>();
            for (const b of m.wafer.pipeline!.blocks) for (let r = 0; r < m.wafer.pipeline!.height; r++) for (let c = 0; c < m.wafer.pipeline!.width; c++) used.add((b.y + r) * w + b.x + c);
            flops.forEach((f, core) => {
              if (!used.has(core)) expect(f, `core ${core} is outside every block`).toBe(0);
            });
            // Each core's FLOPs are what the trace charges it: its block's passes only.
            const d = m.decode;
            const want = Array.from({ length: w * h }, (_, core) => d.steps.reduce((a, s) => a + (s.kind === 'compute' ? d.coreFlops!(s.entry, s.layer, core, pos) : 0), 0));
            expect(Array.from(flops), `${w}x${h} pos ${pos}`).toEqual(want);
          } else {
            await m.forward(token, pos);
          }
          token = (token * 7 + pos + 3) % mdl.config.vocabSize;
        }
      } finally {
        m.dispose();
      }
    }
  }, SLOW);

  it('stories260K on 8x40: five 8x8 blocks on a mesh of more than 256 cores (the fabric runs a workgroup per line), ids equal the reference, measured = modelled', async () => {
    const m = await machine(stories, meshFromPreset('wse-3', 8, 40), 1, 'ktree', true);
    try {
      const p = m.wafer.pipeline!;
      expect([p.width, p.height, p.across, p.down]).toEqual([8, 8, 1, 5]);
      for (const pos of [0, 1]) {
        const { phases, violation } = await m.measure(BOS, pos);
        expect(violation).toBeNull();
        for (const ph of phases) expect(ph.firstDifference, `pos ${pos}: ${ph.name}`).toBeNull();
      }
      m.reset();
      const r = await raceReference(m, stories, 6);
      expect(r.ids).toEqual(r.cpuIds);
    } finally {
      m.dispose();
    }
  }, SLOW);

  it('refuses in one line what it cannot run: more blocks than the mesh holds, a block that does not fit, and a KV hand-off', async () => {
    expect(() => pipelined(stories, meshFromPreset('wse-3', 2, 2), 1)).toThrow(/^bad-option: --placement pipelined:1 needs 5 blocks but the 2x2 mesh/);
    expect(() => pipelined(stories, meshFromPreset('wse-3', 2, 2, 4096), 5)).toThrow(/^does-not-fit: --placement pipelined:5: block 0 .* use a larger G, a larger mesh or --placement whole$/);
    const m = await machine(stories, meshFromPreset('wse-3', 8, 8), 2);
    try {
      await expect(m.kvCache(1)).rejects.toThrow(/unsupported-placement: .*use --placement whole/);
    } finally {
      m.dispose();
    }
  });
});
