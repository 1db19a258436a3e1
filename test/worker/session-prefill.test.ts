import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { gpuMachineTrace, gpuPrefillCost } from '../../src/cost/model.ts';
import { gpuPreset } from '../../src/cost/hardware.ts';
import { CATALOG } from '../../src/catalog.ts';
import { readCheckpoint } from '../../src/model/checkpoint.ts';
import { readTokenizer } from '../../src/model/tokenizer.ts';
import { RaceSession } from '../../src/worker/session.ts';
import type { SessionRequest, TokenEvent } from '../../src/worker/types.ts';
import { cli } from '../helpers/cli.ts';
import { demoRequest, sessionHost } from '../helpers/session.ts';

const ROOT = resolve(__dirname, '../..');
const PROMPT = 'Once upon a time';
const TOKENS = 12;
const base = demoRequest({ prompt: PROMPT, tokens: TOKENS });
const host = sessionHost;

const model = readCheckpoint(new Uint8Array(readFileSync(resolve(ROOT, 'public/models/wm-stories.bin'))));
const tok = readTokenizer(new Uint8Array(readFileSync(resolve(ROOT, 'public/models/wm-stories.tok.bin'))), 't', 512);
const promptIds = tok.encode(PROMPT, true);
const P = promptIds.length;
const json = (out: string) => JSON.parse(out.slice(out.indexOf('{')));

async function run(req: SessionRequest, gpu = true): Promise<{ s: RaceSession; events: TokenEvent[] }> {
  const s = await RaceSession.open(req, host(gpu));
  expect(s.info.refusal).toBeNull();
  const events = await s.stepTokens(TOKENS);
  return { s, events };
}

/** The KV cache the reference holds after the prompt: its size in bytes (float32 keys and values). */
async function referenceKvBytes(): Promise<number> {
  const cpu = new CpuEngine(model);
  await cpu.prefill(promptIds, 0);
  const kv = await cpu.kvCache(P);
  return (kv.k.length + kv.v.length) * 4;
}

