/** Parquet's and snappy's unsigned LEB128 varint of n, for tests that write encoded bytes by hand. */
export function uvarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
