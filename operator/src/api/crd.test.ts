import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { CRD_FILE, HELM_CRD_FILE, CRD_HEADER, buildCrd, renderCrdYaml, structuralSchemaErrors, toStructural, openApiSchemaOf, type SchemaNode } from './crd.js';
import { makeBIJ, makeInput, attempt } from '../testing/builders.js';
import { reconcile } from '../reconciler/reconcile.js';
import { repoRoot } from './repo-root.js';


type Crd = {
  spec: {
    group: string; scope: string; names: Record<string, unknown>;
    versions: { name: string; served: boolean; storage: boolean; subresources: unknown; additionalPrinterColumns: { name: string; type: string; jsonPath: string }[]; schema: { openAPIV3Schema: SchemaNode } }[];
  };
};
const crd = buildCrd() as unknown as Crd;
const root = crd.spec.versions[0].schema.openAPIV3Schema;
const props = (n: unknown) => (n as { properties: Record<string, SchemaNode> }).properties;
const specSchema = props(root).spec;
const statusSchema = props(root).status;

test.each([HELM_CRD_FILE])('the Helm chart\'s copy %s is up to date (if not: run `npm run crd`)', (file) => {
  const path = join(repoRoot(), file);
  const committed = existsSync(path) ? readFileSync(path, 'utf8') : '(missing)';
  if (committed !== renderCrdYaml()) throw new Error(`${file} differs from the zod schemas: run \`npm run crd\` and commit the result`);
  expect(parse(committed)).toEqual(buildCrd());
});

test(`the committed ${CRD_FILE} is up to date (if not: run \`npm run crd\`)`, () => {
  const path = join(repoRoot(), CRD_FILE);
  const committed = existsSync(path) ? readFileSync(path, 'utf8') : '(missing)';
  const fresh = renderCrdYaml();
  if (committed !== fresh) throw new Error(`${CRD_FILE} differs from the zod schemas: run \`npm run crd\` and commit the result`);
  expect(committed.startsWith(CRD_HEADER)).toBe(true);
  expect(parse(committed)).toEqual(buildCrd());
});

test('names, scope, version, subresources', () => {
  expect(crd.spec).toMatchObject({
    group: 'batchinference.dev',
    scope: 'Namespaced',
    names: { kind: 'BatchInferenceJob', listKind: 'BatchInferenceJobList', plural: 'batchinferencejobs', singular: 'batchinferencejob', shortNames: ['bij'], categories: ['batch'] },
  });
  expect(crd.spec.versions).toHaveLength(1);
  expect(crd.spec.versions[0]).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
});

test('printer columns', () => {
  const cols = crd.spec.versions[0].additionalPrinterColumns.filter((c) => !('priority' in c));
  expect(cols.map((c) => [c.name.toUpperCase(), c.type, c.jsonPath])).toEqual([
    ['PHASE', 'string', '.status.phase'],
    ['SHARDS', 'string', '.status.shardsSummary'],
    ['PROGRESS', 'string', '.status.progress'],
    ['ROWS', 'integer', '.status.rows.processed'],
    ['AGE', 'date', '.metadata.creationTimestamp'],
  ]);
});

test('the schema is structural: a kube-apiserver accepts it', () => {
  expect(structuralSchemaErrors(root)).toEqual([]);
});

