/**
 * Observe: Jobs (and their Pods) -> ObservedAttempt[]. Pure.
 *
 * Only Jobs carrying our run/shard/attempt labels are attempts; others are ignored. A Pod belongs to
 * a Job when its controller ownerReference has the Job's uid, or its `batch.kubernetes.io/job-name`
 * or `job-name` label is the Job's name, or (runners that do not set those) it carries the same
 * batchinference.dev run/shard/attempt labels. Timestamps may be Date objects (client-node's
 * deserializer) or strings (raw watch events); both work.
 *
 * Suspended Jobs (Kueue). The operator never suspends a shard Job; only Kueue (or another admission
 * controller) does, whether the Job carries a queue name or Kueue manages Jobs without one:
 * - a suspended Job that has not finished and has no active pod is `queued` (waiting for admission),
 *   with `suspendedSince` from its Suspended=True condition. When Kueue evicts an admitted Job (a
 *   preemption, quota reclaimed) it suspends it again: the Job controller deletes the pod, removing
 *   its tracking finalizer first, so the stopped pod is not counted as a failure and the Job does not
 *   fail; it is queued again, and the same attempt starts over in a new pod when it is re-admitted.
 *   (The reconciler tells such an eviction from the first wait by the attempt's progress file.)
 * - a Job that failed while suspended was evicted too, if the stopped pod failed it after all: the Job
 *   controller only sets Suspended=True on a Job that has not finished, so Suspended=True beside
 *   Failed=True says the suspension came first. That is a disruption, not the worker's failure.
 */
import type { V1Job, V1JobCondition, V1Pod, V1ContainerStateTerminated } from '@kubernetes/client-node';
import { TerminationSummarySchema, type TerminationSummary } from '../../../core/src/contract/process.js';
import { GPU_RESOURCE } from './job.js';
import { LABEL_ATTEMPT, LABEL_KUEUE_QUEUE, LABEL_RUN, LABEL_SHARD, LABEL_SPECULATIVE, WORKER_CONTAINER, isoSeconds } from './names.js';
import type { ObservedAttempt } from './types.js';

/** Pod status reasons that mean the pod was taken away, not that the worker failed. Newer clusters
 * also set the DisruptionTarget condition on such pods; older ones (and kubelet node-pressure
 * eviction, graceful node shutdown) only set the reason. DeadlineExceeded (activeDeadlineSeconds) is
 * the user's own limit, and counts. */
export const DISRUPTION_REASONS: ReadonlySet<string> = new Set([
  'Evicted', 'Preempting', 'NodeLost', 'NodeShutdown', 'Shutdown', 'Terminated', 'DeletionByPodGC',
  'DeletionByTaintManager', 'TerminationByKubelet', 'PreemptionByScheduler', 'EvictionByEvictionAPI',
]);

type Time = Date | string | undefined | null;
const iso = (t: Time): string | undefined => (t === undefined || t === null || t === '' ? undefined : isoSeconds(t));
const ms = (t: Time): number => (t === undefined || t === null || t === '' ? 0 : new Date(t).getTime());

const condition = (conds: V1JobCondition[] | undefined, type: string): V1JobCondition | undefined =>
  conds?.find((c) => c.type === type && c.status === 'True');

