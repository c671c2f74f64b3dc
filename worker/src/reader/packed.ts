/**
 * A shard's rows packed into the model's input tensors in the decoder threads (thread-pack.ts), as
 * the pipeline reads them: the main thread gets tensors ready to score, the rows packed and the rows
 * that cannot be scored, and the id and passthrough columns, with nothing left to do per row.
 *
 * Packing needs the scoring plan, which needs the model's inputs (known once it loads) and the file's
 * schema. The decoder threads start fetching and decoding before either is known; each thread gets
 * its file's plan before its first batch is asked for (BatchKind.prepare), and decodes ahead meanwhile.
 */
import * as arrow from 'apache-arrow';
import type { PlannedFile } from '../../../core/src/contract/index.js';
import type { Storage } from '../../../core/src/storage/types.js';
import type { PackedBatch } from '../../../core/src/tensors/pack.js';
import type { ScoringPlan } from '../../../core/src/tensors/scoring-plan.js';
import type { PackedTensor, TensorData } from '../../../core/src/tensors/types.js';
import { schemaOf } from '../../../core/src/parquet/footer.js';
import { directFormats } from '../../../core/src/parquet/direct/arrow-formats.js';
import { normalizedType } from '../../../core/src/parquet/normalize.js';
import { ParquetThreadError, type OpenedFile } from '../../../core/src/parquet/parquet-thread.js';
import { readShard, type BatchKind, type ReadOptions, type ShardInput, type ThreadBatch } from './shard-reader.js';
import { keptBatch } from './kept-columns.js';
import type { WirePacked } from '../../../core/src/parquet/thread-protocol.js';

/** A batch of rows, packed. */
export interface PackedRows {
  numRows: number;
  /** The columns the output keeps (id, then passthrough), for every row of the batch. */
  keep: arrow.RecordBatch;
  packed: PackedBatch;
}

export interface PackSetup {
  idColumn: string;
  /** Columns the output keeps: the id column, then the passthrough columns. */
  keep: string[];
  scoreInfinity: boolean;
  /**
   * The scoring plan for a file whose columns (as read: dictionaries decoded) have `schema`. Asked
   * once per file and decoder thread; it may wait (for the model to load). What it throws passes
   * through the reader untouched.
   */
  planFor(schema: arrow.Schema, file: PlannedFile): Promise<ScoringPlan>;
}

/** The file's columns `columns`, in that order, typed as the reader yields them (normalize.ts). */
export function readSchema(opened: OpenedFile, columns: readonly string[]): arrow.Schema {
  const schema = schemaOf(opened);
  const fields = columns.map((name) => {
    const f = schema.fields.find((x) => x.name === name);
    if (!f) throw new Error(`the file has no column ${name}`); // checked when the file was opened
    const type = normalizedType(f.type);
    return type === f.type ? f : new arrow.Field(f.name, type, f.nullable, f.metadata);
  });
  return new arrow.Schema(fields, schema.metadata);
}

/** The kept columns of a packed batch, as one record batch. */
function keptRows(w: WirePacked, schema: () => arrow.Schema): arrow.RecordBatch {
  if ('columns' in w.keep) return keptBatch(w.keep.columns, schema(), w.numRows);
  let keep: arrow.RecordBatch[];
  try {
    keep = arrow.tableFromIPC(w.keep.ipc).batches;
  } catch (e) {
    throw new ParquetThreadError(`Arrow could not read the kept columns of a packed batch: ${String(e)}`, false, { cause: e });
  }
  if (keep.length !== 1 || keep[0].numRows !== w.numRows) {
    throw new ParquetThreadError(`a packed batch of ${w.numRows} rows came with its kept columns in ${keep.length} batches `
      + `of ${keep.map((b) => b.numRows).join(', ')} rows`, false);
  }
  return keep[0];
}

/** Packed batches, for readShard. */
export function packedBatches(setup: PackSetup, columns: readonly string[]): BatchKind<PackedRows> {
  const schemas = new WeakMap<OpenedFile, arrow.Schema>();
  const schemaOfFile = (opened: OpenedFile): arrow.Schema => {
    let s = schemas.get(opened);
    if (!s) schemas.set(opened, (s = readSchema(opened, columns)));
    return s;
  };
  const formats = new WeakMap<OpenedFile, Record<string, string>>();
  return {
    directFormats(opened) {
      let f = formats.get(opened);
      if (!f) formats.set(opened, (f = directFormats(schemaOf(opened))));
      return f;
    },
    async prepare(thread, opened, file) {
      const plan = await setup.planFor(schemaOfFile(opened), file);
      await thread.pack(opened.handle, { plan, idColumn: setup.idColumn, keep: setup.keep, scoreInfinity: setup.scoreInfinity });
    },
    take(batch: ThreadBatch, _columns: string[], opened: OpenedFile): PackedRows[] {
      if (!('packed' in batch)) throw new ParquetThreadError('the thread answered Arrow IPC where a packed batch was asked for', false);
      const w = batch.packed;
      const keep = keptRows(w, () => schemaOfFile(opened));
      const tensors: PackedTensor[] = w.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: t.data as TensorData }));
      return [{ numRows: w.numRows, keep, packed: { numRows: w.numRows, goodRows: w.goodRows, bad: w.bad, tensors } }];
    },
    rows: (p) => p.numRows,
  };
}

/**
 * Yields the shard's rows packed for the model, in plan order, in batches of at most batchSize rows
 * (a row group's last may be short). Reading, checks and crash isolation are readShardRanges'.
 */
export function readShardPacked(
  storage: Storage, shard: ShardInput, options: ReadOptions & { pack: PackSetup },
): AsyncGenerator<PackedRows, void, undefined> {
  return readShard(storage, shard, options, packedBatches(options.pack, [...new Set(options.columns)]));
}
