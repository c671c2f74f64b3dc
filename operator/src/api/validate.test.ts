import { baseSpec } from '../testing/builders.js';
import { BatchInferenceJobSpecSchema, type BatchInferenceJobSpecInput } from '../../../core/src/contract/job-spec.js';
import { dropNullFields, fieldPath, parseBatchInferenceJob, parseStatus, specWarnings, validateSpecSemantics } from './validate.js';

const doc = (spec: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name: 'churn', namespace: 'default' }, spec, ...extra,
});
const withSpec = (patch: (s: BatchInferenceJobSpecInput) => void): BatchInferenceJobSpecInput => {
  const s = structuredClone(baseSpec());
  patch(s);
  return s;
};

describe('parseBatchInferenceJob', () => {
  test('a valid job gets the defaults', () => {
    const r = parseBatchInferenceJob(doc(baseSpec()));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.bij.spec).toMatchObject({
      parallelism: 8, batchSize: 4096, maxRetries: 3, maxFailedRows: 0, suspend: false,
      worker: { executionProvider: 'auto', gpus: 0 },
      storage: { s3: { region: 'us-east-1', endpoint: '', forcePathStyle: false, credentialsSecret: '' } },
      output: { compression: 'zstd' },
    });
    expect(r.bij.status).toEqual({});
  });

  test.each<[string, unknown, { field: string; message?: RegExp }[]]>([
    ['a missing required field', withSpec((s) => { delete (s.input as Partial<typeof s.input>).idColumn; }), [{ field: 'spec.input.idColumn' }]],
    ['an array item', withSpec((s) => { s.input.passthroughColumns = ['a', '']; }), [{ field: 'spec.input.passthroughColumns[1]' }]],
    ['a map entry refinement', withSpec((s) => { s.model.inputs.X = { columns: ['a'], column: 'b' }; }), [{ field: 'spec.model.inputs.X', message: /exactly one of columns or column/ }]],
    ['a map key with odd characters', withSpec((s) => { s.model.outputs['a.b'] = { column: '' }; }), [{ field: 'spec.model.outputs["a.b"].column' }]],
    ['an unknown field', withSpec((s) => { (s as Record<string, unknown>).shard = 3; }), [{ field: 'spec.shard', message: /unknown field/ }]],
    ['shards and targetRowsPerShard', withSpec((s) => { s.targetRowsPerShard = 10; }), [{ field: 'spec.shards', message: /at most one/ }]],
    ['a bound', withSpec((s) => { s.parallelism = 0; }), [{ field: 'spec.parallelism' }]],
    ['an enum', withSpec((s) => { s.worker = { executionProvider: 'tpu' as 'cpu' }; }), [{ field: 'spec.worker.executionProvider' }]],
    ['an empty ONNX input name', withSpec((s) => { s.model.inputs = { '': { columns: ['a'] } }; }), [{ field: 'spec.model.inputs[""]', message: /key "": must not be empty/ }]],
    ['an integer beyond 2^53 - 1', withSpec((s) => { s.maxFailedRows = 1e16; }), [{ field: 'spec.maxFailedRows', message: /9007199254740991/ }]],
    ['a null in a list', withSpec((s) => { s.input.passthroughColumns = [null as unknown as string]; }), [{ field: 'spec.input.passthroughColumns[0]' }]],
    ['a null required field', withSpec((s) => { (s.input as Record<string, unknown>).uri = null; }), [{ field: 'spec.input.uri' }]],
    ['a null map value (dropped, leaving no input)', withSpec((s) => { (s.model.inputs as Record<string, unknown>).X = null; }), [{ field: 'spec.model.inputs', message: /at least one/ }]],
  ])('schema errors name the field: %s', (_name, spec, want) => {
    const r = parseBatchInferenceJob(doc(spec));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    for (const w of want) {
      const hit = r.errors.find((e) => e.field === w.field);
      expect(hit).toBeDefined();
      if (w.message) expect(hit!.message).toMatch(w.message);
    }
  });

  test('envelope errors', () => {
    const r = parseBatchInferenceJob({ apiVersion: 'v1', kind: 'Job', metadata: {}, spec: baseSpec() });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.field)).toEqual(['apiVersion', 'kind', 'metadata.name']);
    expect(parseBatchInferenceJob('x')).toMatchObject({ ok: false });
    expect(parseBatchInferenceJob({ metadata: { name: 'a' } })).toMatchObject({ ok: false, errors: [{ field: 'spec' }] });
  });

  test.each([
    ['Upper', /not a lowercase RFC 1123 subdomain/],
    ['a_b', /not a lowercase RFC 1123 subdomain/],
    ['-a', /not a lowercase RFC 1123 subdomain/],
    ['a.', /not a lowercase RFC 1123 subdomain/],
    ['a..b', /not a lowercase RFC 1123 subdomain/],
    ['a'.repeat(254), /no more than 253 characters/],
  ])('metadata.name %s is refused as the API server refuses it', (name, message) => {
    const r = parseBatchInferenceJob({ ...doc(baseSpec()), metadata: { name } });
    expect(r).toMatchObject({ ok: false, errors: [{ field: 'metadata.name', message: expect.stringMatching(message) }] });
  });

  test.each(['a', 'churn-2024.v1', '0', 'a'.repeat(253)])('metadata.name %s is fine', (name) => {
    expect(parseBatchInferenceJob({ ...doc(baseSpec()), metadata: { name } })).toMatchObject({ ok: true });
  });

  test('null fields are dropped (and defaulted) as the API server drops them', () => {
    const r = parseBatchInferenceJob(doc({ ...baseSpec(), shards: null, worker: null, model: { ...baseSpec().model, version: null } }));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.bij.spec.shards).toBeUndefined();
    expect(r.bij.spec.model.version).toBeUndefined();
    expect(r.bij.spec.worker).toMatchObject({ executionProvider: 'auto', gpus: 0 });
    expect(parseBatchInferenceJob(doc(null))).toMatchObject({ ok: false, errors: [{ field: 'spec', message: 'is required' }] });
  });

  test('semantic errors keep the parsed spec and the status, so the operator can still act', () => {
    const r = parseBatchInferenceJob(doc(withSpec((s) => { s.output.uri = s.input.uri; }), { status: { phase: 'Running', runId: 'r1' } }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.spec?.output.uri).toBe('s3://lake/features/');
    expect(r.status).toMatchObject({ phase: 'Running', runId: 'r1' });
  });

  test('an unreadable status becomes {}', () => {
    expect(parseStatus({ phase: 'Exploded' })).toEqual({});
    expect(parseStatus(undefined)).toEqual({});
  });
});

