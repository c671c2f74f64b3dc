/**
 * Streams one shard of the plan: only its row groups, only the needed columns, in plan order, as
 * Arrow record batches (readShardRanges) or packed into the model's input tensors in the decoder
 * thread (packed.ts: readShardPacked).
 *
 * Memory: the thread holds, per row group it has started, the compressed bytes of the projected column
 * chunks plus one decoded batch (decoded ahead while the caller works on the previous one). At most
 * 1 + readAhead row groups are started at a time, and nothing is produced faster than the caller pulls
 * (each batch is asked for when the caller asks for one), so memory stays bounded by a few row groups
 * whatever the file size.
 */
import * as arrow from 'apache-arrow';
import { BadInputError, NotFoundError, type PlannedFile, type ShardRange } from '../../../core/src/contract/index.js';
import type { Storage } from '../../../core/src/storage/types.js';
import { decodeFailure, ioFailure, listNames, packFailure } from '../../../core/src/parquet/read-failures.js';
import { columnsOf, openFile, schemaOf } from '../../../core/src/parquet/footer.js';
import { normalizeBatch } from '../../../core/src/parquet/normalize.js';
import { type OpenedFile, ParquetThread, ParquetThreadError } from '../../../core/src/parquet/parquet-thread.js';
import type { NextReply } from '../../../core/src/parquet/thread-protocol.js';
import { awaitedLater } from '../../../core/src/contract/settle.js';

export interface ShardInput {
  /** plan.files: ranges refer to them by index. */
  files: PlannedFile[];
  /** The shard's ranges, in plan order. */
  ranges: ShardRange[];
}

export interface ReadOptions {
  /** Columns to read; batches hold exactly these, in this order. */
  columns: string[];
  /** Most rows per batch. Batches never span row groups, so a row group's last batch may be short. */
  batchSize: number;
  /** Row groups whose bytes are fetched (and first batch decoded) ahead of the one being read. Default 1. */
  readAhead?: number;
  /** Filled in as reading goes (live counters). */
  stats?: ReadStats;
  /** Tests only: how decoder threads are made (a thread that crashes on cue, say). */
  newThread?: () => ParquetThread;
}

export interface ReadStats {
  files: number;
  rowGroups: number;
  batches: number;
  rows: number;
  rangeRequests: number;
  bytesRead: number;
  /** Seconds inside storage.readRange (summed; ranges may be fetched in parallel). */
  ioSeconds: number;
  /** Seconds the decoder threads were busy (decoding, moving batches out, packing), summed over
   * threads, as each thread measured itself. */
  threadSeconds: number;
  /** Of threadSeconds, the seconds spent packing tensors. */
  packSeconds: number;
  /** Batches packed straight from wasm memory (the fast path); the others took the general one. */
  fastPacked: number;
  /** Of those, batches decoded without parquet-wasm (core/src/parquet/direct). */
  directPacked: number;
}

export const newReadStats = (): ReadStats => ({
  files: 0, rowGroups: 0, batches: 0, rows: 0, rangeRequests: 0, bytesRead: 0, ioSeconds: 0, threadSeconds: 0, packSeconds: 0, fastPacked: 0, directPacked: 0,
});

/** A batch of decoded rows as the thread answers it (not the end of the stream). */
export type ThreadBatch = Exclude<NextReply, { done: true }>;

/**
 * What a shard reader yields, and how it gets it from its thread: Arrow batches (arrowBatches below)
 * or packed tensors (packed.ts).
 */
export interface BatchKind<T> {
  /** Once per file opened, before its first batch is asked for (its streams are already decoding). */
  prepare?(thread: ParquetThread, opened: OpenedFile, file: PlannedFile): Promise<void>;
  /** For kinds read packed: the columns of the file the thread may decode without parquet-wasm
   * (sent with each stream, which starts before `prepare` is done). */
  directFormats?(opened: OpenedFile): Record<string, string>;
  /** A thread's answer about the open file `opened` -> what is yielded (several items, or none, are
   * fine). Throws a ParquetThreadError if the answer cannot be read. */
  take(batch: ThreadBatch, columns: string[], opened: OpenedFile): T[];
  rows(item: T): number;
}

