/** spec.monitoring.baseline read at planning, on real files. */
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage } from '../../../core/src/storage/file.js';
import { BatchInferenceJobSpecSchema } from '../../../core/src/contract/job-spec.js';
import { ColumnAccumulator, type RunManifest } from '../../../core/src/contract/index.js';
import { baseSpec } from '../testing/builders.js';
import { baselineManifestUri, readBaseline } from './baseline.js';

let dir: string;
const storage = new FileStorage();
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bij-baseline-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

const spec = (monitoring: unknown) => BatchInferenceJobSpecSchema.parse({ ...baseSpec(), output: { uri: `${dir}/out/` }, monitoring });
function manifest(runId: string, withStats = true): RunManifest {
  const acc = new ColumnAccumulator({ min: 0, max: 1, bins: 20, source: 'probability' });
  acc.add([0.25, 0.5]);
  return {
    kind: 'RunManifest', runId, job: { namespace: 'd', name: 'j', uid: 'u', generation: 1 }, model: { uri: 'm', sha256: 'x' },
    rowCount: 2, failedRowCount: 0, inputRowCount: 2, files: [], startedAt: 't', finishedAt: 't', shards: [],
    ...(withStats ? { outputs: { score: acc.finish() } } : {}),
  };
}
async function put(path: string, text: string) {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}

test.each([
  ['s3://b/runs/2026-12-04/', 's3://b/runs/2026-12-04/_manifest.json'],
  ['s3://b/runs/2026-12-04', 's3://b/runs/2026-12-04/_manifest.json'],
  ['s3://b/runs/2026-12-04/_manifest.json', 's3://b/runs/2026-12-04/_manifest.json'],
])('baselineManifestUri(%s) = %s', (uri, want) => expect(baselineManifestUri(uri)).toBe(want));

test('a baseline uri: its statistics; missing, or without statistics: refused, naming it', async () => {
  const uri = `${dir}/prev/_manifest.json`;
  await expect(readBaseline(storage, spec({ baseline: { uri } }))).rejects.toThrow(`spec.monitoring.baseline.uri: ${uri} does not exist`);
  await put(uri, JSON.stringify(manifest('rold', false)));
  await expect(readBaseline(storage, spec({ baseline: { uri } }))).rejects.toThrow(/has no output statistics/);
  await put(uri, '{"kind":"ShardPlan"}');
  await expect(readBaseline(storage, spec({ baseline: { uri } }))).rejects.toThrow(/is not a run manifest/);
  await put(uri, JSON.stringify(manifest('rold')));
  const got = await readBaseline(storage, spec({ baseline: { uri: `${dir}/prev/` } }));
  expect(got).toMatchObject({ baseline: { uri, runId: 'rold', outputs: { score: { count: 2 } } } });
});

test('previousRun: the run _SUCCESS names, or a note saying why there is none', async () => {
  const s = spec({ baseline: { previousRun: true } });
  expect(await readBaseline(storage, s)).toEqual({ note: `no committed run at ${dir}/out/ yet (spec.monitoring.baseline.previousRun): no baseline` });
  await put(`${dir}/out/_manifest.json`, JSON.stringify(manifest('rprev')));
  await put(`${dir}/out/_SUCCESS`, JSON.stringify({ runId: 'rother', manifest: '_manifest.json', committedAt: 't' }));
  expect((await readBaseline(storage, s))?.note).toMatch(/is not the manifest of the run _SUCCESS names \(rother\)/);
  await put(`${dir}/out/_SUCCESS`, JSON.stringify({ runId: 'rprev', manifest: '_manifest.json', committedAt: 't' }));
  expect(await readBaseline(storage, s)).toMatchObject({ baseline: { uri: `${dir}/out/_manifest.json`, runId: 'rprev' } });
  expect(await readBaseline(storage, spec({ warnPSI: 0.1 }))).toBeUndefined();
});
