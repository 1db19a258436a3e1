import { describe, expect, it } from 'vitest';
import { CATALOG, hardwarePreset, modelEntry, type Figure } from '../../src/catalog.ts';
import { gpuPreset } from '../../src/cost/hardware.ts';
import { allreduceSeconds, formatBytes, predict, tokensPerStep } from '../../src/cost/predict.ts';
import { parameterCount } from '../../src/model/config.ts';

const shape = (id: string) => modelEntry(id)!.config!;

describe('hardware presets as data', () => {
  it('has the wafers and the accelerators the validation needs', () => {
    const ids = CATALOG.hardware.map((h) => h.id);
    for (const id of ['wse-2', 'wse-3', 'h100', 'h200', 'b200', 'a100', 'mi300x', 'trainium2']) expect(ids).toContain(id);
  });

  it('gives every figure of every preset a value and a source; assumed ones are marked', () => {
    for (const p of CATALOG.hardware) {
      for (const [k, f] of Object.entries(p.figures as unknown as Record<string, Figure>)) {
        expect(Number.isFinite(f.value) && f.value >= 0, `${p.id}.${k} = ${f.value}`).toBe(true);
        expect(f.source.trim().length, `${p.id}.${k} has no source`).toBeGreaterThan(10);
        expect(f.assumed === undefined || f.assumed === true, `${p.id}.${k}`).toBe(true);
        expect(f.measured === undefined || (f.measured === true && f.assumed === undefined), `${p.id}.${k}`).toBe(true);
      }
    }
    // Figures taken from a measurement on other hardware are marked as assumed, not passed off as datasheet values.
    expect(hardwarePreset('h100', 'gpu').figures.launchSeconds.assumed).toBe(true);
    expect(hardwarePreset('h100', 'gpu').figures.allreduceSeconds.assumed).toBe(true);
    expect(hardwarePreset('h100', 'gpu').figures.hbmBytesPerS.assumed).toBeUndefined();
  });

  it('holds the datasheet figures (hand-checked against the vendors)', () => {
    const g = (id: string) => gpuPreset(id);
    expect([g('h100').peakHbmBytesPerS, g('h200').peakHbmBytesPerS, g('b200').peakHbmBytesPerS, g('a100').peakHbmBytesPerS, g('mi300x').peakHbmBytesPerS, g('trainium2').peakHbmBytesPerS]).toEqual([
      3.35e12, 4.8e12, 8e12, 2.039e12, 5.3e12, 2.9e12,
    ]);
    expect([g('h100').hbmBytes, g('h200').hbmBytes, g('b200').hbmBytes, g('mi300x').hbmBytes]).toEqual([80e9, 141e9, 180e9, 192e9]);
    expect(g('trainium2').hbmBytes).toBe(96 * 2 ** 30);
    expect([g('h200').peakFlops.fp8, g('b200').peakFlops.fp8, g('trainium2').peakFlops.fp8]).toEqual([1979e12, 4500e12, 1299e12]);
  });

  it('streams at the sustained HBM bandwidth measured on that GPU (BabelStream in Azure\'s benchmarking guide, its largest kernel: Dot), at the peak where none is in the catalog', () => {
    const g = (id: string) => gpuPreset(id);
    // Hand-checked against Azure/AI-benchmarking-guide, Azure_Results/ND_{H100_v5,H200_v5,A100_v4}_results.md, "HBM Bandwidth": Dot 3.18, 4.48, 1.75 TB/s.
    expect([g('h100').hbmBytesPerS, g('h200').hbmBytesPerS, g('a100').hbmBytesPerS]).toEqual([3.18e12, 4.48e12, 1.75e12]);
    for (const [id, file, gpu] of [
      ['h100', 'ND_H100_v5_results.md', 'H100 80GB HBM3'],
      ['h200', 'ND_H200_v5_results.md', 'H200 141GB'],
      ['a100', 'ND_A100_v4_results.md', 'A100-SXM4-80GB'],
    ]) {
      const f = hardwarePreset(id, 'gpu').figures.sustainedHbmBytesPerS!;
      expect(f.measured, id).toBe(true);
      expect(f.assumed, id).toBeUndefined();
      expect(f.source).toContain('BabelStream');
      expect(f.source).toContain('github.com/Azure/AI-benchmarking-guide');
      expect(f.source).toContain(file);
      expect(f.source).toContain(gpu);
      expect(g(id).hbmBandwidth).toEqual({ kind: 'sustained', source: f.source });
      expect(g(id).hbmBytesPerS).toBeLessThan(g(id).peakHbmBytesPerS);
    }
    // No measured figure found for these: the datasheet peak, said as such.
    for (const id of ['b200', 'mi300x', 'trainium2']) {
      expect(hardwarePreset(id, 'gpu').figures.sustainedHbmBytesPerS, id).toBeUndefined();
      expect(g(id).hbmBandwidth.kind, id).toBe('peak');
      expect(g(id).hbmBytesPerS, id).toBe(g(id).peakHbmBytesPerS);
    }
    // The toy GPU is the H100 scaled down 16,000x, its measured bandwidth with the rest.
    expect(g('toy-gpu').hbmBandwidth.kind).toBe('sustained');
    expect(g('toy-gpu').hbmBytesPerS).toBeCloseTo(3.18e12 / 16000, 0);
    expect(g('toy-gpu').peakHbmBytesPerS).toBeCloseTo(3.35e12 / 16000, 0);
    expect(Math.round(g('h100').hbmBytesPerS / g('toy-gpu').hbmBytesPerS)).toBe(16000);
  });

  it('says in predict which HBM bandwidth it streamed at, and where the figure comes from', () => {
    const h = predict('llama-3.1-8b', shape('llama-3.1-8b'), 'h100', { precision: 'fp16', context: 1024 }).assumptions.join('\n');
    expect(h).toMatch(/from HBM at 3\.18 TB\/s per chip, the sustained bandwidth measured on this GPU \(measured: BabelStream .*ND_H100_v5_results\.md.*\); the datasheet peak is 3\.35 TB\/s/);
    const b = predict('llama-3.1-8b', shape('llama-3.1-8b'), 'b200', { precision: 'fp16', context: 1024 }).assumptions.join('\n');
    expect(b).toMatch(/from HBM at 8 TB\/s per chip, the datasheet peak \(NVIDIA DGX B200 datasheet.*\): no measured sustained figure for this GPU in the catalog/);
  });

  it("keeps the toy GPU's eager launch (its WebGPU kernels are dispatched one by one)", () => {
    expect(gpuPreset('toy-gpu').graphLaunchSeconds).toBe(0);
    expect(gpuPreset('toy-gpu').launchSeconds).toBe(3e-6);
  });
});