/** Arrow record batches, dictionary columns decoded (normalize.ts). */
export const arrowBatches: BatchKind<arrow.RecordBatch> = {
  take(batch, columns) {
    if (!('ipc' in batch)) throw new ParquetThreadError('the thread answered a packed batch where Arrow IPC was asked for', false);
    let batches: arrow.RecordBatch[];
    try {
      batches = arrow.tableFromIPC(batch.ipc).batches;
    } catch (e) {
      throw new ParquetThreadError(`Arrow could not read the decoded batch: ${String(e)}`, false, { cause: e });
    }
    return batches.filter((b) => b.numRows > 0).map((b) => normalizeBatch(b, columns));
  },
  rows: (b) => b.numRows,
};

/** Fails with BadInputError if the file is not the one that was planned. */
export async function checkUnchanged(storage: Storage, file: PlannedFile): Promise<void> {
  let info;
  try {
    info = await storage.stat(file.uri);
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new BadInputError(`input file ${file.uri} was deleted after the run was planned`, { cause: e });
    }
    throw ioFailure(file.uri, e);
  }
  if (info.size !== file.size) {
    throw new BadInputError(`input file ${file.uri} changed after the run was planned (size ${file.size} -> ${info.size}); `
      + 'rows from two versions are never mixed');
  }
  if (file.etag !== undefined && info.etag !== undefined && info.etag !== file.etag) {
    throw new BadInputError(`input file ${file.uri} changed after the run was planned (version ${file.etag} -> ${info.etag}); `
      + 'rows from two versions are never mixed');
  }
}

function checkOptions(options: ReadOptions): { columns: string[]; batchSize: number; readAhead: number } {
  const columns = [...new Set(options.columns)];
  if (columns.length === 0) throw new Error('readShardRanges: no columns to read');
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new Error(`readShardRanges: batchSize must be a positive integer, not ${options.batchSize}`);
  }
  const readAhead = options.readAhead ?? 1;
  if (!Number.isInteger(readAhead) || readAhead < 0) {
    throw new Error(`readShardRanges: readAhead must be a non-negative integer, not ${readAhead}`);
  }
  return { columns, batchSize: options.batchSize, readAhead };
}

/** Throws unless every range names a file of the plan and row groups that file has. */
export function checkRanges(shard: ShardInput): void {
  for (const [i, r] of shard.ranges.entries()) {
    const f = shard.files[r.file];
    if (!f) throw new Error(`shard range ${i} refers to file ${r.file}, but the plan has ${shard.files.length} files`);
    if (r.rowGroupStart > r.rowGroupEnd || r.rowGroupEnd > f.rowGroupRows.length) {
      throw new Error(`shard range ${i} (row groups [${r.rowGroupStart}, ${r.rowGroupEnd})) does not fit ${f.uri}, `
        + `planned with ${f.rowGroupRows.length} row groups`);
    }
  }
}

/**
 * Yields the shard's rows as Arrow RecordBatches (dictionary columns decoded; see normalize.ts), each
 * of at most batchSize rows. Stop early by breaking out of the loop: everything is released.
 */
export function readShardRanges(
  storage: Storage, shard: ShardInput, options: ReadOptions,
): AsyncGenerator<arrow.RecordBatch, void, undefined> {
  return readShard(storage, shard, options, arrowBatches);
}

/** Yields the shard's rows as `kind` makes them (readShardRanges: Arrow batches). */
export async function* readShard<T>(
  storage: Storage, shard: ShardInput, options: ReadOptions, kind: BatchKind<T>,
): AsyncGenerator<T, void, undefined> {
  const { columns, batchSize, readAhead } = checkOptions(options);
  const stats = options.stats ?? newReadStats();
  checkRanges(shard);
  if (shard.ranges.length === 0) return;

  const reader = new ShardReader(storage, shard.files, columns, batchSize, readAhead, stats, kind, options.newThread ?? (() => new ParquetThread()));
  try {
    const ranges = shard.ranges.filter((r) => r.rowGroupStart < r.rowGroupEnd);
    for (let i = 0; i < ranges.length; i++) yield* reader.readRange(ranges[i], ranges[i + 1]);
  } finally {
    await reader.close();
  }
}

