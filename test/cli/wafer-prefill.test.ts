import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fabricPrefill } from '../../src/cost/prefill.ts';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate } from '../../src/engines/generate.ts';
import { DEFAULT_PRESET, meshFromPreset } from '../../src/mesh/config.ts';
import { compilePrefill } from '../../src/mesh/programs/prefill-fabric.ts';
import { kvDim } from '../../src/model/config.ts';
import { writeTokenizer } from '../../src/model/tokenizer.ts';
import { cli, expectOneLineError } from '../helpers/cli.ts';
import { loadStories260K, STORIES260K_PATH, testTokenizer } from '../helpers/models.ts';

// stories260K ships no tokenizer: a byte-level one of its 512 ids gives a prompt of known ids.
const dir = mkdtempSync(join(tmpdir(), 'wm-wafer-prefill-'));
const tokenizer = testTokenizer(512);
const tokPath = join(dir, 'tok512.bin');
writeFileSync(tokPath, writeTokenizer(tokenizer));
const PROMPT = 'abcd';
const promptIds = tokenizer.encode(PROMPT, true);
const model = loadStories260K();
const TOKENS = 6;
const base = ['generate', '--model', STORIES260K_PATH, '--tokenizer', tokPath, '--prompt', PROMPT, '--tokens', String(TOKENS), '--mesh', '8x8', '--sram', '65536'];
// The wafer prefill runs in the decode's own cores, past the decode's words: 48 KB cores hold the decode (29 KB) but not both.

