/**
 * The real Kueue controller manager (sigs.k8s.io/kueue, pinned in tools/kueue) for the Kueue tests,
 * as a child process against the real control plane: its CRDs from the pinned module, then
 * `kueue --config=<file>` with the admin kubeconfig, in its own process group (the control plane's
 * Supervisor: stopped by `stop()`, killed with the test process, reaped if the test process dies).
 *
 * The Configuration (config.kueue.x-k8s.io/v1beta2, read from apis/config/v1beta2 of the pinned module):
 * batch/job integration only, leader election off, internal cert management off, the visibility
 * server off (VisibilityOnDemand), health and metrics on free loopback ports, the webhook server on a
 * loopback port with a certificate made here. No webhook is registered with the API server: the
 * operator creates its shard Jobs suspended, which is what Kueue's Job webhook would do.
 *
 * One thing cannot be configured: with internal cert management off, Kueue 0.17.0's main reads the
 * metrics server's certificate from the fixed path /etc/kueue/metrics/certs (cmd/kueue/main.go, where
 * a Deployment mounts a Secret) and exits if it is missing, whether or not metrics are served. So the
 * manager runs in a private mount namespace (`unshare --mount`, as root like the rest of the suite;
 * `--user --map-root-user` otherwise) in which /etc is an overlay with that folder added: the host's
 * /etc is never written, and nothing outside the process sees the overlay.
 */
import * as k8s from '@kubernetes/client-node';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import type { ControlPlane } from '../../cluster/src/control-plane/launch.js';
import { freePort } from '../../cluster/src/control-plane/launch.js';
import { createServingCert } from '../../cluster/src/control-plane/pki.js';
import { Supervisor, type ManagedProcess } from '../../cluster/src/control-plane/supervisor.js';
import { kueueBinary, kueueCrdDir } from '../../cluster/src/tools/kueue.js';
import { installCrds } from '../helm/helm.js';

export const KUEUE_NAMESPACE = 'kueue-system';
export const KUEUE_GROUP = 'kueue.x-k8s.io';
export const KUEUE_VERSION = 'v1beta2';
/** Where Kueue 0.17.0 reads the metrics certificate when internal cert management is off. */
const METRICS_CERT_DIR = '/etc/kueue/metrics/certs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kueue's CRDs (ClusterQueue, LocalQueue, Workload, ResourceFlavor, WorkloadPriorityClass...) from the
 * pinned module, installed and Established. */
export async function installKueueCrds(kc: k8s.KubeConfig): Promise<string[]> {
  const dir = await kueueCrdDir();
  const crds = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()
    .map((f) => YAML.parse(readFileSync(join(dir, f), 'utf8')) as k8s.V1CustomResourceDefinition);
  await installCrds(kc, crds, 60_000);
  return crds.map((c) => c.metadata!.name!);
}

export interface KueueManager {
  process: ManagedProcess;
  /** The Configuration file it runs with. */
  configFile: string;
  /** Its log (zap, JSON lines), the last `bytes`. */
  log(bytes?: number): string;
  stop(): Promise<void>;
}

