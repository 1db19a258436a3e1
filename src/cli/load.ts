import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WafermeshError } from '../errors.ts';
import { modelEntry, runnableModels } from '../catalog.ts';
import { readCheckpointHeader } from '../model/checkpoint.ts';
import type { ModelConfig } from '../model/config.ts';
import { isRandomSpec, loadModel as loadAnyModel, parseModelSpec, type LoadedModel, type ModelSpec } from '../model/load.ts';
import { parseRandomSpec } from '../model/random.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** 2 GiB: beyond this a "checkpoint" is not something this emulator can run. */
const MAX_FILE_BYTES = 2 ** 31;

function checkFile(path: string, what: string) {
  if (!existsSync(path)) throw new WafermeshError('no-file', `${what} ${path} does not exist`);
  const st = statSync(path);
  if (!st.isFile()) throw new WafermeshError('no-file', `${what} ${path} is not a file`);
  return st;
}

function readFile(path: string, what: string): Uint8Array {
  const st = checkFile(path, what);
  if (st.size > MAX_FILE_BYTES) {
    throw new WafermeshError('file-too-large', `${what} ${path} is ${st.size} bytes; the emulator takes checkpoints up to 2 GiB`);
  }
  return new Uint8Array(readFileSync(path));
}

const looksLikePath = (s: string) => existsSync(s) || /[/\\.]/.test(s);

/** A built-in's path is relative to the project root; a path given on the command line, to the cwd. */
const readProjectFile = (path: string, what: string, builtin: boolean) => readFile(builtin ? resolve(PROJECT_ROOT, path) : path, what);

/**
 * What a model name means, with the catalog's models read now (an entry added at run time is found
 * by name, and a refusal lists the models there are at that moment).
 */
function modelSpec(nameOrPath: string): ModelSpec {
  const entry = modelEntry(nameOrPath);
  if (entry?.checkpoint) {
    const { id: name, description, checkpoint, tokenizer, demo } = entry;
    return { kind: 'builtin', entry: { name, description, checkpoint, ...(tokenizer ? { tokenizer } : {}), demo } };
  }
  if (!isRandomSpec(nameOrPath) && !looksLikePath(nameOrPath)) {
    const names = runnableModels().map((m) => m.id).join(', ');
    throw new WafermeshError('unknown-model', `model "${nameOrPath}" is neither a built-in name (${names}), a random:<spec>, nor an existing file`);
  }
  return parseModelSpec(nameOrPath, looksLikePath);
}

/** Only a model's shape, without building or reading its weights (for `fit`, `trace` and `predict`). */
export function loadConfig(nameOrPath: string): { config: ModelConfig; source: string } {
  const entry = modelEntry(nameOrPath);
  if (entry?.config) return { config: entry.config, source: entry.id };
  const spec = modelSpec(nameOrPath);
  if (spec.kind === 'random') return { config: parseRandomSpec(spec.spec.slice('random:'.length)).config, source: spec.spec };
  const builtin = spec.kind === 'builtin' ? spec.entry : undefined;
  const path = builtin ? resolve(PROJECT_ROOT, builtin.checkpoint) : nameOrPath;
  const source = builtin ? builtin.name : nameOrPath;
  const st = checkFile(path, builtin ? `model ${builtin.name}: checkpoint` : 'checkpoint');
  const head = new Uint8Array(28);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 28, 0);
  } finally {
    closeSync(fd);
  }
  return { config: readCheckpointHeader(head.subarray(0, Math.min(28, st.size)), st.size, source), source };
}

/**
 * A model by name (the catalog's), by `random:<spec>`, or by checkpoint path; its tokenizer from
 * `tokenizerPath`, else the built-in model's own, else none.
 */
export function loadModel(nameOrPath: string, tokenizerPath?: string): Promise<LoadedModel> {
  return loadAnyModel(modelSpec(nameOrPath), readProjectFile, tokenizerPath);
}
