/**
 * The generated CRD on the real kube-apiserver, and `bij validate` held to the server's verdicts.
 *
 * The committed crds/ file is created as `kubectl create -f` would (YAML, as it is): the server must
 * accept it (a structural schema, CEL rules that compile within the cost budget), mark it Established
 * and store it whole. Then every row of the table below, one job file each, goes to the server (a
 * server-side dry run and a real create, with kubectl's strict field validation) and to `bij validate`
 * (the CLI's own code path, from the same file): both must accept, or both refuse naming the offending
 * field, and an accepted job must mean the same to both (the server's stored spec, defaults applied,
 * equals the spec bij parses). A disagreement prints both sides and the file.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { CRD_FILE, CRD_NAME } from '../../operator/src/api/crd.js';
import { repoRoot } from '../../cluster/src/go-binary.js';
import { installCrd } from '../../cluster/src/up/install.js';
import { useControlPlane } from '../support/control-plane.js';
import { api, bijPath, bijValidate, expectStatus, fieldWithin, refusedFields, waitEstablished, type RawResponse } from '../support/real-api-helpers.js';

const cp = useControlPlane();
const dir = mkdtempSync(path.join(tmpdir(), 'bij-real-api-validation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const committedCrdText = readFileSync(path.join(repoRoot(), CRD_FILE), 'utf8');
const committedCrd = parse(committedCrdText) as { spec: { versions: Record<string, unknown>[] } };
const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

describe('the generated CRD', () => {
  test(`the committed ${CRD_FILE} is accepted, Established and stored whole`, async () => {
    expectStatus(await api(cp(), 'POST', CRDS, { body: committedCrdText }), `create ${CRD_FILE}`, 201);
    const stored = await waitEstablished(cp(), CRD_NAME);
    const version = stored.spec.versions[0];
    expect(version.schema).toEqual(committedCrd.spec.versions[0].schema);
    expect(version.additionalPrinterColumns).toEqual(committedCrd.spec.versions[0].additionalPrinterColumns);
    expect(stored.status.acceptedNames).toMatchObject({ kind: 'BatchInferenceJob', plural: 'batchinferencejobs', shortNames: ['bij'], categories: ['batch'] });
    const discovery = expectStatus(await api(cp(), 'GET', '/apis/batchinference.dev/v1alpha1'), 'discovery', 200).json;
    expect(discovery.resources.map((r: { name: string }) => r.name).sort()).toEqual(['batchinferencejobs', 'batchinferencejobs/status']);
  });

  test('installCrd (what bij up runs) replaces it with the same CRD, x-kubernetes-* keywords and all', async () => {
    await installCrd(cp().kubeConfig());
    const stored = await waitEstablished(cp(), CRD_NAME);
    expect(stored.spec.versions[0].schema).toEqual(committedCrd.spec.versions[0].schema);
  });

  test('the server compiles the CEL rules: the same CRD with a broken rule is refused, naming it', async () => {
    const broken = structuredClone(committedCrd) as any;
    broken.metadata.name = 'brokenjobs.broken.bij.dev';
    broken.spec.group = 'broken.bij.dev';
    broken.spec.names = { kind: 'BrokenJob', plural: 'brokenjobs', singular: 'brokenjob', listKind: 'BrokenJobList' };
    broken.spec.versions[0].schema.openAPIV3Schema.properties.spec['x-kubernetes-validations'][0].rule = 'has(self.shards) && self.nope';
    const r = await api(cp(), 'POST', CRDS, { body: broken });
    expect(r.status).toBe(422);
    expect(r.json.message).toMatch(/x-kubernetes-validations\[0\]\.rule: Invalid value: .*compil.*(nope|undefined field)/s);
  });
});

/** The job every row starts from: valid, with nothing but required fields and a selected output. */
function baseJob(name: string): any {
  return {
    apiVersion: 'batchinference.dev/v1alpha1',
    kind: 'BatchInferenceJob',
    metadata: { name },
    spec: {
      model: { uri: 's3://models/churn.onnx', inputs: { X: { columns: ['f0', 'f1'] } }, outputs: { probs: { column: 'score', select: 1 } } },
      input: { uri: 's3://lake/features/', idColumn: 'id' },
      output: { uri: 's3://lake/scores/' },
    },
  };
}

