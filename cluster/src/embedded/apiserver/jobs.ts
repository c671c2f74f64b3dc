/** batch/v1 Job: defaulting (SetDefaults_Job) and the generated selector and labels, which the local runner relies on. */
import { defaultPodSpec } from './pods.js';
import { defineResource, type ResourceType } from './resource.js';
import type { KObject } from './types.js';

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

export const jobs: ResourceType = defineResource({
  group: 'batch', plural: 'jobs', kind: 'Job',
  statusSubresource: true, tracksGeneration: true,
  prepareForCreate(obj) { obj.status = {}; },
  admit(obj, _old, ctx) {
    if (ctx.subresource) return;
    if (ctx.op === 'create') { defaultJob(obj); generateSelector(obj); } else defaultPodSpec(obj.spec?.template?.spec);
  },
});
