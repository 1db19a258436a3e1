import { describe, expect, it } from 'vitest';
import { ENERGY, gpuPreset, type GpuHardware } from '../../src/cost/hardware.ts';
import { gpuTokenCost, meshTokenCost } from '../../src/cost/model.ts';
import { CATALOG, hardwarePreset, modelEntry } from '../../src/catalog.ts';
import { predict } from '../../src/cost/predict.ts';

/** A real model's published shape, from the catalog. */
const shape = (id: string) => modelEntry(id)!.config!;
import { baselineBytes } from '../../src/baseline/program.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { compileProgram } from '../../src/mesh/programs/decode.ts';
import { traceFabricToken } from '../../src/mesh/fabric-trace.ts';
import { compileFabricDecode } from '../../src/mesh/programs/decode-fabric.ts';
import { fabricTokenCycles } from '../../src/mesh/fabric-closed.ts';
import { kvDim, parameterCount, type ModelConfig } from '../../src/model/config.ts';
import { loadStories260K } from '../helpers/models.ts';

const stories = loadStories260K().config;

describe('cost model', () => {
  it('baseline bytes per token = weight bytes + KV bytes read at that position (hand-computed)', () => {
    const c: ModelConfig = { dim: 8, hiddenDim: 16, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 10, seqLen: 32, sharedClassifier: true };
    // Per layer: wq 64 + wk 32 + wv 32 + wo 64 + w1 128 + w3 128 + w2 128 + 2 norms of 8 = 592
    // values; ×2 layers = 1184; + final norm 8 + classifier 80 + the embedding row 8 = 1280.
    expect(baselineBytes(c, 0)).toEqual({ weights: 1280 * 4, kv: 2 * 2 * 1 * 4 * 4 });
    // At position 9: K and V of 10 positions, kvDim 4, 2 layers.
    expect(baselineBytes(c, 9).kv).toBe(2 * 2 * 10 * kvDim(c) * 4);
    expect(baselineBytes(c, 9, 2).weights).toBe(1280 * 2);
    // Shared classifier: the whole table is read by the classifier, plus the row the embedding copies.
    expect(baselineBytes(stories, 0).weights).toBe((parameterCount(stories) + stories.dim) * 4);
  });

  it('a memory-bound GPU token costs bytes ÷ bandwidth plus one CUDA graph replay and one graph node per kernel', () => {
    const h = gpuPreset('h100');
    const c = shape('llama-3.1-8b');
    const cost = gpuTokenCost(c, 0, h, 'fp16');
    const b = baselineBytes(c, 0, 2);
    expect(cost.time['compute']).toBe(0);
    expect(cost.time['HBM: weights'] + cost.time['HBM: KV cache']).toBeCloseTo((b.weights + b.kv) / h.hbmBytesPerS, 12);
    expect(cost.time['kernel launches']).toBeCloseTo(h.graphLaunchSeconds + (5 * c.nLayers + 1) * h.launchSeconds, 12);
    expect(h.graphLaunchSeconds).toBeGreaterThan(0);
    // The toy GPU launches its WebGPU kernels one by one: no graph, an eager launch each.
    const toy = gpuPreset('toy-gpu');
    expect(toy.graphLaunchSeconds).toBe(0);
    expect(gpuTokenCost(c, 0, toy, 'fp16').time['kernel launches']).toBeCloseTo((5 * c.nLayers + 1) * toy.launchSeconds, 12);
    expect(cost.bound).toBe('HBM: weights');
    expect(cost.joules).toBeCloseTo((b.weights + b.kv) * ENERGY.pjPerHbmByte * 1e-12 + cost.energy['FLOPs'], 9);
  });

  it('a GPU streams weights and KV at the sustained bandwidth measured on it where the preset has one, at the datasheet peak where it has none', () => {
    const c = shape('llama-3.1-8b');
    const hbm = (hw: GpuHardware) => {
      const t = gpuTokenCost(c, 1023, hw, 'fp16').time;
      return t['HBM: weights'] + t['HBM: KV cache'];
    };
    const measured = gpuPreset('h100');
    expect(measured.hbmBandwidth.kind).toBe('sustained');
    // The same preset with its measured figure taken out of the catalog streams at the datasheet's 3.35 TB/s.
    const h100 = hardwarePreset('h100', 'gpu');
    const { sustainedHbmBytesPerS: _, ...peakOnly } = h100.figures;
    const catalog = { ...CATALOG, hardware: CATALOG.hardware.map((h) => (h.id === 'h100' ? { ...h100, figures: peakOnly } : h)) };
    const peak = gpuPreset('h100', catalog);
    expect(peak.hbmBandwidth.kind).toBe('peak');
    expect(peak.hbmBytesPerS).toBe(3.35e12);
    expect(hbm(measured) / hbm(peak)).toBeCloseTo(3.35 / 3.18, 12);
  });

  it("the mesh's time is its fabric trace's cycles at the clock, split the same way: compute, hops, serialisation and ramp relays (β, assumed in the preset)", () => {
    const mesh = meshFromPreset('wse-3', 8, 8);
    const program = compileProgram(stories, mesh, 'ktree');
    const t = traceFabricToken(compileFabricDecode(program, 'ktree'), 1, 50);
    const cost = meshTokenCost(t, mesh, stories);
    expect(cost.seconds).toBeCloseTo(t.cycles / mesh.clockHz, 15);
    expect(cost.time['compute']).toBeCloseTo(t.breakdown.compute / mesh.clockHz, 15);
    expect(cost.time['fabric: hop latency']).toBeCloseTo(t.breakdown.hops / mesh.clockHz, 15);
    expect(cost.time['fabric: link serialisation']).toBeCloseTo(t.breakdown.serialisation / mesh.clockHz, 15);
    expect(cost.time['fabric: ramp relays']).toBeCloseTo(t.breakdown.ramps / mesh.clockHz, 15);
    expect(Object.keys(cost.time).sort()).toEqual(['compute', 'fabric: hop latency', 'fabric: link serialisation', 'fabric: ramp relays']);
    expect(cost.energy['fabric']).toBeCloseTo(t.linkWords * ENERGY.pjPerWordHop * 1e-12, 15);
    expect(t.breakdown.compute + t.breakdown.hops + t.breakdown.serialisation + t.breakdown.ramps).toBeCloseTo(t.cycles, 6);
    // β is a figure of the preset, marked as our assumption.
    expect(hardwarePreset('wse-3', 'wafer').figures.cyclesPerRamp.assumed).toBe(true);
    const slower = traceFabricToken(compileFabricDecode(compileProgram(stories, { ...mesh, cyclesPerRamp: 16 }, 'ktree')), 1, 50);
    expect(slower.cycles).toBeGreaterThan(t.cycles + t.breakdown.ramps * 0.9);
  });
});

