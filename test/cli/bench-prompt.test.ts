import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSuite } from '../../src/cli/bench/suite.ts';
import { loadStories260K } from '../helpers/models.ts';

const BIN = resolve(__dirname, '../../bin/wafermesh.mjs');
const dir = mkdtempSync(join(tmpdir(), 'wm-bench-prompt-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Refused in one line on stderr, before any GPU work: no header (printed once the adapter is up)
 * and none of the warnings the WebGPU driver prints when a device is made.
 */
function expectRefusedBeforeGpu(r: ReturnType<typeof cli>, pattern: RegExp) {
  expect(r.code, r.stderr).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stdout).not.toMatch(/adapter:/);
}

describe('wafermesh bench: the prompt-length sweep', () => {
  it('--suite prompt times the prompt apart from the decode: cpu and gpu batched, mesh token by token, modelled TTFT for gpu and mesh', () => {
    const json = join(dir, 'prompt.jsonl');
    const md = join(dir, 'prompt.md');
    const r = cli('bench', '--suite', 'prompt', '--prompts', '1,8', '--engines', 'cpu,gpu,mesh', '--tokens', '2', '--repeats', '1', '--json', json, '--md', md);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/TTFT ms/);
    const rows = readFileSync(json, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => `${x.engine} ${x.prompt_tokens}`)).toEqual(['cpu 1', 'gpu 1', 'mesh 1', 'cpu 8', 'gpu 8', 'mesh 8']);
    for (const x of rows) {
      expect(x.error, x.error).toBeUndefined();
      expect(x.suite).toBe('prompt');
      expect(x.prefill).toBe(x.engine === 'mesh' ? 'token by token' : 'batched');
      expect(x.ttft_ms).toBeGreaterThan(0);
      expect(x.ttft_ms_min).toBeLessThanOrEqual(x.ttft_ms);
      expect(x.ttft_ms_max).toBeGreaterThanOrEqual(x.ttft_ms);
      expect(x.prefill_tokens_per_s).toBeCloseTo((1000 * x.prompt_tokens) / x.ttft_ms, 6);
      expect(x.tokens_per_s).toBeGreaterThan(0); // the decode after the first id
      expect(x.max_abs_dlogit).toBeLessThan(1e-3);
      if (x.engine === 'cpu') expect(x.modelled_ttft_ms).toBeNull();
      else expect(x.modelled_ttft_ms).toBeGreaterThan(0);
    }
    // The wafer's modelled TTFT is its prompt positions' costs summed: 8 positions cost more than 1.
    const mesh = rows.filter((x) => x.engine === 'mesh');
    expect(mesh[1].modelled_ttft_ms).toBeGreaterThan(4 * mesh[0].modelled_ttft_ms);
    const text = readFileSync(md, 'utf8');
    expect(text).toMatch(/\| prompt tokens \| prefill \| TTFT ms \(median\)/);
    expect(text).toMatch(/\| mesh \| stories260K \| 8x8 \| 8 \| token by token \|/);
    // Only the prompt rows ran: the other table is left out.
    expect(text).not.toMatch(/\| suite \| engine \|/);
  });

  it('refuses a bad --prompts in one line before any GPU work', () => {
    expectRefusedBeforeGpu(cli('bench', '--suite', 'prompt', '--prompts', 'abc', '--engines', 'gpu'), /--prompts: "abc" is not a whole number/);
    expectRefusedBeforeGpu(cli('bench', '--suite', 'prompt', '--prompts', '1,512', '--engines', 'gpu'), /--prompts: 512 is not shorter than the context \(seq_len 512\)/);
  });

  it('without --prompts, the lengths 1, 16, 64, 200 that fit the context with the timed tokens; no C decode', async () => {
    // (buildSuite sizes the mesh first: a few seconds.) 200 + 400 timed tokens would not fit seq_len 512.
    const model = loadStories260K();
    const cases = await buildSuite({ suite: 'prompt', engines: ['cpu', 'gpu', 'mesh', 'c'], model: 'stories260K', preset: 'wse-3', tokens: 400 }, async () => model);
    expect(cases.map((c) => `${c.engine} ${c.prompt}`)).toEqual(['1', '16', '64'].flatMap((p) => ['cpu', 'gpu', 'mesh'].map((e) => `${e} ${p}`)));
    expect(cases.every((c) => c.suite === 'prompt' && c.context === 0 && (c.engine === 'mesh') === !!c.mesh)).toBe(true);
  });
});
