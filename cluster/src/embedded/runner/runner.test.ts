/**
 * The local Job runner against the embedded API server, with a tiny stand-in worker (a `node -e`
 * script driven by env) instead of the real one: Pod and Job status as a cluster writes them,
 * env from Secrets, kills and evictions, and the races a real kubelet has to get right.
 */
import type * as k8s from '@kubernetes/client-node';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { makeClients, type KubeClients } from '../../../../operator/src/kube/clients.js';
import { silentLogger } from '../../../../operator/src/log.js';
import { LocalJobRunner } from './runner.js';
import { until as poll } from '../../../../core/testing/until.js';

const NS = 'default';
/** Writes "<MESSAGE>|<SECRET_VALUE>" to the termination log (unless NO_LOG), sleeps SLEEP_MS, exits EXIT_CODE. */
const SCRIPT = `
const fs = require('node:fs');
if (!process.env.NO_LOG) fs.writeFileSync(process.env.BIJ_TERMINATION_LOG, (process.env.MESSAGE || '') + '|' + (process.env.TOKEN || ''));
console.log('log line from the worker');
setTimeout(() => process.exit(Number(process.env.EXIT_CODE || 0)), Number(process.env.SLEEP_MS || 0));
`;

let server: ApiServer;
let clients: KubeClients;
let runner: LocalJobRunner;

beforeEach(async () => {
  server = await startApiServer();
  clients = makeClients(server.kubeConfig());
  runner = new LocalJobRunner({
    kc: server.kubeConfig(), workerCommand: [process.execPath, '-e', SCRIPT], workDir: mkdtempSync(join(tmpdir(), 'bij-runner-')),
    baseEnv: { PATH: process.env.PATH ?? '' }, log: silentLogger(), terminationGraceMs: 500,
  });
  await runner.start();
});
afterEach(async () => {
  await runner.stop();
  await server.close();
});

function job(name: string, env: Record<string, string>, extra: Partial<k8s.V1Container> = {}): k8s.V1Job {
  return {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: NS, labels: { app: 't' } },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { app: 't' } },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'worker', image: 'local', terminationMessagePolicy: 'FallbackToLogsOnError', env: Object.entries(env).map(([n, value]) => ({ name: n, value })), ...extra }],
        },
      },
    },
  };
}

const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000) => poll(what, fn, timeoutMs, 25);

const finished = (name: string) => until(`${name} to finish`, async () => {
  const j = await clients.batch.readNamespacedJob({ namespace: NS, name });
  return j.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') ? j : undefined;
});

async function podOf(name: string): Promise<k8s.V1Pod> {
  const pods = await clients.core.listNamespacedPod({ namespace: NS, labelSelector: `job-name=${name}` });
  expect(pods.items).toHaveLength(1);
  return pods.items[0];
}

const terminated = (pod: k8s.V1Pod) => pod.status?.containerStatuses?.[0].state?.terminated;

test('a Job runs as a process: env from a Secret, termination message, Complete', async () => {
  await clients.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 's3' }, stringData: { TOKEN: 'sekret' } } });
  await clients.batch.createNamespacedJob({ namespace: NS, body: job('ok', { MESSAGE: 'hello' }, { envFrom: [{ secretRef: { name: 's3' } }] }) });
  const j = await finished('ok');
  expect(j.status).toMatchObject({ succeeded: 1, failed: 0, active: 0 });
  const pod = await podOf('ok');
  expect(pod.status?.phase).toBe('Succeeded');
  expect(terminated(pod)).toMatchObject({ exitCode: 0, reason: 'Completed', message: 'hello|sekret' });
  expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Job', name: 'ok', controller: true });
});

test('a failing process fails the Job; without a termination message the log tail stands in', async () => {
  await clients.batch.createNamespacedJob({ namespace: NS, body: job('bad', { EXIT_CODE: '65', NO_LOG: '1' }) });
  const j = await finished('bad');
  expect(j.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
  const pod = await podOf('bad');
  expect(terminated(pod)).toMatchObject({ exitCode: 65, reason: 'Error', message: 'log line from the worker' });
});

test('a fast exit is never overwritten by the "running" status written after the start', async () => {
  // Slow down the start's status writes so the exit happens before them.
  server.faults.latency(400, { verb: 'patch', resource: 'pods', subresource: 'status' }, 1);
  await clients.batch.createNamespacedJob({ namespace: NS, body: job('fast', { EXIT_CODE: '3', MESSAGE: 'quick' }) });
  const j = await finished('fast');
  expect(j.status?.failed).toBe(1);
  await new Promise((r) => setTimeout(r, 500));
  expect(terminated(await podOf('fast'))).toMatchObject({ exitCode: 3, message: 'quick|' });
  expect((await clients.batch.readNamespacedJob({ namespace: NS, name: 'fast' })).status?.active).toBe(0);
});

test('a missing Secret delays the start (retried with backoff) until it exists', async () => {
  await clients.batch.createNamespacedJob({ namespace: NS, body: job('later', { MESSAGE: 'm' }, { envFrom: [{ secretRef: { name: 'creds' } }] }) });
  await new Promise((r) => setTimeout(r, 700));
  expect(runner.running()).toEqual([]);
  expect((await clients.batch.readNamespacedJob({ namespace: NS, name: 'later' })).status?.conditions ?? []).toEqual([]);
  await clients.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'creds' }, stringData: { TOKEN: 't' } } });
  const j = await finished('later');
  expect(j.status?.succeeded).toBe(1);
  expect(terminated(await podOf('later'))?.message).toBe('m|t');
});

test('a Job deleted while its pod is starting does not leave the process running', async () => {
  server.faults.latency(500, { verb: 'create', resource: 'pods' }, 1);
  await clients.batch.createNamespacedJob({ namespace: NS, body: job('gone', { SLEEP_MS: '60000' }) });
  await new Promise((r) => setTimeout(r, 150));
  await clients.batch.deleteNamespacedJob({ namespace: NS, name: 'gone', propagationPolicy: 'Background' });
  await until('the process to stop', async () => (runner.running().length === 0 ? true : undefined), 10_000);
  // It did start (so the kill was needed), and it is gone.
  expect(server.requests({ verb: 'create', resource: 'pods' }).length).toBe(1);
});

test('kill() is a crash (exit 137); evict() is a disruption (DisruptionTarget)', async () => {
  await clients.batch.createNamespacedJob({ namespace: NS, body: job('k', { SLEEP_MS: '60000' }) });
  await clients.batch.createNamespacedJob({ namespace: NS, body: job('e', { SLEEP_MS: '60000' }) });
  await until('both to run', async () => (runner.running().length === 2 ? true : undefined));
  expect(runner.kill('k')).toBe(true);
  expect(runner.evict('e')).toBe(true);
  await finished('k');
  await finished('e');
  const k = await podOf('k');
  expect(terminated(k)?.exitCode).toBe(137);
  expect(k.status?.conditions?.some((c) => c.type === 'DisruptionTarget')).toBe(false);
  const e = await podOf('e');
  expect(e.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toMatchObject({ status: 'True', reason: 'EvictionByEvictionAPI' });
});
