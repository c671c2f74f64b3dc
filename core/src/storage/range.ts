/** Byte ranges, checked the same way by every storage backend. */

/** start/end must be integers with 0 <= start <= end. */
export function checkRange(uri: string, start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`bad byte range [${start}, ${end}) for ${uri}`);
  }
}
