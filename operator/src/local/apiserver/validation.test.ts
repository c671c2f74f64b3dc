/** Custom resources against their CRD's openAPIV3Schema: errors naming fields, defaults, pruning, CEL rules. */
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { loadCRDs } from './load.js';
import { startApiServer } from './server.js';
import { startHarness, statusOf, widget, widgetCRD, TEST_GROUP, type Harness } from './testkit.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.server.close(); });

const ns = 'val';
const W = { group: TEST_GROUP, version: 'v1', namespace: ns, plural: 'widgets' };
const create = (body: object) => h.custom.createNamespacedCustomObject({ ...W, body });
const invalid = async (body: object) => (await statusOf(create(body))).body;

const UNCHECKED = '<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

test('a missing required field is a 422 Invalid naming the field, worded like the apiserver', async () => {
  const w = widget('no-id');
  delete (w.spec.input as Record<string, unknown>).idColumn;
  // Required, type, enum and size errors skip the CRD's CEL rules, and the apiserver says so in a field-less cause.
  expect(await invalid(w)).toEqual({
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Invalid', code: 422,
    message: `Widget.${TEST_GROUP} "no-id" is invalid: [spec.input.idColumn: Required value, ${UNCHECKED}]`,
    details: { name: 'no-id', group: TEST_GROUP, kind: 'Widget', causes: [
      { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.input.idColumn' },
      { reason: 'FieldValueInvalid', message: UNCHECKED.replace('<nil>: ', ''), field: '<nil>' },
    ] },
  });
});

test.each([
  ['type', { replicas: 'two' }, `[spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string", ${UNCHECKED}]`],
  ['minimum', { replicas: 0 }, 'spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1'],
  ['enum', { mode: 'warp' }, `[spec.mode: Unsupported value: "warp": supported values: "fast", "slow", ${UNCHECKED}]`],
  ['int-or-string', { size: true }, `[spec.size: Invalid value: "boolean": spec.size in body must be of type integer,string: "boolean", ${UNCHECKED}]`],
  ['map values', { mappings: { X: { columns: 'a' } } }, `[spec.mappings.X.columns: Invalid value: "string": spec.mappings.X.columns in body must be of type array: "string", ${UNCHECKED}]`],
])('%s errors', async (_what, spec, message) => {
  expect((await invalid(widget('bad', spec))).message).toBe(`Widget.${TEST_GROUP} "bad" is invalid: ${message}`);
});

test('several errors are listed together, each as a cause', async () => {
  const body = await invalid({ ...widget('multi', { replicas: -1 }), spec: { replicas: -1, input: { uri: '' } } });
  expect(body.message).toBe(`Widget.${TEST_GROUP} "multi" is invalid: [spec.input.idColumn: Required value, ` +
    'spec.input.uri: Invalid value: "": spec.input.uri in body should be at least 1 chars long, ' +
    `spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 1, ${UNCHECKED}]`);
  expect(body.details.causes.map((c: { field: string }) => c.field)).toEqual(['spec.input.idColumn', 'spec.input.uri', 'spec.replicas', '<nil>']);
});

test('defaults from the schema are applied, nested ones too; nulls and int-or-string are handled', async () => {
  const out = await create(widget('defaults', { worker: { gpus: 2 }, note: null, size: '10Gi' }));
  expect(out.spec).toMatchObject({ replicas: 1, mode: 'fast', worker: { image: 'img:1', gpus: 2 }, note: null, size: '10Gi' });
  const out2 = await create({ ...widget('defaults2'), spec: { ...widget('x').spec, replicas: null, size: 3 } });
  expect(out2.spec).toMatchObject({ replicas: 1, worker: { image: 'img:1', gpus: 0 }, size: 3 });
});

test('unknown fields are pruned with a Warning header, and rejected with fieldValidation=Strict', async () => {
  const { body, response } = await new Promise<{ body: any; response: Response }>((resolve, reject) => {
    h.kc.applyToFetchOptions({}).then(async (opts) => {
      const headers = new Headers(opts.headers as HeadersInit);
      headers.set('Content-Type', 'application/json');
      const response = await fetch(`${h.server.url}/apis/${TEST_GROUP}/v1/namespaces/${ns}/widgets`, {
        method: 'POST', headers, body: JSON.stringify({ ...widget('pruned', { extra: 1, input: { uri: 'u', idColumn: 'id', bogus: true } }), topLevel: 'x', metadata: { name: 'pruned', junk: 1 } }),
      });
      resolve({ body: await response.json(), response });
    }).catch(reject);
  });
  expect(response.status).toBe(201);
  expect(body.spec).toEqual({ input: { uri: 'u', idColumn: 'id' }, replicas: 1, mode: 'fast', worker: { image: 'img:1', gpus: 0 } });
  expect(body.topLevel).toBeUndefined();
  expect(body.metadata.junk).toBeUndefined();
  expect(response.headers.get('warning')).toContain('299 - "unknown field \\"spec.extra\\""');
  const strict = await statusOf(h.custom.createNamespacedCustomObject({ ...W, fieldValidation: 'Strict', body: widget('strict', { extra: 1 }) }));
  expect(strict.body).toMatchObject({ code: 400, reason: 'BadRequest', message: 'strict decoding error: unknown field "spec.extra"' });
  const kept = await create(widget('preserved', { config: { any: { thing: [1, 2] } } }));
  expect(kept.spec.config).toEqual({ any: { thing: [1, 2] } });
});

test('CEL rules: has() exclusivity, numeric comparison, map-value rules and messages', async () => {
  expect((await invalid(widget('both', { shards: 2, targetRowsPerShard: 10 }))).message)
    .toBe(`Widget.${TEST_GROUP} "both" is invalid: spec: Invalid value: "object": set at most one of shards or targetRowsPerShard`);
  expect((await invalid(widget('range', { min: 5, max: 2 }))).details.causes)
    .toEqual([{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": min must not exceed max' }]);
  expect((await invalid(widget('map', { mappings: { X: { columns: ['a'], column: 'b' } } }))).message)
    .toBe(`Widget.${TEST_GROUP} "map" is invalid: spec.mappings[X]: Invalid value: "object": set exactly one of columns or column`);
  await create(widget('ok', { shards: 2, min: 1, max: 1, mappings: { X: { column: 'b' } } }));
});

test('CEL transition rules (self == oldSelf) apply on update only', async () => {
  const w = await create(widget('imm', { immutableId: 'a' }));
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  const res = await statusOf(h.custom.patchNamespacedCustomObject({ ...W, name: 'imm', body: { spec: { immutableId: 'b' } } }, merge));
  expect(res.body.message).toBe(`Widget.${TEST_GROUP} "imm" is invalid: spec.immutableId: Invalid value: "string": immutableId is immutable`);
  const same = await h.custom.patchNamespacedCustomObject({ ...W, name: 'imm', body: { spec: { replicas: 3 } } }, merge);
  expect(same.metadata.generation).toBe(w.metadata.generation + 1);
});

test('blocking schema errors stop CEL evaluation; value errors (minimum) do not', async () => {
  const typed = await invalid(widget('typed', { shards: 'x', targetRowsPerShard: 1 }));
  expect(typed.details.causes.map((c: { field: string }) => c.field)).toEqual(['spec.shards', '<nil>']);
  const bounded = await invalid(widget('bounded', { replicas: 0, shards: 1, targetRowsPerShard: 1 }));
  expect(bounded.details.causes.map((c: { field: string }) => c.field)).toEqual(['spec.replicas', 'spec']);
});

test('metadata.name must be a DNS subdomain', async () => {
  const body = await invalid(widget('Not_OK'));
  expect(body.details.causes[0]).toMatchObject({ field: 'metadata.name', reason: 'FieldValueInvalid' });
  expect(body.message).toContain("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters");
});

test('an unsupported CEL rule is reported at CRD registration', async () => {
  const crd = widgetCRD();
  crd.spec.versions[0].schema.openAPIV3Schema.properties.spec['x-kubernetes-validations'] = [{ rule: 'self.start < timestamp("2024-01-01T00:00:00Z")' }];
  await expect(startApiServer({ crds: [crd] })).rejects.toThrow(/unsupported x-kubernetes-validations rule at spec: .*undeclared reference to 'timestamp'/);
});

const projectCrd = fileURLToPath(new URL('../../../../crds/batchinferencejobs.batchinference.dev.yaml', import.meta.url));

test('the project CRD rejects a BatchInferenceJob without spec.input.idColumn, naming the field', async () => {
  const server = await startApiServer({ crds: await loadCRDs(projectCrd) });
  try {
    const custom = server.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
    const bij = YAML.parse(`
apiVersion: batchinference.dev/v1alpha1
kind: BatchInferenceJob
metadata: { name: churn }
spec:
  model: { uri: models/churn.onnx, inputs: { X: { columns: [f0, f1] } }, outputs: { probs: { column: score, select: 1 } } }
  input: { uri: data/ }
  output: { uri: out/ }
`);
    const ref = { group: 'batchinference.dev', version: 'v1alpha1', namespace: 'default', plural: 'batchinferencejobs' };
    const res = await statusOf(custom.createNamespacedCustomObject({ ...ref, body: bij }));
    expect(res.code).toBe(422);
    expect(res.body.message).toBe(`BatchInferenceJob.batchinference.dev "churn" is invalid: [spec.input.idColumn: Required value, ${UNCHECKED}]`);
    expect(res.body.details.causes[0]).toEqual({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.input.idColumn' });
    bij.spec.input.idColumn = 'customer_id';
    const ok = await custom.createNamespacedCustomObject({ ...ref, body: bij });
    expect(ok.spec.parallelism).toBe(8); // a schema default
  } finally { await server.close(); }
});
