/**
 * Arrow columns -> dense input tensors, following a ScoringPlan. Typed arrays in, typed arrays out:
 * no per-row JS objects. Three passes over each batch:
 *   1. scan: check each chunk's type against the input's (type-rules.ts), and mark rows holding a
 *      null, a NaN or a value that does not fit the input's type in any mapped input (one Uint16 per
 *      row: 0 = good, otherwise 1 + the index of the first reason found); check List widths;
 *   2. collect the indices of the good and the bad rows;
 *   3. pack the good rows densely, row-major, converting to the model's element type.
 * Conversions follow type-rules.ts: integers into integer inputs exactly, any number into float
 * inputs as the nearest value; a value outside the input's range makes its row unscorable.
 */
import { DataType, Precision, type Data } from 'apache-arrow';
// The contract's error and JSON modules, not its index: this module also runs in the decoder threads
// (reader/thread-pack.ts), where loading the index (zod and every schema) would cost each thread
// about 70 ms of CPU at start.
import { BadInputError } from '../contract/error-kinds.js';
import { toJson } from '../contract/json.js';
import type { InputPlan, ScoringPlan } from './scoring-plan.js';
import { ColumnCursor, HI, copyRows, listOffsets, readNum, sourceOf, targetFor } from './copy.js';
import { ROUND } from './nearest.js';
import { packDense } from './pack-dense.js';
import {
  FLOAT_LIMITS, INT_RANGE, feedOf, feedProblem, isFloatElement, missingColumnProblem, type ElementType,
} from './type-rules.js';
import type { ColumnSource, PackedTensor } from './types.js';

export interface BadRows {
  /** Indices of the rows that cannot be scored, ascending. */
  rows: Int32Array;
  /** For each bad row, the index of its reason in `reasons` (the first problem found in the row). */
  reason: Uint16Array;
  /** The distinct reasons, e.g. "null in column f2", "NaN in column f0". */
  reasons: string[];
  /** How many bad rows have each reason. */
  counts: Int32Array;
}

export interface PackedBatch {
  numRows: number;
  /** Indices of the rows that were packed (ascending): gather id and passthrough columns with these. */
  goodRows: Int32Array;
  bad: BadRows;
  /** One per plan input, in plan order; dims [goodRows.length, ...rowDims]. */
  tensors: PackedTensor[];
}

export interface PackOptions {
  /** Names a row in error messages; a row whose id is null cannot be scored ("null id"). */
  idColumn?: string;
  /** spec.model.scoreInfinity: ±Infinity features are scored as they are instead of making an error row. */
  scoreInfinity?: boolean;
  /** False: skip the fast path (pack-dense.ts) and always scan, gather and copy (tests compare the two). */
  dense?: boolean;
}

const MAX_REASONS = 0xfffe;

const isValid = (bitmap: Uint8Array, pos: number): boolean => (bitmap[pos >> 3] & (1 << (pos & 7))) !== 0;

/** Rows marks: 0 = good, r + 1 = bad for reasons[r]. Reasons are registered when first seen. */
class Marks {
  readonly marks: Uint16Array;
  readonly reasons: string[] = [];
  private readonly ids = new Map<string, number>();
  constructor(n: number) { this.marks = new Uint16Array(n); }
  id(reason: string): number {
    let id = this.ids.get(reason);
    if (id === undefined) {
      if (this.reasons.length >= MAX_REASONS) id = MAX_REASONS; // cannot happen with sane specs
      else {
        this.reasons.push(reason);
        id = this.reasons.length;
      }
      this.ids.set(reason, id);
    }
    return id;
  }
}

/** Marks the rows holding a null, a NaN or (unless scored) ±Infinity among values [start, end) of a
 * numeric Data: value k belongs to row `row + (k - start) / perRow`. */
