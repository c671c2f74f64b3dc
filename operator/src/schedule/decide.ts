/**
 * The schedule's decision: (schedule, now, the jobs it created) -> {create, delete, status, events,
 * requeueAfter}. Pure: no I/O, no clock. Kubernetes CronJob's semantics (pkg/controller/cronjob,
 * controller v2), with BatchInferenceJobs for Jobs:
 *
 * - The slots not yet started are those after `status.lastScheduleTime` (or, before the first run,
 *   the schedule's creation) up to now. Only the newest of them is started, late if need be; older
 *   missed ones are dropped. With `startingDeadlineSeconds`, slots older than now minus the deadline
 *   are not started at all.
 * - More than 100 missed slots (an operator down for long, a clock off): a Warning TooManyMissedTimes,
 *   and the newest slot still starts.
 * - Forbid: while a run is active the slot is not started (Normal JobAlreadyActive); it stays due, so
 *   it starts when the active run ends, if still within the deadline. Replace: the active runs are
 *   deleted and the new one created. Allow: runs overlap.
 * - `suspend`: no new runs; active ones go on.
 * - Each slot has one job name (names.ts): a job that already exists for the slot is taken as
 *   started (a create whose status write was lost), never made twice.
 * - History: beyond `successfulJobsHistoryLimit` succeeded and `failedJobsHistoryLimit` failed jobs,
 *   the oldest are deleted (by scheduled time).
 * - `status.lastSuccessfulTime` is the newest completion time of a succeeded job.
 * - Requeue at the next slot (plus 100 ms, as CronJob), or in an hour if that is sooner.
 */
import { API_GROUP, API_VERSION, KIND } from '../../../core/src/contract/job-spec.js';
import type { BatchInferenceScheduleStatus, JobReference } from '../api/schedule.js';
import { isoSeconds } from '../reconciler/names.js';
import { buildScheduledJob } from './build-job.js';
import { parseCron, type ParsedCron } from './cron.js';
import { scheduledJobName } from './names.js';
import type { ObservedRun, ScheduleEvent, ScheduleInput, ScheduleResult } from './types.js';

/** CronJob's limit on missed slots before it warns (and its reason to look no further back). */
export const TOO_MANY_MISSED = 100;
/** Requeue this long after the next slot, as CronJob does (clock skew). */
export const NEXT_SCHEDULE_DELTA_MS = 100;
/** The longest requeue asked for: a monthly or yearly slot is further off than a timer can wait
 * (Node fires a setTimeout of more than 2^31 - 1 ms at once), so the decision is made again hourly. */
export const MAX_REQUEUE_MS = 3_600_000;

const finished = (r: ObservedRun) => r.phase === 'Succeeded' || r.phase === 'Failed';
const ms = (t: string | Date | undefined): number => (t === undefined ? 0 : new Date(t).getTime());
/** When a run was scheduled: its annotation, else its creation. */
const slotOf = (r: ObservedRun): number => r.scheduledTime?.getTime() ?? ms(r.creationTimestamp);

/** Slots in (after, atOrBefore], counted up to `cap + 1` (more is "too many"; no need to count on). */
function countSlots(cron: ParsedCron, after: Date, atOrBefore: Date, cap: number): number {
  let n = 0;
  for (let t = cron.next(after); t !== undefined && t.getTime() <= atOrBefore.getTime() && n <= cap; t = cron.next(t)) n++;
  return n;
}

function jobRef(namespace: string, r: { name: string; uid?: string }): JobReference {
  return { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, name: r.name, namespace, ...(r.uid ? { uid: r.uid } : {}) };
}

/** The oldest finished runs beyond the limit. */
function beyondLimit(runs: ObservedRun[], limit: number): ObservedRun[] {
  const sorted = [...runs].sort((a, b) => slotOf(a) - slotOf(b) || a.name.localeCompare(b.name));
  return sorted.slice(0, Math.max(0, sorted.length - limit));
}

