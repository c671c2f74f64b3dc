/** Arrow -> Parquet bytes with parquet-wasm, synchronously on the calling thread. For trusted data
 * (test fixtures, the quickstart's example data); the worker's output goes through PartWriter, which
 * encodes in a worker thread. */
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { normalizeBatch, normalizedType } from '../../../core/src/parquet/normalize.js';
import type { WriteCompression } from '../../../core/src/parquet/parquet-thread.js';

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
  /** The dictionary page's size limit (default parquet-rs's, 1 MiB): past it, a chunk's pages fall
   * back to PLAIN, as pyarrow's and Spark's do. */
  dictionaryPageBytes?: number;
  /** The data page's size limit (default parquet-rs's, 1 MiB). */
  dataPageBytes?: number;
}

export const DEFAULT_ROW_GROUP_ROWS = 128 * 1024;

export function encodeParquet(data: arrow.Table | arrow.RecordBatch[], options: EncodeOptions = {}): Uint8Array {
  const table = Array.isArray(data) ? tableOf(data) : data;
  const wasmTable = pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  let builder = new pw.WriterPropertiesBuilder()
    .setCompression(PW_COMPRESSION[options.compression ?? 'zstd'])
    .setMaxRowGroupSize(options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS)
    .setKeyValueMetadata(new Map(Object.entries(options.keyValueMetadata ?? {})));
  if (options.dictionaryPageBytes !== undefined) builder = builder.setDictionaryPageSizeLimit(options.dictionaryPageBytes);
  if (options.dataPageBytes !== undefined) builder = builder.setDataPageSizeLimit(options.dataPageBytes);
  const props = builder.build();
  return pw.writeParquet(wasmTable, props); // consumes wasmTable and props
}

/** A type, nested ones included, nullability aside; decimals with their width (128 or 256). */
function typeKey(t: arrow.DataType): string {
  if (arrow.DataType.isDecimal(t)) return `Decimal${t.bitWidth}[${t.precision},${t.scale}]`;
  const children = (t.children ?? []) as arrow.Field[];
  if (children.length === 0) return String(t);
  return `${arrow.Type[t.typeId]}${arrow.DataType.isFixedSizeList(t) ? `[${t.listSize}]` : ''}<${children.map((c) => `${JSON.stringify(c.name)}:${typeKey(c.type)}`).join(',')}>`;
}

/** Field names and types, nullability aside: batches with the same key go in one file. */
export function schemaKey(schema: arrow.Schema): string {
  return schema.fields.map((f) => `${JSON.stringify(f.name)}:${typeKey(f.type)}`).join(',');
}

function nullableType(t: arrow.DataType): arrow.DataType {
  const field = (f: arrow.Field) => new arrow.Field(f.name, nullableType(f.type), true, f.metadata);
  if (arrow.DataType.isList(t)) return new arrow.List(field(t.children[0]));
  if (arrow.DataType.isFixedSizeList(t)) return new arrow.FixedSizeList(t.listSize, field(t.children[0]));
  if (arrow.DataType.isStruct(t)) return new arrow.Struct(t.children.map(field));
  return t; // maps keep their non-null keys (Parquet requires them); other types have no fields
}

/**
 * The schema a streamed part is written with: every field nullable, nested ones too. The encoder
 * fixes a file's schema with its first rows; a later batch whose (possibly nested) nullability
 * differed, say a list column from a Spark file (containsNull=false) then from a pyarrow one,
 * would not fit it. Nullable fits every batch with the same key. Dictionary columns are written
 * decoded (normalizeBatch), so their value type is the field's.
 */
export function partSchema(schema: arrow.Schema): arrow.Schema {
  return new arrow.Schema(schema.fields.map((f) => new arrow.Field(f.name, nullableType(normalizedType(f.type)), true, f.metadata)), schema.metadata);
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
