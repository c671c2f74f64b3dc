/**
 * The chart tests' helpers: the real helm (built from tools/helm, cluster/src/tools/helm.ts) run with
 * its own config, cache and data folders (never the user's), the chart rendered to objects, and the
 * prometheus-operator CRDs (ServiceMonitor, PrometheusRule) from the Go module that carries them.
 */
import * as k8s from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { chartDir } from '../../cluster/src/up/chart-rbac.js';
import { helmBinary } from '../../cluster/src/tools/helm.js';

export const CHART = chartDir();

export interface Run { code: number; stdout: string; stderr: string }

const home = mkdtempSync(path.join(tmpdir(), 'bij-helm-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Runs helm; never throws (the exit code and output are the result). */
export async function helm(args: string[], o: { kubeconfig?: string; input?: string } = {}): Promise<Run> {
  const bin = await helmBinary();
  return new Promise((resolve) => {
    const child = execFile(bin, args, {
      env: {
        PATH: process.env.PATH ?? '', HOME: home,
        HELM_CONFIG_HOME: path.join(home, 'config'), HELM_CACHE_HOME: path.join(home, 'cache'), HELM_DATA_HOME: path.join(home, 'data'),
        ...(o.kubeconfig ? { KUBECONFIG: o.kubeconfig } : { KUBECONFIG: path.join(home, 'no-cluster') }),
      },
      timeout: 180_000, maxBuffer: 64 << 20,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    if (o.input !== undefined) child.stdin!.end(o.input);
  });
}

/** Runs helm and fails with its output unless it exits 0. */
export async function helmOk(args: string[], o: { kubeconfig?: string; input?: string } = {}): Promise<string> {
  const r = await helm(args, o);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export type Obj = k8s.KubernetesObject & Record<string, unknown> & { metadata: k8s.V1ObjectMeta };

/** `--set-json` arguments for a values object (one per top-level key). */
export const setJson = (values: Record<string, unknown>): string[] =>
  Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);

/** `helm template` of the chart as objects. */
export async function render(release: string, namespace: string, values: Record<string, unknown> = {}, extra: string[] = []): Promise<Obj[]> {
  const out = await helmOk(['template', release, CHART, '--namespace', namespace, ...setJson(values), ...extra]);
  return parseObjects(out);
}

export function parseObjects(yamlText: string): Obj[] {
  return parseAllDocuments(yamlText).map((d) => {
    if (d.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj | null;
  }).filter((o): o is Obj => o !== null);
}

/** The one object of a kind (and name, if given); fails listing what there is. */
export function one(objs: Obj[], kind: string, name?: string): Obj {
  const hits = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hits.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${hits.length} among ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return hits[0];
}

export const kinds = (objs: Obj[]): string[] => objs.map((o) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`).sort();

/** Every optional part switched on (the "all on" render). */
export const ALL_ON = {
  metrics: {
    port: 8080,
    serviceMonitor: { enabled: true, interval: '15s', scrapeTimeout: '10s', labels: { release: 'kube-prometheus-stack' }, relabelings: [{ action: 'replace', targetLabel: 'cluster', replacement: 'test' }], metricRelabelings: [] },
    rules: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
    dashboard: { enabled: true, labels: { team: 'ml' }, annotations: { grafana_folder: 'Batch inference' } },
  },
  serviceAccount: { create: true, name: 'bij-sa', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/bij-operator' } },
  leaderElection: { enabled: true, leaseName: 'bij-lease' },
  imagePullSecrets: [{ name: 'regcred' }],
  podAnnotations: { 'example.com/a': 'b' },
  podLabels: { team: 'ml' },
  priorityClassName: 'system-cluster-critical',
  resources: { requests: { cpu: '200m', memory: '300Mi' }, limits: { cpu: 2, memory: '2Gi' } },
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' }],
  affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'bij-operator' } } } }] } },
  env: [{ name: 'AWS_REGION', value: 'eu-west-1' }],
  envFrom: [{ secretRef: { name: 'bij-s3' } }],
  policy: { allowedImagePrefixes: ['ghcr.io/batchinference/'], allowedServiceAccounts: ['bij-worker'], secretEnv: false },
  extraArgs: ['--resync-ms=30000'],
  logLevel: 'debug',
  workers: 8,
};

/** The prometheus-operator module that carries the CRDs, pinned here (the proxy's only version). */
export const PROMETHEUS_OPERATOR = {
  module: 'github.com/prometheus-operator/prometheus-operator',
  version: 'v0.85.0',
  /** go.sum's hash of the module zip: a different download fails. */
  sum: 'h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=',
};

/** The ServiceMonitor and PrometheusRule CRDs from the pinned module (downloaded into Go's module cache once). */
export async function prometheusOperatorCrds(): Promise<k8s.V1CustomResourceDefinition[]> {
  const { module, version, sum } = PROMETHEUS_OPERATOR;
  const info = await new Promise<{ Dir?: string; Sum?: string; Error?: string }>((resolve, reject) => {
    execFile('go', ['mod', 'download', '-json', `${module}@${version}`], { cwd: tmpdir(), timeout: 300_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      // With -json, go prints the error in the JSON too; keep whichever says more.
      try {
        resolve(JSON.parse(stdout) as { Dir?: string; Sum?: string; Error?: string });
      } catch {
        reject(new Error(`go mod download ${module}@${version} failed: ${err?.message ?? ''} ${stderr}`));
      }
    });
  });
  if (info.Error || !info.Dir) throw new Error(`cannot download ${module}@${version} (the ServiceMonitor and PrometheusRule CRDs) from the Go module proxy: ${info.Error ?? 'no folder'}`);
  if (info.Sum !== sum) throw new Error(`${module}@${version}: downloaded module hash ${info.Sum} is not the pinned ${sum}`);
  return ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml'].map((f) =>
    parseAllDocuments(readFileSync(path.join(info.Dir!, 'example', 'prometheus-operator-crd', f), 'utf8'))[0].toJS() as k8s.V1CustomResourceDefinition);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HTTPS request to the API server as `kc`'s user, the body sent as given (JSON): client-node's
 * typed clients re-serialize objects through their models, which drops fields they spell differently
 * (a CRD's `x-kubernetes-int-or-string`), so the objects helm rendered are sent untouched this way. */
export async function apiRequest(kc: k8s.KubeConfig, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: string }> {
  const url = new URL(urlPath, kc.getCurrentCluster()!.server);
  const opts: https.RequestOptions = { method, headers: { 'Content-Type': 'application/json', Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The collection URL of an object (kind -> resource by the API server's discovery). */
class ObjectPaths extends k8s.KubernetesObjectApi {
  createPath(o: k8s.KubernetesObject): Promise<string> {
    return this.specUriPath(structuredClone(o), 'create');
  }
}

/** Creates CRDs (or leaves existing ones) and waits until each is Established. */
export async function installCrds(kc: k8s.KubeConfig, crds: k8s.V1CustomResourceDefinition[], timeoutMs = 30_000): Promise<void> {
  for (const body of crds) {
    const r = await apiRequest(kc, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body);
    if (r.status !== 201 && r.status !== 409) throw new Error(`creating CRD ${body.metadata?.name}: ${r.status} ${r.body}`);
  }
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const now = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
      if (now.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata!.name} not Established: ${JSON.stringify(now.status?.conditions)}`);
      await sleep(100);
    }
  }
}

/** Sends each object, as rendered, to the API server as a create with a server-side dry run
 * (dryRun=All): the server validates it (schema, admission, RBAC escalation) and stores nothing.
 * Returns the failures, each naming the object and the server's message. */
export async function dryRunCreate(kc: k8s.KubeConfig, objs: Obj[]): Promise<string[]> {
  const paths = kc.makeApiClient(ObjectPaths);
  const failures: string[] = [];
  for (const o of objs) {
    let collection: string;
    for (let attempt = 0; ; attempt++) {
      try {
        collection = await paths.createPath(o);
        break;
      } catch (e) {
        // discovery of a just-established CRD's group can lag a moment
        if (attempt >= 20) throw e;
        await sleep(250);
      }
    }
    const r = await apiRequest(kc, 'POST', `${collection}?dryRun=All&fieldManager=helm-test`, o);
    if (r.status !== 201) {
      let message = r.body;
      try {
        message = (JSON.parse(r.body) as { message?: string }).message ?? r.body;
      } catch { /* not JSON */ }
      failures.push(`${o.kind}/${o.metadata.name}: ${r.status} ${message}`);
    }
  }
  return failures;
}
