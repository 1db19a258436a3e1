import { afterAll, describe, expect, it } from 'vitest';
import { gpuPreset } from '../../src/cost/hardware.ts';
import type { MachineTrace } from '../../src/cost/model.ts';
import { GpuEngine } from '../../src/engines/gpu.ts';
import { baselineBytes } from '../../src/baseline/program.ts';
import { kvDim, parameterCount, type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import type { Model } from '../../src/model/weights.ts';
import { raceReference } from '../helpers/race.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';

async function race(model: Model, tokens: number, instrument = false) {
  const engine = await GpuEngine.create(await testGpu(), model, gpuPreset('toy-gpu'), { instrument });
  const traces: MachineTrace[] = [];
  const r = await raceReference(engine, model, tokens, () => traces.push(engine.lastTrace()!));
  engine.dispose();
  return { ...r, traces };
}

describe('GPU baseline engine', () => {
  afterAll(async () => (await testGpu()).destroy());

  it('stories260K: 256 greedy ids equal the reference', async () => {
    const r = await race(loadStories260K(), 256);
    expect(r.ids).toHaveLength(256);
    expect(r.ids).toEqual(r.cpuIds);
    expect(r.maxDiff).toBeLessThan(1e-3);
  });

  it.each<[string, ModelConfig]>([
    ['separate classifier, GQA', { dim: 48, hiddenDim: 96, nLayers: 3, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 64, sharedClassifier: false }],
    ['multi-query, odd hidden', { dim: 32, hiddenDim: 37, nLayers: 2, nHeads: 4, nKvHeads: 1, vocabSize: 50, seqLen: 48, sharedClassifier: true }],
  ])('random checkpoint (%s): ids for the whole context', async (_, config) => {
    const r = await race(randomModel(config, 21), config.seqLen);
    expect(r.ids).toEqual(r.cpuIds);
  });

  it('counts on the GPU exactly the off-chip bytes the formula gives: every weight once plus the KV cache up to pos', async () => {
    const config: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 3, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 32, sharedClassifier: false };
    const r = await race(randomModel(config, 2), 20, true);
    for (const t of r.traces) {
      // Hand-computed: all parameters once (f32), the embedding row copied, and K and V of
      // positions 0…pos for every layer.
      const weights = (parameterCount(config) - config.vocabSize * config.dim) * 4 + config.dim * 4;
      const kv = 2 * config.nLayers * (t.pos + 1) * kvDim(config) * 4;
      expect(t.counted).toBe(true);
      expect(t.offchip.weights).toBe(weights);
      expect(t.offchip.kv).toBe(kv);
      expect(baselineBytes(config, t.pos)).toEqual({ weights, kv });
      expect(t.passes).toBe(5 * config.nLayers + 1);
    }
  });
});
