import type { FigureQuery } from './types.ts';

/** A figure query's key: the same query always gives the same key (the page looks results up by it). */
export function figureKey(q: FigureQuery): string {
  return JSON.stringify(Object.entries(q).sort(([a], [b]) => a.localeCompare(b)));
}
