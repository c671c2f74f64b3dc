/**
 * The BatchInferenceSchedule CustomResourceDefinition, generated from the zod schemas in schedule.ts
 * with the same structural-schema converter as the BatchInferenceJob's (crd.ts). `npm run crd` writes
 * it to crds/ and the Helm chart's crds/; a test fails when a committed copy is stale.
 */
import { stringify } from 'yaml';
import { API_GROUP } from '../../../core/src/contract/job-spec.js';
import { CRD_HEADER, crdFor, openApiSchemaOf, type SchemaNode } from './crd.js';
import {
  BatchInferenceScheduleSpecSchema, BatchInferenceScheduleStatusSchema, SCHEDULE_KIND, SCHEDULE_PLURAL, SCHEDULE_SHORT_NAME,
} from './schedule.js';

export const SCHEDULE_CRD_NAME = `${SCHEDULE_PLURAL}.${API_GROUP}`;
export const SCHEDULE_CRD_FILE = `crds/${SCHEDULE_CRD_NAME}.yaml`;
export const HELM_SCHEDULE_CRD_FILE = `helm/bij-operator/crds/${SCHEDULE_CRD_NAME}.yaml`;

export const scheduleSpecOpenApiSchema = (): SchemaNode => openApiSchemaOf(BatchInferenceScheduleSpecSchema);
export const scheduleStatusOpenApiSchema = (): SchemaNode => openApiSchemaOf(BatchInferenceScheduleStatusSchema);

/** The CustomResourceDefinition object (apiextensions.k8s.io/v1). Columns as `kubectl get cronjob`'s. */
export function buildScheduleCrd(): SchemaNode {
  return crdFor({
    name: SCHEDULE_CRD_NAME, kind: SCHEDULE_KIND, plural: SCHEDULE_PLURAL, shortName: SCHEDULE_SHORT_NAME,
    description: 'BatchInferenceSchedule creates a BatchInferenceJob on a cron schedule, as a CronJob creates Jobs.',
    printerColumns: [
      { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule' },
      { name: 'Timezone', type: 'string', jsonPath: '.spec.timeZone', priority: 1 },
      { name: 'Suspend', type: 'boolean', jsonPath: '.spec.suspend' },
      { name: 'Active', type: 'integer', jsonPath: '.status.activeCount', description: 'Runs of the schedule still running' },
      { name: 'Last Schedule', type: 'date', jsonPath: '.status.lastScheduleTime', description: 'The scheduled time of the newest run started' },
      { name: 'Last Success', type: 'date', jsonPath: '.status.lastSuccessfulTime', description: 'When the newest successful run completed' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    spec: scheduleSpecOpenApiSchema(),
    status: scheduleStatusOpenApiSchema(),
  });
}

export function renderScheduleCrdYaml(): string {
  return CRD_HEADER + stringify(buildScheduleCrd(), { lineWidth: 0, aliasDuplicateObjects: false });
}
