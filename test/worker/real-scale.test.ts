import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REAL_SCALE_FAST_SECONDS, realScaleMachines, realScaleRace, realScaleText, REAL_SCALE_TOKENS, SEED_COMPARISON, type RealScaleText } from '../../src/worker/real-scale.ts';
import { CATALOG, modelEntry } from '../../src/catalog.ts';
import { predict } from '../../src/cost/predict.ts';

const ROOT = resolve(__dirname, '../..');
const SERVED = resolve(ROOT, 'public/real-scale/stories.json');
const read = async (p: string) => new Uint8Array(await readFile(resolve(ROOT, p)));

describe('the real-scale race', () => {
  it('serves text the CPU reference wrote: the file starts with what realScaleText gives (WAFERMESH_WRITE_REAL_SCALE=1 rewrites it)', async () => {
    if (process.env.WAFERMESH_WRITE_REAL_SCALE === '1') {
      const all = await realScaleText(REAL_SCALE_TOKENS, read);
      await mkdir(resolve(ROOT, 'public/real-scale'), { recursive: true });
      await writeFile(SERVED, JSON.stringify(all));
    }
    const served = JSON.parse(await readFile(SERVED, 'utf8')) as RealScaleText;
    expect(served.pieces.length).toBe(REAL_SCALE_TOKENS);
    expect(served.model).toBe(CATALOG.defaults.model);
    const head = await realScaleText(300, read);
    expect(served.pieces.slice(0, 300)).toEqual(head.pieces);
    // Several stories, chained.
    expect(served.pieces.join('').split('\n\n').length).toBeGreaterThan(3);
  });

  it("replays Llama-3.1-8B at predict's speeds on WSE-3 and H100, labelled modelled; the seed's pair labelled published", () => {
    const cfg = modelEntry('llama-3.1-8b')!.config!;
    const m = realScaleMachines('llama-8b');
    expect(m.mesh.tokensPerS).toBe(predict('llama-3.1-8b', cfg, 'wse-3').tokens_per_s);
    expect(m.gpu.tokensPerS).toBe(predict('llama-3.1-8b', cfg, 'h100').tokens_per_s);
    expect(m.mesh.kind).toBe('modelled');
    expect(m.mesh.tokensPerS).toBeGreaterThan(m.gpu.tokensPerS);
    const s = realScaleMachines('seed');
    expect([s.mesh.kind, s.gpu.kind]).toEqual(['published', 'published']);
    expect(s.mesh.tokensPerS).toBe(SEED_COMPARISON.mesh.tokensPerS);
    const race = realScaleRace('seed', { model: 'm', prompts: ['a', 'b'], temperature: 1, topP: 1, pieces: ['x', 'y'] });
    expect(race.source).toMatch(/^Pre-generated text: m /);
    // Chained again until the faster machine writes for five seconds.
    expect(race.pieces).toHaveLength(Math.ceil(REAL_SCALE_FAST_SECONDS * s.mesh.tokensPerS));
    expect(race.pieces.slice(0, 4)).toEqual(['x', 'y', '\n\nx', 'y']);
    const long = realScaleRace('llama-8b', { model: 'm', prompts: ['a'], temperature: 1, topP: 1, pieces: new Array(100_000).fill('z') });
    expect(long.pieces).toHaveLength(100_000);
  });
});
