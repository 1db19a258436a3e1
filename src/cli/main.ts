import { parseArgs } from 'node:util';
import { isWafermeshError, oneLine, personMessage, WafermeshError } from '../errors.ts';
import type { Choices, Command, OptionValues } from './command.ts';
import { benchCommand } from './bench/command.ts';
import { fitCommand } from './fit.ts';
import { generateCommand } from './generate.ts';
import { infoCommand } from './info.ts';
import { predictCommand } from './predict.ts';
import { traceCommand } from './trace.ts';
import { didYouMean, OPTION_HELP } from './options.ts';

/** Every command, by name. The only module that imports the commands (they import command.ts). */
export const COMMANDS: Record<string, Command> = {
  info: infoCommand,
  generate: generateCommand,
  fit: fitCommand,
  trace: traceCommand,
  predict: predictCommand,
  bench: benchCommand,
};

/** `wafermesh --help`: the commands and what each does. */
export function help(): string {
  const lines = ['usage: wafermesh <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', 'Run `wafermesh <command> --help` for its options, with the presets and models each takes.');
  return lines.join('\n');
}

/** An option's line in --help: what it does (the command's words, else the shared ones), or undefined. */
export function optionDescription(c: Command, opt: string): string | undefined {
  return c.descriptions?.[opt] ?? OPTION_HELP[opt];
}

/** How a default shows in --help: an empty string as "empty", anything else as given. */
function showDefault(d: unknown): string {
  if (d === undefined || typeof d === 'boolean') return '';
  const s = String(d);
  return s === '' ? ' (default: empty)' : ` (default: ${s})`;
}

/**
 * `wafermesh <command> --help`: its usage, every option with what it does and its default; an
 * option that takes a catalog id lists the ids the catalog holds when this is called, and the
 * presets, models and algorithms are listed with their descriptions at the end.
 */
export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  if (!c) throw new Error(`no command "${name}"`);
  const lines = [`usage: wafermesh ${name} ${c.usage}`, '', c.summary, '', 'options:'];
  // Each option's value as its usage line names it (`--tokens N`, `--model PATH|NAME`), else <value>.
  const meta = new Map([...c.usage.matchAll(/--([\w-]+)[ =]([^\s\]\[]+)/g)].map((m) => [m[1], m[2]]));
  const heads = Object.entries(c.options).map(([opt, o]) => `  --${opt}${o.type === 'string' ? ` ${meta.get(opt) ?? '<value>'}` : ''}`);
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  Object.entries(c.options).forEach(([opt, o], i) => {
    const what = optionDescription(c, opt) ?? '';
    lines.push(`${heads[i].padEnd(width)}${what}${showDefault(o.default)}`.trimEnd());
    const choices = c.choices?.[opt];
    if (choices) lines.push(`      one of: ${choices.values().join(', ')}${choices.or ? `; or ${choices.or}` : ''}`);
  });
  // The catalog's entries an option takes, each with its description (one list per kind).
  const seen = new Set<Choices>();
  for (const [opt, choices] of Object.entries(c.choices ?? {})) {
    if (!choices.describe || seen.has(choices)) continue;
    seen.add(choices);
    const ids = choices.values();
    const w = Math.max(...ids.map((id) => id.length)) + 2;
    lines.push('', `${choices.heading ?? 'values'} (--${opt}):`);
    for (const id of ids) lines.push(`  ${id.padEnd(w)}${choices.describe(id) ?? ''}`.trimEnd());
  }
  return lines.join('\n');
}

/**
 * Refuses, before the command runs, a value outside an option's choices (options whose choices
 * take nothing else: presets, algorithms, engines), naming the value, the choices and the closest.
 */
export function checkChoices(c: Command, values: OptionValues): void {
  for (const [opt, choices] of Object.entries(c.choices ?? {})) {
    const v = values[opt];
    if (choices.or || typeof v !== 'string') continue;
    const ids = choices.values();
    const ok = [...ids, ...(choices.aliases ?? [])].some((id) => id.toLowerCase() === v.toLowerCase());
    if (!ok) throw new WafermeshError('bad-option', `--${opt} ${v === '' ? '""' : v} is not one of ${ids.join(', ')}${didYouMean(v, ids)}`);
  }
}

/**
 * A command's arguments parsed (node:util's parseArgs, strict: no unknown option, no positional)
 * and its fixed-choice values checked. Anything wrong throws a WafermeshError ('bad-option') in
 * one line; nothing else is thrown, whatever the strings.
 */
export function parseCommandLine(command: Command, args: readonly string[]): OptionValues {
  let values: OptionValues;
  try {
    values = parseArgs({ args: joinNegativeValues([...args], command.options), options: command.options, allowPositionals: false, strict: true }).values as OptionValues;
  } catch (e) {
    throw new WafermeshError('bad-option', parseMessage(e, command));
  }
  checkChoices(command, values);
  return values;
}

/** Runs one command; returns the exit code. Errors become one line on stderr, never a stack. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`wafermesh: unknown command "${name}"; use one of ${Object.keys(COMMANDS).join(', ')}${didYouMean(name, Object.keys(COMMANDS))}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(name));
    return 0;
  }
  let values: OptionValues;
  try {
    values = parseCommandLine(command, rest);
  } catch (e) {
    console.error(`wafermesh ${name}: ${personMessage(e)}; see \`wafermesh ${name} --help\``);
    return 2;
  }
  try {
    return await command.run(values, []);
  } catch (e) {
    if (isWafermeshError(e)) {
      console.error(`wafermesh ${name}: ${personMessage(e)}`);
    } else {
      console.error(`wafermesh ${name}: internal error: ${oneLine(e)} (set WAFERMESH_DEBUG=1 to see where)`);
    }
    if (process.env.WAFERMESH_DEBUG) console.error(e);
    return 1;
  }
}

/** node:util's parse errors in the CLI's words (an unknown option with the closest known one). */
function parseMessage(e: unknown, command: Command): string {
  const msg = oneLine(e);
  const unknown = /^Unknown option '--([^']+)'/.exec(msg);
  if (unknown) return `unknown option --${unknown[1]}${didYouMean(unknown[1], Object.keys(command.options)).replace('mean ', 'mean --')}`;
  const missing = /^Option '--([^ ']+)[^']*' argument missing/.exec(msg);
  if (missing) return `--${missing[1]} needs a value`;
  const positional = /^Unexpected argument '([^']*)'/.exec(msg);
  if (positional) return `unexpected argument "${positional[1]}" (options are --name value)`;
  return msg.replace(/\. To specify an option argument starting with a dash use '--[^']*'\.?/, '');
}

/** `--tokens -3` → `--tokens=-3`, so a negative number reaches the option's own check. */
function joinNegativeValues(args: string[], options: Command['options']): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = args[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : '';
    if (options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}
