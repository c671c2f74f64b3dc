/**
 * How the process kubelet stands in for the projected service-account token volume.
 *
 * In a cluster, the ServiceAccount admission plugin gives a pod a projected volume (kube-api-access-*:
 * a serviceAccountToken source, the cluster CA and the namespace) mounted at
 * /var/run/secrets/kubernetes.io/serviceaccount, and the kubelet fills it with a token bound to the pod
 * (TokenRequest), renewing it before it expires; in-cluster clients read it from there. A process has
 * no such path, so for a container that mounts that volume this kubelet:
 *
 *  1. requests the same token: TokenRequest for the pod's ServiceAccount, bound to the pod, with the
 *     source's audience and expirationSeconds, as the node (the Node authorizer and NodeRestriction
 *     allow it exactly for the pods bound to this node);
 *  2. writes token, ca.crt and namespace to the pod's folder, and a kubeconfig that reads them the way
 *     in-cluster config does (client-node's `tokenFile` auth provider, which re-reads the token file
 *     every minute; server: the API server's URL);
 *  3. starts the process with KUBECONFIG naming that kubeconfig (client-node's loadFromDefault, and
 *     kubectl and client-go, take KUBECONFIG first), unless the container sets KUBECONFIG itself;
 *  4. renews the token at 80% of its life (at most every 24 h), as the kubelet does, rewriting the file
 *     in place (rename), until the pod ends.
 *
 * So the process is authenticated as system:serviceaccount:<ns>:<sa>, and RBAC judges it as in a
 * cluster. A pod with automountServiceAccountToken: false has no such volume, and gets nothing.
 */
import type * as k8s from '@kubernetes/client-node';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Logger } from '../../../operator/src/log.js';

export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ApiServerAccess {
  /** The API server's URL, as pods reach it. */
  url: string;
  /** The cluster CA (PEM). */
  caCert: string;
}

export interface TokenProjection {
  audience?: string;
  expirationSeconds: number;
}

/** The token projection the container mounts at the service-account path, or undefined. Pure. */
export function tokenProjection(pod: k8s.V1Pod, container: k8s.V1Container): TokenProjection | undefined {
  if (pod.spec?.automountServiceAccountToken === false) return undefined;
  const mount = (container.volumeMounts ?? []).find((m) => path.posix.normalize(m.mountPath) === SERVICE_ACCOUNT_MOUNT);
  if (!mount) return undefined;
  const volume = (pod.spec?.volumes ?? []).find((v) => v.name === mount.name);
  const source = volume?.projected?.sources?.find((s) => s.serviceAccountToken)?.serviceAccountToken;
  if (!source) return undefined;
  return { audience: source.audience || undefined, expirationSeconds: source.expirationSeconds ?? 3607 };
}

/** The kubeconfig a pod's process gets: the API server, its CA and the token file, in-cluster style. */
export function podKubeconfig(o: { server: string; caFile: string; tokenFile: string; namespace: string }): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'in-cluster', cluster: { server: o.server, 'certificate-authority': o.caFile } }],
    users: [{ name: 'service-account', user: { 'auth-provider': { name: 'tokenFile', config: { tokenFile: o.tokenFile } } } }],
    contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: 'service-account', namespace: o.namespace } }],
    'current-context': 'in-cluster',
  });
}

export interface ServiceAccountFiles {
  /** Environment for the process: KUBECONFIG. */
  env: Record<string, string>;
  /** Stops renewing the token. */
  stop(): void;
}

const writeAtomic = (file: string, data: string): void => {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, file);
};

/** Requests the pod's token, writes the files under `dir` and keeps the token fresh; rejects naming the ServiceAccount. */
export async function mountServiceAccount(o: {
  core: k8s.CoreV1Api; pod: k8s.V1Pod; projection: TokenProjection; dir: string; api: ApiServerAccess; log: Logger;
}): Promise<ServiceAccountFiles> {
  const { pod } = o;
  const namespace = pod.metadata!.namespace!;
  const sa = pod.spec?.serviceAccountName || 'default';
  const request = async (): Promise<Date> => {
    let res: k8s.AuthenticationV1TokenRequest;
    try {
      res = await o.core.createNamespacedServiceAccountToken({
        namespace, name: sa,
        body: {
          apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
          spec: {
            audiences: o.projection.audience ? [o.projection.audience] : [],
            expirationSeconds: o.projection.expirationSeconds,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! },
          },
        },
      });
    } catch (err) {
      throw new Error(`cannot get a token for ServiceAccount ${namespace}/${sa} (the pod's ${SERVICE_ACCOUNT_MOUNT} volume): ${(err as Error).message}`, { cause: err });
    }
    writeAtomic(path.join(o.dir, 'token'), res.status!.token);
    return new Date(res.status!.expirationTimestamp);
  };
  mkdirSync(o.dir, { recursive: true });
  writeAtomic(path.join(o.dir, 'ca.crt'), o.api.caCert);
  writeAtomic(path.join(o.dir, 'namespace'), namespace);
  const kubeconfig = path.join(o.dir, 'kubeconfig');
  writeAtomic(kubeconfig, podKubeconfig({ server: o.api.url, caFile: path.join(o.dir, 'ca.crt'), tokenFile: path.join(o.dir, 'token'), namespace }));
  let expires = await request();
  let issued = new Date();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const later = (fn: () => void, ms: number): void => {
    if (stopped) return;
    timer = setTimeout(fn, ms);
    timer.unref();
  };
  const renew = (): void => {
    request().then(
      (e) => { expires = e; issued = new Date(); schedule(); },
      (err: unknown) => {
        o.log.warn({ pod: `${namespace}/${pod.metadata!.name}`, err: String(err) }, 'could not renew the service-account token; retrying in 10 s');
        later(renew, 10_000);
      },
    );
  };
  // The kubelet's rule: renew at 80% of the token's life, or after 24 h, whichever comes first.
  const schedule = (): void => later(renew, Math.max(1000, Math.min(0.8 * (expires.getTime() - issued.getTime()), 24 * 3600_000)));
  schedule();
  return { env: { KUBECONFIG: kubeconfig }, stop: () => { stopped = true; clearTimeout(timer); } };
}
