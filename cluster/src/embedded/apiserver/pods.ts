/** Pod defaulting and graceful deletion, following the core/v1 strategy (what the local runner needs). */
import { defineResource, type ResourceType } from './resource.js';
import type { KObject } from './types.js';

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

export const pods: ResourceType = defineResource({
  group: '', plural: 'pods', kind: 'Pod',
  statusSubresource: true, tracksGeneration: true, returnDeletedObject: true,
  prepareForCreate(obj) { obj.status = { phase: 'Pending' }; },
  admit(obj, _old, ctx) { if (ctx.op === 'create' && !ctx.subresource) defaultPodSpec(obj.spec); },
  /** A pod bound to a node waits for its kubelet (here, the local runner) to confirm; others go at once. */
  gracePeriodSeconds(obj, requested) {
    if (!obj.spec?.nodeName) return 0;
    if (obj.status?.phase === 'Succeeded' || obj.status?.phase === 'Failed') return 0;
    const g = requested ?? obj.spec?.terminationGracePeriodSeconds ?? 30;
    return g < 0 ? 1 : g;
  },
});
