/** Finds the input Parquet files of a job: one file, or every *.parquet under a prefix. */
import type { ObjectInfo, Storage } from '../../../core/src/storage/types.js';
import { BadInputError, NotFoundError } from '../../../core/src/contract/index.js';

/** Hidden and bookkeeping files of other engines (Spark's _SUCCESS, _temporary/, .crc) are not input. Pure. */
export function isInputParquet(prefix: string, uri: string): boolean {
  const rel = uri.slice(prefix.replace(/\/+$/, '').length).replace(/^\/+/, '');
  if (!rel.endsWith('.parquet')) return false;
  return !rel.split('/').some((seg) => seg.startsWith('_') || seg.startsWith('.'));
}

export async function listInputFiles(storage: Storage, inputUri: string): Promise<ObjectInfo[]> {
  if (inputUri.endsWith('.parquet')) {
    try {
      return [await storage.stat(inputUri)];
    } catch (err) {
      if (err instanceof NotFoundError) throw new BadInputError(`input file ${inputUri} does not exist (spec.input.uri)`, { cause: err });
      throw err;
    }
  }
  const files: ObjectInfo[] = [];
  const prefix = inputUri.endsWith('/') ? inputUri : inputUri + '/';
  try {
    for await (const o of storage.list(prefix)) if (isInputParquet(prefix, o.uri)) files.push(o);
  } catch (err) {
    if (err instanceof NotFoundError) throw new BadInputError(`no Parquet files under ${inputUri}: ${err.message} (spec.input.uri)`, { cause: err });
    throw err;
  }
  if (files.length === 0) throw new BadInputError(`no Parquet files under ${inputUri} (spec.input.uri)`);
  files.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  return files;
}
