/**
 * Pure: builds output record batches from an input batch, the rows that were scored and the output
 * columns. Id and passthrough columns are zero-copy slices of the input over each contiguous run of
 * scored rows (no per-row gather), and the output columns are sliced to match.
 */
import * as arrow from 'apache-arrow';

/** Contiguous runs [start, end) of ascending row indices. */
export function runsOf(rows: Int32Array): [number, number][] {
  const runs: [number, number][] = [];
  let i = 0;
  while (i < rows.length) {
    const start = rows[i];
    let end = start + 1;
    let j = i + 1;
    while (j < rows.length && rows[j] === end) {
      end++;
      j++;
    }
    runs.push([start, end]);
    i = j;
  }
  return runs;
}

/**
 * `outputs` hold one row per scored row, in the order of `goodRows`. Returns batches whose columns are
 * `keep` (from the input, in order) followed by the output columns.
 */
export function assembleOutput(
  input: arrow.RecordBatch,
  keep: readonly string[],
  goodRows: Int32Array,
  outputs: readonly [string, arrow.Vector][],
): arrow.RecordBatch[] {
  const batches: arrow.RecordBatch[] = [];
  const all = goodRows.length === input.numRows;
  const runs: [number, number][] = all ? (input.numRows > 0 ? [[0, input.numRows]] : []) : runsOf(goodRows);
  let offset = 0;
  for (const [start, end] of runs) {
    const n = end - start;
    const cols: Record<string, arrow.Vector> = {};
    for (const name of keep) {
      const v = input.getChild(name);
      if (!v) throw new Error(`column ${name} missing from the input batch`);
      cols[name] = all ? v : v.slice(start, end);
    }
    for (const [name, v] of outputs) cols[name] = all ? v : v.slice(offset, offset + n);
    offset += n;
    batches.push(...new arrow.Table(cols).batches);
  }
  return batches;
}