/** A scalar written into the YAML as it is (`yes`, `010`, `~`, `1e16`), not as a quoted string. */
const raws: string[] = [];
const RAW = (text: string): string => {
  raws.push(text);
  return `RAWxx${raws.length - 1}xxRAW`;
};
const jobText = (job: unknown): string =>
  stringify(job, { version: '1.1', lineWidth: 0 }).replace(/RAWxx(\d+)xxRAW/g, (_m, i: string) => raws[Number(i)]);

interface Row {
  name: string;
  /** Changes the base job (metadata and spec); `RAW(...)` for YAML scalars. */
  job: (j: any) => void;
  want: 'accept' | 'refuse';
  /** The field each refusal must name (or lie inside). */
  field?: string;
  /** For refusals that cannot name a field as a path (YAML-level errors): what each message names. */
  names?: RegExp;
}

const accept = (name: string, job: (j: any) => void): Row => ({ name, job, want: 'accept' });
const refuse = (name: string, field: string, job: (j: any) => void): Row => ({ name, job, want: 'refuse', field });
const del = (o: any, k: string) => { delete o[k]; };

const rows: Row[] = [
  // Good jobs.
  accept('the minimal job', () => {}),
  accept('every field set', (j) => {
    j.spec = {
      model: {
        uri: 's3://models/churn.onnx', version: 'v3', sha256: 'a'.repeat(64), scoreInfinity: true,
        inputs: { X: { columns: ['f0', 'f1'] }, emb: { column: 'embedding' } },
        outputs: { probs: { column: 'score', select: 1 }, label: { column: 'label' } },
      },
      input: { uri: 's3://lake/features/', idColumn: 'id', passthroughColumns: ['region'] },
      output: { uri: 's3://lake/scores/', compression: 'snappy', targetFileBytes: 1 << 20 },
      targetRowsPerShard: 50_000, parallelism: 4, batchSize: 1 << 20, maxRetries: 0, maxFailedRows: 10,
      worker: {
        image: 'registry.example/bij-worker:1', imagePullPolicy: 'IfNotPresent', executionProvider: 'cuda', gpus: 1,
        resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '8Gi' } },
        nodeSelector: { 'nvidia.com/gpu.present': 'true' },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } },
        priorityClassName: 'batch', serviceAccountName: 'scorer',
        env: [{ name: 'BIJ_DECODERS', value: '4' }, { name: 'LOG_LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'level' } } }],
        envFrom: [{ configMapRef: { name: 'cfg' } }], gpuHourlyCost: 2.5,
      },
      storage: { s3: { endpoint: 'http://minio:9000', region: 'eu-west-1', forcePathStyle: true, credentialsSecret: 's3-creds' } },
      suspend: true,
    };
  }),
  accept('a name with dots and dashes', (j) => { j.metadata.name = 'churn.v2-2024'; }),
  accept('a name of 253 characters', (j) => { j.metadata.name = 'n'.repeat(253); }),
  accept('worker: ~ (null: the default worker)', (j) => { j.spec.worker = RAW('~'); }),
  accept('model.version: ~ (null: no version)', (j) => { j.spec.model.version = RAW('~'); }),
  accept('shards: ~ beside targetRowsPerShard (the null is dropped, so only one is set)', (j) => { j.spec.shards = RAW('~'); j.spec.targetRowsPerShard = 1000; }),
  accept('a null map value in nodeSelector (dropped)', (j) => { j.spec.worker = { nodeSelector: { zone: 'a', gone: RAW('~') } }; }),
  accept('a null inside a pass-through object (kept)', (j) => { j.spec.worker = { env: [{ name: 'A', value: RAW('~') }] }; }),
  accept('suspend: yes (a YAML 1.1 boolean, as kubectl reads it)', (j) => { j.spec.suspend = RAW('yes'); }),
  accept('parallelism: 010 (YAML 1.1 octal: 8, as kubectl reads it)', (j) => { j.spec.parallelism = RAW('010'); }),
  accept('maxFailedRows: 1e3 (an integral float)', (j) => { j.spec.maxFailedRows = RAW('1e3'); }),
  accept('maxFailedRows: 2^53 - 1, the largest safe integer', (j) => { j.spec.maxFailedRows = RAW('9007199254740991'); }),
  accept('model.version: 2024-01-31 (an unquoted date stays a string)', (j) => { j.spec.model.version = RAW('2024-01-31'); }),
  accept('gpuHourlyCost: 2 (an integer for a number)', (j) => { j.spec.worker = { gpuHourlyCost: 2 }; }),
  accept('batchSize: auto (int-or-string: the one string allowed)', (j) => { j.spec.batchSize = 'auto'; }),
  accept('batchSize: 1, the smallest', (j) => { j.spec.batchSize = 1; }),

  // Required fields.
  refuse('no spec', 'spec', (j) => del(j, 'spec')),
  refuse('spec: ~', 'spec', (j) => { j.spec = RAW('~'); }),
  refuse('no metadata.name', 'metadata.name', (j) => del(j.metadata, 'name')),
  refuse('no model', 'spec.model', (j) => del(j.spec, 'model')),
  refuse('no model.uri', 'spec.model.uri', (j) => del(j.spec.model, 'uri')),
  refuse('no model.inputs', 'spec.model.inputs', (j) => del(j.spec.model, 'inputs')),
  refuse('no model.outputs', 'spec.model.outputs', (j) => del(j.spec.model, 'outputs')),
  refuse('no column for an output', 'spec.model.outputs.probs.column', (j) => del(j.spec.model.outputs.probs, 'column')),
  refuse('no input', 'spec.input', (j) => del(j.spec, 'input')),
  refuse('no input.uri', 'spec.input.uri', (j) => del(j.spec.input, 'uri')),
  refuse('no input.idColumn', 'spec.input.idColumn', (j) => del(j.spec.input, 'idColumn')),
  refuse('no output', 'spec.output', (j) => del(j.spec, 'output')),
  refuse('no output.uri', 'spec.output.uri', (j) => del(j.spec.output, 'uri')),

  // Nulls where a value is required, or in lists.
  refuse('model: ~', 'spec.model', (j) => { j.spec.model = RAW('~'); }),
  refuse('input.uri: ~', 'spec.input.uri', (j) => { j.spec.input.uri = RAW('~'); }),
  refuse('a null input mapping (dropped, leaving no input)', 'spec.model.inputs', (j) => { j.spec.model.inputs.X = RAW('~'); }),
  refuse('a null in passthroughColumns', 'spec.input.passthroughColumns[0]', (j) => { j.spec.input.passthroughColumns = [RAW('~')]; }),
  refuse('a null toleration', 'spec.worker.tolerations[0]', (j) => { j.spec.worker = { tolerations: [RAW('~')] }; }),

  // Wrong types.
  refuse('parallelism: "3" (a string)', 'spec.parallelism', (j) => { j.spec.parallelism = '3'; }),
  refuse('suspend: "true" (a string)', 'spec.suspend', (j) => { j.spec.suspend = 'true'; }),
  refuse('model.version: 1.10 (a YAML number)', 'spec.model.version', (j) => { j.spec.model.version = RAW('1.10'); }),
  refuse('maxFailedRows: 1.5', 'spec.maxFailedRows', (j) => { j.spec.maxFailedRows = 1.5; }),
  refuse('passthroughColumns as a string', 'spec.input.passthroughColumns', (j) => { j.spec.input.passthroughColumns = 'region'; }),
  refuse('model.inputs as a list', 'spec.model.inputs', (j) => { j.spec.model.inputs = [{ columns: ['f0'] }]; }),
  refuse('worker as a string', 'spec.worker', (j) => { j.spec.worker = 'gpu'; }),
  refuse('worker.resources as a string', 'spec.worker.resources', (j) => { j.spec.worker = { resources: 'big' }; }),
  refuse('a nodeSelector value that is a number', 'spec.worker.nodeSelector.zone', (j) => { j.spec.worker = { nodeSelector: { zone: 1 } }; }),
  refuse('a toleration that is a string', 'spec.worker.tolerations[0]', (j) => { j.spec.worker = { tolerations: ['gpu'] }; }),

  // Enums.
  refuse('compression: brotli', 'spec.output.compression', (j) => { j.spec.output.compression = 'brotli'; }),
  refuse('executionProvider: tpu', 'spec.worker.executionProvider', (j) => { j.spec.worker = { executionProvider: 'tpu' }; }),
  refuse('imagePullPolicy: always (the case matters)', 'spec.worker.imagePullPolicy', (j) => { j.spec.worker = { imagePullPolicy: 'always' }; }),

  // Bounds, lengths and patterns.
  refuse('shards: 0', 'spec.shards', (j) => { j.spec.shards = 0; }),
  refuse('shards: 100001', 'spec.shards', (j) => { j.spec.shards = 100_001; }),
  refuse('parallelism: 0', 'spec.parallelism', (j) => { j.spec.parallelism = 0; }),
  refuse('batchSize: 2^20 + 1', 'spec.batchSize', (j) => { j.spec.batchSize = (1 << 20) + 1; }),
  refuse('batchSize: 0', 'spec.batchSize', (j) => { j.spec.batchSize = 0; }),
  refuse('batchSize: Auto (the case matters)', 'spec.batchSize', (j) => { j.spec.batchSize = 'Auto'; }),
  refuse('batchSize: "4096" (a number in a string)', 'spec.batchSize', (j) => { j.spec.batchSize = '4096'; }),
  refuse('batchSize: 1.5', 'spec.batchSize', (j) => { j.spec.batchSize = 1.5; }),
  refuse('batchSize: true', 'spec.batchSize', (j) => { j.spec.batchSize = true; }),
  refuse('targetFileBytes under 1 MiB', 'spec.output.targetFileBytes', (j) => { j.spec.output.targetFileBytes = 1000; }),
  refuse('maxRetries: -1', 'spec.maxRetries', (j) => { j.spec.maxRetries = -1; }),
  refuse('gpus: -1', 'spec.worker.gpus', (j) => { j.spec.worker = { gpus: -1 }; }),
  refuse('gpuHourlyCost: -0.5', 'spec.worker.gpuHourlyCost', (j) => { j.spec.worker = { gpuHourlyCost: -0.5 }; }),
  refuse('select: -1', 'spec.model.outputs.probs.select', (j) => { j.spec.model.outputs.probs.select = -1; }),
  refuse('sha256 that is not 64 hex digits', 'spec.model.sha256', (j) => { j.spec.model.sha256 = 'abc123'; }),
  refuse('an empty model.uri', 'spec.model.uri', (j) => { j.spec.model.uri = ''; }),
  refuse('an empty idColumn', 'spec.input.idColumn', (j) => { j.spec.input.idColumn = ''; }),
  refuse('an empty passthrough column', 'spec.input.passthroughColumns[0]', (j) => { j.spec.input.passthroughColumns = ['']; }),
  refuse('an empty columns list', 'spec.model.inputs.X.columns', (j) => { j.spec.model.inputs.X = { columns: [] }; }),

  // Integers past 2^53 - 1: JavaScript would round them.
  refuse('maxFailedRows: 2^53', 'spec.maxFailedRows', (j) => { j.spec.maxFailedRows = RAW('9007199254740992'); }),
  refuse('maxFailedRows: 10000000000000000', 'spec.maxFailedRows', (j) => { j.spec.maxFailedRows = RAW('10000000000000000'); }),
  refuse('maxFailedRows: 1e16', 'spec.maxFailedRows', (j) => { j.spec.maxFailedRows = RAW('1e16'); }),
  refuse('maxFailedRows past int64', 'spec.maxFailedRows', (j) => { j.spec.maxFailedRows = RAW('9223372036854775808'); }),

  // Maps of ONNX names.
  refuse('an empty ONNX input name', 'spec.model.inputs', (j) => { j.spec.model.inputs = { '': { columns: ['f0'] } }; }),
  refuse('an empty ONNX output name', 'spec.model.outputs', (j) => { j.spec.model.outputs = { '': { column: 'score' } }; }),
  refuse('no ONNX input', 'spec.model.inputs', (j) => { j.spec.model.inputs = {}; }),
  refuse('no ONNX output', 'spec.model.outputs', (j) => { j.spec.model.outputs = {}; }),

  // CEL rules.
  refuse('shards and targetRowsPerShard', 'spec.shards', (j) => { j.spec.shards = 4; j.spec.targetRowsPerShard = 100; }),
  refuse('an input with both columns and column', 'spec.model.inputs.X', (j) => { j.spec.model.inputs.X = { columns: ['f0'], column: 'emb' }; }),
  refuse('an input with neither columns nor column', 'spec.model.inputs.X', (j) => { j.spec.model.inputs.X = {}; }),
  refuse('waitFor with neither marker nor minFiles', 'spec.input.waitFor', (j) => { j.spec.input.waitFor = { timeoutSeconds: 60 }; }),

  // waitFor and speculation.
  accept('waitFor: a marker, defaults', (j) => { j.spec.input.waitFor = { marker: '_SUCCESS' }; }),
  accept('waitFor: minFiles, a timeout and a poll interval', (j) => { j.spec.input.waitFor = { minFiles: 8, timeoutSeconds: 3600, pollSeconds: 5 }; }),
  accept('waitFor: a marker as a full URI, and minFiles', (j) => { j.spec.input.waitFor = { marker: 's3://lake/_markers/features.done', minFiles: 1 }; }),
  refuse('waitFor: an empty marker', 'spec.input.waitFor.marker', (j) => { j.spec.input.waitFor = { marker: '' }; }),
  refuse('waitFor: minFiles 0', 'spec.input.waitFor.minFiles', (j) => { j.spec.input.waitFor = { minFiles: 0 }; }),
  refuse('waitFor: timeoutSeconds 0', 'spec.input.waitFor.timeoutSeconds', (j) => { j.spec.input.waitFor = { marker: '_SUCCESS', timeoutSeconds: 0 }; }),
  refuse('waitFor: pollSeconds as a string', 'spec.input.waitFor.pollSeconds', (j) => { j.spec.input.waitFor = { marker: '_SUCCESS', pollSeconds: '60' }; }),
  refuse('waitFor: a misspelt field', 'spec.input.waitFor.markr', (j) => { j.spec.input.waitFor = { marker: '_SUCCESS', markr: 'x' }; }),
  accept('speculation: enabled, defaults', (j) => { j.spec.speculation = { enabled: true }; }),
  accept('speculation: every field, a fractional multiplier', (j) => { j.spec.speculation = { enabled: true, multiplier: 2.5, minRuntimeSeconds: 0, maxSpeculative: 4 }; }),
  refuse('speculation: a multiplier under 1', 'spec.speculation.multiplier', (j) => { j.spec.speculation = { enabled: true, multiplier: 0.5 }; }),
  refuse('speculation: maxSpeculative 0', 'spec.speculation.maxSpeculative', (j) => { j.spec.speculation = { enabled: true, maxSpeculative: 0 }; }),
  refuse('speculation: a negative minRuntimeSeconds', 'spec.speculation.minRuntimeSeconds', (j) => { j.spec.speculation = { minRuntimeSeconds: -1 }; }),
  refuse('speculation: a misspelt field', 'spec.speculation.enable', (j) => { j.spec.speculation = { enable: true }; }),

  // Unknown fields (kubectl's default strict field validation).
  refuse('a misspelt spec field', 'spec.paralelism', (j) => { j.spec.paralelism = 3; }),
  refuse('a misspelt nested field', 'spec.model.inputs.X.colums', (j) => { j.spec.model.inputs.X = { columns: ['f0'], colums: ['f1'] }; }),
  refuse('a misspelt worker field', 'spec.worker.gpu', (j) => { j.spec.worker = { gpu: 1 }; }),
  refuse('a misspelt field set to null', 'spec.paralelism', (j) => { j.spec.paralelism = RAW('~'); }),

  // metadata.name: a lowercase RFC 1123 subdomain of at most 253 characters.
  refuse('an uppercase name', 'metadata.name', (j) => { j.metadata.name = 'Churn'; }),
  refuse('a name with an underscore', 'metadata.name', (j) => { j.metadata.name = 'churn_v2'; }),
  refuse('a name starting with a dash', 'metadata.name', (j) => { j.metadata.name = '-churn'; }),
  refuse('a name ending with a dot', 'metadata.name', (j) => { j.metadata.name = 'churn.'; }),
  refuse('a name of 254 characters', 'metadata.name', (j) => { j.metadata.name = 'n'.repeat(254); }),
  accept('partitionBy and addColumns (issue 15)', (j) => {
    j.spec.input.passthroughColumns = ['region'];
    j.spec.output = { uri: 's3://lake/scores/', partitionBy: ['region', 'run_date'], maxOpenPartitions: 32,
      addColumns: [{ name: 'run_id', source: 'runId' }, { name: 'run_date', source: 'scheduledDate', timeZone: 'Europe/Berlin' }] };
  }),
  refuse('five partition columns', 'spec.output.partitionBy', (j) => { j.spec.output.partitionBy = ['a', 'b', 'c', 'd', 'e']; }),
  refuse('an unknown run column source', 'spec.output.addColumns[0].source', (j) => { j.spec.output.addColumns = [{ name: 'x', source: 'hostname' }]; }),
  refuse('a run column without a name', 'spec.output.addColumns[0].name', (j) => { j.spec.output.addColumns = [{ source: 'runId' }]; }),
  refuse('maxOpenPartitions 0', 'spec.output.maxOpenPartitions', (j) => { j.spec.output.maxOpenPartitions = 0; }),

  // spec.monitoring (issue 15): a baseline by uri or previousRun, warnPSI and failPSI.
  accept('monitoring: a baseline manifest, warnPSI default', (j) => { j.spec.monitoring = { baseline: { uri: 's3://lake/scores/2026-12-04/_manifest.json' } }; }),
  accept('monitoring: previousRun, warnPSI and failPSI', (j) => { j.spec.monitoring = { baseline: { previousRun: true }, warnPSI: 0.1, failPSI: 0.25 }; }),
  accept('monitoring: failPSI equal to warnPSI, no baseline', (j) => { j.spec.monitoring = { warnPSI: 0.3, failPSI: 0.3 }; }),
  refuse('monitoring: a baseline with both uri and previousRun', 'spec.monitoring.baseline', (j) => { j.spec.monitoring = { baseline: { uri: 's3://lake/x/', previousRun: true } }; }),
  refuse('monitoring: an empty baseline', 'spec.monitoring.baseline', (j) => { j.spec.monitoring = { baseline: {} }; }),
  refuse('monitoring: previousRun false', 'spec.monitoring.baseline.previousRun', (j) => { j.spec.monitoring = { baseline: { previousRun: false } }; }),
  refuse('monitoring: failPSI below warnPSI', 'spec.monitoring.failPSI', (j) => { j.spec.monitoring = { warnPSI: 0.3, failPSI: 0.2 }; }),
  refuse('monitoring: failPSI below the default warnPSI', 'spec.monitoring.failPSI', (j) => { j.spec.monitoring = { failPSI: 0.1 }; }),
  refuse('monitoring: a negative warnPSI', 'spec.monitoring.warnPSI', (j) => { j.spec.monitoring = { warnPSI: -0.1 }; }),
  refuse('monitoring: a misspelt field', 'spec.monitoring.warnPsi', (j) => { j.spec.monitoring = { warnPsi: 0.1 }; }),

  // YAML-level mistakes: neither side has a field path, both name the key.
  { name: 'a key given twice', want: 'refuse', names: /parallelism/, job: (j) => { j.spec.parallelism = RAW('2\n  parallelism: 3'); } },
  { name: 'gpuHourlyCost: .nan (JSON has no NaN)', want: 'refuse', names: /NaN/, job: (j) => { j.spec.worker = { gpuHourlyCost: RAW('.nan') }; } },
];

