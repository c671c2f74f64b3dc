/**
 * Planning a run: list the input, read every file's footer (ranged reads of the footer only), check
 * that the columns the spec names exist with usable types, split the row groups into shards (pure,
 * split.ts) and freeze the plan under output.uri/_bij/<runId>/plan.json. The first plan written for a
 * run id wins (if-none-match where the store has it, and a re-read otherwise), so every attempt of
 * every shard reads exactly the same rows even if two operators plan at once.
 */
import * as arrow from 'apache-arrow';
import type { Storage } from '../../../worker/src/storage/types.js';
import { mapLimit } from '../../../worker/src/storage/retry.js';
import { readFooter, type ParquetFooter } from '../../../worker/src/reader/index.js';
import type { BatchInferenceJobSpec } from '../api/spec.js';
import {
  BadInputError, parseShardPlan, planUri, toJson, type PlannedFile, type ShardPlan,
} from '../contract/index.js';
import { listInputFiles } from './list-input.js';
import { splitShards } from './split.js';

export interface JobIdentity {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
}

const isNumeric = (t: arrow.DataType): boolean => arrow.DataType.isInt(t) || arrow.DataType.isFloat(t);
const isNumericList = (t: arrow.DataType): boolean =>
  (arrow.DataType.isList(t) || arrow.DataType.isFixedSizeList(t)) && isNumeric((t as arrow.List).children[0].type);
/** An id is one value per row: not a list, struct, map or union (passthrough columns may be any type). */
const isScalar = (t: arrow.DataType): boolean => !(arrow.DataType.isList(t) || arrow.DataType.isLargeList(t)
  || arrow.DataType.isFixedSizeList(t) || arrow.DataType.isStruct(t) || arrow.DataType.isMap(t) || arrow.DataType.isUnion(t));
const SCALAR = 'a scalar type: an id column holds one value per row (an integer, string, binary, decimal, date or timestamp), '
  + 'never a list, struct or map';

/** Pure: the columns a spec needs that a file lacks or cannot feed, as one message per problem. */
export function columnProblems(spec: BatchInferenceJobSpec, footer: Pick<ParquetFooter, 'uri' | 'columns'>): string[] {
  const byName = new Map(footer.columns.map((c) => [c.name, c]));
  const problems: string[] = [];
  const available = () => footer.columns.map((c) => c.name).join(', ');
  const need = (column: string, field: string, check?: (t: arrow.DataType) => boolean, what?: string) => {
    const c = byName.get(column);
    if (!c) problems.push(`${field}: column "${column}" is not in ${footer.uri} (it has: ${available()})`);
    else if (check && !check(c.arrowType)) problems.push(`${field}: column "${column}" in ${footer.uri} is ${c.type}, not ${what}`);
  };
  need(spec.input.idColumn, 'spec.input.idColumn', isScalar, SCALAR);
  for (const [i, col] of (spec.input.passthroughColumns ?? []).entries()) need(col, `spec.input.passthroughColumns[${i}]`);
  for (const [input, m] of Object.entries(spec.model.inputs)) {
    for (const [i, col] of (m.columns ?? []).entries()) need(col, `spec.model.inputs.${input}.columns[${i}]`, isNumeric, 'a numeric column');
    if (m.column) need(m.column, `spec.model.inputs.${input}.column`, isNumericList, 'a list of numbers');
  }
  return problems;
}

export async function planRun(storage: Storage, job: JobIdentity, spec: BatchInferenceJobSpec, runId: string, now: Date): Promise<ShardPlan> {
  const listed = await listInputFiles(storage, spec.input.uri);
  const footers = await mapLimit(listed, 8, (info) => readFooter(storage, info.uri, { info }));
  const problems = footers.flatMap((f) => columnProblems(spec, f));
  if (problems.length > 0) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new BadInputError(problems.slice(0, 5).join('; ') + more);
  }
  const files: PlannedFile[] = footers.map((f) => ({
    uri: f.uri, size: f.size, ...(f.etag ? { etag: f.etag } : {}), rows: f.rows, rowGroupRows: f.rowGroupRows,
  }));
  const split = splitShards(files, spec.targetRowsPerShard !== undefined
    ? { targetRowsPerShard: spec.targetRowsPerShard }
    : { shards: spec.shards ?? 1 });
  if (!split.ok) throw new BadInputError(split.message);
  // Files that hold no rows give a plan with no shards: the run commits an empty output (EmptyInput).
  return {
    kind: 'ShardPlan', runId, createdAt: now.toISOString(), job, spec,
    totalRows: split.totalRows, files, shards: split.shards,
  };
}

/** Writes the plan unless one exists for the run, and returns the plan that is frozen. */
export async function freezePlan(storage: Storage, plan: ShardPlan): Promise<ShardPlan> {
  const uri = planUri(plan.spec.output.uri, plan.runId);
  if (!(await storage.exists(uri))) {
    try {
      await storage.write(uri, toJson(plan) + '\n', { ifNoneMatch: true, contentType: 'application/json' });
      return plan;
    } catch (err) {
      if (!(await storage.exists(uri))) throw err;
      // Another writer won the race: its plan is the frozen one.
    }
  }
  return parseShardPlan(await storage.readText(uri), uri);
}