/** A row group started in the thread: its stream id once the thread has it. */
interface Started {
  rowGroup: number;
  stream: Promise<number>;
}

/**
 * The state behind readShardRanges. If the decoder thread crashes (a wasm panic on corrupt data) while
 * several row groups are in flight, the crash cannot be pinned on one of them: the reader then starts
 * a fresh thread, turns read-ahead off for good, and resumes the row group it was reading after the
 * rows it already yielded. A crash with a single row group in flight is that row group's fault.
 */
class ShardReader<T> {
  private thread: ParquetThread;
  private isolated = false;
  private open: { fileIndex: number; opened: OpenedFile; prepared?: Promise<void> } | undefined;
  /** The next range's file, opened (and its first row groups started) while the last row groups of
   * the current one are read, so a shard of many files does not stall at each file's start. */
  private ahead: { range: ShardRange; opened: Promise<OpenedFile>; started: Started[] } | undefined;
  /** Counters of threads already stopped. */
  private readonly base: Pick<ReadStats, 'rangeRequests' | 'bytesRead' | 'ioSeconds' | 'threadSeconds' | 'packSeconds' | 'fastPacked' | 'directPacked'>;

  constructor(
    private readonly storage: Storage,
    private readonly files: PlannedFile[],
    private readonly columns: string[],
    private readonly batchSize: number,
    private readAhead: number,
    private readonly stats: ReadStats,
    private readonly kind: BatchKind<T>,
    private readonly newThread: () => ParquetThread,
  ) {
    this.thread = newThread();
    this.base = {
      rangeRequests: stats.rangeRequests, bytesRead: stats.bytesRead, ioSeconds: stats.ioSeconds,
      threadSeconds: stats.threadSeconds, packSeconds: stats.packSeconds, fastPacked: stats.fastPacked, directPacked: stats.directPacked,
    };
  }

  async close(): Promise<void> {
    this.syncIo();
    await this.thread.terminate();
  }

  private syncIo(): void {
    const { io, times } = this.thread;
    this.stats.rangeRequests = this.base.rangeRequests + io.rangeRequests;
    this.stats.bytesRead = this.base.bytesRead + io.bytesRead;
    this.stats.ioSeconds = this.base.ioSeconds + io.ioSeconds;
    this.stats.threadSeconds = this.base.threadSeconds + times.busyMs / 1000;
    this.stats.packSeconds = this.base.packSeconds + times.packMs / 1000;
    this.stats.fastPacked = this.base.fastPacked + times.fastBatches;
    this.stats.directPacked = this.base.directPacked + times.directBatches;
  }

  /** Opens (stat-checking first) the range's file unless it is the one already open. */
  private async ensureOpen(fileIndex: number, checked: boolean): Promise<OpenedFile> {
    if (this.open?.fileIndex === fileIndex) return this.open.opened;
    if (this.open) await this.thread.close(this.open.opened.handle).catch(() => undefined);
    this.open = undefined;
    const opened = await this.openChecked(fileIndex, checked);
    this.open = { fileIndex, opened };
    return opened;
  }

  /** Opens a file in the thread, checking (unless `checked`) that it is the version planned. */
  private async openChecked(fileIndex: number, checked: boolean): Promise<OpenedFile> {
    const file = this.files[fileIndex];
    if (!checked) await checkUnchanged(this.storage, file);
    const opened = await openFile(this.thread, this.storage, file.uri, file.size, file.etag);
    if (!checked) {
      this.stats.files++;
      checkSameRowGroups(file, opened);
      checkColumns(file.uri, opened, this.columns);
    }
    return opened;
  }

  /** Starts a row group of an open file (its first batch decoded, its bytes fetched, at once). */
  private startStream(opened: OpenedFile, rowGroup: number, skip: number): Started {
    const stream = this.thread.startStream(opened.handle, rowGroup, this.columns, this.batchSize, skip, this.kind.directFormats?.(opened));
    awaitedLater(stream); // awaited in turn
    return { rowGroup, stream };
  }

