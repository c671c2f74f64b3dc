/**
 * What parquet-wasm (arrow-rs underneath) hands back, and what this module changes so downstream code
 * sees plain columns:
 *
 * - Dictionary-encoded *Parquet* columns (DuckDB, Spark, pyarrow all dictionary-encode by default) come
 *   back already decoded: an INT32 column is Int32, a string column Utf8. Only files whose embedded
 *   Arrow schema (the `ARROW:schema` key pyarrow/arrow-rs write) says a column *was* an Arrow Dictionary
 *   come back as Dictionary<K, V>; `normalizeBatch` decodes those to plain V.
 * - Strings: Utf8; LargeUtf8 / Utf8View only where the embedded Arrow schema asks for them.
 *   Left as they are (ids and passthrough columns are copied unchanged).
 * - Timestamps: Timestamp<unit, tz> as written (DuckDB TIMESTAMPTZ -> Timestamp<MICROSECOND, UTC>;
 *   legacy INT96 -> Timestamp<NANOSECOND>). Left as they are.
 * - Parquet has no fixed-size list: DuckDB `FLOAT[4]` arrays and `FLOAT[]` lists both come back as
 *   List<Float32>. Files written from Arrow FixedSizeList (with the Arrow schema embedded) come back as
 *   FixedSizeList. Both are left as they are; the tensor packer takes either.
 * - Integers of every width, Float32/Float64, Float16, Decimal: as written.
 */
import * as arrow from 'apache-arrow';

/**
 * A type as messages print it: Arrow's names (`Float32`, `Int64`, `Utf8`, `List<Float32>`,
 * `FixedSizeList[4]<Float32>`), except decimals, which read as SQL writes them: `DECIMAL(12,4)`
 * (Arrow's own `Decimal[12e+4]` reads like a number).
 */
export function typeName(type: arrow.DataType): string {
  const t = normalizedType(type);
  if (arrow.DataType.isDecimal(t)) return `DECIMAL(${t.precision},${t.scale})`;
  if (arrow.DataType.isFixedSizeList(t)) return `FixedSizeList[${t.listSize}]<${typeName(t.children[0].type)}>`;
  if (arrow.DataType.isList(t)) return `List<${typeName(t.children[0].type)}>`;
  if (arrow.DataType.isLargeList(t)) return `LargeList<${typeName(t.children[0].type)}>`;
  return String(t);
}

/** The type a column has after normalization (what readShardRanges yields). */
export function normalizedType(type: arrow.DataType): arrow.DataType {
  return arrow.DataType.isDictionary(type) ? normalizedType(type.dictionary) : type;
}

/** Picks `columns` (in that order) and decodes dictionary columns. */
export function normalizeBatch(batch: arrow.RecordBatch, columns?: string[]): arrow.RecordBatch {
  const names = columns ?? batch.schema.fields.map((f) => f.name);
  const fields: arrow.Field[] = [];
  const children: arrow.Data[] = [];
  let changed = columns !== undefined && (names.length !== batch.numCols
    || names.some((n, i) => batch.schema.fields[i]?.name !== n));
  for (const name of names) {
    const idx = batch.schema.fields.findIndex((f) => f.name === name);
    if (idx < 0) throw new Error(`batch has no column ${name}`);
    const field = batch.schema.fields[idx];
    let data = batch.data.children[idx] as arrow.Data;
    if (arrow.DataType.isDictionary(field.type)) {
      data = decodeDictionary(data as arrow.Data<arrow.Dictionary>);
      changed = true;
    }
    fields.push(data.type === field.type ? field : new arrow.Field(field.name, data.type, field.nullable, field.metadata));
    children.push(data);
  }
  if (!changed) return batch;
  const schema = new arrow.Schema(fields, batch.schema.metadata);
  const struct = arrow.makeData({
    type: new arrow.Struct(fields),
    length: batch.numRows,
    nullCount: 0,
    children,
  });
  return new arrow.RecordBatch(schema, struct);
}

const FIXED_WIDTH = new Set<arrow.Type>([
  arrow.Type.Int, arrow.Type.Float, arrow.Type.Date, arrow.Type.Time, arrow.Type.Timestamp,
  arrow.Type.Interval, arrow.Type.Duration, arrow.Type.Decimal, arrow.Type.FixedSizeBinary,
]);

/** Dictionary<K, V> data -> plain V data. */
export function decodeDictionary(data: arrow.Data<arrow.Dictionary>): arrow.Data {
  const dict = data.dictionary;
  const valueType = normalizedType(data.type.dictionary);
  const length = data.length;
  const dictData = dict && dict.data.length === 1 ? dict.data[0] : undefined;
  const typeId = dictData?.type.typeId as arrow.Type | undefined;
  if (dictData && typeId !== undefined && FIXED_WIDTH.has(typeId) && dictData.nullCount === 0
    && dictData.values && dictData.children.length === 0 && !arrow.DataType.isDictionary(dictData.type)) {
    // Gather fixed-width values straight from the typed arrays.
    const stride = dictData.stride;
    const src = dictData.values as unknown as ArrayLike<number | bigint> & { constructor: any };
    const srcOffset = dictData.offset * stride;
    const out = new src.constructor(length * stride);
    const indices = data.values as unknown as ArrayLike<number | bigint>;
    const idxOffset = data.offset;
    for (let i = 0; i < length; i++) {
      if (data.nullCount > 0 && !data.getValid(i)) continue;
      const k = Number(indices[idxOffset + i]);
      const from = srcOffset + k * stride;
      for (let j = 0; j < stride; j++) out[i * stride + j] = src[from + j];
    }
    return arrow.makeData({
      type: valueType as any,
      length,
      nullCount: data.nullCount,
      nullBitmap: data.nullCount > 0 ? validityBitmap(data) : undefined,
      data: out,
    } as any);
  }
  // Anything else (strings, booleans, nested values): through the builder.
  const vec = arrow.makeVector(data);
  const builder = arrow.makeBuilder({ type: valueType, nullValues: [null, undefined] });
  for (let i = 0; i < length; i++) builder.append(vec.get(i));
  return builder.finish().flush();
}

function validityBitmap(data: arrow.Data): Uint8Array {
  const bits = new Uint8Array((data.length + 7) >> 3);
  for (let i = 0; i < data.length; i++) if (data.getValid(i)) bits[i >> 3] |= 1 << (i & 7);
  return bits;
}
