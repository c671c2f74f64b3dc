/**
 * spec.monitoring.baseline, read once when the run is planned and frozen with the plan: the baseline
 * run's output statistics (contract/output-stats.ts). `uri` names a manifest that must be there;
 * `previousRun` takes the run committed at output.uri before this one, if there is one.
 */
import type { Storage } from '../../../core/src/storage/types.js';
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import {
  BadInputError, NotFoundError, RunManifestSchema, readSuccessMarker, runManifestUri, type RunManifest, type ShardPlan,
} from '../../../core/src/contract/index.js';

/** The manifest a baseline uri names: itself when it names a .json file, else the _manifest.json under it. */
export const baselineManifestUri = (uri: string): string => (/\.json$/i.test(uri) ? uri : runManifestUri(uri));

async function readManifest(storage: Storage, uri: string, field: string): Promise<RunManifest | undefined> {
  let text: string;
  try {
    text = await storage.readText(uri);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BadInputError(`${field}: ${uri} is not JSON`, { cause: e });
  }
  const parsed = RunManifestSchema.safeParse(json);
  if (!parsed.success) throw new BadInputError(`${field}: ${uri} is not a run manifest (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

export async function readBaseline(storage: Storage, spec: BatchInferenceJobSpec): Promise<ShardPlan['monitoring']> {
  const b = spec.monitoring?.baseline;
  if (!b) return undefined;
  if (b.uri !== undefined) {
    const uri = baselineManifestUri(b.uri);
    const m = await readManifest(storage, uri, 'spec.monitoring.baseline.uri');
    if (!m) throw new BadInputError(`spec.monitoring.baseline.uri: ${uri} does not exist`);
    if (!m.outputs) throw new BadInputError(`spec.monitoring.baseline.uri: ${uri} (run ${m.runId}) has no output statistics: it was committed by an operator without them; use a later run`);
    return { baseline: { uri, runId: m.runId, outputs: m.outputs } };
  }
  const out = spec.output.uri;
  const uri = runManifestUri(out);
  const marker = await readSuccessMarker(storage, out);
  if (!marker) return { note: `no committed run at ${out} yet (spec.monitoring.baseline.previousRun): no baseline` };
  const m = await readManifest(storage, uri, 'spec.monitoring.baseline.previousRun');
  if (!m || m.runId !== marker.runId) return { note: `${uri} is not the manifest of the run _SUCCESS names (${marker.runId}): no baseline` };
  if (!m.outputs) return { note: `the previous run ${m.runId} (${uri}) has no output statistics: no baseline` };
  return { baseline: { uri, runId: m.runId, outputs: m.outputs } };
}
