/**
 * The shard Job: one batch/v1 Job per (run, shard, attempt), built by a pure constructor with a
 * deterministic name, so creating it twice is harmless (AlreadyExists).
 *
 * - backoffLimit 0 and restartPolicy Never: the operator, not the Job controller, decides about retries
 *   (it knows about shard manifests, bad input and maxRetries).
 * - podFailurePolicy (on by default): a pod with the DisruptionTarget condition (preemption, eviction,
 *   node drain, taint manager, pod GC) is ignored by the Job controller, which starts a replacement pod
 *   for the same attempt without counting it. Clusters or runners without pod failure policies still
 *   work: the Job fails, observeAttempts sees the disruption, and the operator retries without counting.
 * - No ttlSecondsAfterFinished: failed Jobs are the record of a shard's counted failures, so they stay
 *   until the run ends (the reconciler deletes them after success, and with the BatchInferenceJob).
 * - Kueue: when the BatchInferenceJob carries `kueue.x-k8s.io/queue-name`, the Job gets that label (and
 *   `kueue.x-k8s.io/priority-class`, if set) and is created with `spec.suspend: true`, as Kueue's own
 *   mutating webhook would make it: Kueue's batch/Job integration admits it (unsuspends it) when its
 *   ClusterQueue has quota. The operator never unsuspends a Job. The labels go on the Job only, not on
 *   its pods: Kueue's pod integration must not take the pods for workloads of their own.
 */
import type { V1Container, V1EnvFromSource, V1EnvVar, V1Job, V1PodSpec, V1ResourceRequirements } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, KIND, type BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import { DEFAULT_TERMINATION_LOG, ENV } from '../../../core/src/contract/process.js';
import {
  KUEUE_LABELS, LABEL_ATTEMPT, LABEL_JOB, LABEL_KUEUE_QUEUE, LABEL_MANAGED_BY, LABEL_RUN, LABEL_SHARD, LABEL_SPECULATIVE, MANAGED_BY, WORKER_CONTAINER,
  jobName, labelValue,
} from './names.js';

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const WORKER_UID = 65532;

/** What buildShardJob needs of the BatchInferenceJob. */
export interface BijRef {
  /** `labels`: the BatchInferenceJob's; only the Kueue ones (names.ts KUEUE_LABELS) are used. */
  metadata: { name: string; namespace: string; uid: string; labels?: Readonly<Record<string, string>> };
  spec: BatchInferenceJobSpec;
}

export interface ShardAssignment {
  runId: string;
  shard: number;
  attempt: number;
  /** A speculative attempt of a straggling shard (labelled batchinference.dev/speculative=true). */
  speculative?: boolean;
  /** contract/layout.ts planUri(spec.output.uri, runId). */
  planUri: string;
}

export interface ShardJobOptions {
  /** Overrides spec.worker.image (e.g. the local runner's own image name). */
  workerImage?: string;
  /** Overrides the BatchInferenceJob's namespace. */
  namespace?: string;
  /** The container's command and args; default: the image's entrypoint. */
  command?: string[];
  args?: string[];
  /** Add the DisruptionTarget -> Ignore pod failure policy. Default true. */
  podFailurePolicy?: boolean;
}

/** The labels of every Job (and its pods) of one attempt. */
export function attemptLabels(bijName: string, a: { runId: string; shard: number; attempt: number; speculative?: boolean }): Record<string, string> {
  return {
    [LABEL_JOB]: labelValue(bijName),
    [LABEL_RUN]: a.runId,
    [LABEL_SHARD]: String(a.shard),
    [LABEL_ATTEMPT]: String(a.attempt),
    [LABEL_MANAGED_BY]: MANAGED_BY,
    ...(a.speculative ? { [LABEL_SPECULATIVE]: 'true' } : {}),
  };
}

