/**
 * `helm install` of the chart into a running cluster (the real control plane and the process kubelet),
 * with the operator running from the chart: its Deployment's pod run by the process kubelet as this
 * checkout's `bin/bij.js operator` with the container's args (the `bij-operator` image, image-map.ts),
 * authenticated with a token for the chart's ServiceAccount (the kubelet's stand-in for the projected
 * token volume, service-account.ts), so RBAC judges it by the chart's ClusterRole. A BatchInferenceJob
 * then runs until Succeeded under that operator, and `helm uninstall` stops it.
 */
import * as k8s from '@kubernetes/client-node';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { startProcessKubelet, type ProcessKubelet } from '../../cluster/src/kubelet/kubelet.js';
import { silentLogger } from '../../operator/src/log.js';
import { useControlPlane } from '../support/control-plane.js';
import { DATA, filesUnder, writeFixtures } from '../support/operator-process.js';
import { CHART, apiRequest, helmOk, setJson } from './helm.js';

const cp = useControlPlane();
const root = mkdtempSync(path.join(tmpdir(), 'bij-helm-install-'));
const workDir = path.join(root, 'kubelet');
const NS = 'bij-system';
const JOBS_NS = 'ml';
let kubelet: ProcessKubelet;
let kc: k8s.KubeConfig;
let kubeconfig: string;
let data: { model: string; input: string };
let metricsPort: number;

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const port = (s.address() as net.AddressInfo).port;
    s.close(() => resolve(port));
  }).on('error', reject);
});

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
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
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  kc = cp().kubeConfig();
  kubeconfig = path.join(root, 'admin.kubeconfig');
  writeFileSync(kubeconfig, cp().kubeconfigFor('helm-test-admin', cp().pki.admin, 'default'), { mode: 0o600 });
  data = await writeFixtures(root);
  metricsPort = await freePort();
  // Pods start with nothing of this test's environment but PATH and HOME: whatever the operator
  // knows of the cluster comes from its pod.
  kubelet = await startProcessKubelet({
    controlPlane: cp(), workDir, log: silentLogger(), baseEnv: { PATH: process.env.PATH ?? '', HOME: root }, restartBackoffMs: 1000,
  });
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: JOBS_NS } } });
}, 120_000);

afterAll(async () => {
  await kubelet?.stop();
  rmSync(root, { recursive: true, force: true });
}, 60_000);

const operatorPod = async (): Promise<k8s.V1Pod | undefined> => {
  const pods = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: NS, labelSelector: 'app.kubernetes.io/instance=bij-operator' });
  return pods.items.find((p) => !p.metadata?.deletionTimestamp);
};

