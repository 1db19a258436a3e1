import { afterAll, describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate } from '../../src/engines/generate.ts';
import { MeshEngine } from '../../src/engines/mesh.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { BOS, type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import type { Model } from '../../src/model/weights.ts';
import { checkTensor } from '../helpers/check.ts';
import { testGpu } from '../helpers/gpu.ts';

const small: ModelConfig = { dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, seqLen: 24, sharedClassifier: false };

async function compareLogits(model: Model, w: number, h: number, steps: number, allreduce: 'ring' | 'tree' = 'tree') {
  const mesh = await MeshEngine.create(await testGpu(), model, meshFromPreset('wse-3-big-sram', w, h), allreduce);
  const cpu = new CpuEngine(model);
  let token = BOS;
  for (let pos = 0; pos < steps; pos++) {
    const want = Float32Array.from(await cpu.forward(token, pos));
    const got = await mesh.forward(token, pos);
    checkTensor(`${w}x${h} logits at pos ${pos}`, got, want, { atol: 2e-4, rtol: 2e-3 });
    token = (token * 7 + pos + 3) % model.config.vocabSize;
  }
  mesh.dispose();
  expect(mesh.liveBuffers).toBe(0);
}

describe('mesh engine', () => {
  afterAll(async () => (await testGpu()).destroy());

  it('matches the reference logits on 1x1, 2x2 and 3x2 meshes', async () => {
    const model = randomModel(small, 3);
    await compareLogits(model, 1, 1, 6);
    await compareLogits(model, 2, 2, 6);
    await compareLogits(model, 3, 2, 6, 'ring');
  });
});
