/**
 * An error meant for a person: one line saying what was wrong, which value, and what to do.
 * The code travels inside the message because only `message`/`name` cross the worker boundary.
 */
export class WafermeshError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'WafermeshError';
    this.code = code;
  }
}

/** True for errors raised on purpose with a user-facing message (also after crossing comlink). */
export function isWafermeshError(e: unknown): e is Error {
  return e instanceof Error && (e instanceof WafermeshError || e.name === 'WafermeshError');
}

/** One line for a person from any thrown value. */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
