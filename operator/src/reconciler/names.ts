/** Labels, names and the finalizer the operator puts on what it owns. Pure. */
import { createHash } from 'node:crypto';

export const LABEL_JOB = 'batchinference.dev/job';
export const LABEL_RUN = 'batchinference.dev/run';
export const LABEL_SHARD = 'batchinference.dev/shard';
export const LABEL_ATTEMPT = 'batchinference.dev/attempt';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
/** "true" on the Job (and pods) of a speculative attempt (spec.speculation). */
export const LABEL_SPECULATIVE = 'batchinference.dev/speculative';
export const MANAGED_BY = 'batch-inference-operator';
/** Set on the BatchInferenceJob while it has Jobs or storage to clean up. */
export const FINALIZER = 'batchinference.dev/cleanup';
/**
 * Kueue (kueue.x-k8s.io): a BatchInferenceJob labelled with a LocalQueue gets shard Jobs with the same
 * label, created suspended, for Kueue's batch/Job integration to admit (README, "Kueue"). The
 * WorkloadPriorityClass label is copied with it.
 */
export const LABEL_KUEUE_QUEUE = 'kueue.x-k8s.io/queue-name';
export const LABEL_KUEUE_PRIORITY_CLASS = 'kueue.x-k8s.io/priority-class';
/** The labels copied from the BatchInferenceJob to its shard Jobs (not to their pods). */
export const KUEUE_LABELS = [LABEL_KUEUE_QUEUE, LABEL_KUEUE_PRIORITY_CLASS] as const;
/** The worker container's name in every shard Job. */
export const WORKER_CONTAINER = 'worker';

/** Longest Job name: 63 (a label value: the Job controller labels pods with it) minus room for the
 * pod name suffix, as the CronJob controller does. */
export const MAX_JOB_NAME = 52;
const MAX_LABEL_VALUE = 63;

export const shortHash = (s: string, n = 8): string => createHash('sha256').update(s).digest('hex').slice(0, n);

/** Lowercase, characters outside [a-z0-9-] become '-', no leading or trailing '-'. */
function dnsLabelPart(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '').replace(/-+$/, '');
}

/** `<bij>-<runId>-s<shard>-a<attempt>`: deterministic, a DNS-1123 label of at most 52 characters.
 * A long BatchInferenceJob name is cut and followed by a hash of the whole name, so two long names
 * with the same beginning still give different Job names. */
export function jobName(bijName: string, runId: string, shard: number, attempt: number): string {
  const suffix = `-${runId}-s${shard}-a${attempt}`;
  const base = dnsLabelPart(bijName) || 'bij';
  if (base === bijName && base.length + suffix.length <= MAX_JOB_NAME) return base + suffix;
  const keep = Math.max(1, MAX_JOB_NAME - suffix.length - 9);
  const cut = base.slice(0, keep).replace(/-+$/, '') || 'bij';
  return `${cut}-${shortHash(bijName)}${suffix}`;
}

/** A string as a label value: itself when it is one, else cut to fit with a hash of the whole. */
export function labelValue(s: string): string {
  const valid = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
  if (s.length <= MAX_LABEL_VALUE && valid.test(s)) return s;
  const cleaned = s.replace(/[^-A-Za-z0-9_.]/g, '-');
  const cut = cleaned.slice(0, MAX_LABEL_VALUE - 9).replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
  return cut ? `${cut}-${shortHash(s)}` : shortHash(s);
}

/** The label selector that finds every Job of one BatchInferenceJob (in its namespace). */
export const jobSelector = (bijName: string): string => `${LABEL_JOB}=${labelValue(bijName)}`;

/** RFC 3339 with second precision, as Kubernetes writes times. */
export function isoSeconds(t: Date | string | number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