describe('collectives and launches as current practice has them', () => {
  const hw = { allreduceSeconds: 6e-6, linkBytesPerS: 450e9 };

  it('runs a small allreduce one-shot and a large one two-shot, each by its formula (hand-computed)', () => {
    // 8 chips, 16 KiB: one-shot 6 µs + 7 · 16384 / 450e9 = 6.2549 µs; two-shot 12 µs + 1.75 · 16384 / 450e9 = 12.064 µs.
    const small = allreduceSeconds(8, 16384, hw);
    expect(small.algorithm).toBe('one-shot');
    expect(small.seconds).toBeCloseTo(6e-6 + (7 * 16384) / 450e9, 15);
    // 64 MiB: one-shot 1.050 ms; two-shot 12 µs + 1.75 · 67108864 / 450e9 = 0.273 ms.
    const large = allreduceSeconds(8, 64 * 2 ** 20, hw);
    expect(large.algorithm).toBe('two-shot');
    expect(large.seconds).toBeCloseTo(12e-6 + (2 * 7 * 64 * 2 ** 20) / 8 / 450e9, 12);
    expect(allreduceSeconds(1, 16384, hw)).toEqual({ seconds: 0, algorithm: 'none' });
  });

  it('costs tensor parallel as two allreduces per layer, not a ring of NVLink steps', () => {
    const model = shape('llama-3.1-70b');
    const p = predict('llama-3.1-70b', model, 'h100', { chips: 8, precision: 'fp8', context: 1024 });
    const h = gpuPreset('h100');
    const one = allreduceSeconds(8, model.dim * 2, h);
    expect(one.algorithm).toBe('one-shot');
    expect(p.time_breakdown_ms['allreduces']).toBeCloseTo(2 * model.nLayers * one.seconds * 1e3, 2);
    expect(p.time_breakdown_ms['NVLink allreduces']).toBeUndefined();
    expect(p.assumptions.join('\n')).toMatch(/one-shot: α \+ \(n − 1\)·S ÷ B/);
  });

  it('replays a token as one CUDA graph: 15 µs plus 0.58 µs per kernel, not 3 µs per launch', () => {
    const model = shape('llama-3.1-8b');
    const p = predict('llama-3.1-8b', model, 'h100', { precision: 'fp16', context: 1024 });
    expect(p.time_breakdown_ms['kernel launches']).toBeCloseTo((15e-6 + (5 * model.nLayers + 1) * 0.58e-6) * 1e3, 4);
    expect(p.assumptions.join('\n')).toMatch(/one CUDA graph/);
  });
});

