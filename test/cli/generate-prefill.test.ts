import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog.ts';
import { gpuPreset } from '../../src/cost/hardware.ts';
import { gpuPrefillCost, gpuTokenCost } from '../../src/cost/model.ts';
import { createMachine } from '../../src/engines/index.ts';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate } from '../../src/engines/generate.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { writeTokenizer } from '../../src/model/tokenizer.ts';
import { loadStories260K, STORIES260K_PATH, testTokenizer } from '../helpers/models.ts';

const BIN = resolve(__dirname, '../../bin/wafermesh.mjs');
const dir = mkdtempSync(join(tmpdir(), 'wm-prefill-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// stories260K ships no tokenizer: a byte-level one of its 512 ids gives a prompt of known ids
// (BOS, then one byte token per character).
const tokenizer = testTokenizer(512);
const tokPath = join(dir, 'tok512.bin');
writeFileSync(tokPath, writeTokenizer(tokenizer));
const PROMPT = 'abcdef';
const promptIds = tokenizer.encode(PROMPT, true);
const model = loadStories260K();
const TOKENS = 16;

/** The ids of the prompt fed one token at a time (the decode as it was before prefill). */
async function tokenByTokenIds(): Promise<number[]> {
  return (await generate(new CpuEngine(model), { promptIds, tokens: TOKENS, temperature: 0, topP: 1, seed: 42 })).ids;
}

function run(engine: string, ...extra: string[]) {
  const r = cli('generate', '--engine', engine, '--model', STORIES260K_PATH, '--tokenizer', tokPath, '--prompt', PROMPT, '--tokens', String(TOKENS), '--json', ...extra);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe('wafermesh generate: prefill, time to first token and decode measured apart', () => {
  it('a 7-token prompt: cpu and gpu prefill it in one step, with the token-by-token ids; ttft, prefill and decode rates; the GPU modelled from its prefill plan', async () => {
    expect(promptIds).toHaveLength(7);
    const ref = await tokenByTokenIds();
    expect(ref).toHaveLength(TOKENS);
    const hw = gpuPreset(CATALOG.defaults.gpu);
    for (const engine of ['cpu', 'gpu']) {
      const out = run(engine);
      expect(out.prompt_ids).toEqual(promptIds);
      expect(out.ids, engine).toEqual(ref);
      const t = out.timings;
      // One prefill step, then one step per generated id after the first (token by token: 6 + 16).
      expect(t.forward_passes).toBe(TOKENS);
      expect(t.prefill).toBe('batched');
      expect(t.prefill_tokens).toBe(7);
      expect(t.prefill_ms).toBeGreaterThan(0);
      expect(t.ttft_ms).toBeGreaterThanOrEqual(t.prefill_ms);
      expect(t.ttft_ms).toBeLessThan(t.total_ms);
      expect(t.prefill_tokens_per_s).toBeCloseTo((1000 * 7) / t.prefill_ms, 0);
      expect(t.prompt_ms).toBe(0);
      expect(t.decode_tokens).toBe(TOKENS - 1);
      expect(t.decode_tokens_per_s).toBeGreaterThan(0);
      expect(t.tokens_per_s).toBeGreaterThan(0);
      if (engine === 'cpu') {
        expect(t.modelled_ttft_ms).toBeUndefined();
        expect(t.modelled_prefill).toBeUndefined();
      } else {
        const cost = gpuPrefillCost(model.config, 7, hw);
        expect(t.modelled_prefill).toBe('batched');
        expect(t.modelled_hardware).toBe(hw.name);
        expect(t.modelled_ttft_ms).toBeCloseTo(1000 * cost.seconds, 2);
        expect(t.modelled_prefill_tokens_per_s).toBeCloseTo(7 / cost.seconds, 0);
      }
    }
  });

  it('the wafer feeds the prompt token by token: the reference ids, its modelled TTFT the sum of the prompt positions\' modelled costs', async () => {
    const out = run('mesh', '--mesh', '8x8', '--tokens', '4');
    expect(out.ids).toEqual((await tokenByTokenIds()).slice(0, 4));
    const t = out.timings;
    expect(t.forward_passes).toBe(6 + 4);
    expect(t.prefill).toBe('token by token');
    expect(t.prefill_tokens).toBe(7);
    expect(t.prompt_ms).toBeGreaterThan(0);
    expect(t.prefill_ms).toBeGreaterThan(t.prompt_ms);
    expect(t.ttft_ms).toBeGreaterThanOrEqual(t.prefill_ms);
    expect(t.decode_tokens).toBe(3);
    expect(t.decode_tokens_per_s).toBeGreaterThan(0);
    // The wafer's plan, closed form, position by position: positions 0…6, the last giving the first id.
    const standIn = await createMachine('cpu', model, { standIn: 'mesh', mesh: meshFromPreset(CATALOG.defaults.wafer, 8, 8) });
    let seconds = 0;
    for (let pos = 0; pos < promptIds.length; pos++) {
      await standIn.forward(promptIds[pos], pos);
      seconds += standIn.lastTrace()!.cost.seconds;
    }
    expect(t.modelled_prefill).toBe('token by token');
    expect(t.modelled_hardware).toBe(CATALOG.defaults.wafer);
    expect(t.modelled_ttft_ms).toBeCloseTo(1000 * seconds, 3);
    expect(t.modelled_prefill_tokens_per_s / (7 / seconds)).toBeCloseTo(1, 4);
  });

  it('a BOS-only prompt is a prefill of one position', () => {
    const r = cli('generate', '--model', STORIES260K_PATH, '--tokens', '3', '--json');
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout).timings;
    expect(t.prefill_tokens).toBe(1);
    expect(t.forward_passes).toBe(3);
    expect(t.prefill_tokens_per_s).toBeCloseTo(1000 / t.prefill_ms, 0);
    expect(t.decode_tokens).toBe(2);
  });
});

describe('gpuPrefillCost', () => {
  const hw = gpuPreset(CATALOG.defaults.gpu);
  it('reads each weight once per tile of 16 prompt tokens: 16 tokens cost less than 16 one-token prefills, and one tile more costs more', () => {
    const c = model.config;
    const one = gpuPrefillCost(c, 1, hw);
    const sixteen = gpuPrefillCost(c, 16, hw);
    expect(sixteen.seconds).toBeLessThan(16 * one.seconds);
    expect(gpuPrefillCost(c, 17, hw).offchipBytes).toBeGreaterThan(sixteen.offchipBytes);
    expect(sixteen.tokensPerS).toBeCloseTo(16 / sixteen.seconds, 6);
    expect(Object.values(sixteen.time).reduce((a, b) => a + b, 0)).toBeCloseTo(sixteen.seconds, 12);
    // One position through the prefill's kernels reads what a decode token does, give or take the
    // classifier's tile and the norms: the same order of time.
    const token = gpuTokenCost(c, 0, hw);
    expect(one.seconds / token.seconds).toBeGreaterThan(0.5);
    expect(one.seconds / token.seconds).toBeLessThan(2);
  });
});
