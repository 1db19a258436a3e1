import type { ParseArgsConfig } from 'node:util';

/** The parsed options of one command line, by name (`--gpu-preset x` → `values['gpu-preset']`). */
export type OptionValues = Record<string, string | boolean | undefined>;

/**
 * The values an option takes, read when asked (from the catalog, so an entry added at run time is
 * offered and accepted). `or` says what else it takes, e.g. "a checkpoint PATH".
 */
export interface Choices {
  readonly values: () => readonly string[];
  readonly or?: string;
}

/** One `wafermesh` command. Commands import this file; only main.ts imports the commands. */
export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** For options that take an id (a preset, an algorithm, a model): the allowed values, for `--help`. */
  choices?: Record<string, Choices>;
  run(values: OptionValues, positionals: string[]): Promise<number>;
}