export function decideSchedule(input: ScheduleInput): ScheduleResult {
  const { schedule, now } = input;
  const { metadata: meta, spec } = schedule;
  const runs = input.runs.filter((r) => !r.deleting);
  let active = runs.filter((r) => !finished(r));
  const events: ScheduleEvent[] = [];
  const result: ScheduleResult = { create: [], delete: [], status: {}, events };

  const status = (): BatchInferenceScheduleStatus => {
    const prev = schedule.status;
    const lastSuccess = Math.max(ms(prev.lastSuccessfulTime), ...runs.filter((r) => r.phase === 'Succeeded').map((r) => ms(r.completionTime)));
    const refs = active.map((r) => jobRef(meta.namespace, r)).sort((a, b) => a.name.localeCompare(b.name));
    return {
      ...(prev.lastScheduleTime ? { lastScheduleTime: prev.lastScheduleTime } : {}),
      ...(lastSuccess > 0 ? { lastSuccessfulTime: isoSeconds(lastSuccess) } : {}),
      active: refs,
      activeCount: refs.length,
    };
  };

  if (meta.deletionTimestamp) {
    // The garbage collector deletes the jobs (ownerReferences); nothing to start or keep.
    result.status = status();
    return result;
  }

  // History: the oldest finished jobs beyond the limits go, whatever else the schedule says.
  if (spec) {
    const succeeded = runs.filter((r) => r.phase === 'Succeeded');
    const failed = runs.filter((r) => r.phase === 'Failed');
    for (const [list, limit, what] of [[succeeded, spec.successfulJobsHistoryLimit, 'succeeded'], [failed, spec.failedJobsHistoryLimit, 'failed']] as const) {
      for (const r of beyondLimit(list, limit)) {
        result.delete.push({ name: r.name, reason: 'HistoryLimit' });
        events.push({ type: 'Normal', reason: 'SuccessfulDelete', key: `delete/${r.name}`, message: `Deleted job ${r.name}: successfulJobsHistoryLimit/failedJobsHistoryLimit keeps the newest ${limit} ${what}` });
      }
    }
  }

  if (!spec || schedule.specErrors.length > 0) {
    const first = schedule.specErrors[0];
    const what = first ? `${first.field}: ${first.message}` : 'the spec does not parse';
    events.push({ type: 'Warning', reason: 'InvalidSchedule', key: `invalid/${meta.generation ?? 0}`, message: `Not scheduling: ${what}` });
    result.status = status();
    return result;
  }
  const cron = parseCron(spec.schedule, spec.timeZone);
  if (!cron.ok) throw new Error(`${cron.field}: ${cron.message}`); // validated with the spec: not reached

  if (spec.suspend) {
    result.status = status();
    return result;
  }

  const next = cron.cron.next(now);
  const requeue = next ? Math.min(MAX_REQUEUE_MS, next.getTime() - now.getTime() + NEXT_SCHEDULE_DELTA_MS) : undefined;
  if (requeue !== undefined) result.requeueAfterMs = requeue;

  let earliest = schedule.status.lastScheduleTime ? new Date(schedule.status.lastScheduleTime) : new Date(meta.creationTimestamp);
  if (spec.startingDeadlineSeconds !== undefined) {
    const deadline = new Date(now.getTime() - spec.startingDeadlineSeconds * 1000);
    if (deadline > earliest) earliest = deadline;
  }
  const slot = cron.cron.latestAtOrBefore(now);
  if (!slot || slot.getTime() <= earliest.getTime()) {
    result.status = status();
    return result;
  }
  const when = `${isoSeconds(slot)}${spec.timeZone && spec.timeZone !== 'UTC' ? ` (${spec.timeZone})` : ''}`;
  if (countSlots(cron.cron, earliest, now, TOO_MANY_MISSED) > TOO_MANY_MISSED) {
    events.push({
      type: 'Warning', reason: 'TooManyMissedTimes', key: `missed/${isoSeconds(slot)}`,
      message: `More than ${TOO_MANY_MISSED} missed start times; starting only the newest, ${when}. Set or decrease spec.startingDeadlineSeconds, or check clock skew`,
    });
  }

  const name = scheduledJobName(meta.name, slot);
  const lastScheduleTime = isoSeconds(slot);
  if (input.runs.some((r) => r.name === name)) {
    // Created already (the status write after it was lost, or a slow cache): taken as started.
    result.status = { ...status(), lastScheduleTime };
    return result;
  }

  if (active.length > 0 && spec.concurrencyPolicy === 'Forbid') {
    events.push({
      type: 'Normal', reason: 'JobAlreadyActive', key: `forbid/${lastScheduleTime}`,
      message: `Not starting the run for ${when}: ${active.map((r) => r.name).join(', ')} still running (concurrencyPolicy Forbid); it starts when that ends${spec.startingDeadlineSeconds !== undefined ? `, if within ${spec.startingDeadlineSeconds}s of the slot` : ''}`,
    });
    result.status = status();
    return result;
  }
  if (active.length > 0 && spec.concurrencyPolicy === 'Replace') {
    for (const r of active) {
      result.delete.push({ name: r.name, reason: 'Replaced' });
      events.push({ type: 'Normal', reason: 'SuccessfulDelete', key: `replace/${r.name}`, message: `Deleted job ${r.name}: replaced by ${name}, the run for ${when} (concurrencyPolicy Replace)` });
    }
    active = [];
  }

  const job = buildScheduledJob(meta, spec, slot);
  result.create.push(job);
  events.push({ type: 'Normal', reason: 'SuccessfulCreate', key: `create/${name}`, withJobs: true, message: `Created job ${name}, the run for ${when}` });
  active = [...active, { name, deleting: false }];
  result.status = { ...status(), lastScheduleTime };
  return result;
}

/** For the controller: the decision's status with the uids of the jobs it created filled in. */
export function withCreatedUids(status: BatchInferenceScheduleStatus, uids: Map<string, string>): BatchInferenceScheduleStatus {
  if (!status.active) return status;
  return { ...status, active: status.active.map((r) => (r.uid || !uids.has(r.name) ? r : { ...r, uid: uids.get(r.name) })) };
}
