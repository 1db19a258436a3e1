import { afterAll, describe, expect, it } from 'vitest';
import { createMachine } from '../../src/engines/index.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { randomModel } from '../../src/model/random.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { raceReference } from '../helpers/race.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadStories260K } from '../helpers/models.ts';

const stories = loadStories260K();

describe('the decode on the fabric, token for token against the CPU reference', () => {
  afterAll(async () => (await testGpu()).destroy());

  it('stories260K on 8x8 cores of 48 KB: 32 greedy ids', async () => {
    const m = await createMachine('fabric', stories, { gpu: testGpu, mesh: meshFromPreset('wse-3', 8, 8), allreduce: 'tree' });
    const r = await raceReference(m, stories, 32);
    m.dispose();
    expect(r.ids).toEqual(r.cpuIds);
    expect(r.maxDiff).toBeLessThan(1e-3);
  });
});
