/**
 * Freezing the model with the plan: its sha256, size and version (ETag or mtime) as planning finds
 * them. The bytes are hashed in ranged reads of a fixed size, each pinned to the version first seen,
 * so a model of many GB costs the operator one pass and CHUNK bytes of memory at a time.
 */
import { createHash } from 'node:crypto';
import type { Storage } from '../../../worker/src/storage/types.js';
import { BadInputError, NotFoundError, type PlannedModel } from '../contract/index.js';

const CHUNK = 8 * 1024 * 1024;
/** Ranged reads in flight at once (the hash consumes them in order). */
const AHEAD = 4;

export async function freezeModel(storage: Storage, uri: string, pinned?: string): Promise<PlannedModel> {
  let info;
  try {
    info = await storage.stat(uri);
  } catch (err) {
    if (err instanceof NotFoundError) throw new BadInputError(`model not found at ${uri} (spec.model.uri)`, { cause: err });
    throw err;
  }
  const hash = createHash('sha256');
  const reads: Promise<Uint8Array>[] = [];
  const read = (start: number) => storage.readRange(uri, start, Math.min(info.size, start + CHUNK), info.etag ? { ifMatch: info.etag } : undefined);
  let next = 0;
  const fill = () => {
    while (reads.length < AHEAD && next < info.size) {
      const p = read(next);
      p.catch(() => undefined); // awaited in order below
      reads.push(p);
      next += CHUNK;
    }
  };
  fill();
  while (reads.length > 0) {
    hash.update(await reads.shift()!);
    fill();
  }
  const sha256 = hash.digest('hex');
  if (pinned !== undefined && pinned.toLowerCase() !== sha256) {
    throw new BadInputError(`model at ${uri} has sha256 ${sha256}, but spec.model.sha256 is ${pinned.toLowerCase()}: the bytes differ from the model expected`);
  }
  return { uri, sha256, size: info.size, ...(info.etag ? { etag: info.etag } : {}) };
}
