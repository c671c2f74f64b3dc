/**
 * The CRD's printer columns through the real server's Table printing (what `kubectl get bij` shows),
 * for jobs whose status is written through the /status subresource as the operator writes it: every
 * phase, shards, progress, rows, and the priority-1 columns `-o wide` adds. Then the same through the
 * real kubectl on the PATH.
 */
import { execFile } from 'node:child_process';
import { CRD_NAME } from '../../operator/src/api/crd.js';
import type { BatchInferenceJobStatus } from '../../operator/src/api/status.js';
import { installCrd } from '../../cluster/src/up/install.js';
import { useControlPlane } from '../support/control-plane.js';
import { api, bijPath, expectStatus, waitEstablished } from '../support/real-api-helpers.js';

const cp = useControlPlane();
const ns = 'default';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io';
const MERGE = 'application/merge-patch+json';

const job = (name: string) => ({
  apiVersion: 'batchinference.dev/v1alpha1',
  kind: 'BatchInferenceJob',
  metadata: { name },
  spec: {
    model: { uri: 's3://models/churn.onnx', inputs: { X: { columns: ['f0'] } }, outputs: { probs: { column: 'score', select: 1 } } },
    input: { uri: 's3://lake/features/', idColumn: 'id' },
    output: { uri: `s3://lake/scores/${name}/` },
    shards: 8,
  },
});

const shards = (succeeded: number, running: number, failed: number, retries = 0) =>
  ({ total: 8, pending: 8 - succeeded - running - failed, running, succeeded, failed, retries });
const rows = (processed: number, failed = 0) => ({ total: 120_000, processed, failed });
const efficiency = (modelBusyPercent: number, n: number) =>
  ({ modelBusyPercent, inputWaitPercent: 100 - modelBusyPercent - 2, outputWaitPercent: 2, shards: n });

/** One job per phase, each with the status the operator would write in that phase. */
const STATUSES: Record<string, BatchInferenceJobStatus> = {
  'job-pending': {
    phase: 'Pending', observedGeneration: 1, runId: 'r0a1b2c3', shards: shards(0, 0, 0), rows: rows(0),
    shardsSummary: '0/8', progress: '0%', message: 'planning: listing s3://lake/features/',
  },
  'job-running': {
    phase: 'Running', observedGeneration: 1, runId: 'r1d2e3f4', shards: shards(3, 2, 0), rows: rows(50_400, 2),
    shardsSummary: '3/8', progress: '42%', rowsPerSecond: 1234.5, efficiency: efficiency(87, 5),
    message: '3 of 8 shards done, 2 running',
  },
  // Shard Jobs waiting for Kueue's admission: SHARDS says how many.
  'job-queued': {
    phase: 'Running', observedGeneration: 1, runId: 'r3f4a5b6c', shards: { ...shards(2, 2, 0), pending: 0, queued: 4 }, rows: rows(30_000),
    shardsSummary: '2/8 (4 queued)', progress: '25%', message: '2 of 8 shards done, 2 running, 4 queued by Kueue in LocalQueue team-a',
  },
  // Waiting for its input (spec.input.waitFor): no plan yet, so no shards or rows.
  'job-waiting': {
    phase: 'Waiting', observedGeneration: 1, runId: 'r7b8c9d0', waitingSince: '2026-12-05T01:00:00Z',
    message: 'waiting for the input (spec.input.waitFor, until 2026-12-05T13:00:00Z): s3://lake/features/date=2026-12-04/_SUCCESS does not exist (spec.input.waitFor.marker)',
  },
  // A speculative attempt of a straggler (spec.speculation) running beside its shard's own.
  'job-speculating': {
    phase: 'Running', observedGeneration: 1, runId: 'r2e3f4a5', shards: { ...shards(7, 1, 0), pending: 0, speculative: 1 }, rows: rows(110_000),
    shardsSummary: '7/8', progress: '91%', message: '7 of 8 shards done, 1 running (1 speculative)',
  },
  'job-succeeded': {
    phase: 'Succeeded', observedGeneration: 1, runId: 'r5a6b7c8', shards: shards(8, 0, 0, 1), rows: rows(120_000, 7),
    shardsSummary: '8/8', progress: '100%', efficiency: efficiency(91, 8),
    outputManifest: 's3://lake/scores/job-succeeded/_manifest.json', message: 'committed 8 shards, 120000 rows',
  },
  'job-failed': {
    phase: 'Failed', observedGeneration: 1, runId: 'r9c0d1e2', shards: shards(5, 0, 1, 4), rows: rows(75_000),
    shardsSummary: '5/8', progress: '63%', efficiency: efficiency(64, 5),
    message: 'shard 6 failed 4 times (BadInput): column f0 is missing in part-0006.parquet',
  },
};
const NAMES = ['job-failed', 'job-new', 'job-pending', 'job-queued', 'job-running', 'job-speculating', 'job-succeeded', 'job-waiting']; // the server lists by name

