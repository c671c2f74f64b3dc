/**
 * PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902, fast-json-patch), which is what the
 * operator and the local runner send. Strategic merge patch and server-side apply are a 415 naming the
 * two accepted types: the real control plane (`bij up`) serves them.
 */
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { ApiError, badRequest, failure, unsupportedMediaType } from './status.js';
import type { KObject, PatchType } from './types.js';
import { clone, isPlainObject } from './util.js';

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+cbor': 'apply',
};

const ACCEPTED = ['application/json-patch+json', 'application/merge-patch+json'];

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * The 422 the apiserver answers when a JSON patch cannot be applied (a failed `test`, a missing path):
 * apierrors.NewGenericServerResponse(422, ..., isUnexpectedResponse=false), which keeps the generic
 * message and no cause, so why the patch did not apply is not in the answer. (A cause without a field,
 * as this server used to send, is what kubectl prints as "The request is invalid: : <message>".)
 */
const patchFailed = () => new ApiError({
  ...failure(422, 'Invalid', 'the server rejected our request due to an error in our request'),
  details: {},
});

function applyJsonPatch(doc: KObject, ops: unknown): KObject {
  if (!Array.isArray(ops)) throw badRequest(`json: cannot unmarshal ${isPlainObject(ops) ? 'object' : typeof ops} into Go value of type jsonpatch.Patch`);
  for (const op of ops) {
    if (!isPlainObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw badRequest('the server rejected our request due to an error in our request: invalid JSON patch operation');
  }
  try {
    return jsonpatch.applyPatch(clone(doc), ops as Operation[], true, true).newDocument;
  } catch (err) {
    const e = err as { name?: string; message?: string };
    if (e.name === 'TEST_OPERATION_FAILED' || e.name === 'OPERATION_PATH_UNRESOLVABLE' || e.name === 'OPERATION_PATH_CANNOT_ADD'
      || e.name === 'OPERATION_FROM_UNRESOLVABLE' || e.name === 'OPERATION_VALUE_OUT_OF_BOUNDS') {
      throw patchFailed();
    }
    throw badRequest(String(e.message ?? err).split('\n')[0]);
  }
}

export function applyPatch(doc: KObject, type: PatchType, body: unknown, contentType = ''): KObject {
  switch (type) {
    case 'json': return applyJsonPatch(doc, body);
    case 'merge':
      if (!isPlainObject(body)) throw badRequest(`json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type map[string]interface {}`);
      return mergePatch(doc, body) as KObject;
    default:
      throw unsupportedMediaType(contentType || 'application/apply-patch+yaml', ACCEPTED);
  }
}
