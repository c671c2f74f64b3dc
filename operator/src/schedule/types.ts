/** Input and output of the schedule's pure decision (decide.ts). */
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import type { BatchInferenceScheduleSpec, BatchInferenceScheduleStatus } from '../api/schedule.js';
import type { Phase } from '../api/status.js';
import type { FieldError } from '../api/validate.js';

/** The schedule as the decision sees it: metadata, the parsed spec (absent when invalid), the stored status. */
export interface ScheduleObject {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    creationTimestamp: string | Date;
    deletionTimestamp?: string | Date;
  };
  spec?: BatchInferenceScheduleSpec;
  /** Why the spec is invalid (parse or semantic errors); empty when it is valid. */
  specErrors: FieldError[];
  status: BatchInferenceScheduleStatus;
}

/** A BatchInferenceJob this schedule created (its controller ownerReference names the schedule). */
export interface ObservedRun {
  name: string;
  uid?: string;
  /** From the scheduled-time annotation; absent if someone removed it. */
  scheduledTime?: Date;
  creationTimestamp?: string | Date;
  phase?: Phase;
  completionTime?: string;
  /** Has a deletionTimestamp: going away, counted neither as active nor as history. */
  deleting: boolean;
}

export interface ScheduleInput {
  schedule: ScheduleObject;
  runs: ObservedRun[];
  now: Date;
}

export interface ScheduleEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** Emitted at most once per schedule and key (see kube/events.ts). */
  key?: string;
  /** About a job this result creates: emitted right after the create, not after the status write
   * (as a BatchInferenceJob's events about its shard Jobs, reconciler/types.ts). */
  withJobs?: boolean;
}

/** A BatchInferenceJob to create, as the API takes it. */
export interface ScheduledJob {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: { apiVersion: string; kind: string; name: string; uid: string; controller: true; blockOwnerDeletion: true }[];
  };
  spec: BatchInferenceJobSpec;
}

export interface ScheduleResult {
  create: ScheduledJob[];
  delete: { name: string; reason: 'HistoryLimit' | 'Replaced' }[];
  status: BatchInferenceScheduleStatus;
  events: ScheduleEvent[];
  /** Reconcile again after this many ms (the next slot); unset: wait for a watch event. */
  requeueAfterMs?: number;
}
