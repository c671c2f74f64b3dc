/**
 * Pure: what the process kubelet can run, and how long a pod may run. One container, no init or
 * ephemeral containers, restartPolicy Never (all the operator's shard Jobs use: it decides about
 * retries itself) or Always (a Deployment's pods, e.g. the operator's own from the Helm chart: the
 * container is restarted in place with the kubelet's back-off). OnFailure is refused with a reason
 * rather than run with a policy it would not honour.
 */
import type { V1Pod } from '@kubernetes/client-node';

export const UNSUPPORTED = 'UnsupportedPodSpec';

/** Why this kubelet cannot run the pod, naming the field; undefined if it can. */
export function unsupportedReason(pod: V1Pod): string | undefined {
  const spec = pod.spec;
  const where = `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  if (!spec) return `${where} has no spec`;
  if ((spec.initContainers ?? []).length > 0) return `${where}: spec.initContainers is not supported by the process kubelet (${spec.initContainers!.map((c) => c.name).join(', ')})`;
  if ((spec.ephemeralContainers ?? []).length > 0) return `${where}: spec.ephemeralContainers is not supported by the process kubelet`;
  if (spec.containers.length !== 1) return `${where}: the process kubelet runs exactly one container, spec.containers has ${spec.containers.length} (${spec.containers.map((c) => c.name).join(', ')})`;
  const policy = spec.restartPolicy ?? 'Always';
  if (policy !== 'Never' && policy !== 'Always') return `${where}: spec.restartPolicy ${policy} is not supported by the process kubelet (it runs Never and Always)`;
  return undefined;
}

/** Pods whose container had a process on some kubelet (a containerID, or a running or terminated state). */
export function hadProcess(pod: V1Pod): boolean {
  return (pod.status?.containerStatuses ?? []).some((c) => c.containerID || c.state?.running || c.state?.terminated);
}

export const isTerminal = (pod: V1Pod): boolean => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** When the pod's activeDeadlineSeconds runs out (counted from status.startTime), or undefined. */
export function deadlineOf(pod: V1Pod, startTime: Date): Date | undefined {
  const s = pod.spec?.activeDeadlineSeconds;
  return s === undefined || s === null ? undefined : new Date(startTime.getTime() + s * 1000);
}

/** Seconds of grace for a stop: the deletion's, else the pod's terminationGracePeriodSeconds, else 30. */
export function graceSeconds(pod: V1Pod): number {
  return pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
}
