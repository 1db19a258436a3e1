import { parseArgs } from 'node:util';
import { isWafermeshError, oneLine } from '../errors.ts';
import type { Command, OptionValues } from './command.ts';
import { benchCommand } from './bench/command.ts';
import { fitCommand } from './fit.ts';
import { generateCommand } from './generate.ts';
import { infoCommand } from './info.ts';
import { predictCommand } from './predict.ts';
import { traceCommand } from './trace.ts';

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
  lines.push('', 'Run `wafermesh <command> --help` for its options.');
  return lines.join('\n');
}

/**
 * `wafermesh <command> --help`: its usage and options; an option that takes a catalog id lists the
 * ids the catalog holds when this is called.
 */
export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  if (!c) throw new Error(`no command "${name}"`);
  const lines = [`usage: wafermesh ${name} ${c.usage}`, '', c.summary, '', 'options:'];
  for (const [opt, o] of Object.entries(c.options)) {
    const meta = o.type === 'string' ? ' <value>' : '';
    lines.push(`  --${opt}${meta}${o.default !== undefined ? `  (default ${String(o.default)})` : ''}`);
    const choices = c.choices?.[opt];
    if (choices) lines.push(`      one of: ${choices.values().join(', ')}${choices.or ? `; or ${choices.or}` : ''}`);
  }
  return lines.join('\n');
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
    console.error(`wafermesh: unknown command "${name}"; use one of ${Object.keys(COMMANDS).join(', ')}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(name));
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(rest, command.options), options: command.options, allowPositionals: false, strict: true });
  } catch (e) {
    console.error(`wafermesh ${name}: ${oneLine(e)}; see \`wafermesh ${name} --help\``);
    return 2;
  }
  try {
    return await command.run(parsed.values as OptionValues, parsed.positionals);
  } catch (e) {
    if (isWafermeshError(e)) {
      console.error(`wafermesh ${name}: ${oneLine(e)}`);
    } else {
      console.error(`wafermesh ${name}: internal error: ${oneLine(e)} (set WAFERMESH_DEBUG=1 to see where)`);
    }
    if (process.env.WAFERMESH_DEBUG) console.error(e);
    return 1;
  }
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