function scanValues(d: Data, start: number, end: number, row: number, perRow: number, m: Marks, column: string, scoreInfinity = false): void {
  const marks = m.marks;
  if (d.nullCount > 0 && d.nullBitmap) {
    const bm = d.nullBitmap;
    for (let k = start; k < end; k++) {
      if (isValid(bm, d.offset + k)) continue;
      const r = row + Math.floor((k - start) / perRow);
      if (marks[r] === 0) marks[r] = m.id(`null in column ${column}`);
    }
  }
  const t = d.type;
  if (!DataType.isFloat(t)) return;
  if (t.precision === Precision.HALF) {
    const a = d.values as Uint16Array;
    for (let k = start; k < end; k++) {
      if ((a[k] & 0x7c00) !== 0x7c00) continue; // finite
      const nan = (a[k] & 0x3ff) !== 0;
      if (!nan && scoreInfinity) continue;
      const r = row + Math.floor((k - start) / perRow);
      if (marks[r] === 0) marks[r] = m.id(nan ? `NaN in column ${column}` : `infinite value in column ${column}`);
    }
    return;
  }
  const a = d.values as Float32Array | Float64Array;
  for (let k = start; k < end; k++) {
    const v = a[k];
    if (v - v === 0) continue; // finite (NaN - NaN and Inf - Inf are NaN)
    // eslint-disable-next-line no-self-compare
    const nan = v !== v;
    if (!nan && scoreInfinity) continue;
    const r = row + Math.floor((k - start) / perRow);
    if (marks[r] === 0) marks[r] = m.id(nan ? `NaN in column ${column}` : `infinite value in column ${column}`);
  }
}

/** Marks the rows whose id is null: an output row must say which input row it scores. */
function scanIds(src: ColumnSource, idColumn: string, m: Marks): void {
  let base = 0;
  for (const d of src.getChild(idColumn)?.data ?? []) {
    if (d.nullCount > 0 && d.nullBitmap) {
      for (let i = 0; i < d.length; i++) if (!isValid(d.nullBitmap, d.offset + i)) m.marks[base + i] = m.id(`null id (column ${idColumn})`);
    }
    base += d.length;
  }
}

const idNulls = (src: ColumnSource, idColumn: string | undefined): number =>
  idColumn === undefined ? 0 : (src.getChild(idColumn)?.nullCount ?? 0);

/** The reason for a value that does not fit an input of type `target`. */
const rangeReason = (target: ElementType, column: string): string => (isFloatElement(target)
  ? `value beyond the ${target} range (±${FLOAT_LIMITS[target].max}) in column ${column}`
  : `value outside the ${target} range (${INT_RANGE[target].join(' to ')}) in column ${column}`);

/** A test for "value k does not fit `target`" on a chunk's values (type-rules.ts says when it is needed). */
function doesNotFit(d: Data, target: ElementType): (k: number) => boolean {
  const s = sourceOf(d);
  if (isFloatElement(target)) {
    // Finite values from the overflow threshold on would round to infinity (infinities stay).
    const limit = FLOAT_LIMITS[target].overflow;
    return (k) => {
      const v = Math.abs(readNum(s, k, ROUND.float64));
      return v >= limit && v !== Infinity;
    };
  }
  if (s.kind === 'i64' && (target === 'int64' || target === 'uint64')) {
    // uint64 -> int64 or int64 -> uint64: the values with the top bit set do not fit.
    const w = s.w;
    return (k) => w[2 * k + HI] < 0;
  }
  // Targets of at most 32 bits: a double is exact enough near their ends.
  const [lo, hi] = INT_RANGE[target].map(Number);
  return (k) => {
    const v = readNum(s, k, ROUND.float64);
    return v < lo || v > hi;
  };
}

/** Refuses a chunk whose type cannot feed the input (the planner checked every file's schema; a file
 * may still differ from its footer's promise, or a shard mix schemas). */
function checkFeed(ip: InputPlan, field: string, column: string, how: 'columns' | 'column', t: DataType): void {
  const problem = feedProblem({ field, column, where: 'the input data', input: ip.name }, t, how, ip.type);
  if (problem) throw new BadInputError(problem);
}

/** Where the rules ask for it, marks the rows whose values among [start, end) of a numeric chunk do
 * not fit the input's type (value k belongs to row `row + (k - start) / perRow`). */