describe('predict', () => {
  it('prints its assumptions and a bound for llama-3.1-8b on both machines', () => {
    const g = predict('llama-3.1-8b', shape('llama-3.1-8b'), 'h100', { precision: 'fp16' });
    expect(g.bound).toBe('HBM: weights');
    expect(g.assumptions.join('\n')).toMatch(/3\.35 TB\/s/);
    expect(g.tokens_per_s).toBeGreaterThan(50);
    // Never faster than streaming the weights a token reads once (every matrix, the classifier and one embedding row).
    expect(g.tokens_per_s).toBeLessThan(3.35e12 / baselineBytes(shape('llama-3.1-8b'), 0, 2).weights);
    const w = predict('llama-3.1-8b', shape('llama-3.1-8b'), 'wse-3', { precision: 'fp16' });
    expect(w.assumptions.join('\n')).toMatch(/762 x 1172 cores/);
    expect(w.bound).toMatch(/^fabric/);
    expect(w.tokens_per_s).toBeGreaterThan(g.tokens_per_s);
    expect(w.ms_per_token).toBeCloseTo(1000 / w.tokens_per_s, 2);
  });

  it('refuses what does not fit and says how many chips would do', () => {
    expect(() => predict('llama-3.1-70b', shape('llama-3.1-70b'), 'h100', { precision: 'fp16' })).toThrow(/does-not-fit: .* use --chips 2 or more/);
    expect(() => predict('llama-3.1-70b', shape('llama-3.1-70b'), 'wse-3', { precision: 'fp16' })).toThrow(/does-not-fit: .*use --chips \d+/);
    expect(() => predict('llama-3.1-8b', shape('llama-3.1-8b'), 'wse-3', { chips: 200 })).toThrow(/--chips 200 is more wafers than llama-3\.1-8b has layers \(32\)/);
  });

  it('on the wafer, the time is the fabric cost model in closed form at the preset (compute, hops, serialisation, ramp relays), plus a hand-off per extra wafer; no collective-step constant', () => {
    const model = shape('llama-3.1-70b');
    const p = predict('llama-3.1-70b', model, 'wse-3', { precision: 'fp16', chips: 4, context: 8192, allreduce: 'ktree', placement: { kind: 'whole' } });
    const w = meshFromPreset('wse-3', 762, 1172);
    // fp16 runs at twice the preset's f32 FLOPs per core-cycle.
    const c = fabricTokenCycles(model, { ...w, flopsPerCoreCycle: 2 * w.flopsPerCoreCycle }, 8191, 'ktree', 1, 8192).total;
    const ms = (cycles: number) => (cycles / w.clockHz) * 1e3;
    expect(p.time_breakdown_ms['compute']).toBeCloseTo(ms(c.compute), 6);
    expect(p.time_breakdown_ms['fabric: hop latency']).toBeCloseTo(ms(c.hops), 3);
    expect(p.time_breakdown_ms['fabric: link serialisation']).toBeCloseTo(ms(c.serialisation), 5);
    expect(p.time_breakdown_ms['fabric: ramp relays']).toBeCloseTo(ms(c.ramps), 3);
    expect(p.time_breakdown_ms['wafer-to-wafer hand-offs']).toBeCloseTo(3 * 5e-3, 6);
    expect(p.time_breakdown_ms['fabric: collective steps']).toBeUndefined();
    expect(p.ms_per_token).toBeCloseTo(ms(c.cycles) + 3 * 5e-3, 2);
    const text = p.assumptions.join('\n');
    expect(text).toMatch(/α = 1 cycle per hop, β = 8 cycles per ramp relay/);
    expect(text).toMatch(/assumption: cyclesPerRamp = 8/);
    expect(text).toMatch(/one after another: no overlap/);
    expect(text).not.toMatch(/per collective step/);
    // The chain pays β at every core of a row allreduce, where the K-tree pays it at its roots only.
    const chain = predict('llama-3.1-70b', model, 'wse-3', { precision: 'fp16', chips: 4, context: 8192, allreduce: 'chain', placement: { kind: 'whole' } });
    expect(chain.time_breakdown_ms['fabric: ramp relays']).toBeGreaterThan(p.time_breakdown_ms['fabric: ramp relays']);
  });

  it('fits Llama-3.1-70B at fp16 on 4 WSE-3 wafers with 8,192 positions, its KV cache stored 4 times instead of 8', () => {
    const p = predict('llama-3.1-70b', shape('llama-3.1-70b'), 'wse-3', { precision: 'fp16', chips: 4, context: 8192 });
    expect(p.tokens_per_s).toBeGreaterThan(0);
    expect(p.assumptions.join('\n')).toMatch(/each KV coordinate stored at most 4 time\(s\).*would take 8 copies/);
    expect(() => predict('llama-3.1-70b', shape('llama-3.1-70b'), 'wse-3', { precision: 'fp16', chips: 3, context: 8192 })).toThrow(/does-not-fit/);
  });
});
