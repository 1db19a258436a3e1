import { describe, expect, it } from 'vitest';
import { modelEntry } from '../../src/catalog.ts';
import { gpuPreset, waferPreset } from '../../src/cost/hardware.ts';
import { gpuPrefill, kvTransfer } from '../../src/cost/prefill.ts';
import { predict } from '../../src/cost/predict.ts';
import { wholeWaferFits } from '../../src/cost/placement-search.ts';
import { disaggregated, fewestChips, footprintOf, maxStreams, monolithic, serve } from '../../src/cost/serve.ts';
import { makeMesh } from '../../src/mesh/config.ts';
import { baselineBytes } from '../../src/baseline/program.ts';

const llama8b = modelEntry('llama-3.1-8b')!.config!;
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('serving S streams on GPUs', () => {
  it('when nothing saturates, S streams decode S times as fast as one, each step paying only the extra streams\' KV reads (by hand)', () => {
    // 8B on one H100 at fp16, 16-position prompts and 16 output tokens: every kernel of a batch of 4
    // stays bound by HBM, so a step is one stream's step plus 3 more KV caches ÷ the H100's
    // sustained 3.18 TB/s (the bandwidth the preset streams at).
    const req = { streams: 4, prompt: 16, output: 16 };
    const c = disaggregated('llama-3.1-8b', llama8b, 'h100', 1, 'h100', 1, req);
    const one = predict('llama-3.1-8b', llama8b, 'h100', { context: 32 });
    const kv = baselineBytes(llama8b, 31, 2).kv;
    expect(gpuPreset('h100').hbmBytesPerS).toBe(3.18e12);
    const step = one.ms_per_token / 1e3 + (3 * kv) / 3.18e12;
    expect(c.decode.streams_per_instance).toBe(4);
    expect(c.decode.step_bound).toMatch(/^HBM/);
    expect(rel(c.decode.step_ms / 1e3, step)).toBeLessThan(1e-3);
    expect(rel(c.throughput_tokens_per_s, 4 * c.per_stream_tokens_per_s)).toBeLessThan(1e-3);
    expect(rel(c.throughput_tokens_per_s, 4 * one.tokens_per_s)).toBeLessThan(0.01);
  });

  it('a big enough batch saturates the tensor cores: the step turns compute-bound and each stream slows down', () => {
    const req = { streams: 1024, prompt: 16, output: 16 };
    const c = disaggregated('llama-3.1-8b', llama8b, 'h100', 1, 'h100', 1, req);
    expect(c.decode.instances).toBe(1);
    expect(c.decode.step_bound).toBe('compute');
    const one = predict('llama-3.1-8b', llama8b, 'h100', { context: 32 });
    expect(c.per_stream_tokens_per_s).toBeLessThan(one.tokens_per_s / 2);
  });

  it('HBM limits the streams an instance holds; more streams take more instances', () => {
    const hw = gpuPreset('h100');
    const kvStream = 2 * 32 * 4096 * 1024 * 2;
    const expected = Math.floor((hw.hbmBytes - 8030261248 * 2) / kvStream);
    expect(maxStreams(llama8b, 'h100', 1, 'fp16', 4096).streams).toBe(expected);
    const c = monolithic('llama-3.1-8b', llama8b, 'h100', 1, { streams: expected + 1, prompt: 2048, output: 2048 });
    expect(c.decode.instances).toBe(2);
    expect(c.footprint.chips).toBe(2);
  });

  it('monolithic: an instance finishes B streams every B·t_prefill + M·t_step', () => {
    const req = { streams: 8, prompt: 1024, output: 128 };
    const c = monolithic('llama-3.1-8b', llama8b, 'h100', 1, req);
    const pf = gpuPrefill(llama8b, 1024, 'h100');
    expect(c.ttft_ms).toBe(pf.ttft_ms);
    const cycle = (8 * pf.ttft_ms + 128 * c.decode.step_ms) / 1e3;
    expect(rel(c.per_stream_average_tokens_per_s, 128 / cycle)).toBeLessThan(1e-3);
    expect(rel(c.throughput_tokens_per_s, (8 * 128) / cycle)).toBeLessThan(1e-3);
    expect(c.per_stream_average_tokens_per_s).toBeLessThan(c.per_stream_tokens_per_s);
  });

  it('disaggregated: TTFT = the prefill + the KV transfer, as computed; the prefill pool keeps up with the decode pool', () => {
    const req = { streams: 64, prompt: 2048, output: 256 };
    const c = disaggregated('llama-3.1-8b', llama8b, 'trainium2', 1, 'h100', 1, req);
    const pf = gpuPrefill(llama8b, 2048, 'trainium2');
    const kv = kvTransfer(llama8b, 2048, 'fp16', { prefillWafer: false, decodeWafer: false });
    expect(kv.ms).toBeCloseTo(Number(((15e-6 + (2 * 32 * 2048 * 1024 * 2) / 200e9) * 1e3).toPrecision(4)), 8);
    expect(c.ttft_ms).toBeCloseTo(pf.ttft_ms + kv.ms, 2);
    expect(c.prefill.instances).toBe(Math.ceil((64 * pf.ttft_ms) / (256 * c.decode.step_ms)));
    expect(c.per_stream_average_tokens_per_s).toBe(c.per_stream_tokens_per_s);
  });
});

