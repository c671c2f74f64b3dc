/**
 * One worker of a controller: takes keys from the work queue and reconciles them, controller-runtime's
 * contract: success forgets the key's failures and requeues it after the delay the reconcile asked
 * for; a conflict is re-read soon without an error log; any other error is requeued with per-key
 * backoff. Shared by the BatchInferenceJob and BatchInferenceSchedule controllers.
 */
import { describeError } from '../../../core/src/contract/index.js';
import type { Logger } from '../log.js';
import { isConflict } from './api-errors.js';
import type { WorkQueue } from './workqueue.js';

export type ReconcileOutcome = 'success' | 'error' | 'conflict';

export interface WorkerLoopOptions {
  queue: WorkQueue;
  log: Logger;
  /** Reconciles one key; returns the requeue delay in ms, if any. */
  reconcile: (key: string) => Promise<number | undefined>;
  /** Called once per key taken, before its reconcile; returns what to call when it ends (timing). */
  onStart?: () => () => void;
  onOutcome?: (key: string, outcome: ReconcileOutcome) => void;
  /** A failed reconcile (not a conflict), before its requeue: e.g. say so in the status. Its own
   * failure is logged and does not stop the requeue. */
  onError?: (key: string, err: unknown) => Promise<void>;
}

export async function runWorkerLoop(o: WorkerLoopOptions): Promise<void> {
  const { queue, log } = o;
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    const end = o.onStart?.();
    try {
      const requeueAfterMs = await o.reconcile(key);
      queue.forget(key);
      o.onOutcome?.(key, 'success');
      if (requeueAfterMs !== undefined) queue.addAfter(key, requeueAfterMs);
    } catch (err) {
      if (isConflict(err)) {
        o.onOutcome?.(key, 'conflict');
        log.debug({ key }, 'conflict; re-reading');
        queue.addAfter(key, 50);
      } else {
        o.onOutcome?.(key, 'error');
        if (o.onError) {
          await o.onError(key, err).catch((e: unknown) =>
            log.warn({ key, err: describeError(e) }, 'could not record the error in the status; the reconcile is retried anyway'));
        }
        const delay = queue.addRateLimited(key);
        log.warn({ key, err: describeError(err), retryInMs: delay }, 'reconcile failed; will retry');
      }
    } finally {
      end?.();
      queue.done(key);
    }
  }
}
