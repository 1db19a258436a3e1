import { expect } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import type { Machine } from '../../src/engines/machine.ts';
import { generate, type Decodable } from '../../src/engines/generate.ts';
import { BOS } from '../../src/model/config.ts';
import type { Model } from '../../src/model/weights.ts';
import { maxAbsDiff } from './check.ts';

/**
 * Greedy-decodes `tokens` ids with `engine` while the CPU reference runs the same positions in
 * lockstep; returns both id lists and the largest logit difference, and checks the engine left no
 * buffer behind. `afterForward` sees the engine after each forward pass (to collect its traces).
 */
export async function raceReference(
  engine: Machine,
  model: Model,
  tokens: number,
  afterForward?: () => void,
): Promise<{ ids: number[]; cpuIds: number[]; maxDiff: number }> {
  const buffersAtStart = engine.liveBuffers;
  const cpu = new CpuEngine(model);
  let maxDiff = 0;
  const lockstep: Decodable = {
    config: engine.config,
    context: engine.context,
    reset: () => {
      engine.reset();
      cpu.reset();
    },
    forward: async (token, pos) => {
      const got = await engine.forward(token, pos);
      maxDiff = Math.max(maxDiff, maxAbsDiff(got, await cpu.forward(token, pos)));
      afterForward?.();
      return got;
    },
  };
  const opts = { promptIds: [BOS], tokens, temperature: 0, topP: 1, seed: 0 };
  const ids = (await generate(lockstep, opts)).ids;
  const cpuIds = (await generate(new CpuEngine(model), opts)).ids;
  expect(engine.liveBuffers, 'buffers left behind by decoding').toBe(buffersAtStart);
  return { ids, cpuIds, maxDiff };
}
