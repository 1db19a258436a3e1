import { describe, expect, it } from 'vitest';
import { cli, expectOneLineError } from '../helpers/cli.ts';

describe('wafermesh predict --prompt, --prefill/--decode and --serve', () => {
  it('refuses options that do not go together in one line, before any work', () => {
    // Each of these would not fit (a 70B model on one wafer) if the work began: the option check comes first.
    const big = ['predict', '--model', 'llama-3.1-70b', '--hardware', 'wse-3'];
    expectOneLineError(cli(...big, '--serve', '--prompt', '2048'), /--serve needs --output M/);
    expectOneLineError(cli(...big, '--serve', '--output', '64'), /--serve needs --prompt N/);
    expectOneLineError(cli(...big, '--streams', '4'), /--streams is for the serving view; add --serve/);
    expectOneLineError(cli(...big, '--prefill', 'trainium2', '--prompt', '8'), /--prefill and --decode go together/);
    expectOneLineError(cli(...big, '--prefill', 'trainium2', '--decode', 'wse-3'), /--prefill and --decode need --prompt N/);
    expectOneLineError(cli(...big, '--decode-chips', '2'), /--prefill-chips and --decode-chips need --prefill NAME --decode NAME/);
    expectOneLineError(cli(...big, '--prompt', '0'), /--prompt 0 must be a whole number in 1…131072/);
    expectOneLineError(cli(...big, '--serve', '--prompt', '8', '--output', '8', '--system-power', 'wse-3:23'), /--system-power "wse-3:23" is not HW=NUMBER/);
    expectOneLineError(cli(...big, '--serve', '--prompt', '8', '--output', '8', '--placement', 'whole'), /--draft, --cores, --placement and --context apply to one machine's decode/);
    expectOneLineError(cli('predict', '--prefill', 'tpu', '--decode', 'wse-3', '--prompt', '8'), /--prefill tpu is not one of .*trainium2/);
    expectOneLineError(cli('predict', '--serve', '--hardware', 'toy-gpu', '--prompt', '8', '--output', '8'), /no system figures \(chips, power, rack units\) for toy-gpu/);
  }, 180_000);

  it('--prompt adds the prefill to --json: TTFT and prompt tokens/s, each product with its bound', () => {
    const r = cli('predict', '--model', 'llama-3.1-8b', '--hardware', 'h100', '--prompt', '2048', '--json');
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.context).toBe(2049);
    expect(p.prefill.prompt).toBe(2048);
    expect(p.prefill.bound).toBe('GEMMs: compute');
    expect(p.prefill.prefill_tokens_per_s).toBeCloseTo(2048 / (p.prefill.ttft_ms / 1e3), -2);
    expect(p.prefill.gemms.find((g: { name: string }) => g.name === 'w2').bound).toBe('compute');
  }, 180_000);

  it('on a wafer whose fastest decode placement leaves no SRAM for the prompt, prefills and decodes on whole-wafer tiling and says why; forced, it refuses in one line', () => {
    const r = cli('predict', '--model', 'llama-3.1-8b', '--hardware', 'wse-3', '--prompt', '2048', '--json');
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.placement.kind).toBe('whole');
    expect(p.prefill.region).toMatchObject({ width: 762, height: 1172 });
    expect(p.placement_for_prefill).toMatch(/leaves \d+ bytes a core free, too few for the prompt's tiles/);
    expect(p.decode_alone.tokens_per_s).toBeGreaterThan(p.tokens_per_s);
    expect(p.prefill.gemms.filter((g: { algorithm?: string }) => g.algorithm === 'meshgemm').length).toBeGreaterThan(0);
    expectOneLineError(
      cli('predict', '--model', 'llama-3.1-8b', '--hardware', 'wse-3', '--prompt', '2048', '--placement', 'pipelined:1'),
      /the decode's placement \(pipelined G=1: .*\) leaves \d+ bytes a core free for the prompt: .*; prefill with --placement whole, or on another machine/,
    );
  }, 180_000);

  it('--prefill trainium2 --decode h100: TTFT = prefill + KV transfer, with the links and their sources', () => {
    const r = cli('predict', '--model', 'llama-3.1-8b', '--prefill', 'trainium2', '--decode', 'h100', '--prompt', '1024', '--json');
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.ttft_ms).toBeCloseTo(p.prefill.ttft_ms + p.kv_transfer.ms, 2);
    expect(p.kv_transfer.bytes).toBe(2 * 32 * 1024 * 1024 * 2);
    expect(p.decode.hardware).toBe('h100');
    expect(p.links[0].source).toMatch(/EFA bandwidth 1,600 Gbps/);
    const text = cli('predict', '--model', 'llama-3.1-8b', '--prefill', 'trainium2', '--decode', 'h100', '--prompt', '1024');
    expect(text.stdout).toMatch(/^time to first token [\d.]+ ms = prefill [\d.]+ ms \+ KV transfer [\d.]+ ms/m);
  }, 180_000);

  it('--serve prints a row per configuration and the footprint inputs; --json gives them all', () => {
    const args = ['predict', '--model', 'llama-3.1-8b', '--serve', '--prefill', 'trainium2', '--decode', 'h100', '--streams', '32', '--prompt', '1024', '--output', '128'];
    const t = cli(...args);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^monolithic 1 x 1 trainium2\s/m);
    expect(t.stdout).toMatch(/^disaggregated \d+ x 1 trainium2 → 1 x 1 h100\s/m);
    expect(t.stdout).toMatch(/^footprint inputs/m);
    expect(t.stdout).toMatch(/NVIDIA DGX H100 datasheet: ~10.2 kW/);
    const j = JSON.parse(cli(...args, '--system-power', 'h100=12000', '--json').stdout);
    expect(j.configs).toHaveLength(3);
    expect(j.systems.h100.power_w).toBe(12000);
    const dis = j.configs[2];
    expect(dis.throughput_tokens_per_s).toBeCloseTo(32 * dis.per_stream_tokens_per_s, -1);
  }, 180_000);
});