function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Starts Kueue's manager against the control plane (CRDs first) and waits until it is ready. */
export async function startKueue(cp: ControlPlane, o: { timeoutMs?: number } = {}): Promise<KueueManager> {
  const bin = await kueueBinary();
  const kc = cp.kubeConfig();
  await installKueueCrds(kc);
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: KUEUE_NAMESPACE } } })
    .catch((e: { code?: number }) => (e.code === 409 ? undefined : Promise.reject(e)));

  const dir = mkdtempSync(join(tmpdir(), 'bij-kueue-'));
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  const cert = await createServingCert('kueue-webhook-service.kueue-system.svc', ['localhost', 'kueue-webhook-service.kueue-system.svc']);
  writeFileSync(join(certDir, 'tls.crt'), cert.cert);
  writeFileSync(join(certDir, 'tls.key'), cert.key, { mode: 0o600 });
  writeFileSync(join(certDir, 'ca.crt'), cert.ca);
  const [webhookPort, healthPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const config = {
    apiVersion: 'config.kueue.x-k8s.io/v1beta2',
    kind: 'Configuration',
    namespace: KUEUE_NAMESPACE,
    manageJobsWithoutQueueName: false,
    health: { healthProbeBindAddress: `127.0.0.1:${healthPort}` },
    metrics: { bindAddress: `127.0.0.1:${metricsPort}` },
    webhook: { host: '127.0.0.1', port: webhookPort, certDir },
    leaderElection: { leaderElect: false },
    internalCertManagement: { enable: false },
    integrations: { frameworks: ['batch/job'] },
    featureGates: { VisibilityOnDemand: false },
  };
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, YAML.stringify(config));

  // The private mount namespace: a tmpfs for the overlay's upper layer, /etc overlaid, the metrics
  // certificate added, then exec: the manager is this process (same pid, same process group).
  const ovl = join(dir, 'etc-overlay');
  mkdirSync(ovl);
  const script = [
    'set -e',
    `mount -t tmpfs tmpfs ${shellQuote(ovl)}`,
    `mkdir -p ${shellQuote(`${ovl}/upper`)} ${shellQuote(`${ovl}/work`)}`,
    `mount -t overlay overlay -o ${shellQuote(`lowerdir=/etc,upperdir=${ovl}/upper,workdir=${ovl}/work`)} /etc`,
    `mkdir -p ${METRICS_CERT_DIR}`,
    `cp ${shellQuote(join(certDir, 'tls.crt'))} ${shellQuote(join(certDir, 'tls.key'))} ${METRICS_CERT_DIR}/`,
    `exec ${shellQuote(bin)} --config=${shellQuote(configFile)} --zap-log-level=info`,
  ].join('\n');
  const root = process.getuid?.() === 0;
  const unshare = ['--mount', '--propagation', 'private', ...(root ? [] : ['--user', '--map-root-user']), 'sh', '-c', script];
  const supervisor = new Supervisor(dir);
  const proc = supervisor.start('kueue', 'unshare', unshare, { ...process.env, KUBECONFIG: cp.kubeconfigPath });
  let stopped: Promise<void> | undefined;
  const m: KueueManager = {
    process: proc, configFile,
    log: (bytes = 6000) => proc.tail(bytes),
    stop: () => (stopped ??= supervisor.stop(5000)),
  };

  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void proc.exited.then((e) => (exited = e));
  try {
    for (;;) {
      if (exited) throw new Error(`Kueue's manager exited (${exited.signal ?? `code ${exited.code}`}) before it was ready; its log:\n${m.log()}`);
      if ((await probe(`http://127.0.0.1:${healthPort}/readyz`)) === 200) return m;
      if (Date.now() > deadline) throw new Error(`Kueue's manager not ready after ${o.timeoutMs ?? 60_000} ms; its log:\n${m.log()}`);
      await sleep(200);
    }
  } catch (e) {
    await m.stop();
    throw e;
  }
}

/** The admin's custom-objects client for Kueue's kinds (cluster-scoped or namespaced). */
export class KueueObjects {
  private readonly api: k8s.CustomObjectsApi;
  constructor(kc: k8s.KubeConfig) {
    this.api = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  async create(plural: string, body: Record<string, unknown>, namespace?: string): Promise<void> {
    const o = { apiVersion: `${KUEUE_GROUP}/${KUEUE_VERSION}`, ...body };
    if (namespace) await this.api.createNamespacedCustomObject({ group: KUEUE_GROUP, version: KUEUE_VERSION, namespace, plural, body: o });
    else await this.api.createClusterCustomObject({ group: KUEUE_GROUP, version: KUEUE_VERSION, plural, body: o });
  }

  async get<T = Record<string, unknown>>(plural: string, name: string, namespace?: string): Promise<T> {
    return (namespace
      ? await this.api.getNamespacedCustomObject({ group: KUEUE_GROUP, version: KUEUE_VERSION, namespace, plural, name })
      : await this.api.getClusterCustomObject({ group: KUEUE_GROUP, version: KUEUE_VERSION, plural, name })) as T;
  }

  async list<T = Record<string, unknown>>(plural: string, namespace: string): Promise<T[]> {
    const r = await this.api.listNamespacedCustomObject({ group: KUEUE_GROUP, version: KUEUE_VERSION, namespace, plural }) as { items: T[] };
    return r.items;
  }
}