describe('speculative decoding', () => {
  it('yields E = (1 − α^(γ+1)) / (1 − α) tokens a step (Leviathan et al. 2023), hand-computed', () => {
    expect(tokensPerStep(0.8, 5)).toBeCloseTo((1 - 0.8 ** 6) / 0.2, 12);
    expect(tokensPerStep(0.8, 5)).toBeCloseTo(3.68928, 5);
    expect(tokensPerStep(0, 5)).toBe(1);
    expect(tokensPerStep(0.5, 1)).toBeCloseTo(1.5, 12);
  });

  it('divides a step (γ draft tokens, then one verification of γ + 1 positions) by E', () => {
    const model = shape('llama-3.3-70b');
    const draft = shape('llama-3.2-1b');
    const p = predict('llama-3.3-70b', model, 'h200', { precision: 'fp8', context: 1024, speculative: { draft: 'llama-3.2-1b', draftModel: draft } });
    const s = p.speculative!;
    expect(s).toMatchObject({ acceptance: 0.8, draft_tokens: 5 });
    expect(s.step_ms).toBeCloseTo(5 * s.draft_ms_per_token + s.verify_ms, 1);
    expect(p.tokens_per_s).toBeCloseTo(s.tokens_per_step / (s.step_ms / 1e3), -1);
    const plain = predict('llama-3.3-70b', model, 'h200', { precision: 'fp8', context: 1024 });
    expect(s.plain_tokens_per_s).toBe(plain.tokens_per_s);
    expect(p.tokens_per_s).toBeGreaterThan(2 * plain.tokens_per_s);
    // A draft that is never accepted only costs time.
    const useless = predict('llama-3.3-70b', model, 'h200', { precision: 'fp8', context: 1024, speculative: { draft: 'llama-3.2-1b', draftModel: draft, acceptance: 0, draftTokens: 1 } });
    expect(useless.tokens_per_s).toBeLessThan(plain.tokens_per_s);
    expect(() => predict('llama-3.3-70b', model, 'h200', { precision: 'fp8', speculative: { draft: 'x', draftModel: draft, acceptance: 1 } })).toThrow(/--acceptance 1 must be a number in \[0, 1\)/);
  });

  it('on a wafer, verifying γ + 1 positions multiplies serialisation and compute but pays hops and ramp relays once', () => {
    const model = shape('llama-3.1-8b');
    const p = predict('llama-3.1-8b', model, 'wse-3', { precision: 'fp16', context: 1024, speculative: { draft: 'llama-3.2-1b', draftModel: shape('llama-3.2-1b'), draftTokens: 3 } });
    const plain = predict('llama-3.1-8b', model, 'wse-3', { precision: 'fp16', context: 1024 });
    const E = p.speculative!.tokens_per_step;
    expect(p.time_breakdown_ms['verify: fabric: ramp relays'] * E).toBeCloseTo(plain.time_breakdown_ms['fabric: ramp relays'], 2);
    expect(p.time_breakdown_ms['verify: fabric: link serialisation'] * E).toBeCloseTo(4 * plain.time_breakdown_ms['fabric: link serialisation'], 2);
  }, 60_000);
});

describe('predict prints sizes in a sensible unit and names every kind of preset', () => {
  it('says 1.74 MB for the toy model, not 0.00 GB', () => {
    expect(formatBytes(1_740_288)).toBe('1.74 MB');
    expect(formatBytes(16.06e9)).toBe('16.1 GB');
    expect(formatBytes(512)).toBe('512 B');
    const c = shape('llama-3.1-8b');
    const toy = { ...c, dim: 128, hiddenDim: 192, nLayers: 3, nHeads: 4, nKvHeads: 2, vocabSize: 512, seqLen: 256, sharedClassifier: true };
    const p = predict('toy', toy, 'toy-gpu', { precision: 'fp32' });
    const line = p.assumptions[0];
    expect(line).toContain(`${parameterCount(toy).toLocaleString('en')} parameters = ${formatBytes(parameterCount(toy) * 4)}`);
    expect(line).not.toMatch(/0\.00 GB/);
  });

  it('refuses unknown hardware naming the wafers and the GPUs', () => {
    expect(() => predict('llama-3.1-8b', shape('llama-3.1-8b'), 'tpu')).toThrow(/hardware "tpu" is unknown; use one of wse-3, .*\(wafers\) or h100, .*trainium2.*\(GPUs/);
  });

  it('places a wafer model on a region when asked, and refuses a region larger than the wafer', () => {
    const model = shape('llama-3-8b');
    const region = predict('llama-3-8b', model, 'wse-2', { precision: 'fp16', context: 1024, mesh: { width: 720, height: 720 } });
    expect(region.mesh).toEqual({ width: 720, height: 720 });
    expect(region.assumptions.join('\n')).toMatch(/720 x 720 region/);
    expect(() => predict('llama-3-8b', model, 'wse-2', { mesh: { width: 800, height: 800 } })).toThrow(/larger than the wse-2 fabric \(757 x 996\)/);
    expect(() => predict('llama-3-8b', model, 'h100', { mesh: { width: 8, height: 8 } })).toThrow(/--cores applies to wafers/);
  }, 60_000);
});
