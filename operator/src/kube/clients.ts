/** The Kubernetes clients the operator uses, from one KubeConfig. */
import * as k8s from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, PLURAL } from '../../../core/src/contract/job-spec.js';
import { BIJ_VERSION } from '../version.js';

export interface KubeClients {
  kc: k8s.KubeConfig;
  custom: k8s.CustomObjectsApi;
  batch: k8s.BatchV1Api;
  core: k8s.CoreV1Api;
  coordination: k8s.CoordinationV1Api;
}

/** The operator's field manager: the name its writes carry in every object's managedFields. */
export const FIELD_MANAGER = 'bij-operator';

/** Sent with every request. The API server names a write's field manager after the User-Agent up to its
 * first '/' when the request names none, so every create, update and patch the operator makes shows as
 * `bij-operator` in managedFields (client-node sends node-fetch's own agent otherwise), and the API
 * server's audit log and metrics tell the operator's requests apart. */
export const USER_AGENT = `${FIELD_MANAGER}/${BIJ_VERSION}`;

const userAgent: k8s.Middleware = {
  pre: (ctx) => {
    ctx.setHeaderParam('User-Agent', USER_AGENT);
    return Promise.resolve(ctx);
  },
  post: (res) => Promise.resolve(res),
};

/** kc.makeApiClient, with the operator's User-Agent. Per-call options (mergePatch, jsonPatch) append
 * their middleware to this one, so the header is on every request. */
function apiClient<T>(kc: k8s.KubeConfig, api: new (config: k8s.Configuration) => T): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster: set its current-context (kubectl config use-context NAME)');
  return new api(k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [userAgent],
  }));
}

export function makeClients(kc: k8s.KubeConfig): KubeClients {
  return {
    kc,
    custom: apiClient(kc, k8s.CustomObjectsApi),
    batch: apiClient(kc, k8s.BatchV1Api),
    core: apiClient(kc, k8s.CoreV1Api),
    coordination: apiClient(kc, k8s.CoordinationV1Api),
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
