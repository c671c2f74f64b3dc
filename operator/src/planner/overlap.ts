/**
 * The input and the output must never overlap: an output inside the input is read back as input by
 * the next run, and an output equal to the input lets the commit overwrite or delete input files.
 * validate.ts refuses overlapping spellings; this check, at planning, also follows symlinks.
 */
import { canonicalLocation, locationText, overlap } from '../../../core/src/storage/location.js';
import { BadInputError } from '../../../core/src/contract/index.js';

export async function checkInputOutputApart(inputUri: string, outputUri: string): Promise<void> {
  const [input, output] = await Promise.all([canonicalLocation(inputUri), canonicalLocation(outputUri)]);
  const o = overlap(output, input);
  if (o === undefined) return;
  const where = o === 'same' ? 'is the input location'
    : o === 'a-inside-b' ? 'lies inside the input location' : 'contains the input location';
  throw new BadInputError(
    `spec.output.uri ${outputUri} ${where} ${inputUri} (both resolve to ${locationText(o === 'b-inside-a' ? output : input)}` +
    `${o === 'same' ? '' : ` and ${locationText(o === 'b-inside-a' ? input : output)}`}); choose an output outside the input`);
}

/** A guard for the commit: whether a location the commit is about to write or delete is one of the
 * plan's input files (resolved through symlinks). */
export async function inputFileGuard(inputFiles: readonly string[]): Promise<(uri: string) => Promise<boolean>> {
  const inputs = new Set((await Promise.all(inputFiles.map((u) => canonicalLocation(u)))).map(locationText));
  return async (uri) => inputs.has(locationText(await canonicalLocation(uri)));
}
