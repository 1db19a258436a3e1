import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorCode, WafermeshError } from '../errors.ts';
import { CATALOG, modelEntry, runnableModels } from '../catalog.ts';
import { didYouMean } from './options.ts';
import { readCheckpointHeader } from '../model/checkpoint.ts';
import type { ModelConfig } from '../model/config.ts';
import { loadModel as loadAnyModel, parseModelSpec, type LoadedModel } from '../model/load.ts';
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

/** Only a model's shape, without building or reading its weights (for `fit`, `trace` and `predict`). */
export function loadConfig(nameOrPath: string): { config: ModelConfig; source: string } {
  const entry = modelEntry(nameOrPath);
  if (entry?.config) return { config: entry.config, source: entry.id };
  const spec = modelSpec(nameOrPath, CATALOG.models.map((m) => m.id));
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
  if (tokenizerPath !== undefined) checkFile(tokenizerPath, 'tokenizer');
  const entry = modelEntry(nameOrPath);
  if (entry && !entry.checkpoint) {
    throw new WafermeshError('no-weights', `model ${entry.id} is known by its shape only (its weights are not here): \`fit\`, \`trace\` and \`predict\` take it; to run one, use ${runnableModels().map((m) => m.id).join(', ')}, a checkpoint PATH or random:<spec>`);
  }
  return loadAnyModel(modelSpec(nameOrPath, runnableModels().map((m) => m.id)), readProjectFile, tokenizerPath);
}

/**
 * What a model name means (parseModelSpec), with an unknown name refused in one line that lists
 * the names this command takes (`known`) and the closest of them.
 */
function modelSpec(nameOrPath: string, known: string[]) {
  try {
    return parseModelSpec(nameOrPath, looksLikePath);
  } catch (e) {
    if (errorCode(e) !== 'unknown-model') throw e;
    throw new WafermeshError('unknown-model', `model "${nameOrPath}" is neither a known name (${known.join(', ')}), a random:<spec>, nor an existing file${didYouMean(nameOrPath, known)}`);
  }
}
