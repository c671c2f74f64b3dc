/** The readiness check (spec.input.waitFor) on real files. */
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage } from '../../../core/src/storage/file.js';
import { checkReadiness, markerUri } from './readiness.js';

let dir: string;
const storage = new FileStorage();
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bij-ready-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

test.each([
  ['s3://lake/x/', '_SUCCESS', 's3://lake/x/_SUCCESS'],
  ['s3://lake/x', '_SUCCESS', 's3://lake/x/_SUCCESS'],
  ['s3://lake/x/part-0.parquet', '_SUCCESS', 's3://lake/x/_SUCCESS'],
  ['s3://lake/x/', 's3://lake/_markers/x.done', 's3://lake/_markers/x.done'],
])('markerUri(%s, %s) = %s', (input, marker, want) => {
  expect(markerUri(input, marker)).toBe(want);
});

test('a marker: missing (naming the path), then there', async () => {
  const input = `file://${dir}/in/`;
  const waitFor = { marker: '_SUCCESS', timeoutSeconds: 60, pollSeconds: 1 };
  expect(await checkReadiness(storage, { uri: input, waitFor })).toEqual({ ready: false, missing: `file://${dir}/in/_SUCCESS does not exist (spec.input.waitFor.marker)` });
  await mkdir(join(dir, 'in'));
  await writeFile(join(dir, 'in', '_SUCCESS'), '');
  expect(await checkReadiness(storage, { uri: input, waitFor })).toEqual({ ready: true, found: `file://${dir}/in/_SUCCESS exists` });
});

test('minFiles counts input Parquet files only (not under _ or . folders), and a missing folder as none', async () => {
  const input = `file://${dir}/in/`;
  const waitFor = { minFiles: 2, timeoutSeconds: 60, pollSeconds: 1 };
  expect(await checkReadiness(storage, { uri: input, waitFor })).toMatchObject({ ready: false, missing: expect.stringContaining('0 of at least 2 Parquet files') });
  await mkdir(join(dir, 'in', '_temporary'), { recursive: true });
  await writeFile(join(dir, 'in', 'a.parquet'), 'x');
  await writeFile(join(dir, 'in', '_temporary', 'b.parquet'), 'x');
  expect(await checkReadiness(storage, { uri: input, waitFor })).toMatchObject({ ready: false, missing: expect.stringContaining('1 of at least 2') });
  await writeFile(join(dir, 'in', 'c.parquet'), 'x');
  expect(await checkReadiness(storage, { uri: input, waitFor })).toMatchObject({ ready: true });
});

test('both: ready only when both hold, and the message names each missing thing', async () => {
  const input = `file://${dir}/in/`;
  await mkdir(join(dir, 'in'));
  await writeFile(join(dir, 'in', 'a.parquet'), 'x');
  const r = await checkReadiness(storage, { uri: input, waitFor: { marker: '_SUCCESS', minFiles: 1, timeoutSeconds: 60, pollSeconds: 1 } });
  expect(r).toEqual({ ready: false, missing: `file://${dir}/in/_SUCCESS does not exist (spec.input.waitFor.marker)` });
});
