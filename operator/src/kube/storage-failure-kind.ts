/**
 * Which errors a reconcile threw came from storage, and whether retrying can help. Kubernetes API
 * errors are not storage errors (the work queue's backoff handles them as before).
 */
import { RetriesExhaustedError, isRetryableS3Error } from '../../../core/src/storage/backend-errors.js';
import { describeError, isBadInput } from '../../../core/src/contract/index.js';

/** File-system errors retrying cannot fix: full, over quota, read-only, not permitted, too large. */
const TERMINAL_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EFBIG']);

const causes = (e: unknown): unknown[] => {
  const out: unknown[] = [];
  for (let cur = e, depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    out.push(cur);
    cur = cur instanceof Error ? (cur as Error & { cause?: unknown }).cause : undefined;
  }
  return out;
};
const errno = (e: unknown): string | undefined => {
  const x = e as { code?: unknown; syscall?: unknown } | null;
  return x && typeof x === 'object' && typeof x.code === 'string' && typeof x.syscall === 'string' ? x.code : undefined;
};
const isSdkError = (e: unknown): boolean => Boolean(e && typeof e === 'object' && '$metadata' in e);

/** undefined: not a storage error. */
export function classifyStorageError(err: unknown): { terminal: boolean; message: string } | undefined {
  const chain = causes(err);
  const message = describeError(err);
  if (chain.some((c) => isBadInput(c) || TERMINAL_ERRNO.has(errno(c) ?? ''))) return { terminal: true, message };
  if (chain.some((c) => c instanceof RetriesExhaustedError || errno(c) !== undefined || isSdkError(c) || isRetryableS3Error(c))) {
    return { terminal: false, message };
  }
  return undefined;
}
