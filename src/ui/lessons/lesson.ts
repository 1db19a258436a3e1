import type { Catalog } from '../../worker/types.ts';
import { defaultState, parseState, serializeState, type AppState } from '../url-state.ts';

/**
 * A guided lesson: a few steps, each a short text and the demo settings it shows. A step's patch
 * is a change to the URL state; the preset, allreduce and model it names are catalog ids, checked
 * by `lessonProblems` exactly as the URL is.
 */
export interface Lesson {
  /** Kebab-case, unique: it will name the lesson in the URL. */
  id: string;
  title: string;
  steps: LessonStep[];
}

export interface LessonStep {
  /** What to look at and why, in a few sentences. */
  text: string;
  /** Settings this step applies (catalog ids for preset, allreduce and model); absent: keep the current ones. */
  patch?: LessonPatch;
}

export type LessonPatch = Partial<Pick<AppState, 'model' | 'preset' | 'allreduce' | 'mesh' | 'prompt' | 'tokens' | 'temperature' | 'seed'>>;

/**
 * What is wrong with a lesson against a catalog, one line each (empty when nothing is): a step's
 * patch is written into the URL over the defaults and read back with `parseState`, so a lesson
 * can name only what a link can; plus an empty id, title or step list.
 */
export function lessonProblems(lesson: Lesson, catalog: Catalog): string[] {
  const problems: string[] = [];
  if (!lesson.id) problems.push('a lesson has no id');
  if (!lesson.title) problems.push(`lesson ${lesson.id}: no title`);
  if (lesson.steps.length === 0) problems.push(`lesson ${lesson.id}: no steps`);
  lesson.steps.forEach((step, i) => {
    if (!step.text.trim()) problems.push(`lesson ${lesson.id} step ${i + 1}: no text`);
    if (!step.patch) return;
    const { errors } = parseState(serializeState({ ...defaultState(catalog), ...step.patch }), catalog);
    for (const e of errors) problems.push(`lesson ${lesson.id} step ${i + 1}: ${e}`);
  });
  return problems;
}
