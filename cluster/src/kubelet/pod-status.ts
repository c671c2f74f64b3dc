/**
 * Pure: the pod status the process kubelet writes, shaped like the real kubelet's (pkg/kubelet/status):
 * phase, the pod conditions it owns, and the one container's status. Conditions written by others
 * (PodScheduled by the scheduler, DisruptionTarget by the eviction API) are kept: mergeConditions
 * replaces only the types this kubelet owns, and keeps lastTransitionTime while a status is unchanged.
 */
import type { V1ContainerState, V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';

export const RUNTIME_SCHEME = 'bij-process://';
export const HOST_IP = '127.0.0.1';
export const DEADLINE_EXCEEDED = { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' } as const;
export const CONTAINER_STATUS_UNKNOWN = { reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated', exitCode: 137 } as const;

/** client-node types dates as Date but sends whatever it holds: RFC 3339 strings, second precision. */
const ts = (d: Date): Date => (d.toISOString().replace(/\.\d+Z$/, 'Z')) as unknown as Date;

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/** The exit code a container runtime reports: the process's own, or 128 + the signal that killed it. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? SIGNALS[signal] ?? 0 : 0);
}

type Cond = Pick<V1PodCondition, 'type' | 'status'> & { reason?: string; message?: string };

/** `existing` with `updates` put in by type: an unchanged status keeps its lastTransitionTime. */
export function mergeConditions(existing: V1PodCondition[] | undefined, updates: Cond[], now: Date): V1PodCondition[] {
  const out = [...(existing ?? [])];
  for (const u of updates) {
    const i = out.findIndex((c) => c.type === u.type);
    const prev = i >= 0 ? out[i] : undefined;
    const next: V1PodCondition = {
      type: u.type, status: u.status, reason: u.reason, message: u.message,
      lastTransitionTime: prev && prev.status === u.status ? prev.lastTransitionTime : ts(now),
    };
    if (i >= 0) out[i] = next;
    else out.push(next);
  }
  return out;
}

function container(pod: V1Pod): { name: string; image: string } {
  const c = pod.spec?.containers?.[0];
  return { name: c?.name ?? '', image: c?.image ?? '' };
}

const ips = { hostIP: HOST_IP, hostIPs: [{ ip: HOST_IP }], podIP: HOST_IP, podIPs: [{ ip: HOST_IP }] };

function baseContainerStatus(pod: V1Pod): V1ContainerStatus {
  const { name, image } = container(pod);
  return { name, image, imageID: '', ready: false, restartCount: 0, started: false, state: {} };
}

export interface RunningInput {
  pid: number;
  startTime: Date;
  startedAt: Date;
  /** restartPolicy Always: times the container was restarted in place, and how it last ended. */
  restartCount?: number;
  lastState?: V1ContainerState;
}

export function runningStatus(pod: V1Pod, r: RunningInput): V1PodStatus {
  const c = baseContainerStatus(pod);
  return {
    phase: 'Running',
    startTime: ts(r.startTime),
    ...ips,
    conditions: mergeConditions(pod.status?.conditions, [
      { type: 'PodReadyToStartContainers', status: 'True' },
      { type: 'Initialized', status: 'True' },
      { type: 'ContainersReady', status: 'True' },
      { type: 'Ready', status: 'True' },
    ], r.startedAt),
    containerStatuses: [{
      ...c, imageID: `${RUNTIME_SCHEME}${c.image}`, containerID: `${RUNTIME_SCHEME}${r.pid}`,
      ready: true, started: true, state: { running: { startedAt: ts(r.startedAt) } },
      ...(r.restartCount ? { restartCount: r.restartCount } : {}), ...(r.lastState ? { lastState: r.lastState } : {}),
    }],
  };
}

/** The state of a container that ended (lastState of the next run). */
export function terminatedState(t: { exitCode: number; signal?: number; message?: string; pid: number; startedAt: Date; finishedAt: Date }): V1ContainerState {
  return {
    terminated: {
      exitCode: t.exitCode, ...(t.signal ? { signal: t.signal } : {}), reason: t.exitCode === 0 ? 'Completed' : 'Error',
      ...(t.message ? { message: t.message } : {}), startedAt: ts(t.startedAt), finishedAt: ts(t.finishedAt),
      containerID: `${RUNTIME_SCHEME}${t.pid}`,
    },
  };
}

/** Started but not ready: the conditions of a pod whose one container waits (to start or to restart). */
function notReadyConditions(pod: V1Pod, container: string, now: Date) {
  const notReady = { status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${container}]` };
  return mergeConditions(pod.status?.conditions, [
    { type: 'PodReadyToStartContainers', status: 'True' },
    { type: 'Initialized', status: 'True' },
    { type: 'ContainersReady', ...notReady },
    { type: 'Ready', ...notReady },
  ], now);
}

/** restartPolicy Always: the container ended and waits to be started again (the pod stays Running). */
export function backOffStatus(pod: V1Pod, b: { restartCount: number; lastState: V1ContainerState; delayMs: number; startTime: Date; now: Date }): V1PodStatus {
  const c = baseContainerStatus(pod);
  return {
    phase: 'Running',
    startTime: ts(b.startTime),
    ...ips,
    conditions: notReadyConditions(pod, c.name, b.now),
    containerStatuses: [{
      ...c, imageID: `${RUNTIME_SCHEME}${c.image}`, restartCount: b.restartCount, lastState: b.lastState,
      state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(b.delayMs / 1000)}s restarting failed container=${c.name} pod=${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid})` } },
    }],
  };
}

