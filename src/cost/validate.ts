import { CATALOG, hardwarePreset, modelEntry, type Catalog } from '../catalog.ts';
import { gpuPreset } from './hardware.ts';
import { WafermeshError } from '../errors.ts';
import { PUBLISHED, type PublishedRow, type ValidationSetup } from './published.ts';
import { draftModel, predict, type Prediction } from './predict.ts';

/** One row of the validation table: our prediction at the source's setup beside its number. */
export interface ValidationResult {
  readonly id: string;
  readonly model: string;
  readonly hardware: string;
  readonly chips: number;
  readonly precision: string;
  readonly context: number;
  readonly speculative: boolean;
  readonly ours: number;
  readonly theirs: number;
  /** ours ÷ theirs. */
  readonly ratio: number;
  /** max(ours/theirs, theirs/ours). */
  readonly error: number;
  readonly bound: string;
  readonly source: string;
  readonly url: string;
  readonly setup_note: string;
  readonly note?: string;
}

export interface Validation {
  readonly metric: string;
  readonly rows: ValidationResult[];
  /** Geometric mean of max(ours/theirs, theirs/ours) over every row. */
  readonly geomean_error: number;
  readonly worst: { readonly id: string; readonly error: number };
  /** The HBM bandwidth each GPU of the table streams at: sustained (measured, with its source) or the datasheet peak. */
  readonly hbm_bandwidth: readonly { readonly hardware: string; readonly kind: 'sustained' | 'peak'; readonly bytes_per_s: number; readonly peak_bytes_per_s: number; readonly source: string }[];
}

/**
 * Our prediction for a setup. It takes the setup alone — never a published row — so it cannot
 * read the number it is compared with.
 */
export function predictSetup(setup: ValidationSetup, catalog: Catalog = CATALOG): Prediction {
  const entry = modelEntry(setup.model, catalog);
  if (!entry?.config) throw new WafermeshError('bad-option', `validation model ${setup.model} has no published shape in the catalog`);
  return predict(setup.model, entry.config, setup.hardware, {
    chips: setup.chips,
    precision: setup.precision,
    context: setup.context,
    mesh: setup.mesh,
    speculative: setup.draft ? { draft: setup.draft, draftModel: draftModel(setup.draft, catalog) } : undefined,
    catalog,
  });
}

/** The geometric mean of max(r, 1/r): exp of the mean of |ln r|. 1 is perfect. */
export function geometricMeanError(ratios: readonly number[]): number {
  if (ratios.length === 0) throw new Error('no ratios');
  if (ratios.some((r) => !(r > 0) || !Number.isFinite(r))) throw new Error(`ratios must be positive and finite: ${ratios.join(', ')}`);
  return Math.exp(ratios.reduce((a, r) => a + Math.abs(Math.log(r)), 0) / ratios.length);
}

const round = (x: number, d = 4) => Number(x.toPrecision(d));

/**
 * Every published row: predict at its setup first, then compare with its number. `rows` defaults
 * to the published-numbers file (src/cost/published.ts).
 */
export function validate(rows: readonly PublishedRow[] = PUBLISHED, catalog: Catalog = CATALOG): Validation {
  const results: ValidationResult[] = rows.map((row) => {
    const p = predictSetup(row.setup, catalog);
    const ratio = p.tokens_per_s / row.tokensPerS;
    return {
      id: row.id,
      model: row.setup.model,
      hardware: row.setup.hardware,
      chips: row.setup.chips,
      precision: row.setup.precision,
      context: row.setup.context,
      speculative: row.speculative,
      ours: p.tokens_per_s,
      theirs: row.tokensPerS,
      ratio: round(ratio, 3),
      error: round(Math.max(ratio, 1 / ratio), 3),
      bound: p.bound,
      source: row.source,
      url: row.url,
      setup_note: row.setupNote,
      ...(row.note ? { note: row.note } : {}),
    };
  });
  const exact = results.map((r) => r.ours / r.theirs);
  const worst = results.reduce((a, b) => (b.error > a.error ? b : a));
  return {
    metric: 'decode tokens/s for one request (batch 1), ours at the source setup against the published figure',
    rows: results,
    geomean_error: round(geometricMeanError(exact), 3),
    worst: { id: worst.id, error: worst.error },
    hbm_bandwidth: [...new Set(rows.map((r) => r.setup.hardware))]
      .filter((h) => hardwarePreset(h, undefined, catalog).kind === 'gpu')
      .map((h) => {
        const hw = gpuPreset(h, catalog);
        return { hardware: hw.name, kind: hw.hbmBandwidth.kind, bytes_per_s: hw.hbmBytesPerS, peak_bytes_per_s: hw.peakHbmBytesPerS, source: hw.hbmBandwidth.source };
      }),
  };
}
