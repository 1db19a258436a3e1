/**
 * An error meant for a person: one line saying what was wrong, which value, and what to do.
 * The code travels inside the message because only `message`/`name` cross the worker boundary;
 * `detail` is the message without it, which is what a person is shown (see personMessage).
 */
export class WafermeshError extends Error {
  readonly code: string;
  /** The message without its code: what the CLI prints. */
  readonly detail: string;

  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'WafermeshError';
    this.code = code;
    this.detail = message;
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

/** The code a WafermeshError carries (also read back from its message after crossing a worker), or undefined. */
export function errorCode(e: unknown): string | undefined {
  if (e instanceof WafermeshError) return e.code;
  if (isWafermeshError(e)) return /^([a-z][a-z0-9-]*): /.exec(e.message)?.[1];
  return undefined;
}

/**
 * One line for a person, without the internal code: a WafermeshError's own words (its `detail`,
 * or its message with the leading `code: ` removed once it crossed a worker), any other error's
 * message as it is.
 */
export function personMessage(e: unknown): string {
  if (e instanceof WafermeshError) return oneLine(e.detail);
  const line = oneLine(e);
  return isWafermeshError(e) ? line.replace(/^[a-z][a-z0-9-]*: /, '') : line;
}
