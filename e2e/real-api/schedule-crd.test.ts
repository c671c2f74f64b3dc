/**
 * The BatchInferenceSchedule CRD on the real kube-apiserver: the committed file accepted, Established
 * and stored whole (the job template's CEL rules compile); a schedule whose template is not a valid
 * BatchInferenceJob spec refused naming the field; the printer columns through the server's Table (what
 * `kubectl get bijs` shows) for statuses written through /status as the operator writes them, and the
 * same through the real kubectl on the PATH.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { API_GROUP, API_VERSION } from '../../core/src/contract/job-spec.js';
import { SCHEDULE_PLURAL, type BatchInferenceScheduleStatus } from '../../operator/src/api/schedule.js';
import { SCHEDULE_CRD_FILE, SCHEDULE_CRD_NAME } from '../../operator/src/api/schedule-crd.js';
import { repoRoot } from '../../cluster/src/go-binary.js';
import { useControlPlane } from '../support/control-plane.js';
import { api, expectStatus, refusedFields, waitEstablished } from '../support/real-api-helpers.js';
import { parseKubectlTable } from '../support/kubectl-table.js';

const cp = useControlPlane();
const ns = 'default';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io';
const MERGE = 'application/merge-patch+json';
const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const schedulesPath = (name?: string, sub?: string) =>
  `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ns}/${SCHEDULE_PLURAL}${name ? `/${name}` : ''}${sub ? `/${sub}` : ''}`;

const committedText = readFileSync(path.join(repoRoot(), SCHEDULE_CRD_FILE), 'utf8');
const nightly = () => parse(readFileSync(path.join(repoRoot(), 'examples', 'nightly-schedule.yaml'), 'utf8')) as Record<string, any>;
const schedule = (name: string, patch: (s: Record<string, any>) => void = () => undefined) => {
  const s = nightly();
  s.metadata.name = name;
  patch(s.spec);
  return s;
};
const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** One schedule per row: its spec change, the status the operator would write, and the cells. */
const ROWS: { name: string; spec?: (s: Record<string, any>) => void; status?: BatchInferenceScheduleStatus; cells: [string, boolean, number | null] }[] = [
  { name: 'a-new', cells: ['0 2 * * *', false, null] },
  {
    name: 'b-running', spec: (s) => { s.schedule = '*/5 * * * *'; },
    status: { lastScheduleTime: ago(3), lastSuccessfulTime: ago(65), activeCount: 1, active: [{ apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', name: 'b-running-29940485', namespace: ns, uid: 'u1' }] },
    cells: ['*/5 * * * *', false, 1],
  },
  { name: 'c-suspended', spec: (s) => { s.suspend = true; }, status: { lastScheduleTime: ago(1500), lastSuccessfulTime: ago(1480), active: [], activeCount: 0 }, cells: ['0 2 * * *', true, 0] },
];

interface Table {
  columnDefinitions: { name: string; type: string; priority: number }[];
  rows: { cells: unknown[]; object: { metadata: { name: string } } }[];
}

beforeAll(async () => {
  expectStatus(await api(cp(), 'POST', CRDS, { body: committedText }), `create ${SCHEDULE_CRD_FILE}`, 201);
  await waitEstablished(cp(), SCHEDULE_CRD_NAME);
  for (const r of ROWS) {
    expectStatus(await api(cp(), 'POST', schedulesPath(), { body: schedule(r.name, r.spec) }), `create ${r.name}`, 201);
    if (r.status) expectStatus(await api(cp(), 'PATCH', schedulesPath(r.name, 'status'), { body: { status: r.status }, contentType: MERGE }), `status of ${r.name}`, 200);
  }
}, 60_000);

test('the committed CRD is Established and stored whole', async () => {
  const stored = expectStatus(await api(cp(), 'GET', `${CRDS}/${SCHEDULE_CRD_NAME}`), 'read the CRD', 200).json;
  const committed = parse(committedText) as { spec: Record<string, unknown> };
  expect(stored.spec.versions).toEqual(committed.spec.versions);
  expect(stored.spec.names).toMatchObject({ kind: 'BatchInferenceSchedule', shortNames: ['bijs'] });
  expect(stored.status.conditions).toContainEqual(expect.objectContaining({ type: 'Established', status: 'True' }));
});

test('the server applies the defaults and refuses a template that is not a BatchInferenceJob spec, naming the field', async () => {
  const stored = expectStatus(await api(cp(), 'GET', schedulesPath('a-new')), 'read', 200).json;
  expect(stored.spec).toMatchObject({ concurrencyPolicy: 'Forbid', suspend: false, jobTemplate: { spec: { batchSize: 4096 } } });
  const cases: [string, (s: Record<string, any>) => void, string][] = [
    ['no idColumn', (s) => { delete s.jobTemplate.spec.input.idColumn; }, 'spec.jobTemplate.spec.input.idColumn'],
    ['both shards and targetRowsPerShard (a CEL rule of the job spec)', (s) => { s.jobTemplate.spec.targetRowsPerShard = 10; }, 'spec.jobTemplate.spec.shards'],
    ['an unknown policy', (s) => { s.concurrencyPolicy = 'Queue'; }, 'spec.concurrencyPolicy'],
  ];
  for (const [i, [what, change, field]] of cases.entries()) {
    const r = await api(cp(), 'POST', `${schedulesPath()}?fieldValidation=Strict`, { body: schedule(`bad-${i}`, change) });
    expect({ what, status: r.status }).toEqual({ what, status: 422 });
    expect({ what, fields: refusedFields(r) }).toEqual({ what, fields: expect.arrayContaining([field]) });
  }
});

test('the Table: NAME, SCHEDULE, SUSPEND, ACTIVE, LAST SCHEDULE, LAST SUCCESS, AGE, and TIMEZONE after SCHEDULE for -o wide (as CronJob); a row per schedule', async () => {
  const t = expectStatus(await api(cp(), 'GET', schedulesPath(), { accept: TABLE }), 'list as a Table', 200).json as Table;
  expect(t.columnDefinitions.map((c) => [c.name, c.type, c.priority])).toEqual([
    ['Name', 'string', 0], ['Schedule', 'string', 0], ['Timezone', 'string', 1], ['Suspend', 'boolean', 0], ['Active', 'integer', 0],
    ['Last Schedule', 'date', 0], ['Last Success', 'date', 0], ['Age', 'date', 0],
  ]);
  expect(t.rows.map((r) => r.object.metadata.name)).toEqual(ROWS.map((r) => r.name));
  for (const [i, r] of t.rows.entries()) {
    const [name, sched, zone, suspend, active, last, success, age] = r.cells;
    expect({ name, cells: [sched, suspend, active] }).toEqual({ name: ROWS[i].name, cells: ROWS[i].cells });
    expect(zone).toBe('Europe/Berlin');
    expect(age).toMatch(/^\d+s$/);
    if (ROWS[i].status) {
      expect(last).toMatch(/^\d+(m|h|d)/);
      expect(success).toMatch(/^\d+(m|h|d)/);
    } else {
      expect([last, success]).toEqual([null, null]);
    }
  }
});

test('kubectl get bijs prints those columns', async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile('kubectl', ['get', 'bijs', '-n', ns], { env: { ...process.env, KUBECONFIG: cp().kubeconfigPath }, timeout: 30_000 }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('no kubectl on the PATH: this check needs one'));
      else if (err) reject(new Error(`kubectl get bijs failed: ${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
  const { header, rows } = parseKubectlTable(out);
  expect(header).toEqual(['NAME', 'SCHEDULE', 'SUSPEND', 'ACTIVE', 'LAST SCHEDULE', 'LAST SUCCESS', 'AGE']);
  // kubectl leaves a custom column without a value empty
  expect(rows.map((r) => [r.NAME, r.SCHEDULE, r.SUSPEND, r.ACTIVE])).toEqual([
    ['a-new', '0 2 * * *', 'false', ''],
    ['b-running', '*/5 * * * *', 'false', '1'],
    ['c-suspended', '0 2 * * *', 'true', '0'],
  ]);
  expect(rows[1]['LAST SCHEDULE']).toMatch(/^3m/);
  expect(rows[1]['LAST SUCCESS']).toMatch(/^6[56]m$/);
  expect(rows[0]['LAST SCHEDULE']).toBe('');
});
