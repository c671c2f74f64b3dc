import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJobFile, resolveLocalPaths, resolveLocalUri } from './job-file.js';

describe('resolveLocalUri', () => {
  test.each([
    ['models/m.onnx', '/jobs', '/jobs/models/m.onnx'],
    ['data/in/', '/jobs', '/jobs/data/in/'],
    ['/abs/x.parquet', '/jobs', '/abs/x.parquet'],
    ['s3://bucket/key', '/jobs', 's3://bucket/key'],
    ['file:///abs/path', '/jobs', 'file:///abs/path'],
    ['', '/jobs', ''],
  ])('%s under %s -> %s', (uri, base, expected) => {
    expect(resolveLocalUri(uri, base)).toBe(expected);
  });
});

describe('readJobFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bij-jobfile-'));
  test('finds the BatchInferenceJob among several documents and resolves paths next to the file', () => {
    const path = join(dir, 'job.yaml');
    writeFileSync(path, `apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\napiVersion: batchinference.dev/v1alpha1\nkind: BatchInferenceJob\nmetadata: {name: j}\nspec:\n  model: {uri: m.onnx}\n  input: {uri: in/}\n  output: {uri: s3://b/out/}\n`);
    const job = resolveLocalPaths(readJobFile(path), path);
    expect(job.metadata?.name).toBe('j');
    expect(job.spec).toMatchObject({ model: { uri: join(dir, 'm.onnx') }, input: { uri: join(dir, 'in') + '/' }, output: { uri: 's3://b/out/' } });
  });
  test.each([
    ['no job', 'apiVersion: v1\nkind: ConfigMap\n', /holds no BatchInferenceJob/],
    ['bad yaml', 'kind: [unclosed\n', /is not valid YAML/],
  ])('%s', (_n, text, message) => {
    const path = join(dir, `bad-${Math.random()}.yaml`);
    writeFileSync(path, text);
    expect(() => readJobFile(path)).toThrow(message);
  });
  test('scalars read as kubectl reads them (YAML 1.1): booleans, octal, underscores; dates stay strings', () => {
    const path = join(dir, 'scalars.yaml');
    writeFileSync(path, 'kind: BatchInferenceJob\nspec: {suspend: yes, parallelism: 010, maxFailedRows: 1_000, model: {version: 2024-01-31}, x: 1:20}\n');
    expect(readJobFile(path).spec).toEqual({ suspend: true, parallelism: 8, maxFailedRows: 1000, model: { version: '2024-01-31' }, x: '1:20' });
  });
  test('a missing file names the path', () => {
    expect(() => readJobFile(join(dir, 'nope.yaml'))).toThrow(/cannot read .*nope\.yaml/);
  });
});
