/**
 * Why the direct decoder gave up on a column chunk. Never shown to users as such: the stream then
 * falls back to parquet-wasm for the same rows, which decodes them or reports the corruption in its
 * own words, naming the file and row group like any other decode failure.
 */
export class DirectDecodeError extends Error {
  override readonly name = 'DirectDecodeError';
}
