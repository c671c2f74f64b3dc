/** Test support: poll until a condition holds, failing with what was awaited. One copy for every suite. */
import { toJson } from '../src/contract/json.js';

type Maybe<T> = T | undefined | false | null;

/** The last value seen, for the timeout message (cut short; BigInts and cycles do not throw). */
function shown(v: unknown): string {
  try {
    return toJson(v).slice(0, 2000);
  } catch {
    return String(v).slice(0, 2000);
  }
}

/**
 * Calls `fn` every `everyMs` until it returns a value `done` accepts (by default any truthy value)
 * and resolves with it; rejects after `timeoutMs`, naming `what`.
 */
export async function until<T>(
  what: string,
  fn: () => Maybe<T> | Promise<Maybe<T>>,
  timeoutMs = 15_000,
  everyMs = 20,
  done: (v: Maybe<T>) => boolean = (v) => Boolean(v),
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (done(v)) return v as T;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${shown(v)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