  /**
   * With every row group of the current range started and room left in the read-ahead: opens the next
   * range's file (a different one) and starts its first row groups. Its failures surface when that
   * range is read, as they would have without read-ahead.
   */
  private startAhead(next: ShardRange | undefined, inFlight: number): void {
    if (!next || this.isolated || next.file === this.open?.fileIndex) return;
    if (!this.ahead) {
      const opened = this.openChecked(next.file, false);
      awaitedLater(opened);
      this.ahead = { range: next, opened, started: [] };
    }
    const ahead = this.ahead;
    const want = Math.min(next.rowGroupEnd - next.rowGroupStart, 1 + this.readAhead - inFlight);
    for (let rg = next.rowGroupStart + ahead.started.length; ahead.started.length < want; rg++) {
      const row = rg;
      const stream = ahead.opened.then((o) => this.startStream(o, row, 0).stream);
      awaitedLater(stream);
      ahead.started.push({ rowGroup: row, stream });
    }
  }

  /** The range's file, open: the one opened ahead for it (and the row groups started there), or now. */
  private async openRange(range: ShardRange): Promise<Started[]> {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (!ahead || ahead.range !== range) {
      await this.ensureOpen(range.file, false);
      return [];
    }
    const opened = await ahead.opened;
    if (this.open) await this.thread.close(this.open.opened.handle).catch(() => undefined);
    this.open = { fileIndex: range.file, opened };
    return ahead.started;
  }

  /** The open file made ready for its first batch (kind.prepare, once per file and thread). */
  private prepared(): Promise<void> {
    const open = this.open!;
    if (!this.kind.prepare) return Promise.resolve();
    open.prepared ??= this.kind.prepare(this.thread, open.opened, this.files[open.fileIndex]);
    return open.prepared;
  }

  /** After a crash with several row groups in flight: a fresh thread, and no read-ahead from now on. */
  private async isolate(fileIndex: number): Promise<void> {
    this.syncIo();
    Object.assign(this.base, {
      rangeRequests: this.stats.rangeRequests, bytesRead: this.stats.bytesRead, ioSeconds: this.stats.ioSeconds,
      threadSeconds: this.stats.threadSeconds, packSeconds: this.stats.packSeconds, fastPacked: this.stats.fastPacked, directPacked: this.stats.directPacked,
    });
    await this.thread.terminate();
    this.thread = this.newThread();
    this.open = undefined;
    this.ahead = undefined; // its streams were in the old thread
    this.isolated = true;
    this.readAhead = 0;
    await this.ensureOpen(fileIndex, true);
  }

  /** Yields the range's rows; `next` is the range read after it (its file is opened ahead). */
  async *readRange(range: ShardRange, next?: ShardRange): AsyncGenerator<T, void, undefined> {
    const file = this.files[range.file];
    // Row groups started (stream opened; first batch being fetched and decoded), in order.
    let started: Started[] = await this.openRange(range);
    let nextToStart = range.rowGroupStart + started.length;
    // After a restart: the row group to resume, and how many of its rows were yielded already.
    let resume = { rowGroup: -1, skip: 0 };
    const startUpTo = (limit: number): void => {
      for (; nextToStart < limit; nextToStart++) {
        started.push(this.startStream(this.open!.opened, nextToStart, nextToStart === resume.rowGroup ? resume.skip : 0));
      }
    };
    for (let rg = range.rowGroupStart; rg < range.rowGroupEnd; rg++) {
      const where = `row group ${rg}`;
      let rows = 0; // rows of this row group yielded so far
      for (;;) {
        startUpTo(Math.min(range.rowGroupEnd, rg + 1 + this.readAhead));
        if (nextToStart === range.rowGroupEnd) this.startAhead(next, started.length);
        const inFlight = started.length;
        const { stream } = started.shift()!;
        try {
          for await (const item of this.batchesOf(stream)) {
            rows += this.kind.rows(item);
            this.stats.rows += this.kind.rows(item);
            this.stats.batches++;
            yield item;
          }
          break;
        } catch (e) {
          if (e instanceof ParquetThreadError && e.packing) throw packFailure(file.uri, where, e);
          const crashed = e instanceof ParquetThreadError && e.fatal && e.ioError === undefined && !this.thread.stopped;
          if (crashed && inFlight > 1 && !this.isolated) {
            await this.isolate(range.file);
            started = [];
            nextToStart = rg;
            resume = { rowGroup: rg, skip: rows };
            continue;
          }
          if (!(e instanceof ParquetThreadError)) throw e; // not the thread's (kind.prepare: the model, the plan)
          throw await this.decodeError(range.file, rg, e);
        }
      }
      this.stats.rowGroups++;
      if (rows !== file.rowGroupRows[rg]) {
        throw new BadInputError(`input file ${file.uri}: ${where} decoded to ${rows} rows, `
          + `but its footer says ${file.rowGroupRows[rg]}`);
      }
    }
  }