function scanFit(d: Data, start: number, end: number, row: number, perRow: number, m: Marks, target: ElementType, column: string): void {
  if (!feedOf(d.type, target)?.checked) return;
  const out = doesNotFit(d, target);
  const marks = m.marks;
  const nulls = d.nullCount > 0 && d.nullBitmap ? d.nullBitmap : null;
  for (let k = start; k < end; k++) {
    if (nulls && !isValid(nulls, d.offset + k)) continue; // a null's slot holds no value
    if (!out(k)) continue;
    const r = row + Math.floor((k - start) / perRow);
    if (marks[r] === 0) marks[r] = m.id(rangeReason(target, column));
  }
}

function columnData(src: ColumnSource, column: string, input: string): readonly Data[] {
  const v = src.getChild(column);
  if (!v) throw new BadInputError(missingColumnProblem(`spec.model.inputs.${input}`, column, 'the input data', src.schema.fields.map((f) => f.name)));
  return v.data;
}

function rowLabel(src: ColumnSource, row: number, idColumn: string | undefined): string {
  if (idColumn === undefined) return `row ${row}`;
  let id: unknown;
  try { id = src.getChild(idColumn)?.get(row); } catch { id = undefined; }
  return id === undefined || id === null ? `row ${row}` : `row ${row} (${idColumn} ${toJson(id)})`;
}

/** Scans a list column: types, nulls, NaNs, values that do not fit, and lengths. Returns the width
 * (the model's, or the data's). */
function scanList(src: ColumnSource, ip: InputPlan, column: string, m: Marks, idColumn: string | undefined, scoreInfinity: boolean): number | undefined {
  let width = ip.width;
  let firstRow = -1;
  let base = 0;
  for (const d of columnData(src, column, ip.name)) {
    const t = d.type;
    checkFeed(ip, `spec.model.inputs.${ip.name}.column`, column, 'column', t);
    const child = d.children[0];
    const offsets = listOffsets(d);
    const size = DataType.isFixedSizeList(t) ? t.listSize : 0;
    const nullable = d.nullCount > 0 && d.nullBitmap;
    const markNull = (r: number): void => {
      if (m.marks[r] === 0) m.marks[r] = m.id(`null in column ${column}`);
    };
    const wrongWidth = (len: number, r: number): never => {
      throw new BadInputError(firstRow >= 0
        ? `column '${column}' has lists of different lengths: ${width} values at ${rowLabel(src, firstRow, idColumn)}, ${len} at ${rowLabel(src, r, idColumn)}`
        : `model input '${ip.name}' takes ${width} values per row, but column '${column}' has ${len} values at ${rowLabel(src, r, idColumn)}`);
    };
    if (!offsets) {
      // FixedSizeList: one width for the whole chunk; child value k belongs to row k / size.
      if (width === undefined) [width, firstRow] = [size, base];
      else if (size !== width && d.length > 0) wrongWidth(size, base);
      if (nullable) for (let i = 0; i < d.length; i++) if (!isValid(d.nullBitmap, d.offset + i)) markNull(base + i);
      if (size > 0) {
        scanValues(child, 0, d.length * size, base, size, m, column, scoreInfinity);
        scanFit(child, 0, d.length * size, base, size, m, ip.type, column);
      }
      base += d.length;
      continue;
    }
    for (let i = 0; i < d.length; i++) {
      const r = base + i;
      if (nullable && !isValid(d.nullBitmap, d.offset + i)) {
        markNull(r);
        continue;
      }
      const start = offsets[i];
      const len = offsets[i + 1] - start;
      if (width === undefined) [width, firstRow] = [len, r];
      else if (len !== width) wrongWidth(len, r);
      if (len > 0) {
        scanValues(child, start, start + len, r, len, m, column, scoreInfinity);
        scanFit(child, start, start + len, r, len, m, ip.type, column);
      }
    }
    base += d.length;
  }
  return width;
}

function scanColumns(src: ColumnSource, ip: InputPlan, columns: readonly string[], m: Marks, scoreInfinity: boolean): void {
  for (const [j, c] of columns.entries()) {
    let base = 0;
    for (const d of columnData(src, c, ip.name)) {
      checkFeed(ip, `spec.model.inputs.${ip.name}.columns[${j}]`, c, 'columns', d.type);
      scanValues(d, 0, d.length, base, 1, m, c, scoreInfinity);
      scanFit(d, 0, d.length, base, 1, m, ip.type, c);
      base += d.length;
    }
  }
}

