/** Error kinds shared by worker and operator. Every error wraps its cause (`new Error(msg, { cause })`). */

/** Bad input: the model, the spec or the data do not fit together. Retrying cannot help. */
export class BadInputError extends Error {
  override readonly name = 'BadInputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The thing asked for does not exist (no such file, key or bucket). Usually bad input too. */
export class NotFoundError extends BadInputError {
  override readonly name = 'NotFoundError' as 'BadInputError';
}

/** The object is no longer the version asked for (its ETag, or a file's mtime and size, changed):
 * someone rewrote it. For a planned input file that is bad input: rows from two versions must never
 * be mixed, and retrying reads the new version just the same. */
export class ChangedError extends BadInputError {
  override readonly name = 'ChangedError' as 'BadInputError';
}

export const isBadInput = (e: unknown): e is BadInputError => e instanceof BadInputError;

/** The message of an error and of every cause below it, joined: what a user needs to see. */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 6; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (msg && !parts.some((p) => p.includes(msg))) parts.push(msg);
    cur = cur instanceof Error ? (cur as Error & { cause?: unknown }).cause : undefined;
  }
  return parts.join(': ');
}
