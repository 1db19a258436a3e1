import { describe, expect, it } from 'vitest';
import { nodeGpu } from '../../src/gpu/node.ts';
import { BufferCount } from '../../src/worker/buffer-count.ts';
import { keptDevice } from '../../src/worker/kept-device.ts';
import { RaceSession, type SessionHost } from '../../src/worker/session.ts';
import type { SessionRequest, TokenEvent } from '../../src/worker/types.ts';
import { demoRequest, fileBytes } from '../helpers/session.ts';

const base = demoRequest({ tokens: 10 });

/** As in the worker: one device kept across sessions and replaced when lost, every buffer counted; `devices` counts those taken. */
function countedHost(): { host: SessionHost; count: BufferCount; devices: () => number } {
  const count = new BufferCount();
  let devices = 0;
  const take = count.counted(() => {
    devices++;
    return nodeGpu();
  });
  return { host: { gpu: keptDevice(take), fetchBytes: fileBytes, keepsDevice: true }, count, devices: () => devices };
}

const ids = (events: TokenEvent[]) => events.map((e) => [e.mesh.id, e.gpu.id]);

async function uninterrupted(req: SessionRequest): Promise<TokenEvent[]> {
  const s = await RaceSession.open(req, countedHost().host);
  try {
    return await s.stepTokens(req.tokens);
  } finally {
    s.dispose();
  }
}

describe('the race session survives a GPU device lost mid-run', () => {
  it('greedy: lost between tokens and lost during a step, it takes a new device, resumes where it was, and its ids and text equal an uninterrupted run\'s; no buffer is left behind', async () => {
    const want = await uninterrupted(base);
    expect(want).toHaveLength(10);
    const { host, count, devices } = countedHost();
    const s = await RaceSession.open(base, host);
    const heard: string[] = [];
    s.onDeviceLost = (m) => heard.push(m);
    const got = await s.stepTokensRecovering(3);
    // Lost between steps: the next step finds out and recovers.
    s.loseDevice();
    got.push(...(await s.stepTokensRecovering(3)));
    expect(s.recoveries).toEqual([expect.stringMatching(/^the GPU device was lost \(.*\); the engines were rebuilt on a new device and the race resumed at token 4$/)]);
    // Lost while a step is in flight (a token decodes in several GPU submissions and read-backs).
    const step = s.stepTokensRecovering(4);
    await new Promise((r) => setTimeout(r, 5));
    s.loseDevice();
    got.push(...(await step));
    expect(s.recoveries).toHaveLength(2);
    expect(s.recoveries[1]).toMatch(/resumed at token (7|8|9|10)$/);
    expect(heard).toHaveLength(2);
    expect(devices()).toBe(3);
    expect(s.done).toBe(true);
    expect(ids(got)).toEqual(ids(want));
    expect(got.map((e) => e.mesh.piece).join('')).toBe(want.map((e) => e.mesh.piece).join(''));
    expect(got.map((e) => e.index)).toEqual(want.map((e) => e.index));
    // Every token after the recovery is still measured on the fabric, equal to its closed form.
    for (const e of got) expect([e.measured!.words, e.measured!.phasesEqual]).toEqual([e.measured!.modelledWords, e.measured!.phases]);
    s.dispose();
    expect(count.live, 'live GPU buffers after closing the recovered session').toBe(0);
  }, 300_000);

  it('sampling (temperature 0.9): the sampler is replayed too, so the ids after recovery equal an uninterrupted run\'s; a phase stepped alone restarts its token', async () => {
    const req = { ...base, temperature: 0.9, topP: 0.9, seed: 7 };
    const want = await uninterrupted(req);
    const { host, count } = countedHost();
    const s = await RaceSession.open(req, host);
    const got = await s.stepTokensRecovering(4);
    // Half a token by phases, then the device goes.
    for (let i = 0; i < 3; i++) await s.stepPhase();
    s.loseDevice();
    const ev = await s.stepPhaseRecovering();
    expect(ev.pass).toBe(0);
    expect(s.recoveries).toHaveLength(1);
    expect(s.recoveries[0]).toMatch(/resumed at token 5$/);
    got.push(...(await s.stepTokensRecovering(10)));
    expect(ids(got)).toEqual(ids(want));
    s.dispose();
    expect(count.live).toBe(0);
  }, 300_000);

  it('disaggregated: the GPU prefills again and its KV cache crosses into the new wafer; the wafer\'s ids after recovery equal an uninterrupted run\'s', async () => {
    const req: SessionRequest = { ...base, serving: 'disaggregated', tokens: 8 };
    const want = await uninterrupted(req);
    expect(want).toHaveLength(8);
    const { host, count } = countedHost();
    const s = await RaceSession.open(req, host);
    const got = await s.stepTokensRecovering(3);
    s.loseDevice();
    got.push(...(await s.stepTokensRecovering(5)));
    expect(s.recoveries).toEqual([expect.stringMatching(/resumed at token 4$/)]);
    expect(ids(got)).toEqual(ids(want));
    expect(got.slice(1).every((e) => e.gpu.id === -1)).toBe(true);
    s.dispose();
    expect(count.live).toBe(0);
  }, 300_000);

  it('lost while the prompt is fed: the new engines feed it again and its modelled prefill is counted once, not twice', async () => {
    const req = { ...base, tokens: 3 };
    const want = await uninterrupted(req);
    const { host, count } = countedHost();
    const s = await RaceSession.open(req, host);
    // Position 0 stepped whole, phase by phase, and the first step of position 1; then the device goes.
    let ev = await s.stepPhase();
    do ev = await s.stepPhase();
    while (ev.pass !== 0);
    s.loseDevice();
    const got = await s.stepTokensRecovering(3);
    expect(s.recoveries).toEqual([expect.stringMatching(/resumed at token 1$/)]);
    expect(ids(got)).toEqual(ids(want));
    expect(got[0].prefill!.mesh!.modelledSeconds).toBeCloseTo(want[0].prefill!.mesh!.modelledSeconds, 12);
    s.dispose();
    expect(count.live).toBe(0);
  }, 300_000);

  it('no new device: the step fails in one line saying so, nothing hangs', async () => {
    let calls = 0;
    const host: SessionHost = {
      gpu: () => (calls++ === 0 ? nodeGpu() : Promise.reject(new Error('no-webgpu: navigator.gpu gave no adapter'))),
      fetchBytes: fileBytes,
    };
    const s = await RaceSession.open(base, host);
    await s.stepTokensRecovering(1);
    s.loseDevice();
    const why = /^device-lost: the GPU device was lost .*, and no new device could be had \(no-webgpu: navigator\.gpu gave no adapter\); reload the page$/;
    await expect(s.stepTokensRecovering(1)).rejects.toThrow(why);
    // Every later step says the same, not something else.
    await expect(s.stepTokensRecovering(1)).rejects.toThrow(why);
    await expect(s.stepPhaseRecovering()).rejects.toThrow(why);
    s.dispose();
  }, 120_000);
});