/** The Kueue labels of the BatchInferenceJob that its shard Jobs carry (none without a queue name). */
export function kueueLabels(bijLabels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (!bijLabels?.[LABEL_KUEUE_QUEUE]) return {};
  const out: Record<string, string> = {};
  for (const k of KUEUE_LABELS) if (bijLabels[k]) out[k] = bijLabels[k];
  return out;
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

function workerResources(spec: BatchInferenceJobSpec): V1ResourceRequirements | undefined {
  const res = (clone(spec.worker.resources) ?? {}) as V1ResourceRequirements;
  const gpus = spec.worker.gpus;
  if (gpus > 0) {
    res.limits = { ...(res.limits ?? {}), [GPU_RESOURCE]: String(gpus) };
    // Extended resources: a request, when given, must equal the limit.
    if (res.requests && GPU_RESOURCE in res.requests) res.requests = { ...res.requests, [GPU_RESOURCE]: String(gpus) };
  }
  return Object.keys(res).length > 0 ? res : undefined;
}

export function buildShardJob(bij: BijRef, a: ShardAssignment, options: ShardJobOptions = {}): V1Job {
  const { spec, metadata } = bij;
  const w = spec.worker;
  const labels = attemptLabels(metadata.name, a);

  const ours: V1EnvVar[] = [
    { name: ENV.planUri, value: a.planUri },
    { name: ENV.shard, value: String(a.shard) },
    { name: ENV.attempt, value: String(a.attempt) },
    { name: ENV.runId, value: a.runId },
    { name: ENV.s3, value: JSON.stringify(spec.storage.s3) },
    { name: ENV.maxFailedRows, value: String(spec.maxFailedRows) },
    { name: ENV.executionProvider, value: spec.worker.executionProvider },
  ];
  const reserved = new Set(ours.map((e) => e.name));
  const userEnv = (clone(w.env) ?? []) as unknown as V1EnvVar[];
  const env = [...ours, ...userEnv.filter((e) => !reserved.has(e.name))];

  const envFrom = (clone(w.envFrom) ?? []) as unknown as V1EnvFromSource[];
  const secret = spec.storage.s3.credentialsSecret;
  if (secret) envFrom.push({ secretRef: { name: secret } });

  const resources = workerResources(spec);
  const container: V1Container = {
    name: WORKER_CONTAINER,
    image: options.workerImage ?? w.image,
    ...(w.imagePullPolicy ? { imagePullPolicy: w.imagePullPolicy } : {}),
    ...(options.command ? { command: [...options.command] } : {}),
    ...(options.args ? { args: [...options.args] } : {}),
    env,
    ...(envFrom.length > 0 ? { envFrom } : {}),
    ...(resources ? { resources } : {}),
    terminationMessagePath: DEFAULT_TERMINATION_LOG,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: {
      runAsNonRoot: true,
      runAsUser: WORKER_UID,
      runAsGroup: WORKER_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };

  const podSpec: V1PodSpec = {
    restartPolicy: 'Never',
    containers: [container],
    volumes: [{ name: 'tmp', emptyDir: {} }],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: WORKER_UID,
      runAsGroup: WORKER_UID,
      fsGroup: WORKER_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    ...(w.nodeSelector ? { nodeSelector: { ...w.nodeSelector } } : {}),
    ...(w.tolerations ? { tolerations: clone(w.tolerations) as V1PodSpec['tolerations'] } : {}),
    ...(w.affinity ? { affinity: clone(w.affinity) as V1PodSpec['affinity'] } : {}),
    ...(w.priorityClassName ? { priorityClassName: w.priorityClassName } : {}),
    ...(w.serviceAccountName ? { serviceAccountName: w.serviceAccountName } : {}),
  };

  const kueue = kueueLabels(metadata.labels);
  const queued = LABEL_KUEUE_QUEUE in kueue;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(metadata.name, a.runId, a.shard, a.attempt),
      namespace: options.namespace ?? metadata.namespace,
      labels: { ...labels, ...kueue },
      ownerReferences: [{
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: KIND,
        name: metadata.name,
        uid: metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    spec: {
      ...(queued ? { suspend: true } : {}),
      backoffLimit: 0,
      completions: 1,
      parallelism: 1,
      ...(options.podFailurePolicy === false ? {} : {
        podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] },
      }),
      template: {
        metadata: { labels: { ...labels } },
        spec: podSpec,
      },
    },
  };
}
