import { ENGINES, type EngineName } from '../../engines/index.ts';
import { WafermeshError } from '../../errors.ts';
import { meshFromPreset, parseMeshSize, type MeshConfig } from '../../mesh/config.ts';
import { smallestFittingMesh } from '../../mesh/placement.ts';
import type { Model } from '../../model/weights.ts';
import { didYouMean, meshSizeOption } from '../options.ts';

/** What the bench runs: the three machines (through createMachine) and the plain C decode. */
export type BenchEngine = EngineName | 'c';
export const BENCH_ENGINES: readonly BenchEngine[] = [...ENGINES, 'c'];

/**
 * `engines`: one case per engine; `prompt`: the prompt-length sweep alone (time to the first id,
 * prefill tokens/s); `default`: the engines, then the sweeps over mesh size, context, model size and
 * prompt length.
 */
export const SUITES = ['default', 'engines', 'prompt'] as const;

/** The prompt lengths swept when --prompts is not given (those that fit the context with the timed tokens). */
export const DEFAULT_PROMPTS = [1, 16, 64, 200] as const;
/** The machines the prompt sweep runs (the C decode only times from BOS). */
const PROMPT_ENGINES: readonly BenchEngine[] = ['cpu', 'gpu', 'mesh'];

/** One measurement: an engine decoding `tokens` positions of a model after `context` untimed ones. */
export interface Case {
  suite: string; // "engines", "mesh size", "model size", "context"
  sweep: string; // the swept value, for plots
  engine: BenchEngine;
  model: string; // a name loadModel takes
  mesh?: MeshConfig;
  context: number; // positions decoded before the timed ones
  /** The prompt sweep: positions in the prompt (BOS included), prefilled before the first id; absent elsewhere. */
  prompt?: number;
  /** The prompt sweep's mesh with the wafer prefill on the fabric (--wafer-prefill gemm); absent: token by token. */
  waferPrefill?: 'gemm';
}

export interface SuiteOptions {
  suite: string;
  engines: readonly BenchEngine[];
  model: string;
  preset: string; // the wafer preset every mesh is made of
  sram?: number; // SRAM bytes per core, overriding the preset's
  tokens: number; // timed positions per case (the context sweep keeps context + tokens ≤ seq_len)
  meshes?: string[]; // the mesh-size sweep, WxH each
  contexts?: number[]; // the context sweep
  prompts?: number[]; // the prompt-length sweep (checked by checkPrompts)
  waferPrefill?: boolean; // the prompt sweep also runs the mesh with the wafer prefill on the fabric
}

/** `--prompts 1,16,64`: whole numbers ≥ 1, each checked; the context is checked by checkPrompts once the model is loaded. */
export function parsePrompts(s: string): number[] {
  return s.split(',').map((p) => {
    const n = Number(p.trim());
    if (p.trim() === '' || !Number.isInteger(n) || n < 1) throw new WafermeshError('bad-option', `--prompts: "${p.trim()}" is not a whole number of at least 1 (prompt length in tokens, BOS included), e.g. --prompts 1,16,64`);
    return n;
  });
}

/** Each prompt, with the timed tokens after it, must fit the context (seq_len); refused in one line otherwise. */
export function checkPrompts(prompts: readonly number[], seqLen: number, tokens: number): void {
  for (const p of prompts) {
    if (p >= seqLen) throw new WafermeshError('bad-option', `--prompts: ${p} is not shorter than the context (seq_len ${seqLen}); choose lengths below ${seqLen}`);
    if (p + tokens > seqLen) throw new WafermeshError('bad-option', `--prompts: ${p} + ${tokens} timed tokens exceeds seq_len ${seqLen}; use shorter --prompts or fewer --tokens`);
  }
}

/** `--meshes 8x8,16x16`: each WIDTHxHEIGHT, checked against the emulator's limits. */
export function parseMeshes(s: string): { width: number; height: number }[] {
  return s.split(',').map((m) => {
    if (m.trim() === '') throw new WafermeshError('bad-option', `--meshes "${s}" has an empty entry; give WIDTHxHEIGHT sizes separated by commas, e.g. --meshes 8x8,16x16`);
    return meshSizeOption('meshes', m.trim());
  });
}

