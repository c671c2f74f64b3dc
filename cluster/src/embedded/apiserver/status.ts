/**
 * Kubernetes `Status` errors with the same reason, code, message and details as the real apiserver
 * (k8s.io/apimachinery/pkg/api/errors). The store throws ApiError; the HTTP layer writes `.status`.
 */
import type { FieldError, FieldErrorType } from './types.js';

export interface StatusCause { reason?: string; message?: string; field?: string }
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  readonly status: Status;
  constructor(status: Status, readonly headers: Record<string, string> = {}) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.name = 'ApiError';
    this.status = status;
  }
  /** Same property name as client-node's ApiException, so callers can share checks. */
  get code(): number { return this.status.code; }
  get reason(): string | undefined { return this.status.reason; }
}

export function failure(code: number, reason: string, message: string, details?: StatusDetails): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) s.details = details;
  return s;
}

/** `jobs.batch` for grouped resources, `pods` for the core group. */
export function qualified(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

export interface GR { group: string; resource: string }
export interface GK { group: string; kind: string }

export const notFound = (gr: GR, name: string) => new ApiError(failure(404, 'NotFound',
  `${qualified(gr.resource, gr.group)} "${name}" not found`, { name, group: gr.group || undefined, kind: gr.resource }));

export const alreadyExists = (gr: GR, name: string) => new ApiError(failure(409, 'AlreadyExists',
  `${qualified(gr.resource, gr.group)} "${name}" already exists`, { name, group: gr.group || undefined, kind: gr.resource }));

export const conflict = (gr: GR, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
  new ApiError(failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr.resource, gr.group)} "${name}": ${why}`,
    { name, group: gr.group || undefined, kind: gr.resource }));

export const badRequest = (message: string) => new ApiError(failure(400, 'BadRequest', message));

export const methodNotAllowed = (verb: string, gr?: GR) => new ApiError(failure(405, 'MethodNotAllowed',
  'the server does not allow this method on the requested resource',
  gr ? { group: gr.group || undefined, kind: gr.resource } : undefined), { Allow: '' });

export const pathNotFound = () => new ApiError(failure(404, 'NotFound', 'the server could not find the requested resource', {}));

export const unsupportedMediaType = (contentType: string, accepted: string[]) => new ApiError(failure(415, 'UnsupportedMediaType',
  `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`),
  { 'X-Unsupported-Content-Type': contentType });

export const expired = (message: string) => new ApiError(failure(410, 'Expired', message));

export const unauthorized = () => new ApiError(failure(401, 'Unauthorized', 'Unauthorized'));

export const internalError = (message: string) => new ApiError(failure(500, 'InternalError',
  `Internal error occurred: ${message}`, { causes: [{ message }] }));

export const tooManyRequests = (retryAfterSeconds: number) => new ApiError(failure(429, 'TooManyRequests',
  'Too many requests, please try again later.', { retryAfterSeconds }), { 'Retry-After': String(retryAfterSeconds) });

export const timeout = (message: string, retryAfterSeconds = 1) => new ApiError(failure(504, 'Timeout', message,
  { retryAfterSeconds }), { 'Retry-After': String(retryAfterSeconds) });

/** A generic 422 (for example a failed JSON-patch `test`), as apierrors.NewGenericServerResponse. */
export const unprocessable = (message: string) => new ApiError(failure(422, 'Invalid', message));

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  FieldValueDuplicate: 'Duplicate value',
};

/** Go's %v / %q rendering of a bad value, as field.Error.ErrorBody does. */
export function renderValue(v: unknown): string {
  if (v === null) return '"null"';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** The part of field.Error after the path: `Required value`, `Invalid value: "x": detail`. */
export function errorBody(e: FieldError): string {
  let s = TYPE_TEXT[e.type];
  const omitValue = e.type === 'FieldValueRequired' || e.type === 'FieldValueForbidden' || e.type === 'FieldValueTooLong'
    || e.value === undefined;
  if (!omitValue) s += `: ${renderValue(e.value)}`;
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

export const fieldErrorString = (e: FieldError) => (e.field ? `${e.field}: ${errorBody(e)}` : errorBody(e));

/** apierrors.NewInvalid: `Kind.group "name" is invalid: <errors>`, 422, causes naming each field. */
export function invalid(gk: GK, name: string, errs: FieldError[]): ApiError {
  const qk = gk.group ? `${gk.kind}.${gk.group}` : gk.kind;
  const list = errs.map(fieldErrorString);
  const agg = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  return new ApiError(failure(422, 'Invalid', `${qk} "${name}" is invalid: ${agg}`, {
    name, group: gk.group || undefined, kind: gk.kind,
    causes: errs.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field })),
  }));
}

export function success(details: StatusDetails): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}
