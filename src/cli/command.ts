import type { ParseArgsConfig } from 'node:util';

/** The parsed options of one command line, by name (`--gpu-preset x` → `values['gpu-preset']`). */
export type OptionValues = Record<string, string | boolean | undefined>;

/**
 * The values an option takes, read when asked (from the catalog, so an entry added at run time is
 * offered and accepted). `or` says what else it takes, e.g. "a checkpoint PATH"; an option without
 * `or` is refused before the command runs unless its value is one of `values()` or `aliases`.
 */
export interface Choices {
  readonly values: () => readonly string[];
  readonly or?: string;
  /** Other spellings accepted for a value (e.g. `tree` for `ktree`), not listed in help. */
  readonly aliases?: readonly string[];
  /** A value's one-line description for `--help` (a preset's, a model's), where it has one. */
  readonly describe?: (id: string) => string | undefined;
  /** What the values are, as a heading in `--help` ("presets", "models"). */
  readonly heading?: string;
}

/** One `wafermesh` command. Commands import this file; only main.ts imports the commands. */
export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** For options that take an id (a preset, an algorithm, a model): the allowed values, for `--help` and checked before run(). */
  choices?: Record<string, Choices>;
  /**
   * One line per option for `--help`, by option name (what it sets, its unit or form). An option
   * without one falls back to OPTION_HELP (options.ts); a test holds every option described.
   */
  descriptions?: Record<string, string>;
  run(values: OptionValues, positionals: string[]): Promise<number>;
}
