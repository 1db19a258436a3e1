import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOG, hardwarePreset, modelEntry } from '../../src/catalog.ts';
import { PUBLISHED, type PublishedRow } from '../../src/cost/published.ts';
import { geometricMeanError, predictSetup, validate, type Validation } from '../../src/cost/validate.ts';
import { validationTable } from '../../src/cli/predict.ts';

describe('geometric-mean error', () => {
  it('is the geometric mean of max(ours/theirs, theirs/ours), hand-computed', () => {
    expect(geometricMeanError([1])).toBe(1);
    // 2x too fast and 2x too slow are both a 2x error: not 1 (they must not cancel).
    expect(geometricMeanError([2, 0.5])).toBeCloseTo(2, 12);
    // max(1,1)=1 and max(4,1/4)=4: (1 · 4)^(1/2) = 2.
    expect(geometricMeanError([1, 4])).toBeCloseTo(2, 12);
    // (1.5 · 2 · 3)^(1/3) = 9^(1/3).
    expect(geometricMeanError([1.5, 0.5, 1 / 3])).toBeCloseTo(9 ** (1 / 3), 12);
    expect(() => geometricMeanError([])).toThrow();
    expect(() => geometricMeanError([0])).toThrow();
    expect(() => geometricMeanError([Number.NaN])).toThrow();
  });
});

describe('the published-numbers file', () => {
  it('gives every row a source, an address, a setup in the catalog and a positive number', () => {
    expect(PUBLISHED.length).toBeGreaterThanOrEqual(8);
    expect(new Set(PUBLISHED.map((r) => r.id)).size).toBe(PUBLISHED.length);
    for (const r of PUBLISHED) {
      expect(r.source.length, r.id).toBeGreaterThan(30);
      expect(r.url, r.id).toMatch(/^https:\/\//);
      expect(r.setupNote.length, r.id).toBeGreaterThan(20);
      expect(r.tokensPerS, r.id).toBeGreaterThan(0);
      expect(modelEntry(r.setup.model)?.config, `${r.id}: model ${r.setup.model}`).toBeDefined();
      expect(() => hardwarePreset(r.setup.hardware), r.id).not.toThrow();
      // A row that uses speculative decoding says so, and names its draft; no other row has one.
      expect(r.speculative, r.id).toBe(r.setup.draft !== undefined);
      if (r.setup.draft) expect(modelEntry(r.setup.draft)?.config, r.id).toBeDefined();
    }
  });

  it('covers a WSE-2 (WaferLLM), a WSE-3 (Cerebras), single and 8-way GPU servers, and marks a speculative row', () => {
    const kind = (r: PublishedRow) => hardwarePreset(r.setup.hardware).kind;
    expect(PUBLISHED.some((r) => r.setup.hardware === 'wse-2' && /WaferLLM/.test(r.source))).toBe(true);
    expect(PUBLISHED.some((r) => r.setup.hardware === 'wse-3' && /Cerebras/.test(r.source))).toBe(true);
    expect(PUBLISHED.some((r) => kind(r) === 'gpu' && r.setup.chips === 1)).toBe(true);
    expect(PUBLISHED.some((r) => kind(r) === 'gpu' && r.setup.chips === 8)).toBe(true);
    expect(PUBLISHED.some((r) => r.speculative)).toBe(true);
  });
});

describe('predict --validate', () => {
  let table: Validation;
  beforeAll(() => {
    table = validate();
  }, 300_000);

  it('never reads the published number: changing every one leaves every prediction unchanged', () => {
    // The same setups with every published figure multiplied by 10: a prediction that read its
    // row's number would move with it.
    const changed: PublishedRow[] = PUBLISHED.map((r) => ({ ...r, tokensPerS: r.tokensPerS * 10 }));
    const again = validate(changed);
    expect(again.rows.map((r) => r.ours)).toEqual(table.rows.map((r) => r.ours));
    expect(again.rows.map((r) => r.theirs)).toEqual(table.rows.map((r) => r.theirs * 10));
    for (const [i, r] of again.rows.entries()) expect(r.ratio).toBeCloseTo(table.rows[i].ratio / 10, 2);
    // And the prediction of a setup alone equals the table's.
    const first = PUBLISHED[PUBLISHED.length - 1];
    expect(predictSetup(first.setup).tokens_per_s).toBe(table.rows[PUBLISHED.length - 1].ours);
  }, 300_000);

  it("prints each row's ours, theirs and ratio, and the geometric-mean error of the rows", () => {
    expect(table.rows).toHaveLength(PUBLISHED.length);
    for (const r of table.rows) {
      expect(r.ratio).toBeCloseTo(r.ours / r.theirs, 2);
      expect(r.error).toBeCloseTo(Math.max(r.ours / r.theirs, r.theirs / r.ours), 2);
    }
    expect(table.geomean_error).toBeCloseTo(geometricMeanError(table.rows.map((r) => r.ours / r.theirs)), 2);
    const text = validationTable(table);
    for (const r of table.rows) expect(text).toContain(r.id);
    expect(text).toMatch(/geometric-mean error .*: \d+\.\d\dx/);
    expect(text).toMatch(/nvidia-h200-llama3\.3-70b-spec .* yes /);
  });

  it('names the HBM bandwidth every GPU of the table streams at: the one measured figure per GPU, with its source', () => {
    expect(table.hbm_bandwidth.map((b) => [b.hardware, b.kind, b.bytes_per_s, b.peak_bytes_per_s])).toEqual([
      ['a100', 'sustained', 1.75e12, 2.039e12],
      ['h100', 'sustained', 3.18e12, 3.35e12],
      ['h200', 'sustained', 4.48e12, 4.8e12],
    ]);
    const text = validationTable(table);
    expect(text).toMatch(/h100: 3\.18 TB\/s sustained \(datasheet peak 3\.35 TB\/s\), measured: BabelStream .*ND_H100_v5_results\.md/);
    expect(text).toMatch(/a100: 1\.75 TB\/s sustained .*ND_A100_v4_results\.md/);
  });

  it('has no row off by more than 3x without a stated reason', () => {
    for (const r of table.rows) if (r.error > 3) expect(r.note, `${r.id} is off by ${r.error}x`).toBeDefined();
  });

  it('runs speculative rows with the one documented default, and they are faster than the same setup without a draft', () => {
    const spec = table.rows.find((r) => r.id === 'nvidia-h200-llama3.3-70b-spec')!;
    const plain = table.rows.find((r) => r.id === 'nvidia-h200-llama3.3-70b')!;
    expect(spec.ours).toBeGreaterThan(plain.ours);
    expect(predictSetup(PUBLISHED.find((r) => r.id === spec.id)!.setup).speculative).toMatchObject({ acceptance: 0.8, draft_tokens: 5 });
  });

  it('uses only catalog presets whose figures all carry a source', () => {
    for (const r of PUBLISHED) {
      const p = CATALOG.hardware.find((h) => h.id === r.setup.hardware)!;
      for (const [k, f] of Object.entries(p.figures)) expect((f as { source: string }).source.length, `${p.id}.${k}`).toBeGreaterThan(10);
    }
  });
});