  /** A row group failed: the error to throw, naming the column chunk when that can be known. */
  private async decodeError(fileIndex: number, rowGroup: number, e: unknown): Promise<Error> {
    const uri = this.files[fileIndex].uri;
    const where = `row group ${rowGroup}`;
    const decoding = e instanceof ParquetThreadError && e.ioError === undefined && !e.stopped && !this.thread.stopped;
    if (!decoding) return decodeFailure(uri, where, e);
    const bad = this.columns.length === 1 ? { column: this.columns[0], error: e } : await this.failingColumn(fileIndex, rowGroup);
    return bad ? decodeFailure(uri, `column ${JSON.stringify(bad.column)} in ${where}`, bad.error) : decodeFailure(uri, where, e);
  }

  /**
   * On the error path only: decodes the row group again one column at a time, in a thread of its own
   * (a column that crashes the decoder takes only that thread down), and returns the first column
   * that fails alone. Undefined when none does (or the store fails meanwhile): the row group is blamed.
   */
  private async failingColumn(fileIndex: number, rowGroup: number): Promise<{ column: string; error: ParquetThreadError } | undefined> {
    const file = this.files[fileIndex];
    let thread: ParquetThread | undefined;
    try {
      for (const column of this.columns) {
        thread = thread && !thread.dead ? thread : this.newThread();
        try {
          const opened = await thread.open(this.storage, file.uri, file.size, file.etag);
          const stream = await thread.startStream(opened.handle, rowGroup, [column], this.batchSize);
          while ((await thread.next(stream)) !== null) { /* decode it all */ }
          await thread.close(opened.handle);
        } catch (e) {
          if (!(e instanceof ParquetThreadError) || e.ioError !== undefined || e.stopped) return undefined;
          return { column, error: e };
        }
      }
      return undefined;
    } finally {
      await thread?.terminate();
    }
  }

  /** The items of one started row group. Thread errors pass through untouched. */
  private async *batchesOf(stream: Promise<number>): AsyncGenerator<T, void, undefined> {
    const streamId = await stream;
    await this.prepared();
    for (;;) {
      let r: NextReply;
      try {
        r = await this.thread.nextBatch(streamId);
      } finally {
        this.syncIo();
      }
      if (r.done) return;
      yield* this.kind.take(r, this.columns, this.open!.opened);
    }
  }
}

function checkSameRowGroups(file: PlannedFile, opened: OpenedFile): void {
  const a = file.rowGroupRows;
  const b = opened.rowGroupRows;
  if (a.length !== b.length || a.some((n, i) => n !== b[i])) {
    throw new BadInputError(`input file ${file.uri} changed after the run was planned (row groups `
      + `${a.length} holding ${file.rows} rows -> ${b.length} holding ${opened.numRows}); rows from two versions are never mixed`);
  }
}

function checkColumns(uri: string, opened: OpenedFile, columns: string[]): void {
  const have = columnsOf(schemaOf(opened)).map((c) => c.name);
  const missing = columns.filter((c) => !have.includes(c));
  if (missing.length > 0) {
    const what = missing.length === 1 ? `column ${JSON.stringify(missing[0])}` : `columns ${missing.map((c) => JSON.stringify(c)).join(', ')}`;
    throw new BadInputError(`input file ${uri} has no ${what} (its columns: ${listNames(have)})`);
  }
}
