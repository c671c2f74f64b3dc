/**
 * Which columns of a file the direct decoder may take, by their Arrow type as parquet-wasm reads the
 * file (its schema: the footer's ARROW:schema where the writer left one, else arrow-rs's mapping):
 * the C data interface format of each plain Float32, Float64, Int32, Int64, Utf8 or Binary column.
 * Dictionary, large, temporal, decimal and nested types are left to parquet-wasm.
 */
import * as arrow from 'apache-arrow';

function formatOf(t: arrow.DataType): string | undefined {
  if (arrow.DataType.isDictionary(t)) return undefined;
  if (arrow.DataType.isFloat(t)) return t.precision === arrow.Precision.SINGLE ? 'f' : t.precision === arrow.Precision.DOUBLE ? 'g' : undefined;
  if (arrow.DataType.isInt(t) && t.isSigned) return t.bitWidth === 32 ? 'i' : t.bitWidth === 64 ? 'l' : undefined;
  if (t.typeId === arrow.Type.Utf8) return 'u';
  if (t.typeId === arrow.Type.Binary) return 'z';
  return undefined;
}

/** Format by column name, for the columns of `schema` the direct decoder writes. */
export function directFormats(schema: arrow.Schema): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of schema.fields) {
    const format = formatOf(f.type);
    if (format) out[f.name] = format;
  }
  return out;
}
