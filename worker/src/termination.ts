/** The short JSON summary a worker leaves at its termination-message path, and its exit code. */
import { writeFileSync } from 'node:fs';
import {
  EXIT, TERMINATION_MESSAGE_LIMIT, describeError, isBadInput, toJson, type TerminationSummary,
} from '../../core/src/contract/index.js';

/** Pure: the outcome, exit code and summary for an error (or success when err is undefined). */
export function outcomeOf(err: unknown, base: Omit<TerminationSummary, 'outcome' | 'message'>, okMessage = 'shard scored'):
  { code: number; summary: TerminationSummary } {
  if (err === undefined) return { code: EXIT.ok, summary: { ...base, outcome: 'succeeded', message: okMessage } };
  const message = describeError(err);
  if (isBadInput(err)) return { code: EXIT.badInput, summary: { ...base, outcome: 'bad-input', message } };
  return { code: EXIT.retryable, summary: { ...base, outcome: 'failed', message } };
}

/** Serialises within Kubernetes' 4 KiB limit, shortening the message if needed. */
export function serializeSummary(summary: TerminationSummary): string {
  let s = toJson(summary);
  if (Buffer.byteLength(s) <= TERMINATION_MESSAGE_LIMIT) return s;
  const overflow = Buffer.byteLength(s) - TERMINATION_MESSAGE_LIMIT + 16;
  s = toJson({ ...summary, message: summary.message.slice(0, Math.max(0, summary.message.length - overflow)) + ' …' });
  return s;
}

/** Best effort: a missing /dev/termination-log outside Kubernetes must not hide the real outcome. */
export function writeTerminationLog(path: string, summary: TerminationSummary): void {
  try {
    writeFileSync(path, serializeSummary(summary));
  } catch {
    /* the log line printed by the caller still carries the summary */
  }
}
