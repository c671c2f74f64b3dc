/** Arrow -> Parquet bytes with parquet-wasm, synchronously on the calling thread. For trusted data
 * (test fixtures, the quickstart's example data); the worker's output goes through PartWriter, which
 * encodes in a worker thread. */
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { normalizeBatch } from '../reader/normalize.js';
import type { WriteCompression } from '../reader/parquet-thread.js';

export type { WriteCompression };

export const PW_COMPRESSION: Record<WriteCompression, pw.Compression> = {
  none: pw.Compression.UNCOMPRESSED,
  snappy: pw.Compression.SNAPPY,
  gzip: pw.Compression.GZIP,
  lz4: pw.Compression.LZ4_RAW,
  zstd: pw.Compression.ZSTD,
};

export interface EncodeOptions {
  /** Default zstd. `lz4` writes LZ4_RAW (the Parquet codec every current reader means by LZ4). */
  compression?: WriteCompression;
  /** Most rows per row group (default 131072). */
  rowGroupRows?: number;
  keyValueMetadata?: Record<string, string>;
}

export const DEFAULT_ROW_GROUP_ROWS = 128 * 1024;

export function encodeParquet(data: arrow.Table | arrow.RecordBatch[], options: EncodeOptions = {}): Uint8Array {
  const table = Array.isArray(data) ? tableOf(data) : data;
  const wasmTable = pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  const props = new pw.WriterPropertiesBuilder()
    .setCompression(PW_COMPRESSION[options.compression ?? 'zstd'])
    .setMaxRowGroupSize(options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS)
    .setKeyValueMetadata(new Map(Object.entries(options.keyValueMetadata ?? {})))
    .build();
  return pw.writeParquet(wasmTable, props); // consumes wasmTable and props
}

/** Field names and types, nullability aside: batches with the same key go in one file. */
export function schemaKey(schema: arrow.Schema): string {
  return schema.fields.map((f) => `${JSON.stringify(f.name)}:${String(f.type)}`).join(',');
}

/** One table from batches of the same key (dictionaries decoded, a field nullable if it is anywhere). */
export function tableOf(batches: arrow.RecordBatch[]): arrow.Table {
  if (batches.length === 0) throw new Error('tableOf: no batches');
  const plain = batches.map((b) => normalizeBatch(b));
  const first = plain[0].schema;
  const key = schemaKey(first);
  for (const b of plain) {
    if (schemaKey(b.schema) !== key) throw new Error(`batches of different schemas: ${key} vs ${schemaKey(b.schema)}`);
  }
  const fields = first.fields.map((f, i) => {
    const nullable = plain.some((b) => b.schema.fields[i].nullable || b.data.children[i].nullCount > 0);
    return nullable === f.nullable ? f : new arrow.Field(f.name, f.type, nullable, f.metadata);
  });
  const schema = new arrow.Schema(fields, first.metadata);
  const same = plain.every((b) => b.schema.fields.every((f, i) => f.nullable === fields[i].nullable));
  return new arrow.Table(schema, same ? plain : plain.map((b) => new arrow.RecordBatch(schema, b.data)));
}
