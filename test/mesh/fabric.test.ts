import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FabricRuntime, planBands, type FabricOptions } from '../../src/engines/fabric-runtime.ts';
import { GpuResources } from '../../src/gpu/resources.ts';
import {
  chainReduceScatter,
  chainReduceScatterCost,
  chainReduceScatterModel,
  lineAllgather,
  lineAllgatherCost,
  lineAllgatherModel,
  lineAllreduce,
  lineAllreduceCycles,
  lineAllreduceModel,
  lineMulticast,
  lineMulticastCost,
  lineMulticastModel,
  linesModel as addRows,
  segmentCost,
  segmentRound,
  rootSegment,
  treeGroups,
  type LineElement,
  type Lines,
  type MulticastElement,
} from '../../src/mesh/collectives.ts';
import { checkColours, firstDifference, routeUse, type FabricPhase } from '../../src/mesh/fabric.ts';
import { meshPreset } from '../../src/mesh/config.ts';
import { Rng } from '../../src/model/rng.ts';
import { testGpu } from '../helpers/gpu.ts';

describe('line collectives on the fabric, hand-computed', () => {
  it('chain reduce-scatter of 4 elements homed 0…3 on a line of 4', () => {
    const c = chainReduceScatterCost(4, [0, 1, 2, 3]);
    // East link p carries the elements homed east of p: 3, 2, 1; west link p those homed west: 1, 2, 3.
    expect(c.east).toEqual([3, 2, 1, 0]);
    expect(c.west).toEqual([0, 1, 2, 3]);
    // East stream: elements 1, 2, 3 as items 0, 1, 2 reach homes 1, 2, 3 at steps 1, 3, 5; west
    // stream: elements 0, 1, 2 as items 0, 1, 2 reach homes at steps 3, 3, 3. Last step 5: 6 steps.
    expect(c.steps).toBe(6);
    // Each element: 3 hops, each into a ramp.
    expect(c.rampWords).toBe(12);
  });

  it('chain reduce-scatter of one word to the middle of 5: 2 hops from each end', () => {
    const c = chainReduceScatterCost(5, [2]);
    expect(c.east).toEqual([1, 1, 0, 0, 0]);
    expect(c.west).toEqual([0, 0, 0, 1, 1]);
    expect(c.steps).toBe(3);
    expect(c.rampWords).toBe(4);
  });

  it('K = 2 tree allreduce of one word over a line of 9: groups of 3 to their middles, roots to the middle root, and back', () => {
    expect(treeGroups(9).map((g) => g.centre)).toEqual([1, 4, 7]);
    expect(rootSegment(9)).toEqual({ lo: 1, hi: 7, centre: 4, ramps: [1, 4, 7] });
    const one: Lines = { axis: 'row', lines: [0], length: 9, width: 9 };
    const t = lineAllreduceModel(9, 1, one, 'ktree', 1);
    const east = (p: number) => t.linkWords[p * 4 + 0];
    const west = (p: number) => t.linkWords[p * 4 + 1];
    // Groups in (links 0, 3, 6 east; 2, 5, 8 west), roots in (1–3 east, 5–7 west), roots out
    // (4–6 east, 2–4 west), groups out (1, 4, 7 both ways).
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map(east)).toEqual([1, 2, 1, 2, 2, 1, 2, 1, 0]);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map(west)).toEqual([0, 1, 2, 1, 2, 2, 1, 2, 1]);
    // Steps: 2 (groups, one hop and the arrival), 4 (roots, three hops), 4, 2.
    expect(t.steps).toBe(12);
    // Ramps: 6 in the groups, 2 at the roots (only the middle root adds), 2 out to the roots, 6.
    expect(t.rampWords).toBe(16);
    expect(t.flops).toBe(8);
    // The chain to the centre takes fewer steps (every hop is a step here) but ramps at every core
    // on the way: 4 adds on the longest path against the tree's 2 — the tree's gain is in cycles.
    const c = lineAllreduceModel(9, 1, one, 'chain', 1);
    expect(c.steps).toBe(10);
    expect(c.rampWords).toBe(16);
    expect(c.linkWords.reduce((a, b) => a + b, 0)).toBe(16);
  });

  it('counts the colours and routes each router needs, within the preset', () => {
    const row: Lines = { axis: 'row', lines: [0], length: 9, width: 9 };
    const el = [{ src: a(0), dst: b(0) }];
    // Chain: in each round the centre carries both flows (2 colours at once); over the phase 4 routes.
    const chain = routeUse(9, 1, { name: 'chain', rounds: lineAllreduce(row, 'chain', el) });
    expect(Array.from(chain.coloursAtOnce)).toEqual([1, 1, 1, 1, 2, 1, 1, 1, 1]);
    expect(Array.from(chain.routes)).toEqual([2, 2, 2, 2, 4, 2, 2, 2, 2]);
    // K-tree: group roots carry both flows of their group, then the roots' segment passes through 2–6.
    const tree = routeUse(9, 1, { name: 'ktree', rounds: lineAllreduce(row, 'ktree', el) });
    expect(Array.from(tree.routes)).toEqual([2, 6, 4, 4, 8, 4, 4, 6, 2]);
    expect(tree.maxColoursAtOnce).toBe(2);
    const colours = meshPreset('wse-3').core.colours;
    expect(colours).toBe(24);
    expect(checkColours(9, 1, { name: 'ktree', rounds: lineAllreduce(row, 'ktree', el) }, colours).maxRoutes).toBe(8);
    expect(() => checkColours(9, 1, { name: 'ktree', rounds: lineAllreduce(row, 'ktree', el) }, 1)).toThrow(/too-many-colours: phase "ktree" needs 2 colours at once at core 1 but the fabric routes 1/);
  });

  it('in cycles the K-tree beats the chain on a long line: it trades adds in the cores (β) for hops (α)', () => {
    // A line of 9, one word, α = 1, β = 8: chain in: 4 hops and 4 adds each side (36); out: 4
    // hops and the far end's delivery (12). Tree: groups 1 hop + 1 add (9), roots 3 hops + 1 add
    // (11), roots out 3 + 8 (11), groups out 1 + 8 (9).
    expect(lineAllreduceCycles(9, 'chain', 1, 1, 8, 1)).toBe(36 + 12);
    expect(lineAllreduceCycles(9, 'ktree', 1, 1, 8, 1)).toBe(9 + 11 + 11 + 9);
    // A WSE-3 row of 762 cores: the tree adds 2·√N times on its longest path, the chain N/2 times
    // (1,030 against 3,818 cycles at α = 1, β = 8).
    const chain = lineAllreduceCycles(762, 'chain', 1, 1, 8, 1);
    const tree = lineAllreduceCycles(762, 'ktree', 1, 1, 8, 1);
    expect(chain).toBe(381 * 9 + 381 + 8);
    expect(tree).toBeLessThan(chain / 3);
    // With free adds (β = 0) the chain's straight path wins: the tree's gain is only in β.
    expect(lineAllreduceCycles(762, 'chain', 1, 1, 0, 1)).toBeLessThan(lineAllreduceCycles(762, 'ktree', 1, 1, 0, 1));
  });

  it('allgather of 2 words from position 1 and 1 word from position 3 on a line of 4', () => {
    const c = lineAllgatherCost(4, [1, 1, 3]);
    expect(c.east).toEqual([0, 2, 2, 0]);
    expect(c.west).toEqual([0, 3, 1, 1]);
    // East stream holds 2 items (origin 3 is the east end), west 3: the last west item reaches
    // position 0 at step 2 + 3 = 5.
    expect(c.steps).toBe(6);
    expect(c.rampWords).toBe(9);
  });

  it('multicast on a line of 6: from 2 over 0…5, from 4 over 4…5, from 1 over 0…1, and from 3 to itself', () => {
    const c = lineMulticastCost(6, [
      { at: 2, lo: 0, hi: 5 },
      { at: 4, lo: 4, hi: 5 },
      { at: 1, lo: 0, hi: 1 },
      { at: 3, lo: 3, hi: 3 },
    ]);
    // East link p carries what starts at or west of p and reaches past it; west link p the mirror.
    expect(c.east).toEqual([0, 0, 1, 1, 2, 0]);
    expect(c.west).toEqual([0, 2, 1, 0, 0, 0]);
    // East stream from position 2: items 2→5 and 4→5 both reach 3 hops from its first core; the
    // second reaches 5 at step 1 + 3 = 4. West stream from 2: items 2→0, 1→0 reach 2 hops; the
    // second at step 3. Last step 4: 5 steps.
    expect(c.steps).toBe(5);
    // Every hop ends in a delivery: 5 + 1 + 1.
    expect(c.rampWords).toBe(7);
    // Spans that share no core stream side by side: 1 → 3 (2 hops from its stream's first core) and
    // 6 → 7 (1 hop from 6) east, 1 → 0 and 6 → 4 west: 3 steps. One stream clocked from position 1
    // would take 7 (the item for 7 is 6 hops from it).
    expect(lineMulticastCost(8, [{ at: 1, lo: 0, hi: 3 }, { at: 6, lo: 4, hi: 7 }]).steps).toBe(3);
  });
});

