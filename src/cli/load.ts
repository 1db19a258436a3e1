import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WafermeshError } from '../errors.ts';
import { readCheckpoint } from '../model/checkpoint.ts';
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

function readFile(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new WafermeshError('no-file', `${what} ${path} does not exist`);
  const st = statSync(path);
  if (!st.isFile()) throw new WafermeshError('no-file', `${what} ${path} is not a file`);
  if (st.size > MAX_FILE_BYTES) {
    throw new WafermeshError('file-too-large', `${what} ${path} is ${st.size} bytes; the emulator takes checkpoints up to 2 GiB`);
  }
  return new Uint8Array(readFileSync(path));
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
  } else if (existsSync(nameOrPath) || /[/\\.]/.test(nameOrPath)) {
    model = readCheckpoint(readFile(nameOrPath, 'checkpoint'), nameOrPath);
  } else {
    const names = BUILTIN_MODELS.map((m) => m.name).join(', ');
    throw new WafermeshError(
      'unknown-model',
      `model "${nameOrPath}" is neither a built-in name (${names}), a random:<spec>, nor an existing file`,
    );
  }
  const tokenizer = tokPath ? readTokenizer(readFile(tokPath, 'tokenizer'), tokPath, model.config.vocabSize) : undefined;
  return { model, tokenizer };
}
