import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSuite } from '../../src/cli/bench/suite.ts';
import { cli, expectOneLineError } from '../helpers/cli.ts';
import { loadStories260K } from '../helpers/models.ts';

const dir = mkdtempSync(join(tmpdir(), 'wm-bench-wafer-prefill-'));

describe('wafermesh bench --wafer-prefill gemm: the mesh with the wafer prefill on the fabric in the prompt sweep', () => {
  it('a row of its own beside token by token: the first id checked against the reference, its phases measured = modelled, TTFT measured and modelled; a series of its own in the plot', () => {
    const json = join(dir, 'prompt.jsonl');
    const md = join(dir, 'prompt.md');
    const svg = join(dir, 'b');
    const r = cli('bench', '--suite', 'prompt', '--prompts', '3', '--engines', 'mesh', '--wafer-prefill', 'gemm', '--sram', '65536', '--tokens', '2', '--repeats', '1', '--json', json, '--md', md, '--svg', svg);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rows = readFileSync(json, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => `${x.engine} ${x.prompt_tokens} ${x.prefill}`)).toEqual(['mesh 3 token by token', 'mesh 3 wafer fabric']);
    for (const x of rows) {
      expect(x.error, x.error).toBeUndefined();
      expect(x.ttft_ms).toBeGreaterThan(0);
      expect(x.modelled_ttft_ms).toBeGreaterThan(0);
      expect(x.max_abs_dlogit).toBeLessThan(1e-3);
      expect(x.fabric_words_per_token).toBeGreaterThan(0);
    }
    expect(readFileSync(md, 'utf8')).toMatch(/\| mesh \| stories260K \| 8x8 \| 3 \| wafer fabric \|/);
    expect(readFileSync(`${svg}-prompt.svg`, 'utf8')).toMatch(/mesh \(fabric prefill\) \(measured\)/);
  }, 300_000);

  it('adds the case only where asked, and refuses it where there is no prompt sweep or no mesh', async () => {
    const model = loadStories260K();
    const cases = await buildSuite({ suite: 'prompt', engines: ['cpu', 'mesh'], model: 'stories260K', preset: 'wse-3', tokens: 4, prompts: [2, 5], waferPrefill: true }, async () => model);
    expect(cases.map((c) => `${c.engine} ${c.prompt} ${c.waferPrefill ?? 'token'}`)).toEqual(['cpu 2 token', 'mesh 2 token', 'mesh 2 gemm', 'cpu 5 token', 'mesh 5 token', 'mesh 5 gemm']);
    expectOneLineError(cli('bench', '--suite', 'engines', '--engines', 'mesh', '--wafer-prefill', 'gemm'), /--wafer-prefill gemm adds the mesh's fabric prefill to the prompt sweep/);
    expectOneLineError(cli('bench', '--suite', 'prompt', '--engines', 'cpu', '--wafer-prefill', 'gemm'), /needs --engines with mesh/);
    // 48 KB cores hold stories260K's decode but not the prefill beside it: named before any GPU work.
    expectOneLineError(cli('bench', '--suite', 'prompt', '--prompts', '3', '--engines', 'mesh', '--wafer-prefill', 'gemm'), /--wafer-prefill gemm: the wafer prefill of 3 positions needs \d+ bytes per core past the decode's \d+ on the 8x8 mesh \(\d+ in all\) but a core has 49152; use --sram \d+ or more, a larger mesh, or a shorter prompt; or use --wafer-prefill token/);
  }, 120_000);
});
