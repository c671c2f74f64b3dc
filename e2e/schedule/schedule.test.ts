/**
 * BatchInferenceSchedules end to end on the real control plane (TestCluster: etcd, kube-apiserver, the
 * controller manager's garbage collector, the scheduler, the process kubelet running real workers),
 * with the schedule controller on a clock the test moves: `*\/5 * * * *` in Asia/Tokyo, so no test
 * waits for a real minute. Each run's input and output paths hold ${date} and ${datetime}, and every
 * run is checked row by row against the reference (expectExactlyOnce) under its own dated prefix.
 *   (a) a job per slot with the rendered paths; Forbid skips the next slot while one runs, and starts
 *       it when that ends; a restarted controller that lost its status write makes no second job;
 *   (b) Replace deletes the running job and starts the new slot's;
 *   (c) missed slots while the controller was down: only the newest starts; history limits delete the
 *       oldest succeeded job (its committed output stays); deleting the schedule deletes its jobs
 *       (ownerReferences, the real garbage collector); `kubectl get bijs` shows the columns.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCHEDULE_REF, type ScheduleController } from '../../operator/src/kube/schedule-controller.js';
import { ANNOTATION_SCHEDULED_TIME, LABEL_SCHEDULE } from '../../operator/src/schedule/names.js';
import { NAMESPACE, TestCluster, expectExactlyOnce, fixtureJob } from '../support/cluster.js';
import { DATA, until, writeFixtures } from '../support/operator-process.js';
import { parseKubectlTable } from '../support/kubectl-table.js';
import {
  TestClock, applySchedule, getSchedule, scheduleEvents, scheduledJobs, settle, startScheduleController,
} from '../support/schedules.js';

const ZONE = 'Asia/Tokyo'; // UTC+9 all year: the expected paths below are computed without any zone library
const MIN = 60_000;
const tokyo = (t: Date) => new Date(t.getTime() + 9 * 3_600_000).toISOString();
const date = (t: Date) => tokyo(t).slice(0, 10);
const datetime = (t: Date) => tokyo(t).slice(0, 16).replace(/[-:]/g, '');
const iso = (t: Date) => t.toISOString().replace('.000', '');
const plus = (t: Date, ms: number) => new Date(t.getTime() + ms);
const jobName = (schedule: string, t: Date) => `${schedule}-${t.getTime() / MIN}`;
/** The first 5-minute slot at least 90 s from now, so after the schedule's creation. */
const firstSlot = () => new Date(Math.ceil((Date.now() + 90_000) / (5 * MIN)) * 5 * MIN);

let cluster: TestCluster;
let root: string;
let data: { model: string; input: string };
let sc: ScheduleController | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'bij-schedule-'));
  data = await writeFixtures(root);
  cluster = await TestCluster.start({ operators: 1 });
}, 120_000);

afterEach(async () => {
  await sc?.stop();
  sc = undefined;
  // The next case's controller must not act on this case's schedules.
  await cluster.clients.custom.deleteCollectionNamespacedCustomObject({ ...SCHEDULE_REF, namespace: NAMESPACE });
}, 30_000);

afterAll(async () => cluster?.close(), 60_000);

/** The input partition of each slot's date (a copy of the fixtures' dataset). */
function datedInputs(...slots: Date[]): void {
  for (const t of slots) cpSync(data.input, join(root, 'features', `date=${date(t)}`), { recursive: true });
}
const outputOf = (schedule: string, t: Date) => join(root, 'out', schedule, datetime(t)) + '/';

function schedule(name: string, spec: Record<string, unknown> = {}) {
  const job = fixtureJob(name, { model: data.model, input: '', output: '' }, { shards: 2, parallelism: 2, batchSize: 512 }) as { spec: Record<string, any> };
  return {
    apiVersion: 'batchinference.dev/v1alpha1',
    kind: 'BatchInferenceSchedule',
    metadata: { name },
    spec: {
      schedule: '*/5 * * * *',
      timeZone: ZONE,
      jobTemplate: {
        metadata: { labels: { team: 'growth' }, annotations: { owner: 'scoring' } },
        spec: {
          ...job.spec,
          input: { ...job.spec.input, uri: join(root, 'features', 'date=${date}') + '/' },
          output: { uri: join(root, 'out', name, '${datetime}') + '/' },
        },
      },
      ...spec,
    },
  };
}

const count = (xs: { reason: string }[], reason: string) => xs.filter((e) => e.reason === reason).length;

