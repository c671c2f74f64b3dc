/** Kubeconfig files for the local control plane: certificates embedded, one cluster, one user, one context. */
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { KeyPair } from './pki.js';

export const CLUSTER_NAME = 'bij-local';

export interface KubeconfigIdentity {
  server: string;
  caPem: string;
  user: string;
  client: KeyPair;
  namespace?: string;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

export function kubeconfigYaml(id: KubeconfigIdentity): string {
  const context = `${id.user}@${CLUSTER_NAME}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CLUSTER_NAME, cluster: { server: id.server, 'certificate-authority-data': b64(id.caPem) } }],
    users: [{ name: id.user, user: { 'client-certificate-data': b64(id.client.cert), 'client-key-data': b64(id.client.key) } }],
    contexts: [{ name: context, context: { cluster: CLUSTER_NAME, user: id.user, ...(id.namespace ? { namespace: id.namespace } : {}) } }],
    'current-context': context,
    preferences: {},
  });
}

export function kubeConfigFor(id: KubeconfigIdentity): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(id));
  return kc;
}

/** A kubeconfig that authenticates with a bearer token (e.g. a ServiceAccount's, from the TokenRequest API). */
export function tokenKubeconfigYaml(server: string, caPem: string, user: string, token: string, namespace?: string): string {
  const context = `${user}@${CLUSTER_NAME}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CLUSTER_NAME, cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: context, context: { cluster: CLUSTER_NAME, user, ...(namespace ? { namespace } : {}) } }],
    'current-context': context,
  });
}
