import { describe, expect, it } from 'vitest';
import { MODELLED, waferCaption } from '../../src/ui/wafer-caption.ts';
import type { PhaseEvent, PhaseInfo, SessionInfo, TokenEvent } from '../../src/worker/types.ts';

// Only the fields the caption reads; the rest of a session's info does not matter here.
const info = (over: Partial<SessionInfo>) => ({ refusal: null, mode: 'webgpu', passes: 86, presetClockHz: 1.1e9, ...over }) as SessionInfo;
const cost = { seconds: 1e-6 } as TokenEvent['meshCost'];
const token = (over: Partial<TokenEvent>) => ({ index: 2, pos: 7, meshCost: cost, perLink: Float32Array.of(3, 4), measured: null, ...over }) as TokenEvent;
const step = (kind: PhaseInfo['kind'], name: string): PhaseInfo => ({ index: 1, pass: 1, name, kind, layer: null, caption: `${kind === 'transfer' ? 'fabric' : 'compute'}: what it does` });
const phase = (over: Partial<PhaseEvent>) => ({ pass: 1, passes: 86, pos: 0, phases: [step('transfer', 'embedding broadcast')], cycles: null, perLink: Float32Array.of(8), measured: null, token: null, ...over }) as PhaseEvent;
const text = (c: ReturnType<typeof waferCaption>) => [c.heading, c.engine, c.label, ...c.figures.map((f) => `${f.name}: ${f.value}`)].join('\n');

describe('what the wafer pane says it shows', () => {
  it('on the mesh engine, a token\'s words, steps and agreeing phases are measured on the fabric; its cycles modelled', () => {
    const measured = { words: 12345, steps: 678, rampWords: 1, adds: 1, modelledWords: 12345, modelledSteps: 678, phasesEqual: 43, phases: 43 };
    const c = waferCaption(info({}), null, token({ measured }));
    expect(c.heading).toMatch(/mesh engine: link counts measured on the fabric/);
    expect(c.engine).toMatch(/^Mesh engine: words move only between neighbouring cores.*measured\.$/);
    expect(c.figures).toEqual([
      { name: 'words moved (measured)', value: '12,345' },
      { name: 'fabric steps (measured)', value: '678' },
      { name: 'phases measured = modelled', value: '43 of 43' },
      { name: 'cycles on the preset (modelled)', value: '1,100' },
    ]);
    expect(c.label).toBe('token 3 at position 7: all 86 phases — words measured on the fabric');
  });

  it('on the mesh engine, a phase stepped alone shows its count beside its closed form; a compute pass moves nothing', () => {
    const m = { words: 448, steps: 8, rampWords: 448, adds: 0, modelledWords: 448, modelledSteps: 8, firstDifference: null };
    const c = waferCaption(info({}), phase({ measured: m }), null);
    expect(c.label).toBe('phase 2 of 86 at position 0: → embedding broadcast — fabric: what it does');
    expect(text(c)).toMatch(/words on links \(measured\): 448\nfabric steps \(measured\): 8\nmodelled \(closed form\): 448 words, 8 steps\nmeasured = modelled: yes/);
    const off = waferCaption(info({}), phase({ measured: { ...m, words: 447, firstDifference: 'link 12: 3 words measured, 4 modelled' } }), null);
    expect(text(off)).toMatch(/measured = modelled: no: link 12/);
    const compute = waferCaption(info({}), phase({ phases: [step('compute', 'qkv')], perLink: new Float32Array(2) }), null);
    expect(compute.label).toMatch(/^phase 2 of 86 at position 0: qkv — compute: what it does; nothing moves on the fabric$/);
  });

  it('a phase that completes a token says so', () => {
    const c = waferCaption(info({}), phase({ token: token({}) }), null);
    expect(c.label).toMatch(/\(it completes token 3\)$/);
  });

  it('without WebGPU the CPU stand-in\'s link counts are the closed form, labelled modelled and never measured', () => {
    const cpu = info({ mode: 'cpu' });
    for (const c of [waferCaption(cpu, null, token({})), waferCaption(cpu, phase({ cycles: 120 }), null)]) {
      const t = text(c);
      expect(c.heading).toContain(MODELLED);
      expect(c.figures.map((f) => f.name).join('\n')).toContain(`(${MODELLED})`);
      expect(t).not.toMatch(/\(measured\)|measured on/);
    }
    expect(waferCaption(cpu, null, null).engine).toMatch(/without WebGPU the CPU reference decodes this pane/);
    expect(text(waferCaption(cpu, phase({ cycles: 120 }), null))).toMatch(
      /^phase 2 of 86 at position 0: → embedding broadcast — fabric: what it does\nwords on links \(closed form \(modelled\)\): 8\ncycles \(modelled\): 120$/m,
    );
    expect(waferCaption(cpu, phase({ phases: [step('compute', 'qkv')], perLink: new Float32Array(2), cycles: 7 }), null).label).toMatch(/qkv — compute: what it does; nothing moves on the fabric$/);
    expect(waferCaption(cpu, null, token({})).label).toBe('token 3 at position 7: all 86 phases — words on links from the closed form');
  });

  it('before a session or a token there is nothing to count', () => {
    expect(waferCaption(null, null, null)).toEqual({ heading: 'The wafer', engine: '', label: 'the wafer, before the first token', figures: [] });
  });
});
