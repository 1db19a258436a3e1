import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { personMessage, WafermeshError } from '../../src/errors.ts';
import { COMMANDS, parseCommandLine } from '../../src/cli/main.ts';

/**
 * Any command line, however odd, is either parsed or refused with the project's one error type
 * and a one-line message naming the problem: never another exception.
 */
describe('the CLI option parser, fuzzed', () => {
  for (const [name, command] of Object.entries(COMMANDS)) {
    it(`${name}: random arguments give values or one WafermeshError line`, () => {
      const options = Object.keys(command.options);
      const choiceValues = Object.values(command.choices ?? {}).flatMap((c) => c.values());
      const arg = fc.oneof(
        fc.constantFrom(...options.map((o) => `--${o}`)),
        fc.constantFrom(...options).map((o) => `--${o}=`),
        fc.string(),
        fc.string({ unit: 'binary' }),
        fc.constantFrom('-', '--', '-h', '-3', '--=', '-1e9', 'NaN', 'a\nb', ' ', ...choiceValues),
        fc.tuple(fc.constantFrom(...options), fc.string()).map(([o, v]) => `--${o}=${v}`),
      );
      fc.assert(
        fc.property(fc.array(arg, { maxLength: 8 }), (args) => {
          try {
            const values = parseCommandLine(command, args);
            for (const k of Object.keys(values)) expect(options).toContain(k);
          } catch (e) {
            expect(e).toBeInstanceOf(WafermeshError);
            expect((e as WafermeshError).code).toBe('bad-option');
            const line = personMessage(e);
            expect(line).not.toMatch(/\n/);
            expect(line.length).toBeGreaterThan(5);
          }
        }),
        { numRuns: 300, seed: 14 },
      );
    });
  }
});