/** The cells the columns must print: [PHASE, SHARDS, PROGRESS, ROWS, MODEL-BUSY, RUN, MESSAGE]; null where
 * the status has no value (kubectl prints nothing there). */
const EXPECTED: Record<string, unknown[]> = {
  'job-new': [null, null, null, null, null, null, null],
  'job-pending': ['Pending', '0/8', '0%', 0, null, 'r0a1b2c3', 'planning: listing s3://lake/features/'],
  'job-queued': ['Running', '2/8 (4 queued)', '25%', 30_000, null, 'r3f4a5b6c', '2 of 8 shards done, 2 running, 4 queued by Kueue in LocalQueue team-a'],
  'job-running': ['Running', '3/8', '42%', 50_400, 87, 'r1d2e3f4', '3 of 8 shards done, 2 running'],
  'job-waiting': ['Waiting', null, null, null, null, 'r7b8c9d0', 'waiting for the input (spec.input.waitFor, until 2026-12-05T13:00:00Z): s3://lake/features/date=2026-12-04/_SUCCESS does not exist (spec.input.waitFor.marker)'],
  'job-speculating': ['Running', '7/8', '91%', 110_000, null, 'r2e3f4a5', '7 of 8 shards done, 1 running (1 speculative)'],
  'job-succeeded': ['Succeeded', '8/8', '100%', 120_000, 91, 'r5a6b7c8', 'committed 8 shards, 120000 rows'],
  'job-failed': ['Failed', '5/8', '63%', 75_000, 64, 'r9c0d1e2', 'shard 6 failed 4 times (BadInput): column f0 is missing in part-0006.parquet'],
};

interface Table {
  kind: string;
  columnDefinitions: { name: string; type: string; format: string; priority: number; description: string }[];
  rows: { cells: unknown[]; object: { metadata: { name: string } } }[];
}

beforeAll(async () => {
  await installCrd(cp().kubeConfig());
  await waitEstablished(cp(), CRD_NAME);
  for (const name of NAMES) {
    expectStatus(await api(cp(), 'POST', bijPath(ns), { body: job(name) }), `create ${name}`, 201);
    const status = STATUSES[name];
    if (status) {
      expectStatus(await api(cp(), 'PATCH', bijPath(ns, name, 'status'), { body: { status }, contentType: MERGE }), `status of ${name}`, 200);
    }
  }
}, 60_000);

async function table(path: string): Promise<Table> {
  const r = expectStatus(await api(cp(), 'GET', path, { accept: TABLE }), `GET ${path} as a Table`, 200);
  return r.json as Table;
}

test('the Table\'s columns: NAME, the five default columns, then the priority-1 ones -o wide adds', async () => {
  const t = await table(bijPath(ns));
  expect(t.kind).toBe('Table');
  expect(t.columnDefinitions.map((c) => [c.name, c.type, c.priority])).toEqual([
    ['Name', 'string', 0],
    ['Phase', 'string', 0],
    ['Shards', 'string', 0],
    ['Progress', 'string', 0],
    ['Rows', 'integer', 0],
    ['Age', 'date', 0],
    ['Model-Busy', 'integer', 1],
    ['Run', 'string', 1],
    ['Message', 'string', 1],
  ]);
  expect(t.columnDefinitions.find((c) => c.name === 'Shards')?.description).toBe('Succeeded/total shards, and those queued by Kueue if any');
});