test('(a) a job per slot with the rendered paths; Forbid skips a slot while one runs and starts it when that ends', async () => {
  const name = 'forbid';
  const t0 = firstSlot();
  const t1 = plus(t0, 5 * MIN);
  datedInputs(t0, t1);
  // The clock starts just before the real time: the schedule is created after it, so no slot is due yet.
  const clock = new TestClock(new Date(Date.now() - 2_000));
  sc = await startScheduleController(cluster, clock);
  await applySchedule(cluster, schedule(name, { concurrencyPolicy: 'Forbid' }));

  await settle(sc);
  expect(await scheduledJobs(cluster, name)).toEqual([]);

  clock.set(t0);
  await settle(sc);
  const [first, ...none] = await scheduledJobs(cluster, name);
  expect(none).toEqual([]);
  expect(first.metadata.name).toBe(jobName(name, t0));
  expect(first.metadata.labels).toMatchObject({ team: 'growth', [LABEL_SCHEDULE]: name });
  expect(first.metadata.annotations).toMatchObject({ owner: 'scoring', [ANNOTATION_SCHEDULED_TIME]: iso(t0) });
  const owner = await getSchedule(cluster, name);
  expect(first.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'BatchInferenceSchedule', name, uid: owner.metadata.uid, controller: true })]);
  expect(first.spec.input.uri).toBe(join(root, 'features', `date=${date(t0)}`) + '/');
  expect(first.spec.output.uri).toBe(outputOf(name, t0));
  expect(owner.status).toMatchObject({ lastScheduleTime: iso(t0), activeCount: 1, active: [expect.objectContaining({ name: first.metadata.name, uid: first.metadata.uid })] });

  // The next slot comes while the first run is still planning or running: Forbid skips it.
  expect(['Succeeded', 'Failed']).not.toContain((await cluster.get(first.metadata.name!))?.status?.phase);
  clock.set(plus(t1, 30_000));
  await settle(sc);
  expect((await scheduledJobs(cluster, name)).map((j) => j.metadata.name)).toEqual([first.metadata.name]);
  expect(count(await scheduleEvents(cluster, name), 'JobAlreadyActive')).toBe(1);
  expect((await getSchedule(cluster, name)).status?.lastScheduleTime).toBe(iso(t0));

  // When it ends, the skipped slot starts (no deadline set), with that slot's paths; nobody pokes.
  await cluster.waitForPhase(first.metadata.name!, 'Succeeded', 120_000);
  const both = await until('the skipped slot to start', () => scheduledJobs(cluster, name), (js) => js.length === 2, 30_000);
  const second = both[1];
  expect(second.metadata.name).toBe(jobName(name, t1));
  expect(second.spec.input.uri).toBe(join(root, 'features', `date=${date(t1)}`) + '/');
  expect(second.spec.output.uri).toBe(outputOf(name, t1));
  await cluster.waitForPhase(second.metadata.name!, 'Succeeded', 120_000);

  await expectExactlyOnce(outputOf(name, t0), DATA.total);
  await expectExactlyOnce(outputOf(name, t1), DATA.total);

  await settle(sc);
  const status = (await getSchedule(cluster, name)).status;
  const completed = (await cluster.get(second.metadata.name!))?.status?.completionTime;
  expect(status).toEqual({ lastScheduleTime: iso(t1), lastSuccessfulTime: completed, active: [], activeCount: 0 });
  const events = await scheduleEvents(cluster, name);
  expect(count(events, 'SuccessfulCreate')).toBe(2);
  expect(count(events, 'JobAlreadyActive')).toBe(1);
  expect(events.find((e) => e.reason === 'JobAlreadyActive')?.message).toContain(`${first.metadata.name} still running (concurrencyPolicy Forbid)`);

  // A controller that restarts and finds its status write lost makes no second job for the slot.
  await sc.stop();
  const stored = await getSchedule(cluster, name);
  const { lastScheduleTime: _lost, ...rest } = stored.status ?? {};
  await cluster.clients.custom.replaceNamespacedCustomObjectStatus({ ...SCHEDULE_REF, namespace: NAMESPACE, name, body: { ...stored, status: rest } });
  expect((await getSchedule(cluster, name)).status?.lastScheduleTime).toBeUndefined();
  sc = await startScheduleController(cluster, clock);
  await settle(sc);
  expect((await scheduledJobs(cluster, name)).map((j) => j.metadata.name)).toEqual([jobName(name, t0), jobName(name, t1)]);
  expect((await getSchedule(cluster, name)).status?.lastScheduleTime).toBe(iso(t1));
}, 360_000);

