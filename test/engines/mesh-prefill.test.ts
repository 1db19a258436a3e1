import { afterAll, describe, expect, it } from 'vitest';
import { runPrefillFabric } from '../../src/engines/mesh-prefill.ts';
import { GpuResources } from '../../src/gpu/resources.ts';
import { meshFromPreset, type MeshConfig } from '../../src/mesh/config.ts';
import { firstDifference } from '../../src/mesh/fabric.ts';
import { compilePrefill, prefillModel } from '../../src/mesh/programs/prefill-fabric.ts';
import { type ModelConfig } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';
import { ReferenceTransformer } from '../../src/model/reference.ts';
import type { Model } from '../../src/model/weights.ts';
import { checkTensor } from '../helpers/check.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';
import { randomPrompt } from '../helpers/prefill.ts';

const stories = loadStories260K();
const gqa: ModelConfig = { dim: 48, hiddenDim: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 97, seqLen: 40, sharedClassifier: false };

afterAll(async () => (await testGpu()).destroy());

async function prefillOnWafer(model: Model, mesh: MeshConfig, T: number) {
  const tokens = randomPrompt(model.config, T);
  const ref = new ReferenceTransformer(model);
  const expected = ref.prefill(tokens);
  const plan = compilePrefill(mesh, model.config, T);
  const res = new GpuResources(await testGpu());
  try {
    const run = await runPrefillFabric(res, plan, model, tokens, { instrument: true });
    return { plan, run, expected, kv: ref.kvCache(T) };
  } finally {
    res.dispose();
  }
}

function checkRun({ plan, run, expected, kv }: Awaited<ReturnType<typeof prefillOnWafer>>) {
  checkTensor('logits', run.logits, expected, { atol: 1e-4, rtol: 1e-4 });
  checkTensor('keys', run.kv.k, kv.k, { atol: 1e-4, rtol: 1e-4 });
  checkTensor('values', run.kv.v, kv.v, { atol: 1e-4, rtol: 1e-4 });
  expect(run.violation).toBeNull();
  expect(run.outOfSlice).toBe(0);
  const model = prefillModel(plan);
  run.phases.forEach((measured, p) => expect(firstDifference(model[p], measured), plan.phases[p].name).toBeNull());
}

describe('the wafer prefill on the fabric (MeshGEMM layers, fabric norms and KV gather)', () => {
  it('a random GQA model (6 heads, 2 KV heads, own classifier) on 4x4, 5 positions: logits and KV cache equal the CPU reference prefill within 1e-4; measured = modelled per link and phase; no access off a core or its links', async () => {
    const r = await prefillOnWafer(randomModel(gqa, 5), meshFromPreset('wse-3', 4, 4), 5);
    checkRun(r);
  }, 900_000);
});
