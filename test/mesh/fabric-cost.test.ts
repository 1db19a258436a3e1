import { afterAll, describe, expect, it } from 'vitest';
import { createMachine } from '../../src/engines/index.ts';
import type { MeshEngine } from '../../src/engines/mesh.ts';
import { chainReduceScatter, lineAllgather, lineAllreduce, lineAllreduceCycles, segmentRound, type Lines } from '../../src/mesh/collectives.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { phaseCycles, roundCycles, type FabricTiming } from '../../src/mesh/fabric.ts';
import { computeFlops, traceFabricToken } from '../../src/mesh/fabric-trace.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { compileFabricDecode } from '../../src/mesh/programs/decode-fabric.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';

const row = (N: number): Lines => ({ axis: 'row', lines: [0], length: N, width: N });
const el = (n: number) => Array.from({ length: n }, (_, i) => ({ src: { region: 0, offset: i }, dst: { region: 0, offset: i } }));
const T: FabricTiming = { hop: 1, ramp: 8, bw: 1 };

describe('the fabric cost model, hand-computed', () => {
  it('chain reduce-scatter of 4 elements homed 0…3 on a line of 4: the element homed at 3 is last', () => {
    const r = chainReduceScatter(row(4), () => [0, 1, 2, 3].map((at) => ({ at, ...el(1)[0] })));
    // East stream: homes 1, 2, 3 as items 0, 1, 2; item k homed h arrives at k + h·(α + β): 9, 19, 29.
    // West stream: homes 2, 1, 0 as items 0, 1, 2 (from position 3): 9, 19, 29 as well.
    expect(roundCycles(1, r, 0, T)).toEqual({ cycles: 29, serialisation: 2, hops: 3, ramps: 24 });
    expect(roundCycles(1, r, 0, { hop: 2, ramp: 0, bw: 2 }).cycles).toBe(1 + 6);
  });

  it('a broadcast pays one delivery, not a relay per hop: 3 words from the centre of 7 take 2 + 3α + β', () => {
    const r = segmentRound(row(7), 'bcast', [{ lo: 0, hi: 6, centre: 3 }], el(3));
    expect(roundCycles(1, r, 0, T)).toEqual({ cycles: 2 + 3 + 8, serialisation: 2, hops: 3, ramps: 8 });
    // An allgather: each element from its origin to both ends.
    const g = lineAllgather(row(4), () => [{ at: 1, ...el(1)[0] }]);
    expect(roundCycles(1, g, 0, T).cycles).toBe(2 + 8); // origin 1 to the east end 3, then delivered
  });

  it('chain and K-tree allreduces agree with the segment formula on lines of 4 to 30, for 1 and 5 words', () => {
    for (const N of [4, 9, 16, 30]) {
      for (const n of [1, 5]) {
        for (const a of ['chain', 'ktree'] as const) {
          const phase = { name: 'x', rounds: lineAllreduce(row(N), a, el(n)) };
          expect(phaseCycles(1, phase, 0, -1, T).cycles, `${a} N=${N} n=${n}`).toBe(lineAllreduceCycles(N, a, n, T.hop, T.ramp, T.bw));
        }
      }
    }
    // On 30 cores the K-tree's relays at the roots only beat the chain's relay at every core.
    const cycles = (a: 'chain' | 'ktree') => phaseCycles(1, { name: 'x', rounds: lineAllreduce(row(30), a, el(1)) }, 0, -1, T).cycles;
    expect(cycles('ktree')).toBeLessThan(cycles('chain'));
  });

  it('a KV-cache stream costs only the slots in use at the position decoded', () => {
    // Row 0 of a 2-row mesh holds positions 0, 2, 4, …: at position 4 three slots, 2 words each.
    const r = segmentRound(row(5), 'reduce', [{ lo: 0, hi: 4, centre: 0 }], el(10), false, 'sum', () => 2);
    expect(roundCycles(2, r, 4, T).cycles).toBe(5 + 4 * 9); // item 5 of the 6 in use, 4 hops and relays
    expect(roundCycles(2, r, 0, T).cycles).toBe(1 + 4 * 9);
  });
});

describe("a token's trace", () => {
  it('adds up its steps, its words per link add up to its link-words, and attention grows with the position', () => {
    const stories = loadStories260K().config;
    const d = compileFabricDecode(compileProgram(stories, meshFromPreset('wse-3', 8, 8), 'ktree'));
    const t0 = traceFabricToken(d, 1, 0, true);
    expect(t0.passes).toBe(d.steps.length);
    expect(t0.phases.map((p) => p.kind)).toEqual(d.steps.map((s) => (s.kind === 'compute' ? 'compute' : 'transfer')));
    expect(t0.cycles).toBe(t0.phases.reduce((a, p) => a + p.cycles, 0));
    expect(t0.transferCycles + t0.computeCycles).toBe(t0.cycles);
    expect(t0.linkWords).toBe(t0.phases.reduce((a, p) => a + p.linkWords, 0));
    expect(t0.perLink!.reduce((a, b) => a + b, 0)).toBe(t0.linkWords);
    for (const p of t0.phases) if (p.kind === 'compute') expect(p.linkWords, p.name).toBe(0);
    const late = traceFabricToken(d, 1, 300);
    expect(late.cycles).toBeGreaterThan(t0.cycles);
    expect(late.flops).toBeGreaterThan(t0.flops);
  });
});

const gqa: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };

describe('the fabric cost model against what the GPU did', () => {
  afterAll(async () => (await testGpu()).destroy());

  it('FLOPs each core did (counted by the instrumented compute) equal the model, at positions 0, 1 and the last; the trace charges the measured words', async () => {
    const model = randomModel(gqa, 5);
    const machine = (await createMachine('mesh', model, { gpu: testGpu, mesh: meshFromPreset('wse-3', 6, 7), allreduce: 'ktree', instrument: true })) as MeshEngine;
    try {
      const rt = machine.meshRuntime;
      const decode = rt.decode!;
      const flopsOf = computeFlops(decode);
      const last = gqa.seqLen - 1;
      for (let pos = 0; pos <= last; pos++) {
        const check = pos <= 1 || pos === last;
        if (check) await rt.clearCounters();
        const token = (pos * 7) % gqa.vocabSize;
        const r = check ? await machine.measure(token, pos) : { logits: await machine.forward(token, pos) };
        if (!check) continue;
        const { violations, flops } = await rt.readCounters();
        expect(violations, `pos ${pos}`).toBe(0);
        for (let c = 0; c < 42; c++) {
          const modelled = decode.steps.reduce((a, s) => a + (s.kind === 'compute' ? flopsOf(s.entry, c, pos) : 0), 0);
          expect(flops[c], `pos ${pos}: FLOPs of core ${c}`).toBe(modelled);
        }
        const trace = traceFabricToken(decode, token, pos, true);
        const measured = 'phases' in r ? r.phases.reduce((a, p) => a + p.measured.linkWords.reduce((x, y) => x + y, 0), 0) : 0;
        expect(trace.linkWords, `pos ${pos}`).toBe(measured);
        expect(trace.cycles).toBeGreaterThan(trace.computeCycles);
      }
    } finally {
      machine.dispose();
    }
  });
});
