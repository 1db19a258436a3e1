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
    name: 'wm-stories',
    description: "wafermesh's own tiny Llama, trained on the project's generated children's stories (MIT); with its tokenizer",
    checkpoint: 'public/models/wm-stories.bin',
    tokenizer: 'public/models/wm-stories.tok.bin',
  },
  {
    name: 'stories260K',
    description: "Karpathy's tinyllamas stories260K (TinyStories, MIT); its tokenizer is not shipped, so ids only",
    checkpoint: '../shared/models/stories260K.bin',
  },
];

export const DEFAULT_MODEL = 'wm-stories';

export function builtinModel(name: string): BuiltinModel | undefined {
  return BUILTIN_MODELS.find((m) => m.name.toLowerCase() === name.toLowerCase());
}
