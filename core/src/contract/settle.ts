/**
 * Promises whose failure must not stop the caller, made explicit instead of `.catch(() => undefined)`:
 * - `bestEffort` awaits one (cleanup, shutdown, a check that has a safe fallback) and reports a failure
 *   through `onError` (a log line) before giving the fallback;
 * - `awaitedLater` marks one that is awaited further on (read-ahead, a session loading beside the
 *   input), so a rejection before that await is not an unhandled rejection; the await still throws it.
 */

/** Awaits `p`; on rejection calls `onError(err)` and resolves to `fallback`. */
export async function bestEffort<T, F = undefined>(p: Promise<T> | undefined, onError: (err: unknown) => void, fallback?: F): Promise<T | F> {
  try {
    return p === undefined ? (fallback as F) : await p;
  } catch (err) {
    onError(err);
    return fallback as F;
  }
}

/** Returns `p`, marked as handled: whoever awaits it later still gets its rejection. */
export function awaitedLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** The message of an error and of its causes, for a log line. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, i = 0; e !== undefined && i < 5; e = (e as { cause?: unknown })?.cause, i++) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(': ');
}