test('required fields, enums, defaults, bounds, CEL rules and pass-through objects', () => {
  const s = specSchema as Record<string, any>;
  expect(s.required).toEqual(['model', 'input', 'output']);
  expect(s.properties.input.required).toEqual(['uri', 'idColumn']);
  expect(s.properties.worker.properties.executionProvider).toMatchObject({ type: 'string', enum: ['cuda', 'cpu', 'auto'], default: 'auto' });
  expect(s.properties.parallelism).toEqual({ default: 8, description: expect.any(String), type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
  expect(s.properties.maxFailedRows).toMatchObject({ type: 'integer', minimum: 0, maximum: 9007199254740991 });
  expect(s.properties.shards).toEqual({ type: 'integer', minimum: 1, maximum: 100000 });
  expect(s.properties.worker.default).toEqual({});
  expect(s['x-kubernetes-validations']).toEqual([{ rule: '!(has(self.shards) && has(self.targetRowsPerShard))', message: expect.any(String), fieldPath: '.shards' }]);
  for (const m of ['inputs', 'outputs']) {
    expect(s.properties.model.properties[m]).toMatchObject({ minProperties: 1, 'x-kubernetes-validations': [{ rule: 'self.all(k, size(k) > 0)', message: 'keys must not be empty' }] });
  }
  expect(s.properties.model.properties.inputs.additionalProperties['x-kubernetes-validations'][0].rule).toBe('has(self.columns) != has(self.column)');
  for (const k of ['resources', 'affinity']) expect(s.properties.worker.properties[k]).toEqual({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
  for (const k of ['tolerations', 'env', 'envFrom']) expect(s.properties.worker.properties[k].items).toEqual({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
  expect(s.properties.worker.properties.nodeSelector).toEqual({ type: 'object', additionalProperties: { type: 'string' } });
  const st = statusSchema as Record<string, any>;
  expect(st['x-kubernetes-preserve-unknown-fields']).toBeUndefined();
  expect(st.properties.conditions['x-kubernetes-list-type']).toBe('map');
  expect(st.properties.phase.enum).toContain('Merging');
});

describe('structural-schema checker', () => {
  test.each<[string, unknown, string]>([
    ['missing type', { type: 'object', properties: { a: { description: 'x' } } }, 'type is missing'],
    ['properties with additionalProperties', { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } }, 'mutually exclusive'],
    ['additionalProperties false', { type: 'object', additionalProperties: false }, 'must be a schema'],
    ['$ref', { type: 'object', $ref: '#/x' }, 'keyword $ref'],
    ['anyOf', { type: 'string', anyOf: [{ type: 'string' }] }, 'keyword anyOf'],
    ['uniqueItems', { type: 'array', items: { type: 'string' }, uniqueItems: true }, 'keyword uniqueItems'],
    ['array without items', { type: 'array' }, 'array without items'],
    ['required but not a property', { type: 'object', properties: {}, required: ['a'] }, 'a is not a property'],
    ['numeric exclusiveMinimum', { type: 'integer', exclusiveMinimum: 0 }, 'must be a boolean'],
    ['default not pruned', { type: 'object', properties: { a: { type: 'string' } }, default: { b: 1 } }, 'would be pruned'],
    ['default of the wrong type', { type: 'integer', default: 'x' }, 'not an integer'],
    ['list-map key not required', { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'], items: { type: 'object', properties: { k: { type: 'string' } } } }, 'must be a required field'],
    ['empty CEL rule', { type: 'object', 'x-kubernetes-validations': [{ message: 'x' }] }, 'rule is missing'],
  ])('finds: %s', (_name, schema, want) => {
    const errs = structuralSchemaErrors(schema);
    expect(errs.join('\n')).toContain(want);
  });

  test('accepts preserve-unknown-fields and int-or-string nodes without a type', () => {
    expect(structuralSchemaErrors({ type: 'object', properties: { a: { 'x-kubernetes-int-or-string': true }, b: { 'x-kubernetes-preserve-unknown-fields': true } } })).toEqual([]);
  });
});

describe('toStructural', () => {
  test('converts what zod emits', () => {
    const s = openApiSchemaOf(z.object({
      a: z.number().gt(0),
      b: z.literal('x'),
      c: z.record(z.string(), z.unknown()),
      d: z.record(z.string(), z.number().int()),
      e: z.string().default('d'),
    }).strict());
    expect(s).toEqual({
      type: 'object',
      properties: {
        a: { type: 'number', minimum: 0, exclusiveMinimum: true },
        b: { type: 'string', enum: ['x'] },
        c: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        d: { type: 'object', additionalProperties: { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } },
        e: { type: 'string', default: 'd' },
      },
      required: ['a', 'b', 'c', 'd'],
    });
    expect(structuralSchemaErrors(s)).toEqual([]);
  });

  test('map key rules become CEL rules on the map, after its own', () => {
    const rule = { rule: 'size(self) < 9', message: 'few' };
    expect(openApiSchemaOf(z.record(z.string().min(1), z.string()).meta({ 'x-kubernetes-validations': [rule] }))).toEqual({
      type: 'object', additionalProperties: { type: 'string' },
      'x-kubernetes-validations': [rule, { rule: 'self.all(k, size(k) > 0)', message: 'keys must not be empty' }],
    });
    expect(openApiSchemaOf(z.record(z.string().min(2).max(5), z.string()))['x-kubernetes-validations']).toEqual([
      { rule: 'self.all(k, size(k) >= 2)', message: expect.any(String) }, { rule: 'self.all(k, size(k) <= 5)', message: expect.any(String) },
    ]);
    expect(openApiSchemaOf(z.record(z.string(), z.string()))).toEqual({ type: 'object', additionalProperties: { type: 'string' } });
    expect(() => openApiSchemaOf(z.record(z.string().regex(/^a/), z.string()))).toThrow(/propertyNames: key rule pattern/);
  });

  test('refuses what a structural schema cannot say', () => {
    expect(() => openApiSchemaOf(z.object({ u: z.union([z.string(), z.number()]) }))).toThrow(/union/);
    expect(() => openApiSchemaOf(z.object({ u: z.union([z.object({ a: z.string() }), z.object({ b: z.string() })]) }))).toThrow(/anyOf/);
    expect(() => openApiSchemaOf(z.object({ n: z.string().nullable() }))).toThrow();
    expect(() => toStructural({ type: 'object', not: {} })).toThrow(/not/);
  });
});

describe('objects against the generated schema (ajv as a stand-in for the apiserver)', () => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validSpec = ajv.compile(specSchema);
  const validStatus = ajv.compile(statusSchema);

  test('the quickstart example validates; broken specs do not', () => {
    const example = parse(readFileSync(join(repoRoot(), 'examples/quickstart.yaml'), 'utf8')) as { spec: unknown };
    expect(validSpec(example.spec)).toBe(true);
    const broken = structuredClone(example.spec) as Record<string, any>;
    broken.parallelism = 0;
    delete broken.input.idColumn;
    expect(validSpec(broken)).toBe(false);
  });

  test('statuses the reconciler writes validate', () => {
    const bij = makeBIJ().gpus(1, 2.5).obj();
    const statuses = [
      reconcile(makeInput(bij).obj()).status,
      reconcile(makeInput(bij).uniformPlan(3).attempts(attempt(0).shard(0).failed()).manifest(1, 0).obj()).status,
      reconcile(makeInput(bij).uniformPlan(1).manifest(0, 0).committed().obj()).status,
    ];
    for (const s of statuses) {
      expect(validStatus(s)).toBe(true);
    }
  });
});
