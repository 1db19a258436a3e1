import { WafermeshError } from '../errors.ts';
import { readCheckpoint } from './checkpoint.ts';
import { pairingWarning, sha256Hex } from './pairing.ts';
import { parseRandomSpec, randomModel } from './random.ts';
import { builtinModel, builtinModels, type BuiltinModel } from './registry.ts';
import { readTokenizer, type Tokenizer } from './tokenizer.ts';
import type { Model } from './weights.ts';

/**
 * The one model loader, for the CLI and the demo's worker alike: a built-in name (the catalog's),
 * a `random:<spec>`, a checkpoint file, or bytes someone dropped on the page. Where the files come
 * from is the caller's: the CLI reads the project's files, the worker fetches the demo's.
 */
export type ModelSpec =
  | { readonly kind: 'builtin'; readonly entry: BuiltinModel }
  | { readonly kind: 'random'; readonly spec: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'bytes'; readonly name: string; readonly checkpoint: Uint8Array; readonly tokenizer?: Uint8Array; readonly tokenizerName?: string };

export interface LoadedModel {
  model: Model;
  tokenizer: Tokenizer | undefined;
  /** The name to show: the built-in's, the spec, or the file's. */
  name: string;
  /**
   * One-line warnings for a person, e.g. a known checkpoint given another model's tokenizer
   * (pairing.ts): the model still loads.
   */
  warnings: string[];
}

/** Reads a file: a built-in's (`builtin`: its path is relative to the project root) or one a person named. */
export type ReadFile = (path: string, what: string, builtin: boolean) => Uint8Array | Promise<Uint8Array>;

export const isRandomSpec = (s: string) => s === 'random' || s.startsWith('random:');

/**
 * What a model name means. `isFile` says whether a name that is neither built in nor random is a
 * file the caller can read; without one only built-ins and random specs are accepted.
 */
export function parseModelSpec(name: string, isFile?: (s: string) => boolean): ModelSpec {
  const entry = builtinModel(name);
  if (entry) return { kind: 'builtin', entry };
  if (isRandomSpec(name)) return { kind: 'random', spec: name };
  if (isFile?.(name)) return { kind: 'file', path: name };
  const names = builtinModels().map((m) => m.name).join(', ');
  throw new WafermeshError('unknown-model', `model "${name}" is neither a built-in name (${names}), a random:<spec>${isFile ? ', nor an existing file' : ''}`);
}

/** Loads a model and its tokenizer: `tokenizerPath` if given, else the built-in's own, else none. */
export async function loadModel(spec: ModelSpec, read: ReadFile, tokenizerPath?: string): Promise<LoadedModel> {
  let model: Model;
  let name: string;
  let checkpoint: Uint8Array | undefined; // the file's bytes, for pairing it with its tokenizer
  switch (spec.kind) {
    case 'builtin':
      name = spec.entry.name;
      checkpoint = await read(spec.entry.checkpoint, `model ${name}: checkpoint`, true);
      model = readCheckpoint(checkpoint, name);
      break;
    case 'random': {
      const { config, seed } = parseRandomSpec(spec.spec.slice('random:'.length));
      name = spec.spec;
      model = randomModel(config, seed);
      break;
    }
    case 'file':
      name = spec.path;
      checkpoint = await read(spec.path, 'checkpoint', false);
      model = readCheckpoint(checkpoint, name);
      break;
    case 'bytes':
      name = spec.name;
      checkpoint = spec.checkpoint;
      model = readCheckpoint(checkpoint, name);
      break;
  }
  let tok: { bytes: Uint8Array; source: string } | undefined;
  if (spec.kind === 'bytes') tok = spec.tokenizer && { bytes: spec.tokenizer, source: spec.tokenizerName ?? `${name} tokenizer` };
  else if (tokenizerPath) tok = { bytes: await read(tokenizerPath, 'tokenizer', false), source: tokenizerPath };
  else if (spec.kind === 'builtin' && spec.entry.tokenizer) tok = { bytes: await read(spec.entry.tokenizer, `model ${name}: tokenizer`, true), source: spec.entry.tokenizer };
  const tokenizer = tok ? readTokenizer(tok.bytes, tok.source, model.config.vocabSize) : undefined;
  const warnings: string[] = [];
  // Web Crypto is missing only on pages served insecurely (plain http off localhost): no check there.
  if (tok && checkpoint && globalThis.crypto?.subtle) {
    const w = pairingWarning(await sha256Hex(checkpoint), await sha256Hex(tok.bytes), { checkpoint: name, tokenizer: tok.source });
    if (w) warnings.push(w);
  }
  return { model, tokenizer, name, warnings };
}
