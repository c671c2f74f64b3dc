/**
 * Pure: which partition each row of a batch belongs to (spec.output.partitionBy).
 *
 * A value becomes its folder name as Spark casts it to a string before escaping it (hive-path.ts):
 * strings as they are; integers in decimal; booleans `true`/`false`; dates `YYYY-MM-DD`; timestamps
 * `YYYY-MM-DD HH:MM:SS` with a fraction only when there is one (`.5`, `.000123`), in UTC for a column
 * with a zone and as written for one without. Null is the default partition. Other types (floats,
 * decimals, binary, times, lists, structs, maps) are refused at planning (partitionTypeProblem):
 * a float's text is not its value, and a nested value has no folder name.
 */
import * as arrow from 'apache-arrow';
import { partitionPath } from './hive-path.js';
import { normalizedType, typeName } from '../parquet/normalize.js';

/** Undefined when a column of this type can name folders; else why not (for the planner's message). */
export function partitionTypeProblem(type: arrow.DataType): string | undefined {
  const t = normalizedType(type);
  if (arrow.DataType.isUtf8(t) || arrow.DataType.isLargeUtf8(t) || arrow.DataType.isInt(t) || arrow.DataType.isBool(t)
    || arrow.DataType.isDate(t) || arrow.DataType.isTimestamp(t)) return undefined;
  return `${typeName(t)} cannot name a partition folder; partition by a string, integer, boolean, date or timestamp column (cast it in the data, or add a run column)`;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Days since the epoch -> YYYY-MM-DD (proleptic Gregorian, UTC). */
export function formatDate(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

const UNIT_PER_SECOND: Record<number, bigint> = {
  [arrow.TimeUnit.SECOND]: 1n, [arrow.TimeUnit.MILLISECOND]: 1_000n, [arrow.TimeUnit.MICROSECOND]: 1_000_000n, [arrow.TimeUnit.NANOSECOND]: 1_000_000_000n,
};
const FRACTION_DIGITS: Record<number, number> = {
  [arrow.TimeUnit.SECOND]: 0, [arrow.TimeUnit.MILLISECOND]: 3, [arrow.TimeUnit.MICROSECOND]: 6, [arrow.TimeUnit.NANOSECOND]: 9,
};

/** A timestamp in `unit` since the epoch -> `YYYY-MM-DD HH:MM:SS[.fraction]`, trailing zeros of the fraction dropped. */
export function formatTimestamp(value: bigint, unit: arrow.TimeUnit): string {
  const per = UNIT_PER_SECOND[unit];
  let secs = value / per;
  let frac = value % per;
  if (frac < 0n) {
    frac += per;
    secs -= 1n;
  }
  const d = new Date(Number(secs) * 1000);
  const base = `${d.toISOString().slice(0, 10)} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  if (frac === 0n) return base;
  return `${base}.${frac.toString().padStart(FRACTION_DIGITS[unit], '0').replace(/0+$/, '')}`;
}

/** Row i of `data` as its partition string, or null. */
export type ValueReader = (i: number) => string | null;

/** A reader of one column's values as partition strings (dictionaries must be decoded first). */
export function valueReader(data: arrow.Data, column: string): ValueReader {
  const t = data.type;
  const valid = (i: number) => data.nullCount === 0 || data.getValid(i);
  if (arrow.DataType.isInt(t)) {
    const values = data.values as unknown as ArrayLike<number | bigint>;
    return (i) => (valid(i) ? String(values[i]) : null);
  }
  if (arrow.DataType.isTimestamp(t)) {
    const values = data.values as unknown as BigInt64Array;
    return (i) => (valid(i) ? formatTimestamp(BigInt(values[i]), t.unit) : null);
  }
  if (arrow.DataType.isDate(t)) {
    const values = data.values as unknown as ArrayLike<number | bigint>;
    const day = t.unit === arrow.DateUnit.DAY;
    return (i) => (valid(i) ? formatDate(day ? Number(values[i]) : Math.floor(Number(values[i]) / 86_400_000)) : null);
  }
  if (arrow.DataType.isUtf8(t) || arrow.DataType.isLargeUtf8(t) || arrow.DataType.isBool(t)) {
    const vec = arrow.makeVector(data);
    return (i) => {
      const v = vec.get(i) as string | boolean | null;
      return v === null || v === undefined ? null : String(v);
    };
  }
  throw new Error(`partition column ${column}: ${partitionTypeProblem(t) ?? typeName(t)}`);
}

/** One partition of a batch: its values (one per partition column), folders and rows. */
export interface RoutedPartition {
  values: (string | null)[];
  path: string;
  rows: Int32Array;
}

/**
 * Groups a batch's rows by their partition values, in the order each partition first appears; rows
 * keep their order within a partition. `constants` gives the value of columns that hold one value in
 * every row (run columns), which are then not read row by row. An empty string counts as null: both
 * are the folder __HIVE_DEFAULT_PARTITION__, which readers read back as null.
 */
export function routeRows(batch: arrow.RecordBatch, columns: readonly string[], constants: ReadonlyMap<string, string | null> = new Map()): RoutedPartition[] {
  const n = batch.numRows;
  const readers = columns.map((c) => {
    if (constants.has(c)) return undefined;
    const idx = batch.schema.fields.findIndex((f) => f.name === c);
    if (idx < 0) throw new Error(`partition column ${c} is not in the output batch (columns: ${batch.schema.fields.map((f) => f.name).join(', ')})`);
    return valueReader(batch.data.children[idx] as arrow.Data, c);
  });
  if (readers.every((r) => r === undefined)) {
    const values = columns.map((c) => constants.get(c) || null);
    return n === 0 ? [] : [{ values, path: partitionPath(columns, values), rows: Int32Array.from({ length: n }, (_, i) => i) }];
  }
  const groups = new Map<string, { values: (string | null)[]; rows: number[] }>();
  const values: (string | null)[] = new Array(columns.length);
  for (let i = 0; i < n; i++) {
    let key = '';
    for (let c = 0; c < columns.length; c++) {
      const r = readers[c];
      const read = r ? r(i) : (constants.get(columns[c]) ?? null);
      const v = read === '' ? null : read; // one folder for both (Spark's rule), read back as null
      values[c] = v;
      key += v === null ? '\u0001' : '\u0002' + v;
      key += '\u0000';
    }
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { values: [...values], rows: [] }));
    g.rows.push(i);
  }
  return [...groups.values()].map((g) => ({ values: g.values, path: partitionPath(columns, g.values), rows: Int32Array.from(g.rows) }));
}
