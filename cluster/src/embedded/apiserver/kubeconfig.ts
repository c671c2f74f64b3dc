/** A kubeconfig for the embedded server: plain HTTP on 127.0.0.1 with a bearer token. */
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';

export const CONTEXT = 'bij-local';

export function kubeconfigObject(server: string, token: string, namespace = 'default') {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CONTEXT, cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: CONTEXT, user: { token } }],
    contexts: [{ name: CONTEXT, context: { cluster: CONTEXT, user: CONTEXT, namespace } }],
    'current-context': CONTEXT,
    preferences: {},
  };
}

/** YAML, for writing to a file that kubectl or a child process can use via KUBECONFIG. */
export const kubeconfigYaml = (server: string, token: string, namespace?: string) => YAML.stringify(kubeconfigObject(server, token, namespace));

/** A loaded client-node KubeConfig (client-node requires skipTLSVerify for http:// servers). */
export function makeKubeConfig(server: string, token: string, namespace?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(server, token, namespace));
  return kc;
}
