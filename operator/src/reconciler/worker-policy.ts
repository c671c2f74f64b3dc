/**
 * What a cluster admin allows a BatchInferenceJob's workers to be. Creating a BatchInferenceJob is
 * close to creating pods (its author picks the image, the service account, and Secrets to read), so
 * the operator can be told to refuse some of it (`bij operator --allowed-image-prefixes ...`). Pure.
 */
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import type { FieldError, WorkerPolicy } from './types.js';

type Ref = { secretRef?: unknown; valueFrom?: { secretKeyRef?: unknown } };

/** The fields of `spec` that `policy` does not allow, named as kubectl names them. */
export function policyViolations(spec: BatchInferenceJobSpec, policy: WorkerPolicy | undefined, imageOverride?: string): FieldError[] {
  if (!policy) return [];
  const out: FieldError[] = [];
  const w = spec.worker;
  const prefixes = policy.allowedImagePrefixes ?? [];
  const image = imageOverride ?? w.image;
  if (prefixes.length > 0 && !prefixes.some((p) => image.startsWith(p))) {
    out.push({ field: 'spec.worker.image', message: `${image} is not allowed here: images must start with ${prefixes.join(' or ')}` });
  }
  const accounts = policy.allowedServiceAccounts ?? [];
  const sa = w.serviceAccountName ?? 'default';
  if (accounts.length > 0 && !accounts.includes(sa)) {
    out.push({ field: 'spec.worker.serviceAccountName', message: `${sa} is not allowed here: use one of ${accounts.join(', ')}` });
  }
  if (policy.allowSecretEnv === false) {
    (w.envFrom as Ref[] | undefined)?.forEach((e, i) => {
      if (e.secretRef) out.push({ field: `spec.worker.envFrom[${i}].secretRef`, message: 'Secrets may not be read into worker env here; use spec.storage.s3.credentialsSecret for S3 credentials' });
    });
    (w.env as Ref[] | undefined)?.forEach((e, i) => {
      if (e.valueFrom?.secretKeyRef) out.push({ field: `spec.worker.env[${i}].valueFrom.secretKeyRef`, message: 'Secrets may not be read into worker env here; use spec.storage.s3.credentialsSecret for S3 credentials' });
    });
  }
  return out;
}
