import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { GpuResources } from '../../src/gpu/resources.ts';
import { nodeGpu } from '../../src/gpu/node.ts';
import { BufferCount } from '../../src/worker/buffer-count.ts';
import { keptDevice } from '../../src/worker/kept-device.ts';
import { RaceSession } from '../../src/worker/session.ts';
import type { SessionRequest } from '../../src/worker/types.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMB = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const SESSIONS = Number(process.env.WAFERMESH_SESSIONS ?? 200);
/** The heap after the last session may exceed the heap after the first by at most this (MB). */
const HEAP_BOUND_MB = 4;

// A small random model on a 2x2 mesh: every kind of pass the demo's race runs, quick to open.
const req: SessionRequest = {
  model: 'random:dim=32,hidden=64,layers=1,heads=2,kv=1,vocab=64,seq=16',
  modelBaseUrl: 'file:///nowhere/',
  mesh: { width: 2, height: 2 },
  preset: 'wse-3',
  allreduce: 'ktree',
  prompt: '',
  tokens: 2,
  temperature: 0,
  topP: 1,
  seed: 1,
};

describe('no leaks across the demo\'s sessions in one worker', () => {
  it(`${SESSIONS} race sessions opened, stepped and closed as the worker does: the live GPU buffers return to their start, every engine's pipeline cache is dropped, and the heap stays within ${HEAP_BOUND_MB} MB of the first session's`, async () => {
    const count = new BufferCount();
    // As in the worker: one device kept across the sessions, every buffer made on it counted.
    const host = { gpu: keptDevice(count.counted(nodeGpu)), keepsDevice: true, fetchBytes: () => Promise.reject(new Error('nothing to fetch')) };
    const openAtStart = GpuResources.open.size;
    const owners = new Set<GpuResources>();
    const t0 = performance.now();
    let afterFirst = 0;
    let openLive = 0;
    for (let i = 0; i < SESSIONS; i++) {
      const before = new Set(GpuResources.open);
      const s = await RaceSession.open(req, host);
      for (const r of GpuResources.open) if (!before.has(r)) owners.add(r);
      expect(s.info.mode).toBe('webgpu');
      const events = await s.stepTokens(2);
      expect(events).toHaveLength(2);
      if (i === 0) openLive = count.live;
      // Each open session holds what the first held, nothing carried over.
      expect(count.live, `live GPU buffers with session #${i + 1} open`).toBe(openLive);
      s.dispose();
      expect(count.live, `live GPU buffers after closing session #${i + 1}`).toBe(0);
      if (i === 0) afterFirst = heapMB();
    }
    const afterLast = heapMB();
    const seconds = (performance.now() - t0) / 1e3;
    console.log(`${SESSIONS} sessions in ${seconds.toFixed(1)} s: ${count.created} GPU buffers made, ${count.live} live after the last; heap ${afterFirst.toFixed(1)} MB after the first, ${afterLast.toFixed(1)} MB after the last`);
    expect(openLive).toBeGreaterThan(0);
    expect(count.created).toBeGreaterThanOrEqual(SESSIONS * openLive);
    expect(owners.size).toBe(2 * SESSIONS);
    for (const r of owners) expect(r.cachedPipelines).toBe(0);
    expect(GpuResources.open.size).toBe(openAtStart);
    (await host.gpu()).destroy();
    expect(afterLast - afterFirst).toBeLessThan(HEAP_BOUND_MB);
  }, 900_000);
});