function run(...extra: string[]) {
  const r = cli(...base, '--json', ...extra);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

async function reference(): Promise<number[]> {
  return (await generate(new CpuEngine(model), { promptIds, tokens: TOKENS, temperature: 0, topP: 1, seed: 42 })).ids;
}

describe('generate --wafer-prefill gemm: the prompt through the wafer prefill on the fabric', () => {
  it('stories260K on 8 x 8, a 5-position prompt: greedy ids equal --wafer-prefill token and the CPU reference; the prefill timed, modelled and its fabric phases measured = modelled', async () => {
    expect(promptIds).toHaveLength(5);
    const ref = await reference();
    const gemm = run('--engine', 'mesh', '--wafer-prefill', 'gemm');
    const token = run('--engine', 'mesh', '--wafer-prefill', 'token');
    expect(gemm.ids).toEqual(ref);
    expect(token.ids).toEqual(ref);

    // Token by token: the prompt's positions are forward passes; no wafer prefill reported.
    expect(token.timings.prefill).toBe('token by token');
    expect(token.wafer_prefill).toBeUndefined();

    const t = gemm.timings;
    expect(t.prefill).toBe('batched');
    expect(t.prefill_tokens).toBe(5);
    expect(t.forward_passes).toBe(TOKENS); // one prefill step, then one per id after the first
    expect(t.prefill_ms).toBeGreaterThan(0);
    expect(t.ttft_ms).toBeGreaterThanOrEqual(t.prefill_ms);
    expect(t.prefill_tokens_per_s).toBeCloseTo((1000 * 5) / t.prefill_ms, 0);

    // The wafer prefill: every phase counted where its words moved, equal to the plan's closed form,
    // and the cost model's words for the same algorithm the same.
    const w = gemm.wafer_prefill;
    const mesh = { ...meshFromPreset(DEFAULT_PRESET, 8, 8), sramBytes: 65536 };
    const plan = compilePrefill(mesh, model.config, 5);
    expect(w.block).toBe('8x8');
    expect(w.positions).toBe(5);
    expect(w.fabric_phases).toBe(plan.phases.length);
    expect(w.fabric_phases_equal_to_model).toBe(true);
    expect(w.measured_fabric_words).toBeGreaterThan(0);
    expect(w.measured_fabric_words).toBe(w.modelled_fabric_words);
    expect(w.cost_model_fabric_words).toBe(w.measured_fabric_words);
    expect(w.measured_fabric_steps).toBe(w.modelled_fabric_steps);
    expect(w.gpu_ms).toBeGreaterThan(0);
    expect(w.gpu_ms).toBeLessThanOrEqual(t.prefill_ms);
    // Its KV cache into the decode's layout: the bytes of 5 positions, landed at the edge, carried on measured = modelled.
    const bytes = 2 * model.config.nLayers * 5 * kvDim(model.config) * 4;
    expect(w.kv_handoff.bytes).toBe(bytes);
    // Nothing enters from outside: the KV cache goes from the prefill's owners to the decode's on the fabric alone.
    expect(w.kv_handoff.edge_words_in).toBe(0);
    expect(w.kv_relayout.fabric_phases).toBe(w.kv_handoff.fabric_phases);
    expect(w.kv_relayout.fabric_phases_equal_to_model).toBe(true);
    expect(w.kv_relayout.words_landed).toBe(bytes / 4);
    expect(w.kv_relayout.measured_fabric_words).toBeGreaterThan(0);
    expect(w.kv_handoff.fabric_phases).toBeGreaterThan(0);
    expect(w.kv_handoff.fabric_phases_equal_to_model).toBe(true);
    expect(w.kv_handoff.measured_fabric_words).toBeGreaterThan(0);

    // Modelled at the preset: the cost model's prefill plus the hand-off's fabric cycles.
    const c = fabricPrefill(8, 8, model.config, 5, { hop: mesh.cyclesPerHop, ramp: mesh.cyclesPerRamp, bw: mesh.wordsPerLinkCycle }, mesh.flopsPerCoreCycle);
    expect(w.modelled_cycles).toBeCloseTo(c.totalCycles, 2);
    expect(t.modelled_hardware).toBe(DEFAULT_PRESET);
    const seconds = (c.totalCycles + w.kv_relayout.modelled_fabric_cycles + w.kv_handoff.modelled_fabric_cycles) / mesh.clockHz;
    expect(Math.abs(t.modelled_ttft_ms / (1000 * seconds) - 1)).toBeLessThan(0.02); // ms rounded to 3 places
    expect(Math.abs(t.modelled_prefill_tokens_per_s / (5 / seconds) - 1)).toBeLessThan(1e-6);
  }, 300_000);

  it('disaggregated, --prefill mesh --decode cpu: the wafer prefill, then the hand-off; ids equal the CPU reference', async () => {
    const ref = await reference();
    const out = run('--prefill', 'mesh', '--decode', 'cpu', '--wafer-prefill', 'gemm');
    expect(out.prefill_engine).toBe('mesh');
    expect(out.ids).toEqual(ref);
    expect(out.wafer_prefill.fabric_phases_equal_to_model).toBe(true);
    expect(out.wafer_prefill.measured_fabric_words).toBe(out.wafer_prefill.cost_model_fabric_words);
    const t = out.timings;
    expect(t.prefill).toBe('batched');
    expect(t.kv_handoff_bytes).toBe(2 * model.config.nLayers * 5 * kvDim(model.config) * 4);
    expect(t.modelled_ttft_ms).toBeGreaterThan(0);
    expect(t.modelled_prefill).toMatch(/wafer prefill on the fabric/);
  }, 300_000);

  it('is refused in one line where it cannot apply', () => {
    expectOneLineError(cli(...base, '--engine', 'cpu', '--wafer-prefill', 'gemm'), /--wafer-prefill gemm .*the cpu engine takes the prompt.*--engine mesh/);
    expectOneLineError(cli(...base, '--prefill', 'gpu', '--decode', 'mesh', '--wafer-prefill', 'gemm'), /--wafer-prefill gemm .*the gpu engine takes the prompt/);
    expectOneLineError(cli(...base, '--engine', 'mesh', '--wafer-prefill', 'matmul'), /--wafer-prefill.*matmul.*(token|gemm)/);
    // A mesh on which the prefill's plan does not fit: named, with what to do.
    expectOneLineError(cli(...base, '--engine', 'mesh', '--sram', '49152', '--wafer-prefill', 'gemm'), /--wafer-prefill gemm: the wafer prefill of 5 positions needs \d+ bytes per core past the decode's \d+ on the 8x8 mesh \(\d+ in all\) but a core has 49152; use --sram \d+ or more, a larger mesh, or a shorter prompt; or use --wafer-prefill token/);
    expectOneLineError(cli(...base, '--engine', 'mesh', '--placement', 'pipelined:1', '--wafer-prefill', 'gemm'), /--wafer-prefill gemm runs on the whole-mesh placement only, not --placement pipelined:1; use --placement whole or --wafer-prefill token/);
  }, 120_000);
});
