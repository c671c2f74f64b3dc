/** How reader failures become contract errors: bad data is BadInputError naming the file (and row
 * group); a storage hiccup stays a plain (retryable) error; a missing object is bad input. */
import { BadInputError, ChangedError, isBadInput } from '../contract/index.js';
import { ParquetThreadError } from './parquet-thread.js';

const msgOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** storage.readRange/stat failed for an input file. */
export function ioFailure(uri: string, e: unknown): Error {
  if (e instanceof ChangedError) {
    return new BadInputError(`input file ${uri} was rewritten while it was being read (${msgOf(e)}); rows from two versions are never mixed`, { cause: e });
  }
  if (isBadInput(e)) return new BadInputError(`input file ${uri} could not be read: ${msgOf(e)}`, { cause: e });
  return new Error(`reading input file ${uri}: ${msgOf(e)}`, { cause: e });
}

/** parquet-wasm failed (or crashed) on a file. `where` says what was being decoded. */
export function decodeFailure(uri: string, where: string, e: unknown): Error {
  if (e instanceof ParquetThreadError) {
    if (e.ioError !== undefined) return ioFailure(uri, e.ioError);
    if (e.stopped) return e; // we stopped the thread ourselves
    return new BadInputError(`input file ${uri}: ${where} is corrupt or unreadable: ${e.message}`, { cause: e });
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Packing decoded rows into tensors failed in the decoder thread. Rows that do not fit the model's
 * inputs (the packer's BadInputError) are bad input, named by file and row group; anything else is a
 * plain error (a bug, not the data's fault). */
export function packFailure(uri: string, where: string, e: ParquetThreadError): Error {
  if (e.badInput) return new BadInputError(`input file ${uri}, ${where}: ${e.message}`, { cause: e });
  return new Error(`packing ${where} of input file ${uri} into tensors failed: ${e.message}`, { cause: e });
}

/** Lists names, capped so an error message stays readable. */
export function listNames(names: string[], max = 40): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, ... (${names.length} in all)` : shown;
}
