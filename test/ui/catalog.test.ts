import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG, catalogData, type Catalog } from '../../src/catalog.ts';
import { parseState } from '../../src/ui/url-state.ts';

const ROOT = resolve(__dirname, '../..');
const UI = resolve(ROOT, 'src/ui');
const LESSONS = resolve(UI, 'lessons');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every name the catalog gives: hardware presets, algorithms, models, and the demo's random model spec. */
const CATALOG_NAMES = [...CATALOG.hardware.map((h) => h.id), ...CATALOG.allreduce.map((a) => a.id), ...CATALOG.models.map((m) => m.id), CATALOG.demoRandomModel];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The catalog names written in `source` as a whole string literal: '…', "…" or `…`. */
function literalNames(source: string): string[] {
  return CATALOG_NAMES.filter((id) => new RegExp(`(['"\`])${escape(id)}\\1`).test(source));
}

describe('the demo reads the catalog from its worker', () => {
  it('accepts a preset added to the catalog, and only then', () => {
    const base = CATALOG.hardware.find((h) => h.id === CATALOG.defaults.wafer)!;
    const withTest: Catalog = { ...CATALOG, hardware: [...CATALOG.hardware, { ...base, id: 'wse-test', description: 'a test preset' }] };
    const accepted = parseState('?preset=wse-test', withTest);
    expect(accepted.errors).toEqual([]);
    expect(accepted.state.preset).toBe('wse-test');
    const refused = parseState('?preset=wse-test', CATALOG);
    expect(refused.state.preset).toBe(CATALOG.defaults.wafer);
    expect(refused.errors).toEqual([`preset=wse-test is unknown; use one of ${CATALOG.hardware.filter((h) => h.kind === 'wafer').map((h) => h.id).join(', ')}`]);
    // And the message of the catalog that has it lists it.
    expect(parseState('?preset=tpu', withTest).errors[0]).toMatch(/use one of .*wse-test$/);
  });

  it('crosses the worker boundary unchanged (structured clone)', () => {
    expect(structuredClone(catalogData())).toEqual(catalogData());
  });

  it('finds a catalog name written as a string literal (the check below can fail)', () => {
    expect(literalNames(`const p = 'wse-3';`)).toEqual(['wse-3']);
    expect(literalNames('html`<option>tree</option>` + "ring"')).toEqual(['ring']);
    expect(literalNames('// the tree allreduce on a wse-3 core')).toEqual([]);
    // The lessons, which are allowed to, do name catalog ids.
    expect(tsFiles(LESSONS).flatMap((f) => literalNames(readFileSync(f, 'utf8'))).length).toBeGreaterThan(0);
  });

  it('no file under src/ui/ (lessons aside) names a preset, algorithm or model of the catalog', () => {
    const files = tsFiles(UI).filter((f) => !f.startsWith(LESSONS + '/'));
    expect(files.length).toBeGreaterThan(5);
    const found = files.flatMap((f) => literalNames(readFileSync(f, 'utf8')).map((id) => `${relative(ROOT, f)}: '${id}'`));
    expect(found).toEqual([]);
  });

  it('no file under src/ui/ imports the catalog, mesh, gpu or engines except as types', () => {
    const bad = tsFiles(UI).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)]
        .map((m) => m[1])
        .filter((spec) => /(^|\/)(catalog\.ts|mesh|gpu|engines)(\/|$)/.test(spec))
        .map((spec) => `${relative(ROOT, f)} imports ${spec}`),
    );
    expect(bad).toEqual([]);
  });
});
