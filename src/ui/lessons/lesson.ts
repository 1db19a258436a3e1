import type { Catalog, FigureQuery } from '../../worker/types.ts';
import { defaultState, parseState, serializeState, type AppState } from '../url-state.ts';

/**
 * A guided lesson (one chapter, one file in this folder, listed in index.ts). It sets the demo's
 * state (a URL), explains in a few short paragraphs, quotes numbers that are computed when it is
 * shown — never typed into its text — and asks a question the learner answers before running,
 * checked against the live run.
 *
 * Text holds placeholders `{name.field}` or `{name.field:format}`: `name` is one of the lesson's
 * `figures` (computed by the worker with the functions the CLI prints them with, for the state
 * shown) or `live` (the running engines: see `LiveValues`). Formats: int, bytes, kb, s (seconds),
 * x (a ratio), pct (a fraction as %), tps (tokens/s), str. Every number is shown with its label:
 * measured, modelled or exact (arithmetic on the placement).
 */
export interface Lesson {
  /** Kebab-case, unique. */
  id: string;
  title: string;
  /** The state the lesson opens with (applied where the URL does not say otherwise). */
  state: LessonPatch;
  /** The numbers it quotes, for the state shown: name → query. */
  figures: (s: AppState) => Record<string, FigureQuery>;
  /** Values worked out from the figures and the live run (ratios, sums), read as `{calc.name}`. */
  derive?: (v: Values) => Record<string, Value>;
  /** A few short paragraphs; terms defined where they first appear (`<dfn>` in the page: write *term*). */
  paragraphs: string[];
  /** Numbers side by side, after the paragraphs: a caption, column heads and rows of cells (placeholders allowed). */
  table?: { caption: string; columns: string[]; rows: string[][] };
  /** Something to do in the demo, and what it runs. */
  tryThis: { text: string; action: TryAction };
  question: LessonQuestion;
}

/** What a lesson's "try this" runs: one of the demo's actions, or a change of settings. */
export type TryAction = { kind: 'step-token' } | { kind: 'step-phase' } | { kind: 'play' } | { kind: 'settings'; patch: (s: AppState) => LessonPatch };

export interface LessonQuestion {
  /** Asked before running (placeholders allowed). */
  text: string;
  choices: string[];
  /**
   * Which choice the live numbers make right, and why, quoting them (placeholders allowed); null
   * while what it needs has not run yet (`needs`).
   */
  check: (v: Values) => { answer: number; because: string } | null;
  /** What must have run before the check can be made: nothing but the lesson's figures, or a decoded token. */
  needs: 'figures' | 'token';
}

export type LessonPatch = Partial<Pick<AppState, 'model' | 'preset' | 'allreduce' | 'mesh' | 'prompt' | 'tokens' | 'temperature' | 'seed' | 'race' | 'speed'>>;

/** A value a lesson reads: a figure's field or a live one; null when not there yet. */
export type Value = number | string | boolean | null;

/** How a lesson reads its numbers: `v('fit', 'cores')`, `v('live', 'gpuBytesPerToken')`. */
export type Values = (name: string, field: string) => Value;

/** What the running engines have shown, for lessons (null until a token has run). */
export type LiveValues = Record<string, Value>;

/** How each figure kind's numbers are labelled on the page. */
export const FIGURE_LABEL: Record<FigureQuery['kind'] | 'live', string> = {
  model: 'exact',
  fit: 'exact: the placement',
  trace: 'modelled',
  gpu: 'modelled',
  prefill: 'modelled',
  predict: 'modelled',
  'real-prefill': 'modelled',
  'kv-transfer': 'modelled',
  wafer: 'catalog',
  scale: 'catalog',
  live: 'live',
};

/** Labels of the live values: which are measured on this machine, which modelled, which exact. */
export const LIVE_LABEL: Record<string, string> = {
  gpuBytesPerToken: 'modelled',
  gpuTokensPerS: 'modelled',
  meshTokensPerS: 'modelled',
  measuredWords: 'measured',
  modelledWords: 'modelled',
  phasesEqual: 'measured',
  phases: 'exact',
  wallSecondsPerToken: 'measured',
  tokens: 'live',
  realMeshTps: 'replayed',
  realGpuTps: 'replayed',
  raceRatio: 'modelled',
};

/** The placeholders of a text: [whole, name, field, format]. */
export function placeholders(text: string): { whole: string; name: string; field: string; format: string }[] {
  return [...text.matchAll(/\{(\w+)\.(\w+)(?::(\w+))?\}/g)].map((m) => ({ whole: m[0], name: m[1], field: m[2], format: m[3] ?? 'int' }));
}

