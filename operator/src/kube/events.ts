/** Kubernetes Events on a BatchInferenceJob or BatchInferenceSchedule (core/v1), emitted after the status write that caused them. */
import type * as k8s from '@kubernetes/client-node';
import { createHash, randomBytes } from 'node:crypto';
import type { KubeClients } from './clients.js';
import { isAlreadyExists } from './api-errors.js';
import { API_GROUP, API_VERSION, KIND } from '../../../core/src/contract/job-spec.js';

export interface BijEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** See reconciler KubeEvent.key: emitted once per object and key. */
  key?: string;
}

export interface EventTarget {
  /** The involved object's kind (default BatchInferenceJob; the schedule controller passes its own). */
  kind?: string;
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
}

export const COMPONENT = 'bij-operator';

/** A keyed event has a name derived from the object's uid and the key, so it is created once. */
export function eventName(target: EventTarget, e: BijEvent): string {
  const suffix = e.key
    ? createHash('sha256').update(`${target.uid}/${e.key}`).digest('hex').slice(0, 16)
    : randomBytes(8).toString('hex');
  return `${target.name}.${suffix}`;
}

export function buildEvent(target: EventTarget, e: BijEvent, now: Date, host: string): k8s.CoreV1Event {
  const ts = now.toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: eventName(target, e), namespace: target.namespace },
    involvedObject: {
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: target.kind ?? KIND,
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

/** Names of keyed events this process recorded (most recent 10,000): a reconcile that observes the
 * same thing again (a replaced pod, on every reconcile while its Job exists) sends nothing. */
const recordedKeys = new Set<string>();
const remember = (name: string): void => {
  recordedKeys.add(name);
  if (recordedKeys.size > 10_000) recordedKeys.delete(recordedKeys.values().next().value!);
};

/** Events are best effort, like in every controller: a failure to record one never fails a reconcile,
 * but it is returned so the caller can log it. */
export async function recordEvents(clients: KubeClients, target: EventTarget, events: BijEvent[], host: string): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (const e of events) {
    const body = buildEvent(target, e, new Date(), host);
    const name = `${target.namespace}/${body.metadata!.name!}`;
    if (e.key && recordedKeys.has(name)) continue; // recorded by this process: spare the API server a 409
    try {
      await clients.core.createNamespacedEvent({ namespace: target.namespace, body });
      if (e.key) remember(name);
    } catch (err) {
      if (e.key && isAlreadyExists(err)) remember(name); // a keyed event already recorded
      else failures.push(err);
    }
  }
  return failures;
}
