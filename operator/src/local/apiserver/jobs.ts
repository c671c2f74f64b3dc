/** batch/v1 Job: defaulting (SetDefaults_Job), generated selector and labels, validation, immutability. */
import { defaultPodSpec, validatePodSpec } from './pods.js';
import { validateLabels } from './meta.js';
import { defineResource, type ResourceType } from './resource.js';
import type { FieldError, KObject } from './types.js';
import { deepEqual } from './util.js';

const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);

function defaultJob(job: KObject): void {
  const spec = (job.spec ??= {});
  if (spec.completions === undefined && spec.parallelism === undefined) { spec.completions = 1; spec.parallelism = 1; }
  spec.parallelism ??= 1;
  spec.backoffLimit ??= spec.backoffLimitPerIndex !== undefined ? 2147483647 : 6;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= spec.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
  spec.template ??= {};
  const tplLabels = spec.template.metadata?.labels;
  job.metadata ??= {};
  if (tplLabels && Object.keys(job.metadata.labels ?? {}).length === 0) job.metadata.labels = { ...tplLabels };
  defaultPodSpec(spec.template.spec);
}

/** generateSelector: the controller-uid selector and the job-name labels on the pod template. */
function generateSelector(job: KObject): void {
  const spec = job.spec;
  if (spec.manualSelector === true) return;
  const uid = job.metadata!.uid!;
  const name = job.metadata!.name!;
  const tpl = (spec.template ??= {});
  tpl.metadata ??= {};
  tpl.metadata.labels = {
    ...(tpl.metadata.labels ?? {}),
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': name,
    'controller-uid': uid,
    'job-name': name,
  };
  spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
}

function validateJobSpec(spec: KObject): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of ['parallelism', 'completions', 'backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished']) {
    const v = spec[f];
    if (v === undefined) continue;
    if (!isInt(v)) errs.push({ type: 'FieldValueTypeInvalid', field: `spec.${f}`, value: v, detail: 'must be an integer' });
    else if (v < (f === 'activeDeadlineSeconds' ? 1 : 0)) {
      errs.push({ type: 'FieldValueInvalid', field: `spec.${f}`, value: v, detail: f === 'activeDeadlineSeconds' ? 'must be greater than 0' : 'must be greater than or equal to 0' });
    }
  }
  if (!['NonIndexed', 'Indexed'].includes(spec.completionMode)) {
    errs.push({ type: 'FieldValueNotSupported', field: 'spec.completionMode', value: spec.completionMode, detail: 'supported values: "NonIndexed", "Indexed"' });
  }
  errs.push(...validateLabels(spec.template?.metadata?.labels, 'spec.template.labels'));
  const podSpec = spec.template?.spec;
  errs.push(...validatePodSpec(podSpec, 'spec.template.spec').filter((e) => !e.field.endsWith('.restartPolicy')));
  if (podSpec && podSpec.restartPolicy !== 'OnFailure' && podSpec.restartPolicy !== 'Never') {
    errs.push({ type: 'FieldValueNotSupported', field: 'spec.template.spec.restartPolicy', value: podSpec.restartPolicy ?? '', detail: 'supported values: "OnFailure", "Never"' });
  }
  const sel = spec.selector?.matchLabels ?? {};
  const labels = spec.template?.metadata?.labels ?? {};
  if (Object.entries(sel).some(([k, v]) => labels[k] !== v)) {
    errs.push({ type: 'FieldValueInvalid', field: 'spec.template.metadata.labels', value: labels, detail: '`selector` does not match template `labels`' });
  }
  return errs;
}

const same = deepEqual;

function validateJobUpdate(job: KObject, old: KObject): FieldError[] {
  const errs: FieldError[] = [];
  if (!same(job.spec?.selector, old.spec?.selector)) errs.push({ type: 'FieldValueInvalid', field: 'spec.selector', value: 'object', detail: 'field is immutable' });
  if (job.spec?.completionMode !== old.spec?.completionMode) errs.push({ type: 'FieldValueInvalid', field: 'spec.completionMode', value: job.spec?.completionMode, detail: 'field is immutable' });
  // The template may change only while the job is suspended (mutable scheduling directives), simplified.
  if (!old.spec?.suspend && !same(job.spec?.template, old.spec?.template)) {
    errs.push({ type: 'FieldValueInvalid', field: 'spec.template', value: 'object', detail: 'field is immutable' });
  }
  return errs;
}

export const jobs: ResourceType = defineResource({
  group: 'batch', plural: 'jobs', kind: 'Job', categories: ['all'],
  statusSubresource: true, tracksGeneration: true,
  /** jobStrategy.DefaultGarbageCollectionPolicy: OrphanDependents for batch/v1, for backwards compatibility. */
  defaultPropagation: (version) => (version === 'v1' ? 'Orphan' : 'Background'),
  fieldSelectors: { 'status.successful': (o) => String(o.status?.succeeded ?? 0) },
  prepareForCreate(obj) { obj.status = {}; },
  admit(obj, old, ctx) {
    if (ctx.subresource) return { errors: [], warnings: [] };
    if (ctx.op === 'create') { defaultJob(obj); generateSelector(obj); } else defaultPodSpec(obj.spec?.template?.spec);
    const errors = validateJobSpec(obj.spec ?? {});
    if (old && ctx.op === 'update') errors.push(...validateJobUpdate(obj, old));
    return { errors, warnings: [] };
  },
});
