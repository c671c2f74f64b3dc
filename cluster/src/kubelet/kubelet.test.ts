/**
 * The process kubelet against the real control plane: the real scheduler binds, the real Job
 * controller judges, the real API server proxies `kubectl logs` to the kubelet's HTTPS server.
 */
import * as k8s from '@kubernetes/client-node';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { useControlPlane } from '../../../e2e/support/control-plane.js';
import { silentLogger } from '../../../operator/src/log.js';
import { repoRoot } from '../go-binary.js';
import { defaultImageMap, type ImageMap } from './image-map.js';
import { startProcessKubelet, type ProcessKubelet } from './kubelet.js';

const cp = useControlPlane();
const ns = 'default';
const workDir = mkdtempSync(path.join(tmpdir(), 'bij-kubelet-test-'));
const fallback = defaultImageMap(repoRoot());
/** `test/sh:1` runs its first arg as a Node script (the rest are its argv); other images as by default. */
const imageMap: ImageMap = (c) => (c.image === 'test/sh:1' ? { argv: [process.execPath, '-e', c.args![0], ...c.args!.slice(1)] } : fallback(c));

let kubelet: ProcessKubelet;
let core: k8s.CoreV1Api;
let batch: k8s.BatchV1Api;

beforeAll(async () => {
  const kc = cp().kubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  batch = kc.makeApiClient(k8s.BatchV1Api);
  kubelet = await startProcessKubelet({ controlPlane: cp(), gpus: 2, workDir, imageMap, log: silentLogger(), baseEnv: { PATH: process.env.PATH ?? '' }, restartBackoffMs: 500 });
}, 60_000);
afterAll(async () => {
  await kubelet?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const podSpec = (script: string, more: Partial<k8s.V1PodSpec> = {}, container: Partial<k8s.V1Container> = {}): k8s.V1PodSpec => ({
  restartPolicy: 'Never', terminationGracePeriodSeconds: 5,
  containers: [{ name: 'main', image: 'test/sh:1', args: [script], ...container }], ...more,
});
const createPod = (name: string, spec: k8s.V1PodSpec) => core.createNamespacedPod({ namespace: ns, body: { metadata: { name }, spec } });
const readPod = (name: string) => core.readNamespacedPod({ namespace: ns, name });
const terminalPod = (name: string) => until(`pod ${name} to end`, async () => {
  const p = await readPod(name);
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
});
const jobCondition = (name: string) => until(`job ${name} to finish`, async () => {
  const j = await batch.readNamespacedJob({ namespace: ns, name });
  return j.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
});
const jobPod = async (job: string) => (await core.listNamespacedPod({ namespace: ns, labelSelector: `batch.kubernetes.io/job-name=${job}` })).items[0];
const createJob = (name: string, spec: k8s.V1PodSpec) => batch.createNamespacedJob({
  namespace: ns, body: { metadata: { name }, spec: { backoffLimit: 0, template: { spec } } },
});

/** GET through the API server as the admin; resolves when the response ends, `onData` sees each chunk. */
function apiGet(pathAndQuery: string, onData?: (soFar: string) => void): Promise<{ status: number; body: string }> {
  const { url, pki } = cp();
  return new Promise((resolve, reject) => {
    https.get(`${url}${pathAndQuery}`, { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; onData?.(body); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

test('the node is Ready with its GPUs, and its Lease is held', async () => {
  const node = await core.readNode({ name: cp().nodeName });
  expect(node.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'KubeletReady' });
  expect(node.status?.capacity?.['nvidia.com/gpu']).toBe('2');
  expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(kubelet.port);
  expect(node.metadata?.labels?.['kubernetes.io/hostname']).toBe(cp().nodeName);
  // The API server taints a new Node not-ready (admission TaintNodesByCondition); the node lifecycle
  // controller lifts it once it believes the node is Ready.
  await until('the not-ready taint to be lifted', async () => ((await core.readNode({ name: cp().nodeName })).spec?.taints ?? []).length === 0 ? true : undefined);
  const lease = await cp().kubeConfig().makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ namespace: 'kube-node-lease', name: cp().nodeName });
  expect(lease.spec).toMatchObject({ holderIdentity: cp().nodeName, leaseDurationSeconds: 40 });
  expect(lease.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Node', uid: node.metadata?.uid });
});

test('the kubelet HTTPS server lets in only clients with a certificate from the cluster CA', async () => {
  const { pki } = cp();
  const get = (opts: https.RequestOptions) => new Promise<string>((resolve, reject) => {
    https.get(`https://127.0.0.1:${kubelet.port}/healthz`, { ca: pki.ca.cert, ...opts }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    }).on('error', reject);
  });
  expect(await get({ cert: pki.apiserverKubeletClient.cert, key: pki.apiserverKubeletClient.key })).toBe('200 ok');
  await expect(get({})).rejects.toThrow();
});

test('a Job asking for a GPU is scheduled, runs, and the Job controller marks it Complete; its logs come through the API server', async () => {
  await createJob('ok', podSpec("console.log('hello'); console.log('from ' + process.env.NODE_OK)", {}, {
    resources: { limits: { 'nvidia.com/gpu': '1' } }, env: [{ name: 'NODE_OK', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
  }));
  expect(await jobCondition('ok')).toMatchObject({ type: 'Complete' });
  const pod = await jobPod('ok');
  expect(pod.spec?.nodeName).toBe(cp().nodeName);
  expect(pod.status?.phase).toBe('Succeeded');
  expect(pod.status?.containerStatuses?.[0].state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
  expect(pod.status?.containerStatuses?.[0].containerID).toMatch(/^bij-process:\/\/\d+$/);
  const name = pod.metadata!.name!;
  const all = await apiGet(`/api/v1/namespaces/${ns}/pods/${name}/log`);
  expect(all).toEqual({ status: 200, body: `hello\nfrom ${cp().nodeName}\n` });
  const tail = await apiGet(`/api/v1/namespaces/${ns}/pods/${name}/log?tailLines=1&timestamps=true`);
  expect(tail.body).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z from ${cp().nodeName}\\n$`));
  expect((await apiGet(`/api/v1/namespaces/${ns}/pods/${name}/log?limitBytes=3`)).body).toBe('hel');
});

test('a failing Job: the Job controller marks it Failed, the termination message is in the pod status', async () => {
  await createJob('bad', podSpec("require('fs').writeFileSync(process.env.BIJ_TERMINATION_LOG, 'bad input: column x'); process.exit(65)"));
  expect(await jobCondition('bad')).toMatchObject({ type: 'Failed' });
  const pod = await jobPod('bad');
  expect(pod.status?.phase).toBe('Failed');
  expect(pod.status?.containerStatuses?.[0].state?.terminated).toMatchObject({ exitCode: 65, reason: 'Error', message: 'bad input: column x' });
});

test('logs with follow stream until the process exits', async () => {
  const gate = path.join(workDir, 'follow-gate');
  await createPod('follow', podSpec(`console.log('first'); const t = setInterval(() => { if (require('fs').existsSync(${JSON.stringify(gate)})) { console.log('second'); clearInterval(t); } }, 50)`));
  await until('the pod to run', async () => ((await readPod('follow')).status?.phase === 'Running' ? true : undefined));
  let opened = false;
  const res = await apiGet(`/api/v1/namespaces/${ns}/pods/follow/log?follow=true`, (soFar) => {
    if (!opened && soFar.includes('first\n')) {
      opened = true;
      writeFileSync(gate, '');
    }
  });
  expect(res).toEqual({ status: 200, body: 'first\nsecond\n' });
  expect((await terminalPod('follow')).status?.phase).toBe('Succeeded');
});

test('an image the kubelet cannot map fails the pod with ImageNotMapped, naming the image', async () => {
  await createPod('unmapped', { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] });
  const pod = await terminalPod('unmapped');
  expect(pod.status?.phase).toBe('Failed');
  expect(pod.status?.reason).toBe('ImageNotMapped');
  expect(pod.status?.containerStatuses?.[0].state?.terminated).toMatchObject({ reason: 'ImageNotMapped', message: expect.stringContaining('image "busybox:1.36"') });
  expect(kubelet.running().some((r) => r.pod === 'unmapped')).toBe(false);
});

test('a graceful deletion: the process sees SIGTERM, then the pod is gone', async () => {
  const dir = mkdtempSync(path.join(workDir, 'term-'));
  await createPod('graceful', podSpec(`
    const fs = require('fs');
    process.on('SIGTERM', () => { fs.writeFileSync(${JSON.stringify(path.join(dir, 'sigterm'))}, 'got it'); process.exit(0); });
    fs.writeFileSync(${JSON.stringify(path.join(dir, 'ready'))}, '');
    setInterval(() => {}, 1000);`));
  await until('the SIGTERM handler', async () => (existsSync(path.join(dir, 'ready')) ? true : undefined));
  await core.deleteNamespacedPod({ namespace: ns, name: 'graceful', gracePeriodSeconds: 20 });
  await until('the pod to be gone', async () => readPod('graceful').then(() => undefined, (e: { code?: number }) => (e.code === 404 ? true : undefined)));
  expect(readFileSync(path.join(dir, 'sigterm'), 'utf8')).toBe('got it');
  expect(kubelet.running().some((r) => r.pod === 'graceful')).toBe(false);
});

test('activeDeadlineSeconds: the pod is killed and fails with DeadlineExceeded', async () => {
  await createPod('deadline', podSpec('setInterval(() => {}, 1000)', { activeDeadlineSeconds: 2 }));
  const pod = await terminalPod('deadline');
  expect(pod.status).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' });
  expect(pod.status?.containerStatuses?.[0].state?.terminated?.exitCode).toBe(143);
});

test('the kill hook is a crash: exit code 137, pod Failed', async () => {
  await createPod('crash', podSpec('setInterval(() => {}, 1000)'));
  await until('the pod to run', async () => (kubelet.running().some((r) => r.pod === 'crash') ? true : undefined));
  expect(kubelet.kill('crash')).toBe(true);
  const pod = await terminalPod('crash');
  expect(pod.status?.containerStatuses?.[0].state?.terminated).toMatchObject({ exitCode: 137, reason: 'Error', signal: 9 });
  expect(kubelet.kill('no-such-pod')).toBe(false);
});

test('env from a Secret (envFrom and secretKeyRef): the pod waits with CreateContainerConfigError until the Secret exists', async () => {
  await createPod('env', podSpec("require('fs').writeFileSync(process.env.BIJ_TERMINATION_LOG, JSON.stringify([process.env.S_token, process.env.ONE, process.env.ME]))", {}, {
    envFrom: [{ prefix: 'S_', secretRef: { name: 'creds' } }],
    env: [{ name: 'ONE', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } }, { name: 'ME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
  }));
  const waiting = await until('CreateContainerConfigError', async () => {
    const w = (await readPod('env')).status?.containerStatuses?.[0].state?.waiting;
    return w?.reason === 'CreateContainerConfigError' ? w : undefined;
  });
  expect(waiting.message).toContain('"creds"');
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'creds' }, stringData: { token: 's3cret' } } });
  const pod = await terminalPod('env');
  expect(pod.status?.phase).toBe('Succeeded');
  expect(JSON.parse(pod.status?.containerStatuses?.[0].state?.terminated?.message ?? 'null')).toEqual(['s3cret', 's3cret', 'env']);
});

test('a pod deleted before it started is never started, and goes', async () => {
  const started: string[] = [];
  kubelet.onPodStarted = (pod) => started.push(pod.metadata!.name!);
  try {
    await createPod('never', podSpec('process.exit(0)', {}, { env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'absent', key: 'k' } } }] }));
    await until('CreateContainerConfigError', async () => ((await readPod('never')).status?.containerStatuses?.[0].state?.waiting?.reason === 'CreateContainerConfigError' ? true : undefined));
    await core.deleteNamespacedPod({ namespace: ns, name: 'never', gracePeriodSeconds: 30 });
    await until('the pod to be gone', async () => readPod('never').then(() => undefined, (e: { code?: number }) => (e.code === 404 ? true : undefined)));
    // a pod that does start is seen by the hook (so the hook would have seen this one)
    await createPod('hooked', podSpec('process.exit(0)'));
    await terminalPod('hooked');
    expect(started).toEqual(['hooked']);
  } finally {
    kubelet.onPodStarted = undefined;
  }
});

test('restartPolicy Always (a Deployment\'s pods): a container that exits is restarted in place after a back-off; the pod stays Running', async () => {
  const count = path.join(workDir, 'always-count');
  await createPod('always', podSpec(`
    const fs = require('fs');
    const n = fs.existsSync(${JSON.stringify(count)}) ? Number(fs.readFileSync(${JSON.stringify(count)}, 'utf8')) : 0;
    fs.writeFileSync(${JSON.stringify(count)}, String(n + 1));
    console.log('run ' + n);
    if (n === 0) process.exit(3);
    setInterval(() => {}, 1000);`, { restartPolicy: 'Always' }));
  const backOff = await until('CrashLoopBackOff', async () => {
    const c = (await readPod('always')).status?.containerStatuses?.[0];
    return c?.state?.waiting?.reason === 'CrashLoopBackOff' || c?.state?.running && c.restartCount === 1 ? c : undefined;
  });
  expect(backOff.lastState?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
  const pod = await until('the second run', async () => {
    const p = await readPod('always');
    return p.status?.containerStatuses?.[0].state?.running && p.status.containerStatuses[0].restartCount === 1 ? p : undefined;
  });
  expect(pod.status?.phase).toBe('Running');
  expect(pod.status?.containerStatuses?.[0]).toMatchObject({ ready: true, restartCount: 1, lastState: { terminated: { exitCode: 3 } } });
  // Running (and ready) is reported when the process starts, before its first line: wait for that line.
  const log = await until('the second run\'s log line', async () => {
    const body = (await apiGet(`/api/v1/namespaces/${ns}/pods/always/log`)).body;
    return body.includes('run 1') ? body : undefined;
  });
  expect(log).toBe('run 0\nrun 1\n');
  expect(readFileSync(count, 'utf8')).toBe('2');
  await core.deleteNamespacedPod({ namespace: ns, name: 'always', gracePeriodSeconds: 5 });
  await until('the pod to be gone', async () => readPod('always').then(() => undefined, (e: { code?: number }) => (e.code === 404 ? true : undefined)));
  expect(kubelet.running().some((r) => r.pod === 'always')).toBe(false);
});

test('the service-account token: a pod mounting it reaches the API server as its ServiceAccount through KUBECONFIG; automountServiceAccountToken false gets none', async () => {
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'reader' } } });
  // What an in-cluster client does with the kubeconfig: the server, the CA file, the token file.
  await createPod('sa', podSpec(`
    const fs = require('fs'); const path = require('path'); const https = require('https');
    const cfg = fs.readFileSync(process.env.KUBECONFIG, 'utf8');
    const dir = path.dirname(process.env.KUBECONFIG);
    const server = /server: (\\S+)/.exec(cfg)[1];
    const req = https.request(server + '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      method: 'POST', ca: fs.readFileSync(path.join(dir, 'ca.crt')),
      headers: { authorization: 'Bearer ' + fs.readFileSync(path.join(dir, 'token'), 'utf8'), 'content-type': 'application/json' },
    }, (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => {
      fs.writeFileSync(process.env.BIJ_TERMINATION_LOG, JSON.stringify([res.statusCode, JSON.parse(b).status.userInfo, fs.readFileSync(path.join(dir, 'namespace'), 'utf8')]));
    }); });
    req.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));`, { serviceAccountName: 'reader' }));
  const pod = await terminalPod('sa');
  expect(pod.status?.phase).toBe('Succeeded');
  const [code, user, namespace] = JSON.parse(pod.status?.containerStatuses?.[0].state?.terminated?.message ?? 'null') as [number, { username: string; extra: Record<string, string[]> }, string];
  expect(code).toBe(201);
  expect(user.username).toBe(`system:serviceaccount:${ns}:reader`);
  expect(user.extra['authentication.kubernetes.io/pod-name']).toEqual(['sa']);
  expect(user.extra['authentication.kubernetes.io/pod-uid']).toEqual([pod.metadata!.uid]);
  expect(namespace).toBe(ns);

  await createPod('no-sa', podSpec("require('fs').writeFileSync(process.env.BIJ_TERMINATION_LOG, process.env.KUBECONFIG ?? 'none')", { automountServiceAccountToken: false }));
  expect((await terminalPod('no-sa')).status?.containerStatuses?.[0].state?.terminated?.message).toBe('none');
});

test('stop() leaves no process behind; a kubelet started again fails the pods it lost, and still serves their logs', async () => {
  const pidFile = path.join(workDir, 'grandchild.pid');
  await createPod('orphan', podSpec(`
    const { spawn } = require('child_process');
    const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid));
    console.log('parent up');
    setInterval(() => {}, 1000);`));
  await until('the grandchild', async () => (existsSync(pidFile) && kubelet.running().some((r) => r.pod === 'orphan') ? true : undefined));
  const pids = [...kubelet.running().map((r) => r.pid), Number(readFileSync(pidFile, 'utf8'))];
  expect(pids.length).toBeGreaterThanOrEqual(2);
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  expect(pids.every(alive)).toBe(true);
  await kubelet.stop();
  await until('the processes to be reaped', async () => (pids.some(alive) ? undefined : true), 10_000);

  kubelet = await startProcessKubelet({ controlPlane: cp(), gpus: 2, workDir, imageMap, log: silentLogger() });
  const pod = await terminalPod('orphan');
  expect(pod.status?.phase).toBe('Failed');
  expect(pod.status?.containerStatuses?.[0].state?.terminated).toMatchObject({ exitCode: 137, reason: 'ContainerStatusUnknown' });
  expect((await apiGet(`/api/v1/namespaces/${ns}/pods/orphan/log`)).body).toBe('parent up\n');
  const node = await core.readNode({ name: cp().nodeName });
  expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(kubelet.port);
});
