/** Footer-only reads of a Parquet file: what the planner needs, from two small ranged reads. */
import * as arrow from 'apache-arrow';
import { BadInputError, NotFoundError } from '../contract/index.js';
import type { ObjectInfo, Storage } from '../storage/types.js';
import { decodeFailure, ioFailure } from './read-failures.js';
import { normalizedType, typeName } from './normalize.js';
import { type OpenedFile, ParquetThread, ParquetThreadError, sharedParquetThread } from './parquet-thread.js';

/** The smallest possible Parquet file: "PAR1", a footer length, "PAR1" and at least a byte of footer. */
const MIN_PARQUET_BYTES = 12;

export interface ParquetColumn {
  name: string;
  /** Arrow type as readShardRanges yields it, as messages print it (normalize.ts typeName), e.g.
   * `Float32`, `Int64`, `Utf8`, `List<Float32>`, `FixedSizeList[4]<Float32>`, `DECIMAL(12,4)`,
   * `Timestamp<MICROSECOND, UTC>`. */
  type: string;
  nullable: boolean;
  /** The Arrow type itself (not serializable; for checks such as "is this numeric?"). */
  arrowType: arrow.DataType;
}

export interface ParquetFooter {
  uri: string;
  size: number;
  etag?: string;
  rows: number;
  /** Rows of each row group, in file order. */
  rowGroupRows: number[];
  /** Top-level columns, in file order. */
  columns: ParquetColumn[];
  createdBy?: string;
  keyValueMetadata: Record<string, string>;
}

export interface ReadFooterOptions {
  /** Size and version from a listing, saving a stat call. */
  info?: ObjectInfo;
  /** Thread to use; by default a shared, process-wide one. */
  thread?: ParquetThread;
}

/** Stat (unless given) and read the footer; BadInputError naming the file if it is not Parquet. */
export async function readFooter(storage: Storage, uri: string, options: ReadFooterOptions = {}): Promise<ParquetFooter> {
  let info = options.info;
  if (!info) {
    try {
      info = await storage.stat(uri);
    } catch (e) {
      if (e instanceof NotFoundError) throw e;
      throw ioFailure(uri, e);
    }
  }
  let thread = options.thread ?? sharedParquetThread();
  let own = false;
  let opened: OpenedFile;
  try {
    opened = await openFile(thread, storage, uri, info.size, info.etag);
  } catch (e) {
    // The shared thread crashed: maybe on this file, maybe on another one read at the same time.
    // Try again alone in a thread of its own, so the blame lands on the right file.
    const cause = (e as Error)?.cause;
    if (options.thread || !(cause instanceof ParquetThreadError) || !cause.fatal || cause.stopped) throw e;
    thread = new ParquetThread();
    own = true;
    try {
      opened = await openFile(thread, storage, uri, info.size, info.etag);
    } catch (again) {
      await thread.terminate();
      throw again;
    }
  }
  try {
    return {
      uri,
      size: info.size,
      ...(info.etag !== undefined ? { etag: info.etag } : {}),
      rows: opened.numRows,
      rowGroupRows: opened.rowGroupRows,
      columns: columnsOf(schemaOf(opened)),
      ...(opened.createdBy ? { createdBy: opened.createdBy } : {}),
      keyValueMetadata: opened.keyValueMetadata,
    };
  } finally {
    if (own) await thread.terminate();
    else await thread.close(opened.handle).catch(() => undefined);
  }
}

/** Opens a file in a thread (footer only), turning failures into errors naming the file. */
export async function openFile(thread: ParquetThread, storage: Storage, uri: string, size: number, etag?: string): Promise<OpenedFile> {
  if (size === 0) throw new BadInputError(`input file ${uri} is empty (0 bytes): not a Parquet file`);
  if (size < MIN_PARQUET_BYTES) {
    throw new BadInputError(`input file ${uri} is too small to be a Parquet file (${size} bytes)`);
  }
  let opened: OpenedFile;
  try {
    opened = await thread.open(storage, uri, size, etag);
  } catch (e) {
    throw decodeFailure(uri, 'the Parquet footer', e);
  }
  const total = opened.rowGroupRows.reduce((a, b) => a + b, 0);
  // (A num_rows of 0 over row groups that hold rows was mended already: footer-fix.ts.) Any other
  // disagreement means rows are missing or invented: corrupt.
  if (total !== opened.numRows) {
    await thread.close(opened.handle).catch(() => undefined);
    throw new BadInputError(`input file ${uri}: corrupt Parquet footer (row groups hold ${total} rows, the file says ${opened.numRows})`);
  }
  return opened;
}

export function schemaOf(opened: OpenedFile): arrow.Schema {
  return arrow.tableFromIPC(opened.schemaIpc).schema;
}

export function columnsOf(schema: arrow.Schema): ParquetColumn[] {
  return schema.fields.map((f) => {
    const t = normalizedType(f.type);
    return { name: f.name, type: typeName(t), nullable: f.nullable, arrowType: t };
  });
}
