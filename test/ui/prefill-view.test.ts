import { describe, expect, it } from 'vitest';
import { CATALOG, catalogData } from '../../src/catalog.ts';
import { handoffLines, measuredTtft, modelledTtft, paneStage, type StageInput } from '../../src/ui/prefill-view.ts';
import { chooseScale, emptyTrack, extend, raceSeconds, trackSeconds } from '../../src/ui/race-clock.ts';
import { parseState, serializeState, defaultState } from '../../src/ui/url-state.ts';
import type { HandoffReport, PrefillReport } from '../../src/worker/types.ts';

const catalog = catalogData();

const handoff: HandoffReport = {
  positions: 5,
  bytes: 7680,
  wallMs: 12.5,
  modelledSeconds: 2.5e-5,
  networkSeconds: 1.5e-5,
  edgeSeconds: 2e-5,
  fabricSeconds: 5e-6,
  network: CATALOG.links.network.name,
  edge: CATALOG.links.waferEdge.name,
  latencyAssumed: true,
  edgeWords: 1920,
  phases: [],
};
const mono: PrefillReport = {
  mesh: { positions: 5, how: 'token by token', modelledSeconds: 3e-5, modelledHardware: 'wse-3', wallMs: 40 },
  gpu: { positions: 5, how: 'batched', modelledSeconds: 9e-3, modelledHardware: 'toy-gpu', wallMs: 6 },
  handoff: null,
  meshTtftSeconds: 3e-5,
  meshTtftWallMs: 40,
};
const disagg: PrefillReport = { mesh: null, gpu: mono.gpu, handoff, meshTtftSeconds: 9e-3 + 2.5e-5, meshTtftWallMs: 30, meshAloneSeconds: 3e-5 };
const input = (x: Partial<StageInput>): StageInput => ({ machine: 'mesh', serving: 'monolithic', report: mono, revealed: 0, total: 8, decoded: true, holding: false, ...x });

describe('a race pane\'s prefill, hand-off and decode', () => {
  it('monolithic: prefill until the first token, then decode, then done; the time to first token is the pane\'s own', () => {
    expect(paneStage(input({ report: null })).stage).toBe('waiting');
    expect(paneStage(input({ revealed: 0 })).stage).toBe('prefill');
    expect(paneStage(input({ revealed: 3 })).stage).toBe('decode');
    expect(paneStage(input({ revealed: 8 })).stage).toBe('done');
    expect(paneStage(input({ revealed: 8, decoded: false })).stage).toBe('decode');
    const mesh = paneStage(input({ revealed: 1 }));
    expect([mesh.ttftSeconds, mesh.ttftWallMs, mesh.prefill]).toEqual([3e-5, 40, mono.mesh]);
    const gpu = paneStage(input({ machine: 'gpu', revealed: 1 }));
    expect([gpu.ttftSeconds, gpu.ttftWallMs, gpu.prefill, gpu.prefillOnly]).toEqual([9e-3, 6, mono.gpu, false]);
  });

  it('disaggregated: the GPU pane only prefills and hands over; the wafer waits for it, takes the KV cache in while the clock holds, then decodes', () => {
    const gpu = (x: Partial<StageInput>) => paneStage(input({ machine: 'gpu', serving: 'disaggregated', report: disagg, total: 1, ...x }));
    expect(gpu({ revealed: 0 }).stage).toBe('prefill');
    expect(gpu({ revealed: 1, holding: true }).stage).toBe('handoff');
    expect(gpu({ revealed: 1 }).stage).toBe('done');
    expect([gpu({ revealed: 1 }).prefillOnly, gpu({ revealed: 1 }).ttftSeconds, gpu({}).aloneSeconds]).toEqual([true, null, null]);
    const mesh = (x: Partial<StageInput>) => paneStage(input({ serving: 'disaggregated', report: disagg, ...x }));
    expect(mesh({ revealed: 0 }).stage).toBe('prefill');
    expect(mesh({ revealed: 1, holding: true }).stage).toBe('handoff');
    expect(mesh({ revealed: 2 }).stage).toBe('decode');
    expect([mesh({ revealed: 2 }).ttftSeconds, mesh({ revealed: 2 }).prefill, mesh({}).handoff, mesh({}).aloneSeconds]).toEqual([9e-3 + 2.5e-5, null, handoff, 3e-5]);
    expect(paneStage(input({ revealed: 2 })).aloneSeconds).toBeNull();
  });

  it('labels each time to first token as modelled or measured, and the hand-off by what sets its time', () => {
    expect(modelledTtft(3e-5, mono.mesh, 'monolithic', null)).toBe('30.0 µs modelled (wse-3, prefill token by token of 5 positions)');
    expect(modelledTtft(9e-3, mono.gpu, 'monolithic', null)).toBe('9.00 ms modelled (toy-gpu, batched prefill of 5 positions)');
    expect(modelledTtft(disagg.meshTtftSeconds, null, 'disaggregated', handoff)).toMatch(/^9\.03 ms modelled \(the GPU's batched prefill of 5 positions, then the KV cache's hand-off\)$/);
    expect(measuredTtft(40)).toBe('40.0 ms measured here (wall clock on this driver)');
    expect(measuredTtft(null)).toMatch(/^not measured/);
    const lines = handoffLines(handoff);
    expect(lines[0]).toEqual({ name: 'KV cache handed over', value: '7,680 B (7.5 KiB)' });
    // The edge (20 µs) is slower than the network (15 µs) here: it sets the time.
    expect(lines[1].value).toMatch(/^25\.0 µs: 15\.0 µs over EFA .* \(latency assumed\), 20\.0 µs through CS-3 .*; the slower \(CS-3 system I\/O \(1\.2 Tb\/s\)\) plus 5\.00 µs of fabric phases$/);
    expect(lines[2].value).toMatch(/^12\.5 ms wall clock/);
  });

  it('the race clock extrapolates a track from its first token (the prefill) plus its decode steps\' mean, so a long prefill does not stretch the race', () => {
    const t = emptyTrack();
    extend(t, ['a', 'b', 'c', 'd'], [0.5, 0.01, 0.01, 0.01]);
    const scale = chooseScale([t], 24);
    expect((0.5 + 23 * 0.01) / scale).toBeCloseTo(raceSeconds(24), 9);
    // The whole track decoded: its own total.
    const whole = emptyTrack();
    extend(whole, new Array(24).fill('x'), [0.5, ...new Array(23).fill(0.01)]);
    expect(trackSeconds(whole) / chooseScale([whole], 24)).toBeCloseTo(raceSeconds(24), 9);
  });

  it('keeps the serving mode in the URL as mode=, and names a bad one', () => {
    expect(parseState('', catalog).state.serving).toBe('monolithic');
    expect(serializeState(defaultState(catalog))).not.toMatch(/mode=/);
    const s = { ...defaultState(catalog), serving: 'disaggregated' as const };
    expect(serializeState(s)).toMatch(/&mode=disaggregated/);
    expect(parseState(serializeState(s), catalog)).toEqual({ state: s, errors: [] });
    expect(parseState('?mode=split', catalog)).toEqual({ state: defaultState(catalog), errors: ['mode=split is not monolithic or disaggregated; using monolithic'] });
  });
});
