/**
 * What the status says when a reconcile cannot reach storage. Pure.
 *
 * The caller (kube/controller.ts) catches the error a reconcile threw, classifies it
 * (kube/storage-failure-kind.ts) and counts the tries in a row. A terminal error (access denied, no such
 * bucket, disk full, read-only file system, an object the plan says exists is gone) fails the run
 * after TERMINAL_TRIES tries, with reason StorageError and the error's message (operation, URI,
 * cause). A transient one (throttling, 5xx, a lost connection) leaves the phase alone but puts the
 * error in status.message and a Warning event, so `kubectl describe` and `bij run` say why nothing
 * moves; the next successful reconcile writes the usual message again.
 */
import type { BatchInferenceJobStatus } from '../api/status.js';
import { buildStatus } from './compute-status.js';
import { phaseEvents } from './events.js';
import { isoSeconds } from './names.js';
import { truncate } from './shards.js';
import type { KubeEvent } from './types.js';

/** Tries of a terminal storage error before the run fails (it may be a blip of a store that lies). */
export const TERMINAL_TRIES = 3;

export interface StorageFailure {
  message: string;
  terminal: boolean;
  /** Failed reconciles in a row with a storage error, this one included. */
  tries: number;
  /** When the first of them failed. */
  since: Date;
}

export interface StorageFailureOutcome {
  /** undefined: leave the status as it is. */
  status?: BatchInferenceJobStatus;
  events: KubeEvent[];
}

export function storageFailureOutcome(
  old: BatchInferenceJobStatus, runId: string, generation: number | undefined, f: StorageFailure, now: Date,
): StorageFailureOutcome {
  // A finished run stays as it finished: a failing sweep afterwards is retried quietly.
  if (old.runId === runId && (old.phase === 'Succeeded' || old.phase === 'Failed')) return { events: [] };
  if (f.terminal && f.tries >= TERMINAL_TRIES) {
    const message = `storage error (after ${f.tries} tries): ${f.message}`;
    const sameRun = old.runId === runId;
    const status = buildStatus(old, {
      phase: 'Failed', generation, runId, outputUri: old.outputUri, startTime: sameRun && old.startTime ? old.startTime : isoSeconds(now),
      ...(sameRun ? { shards: old.shards, rows: old.rows } : {}),
      completionTime: isoSeconds(now), message, failure: { reason: 'StorageError', message },
    }, now);
    return { status, events: phaseEvents(old, status) };
  }
  const message = `retrying since ${isoSeconds(f.since)} after a storage error: ${f.message}`;
  if (old.message === message) return { events: [] };
  return {
    status: { ...old, message },
    events: [{ type: 'Warning', reason: 'StorageRetrying', message: truncate(message, 1024), key: `storage-retrying-${f.since.getTime()}` }],
  };
}
