import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog.ts';
import { readCheckpoint } from '../../src/model/checkpoint.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { LESSONS } from '../../src/ui/lessons/index.ts';
import { formatValue, lessonPatchFor, lessonProblems, numbersTyped, placeholders, type Lesson, type LiveValues } from '../../src/ui/lessons/lesson.ts';
import { fillText, lessonQueries, lessonValues, liveValues } from '../../src/ui/lessons/values.ts';
import { defaultState, type AppState } from '../../src/ui/url-state.ts';
import { computeFigures } from '../../src/worker/figures.ts';
import type { FigureResult } from '../../src/worker/types.ts';

const ROOT = resolve(__dirname, '../..');
let config: ModelConfig;
const stateOf = (l: Lesson, over: Partial<AppState> = {}): AppState => ({ ...defaultState(CATALOG), ...l.state, ...over, lesson: LESSONS.indexOf(l) + 1 });
const results = (l: Lesson, s: AppState) => new Map<string, FigureResult>(computeFigures(config, lessonQueries(l, s)).map((r) => [r.key, r]));

/** Live values as after one decoded token: a GPU token that streamed every weight once, a wafer far faster than this machine. */
const LIVE_AFTER_A_TOKEN: LiveValues = {
  tokens: 1, gpuBytesPerToken: 0, gpuTokensPerS: 118, meshTokensPerS: 300000, measuredWords: 56000, modelledWords: 56000, phasesEqual: 32, phases: 32,
  wallSecondsPerToken: 0.5, realMeshTps: null, realGpuTps: null, raceRatio: null,
};

