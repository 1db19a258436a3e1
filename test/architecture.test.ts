import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) out.push(...files(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every module a file imports, as a path from the project root. */
function imports(file: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)) {
    out.push(relative(ROOT, resolve(ROOT, file, '..', m[1] ?? m[2])));
  }
  return out;
}

/** Imports of `file` that land under any of `forbidden` (folders or files from the root). */
const offending = (file: string, forbidden: string[]) => imports(file).filter((i) => forbidden.some((f) => i === f || i.startsWith(`${f}/`)));

describe('layers: plans below, executors beside them, one way in', () => {
  it('finds the imports it checks (the scanner itself works)', () => {
    expect(imports('src/engines/index.ts')).toContain('src/engines/mesh.ts');
    expect(offending('src/engines/mesh.ts', ['src/gpu'])).toContain('src/gpu/resources.ts');
  });

  it('no plan (src/mesh, src/baseline, src/cost, the catalog, the model) imports the GPU or an executor', () => {
    const plans = [...files('src/mesh'), ...files('src/baseline'), ...files('src/cost'), ...files('src/model'), 'src/catalog.ts'];
    for (const f of plans) expect(offending(f, ['src/gpu', 'src/engines', 'src/worker', 'src/cli', 'src/ui']), f).toEqual([]);
  });

  it('the UI sees only the worker', () => {
    for (const f of files('src/ui')) expect(offending(f, ['src/gpu', 'src/mesh', 'src/engines', 'src/cost', 'src/baseline', 'src/catalog.ts', 'src/model']), f).toEqual([]);
  });

  it('the CLI, the bench and the worker make machines only through createMachine', () => {
    const users = [...files('src/cli'), ...files('src/worker')];
    for (const f of users) {
      const src = readFileSync(join(ROOT, f), 'utf8');
      expect(src, f).not.toMatch(/new (Cpu|Gpu|Mesh)Engine\b|(Gpu|Mesh)Engine\.(create|fromProgram)\b/);
      expect(offending(f, ['src/engines/cpu.ts', 'src/engines/gpu.ts', 'src/engines/mesh.ts', 'src/engines/mesh-runtime.ts']), f).toEqual([]);
    }
  });

  it('the CLI commands do not import each other through main.ts (no import circle)', () => {
    for (const f of files('src/cli').filter((x) => !x.endsWith('main.ts'))) expect(offending(f, ['src/cli/main.ts']), f).toEqual([]);
  });
});
