/**
 * Run columns (spec.output.addColumns): one value per run, added to every output row, so a reader can
 * filter or delete a run by its id, model or schedule slot without reading any metadata.
 *
 *   runId, jobName, modelVersion, modelSha256   Utf8
 *   scheduledTime                               Timestamp(ms, UTC): the schedule's slot, else the run's start
 *   scheduledDate                               Date32: scheduledTime's calendar date in `timeZone` (UTC)
 *
 * The values come from the frozen plan and the model the attempt loaded, so every attempt of every
 * shard writes the same ones.
 */
import * as arrow from 'apache-arrow';
import type { AddColumn, RunColumnSource } from '../../../core/src/contract/job-spec.js';
import type { ShardPlan } from '../../../core/src/contract/run-plan.js';
import { formatDate, formatTimestamp } from '../../../core/src/contract/partition-values.js';

/** What the sources are read from. */
export interface RunFacts {
  runId: string;
  jobName: string;
  modelVersion?: string;
  modelSha256: string;
  /** RFC 3339: the slot of the schedule that created the job, or the run's start (plan.createdAt). */
  scheduledTime: string;
}

/** The facts of a run from its plan and the sha256 of the model the attempt loaded. */
export function runFacts(plan: ShardPlan, modelSha256: string): RunFacts {
  return {
    runId: plan.runId,
    jobName: plan.job.name,
    modelVersion: plan.spec.model.version,
    modelSha256,
    scheduledTime: plan.job.scheduledTime ?? plan.createdAt,
  };
}

/** One run column: its Arrow type, its value as a partition folder would name it, and its data for n rows. */
export interface RunColumn {
  name: string;
  source: RunColumnSource;
  type: arrow.DataType;
  /** The value as partition-values.ts writes it in a folder name (null: no value). */
  text: string | null;
  /** The column for `rows` rows (sliced from one buffer made for the largest batch so far). */
  data(rows: number): arrow.Data;
}

/** The calendar date (days since the epoch) of an instant in an IANA zone. */
export function zonedDays(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return Math.floor(Date.UTC(get('year'), get('month') - 1, get('day')) / 86_400_000);
}

function constantUtf8(value: string, rows: number): arrow.Data {
  const bytes = new TextEncoder().encode(value);
  const data = new Uint8Array(bytes.length * rows);
  for (let i = 0; i < rows; i++) data.set(bytes, i * bytes.length);
  const offsets = Int32Array.from({ length: rows + 1 }, (_, i) => i * bytes.length);
  return arrow.makeData({ type: new arrow.Utf8(), length: rows, nullCount: 0, valueOffsets: offsets, data });
}

function constantData(type: arrow.DataType, value: string | number | bigint | null, rows: number): arrow.Data {
  if (value === null) return arrow.makeData({ type, length: rows, nullCount: rows, nullBitmap: new Uint8Array((rows + 7) >> 3) } as any);
  if (arrow.DataType.isUtf8(type)) return constantUtf8(value as string, rows);
  if (arrow.DataType.isTimestamp(type)) return arrow.makeData({ type, length: rows, nullCount: 0, data: new BigInt64Array(rows).fill(value as bigint) } as any);
  return arrow.makeData({ type, length: rows, nullCount: 0, data: new Int32Array(rows).fill(value as number) } as any);
}

export function runColumns(addColumns: readonly AddColumn[], facts: RunFacts): RunColumn[] {
  const scheduledMs = Date.parse(facts.scheduledTime);
  if (Number.isNaN(scheduledMs)) throw new Error(`run column: scheduled time ${JSON.stringify(facts.scheduledTime)} is not a time`);
  return addColumns.map((c) => {
    let type: arrow.DataType;
    let value: string | number | bigint | null;
    let text: string | null;
    switch (c.source) {
      case 'scheduledTime':
        type = new arrow.TimestampMillisecond('UTC');
        value = BigInt(scheduledMs);
        text = formatTimestamp(BigInt(scheduledMs), arrow.TimeUnit.MILLISECOND);
        break;
      case 'scheduledDate':
        type = new arrow.DateDay();
        value = zonedDays(scheduledMs, c.timeZone ?? 'UTC');
        text = formatDate(value);
        break;
      default:
        type = new arrow.Utf8();
        value = facts[c.source] ?? null;
        text = value;
    }
    let made: arrow.Data | undefined;
    return {
      name: c.name, source: c.source, type, text,
      data(rows: number): arrow.Data {
        if (!made || made.length < rows) made = constantData(type, value, Math.max(rows, 1024));
        return made.length === rows ? made : made.slice(0, rows);
      },
    };
  });
}

/** `batch` with the run columns appended (after its own columns). */
export function withRunColumns(batch: arrow.RecordBatch, columns: readonly RunColumn[]): arrow.RecordBatch {
  if (columns.length === 0) return batch;
  const fields = [...batch.schema.fields, ...columns.map((c) => new arrow.Field(c.name, c.type, c.text === null))];
  const children = [...batch.data.children, ...columns.map((c) => c.data(batch.numRows))];
  const data = arrow.makeData({ type: new arrow.Struct(fields), length: batch.numRows, nullCount: 0, children });
  return new arrow.RecordBatch(new arrow.Schema(fields, batch.schema.metadata), data);
}
