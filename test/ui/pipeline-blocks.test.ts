import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stepBlocks } from '../../src/ui/pipeline-blocks.ts';
import { RaceSession } from '../../src/worker/session.ts';

const ROOT = resolve(__dirname, '../..');
const host = {
  gpu: () => Promise.reject(new Error('no-webgpu: not needed here')),
  fetchBytes: async (url: string) => {
    const b = readFileSync(new URL(url));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  },
};

describe('the block each step of the layer-pipelined decode runs on (outlined on the wafer)', () => {
  it('walks the blocks in order over a token: each layer\'s steps on its block, each hand-off on the two blocks it joins, the id\'s return from the last block to the first', async () => {
    // wm-stories (3 layers) on 12x12, one layer a block: three 6x6 blocks.
    const s = await RaceSession.open(
      { model: 'wm-stories', modelBaseUrl: pathToFileURL(resolve(ROOT, 'public/models/')).href + '/', mesh: { width: 12, height: 12 }, preset: 'wse-3', allreduce: 'ktree', prompt: '', tokens: 1, temperature: 0, topP: 1, seed: 42, placement: 'pipelined:1' },
      host,
    );
    const p = s.info.fit.pipeline!;
    const phases = s.info.phases;
    expect(phases.length).toBe(s.info.passes);
    const on = phases.map((ph) => stepBlocks(p, ph));
    for (const [i, ph] of phases.entries()) {
      expect(on[i].length, ph.name).toBeGreaterThan(0);
      const layer = ph.layer ?? (/^L(\d+) /.exec(ph.name) ? Number(/^L(\d+) /.exec(ph.name)![1]) : null);
      if (layer !== null) expect(on[i], ph.name).toEqual([layer]);
    }
    // The first step is block 0's, the last the id's return; between them the blocks only advance, a hand-off at a time.
    expect(on[0]).toEqual([0]);
    expect(on[on.length - 1]).toEqual([2, 0]);
    const joins = on.filter((b) => b.length === 2);
    expect(joins).toEqual([[0, 1], [1, 2], [2, 0]]);
    let at = 0;
    for (const b of on.slice(0, -1)) {
      if (b.length === 2) {
        expect(b).toEqual([at, at + 1]);
        at += 1;
      } else expect(b, phases[on.indexOf(b)].name).toEqual([at]);
    }
    expect(at).toBe(2);
    expect(stepBlocks(p, null)).toEqual([]);
    s.dispose();
  });
});