test('(b) Replace deletes the running job and starts the new slot\'s', async () => {
  const name = 'replace';
  const t0 = firstSlot();
  const t1 = plus(t0, 5 * MIN);
  datedInputs(t0, t1);
  const clock = new TestClock(t0);
  sc = await startScheduleController(cluster, clock);
  await applySchedule(cluster, schedule(name, { concurrencyPolicy: 'Replace' }));
  await settle(sc);
  const [first] = await scheduledJobs(cluster, name);
  expect(first.metadata.name).toBe(jobName(name, t0));
  expect(['Succeeded', 'Failed']).not.toContain((await cluster.get(first.metadata.name!))?.status?.phase);

  clock.set(t1);
  await settle(sc);
  const second = jobName(name, t1);
  // The replaced job is deleted (its finalizer runs, then it is gone); the new one runs to the end.
  await until('the replaced job to be gone', () => cluster.get(first.metadata.name!), (j) => j === undefined, 60_000);
  expect((await scheduledJobs(cluster, name)).map((j) => j.metadata.name)).toEqual([second]);
  await cluster.waitForPhase(second, 'Succeeded', 120_000);
  await expectExactlyOnce(outputOf(name, t1), DATA.total);
  expect(existsSync(join(outputOf(name, t0), '_SUCCESS'))).toBe(false);

  const events = await scheduleEvents(cluster, name);
  expect(count(events, 'SuccessfulCreate')).toBe(2);
  expect(events.filter((e) => e.reason === 'SuccessfulDelete').map((e) => e.message)).toEqual([
    `Deleted job ${first.metadata.name}: replaced by ${second}, the run for ${iso(t1)} (${ZONE}) (concurrencyPolicy Replace)`,
  ]);
}, 300_000);

test('(c) missed slots after downtime, history limits, cascading delete, and kubectl get bijs', async () => {
  const name = 'history';
  const t0 = firstSlot();
  const back = plus(t0, 32 * MIN); // the controller comes back after 6 more slots went by
  const newest = plus(t0, 30 * MIN);
  datedInputs(t0, newest);
  const clock = new TestClock(t0);
  sc = await startScheduleController(cluster, clock);
  await applySchedule(cluster, schedule(name, { concurrencyPolicy: 'Allow', successfulJobsHistoryLimit: 1 }));
  await settle(sc);
  const first = jobName(name, t0);
  await cluster.waitForPhase(first, 'Succeeded', 120_000);
  await expectExactlyOnce(outputOf(name, t0), DATA.total);

  // Down from t0 to t0+32min: t0+5 ... t0+30 are missed; only the newest starts.
  await sc.stop();
  clock.set(back);
  sc = await startScheduleController(cluster, clock);
  await settle(sc);
  expect((await scheduledJobs(cluster, name)).map((j) => j.metadata.name)).toEqual([first, jobName(name, newest)]);
  expect((await getSchedule(cluster, name)).status?.lastScheduleTime).toBe(iso(newest));
  expect(count(await scheduleEvents(cluster, name), 'TooManyMissedTimes')).toBe(0);

  // It succeeds; the history limit (1 succeeded) then deletes the older job, whose output stays committed.
  await cluster.waitForPhase(jobName(name, newest), 'Succeeded', 120_000);
  await expectExactlyOnce(outputOf(name, newest), DATA.total);
  await until('the older job to go (history limit 1)', () => scheduledJobs(cluster, name), (js) => js.length === 1 && js[0].metadata.name === jobName(name, newest), 60_000);
  await until('the older job to be gone', () => cluster.get(first), (j) => j === undefined, 60_000);
  await expectExactlyOnce(outputOf(name, t0), DATA.total);
  const events = await scheduleEvents(cluster, name);
  expect(events.filter((e) => e.reason === 'SuccessfulDelete').map((e) => e.message)).toEqual([expect.stringContaining(`Deleted job ${first}`)]);

  // kubectl (the real one) through the server's Table: the columns, this schedule's row.
  const out = await new Promise<string>((resolve, reject) => execFile('kubectl', ['get', 'bijs', '-n', NAMESPACE], {
    env: { ...process.env, KUBECONFIG: cluster.controlPlane.kubeconfigPath }, timeout: 30_000,
  }, (err, stdout, stderr) => (err ? reject(new Error(`kubectl get bijs failed: ${stderr}${stdout}`)) : resolve(stdout))));
  const table = parseKubectlTable(out);
  expect(table.header).toEqual(['NAME', 'SCHEDULE', 'SUSPEND', 'ACTIVE', 'LAST SCHEDULE', 'LAST SUCCESS', 'AGE']);
  expect(table.rows.map((r) => [r.NAME, r.SCHEDULE, r.SUSPEND, r.ACTIVE])).toEqual([[name, '*/5 * * * *', 'false', '0']]);

  // Deleting the schedule deletes its jobs (ownerReferences; the garbage collector); the output stays.
  await cluster.clients.custom.deleteNamespacedCustomObject({ ...SCHEDULE_REF, namespace: NAMESPACE, name, propagationPolicy: 'Background' });
  await until('the schedule\'s jobs to be gone', () => cluster.get(jobName(name, newest)), (j) => j === undefined, 60_000);
  await expectExactlyOnce(outputOf(name, newest), DATA.total);
}, 400_000);
