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

export type FailureReason = 'InvalidSpec' | 'PlanFailed' | 'BadInput' | 'RetriesExhausted' | 'TooManyFailedRows' | 'CommitFailed';

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
