/** The run id: which spec fields define a run's output. Pure. */
import { createHash } from 'node:crypto';
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';

/** JSON with object keys sorted and undefined fields dropped: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The spec fields that define what a run writes. Changing any of them starts a new run; the
 * others (parallelism, suspend, input.waitFor, speculation, maxRetries, maxFailedRows, worker, and the name of the credentials
 * Secret, which says how to authenticate, not where to write) apply to the run in progress. */
export function outputDefiningFields(spec: BatchInferenceJobSpec): unknown {
  const { credentialsSecret: _ignored, ...s3 } = spec.storage.s3;
  // When to start reading (waitFor) does not change what is read.
  const { waitFor: _when, ...input } = spec.input;
  return {
    model: spec.model,
    input,
    output: spec.output,
    shards: spec.shards,
    targetRowsPerShard: spec.targetRowsPerShard,
    batchSize: spec.batchSize,
    storage: { s3 },
  };
}

/** 'r' + 10 hex digits of sha256(uid + canonical JSON of the output-defining fields). The uid makes a
 * re-created BatchInferenceJob of the same name a new run. */
export function runId(uid: string, spec: BatchInferenceJobSpec): string {
  const h = createHash('sha256').update(uid).update('\n').update(canonicalJson(outputDefiningFields(spec)));
  return 'r' + h.digest('hex').slice(0, 10);
}
