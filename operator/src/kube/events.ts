/** Kubernetes Events on a BatchInferenceJob (core/v1), emitted after the status write that caused them. */
import type * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { KubeClients } from './clients.js';
import { API_GROUP, API_VERSION, KIND } from '../api/spec.js';

export interface BijEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface EventTarget {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
}

export const COMPONENT = 'bij-operator';

export function buildEvent(target: EventTarget, e: BijEvent, now: Date, host: string): k8s.CoreV1Event {
  const ts = now.toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${target.name}.${randomBytes(8).toString('hex')}`, namespace: target.namespace },
    involvedObject: {
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: KIND,
      name: target.name,
      namespace: target.namespace,
      uid: target.uid,
      resourceVersion: target.resourceVersion,
    },
    type: e.type,
    reason: e.reason,
    message: e.message.slice(0, 1024),
    source: { component: COMPONENT, host },
    reportingComponent: COMPONENT,
    reportingInstance: host,
    firstTimestamp: ts as unknown as Date,
    lastTimestamp: ts as unknown as Date,
    count: 1,
  };
}

/** Events are best effort, like in every controller: a failure to record one never fails a reconcile,
 * but it is returned so the caller can log it. */
export async function recordEvents(clients: KubeClients, target: EventTarget, events: BijEvent[], host: string): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (const e of events) {
    try {
      await clients.core.createNamespacedEvent({ namespace: target.namespace, body: buildEvent(target, e, new Date(), host) });
    } catch (err) {
      failures.push(err);
    }
  }
  return failures;
}
