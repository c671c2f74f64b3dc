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
/** 409 Conflict on a stale resourceVersion, or a failed JSON-patch `test` precondition (422 in some servers). */
export const isConflict = (e: unknown): boolean =>
  (httpStatus(e) === 409 && apiReason(e) !== 'AlreadyExists') || (httpStatus(e) === 422 && /test/i.test(apiMessage(e)));

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

function statusBody(e: unknown): { reason?: unknown; message?: unknown } | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  let body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  return typeof body === 'object' && body !== null ? (body as { reason?: unknown; message?: unknown }) : undefined;
}

/** A short, single-line description of an API error for logs and conditions. */
export function describeApiError(e: unknown): string {
  const code = httpStatus(e);
  return code ? `HTTP ${code}: ${apiMessage(e)}` : apiMessage(e);
}
