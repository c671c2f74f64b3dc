/** Pod defaulting, validation and graceful deletion, following the core/v1 strategy (a practical subset). */
import { validateLabels } from './meta.js';
import { defineResource, type ResourceType } from './resource.js';
import type { FieldError, KObject } from './types.js';
import { deepEqual } from './util.js';

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];

function defaultContainer(c: KObject): void {
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
    const tag = /:([^:/@]+)$/.exec(c.image)?.[1];
    c.imagePullPolicy = !c.image.includes('@') && (!tag || tag === 'latest') ? 'Always' : 'IfNotPresent';
  }
  c.resources ??= {};
}

/** SetDefaults_PodSpec and friends, for pods and for pod templates (Jobs). */
export function defaultPodSpec(spec: KObject | undefined): void {
  if (!spec) return;
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) if (c && typeof c === 'object') defaultContainer(c);
}

export function validatePodSpec(spec: KObject | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec || typeof spec !== 'object') return [{ type: 'FieldValueRequired', field: path }];
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    errs.push({ type: 'FieldValueRequired', field: `${path}.containers` });
  } else {
    const seen = new Set<string>();
    containers.forEach((c: KObject, i: number) => {
      const f = `${path}.containers[${i}]`;
      if (!c?.name) errs.push({ type: 'FieldValueRequired', field: `${f}.name` });
      else if (seen.has(c.name)) errs.push({ type: 'FieldValueDuplicate', field: `${f}.name`, value: c.name });
      else seen.add(c.name);
      if (!c?.image) errs.push({ type: 'FieldValueRequired', field: `${f}.image` });
    });
  }
  if (!RESTART_POLICIES.includes(spec.restartPolicy)) {
    errs.push({ type: 'FieldValueNotSupported', field: `${path}.restartPolicy`, value: spec.restartPolicy ?? '',
      detail: `supported values: ${RESTART_POLICIES.map((p) => `"${p}"`).join(', ')}` });
  }
  return errs;
}

/** The fields a pod update may change (ValidatePodUpdate); everything else in spec is immutable. */
function mutableView(spec: KObject): KObject {
  const copy = structuredClone(spec);
  for (const c of [...(copy.containers ?? []), ...(copy.initContainers ?? [])]) delete c.image;
  delete copy.activeDeadlineSeconds;
  delete copy.tolerations;
  delete copy.terminationGracePeriodSeconds;
  return copy;
}

function qosClass(spec: KObject): string {
  const cs: KObject[] = spec.containers ?? [];
  const any = cs.some((c) => Object.keys(c.resources?.requests ?? {}).length || Object.keys(c.resources?.limits ?? {}).length);
  if (!any) return 'BestEffort';
  const guaranteed = cs.every((c) => ['cpu', 'memory'].every((r) => c.resources?.limits?.[r] !== undefined
    && (c.resources?.requests?.[r] === undefined || c.resources.requests[r] === c.resources.limits[r])));
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export const pods: ResourceType = defineResource({
  group: '', plural: 'pods', kind: 'Pod', shortNames: ['po'], categories: ['all'],
  statusSubresource: true, tracksGeneration: true, returnDeletedObject: true,
  fieldSelectors: {
    'spec.nodeName': (o) => o.spec?.nodeName ?? '',
    'spec.restartPolicy': (o) => o.spec?.restartPolicy,
    'spec.schedulerName': (o) => o.spec?.schedulerName,
    'spec.serviceAccountName': (o) => o.spec?.serviceAccountName ?? '',
    'status.phase': (o) => o.status?.phase,
    'status.podIP': (o) => o.status?.podIP ?? '',
  },
  prepareForCreate(obj) {
    obj.status = { phase: 'Pending', qosClass: qosClass(obj.spec ?? {}) };
  },
  admit(obj, old, ctx) {
    if (ctx.op === 'create') defaultPodSpec(obj.spec);
    const errors = ctx.subresource ? [] : validatePodSpec(obj.spec, 'spec');
    if (old && ctx.op === 'update' && !ctx.subresource && obj.spec && old.spec && !deepEqual(mutableView(obj.spec), mutableView(old.spec))) {
      errors.push({ type: 'FieldValueForbidden', field: 'spec', detail: 'pod updates may not change fields other than ' +
        '`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` ' +
        '(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)' });
    }
    return { errors, warnings: [] };
  },
  /** A pod bound to a node waits for its kubelet (here, the local runner) to confirm; others go at once. */
  gracePeriodSeconds(obj, requested) {
    if (!obj.spec?.nodeName) return 0;
    if (obj.status?.phase === 'Succeeded' || obj.status?.phase === 'Failed') return 0;
    const g = requested ?? obj.spec?.terminationGracePeriodSeconds ?? 30;
    return g < 0 ? 1 : g;
  },
});

export const podTemplateLabelErrors = (tpl: KObject | undefined, path: string) => validateLabels(tpl?.metadata?.labels, `${path}.metadata.labels`);