// A 5 × 3 mesh of 64-word cores: region 0 at word 0 (inputs), region 1 at word 32 (results).
const W = 5;
const H = 3;
const SRAM = 64;
const regions = new Uint32Array(W * H * 2).map((_, i) => (i % 2 === 0 ? 0 : 32));
const rows: Lines = { axis: 'row', lines: [0, 1, 2], length: W, width: W };
const cols: Lines = { axis: 'col', lines: [0, 1, 2, 3, 4], length: H, width: W };
const a = (j: number) => ({ region: 0, offset: j });
const b = (j: number) => ({ region: 1, offset: j });
// Row r: element j (of 7) is homed at column (j + r) % W.
const rsElements = (r: number): LineElement[] => Array.from({ length: 7 }, (_, j) => ({ at: (j + r) % W, src: a(j), dst: b(j) }));
// Column c: element j (of 4) starts at row (j + c) % H.
const agElements = (c: number): LineElement[] => Array.from({ length: 4 }, (_, j) => ({ at: (j + c) % H, src: a(8 + j), dst: b(8 + j) }));
// Row r: one element starting at column 3 only: the stream's clock starts at column 0, so its word
// reaches column 4 after 1 + 4 steps, not 1 + (4 − 3).
const midElements = (): LineElement[] => [{ at: 3, src: a(12), dst: b(12) }];
const phases: FabricPhase[] = [
  { name: 'row reduce-scatter', rounds: [chainReduceScatter(rows, rsElements)] },
  { name: 'column allgather', rounds: [lineAllgather(cols, agElements)] },
  { name: 'row allgather from column 3', rounds: [lineAllgather(rows, midElements)] },
];
const models = [
  chainReduceScatterModel(W, H, rows, (r) => rsElements(r).map((e) => e.at)),
  lineAllgatherModel(W, H, cols, (c) => agElements(c).map((e) => e.at)),
  lineAllgatherModel(W, H, rows, () => [3]),
];

