/** The BatchInferenceSchedule CRD: committed up to date (both copies), structural, with kubectl's columns. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { structuralSchemaErrors, type SchemaNode } from './crd.js';
import { HELM_SCHEDULE_CRD_FILE, SCHEDULE_CRD_FILE, buildScheduleCrd, renderScheduleCrdYaml } from './schedule-crd.js';
import { repoRoot } from './repo-root.js';


type Crd = { spec: { names: Record<string, unknown>; versions: { additionalPrinterColumns: { name: string; type: string; jsonPath: string; priority?: number }[]; schema: { openAPIV3Schema: SchemaNode } }[] } };
const crd = buildScheduleCrd() as unknown as Crd;
const root = crd.spec.versions[0].schema.openAPIV3Schema;
const props = (n: unknown) => (n as { properties: Record<string, any> }).properties;

test.each([SCHEDULE_CRD_FILE, HELM_SCHEDULE_CRD_FILE])('the committed %s is up to date (if not: run `npm run crd`)', (file) => {
  const path = join(repoRoot(), file);
  const committed = existsSync(path) ? readFileSync(path, 'utf8') : '(missing)';
  if (committed !== renderScheduleCrdYaml()) throw new Error(`${file} differs from the zod schemas: run \`npm run crd\` and commit the result`);
  expect(parse(committed)).toEqual(buildScheduleCrd());
});

test('names: kind BatchInferenceSchedule, short name bijs, in the batch category', () => {
  expect(crd.spec.names).toEqual({
    kind: 'BatchInferenceSchedule', listKind: 'BatchInferenceScheduleList', plural: 'batchinferenceschedules',
    singular: 'batchinferenceschedule', shortNames: ['bijs'], categories: ['batch'],
  });
});

test('printer columns: SCHEDULE, SUSPEND, ACTIVE, LAST SCHEDULE, LAST SUCCESS, AGE (and TIMEZONE with -o wide)', () => {
  const cols = crd.spec.versions[0].additionalPrinterColumns;
  expect(cols.filter((c) => !c.priority).map((c) => [c.name.toUpperCase(), c.type, c.jsonPath])).toEqual([
    ['SCHEDULE', 'string', '.spec.schedule'],
    ['SUSPEND', 'boolean', '.spec.suspend'],
    ['ACTIVE', 'integer', '.status.activeCount'],
    ['LAST SCHEDULE', 'date', '.status.lastScheduleTime'],
    ['LAST SUCCESS', 'date', '.status.lastSuccessfulTime'],
    ['AGE', 'date', '.metadata.creationTimestamp'],
  ]);
  expect(cols.filter((c) => c.priority === 1).map((c) => c.name)).toEqual(['Timezone']);
});

test('the schema is structural, and the job template carries the BatchInferenceJob spec with its rules', () => {
  expect(structuralSchemaErrors(root)).toEqual([]);
  const spec = props(root).spec;
  expect(spec.required).toEqual(['schedule', 'jobTemplate']);
  expect(spec.properties.concurrencyPolicy).toMatchObject({ type: 'string', enum: ['Allow', 'Forbid', 'Replace'], default: 'Forbid' });
  expect(spec.properties.successfulJobsHistoryLimit).toMatchObject({ default: 3, minimum: 0 });
  expect(spec.properties.failedJobsHistoryLimit).toMatchObject({ default: 1, minimum: 0 });
  const template = spec.properties.jobTemplate;
  expect(template.required).toEqual(['spec']);
  expect(template.properties.spec.required).toEqual(['model', 'input', 'output']);
  expect(template.properties.spec['x-kubernetes-validations'][0].rule).toBe('!(has(self.shards) && has(self.targetRowsPerShard))');
  expect(template.properties.metadata.properties.labels).toEqual({ type: 'object', additionalProperties: { type: 'string' }, description: expect.any(String) });
});

test('statuses the controller writes validate against the status schema', () => {
  const valid = new Ajv({ strict: false }).compile(props(root).status);
  expect(valid({})).toBe(true);
  expect(valid({
    lastScheduleTime: '2026-12-05T02:00:00Z', lastSuccessfulTime: '2026-12-05T02:14:10Z', activeCount: 1,
    active: [{ apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', name: 'nightly-29418960', namespace: 'default', uid: 'u1' }],
  })).toBe(true);
  expect(valid({ active: [{ kind: 'BatchInferenceJob' }] })).toBe(false);
});