/** `--contexts 0,128`: whole numbers ≥ 0 (positions decoded before the timed ones); the context is checked by buildSuite. */
export function parseContexts(s: string): number[] {
  return s.split(',').map((p) => {
    const n = Number(p.trim());
    if (p.trim() === '' || !Number.isInteger(n) || n < 0) throw new WafermeshError('bad-option', `--contexts: "${p.trim()}" is not a whole number of at least 0 (positions before the timed tokens), e.g. --contexts 0,128`);
    return n;
  });
}

/** `--engines a,b`, each checked. */
export function parseEngines(s: string): BenchEngine[] {
  const engines = s.split(',').map((e) => e.trim()) as BenchEngine[];
  for (const e of engines) if (!BENCH_ENGINES.includes(e)) throw new WafermeshError('bad-option', `--engines: "${e}" is not one of ${BENCH_ENGINES.join(', ')}${didYouMean(e, BENCH_ENGINES)}`);
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
    return meshFromPreset(o.preset, width, height, o.sram);
  };
  const base = await getModel(o.model);
  const prompts = o.prompts ?? DEFAULT_PROMPTS.filter((p) => p + o.tokens <= base.config.seqLen);
  checkPrompts(prompts, base.config.seqLen, o.tokens);
  // The main model's mesh: the smallest square that holds it, at least 8x8.
  const fitting = smallestFittingMesh(base.config, meshFromPreset(o.preset, 8, 8, o.sram)) ?? meshOf('8x8');
  const main = fitting.width < 8 ? meshOf('8x8') : fitting;
  const cases: Case[] = [];
  const promptSweep = () => {
    for (const p of prompts) {
      for (const e of o.engines.filter((x) => PROMPT_ENGINES.includes(x))) {
        cases.push({ suite: 'prompt', sweep: String(p), engine: e, model: o.model, mesh: e === 'mesh' ? main : undefined, context: 0, prompt: p });
        if (e === 'mesh' && o.waferPrefill) cases.push({ suite: 'prompt', sweep: String(p), engine: e, model: o.model, mesh: main, context: 0, prompt: p, waferPrefill: 'gemm' });
      }
    }
  };
  if (o.suite === 'prompt') {
    promptSweep();
    return cases;
  }
  for (const e of o.engines) cases.push({ suite: 'engines', sweep: e, engine: e, model: o.model, mesh: e === 'mesh' ? main : undefined, context: 0 });
  if (o.suite !== 'default') return cases;

  if (o.engines.includes('mesh')) {
    for (const s of o.meshes ?? ['8x8', '16x16', '32x32']) cases.push({ suite: 'mesh size', sweep: s, engine: 'mesh', model: o.model, mesh: meshOf(s), context: 0 });
  }
  const contexts = o.contexts ?? [0, 128, 384].filter((c) => c + o.tokens <= base.config.seqLen);
  for (const c of contexts) {
    if (c + o.tokens > base.config.seqLen) throw new WafermeshError('bad-option', `--contexts: ${c} + ${o.tokens} timed tokens exceeds seq_len ${base.config.seqLen}; use smaller --contexts or fewer --tokens`);
  }
  for (const c of contexts) {
    // The C decode only times from BOS.
    for (const e of o.engines.filter((x) => x !== 'c')) cases.push({ suite: 'context', sweep: String(c), engine: e, model: o.model, mesh: e === 'mesh' ? main : undefined, context: c });
  }
  for (const dim of [64, 128, 256]) {
    const name = randomModelSpec(dim);
    const m = await getModel(name);
    const fit = smallestFittingMesh(m.config, meshFromPreset(o.preset, 8, 8, o.sram));
    for (const e of o.engines.filter((x) => x === 'gpu' || x === 'mesh' || x === 'c')) {
      if (e === 'mesh' && !fit) continue;
      cases.push({ suite: 'model size', sweep: `dim ${dim}`, engine: e, model: name, mesh: e === 'mesh' ? fit : undefined, context: 0 });
    }
  }
  promptSweep();
  return cases;
}
