import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog.ts';
import { LESSONS } from '../../src/ui/lessons/index.ts';
import { lessonProblems, type Lesson } from '../../src/ui/lessons/lesson.ts';

describe('lessons', () => {
  it('name only presets, algorithms and models the catalog has', () => {
    expect(LESSONS.length).toBeGreaterThan(0);
    expect(LESSONS.flatMap((l) => lessonProblems(l, CATALOG))).toEqual([]);
    expect(new Set(LESSONS.map((l) => l.id)).size).toBe(LESSONS.length);
  });

  it('the check reports a lesson naming what the catalog lacks, step by step', () => {
    const bad: Lesson = {
      id: 'bad',
      title: 'A lesson with wrong ids',
      steps: [
        { text: 'fine', patch: { preset: CATALOG.defaults.wafer } },
        { text: 'a GPU is no wafer preset', patch: { preset: CATALOG.hardware.find((h) => h.kind === 'gpu')!.id } },
        { text: 'no such algorithm', patch: { allreduce: 'butterfly' } },
        { text: 'no such model', patch: { model: 'stories15M' } },
      ],
    };
    const problems = lessonProblems(bad, CATALOG);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^lesson bad step 2: preset=\S+ is unknown/);
    expect(problems[1]).toMatch(/^lesson bad step 3: allreduce=butterfly is not/);
    expect(problems[2]).toMatch(/^lesson bad step 4: model=stories15M is not one the demo serves/);
  });

  it('the check reports a lesson whose ids a smaller catalog no longer has', () => {
    const lesson = LESSONS[0];
    const named = lesson.steps.map((s) => s.patch?.allreduce).find((a) => a)!;
    const without = { ...CATALOG, allreduce: CATALOG.allreduce.filter((a) => a.id !== named) };
    expect(lessonProblems(lesson, without).join('\n')).toMatch(new RegExp(`allreduce=${named} is not`));
  });
});
