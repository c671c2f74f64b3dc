/** Pure: the Pod and Job status a real kubelet and Job controller would write for one local process. */
import type * as k8s from '@kubernetes/client-node';

export interface ProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Contents of the termination-message file, if the process wrote one. */
  terminationMessage: string;
  /** The last lines the process printed (for terminationMessagePolicy FallbackToLogsOnError). */
  logTail: string;
  startedAt: Date;
  finishedAt: Date;
  /** Set when the runner evicted the pod (a disruption, not a failure of the workload). */
  disruption?: { reason: string; message: string };
}

/** Exit code as the container runtime reports it: 128 + signal number for a killed process. */
export function exitCodeOf(exit: Pick<ProcessExit, 'exitCode' | 'signal'>): number {
  if (exit.exitCode !== null) return exit.exitCode;
  const signals: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGABRT: 6, SIGSEGV: 11 };
  return 128 + (exit.signal ? signals[exit.signal] ?? 1 : 1);
}

const ts = (d: Date) => d.toISOString() as unknown as Date;

export function terminatedPodStatus(exit: ProcessExit, fallbackToLogs: boolean): k8s.V1PodStatus {
  const code = exitCodeOf(exit);
  const ok = code === 0;
  let message = exit.terminationMessage.trim();
  if (!message && !ok && fallbackToLogs) message = exit.logTail.slice(-2048).trim();
  const reason = ok ? 'Completed' : 'Error';
  const conditions: k8s.V1PodCondition[] = [
    { type: 'Ready', status: 'False', lastTransitionTime: ts(exit.finishedAt), reason: 'PodCompleted' },
  ];
  if (exit.disruption) {
    conditions.push({
      type: 'DisruptionTarget', status: 'True', lastTransitionTime: ts(exit.finishedAt),
      reason: exit.disruption.reason, message: exit.disruption.message,
    });
  }
  return {
    phase: ok ? 'Succeeded' : 'Failed',
    conditions,
    startTime: ts(exit.startedAt),
    containerStatuses: [{
      name: 'worker',
      image: 'local',
      imageID: '',
      ready: false,
      restartCount: 0,
      started: false,
      state: {
        terminated: {
          exitCode: code,
          signal: exit.signal ? exitCodeOf(exit) - 128 : undefined,
          reason,
          message: message || undefined,
          startedAt: ts(exit.startedAt),
          finishedAt: ts(exit.finishedAt),
        },
      },
    }],
  };
}

export function runningPodStatus(startedAt: Date): k8s.V1PodStatus {
  return {
    phase: 'Running',
    startTime: ts(startedAt),
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: ts(startedAt) }],
    containerStatuses: [{
      name: 'worker', image: 'local', imageID: '', ready: true, restartCount: 0, started: true,
      state: { running: { startedAt: ts(startedAt) } },
    }],
  };
}

/** batch/v1 Job status for a Job with backoffLimit 0 whose single pod ended. */
export function finishedJobStatus(exit: ProcessExit): k8s.V1JobStatus {
  const ok = exitCodeOf(exit) === 0;
  const at = ts(exit.finishedAt);
  if (ok) {
    return {
      active: 0, succeeded: 1, failed: 0, ready: 0, startTime: ts(exit.startedAt), completionTime: at,
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
        { type: 'Complete', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
      ],
    };
  }
  return {
    active: 0, succeeded: 0, failed: 1, ready: 0, startTime: ts(exit.startedAt),
    conditions: [
      { type: 'FailureTarget', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
      { type: 'Failed', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
    ],
  };
}
