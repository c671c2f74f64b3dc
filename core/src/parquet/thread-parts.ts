/**
 * Inside a Parquet thread: Parquet files written as their rows arrive (the writer's parts).
 *
 * Each part is parquet-wasm's transformParquetStream fed from a ReadableStream: each appended IPC
 * stream is encoded at once, and each row group's bytes are kept as it completes, so encoding overlaps
 * whatever produces the rows instead of all happening when the file is cut. The client takes the
 * finished bytes as they come (take()), so the thread holds a row group or two, not the whole part:
 * a part's bytes would otherwise grow with the shard up to the part size (128 MiB by default), and be
 * copied once more to join them at the close.
 */
import { fieldOf, readStruct } from './thrift.js';
import { releaseBuffer } from '../threads/transfer.js';
import type { RecordBatch as WasmBatch, Table as WasmTable } from 'parquet-wasm/esm';
import type { PartOptions } from './thread-protocol.js';

type ParquetWasm = typeof import('parquet-wasm/esm');

/** Frees a wasm object unless it was consumed already. */
export function freeQuietly(obj: { free(): void } | undefined | null): void {
  if (obj && (obj as unknown as { __wbg_ptr?: number }).__wbg_ptr) {
    try {
      obj.free();
    } catch {
      /* already consumed */
    }
  }
}

const COMPRESSION = {
  none: 'UNCOMPRESSED',
  snappy: 'SNAPPY',
  gzip: 'GZIP',
  lz4: 'LZ4_RAW',
  zstd: 'ZSTD',
} as const;

// Dictionary encoding only where it pays (strings: ids, regions, labels). On scores and unique ids
// it costs 3x the encode time and grows the file before falling back.
function writerProps(pw: ParquetWasm, m: PartOptions) {
  let builder = new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression[COMPRESSION[m.compression]])
    .setDictionaryEnabled(false)
    .setKeyValueMetadata(new Map(Object.entries(m.keyValueMetadata ?? {})));
  for (const col of m.dictionaryColumns ?? []) builder = builder.setColumnDictionaryEnabled(col, true);
  for (const col of m.deltaColumns ?? []) builder = builder.setColumnEncoding(col, pw.Encoding.DELTA_BINARY_PACKED);
  if (m.maxRowGroupRows) builder = builder.setMaxRowGroupSize(m.maxRowGroupRows);
  if (m.createdBy) builder = builder.setCreatedBy(m.createdBy);
  return builder.build();
}

interface Append {
  ipc: Uint8Array;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** One part being written. */
export class Part {
  private readonly pending: Append[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private error: unknown = null;
  private chunks: Uint8Array[] = [];
  /** Rows handed to the encoder so far. */
  private rows = 0;
  private readonly done: Promise<void>;
  private readonly closeTimeoutMs: number;

  constructor(pw: ParquetWasm, options: PartOptions) {
    this.closeTimeoutMs = options.closeTimeoutMs ?? 120_000;
    const input = new ReadableStream<WasmBatch>({
      pull: async (controller) => {
        while (this.pending.length === 0 && !this.ended) await new Promise<void>((r) => { this.wake = r; });
        this.wake = null;
        if (this.error) {
          controller.error(this.error);
          return;
        }
        const next = this.pending.shift();
        if (!next) {
          controller.close();
          return;
        }
        let table: WasmTable | undefined;
        try {
          table = pw.Table.fromIPCStream(next.ipc); // copied into wasm memory: the IPC bytes are garbage
          releaseBuffer(next.ipc.buffer);
          for (const rb of table.recordBatches()) {
            this.rows += rb.numRows;
            controller.enqueue(rb);
          }
        } catch (e) {
          next.reject(e);
          this.fail(e);
          controller.error(e);
          return;
        } finally {
          freeQuietly(table);
        }
        next.resolve();
      },
    }, { highWaterMark: 0 });
    this.done = (async () => {
      const out = await pw.transformParquetStream(input, writerProps(pw, options));
      for await (const chunk of out as unknown as AsyncIterable<Uint8Array>) {
        if (this.error) throw this.error;
        this.chunks.push(chunk);
      }
      if (this.error) throw this.error;
    })();
    this.done.catch((e: unknown) => this.fail(e));
  }

  /** Resolves when the encoder takes these rows (it has finished the ones before): backpressure. */
  append(ipc: Uint8Array): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ipc, resolve, reject });
      this.wake?.();
    });
  }

  /** The bytes encoded since the last take (finished row groups), handed over and forgotten here. */
  take(): Uint8Array[] {
    if (this.error) throw this.error;
    return this.chunks.splice(0);
  }

  /**
   * Finishes the file and returns its bytes not taken yet (the last row groups and the footer).
   * parquet-wasm's stream writer drops write errors on the floor: a batch it could not take leaves its
   * output open forever, or short of rows. Neither may pass for a finished file, so the close has a
   * deadline and the footer's row count is checked.
   */
  async close(): Promise<Uint8Array> {
    this.ended = true;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.done, new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the Parquet encoder did not finish the part within ${this.closeTimeoutMs} ms`)), this.closeTimeoutMs);
      })]);
    } catch (e) {
      this.fail(e);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    let n = 0;
    for (const c of this.chunks) n += c.byteLength;
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    this.chunks = [];
    // The footer is written at the close, after every take: it lies whole in these last bytes.
    const written = footerRows(out);
    if (written !== this.rows) throw new Error(`the Parquet encoder wrote ${written} rows of the ${this.rows} it was given`);
    return out;
  }

  async abort(): Promise<void> {
    this.fail(new Error('the part was aborted'));
    await this.done.catch(() => undefined);
  }

  private fail(e: unknown): void {
    if (!this.error) this.error = e;
    this.ended = true;
    for (const p of this.pending.splice(0)) p.reject(this.error);
    this.wake?.();
  }
}

/**
 * Rows a Parquet file's footer says it holds (FileMetaData.num_rows), read from the file's last bytes
 * (the footer, its length and the magic), which is all of the file the thread still has at the close.
 */
export function footerRows(tail: Uint8Array): number {
  const n = tail.byteLength;
  const magic = n >= 8 ? String.fromCharCode(tail[n - 4], tail[n - 3], tail[n - 2], tail[n - 1]) : '';
  if (magic !== 'PAR1') throw new Error('the Parquet encoder wrote no footer (no PAR1 magic at the end of the part)');
  const len = new DataView(tail.buffer, tail.byteOffset, n).getUint32(n - 8, true);
  if (len + 8 > n) throw new Error(`the part's footer (${len} bytes) is not within its last ${n - 8} bytes`);
  const { struct } = readStruct(tail.subarray(n - 8 - len, n - 8));
  const rows = fieldOf(struct, 3)?.value;
  if (typeof rows !== 'bigint' && typeof rows !== 'number') throw new Error('the part\'s footer has no row count');
  return Number(rows);
}
