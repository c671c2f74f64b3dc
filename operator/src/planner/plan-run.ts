/**
 * Planning a run: list the input, read every file's footer (ranged reads of the footer only) and the
 * model's inputs and outputs (model-info.ts: no onnxruntime, and no weights read), check that the
 * columns the spec names exist and that the mapping fits the model and every file's columns (the
 * rules the worker applies too, tensors/scoring-plan.ts and type-rules.ts), split the row groups into shards (pure,
 * split.ts) and freeze the plan under output.uri/_bij/<runId>/plan.json. The first plan written for a
 * run id wins (if-none-match where the store has it, and a re-read otherwise), so every attempt of
 * every shard reads exactly the same rows even if two operators plan at once.
 */
import * as arrow from 'apache-arrow';
import type { Storage } from '../../../core/src/storage/types.js';
import { mapLimit } from '../../../core/src/storage/retry.js';
import { AlreadyExistsError } from '../../../core/src/storage/backend-errors.js';
import { readFooter, type ParquetFooter } from '../../../core/src/parquet/footer.js';
import { checkScoring } from '../../../core/src/tensors/scoring-plan.js';
import { missingColumnProblem } from '../../../core/src/tensors/type-rules.js';
import { partitionTypeProblem } from '../../../core/src/contract/partition-values.js';
import type { ModelMeta } from '../../../core/src/tensors/types.js';
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import {
  BadInputError, parseShardPlan, planUri, toJson, type PlannedFile, type ShardPlan,
} from '../../../core/src/contract/index.js';
import { listInputFiles } from './list-input.js';
import { splitShards } from './split.js';
import { checkInputOutputApart } from './overlap.js';
import { inspectModel } from './model.js';
import { readBaseline } from './baseline.js';
import { copiedColumnDisagreements } from './column-agreement.js';
import { awaitedLater } from '../../../core/src/contract/settle.js';

export interface JobIdentity {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
}

/** An id is one value per row: not a list, struct, map or union (passthrough columns may be any type). */
const isScalar = (t: arrow.DataType): boolean => !(arrow.DataType.isList(t) || arrow.DataType.isLargeList(t)
  || arrow.DataType.isFixedSizeList(t) || arrow.DataType.isStruct(t) || arrow.DataType.isMap(t) || arrow.DataType.isUnion(t));
const SCALAR = 'a scalar type: an id column holds one value per row (an integer, string, binary, decimal, date or timestamp), '
  + 'never a list, struct or map';

/** Pure: the id and passthrough columns a file lacks or cannot copy, as one message per problem (the
 * model's input columns: mappingProblems). */
export function columnProblems(spec: BatchInferenceJobSpec, footer: Pick<ParquetFooter, 'uri' | 'columns'>): string[] {
  const byName = new Map(footer.columns.map((c) => [c.name, c]));
  const problems: string[] = [];
  const need = (column: string, field: string, check?: (t: arrow.DataType) => boolean, what?: string) => {
    const c = byName.get(column);
    if (!c) problems.push(missingColumnProblem(field, column, footer.uri, footer.columns.map((x) => x.name)));
    else if (check && !check(c.arrowType)) problems.push(`${field}: column "${column}" in ${footer.uri} is ${c.type}, not ${what}`);
  };
  need(spec.input.idColumn, 'spec.input.idColumn', isScalar, SCALAR);
  for (const [i, col] of (spec.input.passthroughColumns ?? []).entries()) need(col, `spec.input.passthroughColumns[${i}]`);
  // Partition columns that are passthrough columns (added run columns have types of their own).
  const passthrough = new Set(spec.input.passthroughColumns ?? []);
  for (const [i, col] of (spec.output.partitionBy ?? []).entries()) {
    const c = byName.get(col);
    const why = c && passthrough.has(col) ? partitionTypeProblem(c.arrowType) : undefined;
    if (why) problems.push(`spec.output.partitionBy[${i}]: column "${col}" in ${footer.uri} is ${c!.type}: ${why}`);
  }
  return problems;
}

/** The spec as the plan keeps it: without spec.worker.env. The plan stays in the output (for audit),
 * readable by whoever reads the scores; env values may be credentials, and workers get their env from
 * the pod, never from the plan. */
export const withoutEnv = (spec: BatchInferenceJobSpec): BatchInferenceJobSpec => {
  const { env: _env, ...worker } = spec.worker;
  return { ...spec, worker };
};

/**
 * Pure: what in spec.model does not fit the model, or a file's columns: names the model lacks,
 * unsupported element types, widths, missing columns and column types that cannot feed their input
 * (a float column into an integer input, say). The worker checks the same with the same code.
 */
export function mappingProblems(spec: BatchInferenceJobSpec, footer: Pick<ParquetFooter, 'uri' | 'columns'>, model: ModelMeta): string[] {
  const schema = new arrow.Schema(footer.columns.map((c) => new arrow.Field(c.name, c.arrowType, c.nullable)));
  return checkScoring(spec.model, model, schema, footer.uri).problems;
}

export async function planRun(storage: Storage, job: JobIdentity, spec: BatchInferenceJobSpec, runId: string, now: Date): Promise<ShardPlan> {
  await checkInputOutputApart(spec.input.uri, spec.output.uri);
  const inspected = inspectModel(storage, spec.model.uri, spec.model.sha256);
  awaitedLater(inspected); // awaited below, beside the footers
  const listed = await listInputFiles(storage, spec.input.uri);
  const [footers, { frozen, meta: model }, monitoring] = await Promise.all([
    mapLimit(listed, 8, (info) => readFooter(storage, info.uri, { info })),
    inspected,
    readBaseline(storage, spec),
  ]);
  // Problems of the model alone come once, not once per file.
  const problems = [...new Set(footers.flatMap((f) => [...columnProblems(spec, f), ...mappingProblems(spec, f, model)]))];
  problems.push(...copiedColumnDisagreements(spec, footers));
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
    kind: 'ShardPlan', runId, createdAt: now.toISOString(), job, spec: withoutEnv(spec), model: frozen,
    totalRows: split.totalRows, ...(monitoring ? { monitoring } : {}), files, shards: split.shards,
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
      // Another writer won the race (the server said so, or the plan is there after an error that
      // leaves it unknown whether this write landed): the stored plan is the frozen one.
      if (!(err instanceof AlreadyExistsError) && !(await storage.exists(uri))) throw err;
    }
  }
  return parseShardPlan(await storage.readText(uri), uri);
}