describe('the race session\'s prefill and its disaggregated mode', () => {
  it('monolithic: the GPU prefills the prompt as one batch, the wafer token by token on the mesh engine; the first token carries both prefills, modelled as `generate` models them', async () => {
    const { s, events } = await run(base);
    expect(s.info.serving).toBe('monolithic');
    expect(s.info.promptPositions).toBe(P);
    expect(events).toHaveLength(TOKENS);
    const pf = events[0].prefill!;
    expect(pf).toBeDefined();
    expect(events.slice(1).some((e) => e.prefill)).toBe(false);
    const hw = gpuPreset(CATALOG.defaults.gpu);
    expect(pf.gpu).toMatchObject({ positions: P, how: 'batched', modelledHardware: CATALOG.defaults.gpu });
    expect(pf.gpu.modelledSeconds).toBe(gpuPrefillCost(model.config, P, hw).seconds);
    expect(pf.mesh).toMatchObject({ positions: P, how: 'token by token', modelledHardware: 'wse-3' });
    expect(pf.handoff).toBeNull();
    // Measured here (wall clock), each pane's own.
    expect(pf.gpu.wallMs).toBeGreaterThan(0);
    expect(pf.mesh!.wallMs).toBeGreaterThan(0);
    expect(pf.meshTtftSeconds).toBe(pf.mesh!.modelledSeconds);
    // The wafer's prefill is P positions: more than its last one, which gives the first id.
    expect(pf.mesh!.modelledSeconds).toBeGreaterThan(events[0].meshCost.seconds);
    // The first token's GPU cost stays a decode step's at that position (the lessons read it per token).
    expect(events[0].gpuCost).toEqual(gpuMachineTrace(model.config, promptIds[P - 1], P - 1, hw).cost);
    // The same modelled times to the first token as `generate` prints for each machine alone.
    const mesh = json(cli('generate', '--engine', 'mesh', '--mesh', '8x8', '--model', 'wm-stories', '--prompt', PROMPT, '--tokens', '2', '--json').stdout);
    expect(mesh.timings.modelled_prefill).toBe('token by token');
    expect(pf.mesh!.modelledSeconds * 1e3).toBeCloseTo(mesh.timings.modelled_ttft_ms, 3);
    const gpu = json(cli('generate', '--engine', 'gpu', '--model', 'wm-stories', '--prompt', PROMPT, '--tokens', '2', '--json').stdout);
    expect(gpu.timings.modelled_prefill).toBe('batched');
    expect(pf.gpu.modelledSeconds * 1e3).toBeCloseTo(gpu.timings.modelled_ttft_ms, 3);
    s.dispose();
  }, 300_000);

  it('disaggregated: the GPU prefills, its KV cache crosses into the wafer (bytes = the KV cache\'s size, each fabric phase measured = modelled), and the wafer decodes the ids of the monolithic run and of `generate --prefill gpu --decode mesh`', async () => {
    const mono = await run(base);
    const want = mono.events.map((e) => e.mesh.id);
    mono.s.dispose();
    const { s, events } = await run({ ...base, serving: 'disaggregated' });
    expect(s.info.serving).toBe('disaggregated');
    expect(events.map((e) => e.mesh.id)).toEqual(want);
    expect(events.map((e) => e.mesh.piece).join('')).toBe(mono.events.map((e) => e.mesh.piece).join(''));
    // The GPU decodes nothing after its prefill.
    expect(events.every((e) => e.gpu.id === -1 && e.gpu.piece === '')).toBe(true);
    const pf = events[0].prefill!;
    expect(pf.mesh).toBeNull();
    expect(pf.gpu).toMatchObject({ positions: P, how: 'batched' });
    expect(pf.gpu.wallMs).toBeGreaterThan(0);
    const h = pf.handoff!;
    expect(h.positions).toBe(P);
    expect(h.bytes).toBe(await referenceKvBytes());
    expect(h.wallMs).toBeGreaterThan(0);
    // Every KV word lands at the edge at least once (once per copy the wafer keeps).
    expect(h.edgeWords!).toBeGreaterThanOrEqual(h.bytes / 4);
    expect(h.phases.length).toBeGreaterThan(0);
    const summed = new Float64Array(8 * 8 * 4);
    for (const p of h.phases) {
      expect(p.firstDifference, p.name).toBeNull();
      expect([p.words, p.steps]).toEqual([p.modelledWords, p.modelledSteps]);
      expect(p.words).toBeGreaterThan(0);
      expect(p.perLink.reduce((a, b) => a + b, 0)).toBe(p.words);
      // Words leave the west edge eastwards along their row: no link carries a word north, south or west.
      p.perLink.forEach((w, i) => {
        if (w > 0) expect(i % 4, `${p.name} link ${i}`).toBe(CATALOG.linkOrder.indexOf('east'));
      });
      p.perLink.forEach((w, i) => (summed[i] += w));
    }
    // The first token's links are the hand-off's, as the fabric counted them.
    expect(Array.from(events[0].perLink)).toEqual(Array.from(summed));
    expect(events[0].measured!.phasesEqual).toBe(h.phases.length);
    // Modelled: the slower of the network and the edge I/O, then the fabric phases.
    expect(h.modelledSeconds).toBeCloseTo(Math.max(h.networkSeconds, h.edgeSeconds) + h.fabricSeconds, 15);
    expect(h.latencyAssumed).toBe(true);
    expect(pf.meshTtftSeconds).toBeCloseTo(pf.gpu.modelledSeconds + h.modelledSeconds, 15);
    // Had it prefilled alone: the monolithic race's wafer prefill, modelled.
    expect(pf.meshAloneSeconds).toBeCloseTo(mono.events[0].prefill!.mesh!.modelledSeconds, 15);
    // The wafer's own tokens after it: measured on the fabric.
    for (const e of events.slice(1)) expect(e.measured!.phasesEqual).toBe(e.measured!.phases);
    // The CLI's disaggregated run: the same ids, bytes and modelled times.
    const c = json(cli('generate', '--prefill', 'gpu', '--decode', 'mesh', '--mesh', '8x8', '--model', 'wm-stories', '--prompt', PROMPT, '--tokens', String(TOKENS), '--json').stdout);
    expect(c.ids).toEqual(want);
    expect(c.timings.kv_handoff_bytes).toBe(h.bytes);
    expect(c.timings.kv_edge_words_in).toBe(h.edgeWords);
    expect(c.timings.kv_handoff_fabric_words).toBe(h.phases.reduce((a, p) => a + p.words, 0));
    expect(h.modelledSeconds * 1e3).toBeCloseTo(c.timings.modelled_kv_handoff_ms, 3);
    expect(pf.meshTtftSeconds * 1e3).toBeCloseTo(c.timings.modelled_ttft_ms, 3);
    s.dispose();
  }, 300_000);

  it('disaggregated: stepping a phase before the hand-off is refused in one line; after it the wafer steps its own phases', async () => {
    const s = await RaceSession.open({ ...base, serving: 'disaggregated', tokens: 3 }, host());
    await expect(s.stepPhase()).rejects.toThrow(/^prefill-first: in the disaggregated mode the GPU prefills the prompt .*step one token first/);
    const [first] = await s.stepTokens(1);
    expect(first.prefill!.handoff).not.toBeNull();
    const ev = await s.stepPhase();
    expect([ev.pass, ev.pos]).toEqual([0, P]);
    s.dispose();
  }, 120_000);

  it('a prompt stepped phase by phase by hand is the wafer\'s prefill too, modelled, but its wall clock is not reported as one', async () => {
    const s = await RaceSession.open({ ...base, tokens: 2 }, host(false));
    for (let i = 0; i < 3; i++) await s.stepPhase();
    const events = await s.stepTokens(2);
    const pf = events[0].prefill!;
    expect(pf.mesh!.wallMs).toBeNull();
    expect(pf.meshTtftWallMs).toBeNull();
    expect(pf.mesh!.modelledSeconds).toBeGreaterThan(events[0].meshCost.seconds);
    expect(pf.gpu.wallMs).toBeGreaterThan(0);
    s.dispose();
  });

  it('without WebGPU the CPU stands in for both: the same ids, the hand-off\'s bytes and modelled network time, no fabric phases', async () => {
    const mono = await run({ ...base, tokens: 6 }, false);
    const { s, events } = await run({ ...base, tokens: 6, serving: 'disaggregated' }, false);
    expect(s.info.mode).toBe('cpu');
    expect(events.map((e) => e.mesh.id)).toEqual(mono.events.map((e) => e.mesh.id));
    expect(mono.events[0].prefill!.mesh!.how).toBe('token by token');
    const h = events[0].prefill!.handoff!;
    expect(h.bytes).toBe(await referenceKvBytes());
    expect([h.edgeWords, h.phases, h.fabricSeconds]).toEqual([null, [], 0]);
    expect(h.modelledSeconds).toBeCloseTo(h.networkSeconds, 15);
    expect(events[0].measured).toBeNull();
    mono.s.dispose();
    s.dispose();
  }, 120_000);
});
