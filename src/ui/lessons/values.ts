import { figureKey } from '../../worker/figure-key.ts';
import type { FigureQuery, FigureResult, RealScaleRace, SessionInfo, TokenEvent } from '../../worker/types.ts';
import type { AppState } from '../url-state.ts';
import { FIGURE_LABEL, LIVE_LABEL, formatValue, placeholders, type Lesson, type LiveValues, type Value, type Values } from './lesson.ts';

/** What the running demo holds that lessons quote (the race controller's state, read only). */
export interface LiveSource {
  info: SessionInfo | null;
  events: readonly TokenEvent[];
  revealed: { mesh: number; gpu: number };
  wall: { ms: number; tokens: number };
  real: RealScaleRace | null;
  finish: { mesh: number; gpu: number };
}

/** The live values: from the last decoded token (null until one is), the wall clock measured here, the race. */
export function liveValues(src: LiveSource): LiveValues {
  const last = src.events[src.events.length - 1] ?? null;
  return {
    tokens: src.events.length,
    gpuBytesPerToken: last ? last.gpuCost.offchipBytes : null,
    gpuTokensPerS: last ? last.gpuCost.tokensPerS : null,
    // Disaggregated, the first token's cost is the GPU's prefill: no wafer speed until the wafer decodes one.
    meshTokensPerS: last && !last.prefill?.handoff ? last.meshCost.tokensPerS : null,
    measuredWords: last?.measured ? last.measured.words : null,
    modelledWords: last?.measured ? last.measured.modelledWords : null,
    phasesEqual: last?.measured ? last.measured.phasesEqual : null,
    phases: last?.measured ? last.measured.phases : null,
    wallSecondsPerToken: src.wall.tokens > 0 ? src.wall.ms / 1000 / src.wall.tokens : null,
    realMeshTps: src.real ? src.real.machines.mesh.tokensPerS : null,
    realGpuTps: src.real ? src.real.machines.gpu.tokensPerS : null,
    raceRatio: src.finish.mesh > 0 ? src.finish.gpu / src.finish.mesh : null,
  };
}

/** The lesson's queries for the state shown. */
export const lessonQueries = (lesson: Lesson, s: AppState): FigureQuery[] => Object.values(lesson.figures(s));

/** How a lesson reads its numbers: its figures (by query, from the worker's results), `live`, and `calc` (its own derivations). */
export function lessonValues(lesson: Lesson, s: AppState, results: ReadonlyMap<string, FigureResult>, live: LiveValues): Values {
  const queries = lesson.figures(s);
  const base: Values = (name, field) => {
    if (name === 'live') return live[field] ?? null;
    const q = queries[name];
    if (!q) return null;
    return results.get(figureKey(q))?.values[field] ?? null;
  };
  let calc: Record<string, Value> | undefined;
  return (name, field) => {
    if (name !== 'calc') return base(name, field);
    calc ??= lesson.derive?.(base) ?? {};
    return calc[field] ?? null;
  };
}

/** A figure's error (the worker could not compute it), if any, by name. */
export function figureError(lesson: Lesson, s: AppState, results: ReadonlyMap<string, FigureResult>, name: string): string | null {
  const q = lesson.figures(s)[name];
  return q ? (results.get(figureKey(q))?.error ?? null) : null;
}

/** A piece of lesson text: plain words, a defined term, or a number with its name and label. */
export type Segment = { text: string } | { term: string } | { figure: string; value: string; raw: Value; label: string };

/** Splits a text into segments: placeholders filled with their values and labels, *terms* marked. */
export function fillText(text: string, lesson: Lesson, s: AppState, v: Values): Segment[] {
  const out: Segment[] = [];
  const queries = lesson.figures(s);
  const label = (name: string, field: string) =>
    name === 'live' ? (LIVE_LABEL[field] ?? 'live') : name === 'calc' ? 'worked out' : FIGURE_LABEL[queries[name]?.kind ?? 'live'];
  let rest = text;
  for (const p of placeholders(text)) {
    const at = rest.indexOf(p.whole);
    pushWords(out, rest.slice(0, at));
    const raw = v(p.name, p.field);
    out.push({ figure: `${p.name}.${p.field}`, value: formatValue(raw, p.format), raw, label: label(p.name, p.field) });
    rest = rest.slice(at + p.whole.length);
  }
  pushWords(out, rest);
  return out;
}

function pushWords(out: Segment[], text: string): void {
  text.split(/(\*[^*]+\*)/).forEach((part) => {
    if (!part) return;
    if (/^\*[^*]+\*$/.test(part)) out.push({ term: part.slice(1, -1) });
    else out.push({ text: part });
  });
}
