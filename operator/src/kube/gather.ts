/**
 * Observe: everything one reconcile needs, read from the informer caches and from storage (through
 * RunState's caches). Produces the pure reconciler's input; does not decide anything.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Storage } from '../../../core/src/storage/types.js';
import type { S3Settings } from '../../../core/src/contract/job-spec.js';
import type { BatchInferenceJobStatus } from '../api/status.js';
import { parseBatchInferenceJob, parseStatus } from '../api/validate.js';
import { scheduledTimeOf } from '../schedule/names.js';
import { needsStorage, observeAttempts, runId as computeRunId, type ReconcileInput } from '../reconciler/index.js';
import { runManifestUri } from '../../../core/src/contract/index.js';
import type { Logger } from '../log.js';
import type { RunState } from '../commit/run-state.js';
import { checkReadiness } from '../planner/readiness.js';
import type { KubeClients } from './clients.js';

export type BijObject = k8s.KubernetesObject & { spec?: unknown; status?: BatchInferenceJobStatus };

export interface ReconcileContext {
  clients: KubeClients;
  openStorage: (s3: S3Settings) => Storage;
  runState: RunState;
  log: Logger;
  now: Date;
}

export interface Observed {
  input: ReconcileInput;
  /** Storage of the job's spec (absent when the spec does not parse). */
  storage?: Storage;
  /** The slot of the schedule that created the job (its annotation), for the plan's run columns. */
  scheduledTime?: string;
}

export async function observe(ctx: ReconcileContext, obj: BijObject, jobs: k8s.V1Job[], pods: k8s.V1Pod[]): Promise<Observed> {
  const parsed = parseBatchInferenceJob(obj);
  const meta = obj.metadata ?? {};
  const spec = parsed.ok ? parsed.bij.spec : parsed.spec;
  const status = parsed.ok ? parsed.bij.status : parseStatus(obj.status);
  const bij: ReconcileInput['bij'] = {
    metadata: {
      name: meta.name ?? '',
      namespace: meta.namespace ?? '',
      uid: meta.uid ?? '',
      ...(meta.labels ? { labels: meta.labels } : {}),
      generation: meta.generation,
      deletionTimestamp: meta.deletionTimestamp,
      finalizers: meta.finalizers,
    },
    spec,
    status,
  };
  const specErrors = parsed.ok ? [] : parsed.errors;
  const input: ReconcileInput = {
    bij,
    specErrors,
    plan: { state: 'missing' },
    attempts: observeAttempts(jobs, pods),
    manifests: new Map(),
    progress: new Map(),
    commit: { state: 'none' },
    now: ctx.now,
  };
  const storage = spec ? ctx.openStorage(spec.storage.s3) : undefined;
  const { scheduledTime } = scheduledTimeOf(meta.annotations);
  if (!spec || !storage || !needsStorage(bij, specErrors)) return { input, storage, scheduledTime };

  const outputUri = spec.output.uri;
  const runId = computeRunId(bij.metadata.uid, spec);
  const plan = await ctx.runState.loadPlan(storage, outputUri, runId);
  if (!plan) {
    // No plan yet: is the input ready to be planned (spec.input.waitFor)?
    const waitFor = spec.input.waitFor;
    if (waitFor && !spec.suspend) input.readiness = await checkReadiness(storage, { uri: spec.input.uri, waitFor });
    return { input, storage, scheduledTime };
  }
  input.plan = {
    state: 'ready', runId, totalRows: plan.totalRows, shardRows: plan.shards.map((s) => s.rows),
    ...(plan.monitoring ? { monitoring: plan.monitoring } : {}),
  };

  const current = input.attempts.filter((a) => a.runId === runId);
  const finished = current.filter((a) => a.state !== 'active').map(({ shard, attempt }) => ({ shard, attempt }));
  const running = current.filter((a) => a.state === 'active').map(({ shard, attempt }) => ({ shard, attempt }));
  const [manifests, progress, committed] = await Promise.all([
    ctx.runState.manifestsFor(storage, outputUri, runId, finished),
    ctx.runState.progressFor(storage, outputUri, runId, running, ctx.now.getTime()),
    ctx.runState.committedRows(storage, outputUri, runId),
  ]);
  input.manifests = manifests;
  input.progress = progress.rows;
  input.progressTimings = progress.timings;
  input.progressOutputs = progress.outputs;
  input.commit = committed ? { state: 'done', manifestUri: runManifestUri(outputUri), rows: committed } : { state: 'none' };
  return { input, storage, scheduledTime };
}
