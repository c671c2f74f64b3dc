/**
 * The kept columns (id, passthrough) of a batch the decoder thread packed on its fast path: their
 * buffers as the Arrow C data interface lays them out (thread-fast-pack.ts), rebuilt here as Arrow JS
 * columns of the types the file's schema gives them. No copy: the buffers were the thread's, and are
 * now this thread's.
 */
import * as arrow from 'apache-arrow';
import type { WireColumn } from '../../../core/src/parquet/thread-protocol.js';

const UNIT = ['s', 'm', 'u', 'n'];

/** The C data interface format of an Arrow JS type, for the types the fast path copies. */
export function cFormat(t: arrow.DataType): string | undefined {
  if (arrow.DataType.isInt(t)) {
    const c = ({ 8: 'c', 16: 's', 32: 'i', 64: 'l' } as Record<number, string | undefined>)[t.bitWidth];
    return c && (t.isSigned ? c : c.toUpperCase());
  }
  if (arrow.DataType.isFloat(t)) return ['e', 'f', 'g'][t.precision];
  if (arrow.DataType.isBool(t)) return 'b';
  if (arrow.DataType.isUtf8(t)) return 'u';
  if (arrow.DataType.isLargeUtf8(t)) return 'U';
  if (arrow.DataType.isBinary(t)) return 'z';
  if (arrow.DataType.isLargeBinary(t)) return 'Z';
  if (arrow.DataType.isDate(t)) return t.unit === arrow.DateUnit.DAY ? 'tdD' : 'tdm';
  if (arrow.DataType.isTime(t)) return `tt${UNIT[t.unit]}`;
  if (arrow.DataType.isTimestamp(t)) return `ts${UNIT[t.unit]}:${t.timezone ?? ''}`;
  if (arrow.DataType.isDuration(t)) return `tD${UNIT[t.unit]}`;
  if (arrow.DataType.isDecimal(t)) return `d:${t.precision},${t.scale}${t.bitWidth === 128 ? '' : `,${t.bitWidth}`}`;
  if (arrow.DataType.isFixedSizeBinary(t)) return `w:${t.byteWidth}`;
  return undefined;
}

const sameFormat = (a: string, b: string): boolean => a.replace(/,128$/, '') === b.replace(/,128$/, '');

/** The kept columns as one record batch of `rows` rows, typed by `schema` (the file's columns). */
export function keptBatch(columns: readonly WireColumn[], schema: arrow.Schema, rows: number): arrow.RecordBatch {
  const fields: arrow.Field[] = [];
  const children: arrow.Data[] = [];
  for (const c of columns) {
    const field = schema.fields.find((f) => f.name === c.name);
    const format = field && cFormat(field.type);
    if (!field || format === undefined || !sameFormat(format, c.format) || c.length !== rows) {
      throw new Error(`the decoder thread sent column ${JSON.stringify(c.name)} as format '${c.format}' with ${c.length} rows, `
        + `but the file's schema has it as ${field ? String(field.type) : 'no column'} in a batch of ${rows} rows`);
    }
    fields.push(field);
    children.push(arrow.makeData({
      type: field.type as any, length: c.length, offset: c.offset, nullCount: c.nullCount,
      nullBitmap: c.validity, data: c.values, valueOffsets: c.offsets,
    } as any));
  }
  const data = arrow.makeData({ type: new arrow.Struct(fields), length: rows, nullCount: 0, children });
  return new arrow.RecordBatch(new arrow.Schema(fields), data);
}
