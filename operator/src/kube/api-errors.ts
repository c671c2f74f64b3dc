/** Classifying Kubernetes API errors from @kubernetes/client-node (ApiException has `code` and `body`). */

export function httpStatus(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as { code?: unknown; statusCode?: unknown };
  if (typeof o.code === 'number') return o.code;
  if (typeof o.statusCode === 'number') return o.statusCode;
  return undefined;
}

export const isNotFound = (e: unknown): boolean => httpStatus(e) === 404;
export const isAlreadyExists = (e: unknown): boolean =>
  httpStatus(e) === 409 && apiReason(e) === 'AlreadyExists';
/** The message of the kube-apiserver's 422 when a JSON patch does not apply to the object as it is now
 * (apierrors.NewGenericServerResponse): a failed `test`, or a path that is gone. It carries no cause. */
const JSON_PATCH_NOT_APPLIED = 'the server rejected our request due to an error in our request';

/** 409 Conflict on a stale resourceVersion, or a JSON patch whose guard no longer holds: the 422 the
 * apiserver gives a patch that does not apply (its `test` failed, or a path it tests is gone), or
 * one whose message or causes say the test failed. Either way: re-read and try again. */
export const isConflict = (e: unknown): boolean =>
  (httpStatus(e) === 409 && apiReason(e) !== 'AlreadyExists')
  || (httpStatus(e) === 422 && (apiMessage(e) === JSON_PATCH_NOT_APPLIED || /test/i.test(apiMessage(e))
    || apiCauses(e).some((m) => /test failed/i.test(m))));

/** The Kubernetes Status reason of an API error (AlreadyExists, Conflict, Invalid...). */
export function apiReason(e: unknown): string | undefined {
  const body = statusBody(e);
  return typeof body?.reason === 'string' ? body.reason : undefined;
}

export function apiMessage(e: unknown): string {
  const body = statusBody(e);
  if (typeof body?.message === 'string') return body.message;
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}

/** The messages of a Status' details.causes. */
export function apiCauses(e: unknown): string[] {
  const causes = (statusBody(e)?.details as { causes?: unknown } | undefined)?.causes;
  if (!Array.isArray(causes)) return [];
  return causes.map((c) => (c as { message?: unknown } | null)?.message).filter((m): m is string => typeof m === 'string');
}

function statusBody(e: unknown): { reason?: unknown; message?: unknown; details?: unknown } | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  let body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  return typeof body === 'object' && body !== null ? (body as { reason?: unknown; message?: unknown; details?: unknown }) : undefined;
}

