/**
 * Models known by name. Files are relative to the project root; `random:` specs build a seeded
 * random model of any shape (see random.ts).
 */
export interface BuiltinModel {
  readonly name: string;
  readonly description: string;
  readonly checkpoint: string; // path from the project root
  readonly tokenizer?: string; // path from the project root, when the model has one
}

export const BUILTIN_MODELS: readonly BuiltinModel[] = [
  {
    name: 'stories260K',
    description: "Karpathy's tinyllamas stories260K (TinyStories, MIT); its tokenizer is not shipped, so ids only",
    checkpoint: '../shared/models/stories260K.bin',
  },
];

export const DEFAULT_MODEL = 'stories260K';

export function builtinModel(name: string): BuiltinModel | undefined {
  return BUILTIN_MODELS.find((m) => m.name.toLowerCase() === name.toLowerCase());
}
