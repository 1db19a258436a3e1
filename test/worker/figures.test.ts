import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/model/checkpoint.ts';
import { columnRuns, split, vectorLength } from '../../src/mesh/placement.ts';
import { meshFromPreset } from '../../src/mesh/config.ts';
import { computeFigures } from '../../src/worker/figures.ts';
import { figureKey } from '../../src/worker/figure-key.ts';

const ROOT = resolve(__dirname, '../..');
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [resolve(ROOT, 'bin/wafermesh.mjs'), ...args, '--json'], { encoding: 'utf8', cwd: ROOT });
  return JSON.parse(r.stdout);
};
const config = () => readCheckpoint(new Uint8Array(readFileSync(resolve(ROOT, 'public/models/wm-stories.bin')))).config;

describe("the lessons' figures", () => {
  it('equal what the CLI prints for the same state: fit (cores and bytes), trace (cycles, words) and predict (tokens/s)', () => {
    const c = config();
    const [fit, fit4, trace, pred, gpu] = computeFigures(c, [
      { kind: 'fit', mesh: { width: 8, height: 8 }, preset: 'wse-3' },
      { kind: 'fit', mesh: { width: 4, height: 4 }, preset: 'wse-3' },
      { kind: 'trace', mesh: { width: 6, height: 10 }, preset: 'wse-3', allreduce: 'ring' },
      { kind: 'predict', model: 'llama-3.1-8b', hardware: 'h100' },
      { kind: 'gpu', pos: 0 },
    ]);
    const f = cli('fit', '--model', 'wm-stories', '--mesh', '8x8', '--preset', 'wse-3');
    expect(fit.values).toMatchObject({ fits: f.fits, context: f.context, maxContext: f.max_context, fullestBytes: f.fullest_core.bytes, fullestKvBytes: f.fullest_core.kv_bytes, totalWeightBytes: f.total_weight_bytes, sramBytes: f.sram_bytes });
    const f4 = cli('fit', '--model', 'wm-stories', '--mesh', '4x4', '--preset', 'wse-3');
    expect(fit4.values).toMatchObject({ fits: false, fullestBytes: f4.fullest_core.bytes });
    const t = cli('trace', '--model', 'wm-stories', '--mesh', '6x10', '--preset', 'wse-3', '--allreduce', 'ring');
    expect(trace.values).toMatchObject({ cycles: t.cycles, fabricWords: t.fabric_words, hopCycles: t.breakdown_cycles.hops, passes: t.passes, cores: 60 });
    const p = cli('predict', '--model', 'llama-3.1-8b', '--hardware', 'h100');
    expect(pred.values.tokensPerS).toBe(p.tokens_per_s);
    expect(pred.values.bound).toBe(p.bound);
    expect(gpu.values.bytesPerToken).toBeGreaterThan(0);
    expect(gpu.values.hbmSeconds as number).toBeGreaterThan(gpu.values.computeSeconds as number);
  }, 120_000);

  it('equal predict --prefill h100 --decode wse-3 --prompt 1024: the prefill, the KV transfer and the decode after it', () => {
    const [pf, kv, dec] = computeFigures(null, [
      { kind: 'real-prefill', model: 'llama-3.1-8b', hardware: 'h100', prompt: 1024 },
      { kind: 'kv-transfer', model: 'llama-3.1-8b', prompt: 1024, prefill: 'h100', decode: 'wse-3' },
      { kind: 'predict', model: 'llama-3.1-8b', hardware: 'wse-3', context: 1025 },
    ]);
    const d = cli('predict', '--model', 'llama-3.1-8b', '--prefill', 'h100', '--decode', 'wse-3', '--prompt', '1024');
    expect(pf.values.ttftSeconds).toBeCloseTo(d.prefill.ttft_ms / 1e3, 9);
    expect(pf.values.bound).toBe(d.prefill.bound);
    expect(kv.values).toMatchObject({ bytes: d.kv_transfer.bytes, bound: d.kv_transfer.bound });
    expect(kv.values.seconds).toBeCloseTo(d.kv_transfer.ms / 1e3, 9);
    expect((pf.values.ttftSeconds as number) + (kv.values.seconds as number)).toBeCloseTo(d.ttft_ms / 1e3, 5);
    expect(dec.values.tokensPerS).toBe(d.decode.tokens_per_s);
  }, 180_000);

  it('name a query by what it asks, in any key order, and say why a figure cannot be had', () => {
    expect(figureKey({ kind: 'wafer', preset: 'wse-3' })).toBe(figureKey({ preset: 'wse-3', kind: 'wafer' } as never));
    const [noModel, unknown, tooBig] = computeFigures(null, [
      { kind: 'model' },
      { kind: 'predict', model: 'gpt-9', hardware: 'h100' },
      { kind: 'predict', model: 'llama-3.1-70b', hardware: 'h100', precision: 'fp16' },
    ]);
    expect(noModel.error).toMatch(/^no-session: /);
    expect(unknown.error).toMatch(/^unknown-model: /);
    expect(tooBig.error).toMatch(/^does-not-fit: llama-3.1-70b at fp16 needs/);
  });
});

describe('the tile map the wafer view hovers', () => {
  it('covers every row and column of every matrix exactly once over the mesh', async () => {
    const { tileMap } = await import('../../src/worker/session.ts');
    const c = config();
    for (const [w, h] of [[8, 8], [6, 10], [16, 3]]) {
      const mesh = meshFromPreset('wse-3', w, h);
      const t = tileMap(c, mesh)!;
      for (const k of ['dim', 'kv', 'hidden', 'vocab'] as const) {
        const seen = new Uint8Array(vectorLength(c, k));
        for (const [a, b] of t.rows[k]) for (let i = a; i < b; i++) seen[i]++;
        expect([...seen].every((x) => x === 1), `rows ${k} on ${w}x${h}`).toBe(true);
        expect(t.rows[k][1]).toEqual(split(vectorLength(c, k), h, 1));
      }
      for (const k of ['dim', 'hidden'] as const) {
        const seen = new Uint8Array(vectorLength(c, k));
        for (const runs of t.cols[k]) for (const [a, b] of runs) for (let i = a; i < b; i++) seen[i]++;
        expect([...seen].every((x) => x === 1), `columns ${k} on ${w}x${h}`).toBe(true);
      }
      expect(t.cols.kv[0]).toEqual(columnRuns(c, mesh, 'kv', 0));
    }
  });
});
