/** Path placeholders: rendering (zones, DST, day shifts) and the checks on templates and hand-made jobs. */
import { jobPlaceholderErrors, placeholderProblem, renderString, renderTemplateSpec, templatePlaceholderErrors } from './placeholders.js';

describe('renderString', () => {
  test.each<[string, string, string, string, string]>([
    // name, template, scheduled time (UTC), zone, rendered
    ['date in UTC', 's3://lake/features/date=${date}/', '2026-12-05T02:00:00Z', 'UTC', 's3://lake/features/date=2026-12-05/'],
    ['every field', '${year}/${month}/${day}/${hour}${minute}/${datetime}', '2026-03-07T04:09:00Z', 'UTC', '2026/03/07/0409/20260307T0409'],
    ['the zone decides the date: 23:30 UTC is the next day in Tokyo', 'date=${date}', '2026-12-05T23:30:00Z', 'Asia/Tokyo', 'date=2026-12-06'],
    ['... and still the same day in New York', 'date=${date} h=${hour}', '2026-12-06T03:30:00Z', 'America/New_York', 'date=2026-12-05 h=22'],
    ['a half-hour zone', '${datetime}', '2026-12-05T20:00:00Z', 'Asia/Kolkata', '20261206T0130'],
    ['yesterday', 'date=${date-1d}', '2026-12-05T02:00:00Z', 'Europe/Berlin', 'date=2026-12-04'],
    ['yesterday across a month and a year', '${date-1d}', '2027-01-01T01:00:00Z', 'UTC', '2026-12-31'],
    ['a week ahead', '${date+7d}', '2026-12-28T00:00:00Z', 'UTC', '2027-01-04'],
    ['a leap day', '${date-1d}', '2028-03-01T12:00:00Z', 'UTC', '2028-02-29'],
    ['the night of the spring DST change (Berlin): 03:00 CEST', '${datetime} ${date}', '2026-03-29T01:00:00Z', 'Europe/Berlin', '20260329T0300 2026-03-29'],
    ['a day shift across the spring DST change keeps the wall time', '${datetime-1d}', '2026-03-30T00:30:00Z', 'Europe/Berlin', '20260329T0230'],
    ['the first 02:30 of the autumn DST change (CEST)', '${datetime}', '2026-10-25T00:30:00Z', 'Europe/Berlin', '20261025T0230'],
    ['the second 02:30 (CET) reads the same wall clock', '${datetime}', '2026-10-25T01:30:00Z', 'Europe/Berlin', '20261025T0230'],
    ['several, and text around them untouched', 'a$b/${date}/{x}/$${day}', '2026-12-05T00:00:00Z', 'UTC', 'a$b/2026-12-05/{x}/$05'],
    ['no placeholder: unchanged', 's3://lake/features/', '2026-12-05T00:00:00Z', 'UTC', 's3://lake/features/'],
  ])('%s', (_name, template, at, zone, want) => {
    expect(renderString(template, new Date(at), zone)).toBe(want);
  });
});

test.each<[string, string | undefined]>([
  ['s3://lake/${date}/', undefined],
  ['s3://lake/${date-1d}/${hour}', undefined],
  ['s3://lake/${Date}/', 'unknown placeholder ${Date}'],
  ['s3://lake/${date-1}/', 'unknown placeholder ${date-1}'],
  ['s3://lake/${date - 1d}/', 'unknown placeholder ${date - 1d}'],
  ['s3://lake/${ds}/', 'unknown placeholder ${ds}'],
  ['s3://lake/${date/', 'unclosed placeholder'],
])('placeholderProblem(%s)', (s, want) => {
  const got = placeholderProblem(s);
  if (want === undefined) expect(got).toBeUndefined();
  else expect(got).toContain(want);
});

test('a template: every unknown placeholder under model, input and output is named by field; other sections are not rendered', () => {
  const spec = {
    model: { uri: 's3://m/${version}/model.onnx', inputs: { X: { columns: ['f${day}'] } } },
    input: { uri: 's3://lake/${date}/', idColumn: 'id' },
    output: { uri: 's3://out/${when}/' },
    worker: { env: [{ name: 'X', value: '${date}' }] },
  };
  expect(templatePlaceholderErrors(spec, 'spec.jobTemplate.spec')).toEqual([
    { field: 'spec.jobTemplate.spec.model.uri', message: expect.stringContaining('unknown placeholder ${version}') },
    { field: 'spec.jobTemplate.spec.output.uri', message: expect.stringContaining('unknown placeholder ${when}') },
  ]);
  const rendered = renderTemplateSpec({ ...spec, model: { ...spec.model, uri: 's3://m/model.onnx' }, output: { uri: 's3://out/${date}/' } }, new Date('2026-12-05T00:00:00Z'), 'UTC');
  expect(rendered.model.inputs.X.columns).toEqual(['f05']);
  expect(rendered.input.uri).toBe('s3://lake/2026-12-05/');
  expect(rendered.worker.env[0].value).toBe('${date}'); // only model, input and output are templated
});

test('a job made by hand: any placeholder in model, input or output is refused, naming the field', () => {
  expect(jobPlaceholderErrors({ model: { uri: 's3://m/x.onnx' }, input: { uri: 's3://lake/date=${date}/' }, output: { uri: 's3://o/' } })).toEqual([
    { field: 'spec.input.uri', message: 'holds the placeholder ${date}, which only a BatchInferenceSchedule\'s jobTemplate fills in: write the path out, or create this job from a schedule' },
  ]);
  expect(jobPlaceholderErrors({ model: { uri: 's3://m/x.onnx' }, input: { uri: 's3://lake/$date/' }, output: { uri: 's3://o/' } })).toEqual([]);
});
