/** Validating a BatchInferenceSchedule (what `bij validate` and the operator say), and a job made by hand
 * that holds a schedule's placeholder. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseBatchInferenceSchedule } from './validate-schedule.js';
import { parseBatchInferenceJob } from './validate.js';

const examples = join(dirname(fileURLToPath(import.meta.url)), '../../../examples');
const nightly = () => parse(readFileSync(join(examples, 'nightly-schedule.yaml'), 'utf8')) as Record<string, any>;

test('the nightly example parses, with the schedule\'s defaults and the template\'s', () => {
  const r = parseBatchInferenceSchedule(nightly());
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  expect(r.schedule.spec).toMatchObject({ schedule: '0 2 * * *', timeZone: 'Europe/Berlin', concurrencyPolicy: 'Forbid', suspend: false });
  expect(r.schedule.spec.jobTemplate.spec).toMatchObject({ batchSize: 4096, input: { uri: 's3://lake/features/date=${date-1d}/' } });
  const defaults = parseBatchInferenceSchedule({ ...nightly(), spec: { schedule: '@daily', jobTemplate: nightly().spec.jobTemplate } });
  expect(defaults.ok && defaults.schedule.spec).toMatchObject({ concurrencyPolicy: 'Forbid', successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1, suspend: false });
});

test.each<[string, (d: Record<string, any>) => void, string, string]>([
  ['a bad cron schedule', (d) => { d.spec.schedule = '0 25 * * *'; }, 'spec.schedule', 'hour'],
  ['an unknown time zone', (d) => { d.spec.timeZone = 'Berlin'; }, 'spec.timeZone', 'IANA'],
  ['an unknown concurrency policy', (d) => { d.spec.concurrencyPolicy = 'Queue'; }, 'spec.concurrencyPolicy', ''],
  ['a negative history limit', (d) => { d.spec.successfulJobsHistoryLimit = -1; }, 'spec.successfulJobsHistoryLimit', ''],
  ['a misspelt field', (d) => { d.spec.concurencyPolicy = 'Allow'; }, 'spec.concurencyPolicy', 'unknown field'],
  ['an unknown placeholder', (d) => { d.spec.jobTemplate.spec.output.uri = 's3://scores/${ds}/'; }, 'spec.jobTemplate.spec.output.uri', 'unknown placeholder ${ds}'],
  ['a template whose output lies in its input', (d) => { d.spec.jobTemplate.spec.output.uri = 's3://lake/features/date=${date-1d}/scores/'; },
    'spec.jobTemplate.spec.output.uri', 'inside the input prefix'],
  ['a template without an input', (d) => { delete d.spec.jobTemplate.spec.input; }, 'spec.jobTemplate.spec.input', ''],
  ['no jobTemplate', (d) => { delete d.spec.jobTemplate; }, 'spec.jobTemplate', ''],
  ['a bad name', (d) => { d.metadata.name = 'Nightly_Churn'; }, 'metadata.name', 'RFC 1123'],
])('%s is refused, naming %s', (_name, breakIt, field, message) => {
  const doc = nightly();
  breakIt(doc);
  const r = parseBatchInferenceSchedule(doc);
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.errors).toContainEqual({ field, message: expect.stringContaining(message) });
});

test('a BatchInferenceJob made by hand with a placeholder in a path is refused, naming the field', () => {
  const job = { apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name: 'by-hand' }, spec: nightly().spec.jobTemplate.spec };
  const r = parseBatchInferenceJob(job);
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.errors).toEqual([
    { field: 'spec.input.uri', message: expect.stringContaining('holds the placeholder ${date-1d}, which only a BatchInferenceSchedule\'s jobTemplate fills in') },
    { field: 'spec.output.uri', message: expect.stringContaining('holds the placeholder ${date-1d}') },
  ]);
  job.spec.input.uri = 's3://lake/features/date=2026-12-04/';
  job.spec.output.uri = 's3://scores/churn/v3/date=2026-12-04/';
  expect(parseBatchInferenceJob(job).ok).toBe(true);
});
