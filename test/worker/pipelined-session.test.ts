import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RaceSession } from '../../src/worker/session.ts';
import { demoRequest, sessionHost } from '../helpers/session.ts';

const ROOT = resolve(__dirname, '../..');
// wm-stories has 3 layers: on 12x12, one layer a block is three 6x6 blocks on a 2x2 grid (the fourth 6x6 is unused).
const base = demoRequest({ mesh: { width: 12, height: 12 }, placement: 'pipelined:1' });
const host = sessionHost;

/** What `generate --engine mesh --placement …` writes for the same model, prompt and mesh. */
function cliGenerate(mesh: string, placement: string): { text: string; ids: number[]; mesh: { placement: string } } {
  const args = ['generate', '--engine', 'mesh', '--model', 'wm-stories', '--mesh', mesh, '--placement', placement, '--prompt', 'Once upon a time', '--tokens', '12', '--temperature', '0', '--json'];
  const r = spawnSync(process.execPath, [resolve(ROOT, 'bin/wafermesh.mjs'), ...args], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`wafermesh generate failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('the demo worker\'s race session on the layer-pipelined placement', () => {
  it('places one layer a block (each block\'s layers, place and cores; the cores outside every block hold nothing), and writes what `generate --engine mesh --placement pipelined:1` writes, every token measured = modelled', { timeout: 600_000 }, async () => {
    const s = await RaceSession.open(base, host());
    try {
      expect(s.info.mode).toBe('webgpu');
      expect(s.info.refusal).toBeNull();
      const f = s.info.fit;
      expect([f.fits, f.placement, f.context]).toEqual([true, 'pipelined:1', 256]);
      const p = f.pipeline!;
      expect([p.layersPerBlock, p.width, p.height, p.across, p.down]).toEqual([1, 6, 6, 2, 2]);
      // Snake order: down the first column of blocks, up the next.
      expect(p.blocks.map((b) => [b.x, b.y, b.layerFirst, b.layerCount, b.role])).toEqual([
        [0, 0, 0, 1, 'embedding'],
        [0, 6, 1, 1, 'layers'],
        [6, 6, 2, 1, 'head'],
      ]);
      // The north-east 6x6 is outside every block: unused, holding nothing.
      for (let i = 0; i < 144; i++) {
        const [r, c] = [Math.floor(i / 12), i % 12];
        const want = r < 6 && c >= 6 ? -1 : r < 6 ? 0 : c < 6 ? 1 : 2;
        expect(p.blockOf[i], `core (${r},${c})`).toBe(want);
        if (want < 0) expect([f.weightWords[i], f.kvWords[i], f.scratchWords[i]]).toEqual([0, 0, 0]);
        else expect(f.weightWords[i]).toBeGreaterThan(0);
      }
      // The tiles are a block's (6 rows, 6 columns).
      expect(f.tiles!.rows.dim).toHaveLength(6);
      expect(f.tiles!.cols.dim).toHaveLength(6);
      // The steps include the two hand-offs and the id's return, named and captioned.
      const names = s.info.phases.map((x) => x.name);
      const handoffs = s.info.phases.filter((x) => /^hand-off: .*\(block \d to \d\)$/.test(x.name));
      expect(handoffs.map((x) => x.name.replace(/.*\(/, '('))).toEqual(['(block 0 to 1)', '(block 1 to 2)']);
      expect(handoffs.every((x) => x.kind === 'transfer' && /to the next block over the fabric/.test(x.caption))).toBe(true);
      const back = s.info.phases.find((x) => x.name === 'next token: the id back to the first block')!;
      expect([back.kind, back.index]).toEqual(['transfer', s.info.passes - 1]);
      expect(back.caption).toMatch(/from the last block back to the first/);
      expect(names.filter((n) => n === 'block_sumsq')).toHaveLength(2);
      // Stepping phase by phase up to the first hand-off: it is measured, equal to its closed form, and its links lie across the blocks' boundary.
      const first = handoffs[0].index;
      let ev = await s.stepPhase();
      while (ev.pass < first) ev = await s.stepPhase();
      expect(ev.phases[0].name).toBe(handoffs[0].name);
      const m = ev.measured!;
      expect(m.firstDifference).toBeNull();
      expect(m.words).toBeGreaterThan(0);
      expect([ev.perLink.reduce((a, b) => a + b, 0), m.steps]).toEqual([m.modelledWords, m.modelledSteps]);
      // Nothing moves on the unused block's links.
      for (let i = 0; i < 144; i++) if (p.blockOf[i] < 0) for (let d = 0; d < 4; d++) expect(ev.perLink[i * 4 + d]).toBe(0);
      const events = await s.stepTokens(12);
      const cli = cliGenerate('12x12', 'pipelined:1');
      expect(cli.mesh.placement).toMatch(/^pipelined:1 \(3 blocks of 6x6/);
      expect(events.map((e) => e.mesh.id)).toEqual(cli.ids);
      expect(events.map((e) => e.mesh.piece).join('')).toBe(cli.text);
      for (const e of events) {
        const t = e.measured!;
        expect([t.words, t.steps, t.phasesEqual]).toEqual([t.modelledWords, t.modelledSteps, t.phases]);
        expect(e.perLink.reduce((a, b) => a + b, 0)).toBe(t.words);
      }
    } finally {
      s.dispose();
    }
  });

  it('refuses the disaggregated mode with the pipelined placement in one line (the KV hand-off is the whole mesh\'s)', async () => {
    await expect(RaceSession.open({ ...base, serving: 'disaggregated' }, host(false))).rejects.toThrow(/^bad-option: placement=pipelined:1 runs with the monolithic serving mode only: .*; choose placement whole or serving monolithic$/);
  });

  it('opens, says why and refuses to step where the blocks do not fit or the mesh cannot hold them; refuses a placement it does not run', async () => {
    // 8x8: three 4x4 blocks, whose cores are too small for a layer each.
    const small = await RaceSession.open({ ...base, mesh: { width: 8, height: 8 } }, host(false));
    expect(small.info.fit.fits).toBe(false);
    expect(small.info.fit.pipeline!.blocks).toHaveLength(3);
    expect(small.info.refusal).toMatch(/^does-not-fit: placement pipelined:1: block 0 \(layers 0–0, 4x4 cores\) does not fit: its core \(0,0\) needs \d+ bytes with one KV position but has 49152; choose a larger G, a larger mesh or placement whole$/);
    await expect(small.stepTokens(1)).rejects.toThrow(/does-not-fit/);
    small.dispose();
    // 1x2: two cores for three blocks.
    const tiny = await RaceSession.open({ ...base, mesh: { width: 1, height: 2 } }, host(false));
    expect([tiny.info.fit.fits, tiny.info.fit.pipeline, tiny.info.fit.placement]).toEqual([false, undefined, 'pipelined:1']);
    expect(tiny.info.refusal).toMatch(/^bad-option: .*needs 3 blocks but the 1x2 mesh cannot hold 3 blocks/);
    tiny.dispose();
    await expect(RaceSession.open({ ...base, placement: 'subgrid' }, host(false))).rejects.toThrow(/^bad-option: placement=subgrid is not whole, pipelined or pipelined:G/);
  });

  it('without WebGPU the CPU stands in for the pipelined wafer: the same text, its link words modelled', { timeout: 300_000 }, async () => {
    const s = await RaceSession.open({ ...base, tokens: 4 }, host(false));
    expect(s.info.mode).toBe('cpu');
    const events = await s.stepTokens(4);
    expect(events.map((e) => e.mesh.piece).join('')).toBe(events.map((e) => e.gpu.piece).join(''));
    expect(events[1].measured).toBeNull();
    expect(events[1].perLink.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    s.dispose();
  });

  it('captions every step of the pipelined decode for what it does (none falls back to the generic caption), pipelined:2 included', async () => {
    for (const placement of ['pipelined:1', 'pipelined:2']) {
      const s = await RaceSession.open({ ...base, placement }, host(false));
      expect(s.info.phases.length, placement).toBeGreaterThan(0);
      for (const ph of s.info.phases) {
        expect(ph.caption, `${placement} ${ph.name}`).not.toBe('fabric: words move only between neighbouring cores');
        expect(ph.caption, `${placement} ${ph.name}`).not.toBe(`compute: ${ph.name}, each core on its own SRAM`);
      }
      s.dispose();
    }
  });
});
