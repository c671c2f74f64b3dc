/**
 * The model at planning: frozen with the plan (its sha256, size and version as planning finds them)
 * and its graph's inputs and outputs read for the mapping checks, from one stat and, for a model of
 * up to WHOLE_READ_BYTES, one pass over its bytes. The bytes are hashed in ranged reads of a fixed
 * size, each pinned to the version first seen, so a model of many GB costs the operator one pass and
 * CHUNK bytes of memory at a time; the graph of such a model is read in small windows that skip the
 * weights (tensors/model-info.ts).
 */
import { createHash } from 'node:crypto';
import type { ObjectInfo, ReadOptions, Storage } from '../../../core/src/storage/types.js';
import { WHOLE_READ_BYTES, bytesSource, modelReadError, readModelInfo, type ModelBytes } from '../../../core/src/tensors/model-info.js';
import type { ModelMeta } from '../../../core/src/tensors/types.js';
import { BadInputError, type PlannedModel } from '../../../core/src/contract/index.js';
import { awaitedLater } from '../../../core/src/contract/settle.js';

const CHUNK = 8 * 1024 * 1024;
/** Ranged reads in flight at once (the hash consumes them in order). */
const AHEAD = 4;

/** sha256 of [0, info.size) in pinned ranged reads; `onChunk` sees each chunk, in order. */
async function hashModel(storage: Storage, uri: string, info: ObjectInfo, pin: ReadOptions | undefined, onChunk?: (c: Uint8Array) => void): Promise<string> {
  const hash = createHash('sha256');
  const reads: Promise<Uint8Array>[] = [];
  let next = 0;
  const fill = () => {
    while (reads.length < AHEAD && next < info.size) {
      const p = storage.readRange(uri, next, Math.min(info.size, next + CHUNK), pin);
      awaitedLater(p); // awaited in order below
      reads.push(p);
      next += CHUNK;
    }
  };
  fill();
  while (reads.length > 0) {
    const chunk = await reads.shift()!;
    hash.update(chunk);
    onChunk?.(chunk);
    fill();
  }
  return hash.digest('hex');
}

export interface InspectedModel {
  frozen: PlannedModel;
  meta: ModelMeta;
}

/** The model frozen and read; BadInputError naming spec.model.uri when it is missing, not a model,
 * or not the bytes spec.model.sha256 pins. */
export async function inspectModel(storage: Storage, uri: string, pinned?: string): Promise<InspectedModel> {
  let info: ObjectInfo;
  try {
    info = await storage.stat(uri);
  } catch (err) {
    throw modelReadError(uri, err);
  }
  const pin = info.etag ? { ifMatch: info.etag } : undefined;
  const whole = info.size <= WHOLE_READ_BYTES ? new Uint8Array(info.size) : undefined;
  let at = 0;
  const sha256 = await hashModel(storage, uri, info, pin, whole && ((c) => { whole.set(c, at); at += c.length; }));
  if (pinned !== undefined && pinned.toLowerCase() !== sha256) {
    throw new BadInputError(`model at ${uri} has sha256 ${sha256}, but spec.model.sha256 is ${pinned.toLowerCase()}: the bytes differ from the model expected`);
  }
  const src: ModelBytes = whole ? bytesSource(whole) : { size: info.size, read: (s, e) => storage.readRange(uri, s, e, pin) };
  let meta: ModelMeta;
  try {
    const { inputs, outputs } = await readModelInfo(src);
    meta = { inputs, outputs };
  } catch (err) {
    throw modelReadError(uri, err);
  }
  return { frozen: { uri, sha256, size: info.size, ...(info.etag ? { etag: info.etag } : {}) }, meta };
}
