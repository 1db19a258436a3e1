import { describe, expect, it } from 'vitest';
import { cli, expectOneLineError } from '../helpers/cli.ts';

describe('wafermesh predict --placement', () => {
  it('prints the placement taken and the table of those tried beside it', () => {
    const r = cli('predict', '--model', 'llama-3.1-8b', '--hardware', 'wse-3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^placement: pipelined G=\d+: \d+ regions of \d+x\d+/m);
    expect(r.stdout).toMatch(/^placements tried \(modelled, one token/m);
    expect(r.stdout).toMatch(/^\*\s+pipelined/m);
    expect(r.stdout).toMatch(/^\s+whole\s+762x1172\s+32\s+1\s/m);
  }, 180_000);

  it('forces pipelined:G and whole, and gives every placement tried in --json', () => {
    const r = cli('predict', '--model', 'llama-3.1-8b', '--hardware', 'wse-3', '--placement', 'pipelined:2', '--json');
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.placement.kind).toBe('pipelined');
    expect(p.placement.layers_per_region).toBe(2);
    expect(p.placements.every((x: { kind: string; layers_per_region: number }) => x.kind === 'pipelined' && x.layers_per_region === 2)).toBe(true);
    expect(p.tokens_per_s).toBe(p.placement.tokens_per_s);
    const w = JSON.parse(cli('predict', '--model', 'llama-3.1-8b', '--hardware', 'wse-3', '--placement', 'whole', '--json').stdout);
    expect(w.placement.label).toBe('whole 762x1172');
    expect(w.tokens_per_s).toBeLessThan(p.tokens_per_s);
  }, 180_000);

  it('refuses a placement it does not know, in one line', () => {
    expectOneLineError(cli('predict', '--placement', 'diagonal'), /--placement "diagonal" is not whole, subgrid, pipelined or pipelined:G/);
    expectOneLineError(cli('predict', '--hardware', 'h100', '--placement', 'whole'), /--placement applies to wafers; h100 is not one/);
  }, 180_000);
});
