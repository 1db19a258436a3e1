import { CATALOG, runnableModels } from '../catalog.ts';

/**
 * Models known by name with a checkpoint here (the catalog's runnable entries). Files are relative
 * to the project root; `random:` specs build a seeded random model of any shape (see random.ts).
 */
export interface BuiltinModel {
  readonly name: string;
  readonly description: string;
  readonly checkpoint: string; // path from the project root
  readonly tokenizer?: string; // path from the project root, when the model has one
  readonly demo: boolean; // served by the demo (under public/)
}

/** Read from the catalog when asked, so an entry added at run time is found too. */
export function builtinModels(): BuiltinModel[] {
  return runnableModels().map((m) => ({
    name: m.id,
    description: m.description,
    checkpoint: m.checkpoint!,
    ...(m.tokenizer ? { tokenizer: m.tokenizer } : {}),
    demo: m.demo,
  }));
}

export const DEFAULT_MODEL = CATALOG.defaults.model;

export function builtinModel(name: string): BuiltinModel | undefined {
  return builtinModels().find((m) => m.name.toLowerCase() === name.toLowerCase());
}