function packInput(src: ColumnSource, ip: InputPlan, width: number, goodRows: Int32Array): PackedTensor {
  const rows = goodRows.length;
  const dst = targetFor(ip.type, rows * width);
  const list = ip.source.kind === 'list';
  const columns = ip.source.kind === 'columns' ? ip.source.columns : [ip.source.column];
  const count = list ? width : 1;
  const cursors = columns.map((c) => new ColumnCursor(columnData(src, c, ip.name), list));
  // Blocks of about 64K values: every column of a block is written while the block is in cache.
  const block = Math.max(64, Math.floor(65536 / Math.max(width, 1)));
  for (let g0 = 0; g0 < rows; g0 += block) {
    const g1 = Math.min(rows, g0 + block);
    for (let j = 0; j < cursors.length; j++) copyRows(cursors[j], goodRows, g0, g1, count, dst, width, list ? 0 : j);
  }
  return { name: ip.name, type: ip.type, dims: [rows, ...(ip.rowDims ?? [width])], data: dst.data };
}

/** Packs the mapped inputs of a RecordBatch or Table; see the file comment. */
export function packInputs(src: ColumnSource, plan: ScoringPlan, options: PackOptions = {}): PackedBatch {
  const n = src.numRows;
  // The fast path takes only batches with nothing to mark: no null ids, and finite features (it gives up on any other value).
  const dense = options.dense === false || idNulls(src, options.idColumn) > 0 ? null : packDense(src, plan);
  if (dense) {
    const goodRows = new Int32Array(n);
    for (let i = 0; i < n; i++) goodRows[i] = i;
    const none: BadRows = { rows: new Int32Array(0), reason: new Uint16Array(0), reasons: [], counts: new Int32Array(0) };
    return { numRows: n, goodRows, bad: none, tensors: dense };
  }
  const m = new Marks(n);
  if (options.idColumn !== undefined && idNulls(src, options.idColumn) > 0) scanIds(src, options.idColumn, m);
  const inf = options.scoreInfinity ?? false;
  const widths = plan.inputs.map((ip) =>
    ip.source.kind === 'columns' ? (scanColumns(src, ip, ip.source.columns, m, inf), ip.width) : scanList(src, ip, ip.source.column, m, options.idColumn, inf));
  const marks = m.marks;
  let bad = 0;
  for (let i = 0; i < n; i++) if (marks[i] !== 0) bad++;
  const goodRows = new Int32Array(n - bad);
  const badRows = new Int32Array(bad);
  const reason = new Uint16Array(bad);
  const counts = new Int32Array(m.reasons.length);
  for (let i = 0, g = 0, b = 0; i < n; i++) {
    const k = marks[i];
    if (k === 0) goodRows[g++] = i;
    else {
      badRows[b] = i;
      reason[b++] = k - 1;
      counts[k - 1]++;
    }
  }
  // A List column feeding a symbolic width with no non-null row: nothing to pack, width 0.
  const tensors = plan.inputs.map((ip, idx) => packInput(src, ip, widths[idx] ?? 0, goodRows));
  return { numRows: n, goodRows, bad: { rows: badRows, reason, reasons: m.reasons, counts }, tensors };
}

/** "3 rows cannot be scored: null in column f2 (2 rows, first at row 4); NaN in column f0 (1 row, first at row 9)". */
export function summarizeBadRows(bad: BadRows, label: (row: number) => string = (r) => `row ${r}`): string {
  if (bad.rows.length === 0) return 'every row can be scored';
  const parts = bad.reasons.map((why, k) => {
    const first = bad.rows[bad.reason.indexOf(k)];
    const c = bad.counts[k];
    return `${why} (${c} row${c === 1 ? '' : 's'}, first at ${label(first)})`;
  });
  const n = bad.rows.length;
  return `${n} row${n === 1 ? '' : 's'} cannot be scored: ${parts.join('; ')}`;
}