describe('lessons', () => {
  beforeAll(() => {
    config = readCheckpoint(new Uint8Array(readFileSync(resolve(ROOT, 'public/models/wm-stories.bin')))).config;
  });

  it('are at least eight, one file each, with unique ids; each names only what the catalog has and types no number into its text', () => {
    expect(LESSONS.length).toBeGreaterThanOrEqual(8);
    expect(new Set(LESSONS.map((l) => l.id)).size).toBe(LESSONS.length);
    expect(LESSONS.flatMap((l) => lessonProblems(l, CATALOG))).toEqual([]);
  });

  it('the check reports wrong ids, a placeholder naming no figure, and a number typed into the text', () => {
    const gpu = CATALOG.hardware.find((h) => h.kind === 'gpu')!.id;
    const bad: Lesson = {
      ...LESSONS[0],
      id: 'bad',
      state: { preset: gpu, allreduce: 'butterfly' },
      paragraphs: ['The wafer has 900,000 cores and {nothing.here} of them.'],
    };
    const problems = lessonProblems(bad, CATALOG);
    expect(problems).toEqual([
      expect.stringMatching(/^lesson bad state: preset=\S+ is unknown/),
      expect.stringMatching(/^lesson bad state: allreduce=butterfly is not/),
      'lesson bad: {nothing.here} names no figure of the lesson',
      'lesson bad: a number is typed into its text (900,000); quote a figure instead',
    ]);
    expect(numbersTyped('Llama-3.1-8B on a WSE-3 against an H100 at fp16, K = 2, Σx²')).toEqual([]);
    expect(numbersTyped('about 1,000 tokens/s')).toEqual(['1,000']);
  });

  it("every lesson's numbers come out of the worker's figures for its state: no placeholder is left empty (live ones aside)", () => {
    for (const l of LESSONS) {
      const s = stateOf(l);
      const r = results(l, s);
      for (const x of r.values()) expect(x.error, `${l.id}: ${x.key}`).toBeNull();
      const v = lessonValues(l, s, r, LIVE_AFTER_A_TOKEN);
      for (const text of [...l.paragraphs, ...(l.table ? [l.table.caption, ...l.table.rows.flat()] : []), l.tryThis.text, l.question.text]) {
        for (const p of placeholders(text)) expect(v(p.name, p.field), `${l.id}: ${p.whole}`).not.toBeNull();
        const segs = fillText(text, l, s, v);
        for (const seg of segs) if ('figure' in seg) expect(seg.label, `${l.id}: ${seg.figure}`).toMatch(/^(exact|exact: the placement|modelled|measured|catalog|live|worked out|replayed)$/);
      }
    }
  }, 120_000);

  it("each question's check answers from the live numbers, and a lesson opened on another mesh or preset shows that state's numbers", () => {
    for (const l of LESSONS) {
      const s = stateOf(l);
      const live = { ...LIVE_AFTER_A_TOKEN, gpuBytesPerToken: (lessonValues(l, s, results(l, s), LIVE_AFTER_A_TOKEN)('model', 'weightBytes') as number | null) ?? 1 };
      const out = l.question.check(lessonValues(l, s, results(l, s), live));
      expect(out, l.id).not.toBeNull();
      expect(out!.answer).toBeGreaterThanOrEqual(0);
      expect(out!.answer).toBeLessThan(l.question.choices.length);
      expect(placeholders(out!.because).length, `${l.id} quotes live numbers in its answer`).toBeGreaterThan(0);
    }
    // Before a token has run, the questions that need one wait.
    for (const l of LESSONS.filter((x) => x.question.needs === 'token')) {
      const s = stateOf(l);
      const none = liveValues({ info: null, events: [], revealed: { mesh: 0, gpu: 0 }, wall: { ms: 0, tokens: 0 }, real: null, finish: { mesh: 0, gpu: 0 } });
      expect(l.question.check(lessonValues(l, s, results(l, s), none)), l.id).toBeNull();
    }
    // Another state, other numbers: lesson 3 on 16x16 quotes a trace of 16x16.
    const mesh = LESSONS.find((l) => l.id === 'the-mesh')!;
    const at8 = lessonValues(mesh, stateOf(mesh), results(mesh, stateOf(mesh)), {});
    const s16 = stateOf(mesh, { mesh: { width: 16, height: 16 } });
    const at16 = lessonValues(mesh, s16, results(mesh, s16), {});
    expect(at8('trace', 'cores')).toBe(64);
    expect(at16('trace', 'cores')).toBe(256);
    expect(at16('trace', 'cycles')).not.toBe(at8('trace', 'cycles'));
  }, 120_000);

  it('the memory-bound question is checked both ways against the live run', () => {
    const l = LESSONS[0];
    const s = stateOf(l);
    const r = results(l, s);
    const weights = lessonValues(l, s, r, {})('model', 'weightBytes') as number;
    const answer = (bytes: number) => l.question.check(lessonValues(l, s, r, { ...LIVE_AFTER_A_TOKEN, gpuBytesPerToken: bytes }))!.answer;
    expect(answer(weights * 1.02)).toBe(1);
    expect(answer(weights * 0.01)).toBe(0);
    expect(answer(weights * 40)).toBe(2);
    // The measured-or-modelled question: the pane's rate is modelled, even when this computer happens to match it.
    const m = LESSONS.find((x) => x.id === 'measured-modelled')!;
    const sm = stateOf(m);
    const check = (wall: number) => m.question.check(lessonValues(m, sm, results(m, sm), { ...LIVE_AFTER_A_TOKEN, meshTokensPerS: 100, wallSecondsPerToken: wall }))!.answer;
    expect(check(1 / 100)).toBe(1);
    expect(check(1)).toBe(1);
  }, 120_000);

  it("opened from a URL, a lesson applies its state except what the URL says", () => {
    const l = LESSONS[2];
    expect(lessonPatchFor(l, '?lesson=3')).toEqual(l.state);
    const p = lessonPatchFor(l, '?lesson=3&mesh=16x16&preset=wse-2');
    expect(p.mesh).toBeUndefined();
    expect(p.preset).toBeUndefined();
    expect(p.model).toBe(l.state.model);
  });

  it('formats values with their units', () => {
    expect(formatValue(1.74e6, 'bytes')).toBe('1.74 MB');
    expect(formatValue(49152, 'kb')).toBe('48 KB');
    expect(formatValue(0.00832, 's')).toBe('8.32 ms');
    expect(formatValue(4.5, 'x')).toBe('4.50×');
    expect(formatValue(903.1, 'tps')).toBe('903 tokens/s');
    expect(formatValue(null, 'int')).toBe('…');
    expect(formatValue(true, 'int')).toBe('yes');
  });
});
