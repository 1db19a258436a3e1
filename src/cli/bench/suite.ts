import { ENGINES, type EngineName } from '../../engines/index.ts';
import { WafermeshError } from '../../errors.ts';
import { meshFromPreset, parseMeshSize, type MeshConfig } from '../../mesh/config.ts';
import { smallestFittingMesh } from '../../mesh/placement.ts';
import type { Model } from '../../model/weights.ts';

/** What the bench runs: the three machines (through createMachine) and the plain C decode. */
export type BenchEngine = EngineName | 'c';
export const BENCH_ENGINES: readonly BenchEngine[] = [...ENGINES, 'c'];

/** `engines`: one case per engine; `default`: that, then the sweeps over mesh size, context and model size. */
export const SUITES = ['default', 'engines'] as const;

/** One measurement: an engine decoding `tokens` positions of a model after `context` untimed ones. */
export interface Case {
  suite: string; // "engines", "mesh size", "model size", "context"
  sweep: string; // the swept value, for plots
  engine: BenchEngine;
  model: string; // a name loadModel takes
  mesh?: MeshConfig;
  context: number; // positions decoded before the timed ones
}

export interface SuiteOptions {
  suite: string;
  engines: readonly BenchEngine[];
  model: string;
  preset: string; // the wafer preset every mesh is made of
  tokens: number; // timed positions per case (the context sweep keeps context + tokens ≤ seq_len)
  meshes?: string[]; // the mesh-size sweep, WxH each
  contexts?: number[]; // the context sweep
}

/** `--engines a,b`, each checked. */
export function parseEngines(s: string): BenchEngine[] {
  const engines = s.split(',').map((e) => e.trim()) as BenchEngine[];
  for (const e of engines) if (!BENCH_ENGINES.includes(e)) throw new WafermeshError('bad-option', `--engines: "${e}" is not one of ${BENCH_ENGINES.join(', ')}`);
  return engines;
}

/** A random Llama of width `dim` (4 layers, SwiGLU hidden ≈ 8/3 dim), for the model-size sweep. */
export const randomModelSpec = (dim: number) =>
  `random:dim=${dim},hidden=${Math.round((dim * 8) / 3 / 4) * 4},layers=4,heads=${dim / 16},kv=${dim / 32},vocab=512,seq=256,shared=1,seed=1`;

/**
 * The cases of a suite, in the order they run. `getModel` loads (and caches) a model by name: the
 * meshes are sized to what each model needs.
 */
export async function buildSuite(o: SuiteOptions, getModel: (name: string) => Promise<Model>): Promise<Case[]> {
  if (!(SUITES as readonly string[]).includes(o.suite)) throw new WafermeshError('bad-option', `--suite ${o.suite} is not one of ${SUITES.join(', ')}`);
  const meshOf = (s: string) => {
    const { width, height } = parseMeshSize(s);
    return meshFromPreset(o.preset, width, height);
  };
  const base = await getModel(o.model);
  // The main model's mesh: the smallest square that holds it, at least 8x8.
  const fitting = smallestFittingMesh(base.config, meshFromPreset(o.preset, 8, 8)) ?? meshOf('8x8');
  const main = fitting.width < 8 ? meshOf('8x8') : fitting;
  const cases: Case[] = [];
  for (const e of o.engines) cases.push({ suite: 'engines', sweep: e, engine: e, model: o.model, mesh: e === 'mesh' ? main : undefined, context: 0 });
  if (o.suite !== 'default') return cases;

  if (o.engines.includes('mesh')) {
    for (const s of o.meshes ?? ['8x8', '16x16', '32x32']) cases.push({ suite: 'mesh size', sweep: s, engine: 'mesh', model: o.model, mesh: meshOf(s), context: 0 });
  }
  const contexts = o.contexts ?? [0, 128, 384].filter((c) => c + o.tokens <= base.config.seqLen);
  for (const c of contexts) {
    // The C decode only times from BOS.
    for (const e of o.engines.filter((x) => x !== 'c')) cases.push({ suite: 'context', sweep: String(c), engine: e, model: o.model, mesh: e === 'mesh' ? main : undefined, context: c });
  }
  for (const dim of [64, 128, 256]) {
    const name = randomModelSpec(dim);
    const m = await getModel(name);
    const fit = smallestFittingMesh(m.config, meshFromPreset(o.preset, 8, 8));
    for (const e of o.engines.filter((x) => x === 'gpu' || x === 'mesh' || x === 'c')) {
      if (e === 'mesh' && !fit) continue;
      cases.push({ suite: 'model size', sweep: `dim ${dim}`, engine: e, model: name, mesh: e === 'mesh' ? fit : undefined, context: 0 });
    }
  }
  return cases;
}