/** Parses a termination message as our TerminationSummary, if it is one. */
export function parseTerminationSummary(message: string | undefined): TerminationSummary | undefined {
  if (!message || message.trimStart()[0] !== '{') return undefined;
  try {
    const r = TerminationSummarySchema.safeParse(JSON.parse(message));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

function podsByJob(pods: readonly V1Pod[]): { byUid: Map<string, V1Pod[]>; byName: Map<string, V1Pod[]>; byAttempt: Map<string, V1Pod[]> } {
  const byUid = new Map<string, V1Pod[]>();
  const byName = new Map<string, V1Pod[]>();
  const byAttempt = new Map<string, V1Pod[]>();
  const push = (m: Map<string, V1Pod[]>, k: string, p: V1Pod) => {
    const list = m.get(k);
    if (list) list.push(p);
    else m.set(k, [p]);
  };
  for (const p of pods) {
    const owner = p.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'Job');
    if (owner?.uid) push(byUid, owner.uid, p);
    const l = p.metadata?.labels ?? {};
    const name = l['batch.kubernetes.io/job-name'] ?? l['job-name'];
    if (name) push(byName, name, p);
    if (l[LABEL_RUN] !== undefined && l[LABEL_SHARD] !== undefined && l[LABEL_ATTEMPT] !== undefined) {
      push(byAttempt, `${l[LABEL_RUN]}/${l[LABEL_SHARD]}/${l[LABEL_ATTEMPT]}`, p);
    }
  }
  return { byUid, byName, byAttempt };
}

const workerStatus = (pod: V1Pod) =>
  pod.status?.containerStatuses?.find((c) => c.name === WORKER_CONTAINER) ?? pod.status?.containerStatuses?.[0];

const terminatedOf = (pod: V1Pod): V1ContainerStateTerminated | undefined => {
  const cs = workerStatus(pod);
  return cs?.state?.terminated ?? cs?.lastState?.terminated;
};

/** Whether a pod was disrupted: the DisruptionTarget condition, or a disruption reason. */
export function podDisrupted(pod: V1Pod): boolean {
  if (pod.status?.conditions?.some((c) => c.type === 'DisruptionTarget' && c.status === 'True')) return true;
  return pod.status?.reason !== undefined && DISRUPTION_REASONS.has(pod.status.reason);
}

const ended = (p: V1Pod): boolean => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded' || terminatedOf(p) !== undefined;

/** The pod that tells how the attempt ended: the latest one that terminated, else the latest one. */
function decidingPod(pods: readonly V1Pod[]): V1Pod | undefined {
  let best: V1Pod | undefined;
  let bestKey: [number, number, string] = [-1, -1, ''];
  for (const p of pods) {
    const key: [number, number, string] = [ended(p) ? 1 : 0, ms(p.metadata?.creationTimestamp), p.metadata?.name ?? ''];
    if (key[0] > bestKey[0] || (key[0] === bestKey[0] && (key[1] > bestKey[1] || (key[1] === bestKey[1] && key[2] > bestKey[2])))) {
      best = p;
      bestKey = key;
    }
  }
  return best;
}

function gpusOf(job: V1Job): number {
  const c = job.spec?.template?.spec?.containers?.find((x) => x.name === WORKER_CONTAINER) ?? job.spec?.template?.spec?.containers?.[0];
  const v = Number(c?.resources?.limits?.[GPU_RESOURCE] ?? 0);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

const parseIndex = (v: string | undefined): number | undefined => {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
};

export function observeAttempts(jobs: readonly V1Job[], pods: readonly V1Pod[]): ObservedAttempt[] {
  const index = podsByJob(pods);
  const out: ObservedAttempt[] = [];
  for (const job of jobs) {
    const labels = job.metadata?.labels ?? {};
    const runId = labels[LABEL_RUN];
    const shard = parseIndex(labels[LABEL_SHARD]);
    const attempt = parseIndex(labels[LABEL_ATTEMPT]);
    const name = job.metadata?.name;
    if (!runId || shard === undefined || attempt === undefined || !name) continue;

    const conds = job.status?.conditions;
    const complete = condition(conds, 'Complete');
    const failed = condition(conds, 'Failed');
    // A Job being deleted (by the operator stopping it, or by someone else) is 'deleting' even if it
    // has failed meanwhile: its pod was stopped, so the failure is not the workload's and not counted.
    const state: ObservedAttempt['state'] = complete ? 'succeeded' : job.metadata?.deletionTimestamp ? 'deleting' : failed ? 'failed' : 'active';

    const uid = job.metadata?.uid;
    const jobPods = (uid && index.byUid.get(uid)) || index.byName.get(name) || index.byAttempt.get(`${runId}/${shard}/${attempt}`) || [];
    const pod = decidingPod(jobPods);
    const term = pod ? terminatedOf(pod) : undefined;
    const summary = parseTerminationSummary(term?.message);

    let disrupted = pod !== undefined && podDisrupted(pod);
    if (failed?.reason === 'PodFailurePolicy' && failed.message?.includes('DisruptionTarget')) disrupted = true;
    const queue = labels[LABEL_KUEUE_QUEUE] || undefined;
    const suspended = job.spec?.suspend === true;
    const evicted = state === 'failed' && (suspended || condition(conds, 'Suspended') !== undefined);
    if (evicted) disrupted = true;
    const live = (p: V1Pod) => !ended(p) && !p.metadata?.deletionTimestamp;
    const queued = state === 'active' && suspended && (job.status?.active ?? 0) === 0 && !jobPods.some(live);

    const rawMessage = term?.message?.trim() || pod?.status?.message || (failed ?? complete)?.message;
    const a: ObservedAttempt = {
      runId, shard, attempt, jobName: name, state, disrupted,
      gpus: gpusOf(job),
    };
    if (queue) a.queue = queue;
    if (labels[LABEL_SPECULATIVE] === 'true') a.speculative = true;
    if (queued) {
      a.queued = true;
      const since = iso(condition(conds, 'Suspended')?.lastTransitionTime);
      if (since) a.suspendedSince = since;
    }
    if (evicted) a.evicted = true;
    if (term?.exitCode !== undefined) a.exitCode = term.exitCode;
    const waiting = state === 'active' && pod ? workerStatus(pod)?.state?.waiting : undefined;
    if (waiting?.reason) {
      a.waiting = { reason: waiting.reason };
      if (waiting.message) a.waiting.message = waiting.message;
      const since = iso(pod?.metadata?.creationTimestamp);
      if (since) a.waiting.since = since;
    }
    // For a disruption, the pod's DisruptionTarget reason (EvictionByEvictionAPI, PreemptionByScheduler,
    // DeletionByTaintManager...) says what happened; the Job's own reason would be BackoffLimitExceeded.
    const disruption = disrupted ? pod?.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True')?.reason : undefined;
    const reason = (evicted ? (queue ? 'EvictedByKueue' : 'JobSuspended') : undefined)
      ?? disruption
      ?? (term?.reason && term.reason !== 'Error' && term.reason !== 'Completed' ? term.reason : undefined)
      ?? pod?.status?.reason ?? failed?.reason ?? term?.reason;
    if (reason) a.reason = reason;
    // An evicted attempt's pod was stopped from outside: its last log lines say nothing about why.
    const message = evicted
      ? `its Job was suspended${queue ? ` by Kueue (LocalQueue ${queue})` : ''} while the pod ran, and the pod was stopped (preempted or evicted)`
      : summary?.message ?? rawMessage;
    if (message) a.message = message;
    if (summary) a.summary = summary;
    const startedAt = iso(job.status?.startTime) ?? iso(pod?.status?.startTime) ?? iso(job.metadata?.creationTimestamp);
    if (startedAt) a.startedAt = startedAt;
    if (state === 'succeeded' || state === 'failed') {
      const finishedAt = iso(job.status?.completionTime) ?? iso((failed ?? complete)?.lastTransitionTime) ?? iso(term?.finishedAt);
      if (finishedAt) a.finishedAt = finishedAt;
    }
    // Disrupted pods the Job controller replaced (the attempt is still running or succeeded): the
    // attempt itself did not fail, but the user should see that its pod was taken away.
    if (state === 'active' || state === 'succeeded') {
      const replaced = jobPods.filter((p) => p.status?.phase === 'Failed' && podDisrupted(p));
      if (replaced.length > 0) {
        a.replacedPods = replaced.map((p) => {
          const why = p.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True')?.reason ?? p.status?.reason;
          return { pod: p.metadata?.name ?? '', ...(why ? { reason: why } : {}) };
        });
      }
    }
    out.push(a);
  }
  return out;
}
