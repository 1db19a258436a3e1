import { describe, expect, it, vi } from 'vitest';
import { WafermeshError } from '../../src/errors.ts';
import { RaceSession } from '../../src/worker/session.ts';
import { demoRequest, sessionHost } from '../helpers/session.ts';

// The mesh engine refuses a mesh the model fits when the adapter cannot hold it (mesh-too-large)
// or the fabric decode cannot run it (unsupported-mesh); which meshes those are depends on the
// adapter, so the refusal is made here. The session must report it as it reports a model that
// does not fit — open, say why, refuse to step — and never decode the wafer some other way.
const refusal = vi.hoisted(() => ({ code: 'mesh-too-large' }));
vi.mock('../../src/engines/index.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/engines/index.ts')>();
  return {
    ...real,
    createMachine: ((name, model, options) =>
      name === 'mesh'
        ? Promise.reject(new WafermeshError(refusal.code, 'the 8x8 mesh needs 3145728 bytes of emulated SRAM but this adapter binds at most 1048576; use fewer cores or less SRAM per core'))
        : real.createMachine(name, model, options)) satisfies typeof real.createMachine,
  };
});

const base = demoRequest({ prompt: 'Once', tokens: 4 });
const host = sessionHost();

describe('the race session where the mesh engine refuses the mesh', () => {
  it.each(['mesh-too-large', 'unsupported-mesh'])('%s: opens, reports the refusal in one line beside a fit report that fits, and refuses to step', async (code) => {
    refusal.code = code;
    const s = await RaceSession.open(base, host);
    try {
      expect(s.info.mode).toBe('webgpu');
      expect(s.info.fit.fits).toBe(true);
      expect(s.info.refusal).toBe(`${code}: the 8x8 mesh needs 3145728 bytes of emulated SRAM but this adapter binds at most 1048576; use fewer cores or less SRAM per core`);
      expect(s.info.passes).toBe(0);
      expect(s.info.phases).toEqual([]);
      await expect(s.stepTokens(1)).rejects.toThrow(new RegExp(`^${code}: the 8x8 mesh needs`));
      await expect(s.stepPhase()).rejects.toThrow(new RegExp(`^${code}: `));
    } finally {
      s.dispose();
    }
  });

  it('does not turn any other failure into a refusal', async () => {
    refusal.code = 'internal';
    await expect(RaceSession.open(base, host)).rejects.toThrow(/^internal: /);
    refusal.code = 'mesh-too-large';
  });
});
