/** Names, labels and annotations of the jobs a schedule creates. Pure. */
import { shortHash } from '../reconciler/names.js';

/** On every BatchInferenceJob a schedule creates: the schedule's name (as a label value). */
export const LABEL_SCHEDULE = 'batchinference.dev/schedule';
/** The slot a job was created for, RFC 3339 in UTC (like CronJob's batch.kubernetes.io/cronjob-scheduled-timestamp). */
export const ANNOTATION_SCHEDULED_TIME = 'batchinference.dev/scheduled-time';

/** The slot a job's annotation names, as the plan records it ({} when absent or not a time): the run
 * columns' scheduledTime (worker/src/writer/run-columns.ts). */
export function scheduledTimeOf(annotations: Record<string, string> | undefined): { scheduledTime?: string } {
  const v = annotations?.[ANNOTATION_SCHEDULED_TIME];
  return v && !Number.isNaN(Date.parse(v)) ? { scheduledTime: new Date(v).toISOString() } : {};
}

/** A job name fits a label value (63 characters), so `-l batchinference.dev/job=<name>` finds its shard Jobs as written. */
export const MAX_SCHEDULED_JOB_NAME = 63;

/** `<schedule>-<minutes since the Unix epoch>`, as CronJob names its Jobs: one name per slot, so a
 * create repeated after a crash is an AlreadyExists, never a second run. A schedule name too long for
 * that is cut and followed by a hash of the whole name. */
export function scheduledJobName(scheduleName: string, scheduledTime: Date): string {
  const suffix = `-${Math.floor(scheduledTime.getTime() / 60_000)}`;
  if (scheduleName.length + suffix.length <= MAX_SCHEDULED_JOB_NAME) return scheduleName + suffix;
  const cut = scheduleName.slice(0, MAX_SCHEDULED_JOB_NAME - suffix.length - 9).replace(/[-.]+$/, '');
  return `${cut}-${shortHash(scheduleName)}${suffix}`;
}