/** Runs phases on the 5×3 test mesh; `shards` > 1 splits its SRAM into that many buffers (bands of rows). */
async function runFabric(options: FabricOptions, run: FabricPhase[] = phases, shards = 1) {
  const res = new GpuResources(await testGpu());
  const rng = new Rng(7);
  const image = Float32Array.from({ length: W * H * SRAM }, () => rng.nextNormal());
  const bands = planBands(W, H, SRAM * 4, Number.MAX_SAFE_INTEGER, shards);
  const srams = bands.map((b, i) => res.storage(`test:sram ${i}`, image.subarray(b.core0 * SRAM, (b.core0 + b.cores) * SRAM)));
  try {
    const f = await FabricRuntime.create(res, srams, { width: W, height: H, sramWords: SRAM, regions, regionCount: 2, bands }, run, options);
    f.clearCounters();
    await f.run();
    const dispatches = f.takeDispatchCount();
    const whole = f.wholeMesh;
    const counts = await f.readCounters();
    const out = new Float32Array(W * H * SRAM);
    for (const [i, b] of bands.entries()) out.set(await res.readF32(srams[i]), b.core0 * SRAM);
    return { image, out, dispatches, whole, bands, ...counts };
  } finally {
    res.dispose();
  }
}

// Each distinct mesh, fault or mode compiles its own pipelines: slow on a busy software driver.
describe('the fabric on the GPU: words move only between neighbours, counted where they move', { timeout: 600_000 }, () => {
  afterAll(async () => (await testGpu()).destroy());

  it('reduce-scatters along rows and allgathers along columns: right sums, measured = modelled per link and phase, no violation', async () => {
    const { image, out, phases: measured, violation } = await runFabric({ instrument: true });
    expect(violation).toBeNull();
    const at = (core: number, word: number) => image[core * SRAM + word];
    for (let r = 0; r < H; r++) {
      for (const [j, e] of rsElements(r).entries()) {
        let sum = 0;
        for (let c = 0; c < W; c++) sum += at(r * W + c, j);
        expect(out[(r * W + e.at) * SRAM + 32 + j]).toBeCloseTo(sum, 5);
      }
    }
    for (let c = 0; c < W; c++) {
      for (const [j, e] of agElements(c).entries()) {
        for (let r = 0; r < H; r++) expect(out[(r * W + c) * SRAM + 32 + 8 + j], `column ${c} row ${r} element ${j}`).toBe(at(e.at * W + c, 8 + j));
      }
    }
    for (let c = 0; c < W; c++) for (let r = 0; r < H; r++) expect(out[(r * W + c) * SRAM + 32 + 12], `row ${r} column ${c}`).toBe(at(r * W + 3, 12));
    measured.forEach((m, i) => expect(firstDifference(models[i], m), phases[i].name).toBeNull());
    // No word ever waited for a link: the deepest queue, measured at every register write, is one word.
    for (const m of measured) expect(m.maxQueue).toBe(1);
    expect(measured[2].steps).toBe(5);
    expect(measured[0].flops).toBe(3 * 7 * (W - 1));
  });

  it('allreduces along rows and columns by the chain and the K = 2 tree: every core gets the sum, measured = modelled', async () => {
    const els = [0, 1, 2].map((j) => ({ src: a(16 + j), dst: b(16 + j) }));
    for (const algorithm of ['chain', 'ktree'] as const) {
      const ph: FabricPhase[] = [
        { name: `row ${algorithm}`, rounds: lineAllreduce(rows, algorithm, els) },
        { name: `column ${algorithm}`, rounds: lineAllreduce(cols, algorithm, [{ src: a(20), dst: b(20) }]) },
      ];
      const want = [lineAllreduceModel(W, H, rows, algorithm, 3), lineAllreduceModel(W, H, cols, algorithm, 1)];
      const { image, out, phases: measured, violation } = await runFabric({ instrument: true }, ph);
      expect(violation).toBeNull();
      measured.forEach((m, i) => expect(firstDifference(want[i], m), ph[i].name).toBeNull());
      for (let r = 0; r < H; r++) {
        for (let c = 0; c < W; c++) {
          for (const j of [0, 1, 2]) {
            let sum = 0;
            for (let cc = 0; cc < W; cc++) sum += image[(r * W + cc) * SRAM + 16 + j];
            expect(out[(r * W + c) * SRAM + 32 + 16 + j], `${algorithm} row ${r} core ${c} word ${j}`).toBeCloseTo(sum, 5);
          }
          let col = 0;
          for (let rr = 0; rr < H; rr++) col += image[(rr * W + c) * SRAM + 20];
          expect(out[(r * W + c) * SRAM + 32 + 20], `${algorithm} column ${c} row ${r}`).toBeCloseTo(col, 5);
        }
      }
    }
  });

  it('takes the maximum along rows (the K-tree), the KV-cache positions each row holds, and the token row\'s broadcast only', async () => {
    // Row maximum of word 24, in place of the sum.
    const max: FabricPhase = { name: 'row max', rounds: lineAllreduce(rows, 'ktree', [{ src: a(24), dst: b(24) }], 'max') };
    // Per-slot streams: row r holds positions r, r + 3, …; at position 4 rows 0 and 1 hold 2 of
    // them and row 2 holds 1; 2 items per slot, listed for 3 slots.
    const slots = [0, 1, 2, 3, 4, 5].map((j) => ({ src: a(25 + j), dst: b(25 + j) }));
    const kv = segmentRound(rows, 'reduce', [{ lo: 0, hi: W - 1, centre: 2 }], slots, true);
    const perSlot: FabricPhase = { name: 'per slot', rounds: [{ ...kv, streams: kv.streams.map((s) => ({ ...s, perSlot: 2 })) }] };
    // One broadcast round per possible token row; the runtime runs the token's.
    const bcast: FabricPhase = { name: 'token row', rounds: [0, 1, 2].map((r) => ({ ...segmentRound(cols, 'bcast', [{ lo: 0, hi: H - 1, centre: r }], [{ src: a(31), dst: b(31) }], true), tokenRow: r })) };
    const res = new GpuResources(await testGpu());
    const rng = new Rng(3);
    const image = Float32Array.from({ length: W * H * SRAM }, () => rng.nextNormal());
    const sram = res.storage('test:sram', image);
    try {
      const f = await FabricRuntime.create(res, sram, { width: W, height: H, sramWords: SRAM, regions, regionCount: 2 }, [max, perSlot, bcast], { instrument: true });
      f.clearCounters();
      f.setToken(7, 4, 1);
      await f.run();
      const { phases: measured, violation } = await f.readCounters();
      expect(violation).toBeNull();
      const out = await res.readF32(sram);
      const at = (img: Float32Array, core: number, word: number) => img[core * SRAM + word];
      for (let r = 0; r < H; r++) {
        let m = -Infinity;
        for (let c = 0; c < W; c++) m = Math.max(m, at(image, r * W + c, 24));
        for (let c = 0; c < W; c++) expect(at(out, r * W + c, 32 + 24)).toBe(m);
        // The centre (column 2) summed only the items of the slots this row holds.
        const used = r <= 4 ? Math.floor((4 - r) / 3) + 1 : 0;
        for (let j = 0; j < 6; j++) {
          let sum = 0;
          for (let c = 0; c < W; c++) sum += at(image, r * W + c, 25 + j);
          const got = at(out, r * W + 2, 32 + 25 + j);
          if (j < 2 * used) expect(got, `row ${r} item ${j}`).toBeCloseTo(sum, 5);
          else expect(got, `row ${r} item ${j} (a slot it does not hold yet): only the seed`).toBe(at(image, r * W + 2, 25 + j));
        }
        for (let c = 0; c < W; c++) expect(at(out, r * W + c, 32 + 31)).toBe(at(image, 1 * W + c, 31));
      }
      const model = [
        lineAllreduceModel(W, H, rows, 'ktree', 1),
        addRows(W, H, rows, (r) => segmentCost(W, 'reduce', [{ lo: 0, hi: W - 1, centre: 2 }], 2 * (r <= 4 ? Math.floor((4 - r) / 3) + 1 : 0)), true),
        addRows(W, H, cols, () => segmentCost(H, 'bcast', [{ lo: 0, hi: H - 1, centre: 1 }], 1), false),
      ];
      measured.forEach((m, i) => expect(firstDifference(model[i], m), ['max', 'per slot', 'token row'][i]).toBeNull());
    } finally {
      res.dispose();
    }
  });

  it('multicasts along rows over spans that differ per element and per row: every core of a span gets the word, no other; measured = modelled', async () => {
    // Row r: word 0 from column 2 over the whole row, word 1 from 3 over 3…4, word 2 from r over
    // 0…r (row 0: only a local copy), word 3 from 1 over 1…1 + r.
    const els = (r: number): MulticastElement[] => [
      { at: 2, lo: 0, hi: W - 1, src: a(0), dst: b(0) },
      { at: 3, lo: 3, hi: 4, src: a(1), dst: b(1) },
      { at: r, lo: 0, hi: r, src: a(2), dst: b(2) },
      { at: 1, lo: 1, hi: 1 + r, src: a(3), dst: b(3) },
    ];
    // And in two groups that share no core (side by side): word 4 from 0 over 0…1, word 5 from 4 over 2…4.
    const apart = (): MulticastElement[] => [
      { at: 0, lo: 0, hi: 1, src: a(4), dst: b(4) },
      { at: 4, lo: 2, hi: 4, src: a(5), dst: b(5) },
    ];
    const ph: FabricPhase[] = [
      { name: 'row multicast', rounds: [lineMulticast(rows, els)] },
      { name: 'row multicast, two groups', rounds: [lineMulticast(rows, apart)] },
    ];
    const { image, out, phases: measured, violation } = await runFabric({ instrument: true }, ph);
    expect(violation).toBeNull();
    expect(firstDifference(lineMulticastModel(W, H, rows, els), measured[0])).toBeNull();
    expect(firstDifference(lineMulticastModel(W, H, rows, apart), measured[1])).toBeNull();
    expect(measured[1].steps).toBe(3);
    for (let r = 0; r < H; r++) {
      for (const e of [...els(r), ...apart()]) {
        const j = e.src.offset;
        for (let c = 0; c < W; c++) {
          const got = out[(r * W + c) * SRAM + 32 + j];
          const want = c >= e.lo && c <= e.hi ? image[(r * W + e.at) * SRAM + j] : image[(r * W + c) * SRAM + 32 + j];
          expect(got, `row ${r} column ${c} word ${j}`).toBe(want);
        }
      }
    }
    // Per row: W − 1 deliveries of word 0, 1 of word 1, r each of words 2 and 3.
    expect(measured[0].rampWords).toBe(H * (W - 1) + H + 2 * (0 + 1 + 2));
  });

  it('catches a read two hops away, a dropped word and a word sent one hop too far', async () => {
    const far = await runFabric({ instrument: true, fault: 1 });
    expect(far.violation?.code).toBe('link');
    const dropped = await runFabric({ instrument: true, fault: 2 });
    expect(dropped.violation?.code).toBe('word');
    expect(dropped.phases.map((m, i) => firstDifference(models[i], m)).find((d) => d)).toMatch(/link \d+ \(core 1 (east|west)\): modelled \d+ words, measured \d+/);
    const foreign = await runFabric({ instrument: true, fault: 4 });
    expect(foreign.violation).toMatchObject({ code: 'sram', core: 1 });
    expect(foreign.violation!.address).toBeGreaterThanOrEqual(SRAM);
    const extra = await runFabric({ instrument: true, fault: 3 });
    expect(extra.violation).toBeNull();
    expect(extra.phases.map((m, i) => firstDifference(models[i], m)).find((d) => d)).toMatch(/modelled \d+ words, measured \d+/);
  });

  it('measures a link offered two words in one step as a queue two deep', async () => {
    const queue = await runFabric({ instrument: true, fault: 5 });
    // Core 1 (row 0, column 1) sends an item 0 in the row reduce-scatter and in the row allgather, none in the column allgather.
    expect(queue.phases.map((m) => m.maxQueue)).toEqual([2, 1, 2]);
  });

  it('splits the SRAM over 3 buffers (a band per row), or runs a workgroup per line: the same words and counts as one buffer and one workgroup; column rounds over bands a dispatch per step; faults still caught', async () => {
    const ph: FabricPhase[] = [...phases, { name: 'column ktree', rounds: lineAllreduce(cols, 'ktree', [{ src: a(20), dst: b(20) }]) }];
    const one = await runFabric({ instrument: true }, ph);
    const three = await runFabric({ instrument: true }, ph, 3);
    // A workgroup per line (as on meshes over 256 cores), not one for the whole mesh: the same too.
    const lines = await runFabric({ instrument: true, wholeMesh: 1 }, ph);
    expect(lines.violation).toBeNull();
    expect(lines.out).toEqual(one.out);
    lines.phases.forEach((m, i) => expect(firstDifference(one.phases[i], m), `per line: ${ph[i].name}`).toBeNull());
    expect([one.whole, lines.whole]).toEqual([true, false]);
    expect(three.bands.map((b) => [b.row0, b.rows])).toEqual([[0, 1], [1, 1], [2, 1]]);
    expect(three.violation).toBeNull();
    expect(three.out).toEqual(one.out);
    three.phases.forEach((m, i) => {
      expect(m.steps, ph[i].name).toBe(one.phases[i].steps);
      expect(firstDifference(one.phases[i], m), ph[i].name).toBeNull();
      expect(m.rampWords).toBe(one.phases[i].rampWords);
    });
    // One buffer: a dispatch per phase (one workgroup). Three: a row round per band, a column round
    // a dispatch per step per band.
    expect(one.dispatches).toBe(ph.length);
    expect(three.dispatches).toBeGreaterThan(3 * (one.phases[1].steps + one.phases[3].steps) - 1);
    const far = await runFabric({ instrument: true, fault: 1 }, phases, 3);
    expect(far.violation?.code).toBe('link');
    const dropped = await runFabric({ instrument: true, fault: 2 }, phases, 3);
    expect(dropped.violation?.code).toBe('word');
    const foreign = await runFabric({ instrument: true, fault: 4 }, phases, 3);
    expect(foreign.violation).toMatchObject({ code: 'sram', core: 1 });
  });

  it('bands rows so that no buffer is over the limit, and refuses a row that alone is', () => {
    expect(planBands(4, 10, 100, 4000).map((b) => b.rows)).toEqual([10]);
    expect(planBands(4, 10, 100, 1200).map((b) => b.rows)).toEqual([3, 3, 2, 2]);
    expect(planBands(4, 10, 100, 4000, 3).map((b) => [b.row0, b.rows, b.core0, b.cores])).toEqual([[0, 4, 0, 16], [4, 3, 16, 12], [7, 3, 28, 12]]);
    // Contiguous, covering every row, each within the limit.
    for (const [w, h, per, max, at] of [[7, 13, 48, 7 * 48 * 2, 1], [3, 5, 8, 1e9, 5], [5, 9, 10, 1e9, 4]]) {
      const bs = planBands(w, h, per, max, at);
      expect(bs.length).toBeGreaterThanOrEqual(Math.min(h, at));
      bs.forEach((b, i) => {
        expect(b.row0).toBe(i ? bs[i - 1].row0 + bs[i - 1].rows : 0);
        expect(b.core0).toBe(b.row0 * w);
        expect(b.cores * per).toBeLessThanOrEqual(max);
      });
      expect(bs.at(-1)!.row0 + bs.at(-1)!.rows).toBe(h);
    }
    expect(() => planBands(4, 10, 100, 399)).toThrow(/^mesh-too-large: one row of the 4-core-wide mesh needs 400 bytes in one GPU buffer but this adapter binds at most 399; use a narrower mesh or less SRAM per core$/);
  });

  it('names the raw buffers only inside its accessors', () => {
    const src = readFileSync(resolve(__dirname, '../../shaders/fabric.wgsl'), 'utf8');
    const bodies = new Map<string, string>();
    for (const m of src.matchAll(/\nfn (\w+)\([^)]*\)[^{]*\{([\s\S]*?)\n\}/g)) bodies.set(m[1], m[2]);
    expect(bodies.size).toBeGreaterThan(5);
    for (const [name, body] of bodies) {
      const allowed = { sram_ld: ['sram'], sram_st: ['sram'], link_wr: ['regs'], link_rd: ['regs'] }[name] ?? [];
      for (const raw of ['sram', 'regs']) {
        if (!allowed.includes(raw)) expect(body, `fn ${name} names ${raw}[…]`).not.toMatch(new RegExp(`\\b${raw}\\[`));
      }
    }
  });
});

describe('the fabric refuses buffers over a binding in one line', () => {
  it('names the buffer, its bytes and the limit, before making any', async () => {
    const ctx = await testGpu();
    const real = new GpuResources(ctx);
    const sram = real.storage('test:sram', W * H * SRAM * 4);
    try {
      // The same device, reporting a binding limit of 256 bytes.
      const small = { ...ctx.device.limits, maxStorageBufferBindingSize: 256, maxBufferSize: 256 };
      const device = new Proxy(ctx.device, { get: (d, k) => (k === 'limits' ? small : Reflect.get(d, k, d)) });
      const res = new GpuResources({ ...ctx, device } as typeof ctx);
      await expect(FabricRuntime.create(res, sram, { width: W, height: H, sramWords: SRAM, regions, regionCount: 2 }, phases)).rejects.toThrow(
        /^mesh-too-large: the fabric of the 5x3 mesh needs 1920 bytes for its link registers but this adapter binds at most 256; use a smaller mesh$/,
      );
      expect(res.liveBuffers).toBe(0);
    } finally {
      real.dispose();
    }
  });
});
