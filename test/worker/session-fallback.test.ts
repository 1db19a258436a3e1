import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { WafermeshError } from '../../src/errors.ts';
import { nodeGpu } from '../../src/gpu/node.ts';
import { RaceSession } from '../../src/worker/session.ts';
import type { SessionRequest } from '../../src/worker/types.ts';

// The fabric decode refuses some meshes (code 'unsupported-mesh'); which ones changes as it grows,
// so the refusal is made here: the session must fall back to the functional model and say so.
const refusal = vi.hoisted(() => ({ code: 'unsupported-mesh' }));
vi.mock('../../src/engines/index.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/engines/index.ts')>();
  return {
    ...real,
    createMachine: ((name, model, options) =>
      name === 'fabric'
        ? Promise.reject(new WafermeshError(refusal.code, 'on a 40-wide mesh the fabric decode does not run this model yet'))
        : real.createMachine(name, model, options)) satisfies typeof real.createMachine,
  };
});

const ROOT = resolve(__dirname, '../..');
const base: SessionRequest = {
  model: 'wm-stories',
  modelBaseUrl: pathToFileURL(resolve(ROOT, 'public/models/')).href + '/',
  mesh: { width: 8, height: 8 },
  preset: 'wse-3',
  allreduce: 'tree',
  prompt: 'Once',
  tokens: 4,
  temperature: 0,
  topP: 1,
  seed: 42,
};
const host = {
  gpu: nodeGpu,
  fetchBytes: async (url: string) => {
    const b = readFileSync(new URL(url));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  },
};

describe('the race session where the fabric refuses the mesh', () => {
  it('runs the functional model, says why, and reports its link words as modelled, never measured', async () => {
    refusal.code = 'unsupported-mesh';
    const s = await RaceSession.open(base, host);
    expect(s.info.mode).toBe('webgpu');
    expect(s.info.wafer).toBe('functional');
    expect(s.info.waferNote).toMatch(/^unsupported-mesh: on a 40-wide mesh/);
    // Stepping walks the functional program's passes, each with its modelled cycles and links.
    const ev = await s.stepPhase();
    expect(ev.passes).toBe(s.info.passes);
    expect(ev.phases.map((p) => p.name)).toContain('embedding broadcast');
    expect(ev.cycles).toBeGreaterThan(0);
    expect(ev.measured).toBeNull();
    const events = await s.stepTokens(4);
    expect(events).toHaveLength(4);
    for (const e of events) {
      expect(e.measured).toBeNull();
      expect(e.mesh.id).toBe(e.gpu.id);
    }
    s.dispose();
  });

  it('does not hide any other refusal of the fabric', async () => {
    refusal.code = 'mesh-too-large';
    await expect(RaceSession.open(base, host)).rejects.toThrow(/^mesh-too-large: /);
    refusal.code = 'unsupported-mesh';
  });
});
