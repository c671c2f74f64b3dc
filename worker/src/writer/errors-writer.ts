/**
 * Rows that could not be scored (nulls or NaN in an input column, a wrong list length...): written as
 * errors-NNNNN-<w>.parquet parts under the attempt prefix, with columns
 *   <idColumn> (the input's id, its type unchanged), reason (Utf8), shard (Int32).
 */
import * as arrow from 'apache-arrow';
import { normalizedType } from '../../../core/src/parquet/normalize.js';
import { PartWriter, type PartWriterOptions } from './part-writer.js';
import type { OutputFile } from '../../../core/src/contract/index.js';

export interface ErrorsWriterOptions extends Omit<PartWriterOptions, 'kind'> {
  /** spec.input.idColumn: the name of the id column in the errors files. */
  idColumn: string;
}

export class ErrorsWriter {
  private readonly parts: PartWriter;
  private readonly idColumn: string;
  private readonly shard: number;
  private count = 0;

  constructor(options: ErrorsWriterOptions) {
    const { idColumn, ...rest } = options;
    if (idColumn === 'reason' || idColumn === 'shard') {
      throw new Error(`ErrorsWriter: the id column cannot be called ${idColumn} (errors files have their own column of that name)`);
    }
    this.idColumn = idColumn;
    this.shard = options.metadata.shard;
    this.parts = new PartWriter({ ...rest, kind: 'errors' });
  }

  /** Rows written so far. */
  get rows(): number {
    return this.count;
  }

  /**
   * Records rows `rows` of a batch as failed: their ids are taken from `ids` (the batch's id column).
   * `reason` is one reason for all of them, or one per row.
   */
  async add(ids: arrow.Vector, rows: ArrayLike<number>, reason: string | readonly string[]): Promise<void> {
    const n = rows.length;
    if (n === 0) return;
    if (typeof reason !== 'string' && reason.length !== n) {
      throw new Error(`ErrorsWriter.add: ${n} rows but ${reason.length} reasons`);
    }
    const type = normalizedType(ids.type);
    const idBuilder = arrow.makeBuilder({ type, nullValues: [null, undefined] });
    const reasonBuilder = arrow.makeBuilder({ type: new arrow.Utf8(), nullValues: [null, undefined] });
    const shards = new Int32Array(n).fill(this.shard);
    for (let i = 0; i < n; i++) {
      idBuilder.append(ids.get(rows[i]));
      reasonBuilder.append(typeof reason === 'string' ? reason : reason[i]);
    }
    await this.parts.write(errorsBatch(this.idColumn, idBuilder.finish().flush(), reasonBuilder.finish().flush(),
      arrow.makeData({ type: new arrow.Int32(), length: n, nullCount: 0, data: shards })));
    this.count += n;
  }

  async close(): Promise<OutputFile[]> {
    return this.parts.close();
  }

  async abort(): Promise<void> {
    await this.parts.abort();
  }
}

function errorsBatch(idColumn: string, ids: arrow.Data, reasons: arrow.Data, shards: arrow.Data): arrow.RecordBatch {
  const fields = [
    new arrow.Field(idColumn, ids.type, true),
    new arrow.Field('reason', new arrow.Utf8(), false),
    new arrow.Field('shard', new arrow.Int32(), false),
  ];
  const data = arrow.makeData({ type: new arrow.Struct(fields), length: ids.length, nullCount: 0, children: [ids, reasons, shards] });
  return new arrow.RecordBatch(new arrow.Schema(fields), data);
}
