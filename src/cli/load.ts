import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WafermeshError } from '../errors.ts';
import { readCheckpoint, readCheckpointHeader } from '../model/checkpoint.ts';
import type { ModelConfig } from '../model/config.ts';
import { parseRandomSpec, randomModel } from '../model/random.ts';
import { BUILTIN_MODELS, builtinModel } from '../model/registry.ts';
import { readTokenizer, type Tokenizer } from '../model/tokenizer.ts';
import type { Model } from '../model/weights.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface LoadedModel {
  model: Model;
  tokenizer: Tokenizer | undefined;
}

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

function unknownModel(name: string): WafermeshError {
  const names = BUILTIN_MODELS.map((m) => m.name).join(', ');
  return new WafermeshError('unknown-model', `model "${name}" is neither a built-in name (${names}), a random:<spec>, nor an existing file`);
}

/** Only a model's shape, without building or reading its weights (for `fit` and `trace`). */
export function loadConfig(nameOrPath: string): { config: ModelConfig; source: string } {
  const builtin = builtinModel(nameOrPath);
  const path = builtin ? resolve(PROJECT_ROOT, builtin.checkpoint) : nameOrPath;
  if (!builtin && (nameOrPath.startsWith('random:') || nameOrPath === 'random')) {
    return { config: parseRandomSpec(nameOrPath.slice('random:'.length)).config, source: nameOrPath };
  }
  if (!builtin && !looksLikePath(nameOrPath)) throw unknownModel(nameOrPath);
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
 * A model by name (see registry.ts), by `random:<spec>`, or by checkpoint path; its tokenizer from
 * `tokenizerPath`, else the built-in model's own, else none.
 */
export function loadModel(nameOrPath: string, tokenizerPath?: string): LoadedModel {
  let model: Model;
  let tokPath = tokenizerPath;
  const builtin = builtinModel(nameOrPath);
  if (builtin) {
    const path = resolve(PROJECT_ROOT, builtin.checkpoint);
    model = readCheckpoint(readFile(path, `model ${builtin.name}: checkpoint`), builtin.name);
    if (!tokPath && builtin.tokenizer) tokPath = resolve(PROJECT_ROOT, builtin.tokenizer);
  } else if (nameOrPath.startsWith('random:') || nameOrPath === 'random') {
    const { config, seed } = parseRandomSpec(nameOrPath.slice('random:'.length));
    model = randomModel(config, seed);
  } else if (looksLikePath(nameOrPath)) {
    model = readCheckpoint(readFile(nameOrPath, 'checkpoint'), nameOrPath);
  } else {
    throw unknownModel(nameOrPath);
  }
  const tokenizer = tokPath ? readTokenizer(readFile(tokPath, 'tokenizer'), tokPath, model.config.vocabSize) : undefined;
  return { model, tokenizer };
}