/** A value written in a lesson's format. */
export function formatValue(v: Value, format: string): string {
  if (v === null || v === undefined) return '…';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string' || format === 'str') return String(v);
  const x = v;
  switch (format) {
    case 'bytes':
      return x >= 1e9 ? `${(x / 1e9).toPrecision(3)} GB` : x >= 1e6 ? `${(x / 1e6).toPrecision(3)} MB` : x >= 1e4 ? `${(x / 1e3).toPrecision(3)} kB` : `${Math.round(x).toLocaleString('en')} B`;
    case 'kb':
      return `${Math.round(x / 1024).toLocaleString('en')} KB`;
    case 's':
      return x >= 1 ? `${x.toPrecision(3)} s` : x >= 1e-3 ? `${(x * 1e3).toPrecision(3)} ms` : x >= 1e-6 ? `${(x * 1e6).toPrecision(3)} µs` : `${(x * 1e9).toPrecision(3)} ns`;
    case 'x':
      return `${x >= 100 ? Math.round(x).toLocaleString('en') : x.toPrecision(3)}×`;
    case 'pct':
      return `${(x * 100).toFixed(x < 0.01 ? 2 : 0)}%`;
    case 'tps':
      return `${x >= 100 ? Math.round(x).toLocaleString('en') : x.toPrecision(3)} tokens/s`;
    default:
      return Math.round(x).toLocaleString('en');
  }
}

/** The patch a lesson applies when opened from a URL: its state, except what the URL itself says. */
export function lessonPatchFor(lesson: Lesson, search: string): LessonPatch {
  const q = new URLSearchParams(search);
  const keyOf: Record<string, string> = { topP: 'top_p' };
  return Object.fromEntries(Object.entries(lesson.state).filter(([k]) => !q.has(keyOf[k] ?? k))) as LessonPatch;
}

/**
 * What is wrong with a lesson against a catalog, one line each (empty when nothing is): its state
 * and its try-this patch are written into the URL over the defaults and read back with
 * `parseState`, so a lesson names only what a link can; its placeholders name its figures or
 * `live`; the question has choices; no number is typed into its text (names such as WSE-3 aside).
 */
export function lessonProblems(lesson: Lesson, catalog: Catalog): string[] {
  const problems: string[] = [];
  if (!lesson.id) problems.push('a lesson has no id');
  if (!lesson.title) problems.push(`lesson ${lesson.id}: no title`);
  if (lesson.paragraphs.length === 0) problems.push(`lesson ${lesson.id}: no paragraphs`);
  const check = (where: string, patch: LessonPatch) => {
    const { errors } = parseState(serializeState({ ...defaultState(catalog), ...patch }), catalog);
    for (const e of errors) problems.push(`lesson ${lesson.id} ${where}: ${e}`);
  };
  check('state', lesson.state);
  if (lesson.tryThis.action.kind === 'settings') check('try this', lesson.tryThis.action.patch({ ...defaultState(catalog), ...lesson.state }));
  const names = new Set([...Object.keys(lesson.figures({ ...defaultState(catalog), ...lesson.state })), 'live', ...(lesson.derive ? ['calc'] : [])]);
  const table = lesson.table ? [lesson.table.caption, ...lesson.table.columns, ...lesson.table.rows.flat()] : [];
  const texts = [...lesson.paragraphs, ...table, lesson.tryThis.text, lesson.question.text, ...lesson.question.choices];
  for (const t of texts) {
    for (const p of placeholders(t)) if (!names.has(p.name)) problems.push(`lesson ${lesson.id}: ${p.whole} names no figure of the lesson`);
    const typed = numbersTyped(t);
    if (typed.length) problems.push(`lesson ${lesson.id}: a number is typed into its text (${typed.join(', ')}); quote a figure instead`);
  }
  if (lesson.question.choices.length < 2) problems.push(`lesson ${lesson.id}: the question needs at least two choices`);
  return problems;
}

/** Digits in a text outside its placeholders and outside the names of things (WSE-3, H100, Llama-3.1-8B, K = 2, x², fp16 …). */
export function numbersTyped(text: string): string[] {
  const stripped = text
    .replace(/\{[^}]*\}/g, '')
    .replace(/Llama-3\.1-(8|70)B|WSE-[23]|H100|K = 2|x²|fp(8|16|32)|llama2\.c|GPT-5\.3|\bL2\b|w[13]|w2|\bL0\b/g, '');
  return stripped.match(/\d[\d,.]*/g) ?? [];
}