/** Checks the rules do what the table says it checks. */
test('the table holds at least 25 rows, good and bad', () => {
  expect(rows.length).toBeGreaterThanOrEqual(25);
  expect(rows.filter((r) => r.want === 'accept').length).toBeGreaterThanOrEqual(5);
  expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
});

const verdict = (ok: boolean) => (ok ? 'accepted' : 'refused');

function serverSays(r: RawResponse): string {
  if (r.status < 300) return `accepted (${r.status})`;
  const fields = refusedFields(r);
  return `refused (${r.status}) ${fields.length ? `naming ${fields.join(', ')}` : 'naming no field'}: ${r.json?.message ?? r.body}`;
}

describe('bij validate and the API server give the same verdict', () => {
  beforeAll(async () => installCrd(cp().kubeConfig()), 30_000); // idempotent: for runs that pick rows with -t
  test.each(rows.map((r, i) => [r.name, r, i] as const))('%s', async (_name, row, i) => {
    const job = baseJob(`row-${i}`);
    row.job(job);
    const text = jobText(job);
    const dry = await api(cp(), 'POST', `${bijPath('default')}?dryRun=All&fieldValidation=Strict`, { body: text });
    const created = await api(cp(), 'POST', `${bijPath('default')}?fieldValidation=Strict`, { body: text });
    const bij = bijValidate(dir, `row-${i}`, text);
    const serverOk = created.status < 300;

    const report = [
      `row "${row.name}": expected both to ${row.want}`,
      `  API server (create, fieldValidation=Strict): ${serverSays(created)}`,
      `  API server (dry run):                        ${serverSays(dry)}`,
      `  bij validate (exit ${bij.code}): ${verdict(bij.ok)}`,
      ...bij.output.map((l) => `    | ${l}`),
      '  the job file:',
      ...text.trimEnd().split('\n').map((l) => `    | ${l}`),
    ].join('\n');
    if (serverOk !== bij.ok) throw new Error(`bij validate and the API server disagree:\n${report}`);
    if ((dry.status < 300) !== serverOk) throw new Error(`the server's dry run and create disagree:\n${report}`);
    if (serverOk !== (row.want === 'accept')) throw new Error(`both ${verdict(serverOk)} it:\n${report}`);

    if (serverOk) {
      // The same meaning: what the server stored (its defaults applied) is what bij parsed.
      expect(bij.parsed?.spec).toEqual(created.json.spec);
      return;
    }
    if (row.field) {
      const serverFields = refusedFields(created);
      if (!serverFields.some((f) => fieldWithin(f, row.field!))) throw new Error(`the API server's refusal does not name ${row.field}:\n${report}`);
      if (!bij.fields.some((f) => fieldWithin(f, row.field!))) throw new Error(`bij validate's refusal does not name ${row.field}:\n${report}`);
    }
    if (row.names) {
      if (!row.names.test(String(created.json?.message ?? created.body))) throw new Error(`the API server's refusal does not name ${row.names}:\n${report}`);
      if (!bij.output.some((l) => row.names!.test(l))) throw new Error(`bij validate's refusal does not name ${row.names}:\n${report}`);
    }
  });
});

