/** The API calls the kubelet makes for a pod, as the node: its status (a strategic merge patch with the
 * pod's uid as precondition, retried on transient errors) and the final deletion (grace 0, uid precondition). */
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../../operator/src/log.js';
import { httpStatus, isConflict, isNotFound } from '../../../operator/src/kube/api-errors.js';
import { strategicMerge } from './node.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const key = (pod: k8s.V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

export class PodApi {
  constructor(private readonly core: k8s.CoreV1Api, private readonly log: Logger, private readonly stopping: () => boolean) {}

  /** Writes the status; a pod that is gone (404) or replaced by another of its name (409) is let be. */
  async writeStatus(pod: k8s.V1Pod, status: k8s.V1PodStatus): Promise<void> {
    const body = { metadata: { uid: pod.metadata!.uid }, status };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.core.patchNamespacedPodStatus({ namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, body }, strategicMerge);
        return;
      } catch (err) {
        if (isNotFound(err) || isConflict(err)) return;
        const transient = httpStatus(err) === undefined || httpStatus(err)! >= 500 || httpStatus(err) === 429;
        if (!transient || attempt >= 6 || this.stopping()) {
          this.log.warn({ pod: key(pod), phase: status.phase, err: String(err) }, 'could not write pod status');
          return;
        }
        await sleep(200 * 2 ** attempt);
      }
    }
  }

  /** What the real kubelet does to finish a graceful deletion once the containers are stopped. */
  async finishDeletion(pod: k8s.V1Pod): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({
        namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid } },
      });
      this.log.debug({ pod: key(pod) }, 'pod deletion finished');
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) this.log.warn({ pod: key(pod), err: String(err) }, 'could not finish deleting pod');
    }
  }

  secret = (namespace: string, name: string): Promise<k8s.V1Secret | undefined> =>
    this.core.readNamespacedSecret({ namespace, name }).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));

  configMap = (namespace: string, name: string): Promise<k8s.V1ConfigMap | undefined> =>
    this.core.readNamespacedConfigMap({ namespace, name }).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
}
