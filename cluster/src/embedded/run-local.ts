/**
 * `bij run`: the whole system on this machine. Starts the embedded API server (with the generated
 * CRD), the unmodified operator (the same Controller a cluster runs) and the local Job runner, applies
 * the BatchInferenceJob through the API like `kubectl apply`, follows its status until it ends, and
 * shuts everything down.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCrd } from '../../../operator/src/api/crd.js';
import { KIND, type S3Settings } from '../../../core/src/contract/job-spec.js';
import type { BatchInferenceJobStatus } from '../../../operator/src/api/status.js';
import { Controller } from '../../../operator/src/kube/controller.js';
import { BIJ_REF, makeClients } from '../../../operator/src/kube/clients.js';
import type { Logger } from '../../../operator/src/log.js';
import { OperatorMetrics } from '../../../operator/src/metrics.js';
import { openStorage } from '../../../core/src/storage/index.js';
import { startApiServer } from './apiserver/index.js';
import { LocalJobRunner } from './runner/runner.js';
import type { JobDocument } from '../../../operator/src/cli/job-file.js';
import { parseBatchInferenceJob } from '../../../operator/src/api/validate.js';
import { localIdentity } from './resume.js';

export interface RunLocalOptions {
  log: Logger;
  namespace?: string;
  /** Called on every status change of the job. */
  onStatus?: (status: BatchInferenceJobStatus | undefined) => void;
  /** Give up after this long (ms). Default: no limit. */
  timeoutMs?: number;
  /** Where pod logs go. Default: a temp folder. */
  workDir?: string;
  /** Worker processes at once on this "node". Default: unlimited (the job's parallelism caps it). */
  maxPods?: number;
  /** Environment for worker processes beyond the current process's (e.g. AWS_* for a local S3). */
  workerEnv?: Record<string, string>;
  /** Called before the job is applied when an interrupted run of it is resumed (resume.ts). */
  onResume?: (runId: string) => void;
  /** Stops the run (Ctrl-C): workers are stopped, and running `bij run` again resumes it. */
  signal?: AbortSignal;
}

export interface RunLocalResult {
  phase: 'Succeeded' | 'Failed' | 'Rejected' | 'TimedOut' | 'Interrupted';
  status?: BatchInferenceJobStatus;
  message: string;
  workDir: string;
  /** The job's Warning events (EmptyInput, ShardFailed...), oldest first, once it ended. */
  warnings?: { reason: string; message: string }[];
  /** The run id this invocation picked up from an interrupted one (resume.ts), if any. */
  resumed?: string;
}

/** The compiled worker entry point: next to this module in dist/, or in dist/ when this module runs
 * from its TypeScript source (tests). */
export function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = join(dirname(here), '..', '..', '..', 'worker', 'src', 'main.js');
  if (existsSync(sibling)) return sibling;
  const root = join(dirname(here), '..', '..', '..');
  const built = join(root, 'dist', 'worker', 'src', 'main.js');
  if (!existsSync(built)) throw new Error(`the worker is not built (${built} is missing): run npm run build`);
  return built;
}

/** The environment a local "node" hands its pods: this process's, minus nothing secret-specific. */
function nodeEnv(extra: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { ...env, ...(extra ?? {}) };
}

export const LOCAL_CLAIM_TTL_MS = 2 * 60_000;

export async function runLocal(job: JobDocument, o: RunLocalOptions): Promise<RunLocalResult> {
  const namespace = o.namespace ?? job.metadata?.namespace ?? 'default';
  const name = job.metadata?.name ?? 'job';
  const workDir = o.workDir ?? mkdtempSync(join(tmpdir(), 'bij-run-'));
  // The embedded API server does not validate custom resources against the CRD's schema: the same
  // rules run here, before anything starts (e2e/real-api/crd-validation.test.ts holds them to the real
  // apiserver's verdicts).
  const parsed = parseBatchInferenceJob({ ...job, metadata: { ...(job.metadata ?? {}), name, namespace } });
  if (!parsed.ok) {
    return { phase: 'Rejected', message: parsed.errors.map((e) => `${e.field}: ${e.message}`).join('; '), workDir };
  }
  const identity = await localIdentity(openStorage({ s3: parsed.bij.spec.storage.s3 }), namespace, name, parsed.bij.spec);
  if (identity.resumes) o.onResume?.(identity.resumes);
  const server = await startApiServer({ crds: [buildCrd()], acceptClientUids: true });
  const kc = server.kubeConfig();
  const clients = makeClients(kc);
  const controller = new Controller({
    clients, log: o.log.child({ component: 'operator' }), metrics: new OperatorMetrics(),
    openStorage: (s3: S3Settings) => openStorage({ s3 }), resyncMs: 10_000,
    // One process holds the claim and renews it every 10 s resync: a bij run that was killed frees
    // its output within two minutes.
    claimTtlMs: LOCAL_CLAIM_TTL_MS,
  });
  const runner = new LocalJobRunner({
    kc, workerCommand: [process.execPath, workerEntry()], workDir, log: o.log.child({ component: 'runner' }),
    baseEnv: nodeEnv(o.workerEnv), maxPods: o.maxPods,
  });
  let result: RunLocalResult | undefined;
  let stopped: Promise<void> | undefined;
  const stopOperator = () => (stopped ??= controller.stop());
  try {
    await runner.start();
    await controller.start();
    await clients.custom.createNamespacedCustomObject({
      ...BIJ_REF, namespace,
      body: { ...job, kind: KIND, metadata: { ...(job.metadata ?? {}), name, namespace, uid: identity.uid } },
    });
    result = await follow(clients, namespace, name, workDir, o);
    // Stopping the operator lets its last reconcile finish, events included (they follow the status
    // write that ended the run).
    await stopOperator();
    if (result.phase === 'Succeeded' || result.phase === 'Failed') result.warnings = await warningsOf(clients, namespace, name);
    if (identity.resumes) result.resumed = identity.resumes;
    return result;
  } finally {
    await stopOperator();
    await runner.stop();
    await server.close();
  }
}

async function warningsOf(clients: ReturnType<typeof makeClients>, namespace: string, name: string): Promise<{ reason: string; message: string }[]> {
  const list = await clients.core.listNamespacedEvent({ namespace });
  return list.items
    .filter((e) => e.type === 'Warning' && e.involvedObject?.kind === KIND && e.involvedObject.name === name)
    .sort((a, b) => String(a.lastTimestamp ?? '').localeCompare(String(b.lastTimestamp ?? '')))
    .map((e) => ({ reason: e.reason ?? '', message: e.message ?? '' }));
}

async function follow(clients: ReturnType<typeof makeClients>, namespace: string, name: string, workDir: string, o: RunLocalOptions): Promise<RunLocalResult> {
  const deadline = o.timeoutMs ? Date.now() + o.timeoutMs : Infinity;
  let last = '';
  for (;;) {
    const obj = (await clients.custom.getNamespacedCustomObject({ ...BIJ_REF, namespace, name })) as { status?: BatchInferenceJobStatus };
    const status = obj.status;
    const text = JSON.stringify(status ?? {});
    if (text !== last) {
      last = text;
      o.onStatus?.(status);
    }
    if (status?.phase === 'Succeeded' || status?.phase === 'Failed') {
      return { phase: status.phase, status, message: status.message ?? '', workDir };
    }
    if (Date.now() > deadline) return { phase: 'TimedOut', status, message: `no result after ${o.timeoutMs} ms`, workDir };
    if (o.signal?.aborted) return { phase: 'Interrupted', status, message: 'interrupted; run the same job again to resume it', workDir };
    await new Promise((r) => setTimeout(r, 250));
  }
}