describe('validateSpecSemantics', () => {
  const check = (patch: (s: BatchInferenceJobSpecInput) => void) => validateSpecSemantics(BatchInferenceJobSpecSchema.parse(withSpec(patch)));

  test('the base spec is fine', () => {
    expect(check(() => {})).toEqual([]);
  });

  test.each<[string, (s: BatchInferenceJobSpecInput) => void, string, RegExp]>([
    ['no inputs', (s) => { s.model.inputs = {}; }, 'spec.model.inputs', /at least one/],
    ['no outputs', (s) => { s.model.outputs = {}; }, 'spec.model.outputs', /at least one/],
    ['duplicate output columns', (s) => { s.model.outputs.other = { column: 'score' }; }, 'spec.model.outputs.other.column', /also written by output probs/],
    ['output column = idColumn', (s) => { s.model.outputs.probs.column = 'id'; }, 'spec.model.outputs.probs.column', /idColumn/],
    ['output column = passthrough column', (s) => { s.input.passthroughColumns = ['score']; }, 'spec.model.outputs.probs.column', /passthrough/],
    ['idColumn in passthroughColumns', (s) => { s.input.passthroughColumns = ['region', 'id']; }, 'spec.input.passthroughColumns[1]', /idColumn/],
    ['duplicate passthrough columns', (s) => { s.input.passthroughColumns = ['region', 'region']; }, 'spec.input.passthroughColumns[1]', /duplicate/],
    ['duplicate input columns', (s) => { s.model.inputs.X = { columns: ['f0', 'f1', 'f0'] }; }, 'spec.model.inputs.X.columns[2]', /duplicate column f0/],
    ['output = input', (s) => { s.output.uri = 's3://lake/features'; }, 'spec.output.uri', /must differ/],
    ['output inside input', (s) => { s.output.uri = 's3://lake/features/scores/'; }, 'spec.output.uri', /inside the input/],
    ['input inside output', (s) => { s.input.uri = 's3://scores/churn/in/'; }, 'spec.input.uri', /inside the output/],
    ['file uris compare as paths', (s) => { s.input.uri = 'file:///data/in'; s.output.uri = '/data/in/out'; }, 'spec.output.uri', /inside the input/],
    ['output = input with a double slash', (s) => { s.input.uri = 'file:///data/eq/'; s.output.uri = 'file:///data//eq/'; }, 'spec.output.uri', /must differ/],
    ['output = input with a percent-encoded letter', (s) => { s.input.uri = 'file:///data/eq/'; s.output.uri = 'file:///data/%65q'; }, 'spec.output.uri', /must differ/],
    ['output = input through ..', (s) => { s.input.uri = '/data/eq'; s.output.uri = '/data/x/../eq/'; }, 'spec.output.uri', /must differ/],
    ['output inside input through ..', (s) => { s.input.uri = 's3://lake/in/'; s.output.uri = 's3://lake/x/../in/out/'; }, 'spec.output.uri', /inside the input/],
    ['S3 keys with a double slash', (s) => { s.input.uri = 's3://lake//in/'; s.output.uri = 's3://lake/in'; }, 'spec.output.uri', /must differ/],
    ['a reserved env name', (s) => { s.worker = { env: [{ name: 'BIJ_SHARD', value: '1' }] }; }, 'spec.worker.env[0].name', /is reserved: BIJ_\* variables are set by the operator/],
    ['the test fault hook', (s) => { s.worker = { env: [{ name: 'BIJ_FAULT', value: 'exit:0' }] }; }, 'spec.worker.env[0].name', /BIJ_FAULT is reserved/],
    ['an env entry without a name', (s) => { s.worker = { env: [{ value: '1' }] }; }, 'spec.worker.env[0].name', /required/],
    ['gpus in resources', (s) => { s.worker = { gpus: 1, resources: { limits: { 'nvidia.com/gpu': 2 } } }; }, 'spec.worker.resources.limits', /spec.worker.gpus/],
  ])('%s', (_name, patch, field, message) => {
    const errors = check(patch);
    expect(errors.find((e) => e.field === field)?.message).toMatch(message);
  });

  test('BIJ_DECODERS is the one BIJ_ variable a spec may set (README: worker.env sets the decoder count)', () => {
    expect(check((s) => { s.worker = { env: [{ name: 'BIJ_DECODERS', value: '4' }] }; })).toEqual([]);
  });

  test('a prefix that only shares a beginning is not inside', () => {
    expect(check((s) => { s.input.uri = 's3://b/in'; s.output.uri = 's3://b/in-scores/'; })).toEqual([]);
  });
});