/** Pending, the container waiting (e.g. CreateContainerConfigError while a Secret is missing). */
export function waitingStatus(pod: V1Pod, w: { reason: string; message: string; startTime: Date; now: Date }): V1PodStatus {
  const c = baseContainerStatus(pod);
  return {
    phase: 'Pending',
    startTime: ts(w.startTime),
    ...ips,
    conditions: notReadyConditions(pod, c.name, w.now),
    containerStatuses: [{ ...c, state: { waiting: { reason: w.reason, message: w.message } } }],
  };
}

export interface TerminatedInput {
  exitCode: number;
  /** Container-level reason; default Completed for exit code 0, Error otherwise. */
  reason?: string;
  /** The termination message (already chosen: file, or log tail for FallbackToLogsOnError). */
  message?: string;
  pid?: number;
  signal?: number;
  startTime: Date;
  startedAt?: Date;
  finishedAt: Date;
  /** Pod-level reason and message (DeadlineExceeded, UnsupportedPodSpec...). */
  pod?: { reason: string; message: string };
}

export function terminatedStatus(pod: V1Pod, t: TerminatedInput): V1PodStatus {
  const c = baseContainerStatus(pod);
  const ok = t.exitCode === 0 && !t.pod;
  const notReady = { status: 'False', reason: ok ? 'PodCompleted' : 'PodFailed' };
  const status: V1PodStatus = {
    phase: ok ? 'Succeeded' : 'Failed',
    startTime: ts(t.startTime),
    ...ips,
    conditions: mergeConditions(pod.status?.conditions, [
      { type: 'PodReadyToStartContainers', status: 'False' },
      { type: 'Initialized', status: 'True' },
      { type: 'ContainersReady', ...notReady },
      { type: 'Ready', ...notReady },
    ], t.finishedAt),
    containerStatuses: [{
      ...c,
      ...(t.pid !== undefined ? { imageID: `${RUNTIME_SCHEME}${c.image}`, containerID: `${RUNTIME_SCHEME}${t.pid}` } : {}),
      state: {
        terminated: {
          exitCode: t.exitCode,
          ...(t.signal ? { signal: t.signal } : {}),
          reason: t.reason ?? (t.exitCode === 0 ? 'Completed' : 'Error'),
          ...(t.message ? { message: t.message } : {}),
          ...(t.startedAt ? { startedAt: ts(t.startedAt) } : {}),
          finishedAt: ts(t.finishedAt),
          ...(t.pid !== undefined ? { containerID: `${RUNTIME_SCHEME}${t.pid}` } : {}),
        },
      },
    }],
  };
  if (t.pod) {
    status.reason = t.pod.reason;
    status.message = t.pod.message;
  }
  return status;
}

/** A pod this kubelet had started before it restarted, or one deleted before it ran: the real kubelet's verdict. */
export function lostStatus(pod: V1Pod, now: Date): V1PodStatus {
  const startTime = pod.status?.startTime ? new Date(pod.status.startTime) : now;
  return terminatedStatus(pod, {
    exitCode: CONTAINER_STATUS_UNKNOWN.exitCode, reason: CONTAINER_STATUS_UNKNOWN.reason, message: CONTAINER_STATUS_UNKNOWN.message,
    startTime, finishedAt: now,
  });
}

/** The termination message: the file's, or for FallbackToLogsOnError on failure the log's tail (2048 bytes, 80 lines). */
export function terminationMessage(file: string, logTail: string, exitCode: number, policy: string | undefined): string {
  const fromFile = file.slice(0, 4096);
  if (fromFile.trim() !== '' || exitCode === 0 || policy !== 'FallbackToLogsOnError') return fromFile;
  const lines = logTail.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const last = lines.slice(-80).join('\n');
  const bytes = Buffer.from(last, 'utf8');
  return bytes.length <= 2048 ? last : bytes.subarray(bytes.length - 2048).toString('utf8');
}