test('each phase prints its phase, shards, progress, rows, model-busy, run and message', async () => {
  const t = await table(bijPath(ns));
  expect(t.rows.map((r) => r.object.metadata.name)).toEqual(NAMES);
  for (const r of t.rows) {
    const name = r.object.metadata.name;
    const [cellName, phase, shardsCell, progress, rowsCell, age, busy, run, message] = r.cells;
    expect({ name, cells: [phase, shardsCell, progress, rowsCell, busy, run, message] }).toEqual({ name, cells: EXPECTED[name] });
    expect(cellName).toBe(name);
    expect(age).toMatch(/^\d+s$/); // a fresh object: seconds old
  }
});

test('one object as a Table prints the same row', async () => {
  const t = await table(bijPath(ns, 'job-running'));
  expect(t.rows).toHaveLength(1);
  expect(t.rows[0].cells.slice(1, 5)).toEqual(EXPECTED['job-running'].slice(0, 4));
});

test('the status subresource: status through the object is ignored, spec through /status is ignored, a bad status is refused', async () => {
  const before = expectStatus(await api(cp(), 'GET', bijPath(ns, 'job-running')), 'read', 200).json;
  const viaObject = await api(cp(), 'PATCH', bijPath(ns, 'job-running'), { body: { status: { phase: 'Failed', message: 'not through here' } }, contentType: MERGE });
  expect(expectStatus(viaObject, 'patch status through the object', 200).json.status).toEqual(before.status);
  const viaStatus = await api(cp(), 'PATCH', bijPath(ns, 'job-running', 'status'), { body: { spec: { shards: 2 } }, contentType: MERGE });
  expect(expectStatus(viaStatus, 'patch spec through /status', 200).json.spec.shards).toBe(8);
  expect(viaStatus.json.metadata.generation).toBe(before.metadata.generation);
  const bad = await api(cp(), 'PATCH', bijPath(ns, 'job-running', 'status'), { body: { status: { phase: 'Exploded' } }, contentType: MERGE });
  expect(bad.status).toBe(422);
  expect(bad.json.details.causes.filter((c: { field: string }) => c.field !== '<nil>'))
    .toEqual([expect.objectContaining({ field: 'status.phase', reason: 'FieldValueNotSupported' })]);
});

/** Runs the kubectl on the PATH against the control plane; fails (never skips) without one. */
function kubectl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('kubectl', args, { env: { ...process.env, KUBECONFIG: cp().kubeconfigPath }, timeout: 30_000 }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('no kubectl on the PATH: these checks need one (install kubectl 1.27 or newer)'));
      else if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

/** kubectl's table output -> header and rows, split where a column starts (under the header's words). */
function parseColumns(out: string): { header: string[]; rows: Record<string, string>[] } {
  const lines = out.trimEnd().split('\n');
  const head = lines[0];
  const starts = [...head.matchAll(/\S+/g)].map((m) => m.index!);
  const header = starts.map((s, i) => head.slice(s, starts[i + 1]).trim());
  const rows = lines.slice(1).map((l) => Object.fromEntries(header.map((h, i) => [h, l.slice(starts[i], starts[i + 1]).trim()])));
  return { header, rows };
}

test('kubectl get bij prints the default columns, and -o wide the priority-1 ones too', async () => {
  const plain = parseColumns(await kubectl(['get', 'bij', '-n', ns]));
  expect(plain.header).toEqual(['NAME', 'PHASE', 'SHARDS', 'PROGRESS', 'ROWS', 'AGE']);
  const wide = parseColumns(await kubectl(['get', 'bij', '-n', ns, '-o', 'wide']));
  expect(wide.header).toEqual(['NAME', 'PHASE', 'SHARDS', 'PROGRESS', 'ROWS', 'AGE', 'MODEL-BUSY', 'RUN', 'MESSAGE']);
  const shown = (v: unknown) => (v === null ? '' : String(v)); // kubectl leaves a custom column without a value empty
  for (const r of wide.rows) {
    const want = EXPECTED[r.NAME];
    expect(want).toBeDefined();
    expect([r.PHASE, r.SHARDS, r.PROGRESS, r.ROWS, r['MODEL-BUSY'], r.RUN, r.MESSAGE]).toEqual(want.map(shown));
  }
  expect(wide.rows.map((r) => r.NAME)).toEqual(NAMES);
  expect(plain.rows.find((r) => r.NAME === 'job-failed')).toMatchObject({ PHASE: 'Failed', SHARDS: '5/8', PROGRESS: '63%', ROWS: '75000' });
});
