/**
 * The BatchInferenceSchedule: a BatchInferenceJob on a cron schedule, after Kubernetes' CronJob. Its
 * spec and status are the single source of truth for its CRD (schedule-crd.ts) and its job files'
 * JSON Schema, as spec.ts is for the BatchInferenceJob.
 */
import { z } from 'zod';
import { BatchInferenceJobSpecSchema } from '../../../core/src/contract/job-spec.js';

export const SCHEDULE_KIND = 'BatchInferenceSchedule';
export const SCHEDULE_PLURAL = 'batchinferenceschedules';
export const SCHEDULE_SHORT_NAME = 'bijs';

export const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace'] as const;
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

export const JobTemplateSchema = z
  .object({
    metadata: z
      .object({
        labels: z.record(z.string(), z.string()).optional().describe('Copied to every BatchInferenceJob the schedule creates.'),
        annotations: z.record(z.string(), z.string()).optional().describe('Copied to every BatchInferenceJob the schedule creates.'),
      })
      .strict()
      .optional(),
    spec: BatchInferenceJobSpecSchema.describe(
      'The BatchInferenceJob spec. Strings under model, input and output may hold placeholders for the scheduled time: ${date}, ${datetime}, ${year}, ${month}, ${day}, ${hour}, ${minute}, each optionally shifted by whole days (${date-1d}); the schedule\'s timeZone decides the date.',
    ),
  })
  .strict();

export const BatchInferenceScheduleSpecSchema = z
  .object({
    schedule: z.string().min(1)
      .describe('Cron schedule, 5 fields (minute hour day-of-month month day-of-week), or @hourly, @daily, @weekly, @monthly, @yearly.'),
    timeZone: z.string().min(1).optional()
      .describe('IANA time zone the schedule and the path placeholders are read in, e.g. Europe/Berlin. Default UTC.'),
    jobTemplate: JobTemplateSchema,
    concurrencyPolicy: z.enum(CONCURRENCY_POLICIES).default('Forbid')
      .describe('Allow: runs may overlap. Forbid: skip a slot while a run is active. Replace: delete the active run and start the new one.'),
    startingDeadlineSeconds: z.number().int().min(0).optional()
      .describe('A slot missed by more than this many seconds is not started (counted as missed).'),
    successfulJobsHistoryLimit: z.number().int().min(0).default(3)
      .describe('Succeeded BatchInferenceJobs to keep; older ones are deleted (their committed output stays).'),
    failedJobsHistoryLimit: z.number().int().min(0).default(1)
      .describe('Failed BatchInferenceJobs to keep; older ones are deleted.'),
    suspend: z.boolean().default(false)
      .describe('Start no new runs; runs already started go on.'),
  })
  .strict();

export type BatchInferenceScheduleSpec = z.infer<typeof BatchInferenceScheduleSpecSchema>;
export type BatchInferenceScheduleSpecInput = z.input<typeof BatchInferenceScheduleSpecSchema>;

/** core/v1 ObjectReference, the fields the schedule fills. */
export const JobReferenceSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
});
export type JobReference = z.infer<typeof JobReferenceSchema>;

export const BatchInferenceScheduleStatusSchema = z.object({
  lastScheduleTime: z.string().optional().describe('The scheduled time of the newest run started.'),
  lastSuccessfulTime: z.string().optional().describe('When the newest run that succeeded completed.'),
  active: z.array(JobReferenceSchema).optional().describe('The BatchInferenceJobs of this schedule still running.'),
  activeCount: z.number().int().optional().describe('How many runs are active (the ACTIVE printer column).'),
});
export type BatchInferenceScheduleStatus = z.infer<typeof BatchInferenceScheduleStatusSchema>;
