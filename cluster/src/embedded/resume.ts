/**
 * `bij run` resumes an interrupted run instead of scoring it again. The embedded API server gives a
 * job the uid `bij run` asks for (apiserver/store.ts acceptClientUids), and the run id is a hash of
 * the uid and the output-defining spec, so the same job over the same output gets the same run id:
 * its frozen plan, its claim and the shard manifests already written are all picked up, and only
 * the shards without a manifest run. A run that was committed is not resumed: the job runs afresh
 * (its input may have new rows under the same names), under a new uid.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Storage } from '../../../core/src/storage/types.js';
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import { planUri, readSuccessMarker } from '../../../core/src/contract/index.js';
import { runId as computeRunId } from '../../../operator/src/reconciler/runid.js';

/** A uid (UUID-shaped) that depends only on the job's namespace, name and output. Pure. */
export function localUid(namespace: string, name: string, outputUri: string): string {
  const h = createHash('sha256').update(`bij-run\0${namespace}\0${name}\0${outputUri}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export interface LocalIdentity {
  uid: string;
  /** Set when a run of this job was planned here before and not committed: it is resumed. */
  resumes?: string;
}

/** The uid `bij run` gives a job: the stable one, unless its run was already committed. */
export async function localIdentity(storage: Storage, namespace: string, name: string, spec: BatchInferenceJobSpec): Promise<LocalIdentity> {
  const uid = localUid(namespace, name, spec.output.uri);
  const runId = computeRunId(uid, spec);
  if ((await readSuccessMarker(storage, spec.output.uri))?.runId === runId) return { uid: randomUUID() };
  return (await storage.exists(planUri(spec.output.uri, runId))) ? { uid, resumes: runId } : { uid };
}
