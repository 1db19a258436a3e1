import { afterAll, describe, expect, it } from 'vitest';
import { FabricRuntime } from '../../src/engines/fabric-runtime.ts';
import { GpuResources } from '../../src/gpu/resources.ts';
import type { Lines } from '../../src/mesh/collectives.ts';
import { checkRound, firstDifference, phaseCycles, routeUse, type FabricPhase } from '../../src/mesh/fabric.ts';
import { ringAllreduce, ringAllreduceModel, ringOrder, ringStepCost } from '../../src/mesh/ring.ts';
import { Rng } from '../../src/model/rng.ts';
import { testGpu } from '../helpers/gpu.ts';

describe('the folded ring, hand-computed', () => {
  it('orders a line of 6 as 0 2 4 5 3 1 and of 5 as 0 2 4 3 1: logical neighbours at most two hops apart', () => {
    expect(ringOrder(6)).toEqual([0, 2, 4, 5, 3, 1]);
    expect(ringOrder(5)).toEqual([0, 2, 4, 3, 1]);
    for (const N of [2, 3, 7, 10]) {
      const o = ringOrder(N);
      expect([...o].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
      o.forEach((p, j) => expect(Math.abs(o[(j + 1) % N] - p)).toBeLessThanOrEqual(2));
    }
  });

  it('a reduce-scatter step of 4 words on a line of 4 (ring 0 2 3 1): one word per ring link, 2 hops for 0→2 and 3→1', () => {
    const c = ringStepCost(4, 4, 0, false);
    // East: 0→2 crosses links 0 and 1, 2→3 link 2; west: 3→1 crosses links 3 and 2 (leaving 3 and 2 westward), 1→0 link 1.
    expect(c.east).toEqual([1, 1, 1, 0]);
    expect(c.west).toEqual([0, 1, 1, 1]);
    expect(c.steps).toBe(1 + 2);
    expect(c.rampWords).toBe(4);
  });

  it('an allreduce of n words on a line of N: 2(N − 1) rounds, each link carrying about 2(N − 1)/N · n words each way; the chain moves fewer', () => {
    const l: Lines = { axis: 'row', lines: [0], length: 6, width: 6 };
    const m = ringAllreduceModel(6, 1, l, 12);
    // Each ring step moves one 2-word chunk over each ring link; every physical link lies under
    // exactly one ring link each way, so each carries 2 words a step over 10 steps.
    for (let p = 0; p < 5; p++) expect(m.linkWords[p * 4 + 0], `east ${p}`).toBe(20);
    for (let p = 1; p < 6; p++) expect(m.linkWords[p * 4 + 1], `west ${p}`).toBe(20);
    expect(m.steps).toBe(10 * (2 + 2));
    expect(m.flops).toBe(5 * 12); // 5 reduce-scatter steps, each word of each chunk added once
    expect(m.rampWords).toBe(10 * 12);
  });

  it('streams flowing the same way meet only where one ends and the next begins, with at most 3 colours a core', () => {
    const l: Lines = { axis: 'row', lines: [0], length: 7, width: 7 };
    const el = Array.from({ length: 14 }, (_, i) => ({ src: { region: 0, offset: i }, dst: { region: 0, offset: i } }));
    const rounds = ringAllreduce(l, el);
    expect(rounds).toHaveLength(12);
    for (const r of rounds) checkRound(7, 1, r);
    expect(routeUse(7, 1, { name: 'ring', rounds }).maxColoursAtOnce).toBe(3);
    // Its cycles: every round's slowest word is a 2-word chunk on a 2-hop ring link, relayed once.
    expect(phaseCycles(1, { name: 'ring', rounds }, 0, -1, { hop: 1, ramp: 8, bw: 1 }).cycles).toBe(12 * (1 + 2 + 8));
  });
});

// A 6 × 5 mesh of 64-word cores: region 0 at word 0 (inputs), region 1 at word 32 (results).
const W = 6;
const H = 5;
const SRAM = 64;

describe('the folded ring on the GPU', () => {
  afterAll(async () => (await testGpu()).destroy());

  it('allreduces along rows (6) and columns (5), sum and maximum: every core gets the result, measured = modelled, no access outside a core or its neighbours', async () => {
    const res = new GpuResources(await testGpu());
    try {
      const rows: Lines = { axis: 'row', lines: [0, 1, 2, 3, 4], length: W, width: W };
      const cols: Lines = { axis: 'col', lines: [0, 1, 2, 3, 4, 5], length: H, width: W };
      const at = (region: number, offset: number) => ({ region, offset });
      const rowEls = Array.from({ length: 9 }, (_, j) => ({ src: at(0, j), dst: at(1, j) }));
      const colEls = Array.from({ length: 3 }, (_, j) => ({ src: at(0, 10 + j), dst: at(1, 10 + j) }));
      const maxEls = [{ src: at(0, 14), dst: at(1, 14) }];
      const phases: FabricPhase[] = [
        { name: 'row ring', rounds: ringAllreduce(rows, rowEls) },
        { name: 'column ring', rounds: ringAllreduce(cols, colEls) },
        { name: 'column ring maximum', rounds: ringAllreduce(cols, maxEls, 'max') },
      ];
      const models = [ringAllreduceModel(W, H, rows, 9), ringAllreduceModel(W, H, cols, 3), ringAllreduceModel(W, H, cols, 1)];
      const rng = new Rng(5);
      const image = Float32Array.from({ length: W * H * SRAM }, () => rng.nextNormal());
      const sram = res.storage('test:sram', image);
      const regions = new Uint32Array(W * H * 2).map((_, i) => (i % 2 === 0 ? 0 : 32));
      const f = await FabricRuntime.create(res, sram, { width: W, height: H, sramWords: SRAM, regions, regionCount: 2 }, phases, { instrument: true });
      f.clearCounters();
      await f.run();
      const { phases: measured, violation } = await f.readCounters();
      expect(violation).toBeNull();
      measured.forEach((m, i) => expect(firstDifference(models[i], m), phases[i].name).toBeNull());
      const out = await res.readF32(sram);
      const word = (core: number, w: number) => image[core * SRAM + w];
      for (let r = 0; r < H; r++) {
        for (let c = 0; c < W; c++) {
          for (let j = 0; j < 9; j++) {
            let sum = 0;
            for (let cc = 0; cc < W; cc++) sum += word(r * W + cc, j);
            expect(out[(r * W + c) * SRAM + 32 + j], `row ${r} core ${c} word ${j}`).toBeCloseTo(sum, 5);
          }
          for (let j = 0; j < 3; j++) {
            let sum = 0;
            for (let rr = 0; rr < H; rr++) sum += word(rr * W + c, 10 + j);
            expect(out[(r * W + c) * SRAM + 32 + 10 + j], `column ${c} row ${r} word ${j}`).toBeCloseTo(sum, 5);
          }
          let max = -Infinity;
          for (let rr = 0; rr < H; rr++) max = Math.max(max, word(rr * W + c, 14));
          expect(out[(r * W + c) * SRAM + 32 + 14], `column ${c} row ${r} maximum`).toBe(max);
        }
      }
    } finally {
      res.dispose();
    }
  });
});