describe('specWarnings', () => {
  const warn = (env: unknown[]) => specWarnings(BatchInferenceJobSpecSchema.parse({ ...baseSpec(), worker: { env } }));
  test.each([
    ['AWS_SECRET_ACCESS_KEY', { value: 'abc' }, 1],
    ['HF_TOKEN', { value: 'abc' }, 1],
    ['db_password', { value: 'abc' }, 1],
    ['OPENAI_API_KEY', { value: 'abc' }, 1],
    ['AWS_SECRET_ACCESS_KEY', { valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }, 0],
    ['AWS_SECRET_ACCESS_KEY', { value: '' }, 0],
    ['LOG_LEVEL', { value: 'debug' }, 0],
  ])('%s %j -> %i warning(s)', (name, rest, n) => {
    const w = warn([{ name, ...rest }]);
    expect(w).toHaveLength(n);
    if (n) expect(w[0]).toMatchObject({ field: 'spec.worker.env[0].value', message: expect.stringMatching(new RegExp(`${name} looks like a credential.*Secret`)) });
  });
});

test('dropNullFields follows the schema: object fields and map values go, list items and schemaless nodes stay', () => {
  const schema = {
    type: 'object',
    properties: {
      a: { type: 'string' },
      n: { type: 'string', nullable: true },
      m: { type: 'object', additionalProperties: { type: 'string' } },
      l: { type: 'array', items: { type: 'object', properties: { x: { type: 'string' } } } },
      p: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
  const input = { a: null, n: null, m: { k: null, j: 'v' }, l: [null, { x: null }], p: { q: null }, unknown: null };
  expect(dropNullFields(input, schema)).toEqual({ n: null, m: { j: 'v' }, l: [null, {}], p: { q: null }, unknown: null });
  expect(input.a).toBeNull();
});

test('fieldPath', () => {
  expect(fieldPath(['model', 'inputs', 'my input', 'columns', 0], 'spec')).toBe('spec.model.inputs["my input"].columns[0]');
  expect(fieldPath([])).toBe('');
});

describe('spec.output.partitionBy and addColumns (semantic checks)', () => {
  const out = (o: Record<string, unknown>, passthrough: string[] = ['region']) => withSpec((s) => {
    s.input.passthroughColumns = passthrough;
    s.model.version = undefined;
    Object.assign(s.output, o);
  });
  test.each<[string, BatchInferenceJobSpecInput, string[]]>([
    ['a passthrough and a run column', out({ partitionBy: ['region', 'day'], addColumns: [{ name: 'day', source: 'scheduledDate', timeZone: 'Europe/Berlin' }] }), []],
    ['a column neither passed through nor added', out({ partitionBy: ['country'] }), ['spec.output.partitionBy[0]']],
    ['the idColumn', out({ partitionBy: ['id'] }), ['spec.output.partitionBy[0]']],
    ['an output column', out({ partitionBy: ['score'] }), ['spec.output.partitionBy[0]']],
    ['a column twice', out({ partitionBy: ['region', 'region'] }), ['spec.output.partitionBy[1]']],
    ['a run column named like the id', out({ addColumns: [{ name: 'id', source: 'runId' }] }), ['spec.output.addColumns[0].name']],
    ['a run column named like a passthrough column', out({ addColumns: [{ name: 'region', source: 'runId' }] }), ['spec.output.addColumns[0].name']],
    ['a run column named like an output column', out({ addColumns: [{ name: 'score', source: 'jobName' }] }), ['spec.output.addColumns[0].name']],
    ['two run columns of one name', out({ addColumns: [{ name: 'r', source: 'runId' }, { name: 'r', source: 'jobName' }] }), ['spec.output.addColumns[1].name']],
    ['modelVersion without spec.model.version', out({ addColumns: [{ name: 'v', source: 'modelVersion' }] }), ['spec.output.addColumns[0].source']],
    ['a timeZone on a non-date column', out({ addColumns: [{ name: 't', source: 'scheduledTime', timeZone: 'UTC' }] }), ['spec.output.addColumns[0].timeZone']],
    ['an unknown time zone', out({ addColumns: [{ name: 'd', source: 'scheduledDate', timeZone: 'Mars/Olympus' }] }), ['spec.output.addColumns[0].timeZone']],
  ])('%s', (_n, spec, fields) => {
    const errors = validateSpecSemantics(BatchInferenceJobSpecSchema.parse(spec));
    expect(errors.map((e) => e.field)).toEqual(fields);
    for (const e of errors) expect(e.message.length).toBeGreaterThan(20);
  });
  test('five partition columns are refused by the schema', () => {
    const r = parseBatchInferenceJob(doc(out({ partitionBy: ['a', 'b', 'c', 'd', 'e'] })));
    expect(r.ok ? [] : r.errors.map((e) => e.field)).toEqual(['spec.output.partitionBy']);
  });
});
