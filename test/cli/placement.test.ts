import { describe, expect, it } from 'vitest';
import { cli, expectOneLineError } from '../helpers/cli.ts';

// `--placement` on the emulator's commands: fit, trace and generate place the model whole (the
// default) or layer-pipelined, and refuse in one line what the emulator cannot run.
describe('--placement on fit, trace and generate', () => {
  it('fit --placement pipelined:1 lists each block with its layers, place and fullest core', () => {
    const r = cli('fit', '--model', 'stories260K', '--mesh', '8x8', '--placement', 'pipelined:1', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect([j.placement, j.block, j.grid, j.fits]).toEqual(['pipelined:1', '4x2', '2x3', true]);
    expect(j.blocks.map((b: { layers: number[]; at: { row: number; col: number }; role: string }) => [b.layers, b.at.row, b.at.col, b.role])).toEqual([
      [[0, 0], 0, 0, 'embedding'],
      [[1, 1], 2, 0, 'layers'],
      [[2, 2], 4, 0, 'layers'],
      [[3, 3], 4, 4, 'layers'],
      [[4, 4], 2, 4, 'head'],
    ]);
    for (const b of j.blocks) expect(b.fullest_core.bytes).toBeLessThanOrEqual(49152);
    expect(j.context).toBe(Math.min(...j.blocks.map((b: { context: number }) => b.context)));
    // The two rows below the 2x3 grid of 4x2 blocks, and the grid's empty sixth block, hold nothing.
    expect(j.occupancy[6]).toBe('........');
    expect(j.occupancy[0]).toMatch(/^\d{4}\.{4}$/);
    const text = cli('fit', '--model', 'stories260K', '--mesh', '8x8', '--placement', 'pipelined');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/block 4 at \(2,4\), layers 4–4 \(head\): fullest core \(\d+,\d+\) \d+ of 49152 bytes/);
  });

  it('refuses in one line what the emulator cannot run', () => {
    expectOneLineError(cli('fit', '--model', 'stories260K', '--placement', 'subgrid'), /--placement subgrid: the emulated mesh runs whole or pipelined\[:G\].*use one of those/);
    expectOneLineError(cli('trace', '--model', 'stories260K', '--placement', 'pipelined:x'), /--placement "pipelined:x" is not whole, subgrid, pipelined or pipelined:G/);
    expectOneLineError(cli('trace', '--model', 'stories260K', '--mesh', '2x2', '--placement', 'pipelined:1'), /--placement pipelined:1 needs 5 blocks but the 2x2 mesh .*use a larger G or a larger mesh/);
    expectOneLineError(cli('generate', '--model', 'stories260K', '--engine', 'cpu', '--placement', 'pipelined'), /--placement pipelined places the model on the emulated mesh; add --engine mesh/);
    expectOneLineError(
      cli('generate', '--model', 'stories260K', '--engine', 'mesh', '--mesh', '2x2', '--sram', '4096', '--placement', 'pipelined:5', '--tokens', '1'),
      /--placement pipelined:5: block 0 .* does not fit: .*use a larger G, a larger mesh or --placement whole/,
    );
  });

  it('generate --engine mesh --placement pipelined:1: the CPU reference\'s ids, every phase measured equal to its closed form', () => {
    const want = JSON.parse(cli('generate', '--model', 'stories260K', '--engine', 'cpu', '--tokens', '10', '--json').stdout).ids;
    const r = cli('generate', '--model', 'stories260K', '--engine', 'mesh', '--mesh', '8x8', '--placement', 'pipelined:1', '--tokens', '10', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ids).toEqual(want);
    expect(j.mesh.placement).toBe('pipelined:1 (5 blocks of 4x2, a 2x3 grid)');
    expect(j.mesh.fabric_phases_equal_to_model).toBe(true);
    expect(j.mesh.measured_fabric_steps_per_token).toBe(j.mesh.modelled_fabric_steps_per_token);
  });

  it('trace --placement pipelined:2 --measure: per phase, hand-offs and the id return included, measured = modelled', () => {
    const r = cli('trace', '--model', 'stories260K', '--mesh', '8x8', '--placement', 'pipelined:2', '--measure', '--pos', '2', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.placement).toBe('pipelined:2 (3 blocks of 4x4, a 2x2 grid)');
    expect(j.totals.links_equal).toBe(true);
    expect(j.totals.violation).toBeNull();
    const names = j.phases.map((p: { name: string }) => p.name);
    expect(names.filter((n: string) => n.startsWith('hand-off'))).toHaveLength(2);
    expect(names).toContain('next token: the id back to the first block');
    // The modelled trace (no GPU) lists the same phases.
    const t = JSON.parse(cli('trace', '--model', 'stories260K', '--mesh', '8x8', '--placement', 'pipelined:2', '--pos', '2', '--json').stdout);
    expect(t.phases.filter((p: { kind: string }) => p.kind === 'transfer').map((p: { name: string }) => p.name)).toEqual(names);
  });
});
