import { describe, expect, it } from 'vitest';
import { createMachine, type EngineName } from '../../src/engines/index.ts';
import { errorCode } from '../../src/errors.ts';
import { nodeGpu } from '../../src/gpu/node.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { BOS } from '../../src/model/config.ts';
import { randomModel } from '../../src/model/random.ts';

const model = randomModel({ dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, seqLen: 16, sharedClassifier: true }, 3);

/** Rejects if `p` neither settles within `ms`: a lost device must never leave a call hanging. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms))]);
}

describe('a GPU device lost outside dispose (GpuContext.loseDevice, the test hook)', () => {
  it.each<EngineName>(['gpu', 'mesh'])('%s: the next step is refused in one line naming the loss, the lost handler runs once, nothing hangs', async (name) => {
    const ctx = await nodeGpu(); // its own device: this one is lost on purpose
    const heard: string[] = [];
    ctx.onLost((m) => heard.push(m));
    const m = await createMachine(name, model, { gpu: async () => ctx, mesh: meshFromPreset('wse-3', 4, 4) });
    try {
      await m.forward(BOS, 0);
      ctx.loseDevice();
      const err = await within(m.forward(5, 1).then(() => undefined, (e: unknown) => e), 10_000);
      expect(err, 'a forward pass on a lost device must fail').toBeInstanceOf(Error);
      expect(errorCode(err)).toBe('device-lost');
      expect((err as Error).message).toMatch(/the GPU device was lost \(.*\); restart the program/);
      expect((err as Error).message).not.toMatch(/\n/);
      await ctx.whenLost;
      expect(heard).toHaveLength(1);
      expect(ctx.lostMessage).toMatch(/^the GPU device was lost/);
    } finally {
      m.dispose();
      ctx.destroy();
    }
  });

  it('our own destroy() is a shutdown, not a loss', async () => {
    const ctx = await nodeGpu();
    const heard: string[] = [];
    ctx.onLost((m) => heard.push(m));
    ctx.destroy();
    await ctx.whenLost;
    expect(heard).toEqual([]);
    expect(ctx.lostMessage).toBeUndefined();
    expect(() => ctx.check()).not.toThrow();
  });

  it('an engine made on a device already lost is refused, not left pending', async () => {
    const ctx = await nodeGpu();
    ctx.loseDevice();
    await ctx.whenLost;
    const err = await within(createMachine('gpu', model, { gpu: async () => ctx }).then((m) => m.forward(BOS, 0)).then(() => undefined, (e: unknown) => e), 10_000);
    expect(err).toBeInstanceOf(Error);
    expect(errorCode(err)).toBe('device-lost');
    expect((err as Error).message).toMatch(/the GPU device was lost/);
    ctx.destroy();
  });
});
