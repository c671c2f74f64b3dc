/** The Kubernetes clients the operator uses, from one KubeConfig. */
import * as k8s from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, PLURAL } from '../api/spec.js';

export interface KubeClients {
  kc: k8s.KubeConfig;
  custom: k8s.CustomObjectsApi;
  batch: k8s.BatchV1Api;
  core: k8s.CoreV1Api;
  coordination: k8s.CoordinationV1Api;
}

export function makeClients(kc: k8s.KubeConfig): KubeClients {
  return {
    kc,
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    core: kc.makeApiClient(k8s.CoreV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
  };
}

/** In a pod: the service account; elsewhere: $KUBECONFIG or ~/.kube/config. */
export function loadKubeConfig(kubeconfigPath?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault();
  return kc;
}

export const BIJ_REF = { group: API_GROUP, version: API_VERSION, plural: PLURAL } as const;

/** Content-Type options for the two patch flavours the operator uses. */
export const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
export const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);

export const keyOf = (o: { metadata?: { namespace?: string; name?: string } }): string =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
