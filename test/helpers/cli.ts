import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'vitest';

export const ROOT = resolve(__dirname, '../..');
const BIN = resolve(ROOT, 'bin/wafermesh.mjs');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `wafermesh args…` as a person would (bin/wafermesh.mjs), with extra environment variables. */
export function cliEnv(env: Record<string, string>, ...args: string[]): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const cli = (...args: string[]): CliRun => cliEnv({}, ...args);

/**
 * A refusal: non-zero exit, one line on stderr matching `pattern`, no stack trace and no internal
 * error code (`bad-option:`) in it.
 */
export function expectOneLineError(r: CliRun, pattern: RegExp): string {
  expect(r.code, r.stderr).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(lines[0]).not.toMatch(/^wafermesh( \w+)?: [a-z]+(-[a-z]+)+: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).not.toMatch(/NaN/);
  return lines[0];
}