test('helm install --wait: the chart\'s CRD, RBAC and Deployment; its pod runs on the process kubelet and leads', async () => {
  const out = await helmOk(['install', 'bij-operator', CHART, '--namespace', NS, '--create-namespace', '--wait', '--timeout', '120s',
    ...setJson({
      replicas: 1, // one node, one host network: a second replica would find the metrics port taken
      image: { repository: 'ghcr.io/batchinference/bij-operator', tag: 'dev' },
      metrics: { port: metricsPort },
      // test speeds (production: resync 60 s, retries from 10 s, progress every 15 s)
      extraArgs: ['--resync-ms=2000', '--retry-backoff-ms=200', '--progress-poll-ms=500'],
    })], { kubeconfig });
  expect(out).toMatch(/STATUS: deployed/);
  // helm installed the chart's CRDs (crds/) before the templates
  for (const name of ['batchinferencejobs.batchinference.dev', 'batchinferenceschedules.batchinference.dev']) {
    const crd = await kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name });
    expect({ name, established: crd.status?.conditions?.find((c) => c.type === 'Established')?.status }).toEqual({ name, established: 'True' });
  }
  const deploy = await kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ namespace: NS, name: 'bij-operator' });
  expect(deploy.status).toMatchObject({ replicas: 1, readyReplicas: 1, availableReplicas: 1 });

  const pod = (await operatorPod())!;
  expect(pod.spec?.nodeName).toBe(cp().nodeName);
  expect(pod.spec?.serviceAccountName).toBe('bij-operator');
  const running = kubelet.running().find((r) => r.namespace === NS && r.pod === pod.metadata!.name);
  expect(running).toBeDefined();
  // The process is this checkout's operator with the container's args, as the image's entrypoint runs it.
  const cmdline = readFileSync(`/proc/${running!.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  expect(cmdline.slice(1)).toEqual([
    path.resolve('dist/operator/src/cli/main.js'), 'operator', `--metrics-port=${metricsPort}`, `--lease-namespace=${NS}`, '--lease-name=bij-operator', '--workers=4',
    '--resync-ms=2000', '--retry-backoff-ms=200', '--progress-poll-ms=500',
  ]);
  // It leads: the chart's Lease, held under the pod's name (POD_NAME from the downward API).
  const lease = await until('the operator to take the Lease', async () => {
    const l = await kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ namespace: NS, name: 'bij-operator' });
    return l.spec?.holderIdentity ? l : undefined;
  });
  expect(lease.spec?.holderIdentity).toBe(pod.metadata!.name);
  const metrics = await until('/metrics to answer', async () => {
    const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    const text = await r.text();
    return /^bij_leader 1$/m.test(text) ? text : undefined;
  });
  expect(metrics).toMatch(/^bij_leader 1$/m);
}, 180_000);

test('the operator process is the chart\'s ServiceAccount: a token bound to its pod, through KUBECONFIG', async () => {
  const pod = (await operatorPod())!;
  const running = kubelet.running().find((r) => r.pod === pod.metadata!.name)!;
  const environ = Object.fromEntries(readFileSync(`/proc/${running.pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  expect(environ.KUBECONFIG).toBe(path.join(workDir, `${NS}_${pod.metadata!.name}_${pod.metadata!.uid}`, 'serviceaccount', 'kubeconfig'));
  expect(environ).toMatchObject({ POD_NAME: pod.metadata!.name, POD_NAMESPACE: NS, BIJ_LOG_LEVEL: 'info' });
  const config = parse(readFileSync(environ.KUBECONFIG, 'utf8')) as { clusters: { cluster: { server: string } }[]; users: { user: { 'auth-provider': { config: { tokenFile: string } } } }[] };
  expect(config.clusters[0].cluster.server).toBe(cp().url);
  const token = readFileSync(config.users[0].user['auth-provider'].config.tokenFile, 'utf8');
  // Who the API server says the token is: the chart's ServiceAccount, bound to this pod.
  const asToken = new k8s.KubeConfig();
  asToken.loadFromOptions({
    clusters: [{ name: 'c', server: cp().url, caData: Buffer.from(cp().pki.ca.cert).toString('base64') }],
    users: [{ name: 'u', token }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });
  const review = await apiRequest(asToken, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
  expect(review.status).toBe(201);
  const user = (JSON.parse(review.body) as { status: { userInfo: { username: string; extra: Record<string, string[]> } } }).status.userInfo;
  expect(user.username).toBe(`system:serviceaccount:${NS}:bij-operator`);
  expect(user.extra['authentication.kubernetes.io/pod-name']).toEqual([pod.metadata!.name]);
  expect(user.extra['authentication.kubernetes.io/pod-uid']).toEqual([pod.metadata!.uid]);
  // ... and what the chart's ClusterRole lets it do, and not do
  const can = async (verb: string, resource: string, group = '') => {
    const r = await apiRequest(asToken, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb, group, resource, namespace: JOBS_NS } },
    });
    return (JSON.parse(r.body) as { status: { allowed: boolean } }).status.allowed;
  };
  expect(await can('create', 'jobs', 'batch')).toBe(true);
  expect(await can('list', 'secrets')).toBe(false);
});

test('a BatchInferenceJob runs until Succeeded under the chart\'s operator', async () => {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const out = path.join(root, 'out', 'churn') + '/';
  await custom.createNamespacedCustomObject({
    group: 'batchinference.dev', version: 'v1alpha1', namespace: JOBS_NS, plural: 'batchinferencejobs',
    body: {
      apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata: { name: 'churn' },
      spec: {
        model: { uri: data.model, version: 'v1', inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
        input: { uri: data.input, idColumn: 'id', passthroughColumns: ['region'] },
        output: { uri: out },
        shards: 4, parallelism: 2, batchSize: 512, maxRetries: 2,
        worker: { executionProvider: 'cpu' },
      },
    },
  });
  type Bij = { status?: { phase?: string; message?: string; rows?: { total?: number; processed?: number } } };
  const done = await until('the job to finish', async () => {
    const j = await custom.getNamespacedCustomObject({ group: 'batchinference.dev', version: 'v1alpha1', namespace: JOBS_NS, plural: 'batchinferencejobs', name: 'churn' }) as Bij;
    return j.status?.phase === 'Succeeded' || j.status?.phase === 'Failed' ? j : undefined;
  }, 150_000);
  expect(done.status).toMatchObject({ phase: 'Succeeded', rows: { total: DATA.total, processed: DATA.total } });
  expect(existsSync(path.join(out, '_SUCCESS'))).toBe(true);
  expect(filesUnder(out).filter((f) => f.endsWith('.parquet')).length).toBeGreaterThan(0);
  // Its Events come from the chart's pod (reportingInstance: POD_NAME).
  const pod = (await operatorPod())!;
  const events = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace: JOBS_NS, fieldSelector: 'involvedObject.name=churn' });
  expect(events.items.filter((e) => e.reason === 'Committed').map((e) => e.reportingInstance)).toEqual([pod.metadata!.name]);
}, 180_000);

test('helm uninstall removes the Deployment; the kubelet stops the operator process', async () => {
  const pod = (await operatorPod())!;
  const pid = kubelet.running().find((r) => r.pod === pod.metadata!.name)!.pid;
  await helmOk(['uninstall', 'bij-operator', '--namespace', NS, '--wait', '--timeout', '90s'], { kubeconfig });
  await until('the operator pod to be gone', async () => ((await operatorPod()) === undefined ? true : undefined), 60_000);
  await until('the operator process to exit', async () => (kubelet.running().some((r) => r.pid === pid) ? undefined : true));
  expect(() => process.kill(pid, 0)).toThrow();
}, 120_000);
