/**
 * BatchInferenceSchedules on a TestCluster (the real control plane): a clock the test moves, the
 * schedule controller on it (in-process, through the fault proxy, as the chart's ServiceAccount under
 * its RBAC, like the cluster's operators), and helpers to apply schedules and read what they made.
 *
 *   const clock = new TestClock(t0);
 *   const sc = await startScheduleController(cluster, clock);
 *   clock.set(t1); await settle(sc);     // a reconcile of every schedule at t1, finished
 */
import type * as k8s from '@kubernetes/client-node';
import { SCHEDULE_REF, ScheduleController } from '../../operator/src/kube/schedule-controller.js';
import { BIJ_REF, makeClients } from '../../operator/src/kube/clients.js';
import { silentLogger } from '../../operator/src/log.js';
import type { BatchInferenceScheduleStatus } from '../../operator/src/api/schedule.js';
import type { BatchInferenceJobStatus } from '../../operator/src/api/status.js';
import { LABEL_SCHEDULE } from '../../operator/src/schedule/names.js';
import { NAMESPACE, sleep, type TestCluster } from './cluster.js';

/** The schedule controller's clock: stands still until the test moves it. */
export class TestClock {
  constructor(private t: Date) {}
  now = (): Date => new Date(this.t);
  set(t: Date | string): void {
    this.t = new Date(t);
  }
}

export function startScheduleController(cluster: TestCluster, clock: TestClock): Promise<ScheduleController> {
  const sc = new ScheduleController({
    clients: makeClients(cluster.server.kubeConfig()), log: silentLogger(), now: clock.now, resyncMs: 60_000, identity: 'schedule-test',
  });
  return sc.start().then(() => sc);
}

/** Queues every schedule and waits until the controller has nothing queued or running (twice in a
 * row, so a requeue the reconcile asked for, or an informer event it caused, is included). */
export async function settle(sc: ScheduleController, timeoutMs = 15_000): Promise<void> {
  sc.poke();
  const deadline = Date.now() + timeoutMs;
  let idleSeen = 0;
  while (idleSeen < 2) {
    await sleep(150);
    idleSeen = sc.isIdle() ? idleSeen + 1 : 0;
    if (Date.now() > deadline) throw new Error(`the schedule controller did not settle in ${timeoutMs} ms`);
  }
}

export async function applySchedule(cluster: TestCluster, schedule: { metadata: { name: string } } & Record<string, unknown>): Promise<k8s.KubernetesObject> {
  return cluster.clients.custom.createNamespacedCustomObject({
    ...SCHEDULE_REF, namespace: NAMESPACE, body: { ...schedule, metadata: { ...schedule.metadata, namespace: NAMESPACE } },
  }) as Promise<k8s.KubernetesObject>;
}

export async function getSchedule(cluster: TestCluster, name: string): Promise<{ metadata: k8s.V1ObjectMeta; status?: BatchInferenceScheduleStatus }> {
  return cluster.clients.custom.getNamespacedCustomObject({ ...SCHEDULE_REF, namespace: NAMESPACE, name });
}

export interface ScheduledJobObject {
  metadata: k8s.V1ObjectMeta;
  spec: { input: { uri: string }; output: { uri: string }; model: { uri: string } };
  status?: BatchInferenceJobStatus;
}

/** The BatchInferenceJobs a schedule made (by its label), by name. */
export async function scheduledJobs(cluster: TestCluster, schedule: string): Promise<ScheduledJobObject[]> {
  const list = await cluster.clients.custom.listNamespacedCustomObject({ ...BIJ_REF, namespace: NAMESPACE, labelSelector: `${LABEL_SCHEDULE}=${schedule}` }) as { items: ScheduledJobObject[] };
  return list.items.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
}

/** The reasons of the events on a schedule, oldest first. */
export async function scheduleEvents(cluster: TestCluster, name: string): Promise<{ reason: string; message: string }[]> {
  const list = await cluster.clients.core.listNamespacedEvent({ namespace: NAMESPACE });
  return list.items
    .filter((e) => e.involvedObject.kind === 'BatchInferenceSchedule' && e.involvedObject.name === name)
    .sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? '')))
    .map((e) => ({ reason: e.reason ?? '', message: e.message ?? '' }));
}
