/**
 * Inside a Parquet thread: a Blob standing for a stored file, whose bytes are fetched on demand.
 * parquet-wasm opens files through `ParquetFile.fromFile(blob)` and reads them with `slice()` and
 * `arrayBuffer()`; each `arrayBuffer()` here becomes one ranged read, served by the client (the main
 * thread calls storage.readRange and posts the bytes back, transferred). So parquet-wasm reads the
 * footer and then only the column chunks it needs.
 */

/** Fetches bytes [start, end) of file `file` (a handle the client knows). */
export type FetchRange = (file: number, start: number, end: number) => Promise<Uint8Array>;

function clampIndex(i: number, size: number): number {
  const n = Math.trunc(Number(i));
  if (!Number.isFinite(n)) return 0;
  if (n < 0) return Math.max(0, size + n);
  return Math.min(n, size);
}

export class RangedBlob extends Blob {
  constructor(private readonly fetchRange: FetchRange, private readonly file: number, private readonly start: number, private readonly end: number) {
    super([]);
  }

  override get size(): number {
    return this.end - this.start;
  }

  override get type(): string {
    return '';
  }

  override slice(start?: number, end?: number): RangedBlob {
    const size = this.size;
    const s = start === undefined ? 0 : clampIndex(start, size);
    const e = end === undefined ? size : clampIndex(end, size);
    return new RangedBlob(this.fetchRange, this.file, this.start + s, this.start + Math.max(s, e));
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.end <= this.start) return new ArrayBuffer(0);
    const bytes = await this.fetchRange(this.file, this.start, this.end);
    return bytes.buffer as ArrayBuffer;
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }

  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    throw new Error('RangedBlob.stream() is not supported');
  }

  override async text(): Promise<string> {
    return new TextDecoder().decode(await this.arrayBuffer());
  }
}
