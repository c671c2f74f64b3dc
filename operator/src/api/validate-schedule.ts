/**
 * Parsing and validating a BatchInferenceSchedule, as validate.ts does a BatchInferenceJob. Pure.
 * Beyond the schema: the cron schedule and the time zone parse, the jobTemplate's placeholders are
 * known ones, and the template, rendered for a sample time, passes a BatchInferenceJob's semantic
 * checks (so a template whose output would lie inside its input is refused here, not at 2 a.m.).
 * Errors name fields as kubectl does: `spec.schedule`, `spec.jobTemplate.spec.input.uri`.
 */
import { API_GROUP, API_VERSION } from '../../../core/src/contract/job-spec.js';
import {
  BatchInferenceScheduleSpecSchema, BatchInferenceScheduleStatusSchema, SCHEDULE_KIND,
  type BatchInferenceScheduleSpec, type BatchInferenceScheduleStatus,
} from './schedule.js';
import { scheduleSpecOpenApiSchema } from './schedule-crd.js';
import type { SchemaNode } from './crd.js';
import { parseEnvelope, validateSpecSemantics, type BijMetadata, type FieldError } from './validate.js';
import { parseCron } from '../schedule/cron.js';
import { renderTemplateSpec, templatePlaceholderErrors } from '../schedule/placeholders.js';

export interface ParsedBatchInferenceSchedule {
  apiVersion: string;
  kind: string;
  metadata: BijMetadata;
  spec: BatchInferenceScheduleSpec;
  status: BatchInferenceScheduleStatus;
}

export type ScheduleParseResult =
  | { ok: true; schedule: ParsedBatchInferenceSchedule }
  | { ok: false; errors: FieldError[]; status: BatchInferenceScheduleStatus };

const TEMPLATE_SPEC = 'spec.jobTemplate.spec';

/** The status, parsed leniently: `{}` when absent or unreadable (the operator rebuilds it). */
export function parseScheduleStatus(status: unknown): BatchInferenceScheduleStatus {
  const r = BatchInferenceScheduleStatusSchema.safeParse(status ?? {});
  return r.success ? r.data : {};
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

let structural: SchemaNode | undefined;

/** Checks beyond the schema, on a parsed spec. */
export function validateScheduleSemantics(spec: BatchInferenceScheduleSpec): FieldError[] {
  const errors: FieldError[] = [];
  const cron = parseCron(spec.schedule, spec.timeZone);
  if (!cron.ok) errors.push({ field: cron.field, message: cron.message });
  const placeholders = templatePlaceholderErrors(spec.jobTemplate.spec, TEMPLATE_SPEC);
  errors.push(...placeholders);
  if (placeholders.length === 0 && cron.ok) {
    // The template as a job, for a sample time: the job checks (minus "no placeholders"), named in the template.
    const sample = renderTemplateSpec(spec.jobTemplate.spec, new Date(Date.UTC(2000, 0, 1)), spec.timeZone ?? 'UTC');
    for (const e of validateSpecSemantics(sample)) errors.push({ field: e.field.replace(/^spec\./, `${TEMPLATE_SPEC}.`), message: e.message });
  }
  return errors;
}

/** A BatchInferenceSchedule object (from the apiserver, or a file) -> parsed with defaults, or every error found. */
export function parseBatchInferenceSchedule(obj: unknown): ScheduleParseResult {
  if (!isRecord(obj)) return { ok: false, errors: [{ field: '(root)', message: 'not an object' }], status: {} };
  const status = parseScheduleStatus(obj.status);
  const { errors, metadata, spec } = parseEnvelope(obj, {
    kind: SCHEDULE_KIND, schema: BatchInferenceScheduleSpecSchema,
    structural: () => (structural ??= scheduleSpecOpenApiSchema()), semantics: validateScheduleSemantics,
  });
  if (errors.length > 0 || !spec) return { ok: false, errors, status };
  return { ok: true, schedule: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: SCHEDULE_KIND, metadata, spec, status } };
}
