/**
 * Input readiness (spec.input.waitFor): is the marker there, and are there enough Parquet files? The
 * I/O half of the sensor; reconciler/wait.ts decides what to do with the answer.
 */
import type { Storage } from '../../../core/src/storage/types.js';
import type { WaitFor } from '../../../core/src/contract/job-spec.js';
import { NotFoundError, joinUri } from '../../../core/src/contract/index.js';
import type { InputReadiness } from '../reconciler/types.js';
import { isInputParquet } from './list-input.js';

/** The folder a marker name is relative to: input.uri, or the folder of a single .parquet input. */
const inputFolder = (inputUri: string): string =>
  inputUri.endsWith('.parquet') ? inputUri.slice(0, Math.max(0, inputUri.lastIndexOf('/'))) : inputUri;

/** Where spec.input.waitFor.marker points: a full URI as it is, a name under the input's folder. Pure. */
export const markerUri = (inputUri: string, marker: string): string =>
  (marker.includes('://') ? marker : joinUri(inputFolder(inputUri), marker));

/** Input Parquet files (the planner's rule: *.parquet outside _ and . folders), counted up to `enough`. */
async function countParquet(storage: Storage, inputUri: string, enough: number): Promise<number> {
  if (inputUri.endsWith('.parquet')) return (await storage.exists(inputUri)) ? 1 : 0;
  const prefix = inputUri.endsWith('/') ? inputUri : inputUri + '/';
  let n = 0;
  try {
    for await (const o of storage.list(prefix)) {
      if (isInputParquet(prefix, o.uri) && ++n >= enough) break;
    }
  } catch (err) {
    if (err instanceof NotFoundError) return 0; // no such folder yet: nothing written
    throw err;
  }
  return n;
}

export async function checkReadiness(storage: Storage, input: { uri: string; waitFor: WaitFor }): Promise<InputReadiness> {
  const { waitFor } = input;
  const found: string[] = [];
  const missing: string[] = [];
  if (waitFor.marker !== undefined) {
    const uri = markerUri(input.uri, waitFor.marker);
    if (await storage.exists(uri)) found.push(`${uri} exists`);
    else missing.push(`${uri} does not exist (spec.input.waitFor.marker)`);
  }
  if (waitFor.minFiles !== undefined) {
    const n = await countParquet(storage, input.uri, waitFor.minFiles);
    if (n >= waitFor.minFiles) found.push(`at least ${waitFor.minFiles} Parquet files under ${input.uri}`);
    else missing.push(`${n} of at least ${waitFor.minFiles} Parquet files under ${input.uri} (spec.input.waitFor.minFiles)`);
  }
  return missing.length === 0 ? { ready: true, found: found.join('; ') } : { ready: false, missing: missing.join('; ') };
}
