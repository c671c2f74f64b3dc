/**
 * Splits the input's row groups into shards. Pure: the planner lists the input and reads the Parquet
 * footers, then calls `splitShards` with the files in plan order.
 *
 * Rules:
 * - A shard is a contiguous run of row groups in (file, row group) order; it may span files (one
 *   ShardRange per file it touches) but never splits a row group. Every row group is assigned to
 *   exactly one shard, in order, including row groups with zero rows (so the plan accounts for the
 *   whole input); files without row groups get no range.
 * - Shards are balanced by rows: cut k (of n - 1) goes at the row-group boundary whose cumulative row
 *   count is closest to k * total / n, constrained so that every shard holds at least one row. Each
 *   shard's row count is then within one row group (the largest) of the ideal total / n.
 * - Every shard has at least one row. So when more shards are asked for than there are row groups
 *   with rows, the result has one shard per non-empty row group (fewer than asked). Callers read
 *   the shard count from the result, never from the request.
 * - `targetRowsPerShard: t` means n = ceil(total / t) shards, then the same rules.
 * - No rows at all (files without row groups, or whose row groups are empty) is a plan with no
 *   shards: the run commits an empty output at once (an empty daily partition is a normal night).
 */
import type { PlannedFile, PlannedShard, ShardRange } from '../../../core/src/contract/run-plan.js';

export type SplitBy = { shards: number } | { targetRowsPerShard: number };

export type SplitResult =
  | { ok: true; shards: PlannedShard[]; totalRows: number }
  | { ok: false; reason: 'invalid'; message: string };

/** A run of row groups that holds at least one row: one non-empty row group plus the empty ones
 * that precede it (and, for the last unit, the empty ones that trail it). Cuts fall between units. */
interface Unit {
  /** Index into the flattened row-group sequence, [start, end). */
  start: number;
  end: number;
  rows: number;
}

export function splitShards(files: readonly Pick<PlannedFile, 'uri' | 'rows' | 'rowGroupRows'>[], by: SplitBy): SplitResult {
  // Flatten the row groups: groupFile[g], groupIndex[g], groupRows[g].
  const groupFile: number[] = [];
  const groupIndex: number[] = [];
  const groupRows: number[] = [];
  let total = 0;
  for (let f = 0; f < files.length; f++) {
    const file = files[f];
    let fileRows = 0;
    for (let i = 0; i < file.rowGroupRows.length; i++) {
      const r = file.rowGroupRows[i];
      if (!Number.isSafeInteger(r) || r < 0) {
        return { ok: false, reason: 'invalid', message: `${file.uri}: row group ${i} has an invalid row count ${r}` };
      }
      groupFile.push(f);
      groupIndex.push(i);
      groupRows.push(r);
      fileRows += r;
    }
    if (fileRows !== file.rows) {
      return { ok: false, reason: 'invalid', message: `${file.uri}: row groups hold ${fileRows} rows, the footer says ${file.rows}` };
    }
    total += fileRows;
  }
  let requested: number;
  if ('shards' in by) {
    if (!Number.isSafeInteger(by.shards) || by.shards < 1) return { ok: false, reason: 'invalid', message: `shards must be a positive integer, got ${by.shards}` };
    requested = by.shards;
  } else {
    const t = by.targetRowsPerShard;
    if (!Number.isSafeInteger(t) || t < 1) return { ok: false, reason: 'invalid', message: `targetRowsPerShard must be a positive integer, got ${t}` };
    requested = Math.ceil(total / t);
  }
  if (total === 0) return { ok: true, shards: [], totalRows: 0 };

  // Units: each ends right after a non-empty row group; trailing empty groups join the last unit.
  const units: Unit[] = [];
  let start = 0;
  for (let g = 0; g < groupRows.length; g++) {
    if (groupRows[g] > 0) {
      units.push({ start, end: g + 1, rows: groupRows[g] });
      start = g + 1;
    }
  }
  units[units.length - 1].end = groupRows.length;

  const n = Math.min(requested, units.length);
  // cum[u] = rows in units [0, u). A cut c means "a shard ends before unit c".
  const cum = new Array<number>(units.length + 1);
  cum[0] = 0;
  for (let u = 0; u < units.length; u++) cum[u + 1] = cum[u] + units[u].rows;

  const cuts: number[] = [0];
  let c = 0;
  for (let k = 1; k < n; k++) {
    const target = (k * total) / n;
    const lo = cuts[k - 1] + 1; // each shard gets at least one unit
    const hi = units.length - (n - k); // ... and leaves one for each shard after it
    // Advance while the next boundary is at least as close to the target (cum is increasing).
    c = Math.max(c, lo);
    while (c < hi && Math.abs(cum[c + 1] - target) <= Math.abs(cum[c] - target)) c++;
    cuts.push(Math.min(c, hi));
  }
  cuts.push(units.length);

  const shards: PlannedShard[] = [];
  for (let k = 0; k < n; k++) {
    const gStart = units[cuts[k]].start;
    const gEnd = units[cuts[k + 1] - 1].end;
    const ranges: ShardRange[] = [];
    for (let g = gStart; g < gEnd; g++) {
      const last = ranges[ranges.length - 1];
      if (last && last.file === groupFile[g]) {
        last.rowGroupEnd = groupIndex[g] + 1;
        last.rows += groupRows[g];
      } else {
        ranges.push({ file: groupFile[g], rowGroupStart: groupIndex[g], rowGroupEnd: groupIndex[g] + 1, rows: groupRows[g] });
      }
    }
    shards.push({ index: k, rows: cum[cuts[k + 1]] - cum[cuts[k]], ranges });
  }
  return { ok: true, shards, totalRows: total };
}
