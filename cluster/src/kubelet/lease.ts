/**
 * The node's Lease in kube-node-lease: the heartbeat the node lifecycle controller reads first. Renewed
 * every `renewMs`; owned by the Node (so it goes with it), as the real kubelet makes it.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../../operator/src/log.js';
import { isNotFound } from '../../../operator/src/kube/api-errors.js';
import { microTime } from '../../../operator/src/kube/micro-time.js';

export const LEASE_NAMESPACE = 'kube-node-lease';
export const LEASE_DURATION_SECONDS = 40;


export function leaseObject(nodeName: string, nodeUid: string, now: Date): k8s.V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name: nodeName, namespace: LEASE_NAMESPACE, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] },
    spec: { holderIdentity: nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(now) as unknown as Date },
  };
}

export async function renewLease(api: k8s.CoordinationV1Api, nodeName: string, nodeUid: string): Promise<void> {
  const name = nodeName;
  const now = new Date();
  try {
    const lease = await api.readNamespacedLease({ name, namespace: LEASE_NAMESPACE });
    lease.spec = { ...lease.spec, holderIdentity: nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(now) as unknown as Date };
    await api.replaceNamespacedLease({ name, namespace: LEASE_NAMESPACE, body: lease });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await api.createNamespacedLease({ namespace: LEASE_NAMESPACE, body: leaseObject(nodeName, nodeUid, now) });
  }
}

/** Calls `beat` now and every `everyMs` (a failure is logged and tried at the next tick) until stopped. */
export function every(everyMs: number, what: string, beat: () => Promise<void>, log: Logger): { first: Promise<void>; stop(): Promise<void> } {
  let inFlight: Promise<void> = Promise.resolve();
  const run = (): Promise<void> => (inFlight = beat().catch((err: unknown) => log.warn({ err: String(err) }, `${what} failed; trying again`)));
  const first = beat();
  inFlight = first.catch(() => undefined);
  const timer = setInterval(() => void run(), everyMs);
  timer.unref();
  return {
    first,
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
