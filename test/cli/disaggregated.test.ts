import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';

const json = (out: string) => JSON.parse(out.slice(out.indexOf('{')));

describe('wafermesh generate --prefill X --decode Y', () => {
  it('the GPU baseline prefills, the wafer decodes: the ids of one machine, the hand-off measured on the fabric and modelled over the slower link', () => {
    const args = ['--model', 'wm-stories', '--prompt', 'Once upon a time', '--tokens', '12', '--json'];
    const one = cli('generate', '--engine', 'cpu', ...args);
    expect(one.code, one.stderr).toBe(0);
    const pair = cli('generate', '--prefill', 'gpu', '--decode', 'mesh', '--mesh', '8x8', ...args);
    expect(pair.code, pair.stderr).toBe(0);
    const d = json(pair.stdout);
    expect(d.ids).toEqual(json(one.stdout).ids);
    expect([d.prefill_engine, d.decode_engine]).toEqual(['gpu', 'mesh']);
    const t = d.timings;
    // Keys and values of every layer and KV coordinate for each prompt position, float32: wm-stories
    // has 3 layers of 2 KV heads of 128 / 4 = 32 coordinates.
    expect(d.config).toMatch(/^dim 128, .*3 layers, 4 heads \/ 2 kv heads/);
    expect(t.kv_handoff_bytes).toBe(2 * 3 * 2 * 32 * d.prompt_ids.length * 4);
    expect(t.kv_handoff_phases_equal_to_model).toBe(true);
    expect(t.kv_handoff_fabric_words).toBeGreaterThan(0);
    for (const k of ['ttft_ms', 'prefill_ms', 'prefill_tokens_per_s', 'decode_tokens_per_s', 'kv_handoff_ms', 'modelled_kv_handoff_ms', 'modelled_ttft_ms', 'modelled_prefill_tokens_per_s']) expect(t[k], k).toBeGreaterThan(0);
    expect(d.mesh.fabric_phases_equal_to_model).toBe(true);
    // The first id comes after the prefill and the hand-off, measured and modelled alike.
    expect(t.ttft_ms).toBeGreaterThanOrEqual(t.prefill_ms + t.kv_handoff_ms);
    expect(t.modelled_ttft_ms).toBeGreaterThan(t.modelled_kv_handoff_ms);
  });

  it('refuses --decode without --prefill, and an unknown engine, before loading anything', () => {
    const a = cli('generate', '--decode', 'mesh');
    expect(a.code).toBe(1);
    expect(a.stderr.trim()).toBe('wafermesh generate: --decode names the second machine of a disaggregated run; add --prefill ENGINE, or use --engine for one machine');
    const b = cli('generate', '--prefill', 'tpu', '--decode', 'mesh');
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/--prefill/);
  });
});
