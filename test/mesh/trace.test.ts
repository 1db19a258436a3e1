import { describe, expect, it } from 'vitest';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { CYCLES_PER_STEP, DIR } from '../../src/mesh/collectives.ts';
import type { Phase, WaferProgram } from '../../src/mesh/program.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { tracePhase, traceToken } from '../../src/mesh/trace.ts';
import { loadStories260K } from '../helpers/models.ts';

/** A one-phase program on a w×h mesh (1 cycle per hop, 1 word per link-cycle). */
function single(w: number, h: number, phase: Phase): { program: WaferProgram; links: Float64Array } {
  const mesh = meshFromPreset('wse-3', w, h);
  const program = { mesh, phases: [phase], passes: [] } as unknown as WaferProgram;
  return { program, links: new Float64Array(w * h * 4) };
}

const S = CYCLES_PER_STEP;

describe('cost of collectives, hand-computed', () => {
  it('ring allreduce of 10 words over a row of 4: every link carries 10 each way; 6 steps', () => {
    const { program, links } = single(4, 1, { kind: 'transfer', name: 'x', layer: null, collective: 'row-allreduce', algorithm: 'ring', words: () => 10 });
    const t = tracePhase(program, 0, 0, 0, links);
    expect(t.linkWords).toBe(60);
    expect(t.steps).toBe(6);
    expect(t.cycles).toBe(6 * (1 + 10 + S));
    for (const c of [0, 1, 2]) expect(links[c * 4 + DIR.east]).toBe(10);
    for (const c of [1, 2, 3]) expect(links[c * 4 + DIR.west]).toBe(10);
  });

  it('tree allreduce of 10 words over a row of 4: two levels, 1 then 2 hops', () => {
    const { program, links } = single(4, 1, { kind: 'transfer', name: 'x', layer: null, collective: 'row-allreduce', algorithm: 'tree', words: () => 10 });
    const t = tracePhase(program, 0, 0, 0, links);
    expect(t.cycles).toBe(2 * (1 + 10 + S) + 2 * (2 + 10 + S));
    expect(t.steps).toBe(4);
    expect(t.maxHops).toBe(2);
    expect([links[0 * 4 + DIR.east], links[1 * 4 + DIR.east], links[2 * 4 + DIR.east]]).toEqual([20, 10, 10]);
    expect([links[1 * 4 + DIR.west], links[2 * 4 + DIR.west], links[3 * 4 + DIR.west]]).toEqual([20, 10, 10]);
    expect(t.linkWords).toBe(80);
  });

  it('column broadcast of 6 words from row 1 of 5: n·(h−1) link-words, 3 hops to the far end', () => {
    const { program, links } = single(1, 5, {
      kind: 'transfer', name: 'x', layer: null, collective: 'col-broadcast', algorithm: 'line', words: () => 6, sourceRow: () => 1,
    });
    const t = tracePhase(program, 0, 0, 0, links);
    expect(t.linkWords).toBe(6 * 4);
    expect(t.cycles).toBe(3 + 6 + S);
    expect(links[1 * 4 + DIR.north]).toBe(6);
    expect([1, 2, 3].map((r) => links[r * 4 + DIR.south])).toEqual([6, 6, 6]);
  });

  it('column gather shares links: the busiest link sets the serialisation', () => {
    const words = [2, 0, 3];
    const { program, links } = single(1, 3, { kind: 'transfer', name: 'x', layer: null, collective: 'col-gather', algorithm: 'line', words: (c) => words[c] });
    const t = tracePhase(program, 0, 0, 0, links);
    expect(t.linkWords).toBe(2 * 2 + 3 * 2);
    expect(t.maxLinkWords).toBe(3);
    expect(t.cycles).toBe(2 + 3 + S);
  });

  it('a compute phase costs its busiest core\'s FLOPs over FLOPs per cycle', () => {
    const { program, links } = single(2, 1, { kind: 'compute', name: 'x', layer: null, flops: (c) => (c === 0 ? 64 : 100) });
    const t = tracePhase(program, 0, 0, 0, links);
    expect(t.flops).toBe(164);
    expect(t.cycles).toBe(Math.ceil(100 / 32));
  });
});

describe('a token\'s trace', () => {
  const stories = loadStories260K().config;
  it('adds up its phases; tree beats ring on this short-vector workload; attention grows with position', () => {
    const tree = compileProgram(stories, meshFromPreset('wse-3', 8, 8), 'tree');
    const ring = compileProgram(stories, meshFromPreset('wse-3', 8, 8), 'ring');
    const t0 = traceToken(tree, 1, 0, true);
    expect(t0.cycles).toBe(t0.phases.reduce((a, p) => a + p.cycles, 0));
    expect(t0.transferCycles + t0.computeCycles).toBe(t0.cycles);
    expect(t0.perLink!.reduce((a, b) => a + b, 0)).toBeCloseTo(t0.linkWords, 6);
    expect(t0.passes).toBe(1 + 8 * stories.nLayers + 2);
    expect(traceToken(ring, 1, 0).cycles).toBeGreaterThan(t0.cycles);
    expect(traceToken(tree, 1, 300).cycles).toBeGreaterThan(t0.cycles);
    expect(traceToken(tree, 1, 300).flops).toBeGreaterThan(t0.flops);
  });
});

describe('the catalog and the code agree', () => {
  it('every allreduce the catalog offers is one the program, the trace and the shader implement, and no other', async () => {
    const { allreduceIds } = await import('../../src/catalog.ts');
    const { ALLREDUCE_ALGORITHMS } = await import('../../src/mesh/collectives.ts');
    expect([...allreduceIds()].sort()).toEqual([...ALLREDUCE_ALGORITHMS].sort());
  });
});
