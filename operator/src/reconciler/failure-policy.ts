/**
 * Failure policy: when does the run fail? Pure; makes no API calls.
 *
 * In order (the first that applies wins, so the reason is stable):
 *   1. BadInput: an attempt of a shard that is not done exited with EXIT.badInput, or said
 *      outcome 'bad-input' (and was not disrupted). Retrying cannot help.
 *   2. RetriesExhausted: a shard that is not done has more counted failures than maxRetries.
 *      Disruptions do not count, so a disrupted last allowed attempt is still retried.
 *   3. TooManyFailedRows: the chosen manifests report more failed rows than maxFailedRows.
 * Spec and plan errors (InvalidSpec, PlanFailed) are decided in reconcile.ts, before there are shards.
 */
import { failureText, type ShardState } from './shards.js';

export type FailureReason =
  | 'InvalidSpec' | 'PlanFailed' | 'BadInput' | 'RetriesExhausted' | 'TooManyFailedRows' | 'CommitFailed' | 'PodCannotStart'
  /** Another run owns the output prefix (commit/claim.ts). */
  | 'OutputInUse'
  /** spec.input.waitFor timed out (wait.ts). */
  | 'InputNotReady'
  /** An output column's PSI is above spec.monitoring.failPSI once every shard is done (monitoring.ts). */
  | 'Drifted'
  /** Storage refused an operation in a way retrying cannot fix (reconciler/storage-failure.ts). */
  | 'StorageError'
  /** The spec asks for what the operator's policy does not allow (reconciler/worker-policy.ts). */
  | 'NotAllowed';

/** Waiting reasons that no wait can fix: the pod's spec is wrong (image name, env, Secret...). */
export const POD_CONFIG_ERRORS: ReadonlySet<string> = new Set([
  'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'ErrImageNeverPull',
]);
/** Waiting reasons that may pass (a registry down) but usually mean a wrong image: failed after a while. */
export const POD_PULL_ERRORS: ReadonlySet<string> = new Set(['ErrImagePull', 'ImagePullBackOff']);
export const POD_PULL_TIMEOUT_MS = 10 * 60_000;

/**
 * A shard attempt whose pod cannot start: at once for configuration errors, after POD_PULL_TIMEOUT_MS
 * for image pull errors. Otherwise the run would wait on it forever (the pod never fails by itself).
 */
export function podStartFailure(shards: readonly ShardState[], now: Date): RunFailure | undefined {
  for (const s of shards) {
    if (s.chosen) continue;
    for (const a of s.active) {
      const w = a.waiting;
      if (!w) continue;
      const since = w.since ? Date.parse(w.since) : NaN;
      const stuckFor = Number.isNaN(since) ? 0 : now.getTime() - since;
      if (POD_CONFIG_ERRORS.has(w.reason) || (POD_PULL_ERRORS.has(w.reason) && stuckFor >= POD_PULL_TIMEOUT_MS)) {
        const why = POD_PULL_ERRORS.has(w.reason) ? ` for ${Math.round(stuckFor / 60_000)} min (check spec.worker.image and its pull secret)` : ' (check spec.worker.image, env, envFrom and storage.s3.credentialsSecret)';
        return {
          reason: 'PodCannotStart',
          message: `shard ${s.index} attempt ${a.attempt} cannot start: ${w.reason}${w.message ? `: ${w.message}` : ''}${why}`,
        };
      }
    }
  }
  return undefined;
}

export interface RunFailure {
  reason: FailureReason;
  message: string;
}

export function runFailure(shards: readonly ShardState[], limits: { maxRetries: number; maxFailedRows: number }): RunFailure | undefined {
  let badInput: ShardState | undefined;
  let exhausted: ShardState | undefined;
  let failedRows = 0;
  const failedRowShards: number[] = [];
  for (const s of shards) {
    if (s.chosen) {
      if (s.chosen.rows.failed > 0) {
        failedRows += s.chosen.rows.failed;
        failedRowShards.push(s.index);
      }
      continue;
    }
    if (!badInput && s.badInput) badInput = s;
    if (!exhausted && s.countedFailures > limits.maxRetries) exhausted = s;
  }
  if (badInput?.badInput) {
    const f = badInput.badInput;
    return {
      reason: 'BadInput',
      message: `shard ${badInput.index} attempt ${f.attempt.attempt} found bad input (not retried): ${f.attempt.message ?? failureText(f)}`,
    };
  }
  if (exhausted) {
    const counted = exhausted.failures.filter((f) => f.counted);
    const last = counted[counted.length - 1];
    return {
      reason: 'RetriesExhausted',
      message: `shard ${exhausted.index} failed ${counted.length} times (attempts ${counted.map((f) => f.attempt.attempt).join(', ')}), `
        + `more than maxRetries=${limits.maxRetries}; last: ${failureText(last)}`,
    };
  }
  if (failedRows > limits.maxFailedRows) {
    const list = failedRowShards.length > 10 ? `${failedRowShards.slice(0, 10).join(', ')}, ...` : failedRowShards.join(', ');
    return {
      reason: 'TooManyFailedRows',
      message: `${failedRows} rows could not be scored, more than maxFailedRows=${limits.maxFailedRows} (shards ${list}); see _bij/<run>/shards/*/a*/errors-*.parquet`,
    };
  }
  return undefined;
}
