/** The BatchInferenceJob a schedule creates for one slot: a pure constructor with a deterministic name. */
import { API_GROUP, API_VERSION, KIND } from '../../../core/src/contract/job-spec.js';
import { SCHEDULE_KIND, type BatchInferenceScheduleSpec } from '../api/schedule.js';
import { isoSeconds, labelValue } from '../reconciler/names.js';
import { renderTemplateSpec } from './placeholders.js';
import { ANNOTATION_SCHEDULED_TIME, LABEL_SCHEDULE, scheduledJobName } from './names.js';
import type { ScheduledJob, ScheduleObject } from './types.js';

export function buildScheduledJob(schedule: ScheduleObject['metadata'], spec: BatchInferenceScheduleSpec, scheduledTime: Date): ScheduledJob {
  const template = spec.jobTemplate;
  const apiVersion = `${API_GROUP}/${API_VERSION}`;
  return {
    apiVersion,
    kind: KIND,
    metadata: {
      name: scheduledJobName(schedule.name, scheduledTime),
      namespace: schedule.namespace,
      labels: { ...(template.metadata?.labels ?? {}), [LABEL_SCHEDULE]: labelValue(schedule.name) },
      annotations: { ...(template.metadata?.annotations ?? {}), [ANNOTATION_SCHEDULED_TIME]: isoSeconds(scheduledTime) },
      ownerReferences: [{ apiVersion, kind: SCHEDULE_KIND, name: schedule.name, uid: schedule.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: renderTemplateSpec(template.spec, scheduledTime, spec.timeZone ?? 'UTC'),
  };
}