describe('the footprint is an input, printed with its sources', () => {
  it("is the chips' share of their systems' power and rack units: one H100 of a DGX H100 (10.2 kW, 8U, 8 GPUs)", () => {
    expect(footprintOf('h100', 1, {})).toEqual({ chips: 1, power_kw: 1.275, rack_units: 1 });
    expect(footprintOf('wse-3', 2, {})).toEqual({ chips: 2, power_kw: 46, rack_units: 30 });
    expect(footprintOf('h100', 8, { systemPowerW: { h100: 12000 }, systemRackUnits: { h100: 10 } })).toEqual({ chips: 8, power_kw: 12, rack_units: 10 });
  });

  it('serve lists every system it used, its figures marked assumed where they are', () => {
    const v = serve('llama-3.1-8b', llama8b, { prefill: { id: 'trainium2', chips: 1 }, decode: { id: 'h100', chips: 1 } }, { streams: 4, prompt: 128, output: 32 });
    expect(v.configs.map((c) => c.kind)).toEqual(['monolithic', 'monolithic', 'disaggregated']);
    expect(Object.keys(v.systems).sort()).toEqual(['h100', 'trainium2']);
    expect(v.systems.trainium2.sources.some((s) => s.startsWith('assumed: '))).toBe(true);
    expect(v.assumptions.join('\n')).toMatch(/no published speed is an input/);
    for (const c of v.configs) expect(rel(c.tokens_per_s_per_kw, c.throughput_tokens_per_s / c.footprint.power_kw)).toBeLessThan(1e-3);
  });

  it('refuses a prompt and output longer than the model in one line', () => {
    expect(() => serve('llama-3.1-8b', llama8b, { hardware: { id: 'h100' } }, { streams: 1, prompt: 131072, output: 1 })).toThrow(/--prompt 131072 \+ --output 1 is more than the model's 131072 positions/);
    expect(() => serve('llama-3.1-8b', llama8b, { hardware: { id: 'h100' } }, { streams: 0, prompt: 1, output: 1 })).toThrow(/--streams 0 must be a whole number/);
  });
});

describe('a wafer serving several streams', () => {
  it("holds as many streams as its fullest core's SRAM allows, and not one more", () => {
    const w = waferPreset('wse-3');
    const wafer = makeMesh({ ...w.core, width: w.fullWidth, height: w.fullHeight, flopsPerCoreCycle: 2 * w.core.flopsPerCoreCycle });
    const m = maxStreams(llama8b, 'wse-3', 1, 'fp16', 2304);
    expect(m.streams).toBeGreaterThan(1);
    expect(wholeWaferFits(llama8b, wafer, 1, 2304 * m.streams, 2)).toBe(true);
    expect(wholeWaferFits(llama8b, wafer, 1, 2304 * (m.streams + 1), 2)).toBe(false);
    expect(m.limit).toMatch(/^SRAM/);
    expect(fewestChips(modelEntry('llama-3.1-70b')!.config!, 'wse-3', 'fp16', 2304)).toBeGreaterThan(1);
  });

  it('batches with the weights in place: a batch of B costs compute and link serialisation B times, hop latency and ramp relays once', () => {
    const one = predict('llama-3.1-8b', llama8b, 'wse-3', { context: 64, placement: { kind: 'whole' } });
    const four = predict('llama-3.1-8b', llama8b, 'wse-3', { context: 16, batch: 4, placement: { kind: 'whole' } });
    // Four 16-position KV caches are placed as one of 64 positions: the same layout as one stream at 64.
    for (const k of ['compute', 'fabric: link serialisation']) expect(four.time_breakdown_ms[k]).toBeCloseTo(4 * one.time_breakdown_ms[k], 3);
    for (const k of ['fabric: hop latency', 'fabric: ramp relays']) expect(four.time_breakdown_ms[k]).toBe(one.time_breakdown_ms[k]);
    expect(four.assumptions.join('\n')).toMatch(/a batch of 4 streams/);
  }, 120_000);
});

describe('--min-speed: the speed every stream keeps', () => {
  it('an instance takes the most streams that keep the speed, and more instances serve the rest', () => {
    // 1,024 streams in one H100 make the step compute-bound; half that step is still slower than one stream's.
    const req = { streams: 1024, prompt: 16, output: 16 };
    const free = disaggregated('llama-3.1-8b', llama8b, 'h100', 1, 'h100', 1, req);
    const floor = 2 * free.per_stream_tokens_per_s;
    expect(floor).toBeLessThan(predict('llama-3.1-8b', llama8b, 'h100', { context: 32 }).tokens_per_s);
    const kept = disaggregated('llama-3.1-8b', llama8b, 'h100', 1, 'h100', 1, { ...req, minSpeed: floor });
    expect(kept.decode.meets_min_speed).toBe(true);
    expect(kept.per_stream_tokens_per_s).toBeGreaterThanOrEqual(floor);
    expect(kept.decode.instances).toBeGreaterThan(free.decode.instances);
    // One more stream an instance would fall below the floor.
    const b = kept.decode.streams_per_instance;
    const more = predict('llama-3.1-8b', llama8b, 'h100', { context: 32, batch: Math.ceil(1024 / (kept.decode.instances - 1)) });
    expect(more.tokens_per_s).toBeLessThan(floor);
    expect(b).toBeLessThan(free.decode.streams_per_instance);
  });

  it('says so when even one stream an instance is too slow', () => {
    const c = monolithic('llama-3.1-8b', llama8b, 'h100', 1, { streams: 2, prompt: 16, output: 16, minSpeed: 1e6 });
    expect(c.decode.meets_min_speed).toBe(false);
    expect(c.decode.streams_per_instance).toBe(1);
  });
});

describe('the placement a wafer serves on', () => {
  it('decoding only: the faster of the search and whole-wafer tiling for the batch; prefilling too: whole-wafer tiling for both phases', () => {
    const req = { streams: 1, prompt: 256, output: 256 };
    const dis = disaggregated('llama-3.1-8b', llama8b, 'h100', 1, 'wse-3', 1, req);
    const searched = predict('llama-3.1-8b', llama8b, 'wse-3', { context: 512 });
    const whole = predict('llama-3.1-8b', llama8b, 'wse-3', { context: 512, placement: { kind: 'whole' } });
    expect(searched.ms_per_token).toBeLessThan(whole.ms_per_token);
    expect(dis.decode.placement).toBe(searched.placement!.label);
    expect(dis.decode.step_ms).toBe(searched.ms_per_token);
    const mono = monolithic('llama-3.1-8b', llama8b, 'wse-3', 1, req);
    expect(mono.decode.placement).toBe('whole 762x1172');
    expect(mono.decode.step_ms).toBe(whole.ms_per_token);
  }, 180_000);
});
