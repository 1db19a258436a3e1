import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuEngine } from '../../src/engines/cpu.ts';
import { generate } from '../../src/engines/generate.ts';
import { readCheckpoint } from '../../src/model/checkpoint.ts';
import { readTokenizer } from '../../src/model/tokenizer.ts';
import { RaceSession } from '../../src/worker/session.ts';
import { demoRequest, sessionHost } from '../helpers/session.ts';

const ROOT = resolve(__dirname, '../..');
const base = demoRequest();
// Each session owns (and destroys) its device, as in the worker.
const host = sessionHost;

async function referenceText(tokens: number): Promise<string> {
  const model = readCheckpoint(new Uint8Array(readFileSync(resolve(ROOT, 'public/models/wm-stories.bin'))));
  const tok = readTokenizer(new Uint8Array(readFileSync(resolve(ROOT, 'public/models/wm-stories.tok.bin'))), 't', 512);
  const promptIds = tok.encode('Once upon a time');
  const r = await generate(new CpuEngine(model), { promptIds, tokens, temperature: 0, topP: 1, seed: 42 });
  return tok.decode(r.ids, promptIds[promptIds.length - 1]);
}

describe('the demo worker\'s race session', () => {
  it('decodes on the mesh engine the same text as the reference on both panes, with each token\'s link words measured and equal to the model', async () => {
    const s = await RaceSession.open(base, host());
    expect(s.info.mode).toBe('webgpu');
    expect(s.info.refusal).toBeNull();
    expect(s.info.fit.fits).toBe(true);
    const events = await s.stepTokens(12);
    expect(events).toHaveLength(12);
    const want = await referenceText(12);
    expect(events.map((e) => e.mesh.piece).join('')).toBe(want);
    expect(events.map((e) => e.gpu.piece).join('')).toBe(want);
    expect(events[0].meshCost.tokensPerS).toBeGreaterThan(events[0].gpuCost.tokensPerS);
    for (const e of events) {
      expect(e.perLink.length).toBe(8 * 8 * 4);
      const m = e.measured!;
      expect(m, `token ${e.index}`).not.toBeNull();
      // The drawn links are the measured ones: their sum is the words the fabric counted.
      expect(e.perLink.reduce((a, b) => a + b, 0)).toBe(m.words);
      expect(m.words).toBeGreaterThan(0);
      expect([m.words, m.steps, m.phasesEqual]).toEqual([m.modelledWords, m.modelledSteps, m.phases]);
    }
    expect(s.done).toBe(true);
    s.dispose();
  });

  it('steps the fabric\'s compute passes and phases one by one (each phase measured = modelled, link by link); a token\'s last step yields the token, and stepping tokens afterwards continues it', async () => {
    const s = await RaceSession.open(base, host());
    const passes = s.info.passes;
    // One step per phase, captioned; fabric phases and compute passes interleave.
    expect(s.info.phases.map((p) => p.pass)).toEqual(Array.from({ length: passes }, (_, i) => i));
    expect(s.info.phases.every((p) => p.caption.length > 0)).toBe(true);
    expect(s.info.phases.slice(0, 2).map((p) => [p.kind, p.name])).toEqual([['compute', 'embed_load'], ['transfer', 'embedding: column allreduce']]);
    const seen: string[] = [];
    // The prompt has several tokens: the first generated token needs (prompt length) × passes steps.
    let tokenEvent = null;
    let links = new Float64Array(8 * 8 * 4);
    let guard = 0;
    while (!tokenEvent && guard++ < 20 * passes) {
      const ev = await s.stepPhase();
      expect(ev.passes).toBe(passes);
      expect(ev.phases).toEqual([s.info.phases[ev.pass]]);
      expect(ev.cycles).toBeNull();
      if (ev.pass === 0) links = new Float64Array(8 * 8 * 4);
      const words = ev.perLink.reduce((a, b) => a + b, 0);
      if (ev.phases[0].kind === 'transfer') {
        const m = ev.measured!;
        expect(m, ev.phases[0].name).not.toBeNull();
        expect(m.firstDifference, `${ev.phases[0].name} at position ${ev.pos}`).toBeNull();
        expect([words, m.steps]).toEqual([m.modelledWords, m.modelledSteps]);
      } else {
        expect(ev.measured).toBeNull();
        expect(words).toBe(0);
      }
      ev.perLink.forEach((w, i) => (links[i] += w));
      seen.push(ev.phases[0].name);
      tokenEvent = ev.token;
    }
    expect(seen.slice(0, 3)).toEqual(['embed_load', 'embedding: column allreduce', 'embed_sumsq']);
    expect(tokenEvent).not.toBeNull();
    // The token's links are its phases' measured links added up.
    expect(Array.from(tokenEvent!.perLink)).toEqual(Array.from(links));
    expect(tokenEvent!.measured!.phasesEqual).toBe(tokenEvent!.measured!.phases);
    expect(tokenEvent!.measured!.words).toBe(links.reduce((a, b) => a + b, 0));
    // Part of a token by phases, then the rest by tokens.
    for (let i = 0; i < 5; i++) await s.stepPhase();
    const rest = await s.stepTokens(11);
    expect(rest[0].measured!.phasesEqual).toBe(rest[0].measured!.phases);
    const text = [tokenEvent!.mesh.piece, ...rest.map((e) => e.mesh.piece)].join('');
    expect(text).toBe(await referenceText(12));
    s.dispose();
  });

  it('without WebGPU, the CPU reference decodes both panes and the modelled numbers still come, from the fabric decode\'s closed form', async () => {
    const s = await RaceSession.open(base, host(false));
    expect(s.info.mode).toBe('cpu');
    expect(s.info.refusal).toBeNull();
    expect(s.info.noWebgpuReason).toMatch(/navigator\.gpu is missing/);
    // The steps it walks are the fabric decode's, as on the mesh engine.
    expect(s.info.phases.slice(0, 2).map((p) => [p.kind, p.name])).toEqual([['compute', 'embed_load'], ['transfer', 'embedding: column allreduce']]);
    const first = await s.stepPhase();
    const second = await s.stepPhase();
    expect(first.measured).toBeNull();
    expect(first.perLink.reduce((a, b) => a + b, 0)).toBe(0);
    expect(first.cycles).toBeGreaterThanOrEqual(0);
    expect(second.measured).toBeNull();
    expect(second.perLink.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(second.cycles).toBeGreaterThan(0);
    const events = await s.stepTokens(12);
    expect(events.map((e) => e.mesh.piece).join('')).toBe(await referenceText(12));
    expect(events[3].meshCost.seconds).toBeGreaterThan(0);
    // Modelled link words, never reported as measured; a token's cycles are its steps' cycles.
    expect(events[3].measured).toBeNull();
    expect(events[3].perLink.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(events[3].phaseCycles).toHaveLength(s.info.passes);
    s.dispose();
  });

  it('reports a model that does not fit, and refuses to step, without throwing on open', async () => {
    const s = await RaceSession.open({ ...base, mesh: { width: 2, height: 2 } }, host());
    expect(s.info.fit.fits).toBe(false);
    expect(s.info.fit.error).toMatch(/does-not-fit: the model does not fit a 2x2 mesh/);
    expect(s.info.refusal).toBe(s.info.fit.error);
    await expect(s.stepTokens(1)).rejects.toThrow(/does-not-fit/);
    s.dispose();
  });

  it('refuses a corrupt dropped checkpoint with one line', async () => {
    await expect(RaceSession.open({ ...base, model: 'file', checkpoint: new Uint8Array(100).buffer }, host())).rejects.toThrow(/bad-checkpoint: dropped checkpoint/);
  });
});
