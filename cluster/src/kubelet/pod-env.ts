/**
 * A container's environment as the kubelet builds it: env and envFrom from Secrets and ConfigMaps
 * (cluster/src/embedded/runner/env.ts, read here with the node's identity), and the downward API's
 * fieldRef values, resolved first (pure) so `$(VAR)` references to them expand as in Kubernetes.
 */
import type { V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { resolveEnv, type EnvSources } from '../embedded/runner/env.js';
import { HOST_IP } from './pod-status.js';

const label = /^metadata\.(labels|annotations)\['([^']+)'\]$/;

/** The value of a downward-API fieldPath for this pod on this node. */
export function fieldValue(pod: V1Pod, fieldPath: string): string {
  switch (fieldPath) {
    case 'metadata.name': return pod.metadata?.name ?? '';
    case 'metadata.namespace': return pod.metadata?.namespace ?? '';
    case 'metadata.uid': return pod.metadata?.uid ?? '';
    case 'spec.nodeName': return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP': case 'status.podIPs': case 'status.hostIP': case 'status.hostIPs': return HOST_IP;
  }
  const m = label.exec(fieldPath);
  if (m) return (m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[m[2]] ?? '';
  throw new Error(`fieldRef ${fieldPath} is not supported by the process kubelet`);
}

/** The container with each fieldRef env var replaced by its value (resourceFieldRef is refused, naming it). */
export function withFieldRefs(container: V1Container, pod: V1Pod): V1Container {
  const env = (container.env ?? []).map((e): V1EnvVar => {
    if (e.valueFrom?.fieldRef) {
      try {
        return { name: e.name, value: fieldValue(pod, e.valueFrom.fieldRef.fieldPath) };
      } catch (err) {
        throw new Error(`env ${e.name} of container ${container.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (e.valueFrom?.resourceFieldRef) throw new Error(`env ${e.name} of container ${container.name}: resourceFieldRef is not supported by the process kubelet`);
    return e;
  });
  return { ...container, env };
}

export function containerEnv(pod: V1Pod, container: V1Container, src: EnvSources): Promise<Record<string, string>> {
  return resolveEnv(withFieldRefs(container, pod), pod.metadata?.namespace ?? '', src);
}
