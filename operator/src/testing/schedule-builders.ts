/**
 * Fluent builders for the schedule's pure decision (schedule/decide.ts):
 *
 *   const s = makeSchedule().cron('*\/5 * * * *').policy('Replace').lastScheduled('2026-12-05T10:00:00Z').obj();
 *   const input = scheduleInput(s, '2026-12-05T10:07:00Z', run(s, '2026-12-05T10:00:00Z').running());
 */
import type { Phase } from '../api/status.js';
import { BatchInferenceScheduleSpecSchema, type BatchInferenceScheduleSpecInput, type BatchInferenceScheduleStatus, type ConcurrencyPolicy } from '../api/schedule.js';
import { validateScheduleSemantics } from '../api/validate-schedule.js';
import { scheduledJobName } from '../schedule/names.js';
import type { ObservedRun, ScheduleInput, ScheduleObject } from '../schedule/types.js';
import { baseSpec } from './builders.js';

export const baseScheduleSpec = (): BatchInferenceScheduleSpecInput => ({
  schedule: '*/5 * * * *',
  jobTemplate: {
    spec: {
      ...baseSpec(),
      input: { uri: 's3://lake/features/date=${date}/', idColumn: 'id' },
      output: { uri: 's3://scores/churn/date=${date}/' },
    },
  },
});

export class ScheduleBuilder {
  private spec: BatchInferenceScheduleSpecInput = baseScheduleSpec();
  private meta: ScheduleObject['metadata'] = { name: 'nightly', namespace: 'default', uid: 'sched-uid-1', generation: 1, creationTimestamp: '2026-12-05T00:00:00Z' };
  private st: BatchInferenceScheduleStatus = {};

  name(n: string): this { this.meta.name = n; return this; }
  created(t: string): this { this.meta.creationTimestamp = t; return this; }
  deleting(t = '2026-12-05T00:00:00Z'): this { this.meta.deletionTimestamp = t; return this; }
  cron(c: string): this { this.spec.schedule = c; return this; }
  tz(z: string): this { this.spec.timeZone = z; return this; }
  policy(p: ConcurrencyPolicy): this { this.spec.concurrencyPolicy = p; return this; }
  deadline(seconds: number): this { this.spec.startingDeadlineSeconds = seconds; return this; }
  history(succeeded: number, failed: number): this {
    this.spec.successfulJobsHistoryLimit = succeeded;
    this.spec.failedJobsHistoryLimit = failed;
    return this;
  }
  suspend(s = true): this { this.spec.suspend = s; return this; }
  paths(input: string, output: string): this {
    const t = this.spec.jobTemplate.spec;
    this.spec.jobTemplate = { ...this.spec.jobTemplate, spec: { ...t, input: { ...t.input, uri: input }, output: { ...t.output, uri: output } } };
    return this;
  }
  labels(l: Record<string, string>): this {
    this.spec.jobTemplate = { ...this.spec.jobTemplate, metadata: { ...(this.spec.jobTemplate.metadata ?? {}), labels: l } };
    return this;
  }
  lastScheduled(t: string): this { this.st = { ...this.st, lastScheduleTime: t }; return this; }
  status(s: BatchInferenceScheduleStatus): this { this.st = s; return this; }
  obj(): ScheduleObject {
    const parsed = BatchInferenceScheduleSpecSchema.safeParse(this.spec);
    if (!parsed.success) return { metadata: { ...this.meta }, specErrors: [{ field: 'spec', message: parsed.error.message }], status: structuredClone(this.st) };
    return { metadata: { ...this.meta }, spec: parsed.data, specErrors: validateScheduleSemantics(parsed.data), status: structuredClone(this.st) };
  }
}
export const makeSchedule = (): ScheduleBuilder => new ScheduleBuilder();

export class RunBuilder {
  private r: ObservedRun;
  constructor(schedule: ScheduleObject, slot: string) {
    this.r = { name: scheduledJobName(schedule.metadata.name, new Date(slot)), uid: `uid-${slot}`, scheduledTime: new Date(slot), creationTimestamp: slot, phase: 'Running', deleting: false };
  }
  phase(p: Phase | undefined): this { this.r.phase = p; return this; }
  running(): this { return this.phase('Running'); }
  succeeded(completionTime: string): this { this.r.phase = 'Succeeded'; this.r.completionTime = completionTime; return this; }
  failed(completionTime?: string): this { this.r.phase = 'Failed'; this.r.completionTime = completionTime; return this; }
  deleting(): this { this.r.deleting = true; return this; }
  noAnnotation(): this { this.r.scheduledTime = undefined; return this; }
  obj(): ObservedRun { return { ...this.r }; }
}
/** A job the schedule created for `slot` (RFC 3339); Running unless told otherwise. */
export const run = (schedule: ScheduleObject, slot: string): RunBuilder => new RunBuilder(schedule, slot);

export const scheduleInput = (schedule: ScheduleObject, now: string, ...runs: (RunBuilder | ObservedRun)[]): ScheduleInput => ({
  schedule, now: new Date(now), runs: runs.map((r) => (r instanceof RunBuilder ? r.obj() : r)),
});