/**
 * What only bij refuses, by design: checks a structural schema and CEL cannot express (URIs read as
 * locations, columns across fields, the operator's reserved variables). The server stores such a job;
 * the operator then marks it Failed, naming the same field.
 */
describe('the semantic checks are bij\'s alone', () => {
  beforeAll(async () => installCrd(cp().kubeConfig()), 30_000);
  test.each<[string, string, (j: any) => void]>([
    ['output inside the input prefix', 'spec.output.uri', (j) => { j.spec.output.uri = 's3://lake/features/scores/'; }],
    ['an output column that is the idColumn', 'spec.model.outputs.probs.column', (j) => { j.spec.model.outputs.probs.column = 'id'; }],
    ['a duplicate passthrough column', 'spec.input.passthroughColumns[1]', (j) => { j.spec.input.passthroughColumns = ['region', 'region']; }],
    ['a reserved BIJ_ variable', 'spec.worker.env[0].name', (j) => { j.spec.worker = { env: [{ name: 'BIJ_FAULT', value: 'exit:0' }] }; }],
    ['a schedule\'s placeholder in a job made by hand', 'spec.input.uri', (j) => { j.spec.input.uri = 's3://lake/features/date=${date}/'; }],
    ['a partition column that is not passed through', 'spec.output.partitionBy[0]', (j) => { j.spec.output.partitionBy = ['region']; }],
    ['a partition column that is the idColumn', 'spec.output.partitionBy[0]', (j) => { j.spec.output.partitionBy = ['id']; }],
    ['a run column named like the output column', 'spec.output.addColumns[0].name', (j) => { j.spec.output.addColumns = [{ name: 'score', source: 'runId' }]; }],
  ])('%s: the server stores it, bij refuses naming %s', async (name, field, change) => {
    const job = baseJob(`semantic-${name.toLowerCase().replace(/[^a-z]+/g, '-').replace(/-+$/, '')}`);
    change(job);
    const text = jobText(job);
    expectStatus(await api(cp(), 'POST', `${bijPath('default')}?fieldValidation=Strict`, { body: text }), name, 201);
    const bij = bijValidate(dir, job.metadata.name, text);
    expect(bij.ok).toBe(false);
    expect(bij.fields).toContain(field);
  });
});
