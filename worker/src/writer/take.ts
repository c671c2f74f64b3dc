/**
 * Pure: a record batch's rows at given indices, copied into compact new buffers (arrow-js has no take
 * kernel). The partitioned writer routes each input batch's rows to their partitions with it: a copy
 * keeps no decoded input batch alive while a partition's rows wait for their append.
 *
 * Follows arrow-js's own accessors: fixed-width values and offsets are already cut to a slice (index
 * them from 0), validity bitmaps and boolean values are not (getValid and get know the offset), list
 * and map children are addressed through the offsets, struct and fixed-size-list children are cut.
 */
import * as arrow from 'apache-arrow';

const FIXED = new Set<arrow.Type>([
  arrow.Type.Int, arrow.Type.Float, arrow.Type.Date, arrow.Type.Time, arrow.Type.Timestamp,
  arrow.Type.Interval, arrow.Type.Duration, arrow.Type.Decimal, arrow.Type.FixedSizeBinary,
]);

type TypedArray = Uint8Array | Int32Array | BigInt64Array | Float32Array | Float64Array | ArrayLike<number | bigint> & { constructor: new (n: number) => any };

function validity(data: arrow.Data, rows: ArrayLike<number>): { nullBitmap?: Uint8Array; nullCount: number } {
  if (data.nullCount === 0) return { nullCount: 0 };
  const bits = new Uint8Array((rows.length + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < rows.length; i++) {
    if (data.getValid(rows[i])) bits[i >> 3] |= 1 << (i & 7);
    else nulls++;
  }
  return nulls === 0 ? { nullCount: 0 } : { nullBitmap: bits, nullCount: nulls };
}

/** Offsets (Int32Array or BigInt64Array) of the taken rows, and the child/value ranges they cover. */
function takeOffsets(src: Int32Array | BigInt64Array, rows: ArrayLike<number>): { offsets: Int32Array | BigInt64Array; ranges: [number, number][]; total: number } {
  const big = src instanceof BigInt64Array;
  const offsets = big ? new BigInt64Array(rows.length + 1) : new Int32Array(rows.length + 1);
  const ranges: [number, number][] = [];
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    const start = Number(src[rows[i]]);
    const end = Number(src[rows[i] + 1]);
    ranges.push([start, end]);
    total += end - start;
    if (big) (offsets as BigInt64Array)[i + 1] = BigInt(total);
    else (offsets as Int32Array)[i + 1] = total;
  }
  return { offsets, ranges, total };
}

const expand = (ranges: [number, number][], total: number): Int32Array => {
  const out = new Int32Array(total);
  let k = 0;
  for (const [s, e] of ranges) for (let j = s; j < e; j++) out[k++] = j;
  return out;
};

/** Data holding `rows` of `data`, in that order. */
export function takeData(data: arrow.Data, rows: ArrayLike<number>): arrow.Data {
  const type = data.type;
  const length = rows.length;
  const typeId = type.typeId as arrow.Type;
  const v = validity(data, rows);
  if (arrow.DataType.isNull(type)) return arrow.makeData({ type, length });
  if (FIXED.has(typeId)) {
    const stride = data.stride;
    const src = data.values as unknown as TypedArray;
    const out = new (src.constructor as new (n: number) => any)(length * stride);
    for (let i = 0; i < length; i++) {
      const from = rows[i] * stride;
      for (let j = 0; j < stride; j++) out[i * stride + j] = src[from + j];
    }
    return arrow.makeData({ type, length, ...v, data: out } as any);
  }
  if (arrow.DataType.isUtf8(type) || arrow.DataType.isBinary(type) || arrow.DataType.isLargeUtf8(type) || arrow.DataType.isLargeBinary(type)) {
    const { offsets, ranges, total } = takeOffsets(data.valueOffsets as Int32Array | BigInt64Array, rows);
    const src = data.values as Uint8Array;
    const out = new Uint8Array(total);
    let k = 0;
    for (const [s, e] of ranges) {
      out.set(src.subarray(s, e), k);
      k += e - s;
    }
    return arrow.makeData({ type, length, ...v, valueOffsets: offsets, data: out } as any);
  }
  if (arrow.DataType.isList(type) || arrow.DataType.isLargeList(type) || arrow.DataType.isMap(type)) {
    const { offsets, ranges, total } = takeOffsets(data.valueOffsets as Int32Array | BigInt64Array, rows);
    const child = takeData(data.children[0], expand(ranges, total));
    return arrow.makeData({ type, length, ...v, valueOffsets: offsets, child } as any);
  }
  if (arrow.DataType.isFixedSizeList(type)) {
    const size = type.listSize;
    const idx = new Int32Array(length * size);
    for (let i = 0; i < length; i++) for (let j = 0; j < size; j++) idx[i * size + j] = rows[i] * size + j;
    return arrow.makeData({ type, length, ...v, child: takeData(data.children[0], idx) } as any);
  }
  if (arrow.DataType.isStruct(type)) {
    return arrow.makeData({ type, length, ...v, children: data.children.map((c) => takeData(c, rows)) } as any);
  }
  // Booleans (bit-packed values that keep their offset) and anything rarer (unions; dictionaries,
  // which the writer decodes first): one value at a time.
  const vec = arrow.makeVector(data);
  const builder = arrow.makeBuilder({ type, nullValues: [null, undefined] });
  for (let i = 0; i < length; i++) builder.append(vec.get(rows[i]));
  return builder.finish().flush();
}

/** A batch of `rows` of `batch` (every column, same schema), in that order. */
export function takeRows(batch: arrow.RecordBatch, rows: ArrayLike<number>): arrow.RecordBatch {
  const children = batch.data.children.map((c) => takeData(c as arrow.Data, rows));
  const data = arrow.makeData({ type: new arrow.Struct(batch.schema.fields), length: rows.length, nullCount: 0, children });
  return new arrow.RecordBatch(batch.schema, data);
}
