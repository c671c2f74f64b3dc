/** The job files' JSON Schema (schemas/batchinferencejob.schema.json): committed up to date, referenced
 * by every example, accepting them and refusing broken ones, as the zod schema does. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import {
  JSON_SCHEMA_FILE, SCHEDULE_JSON_SCHEMA_FILE, buildJobJsonSchema, buildScheduleJsonSchema, renderJobJsonSchema, renderScheduleJsonSchema,
} from './json-schema.js';
import { BatchInferenceJobSpecSchema, KIND } from '../../../core/src/contract/job-spec.js';
import { BatchInferenceScheduleSpecSchema, SCHEDULE_KIND } from './schedule.js';
import { parseBatchInferenceSchedule } from './validate-schedule.js';
import { repoRoot } from './repo-root.js';

const root = repoRoot();
const examplesDir = join(root, 'examples');
const examples = readdirSync(examplesDir).filter((f) => /\.ya?ml$/.test(f));
const MODELINE = /^# yaml-language-server: \$schema=(\S+)$/;

// Strict: an unknown keyword in the schema is an error (strictRequired off: required in anyOf/oneOf branches is meant).
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const validate = ajv.compile(buildJobJsonSchema());
const validateSchedule = ajv.compile(buildScheduleJsonSchema());
const errorsWith = (v: typeof validate, doc: unknown): string[] =>
  v(doc) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` ${e.params.additionalProperty}` : ''}`);
const errorsOf = (doc: unknown): string[] => errorsWith(validate, doc);

/** Each kind of file, with its schema file, its editor schema and its zod spec schema. */
const KINDS: Record<string, { file: string; validate: typeof validate; spec: { safeParse: (v: unknown) => { success: boolean } } }> = {
  [KIND]: { file: JSON_SCHEMA_FILE, validate, spec: BatchInferenceJobSpecSchema },
  [SCHEDULE_KIND]: { file: SCHEDULE_JSON_SCHEMA_FILE, validate: validateSchedule, spec: BatchInferenceScheduleSpecSchema },
};

test.each<[string, () => string]>([[JSON_SCHEMA_FILE, renderJobJsonSchema], [SCHEDULE_JSON_SCHEMA_FILE, renderScheduleJsonSchema]])(
  'the committed %s is up to date (if not: run `npm run crd`)', (file, render) => {
    const path = join(root, file);
    const committed = existsSync(path) ? readFileSync(path, 'utf8') : '(missing)';
    if (committed !== render()) throw new Error(`${file} differs from the zod schemas: run \`npm run crd\` and commit the result`);
    expect(JSON.parse(committed)).toEqual(JSON.parse(render()));
  });

test('there are examples, a nightly schedule among them', () => {
  expect(examples).toContain('quickstart.yaml');
  expect(examples).toContain('nightly-schedule.yaml');
});

describe.each(examples)('examples/%s', (file) => {
  const text = readFileSync(join(examplesDir, file), 'utf8');
  const doc = parse(text) as { kind: string; spec: unknown };
  const kind = KINDS[doc.kind];

  test('is a BatchInferenceJob or a BatchInferenceSchedule', () => {
    expect(Object.keys(KINDS)).toContain(doc.kind);
  });

  test('names its kind\'s schema on its first line, by a relative path that leads to it', () => {
    const m = MODELINE.exec(text.split('\n')[0]);
    expect(m).not.toBeNull();
    expect(resolve(examplesDir, m![1])).toBe(join(root, kind.file));
  });

  test('validates against the schema, and the zod schema agrees', () => {
    expect(errorsWith(kind.validate, doc)).toEqual([]);
    expect(kind.spec.safeParse(doc.spec).success).toBe(true);
    if (doc.kind === SCHEDULE_KIND) expect(parseBatchInferenceSchedule(doc)).toMatchObject({ ok: true });
  });
});

describe('broken job files are refused, by the schema and by zod alike', () => {
  const quickstart = () => parse(readFileSync(join(examplesDir, 'quickstart.yaml'), 'utf8')) as Record<string, any>;
  test.each<[string, (d: Record<string, any>) => void, string]>([
    ['a missing idColumn', (d) => { delete d.spec.input.idColumn; }, "/spec/input must have required property 'idColumn'"],
    ['an unknown (misspelt) spec field', (d) => { d.spec.paralelism = 2; }, '/spec must NOT have additional properties paralelism'],
    ['an unknown field deeper down', (d) => { d.spec.worker.gpu = 1; }, '/spec/worker must NOT have additional properties gpu'],
    ['a value out of range', (d) => { d.spec.parallelism = 0; }, '/spec/parallelism must be >= 1'],
    ['a value outside an enum', (d) => { d.spec.worker.executionProvider = 'tpu'; }, '/spec/worker/executionProvider must be equal to one of the allowed values'],
    ['both shards and targetRowsPerShard (a CEL rule)', (d) => { d.spec.targetRowsPerShard = 1000; }, '/spec must NOT be valid'],
    ['an input with both columns and column (a CEL rule)', (d) => { d.spec.model.inputs.X.column = 'embedding'; }, '/spec/model/inputs/X must match exactly one schema in oneOf'],
  ])('%s', (_name, breakIt, want) => {
    const doc = quickstart();
    breakIt(doc);
    expect(errorsOf(doc)).toContain(want);
    expect(BatchInferenceJobSpecSchema.safeParse(doc.spec).success).toBe(false);
  });

  test.each<[string, (d: Record<string, any>) => void, string]>([
    ['another kind', (d) => { d.kind = 'Job'; }, '/kind must be equal to constant'],
    ['another apiVersion', (d) => { d.apiVersion = 'batchinference.dev/v1'; }, '/apiVersion must be equal to constant'],
    ['no metadata name', (d) => { delete d.metadata.name; }, "/metadata must have required property 'name'"],
    ['a status (not part of a job file)', (d) => { d.status = { phase: 'Succeeded' }; }, '/ must NOT have additional properties status'],
  ])('%s', (_name, breakIt, want) => {
    const doc = quickstart();
    breakIt(doc);
    expect(errorsOf(doc)).toContain(want);
  });
});
