/**
 * The real Kubernetes control plane on this machine, on loopback only: etcd, kube-apiserver (TLS with a
 * CA made at start, client-certificate and service-account authentication, RBAC and Node authorization),
 * kube-controller-manager (Job, garbage-collector, namespace, service-account and token controllers, and
 * the rest of its defaults) and kube-scheduler. Ready when the API server's /readyz says so, both
 * controllers answer /healthz and the default ServiceAccount exists. stop() ends every process it started.
 *
 *   const cp = await startControlPlane();
 *   const kc = cp.kubeConfig();        // the admin (system:masters)
 *   ...
 *   await cp.stop();
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findControlPlane, type ControlPlaneBinaries } from './binaries.js';
import { kubeConfigFor, kubeconfigYaml } from './kubeconfig.js';
import { ADMIN_USER, createClusterPki, writePki, type ClusterPki, type KeyPair } from './pki.js';
import { Supervisor, type ManagedProcess } from './supervisor.js';

export const DEFAULT_NODE_NAME = 'bij-node';
export const SERVICE_CIDR = '10.0.0.0/24';

export interface ControlPlaneOptions {
  /** Keep etcd's data (and the certificates) here, so objects survive a restart; default: a temp folder removed on stop. */
  dataDir?: string;
  binaries?: ControlPlaneBinaries;
  /** The node the process kubelet registers (its certificate is made here). */
  nodeName?: string;
  /** etcd without fsync: fast, and fine for data that dies with the test. Default: on unless dataDir is set. */
  unsafeNoFsync?: boolean;
  /** Extra kube-apiserver flags (`--name=value`). */
  apiserverFlags?: string[];
  /** Progress lines (e.g. stderr); default none. */
  log?: (line: string) => void;
  /** Give up waiting for readiness after this long; default 90 s. */
  readyTimeoutMs?: number;
  /** Start the controller manager and the scheduler (default true). Without them it is envtest's pair,
   * etcd and kube-apiserver: enough for API tests and seconds faster, but no Job controller, garbage
   * collector or default ServiceAccounts. */
  controllers?: boolean;
  /** Runs (as the admin) once the API server is ready, before the controller manager starts: CRDs
   * created here are known to its garbage collector from the start, instead of after its next
   * discovery resync (up to 30 s later). */
  beforeControllers?: (admin: KubeConfig) => Promise<void>;
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  url: string;
  etcdUrl: string;
  /** Certificates, keys, kubeconfigs and logs. */
  dir: string;
  pki: ClusterPki;
  nodeName: string;
  /** The admin kubeconfig file (user bij-admin in system:masters). */
  kubeconfigPath: string;
  kubeConfig(namespace?: string): KubeConfig;
  /** A kubeconfig for another client-certificate identity. */
  kubeconfigFor(user: string, client: KeyPair, namespace?: string): string;
  processes: readonly ManagedProcess[];
  /** Set when a process exited on its own (the cluster is then broken). */
  readonly died?: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Probe {
  status: number;
  body: string;
}

function get(url: string, tls?: https.RequestOptions): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).get(url, { ...(tls ?? {}), timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
  });
}

async function loadOrCreatePki(dir: string, nodeName: string, keep: boolean): Promise<ClusterPki> {
  const file = path.join(dir, 'pki.json');
  if (keep && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as ClusterPki;
  const pki = await createClusterPki(nodeName);
  if (keep) writeFileSync(file, JSON.stringify(pki), { mode: 0o600 });
  return pki;
}

export async function startControlPlane(o: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = o.binaries ?? findControlPlane();
  const nodeName = o.nodeName ?? DEFAULT_NODE_NAME;
  const log = o.log ?? (() => undefined);
  const dir = mkdtempSync(path.join(tmpdir(), 'bij-control-plane-'));
  const keep = o.dataDir !== undefined;
  const dataDir = o.dataDir ? path.resolve(o.dataDir) : path.join(dir, 'etcd');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pki = await loadOrCreatePki(keep ? dataDir : dir, nodeName, keep);
  const files = writePki(pki, path.join(dir, 'pki'));
  const logDir = path.join(dir, 'logs');
  mkdirSync(logDir);
  const sup = new Supervisor(logDir);
  let died: string | undefined;
  sup.onUnexpectedExit = (p, code, signal) => {
    died = `${p.name} exited on its own (${signal ?? `exit code ${code}`}); its log ends:\n${p.tail(2000)}`;
    log(died);
  };

  const [etcdPort, peerPort, apiPort, kcmPort, schedPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const url = `https://127.0.0.1:${apiPort}`;
  const admin = { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key };
  const kubeconfigFor = (user: string, client: KeyPair, namespace?: string): string =>
    kubeconfigYaml({ server: url, caPem: pki.ca.cert, user, client, namespace });
  const kubeconfigPath = path.join(dir, 'admin.kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigFor(ADMIN_USER, pki.admin), { mode: 0o600 });
  const kcmKubeconfig = path.join(dir, 'controller-manager.kubeconfig');
  writeFileSync(kcmKubeconfig, kubeconfigFor('system:kube-controller-manager', pki.controllerManager), { mode: 0o600 });
  const schedKubeconfig = path.join(dir, 'scheduler.kubeconfig');
  writeFileSync(schedKubeconfig, kubeconfigFor('system:kube-scheduler', pki.scheduler), { mode: 0o600 });

  const stop = async (): Promise<void> => {
    await sup.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  const cp: ControlPlane = {
    url, etcdUrl, dir, pki, nodeName, kubeconfigPath, kubeconfigFor,
    kubeConfig: (namespace) => kubeConfigFor({ server: url, caPem: pki.ca.cert, user: ADMIN_USER, client: pki.admin, namespace }),
    processes: sup.processes,
    get died() {
      return died;
    },
    stop,
  };

  const deadline = Date.now() + (o.readyTimeoutMs ?? 90_000);
  const waitFor = async (what: string, p: ManagedProcess, ok: () => Promise<boolean>): Promise<void> => {
    for (;;) {
      if (died) throw new Error(`the control plane did not start: ${died}`);
      if (await ok().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`the control plane did not start: ${what} not ready after ${o.readyTimeoutMs ?? 90_000} ms; ${p.name}'s log ends:\n${p.tail(2000)}`);
      await sleep(100);
    }
  };

  try {
    const started = Date.now();
    const etcd = sup.start('etcd', bins.etcd, [
      `--name=bij`, `--data-dir=${dataDir}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=bij=http://127.0.0.1:${peerPort}`, '--listen-metrics-urls=',
      ...(o.unsafeNoFsync ?? !keep ? ['--unsafe-no-fsync'] : []),
      '--log-level=warn',
    ]);
    await waitFor('etcd', etcd, async () => (await get(`${etcdUrl}/health`)).body.includes('"health":"true"'));
    log(`etcd ready at ${etcdUrl} (${Date.now() - started} ms)`);

    const apiserver = sup.start('kube-apiserver', bins['kube-apiserver'], [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--tls-cert-file=${files['apiserver.crt']}`, `--tls-private-key-file=${files['apiserver.key']}`,
      `--client-ca-file=${files['ca.crt']}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${files['sa.pub']}`, `--service-account-signing-key-file=${files['sa.key']}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction',
      '--allow-privileged=true',
      `--kubelet-client-certificate=${files['apiserverKubeletClient.crt']}`, `--kubelet-client-key=${files['apiserverKubeletClient.key']}`,
      `--kubelet-certificate-authority=${files['ca.crt']}`, '--kubelet-preferred-address-types=InternalIP',
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      '--profiling=false', '--v=1',
      ...(o.apiserverFlags ?? []),
    ]);
    const tls: https.RequestOptions = { ...admin };
    await waitFor('kube-apiserver /readyz', apiserver, async () => {
      const r = await get(`${url}/readyz`, tls);
      return r.status === 200;
    });
    log(`kube-apiserver ready at ${url} (${Date.now() - started} ms)`);
    if (o.beforeControllers) await o.beforeControllers(kubeConfigFor({ server: url, caPem: pki.ca.cert, user: ADMIN_USER, client: pki.admin }));

    if (o.controllers === false) {
      log(`control plane ready without controllers (${Date.now() - started} ms); logs in ${logDir}`);
      return cp;
    }
    const delegated = (kubeconfig: string) => [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`];
    const kcm = sup.start('kube-controller-manager', bins['kube-controller-manager'], [
      ...delegated(kcmKubeconfig),
      '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`, `--cert-dir=${path.join(dir, 'kcm-certs')}`,
      '--leader-elect=false', '--use-service-account-credentials=true',
      `--service-account-private-key-file=${files['sa.key']}`, `--root-ca-file=${files['ca.crt']}`,
      `--cluster-signing-cert-file=${files['ca.crt']}`, `--cluster-signing-key-file=${files['ca.key']}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--profiling=false', '--v=1',
    ]);
    const sched = sup.start('kube-scheduler', bins['kube-scheduler'], [
      ...delegated(schedKubeconfig),
      '--bind-address=127.0.0.1', `--secure-port=${schedPort}`,
      '--leader-elect=false', '--profiling=false', '--v=1',
    ]);
    const insecure: https.RequestOptions = { rejectUnauthorized: false };
    await waitFor('kube-controller-manager /healthz', kcm, async () => (await get(`https://127.0.0.1:${kcmPort}/healthz`, insecure)).status === 200);
    await waitFor('kube-scheduler /healthz', sched, async () => (await get(`https://127.0.0.1:${schedPort}/healthz`, insecure)).status === 200);
    // Pods are refused until their namespace's default ServiceAccount exists (the controller manager makes it).
    await waitFor('the default ServiceAccount', kcm, async () => (await get(`${url}/api/v1/namespaces/default/serviceaccounts/default`, tls)).status === 200);
    log(`control plane ready (${Date.now() - started} ms); logs in ${logDir}`);
  } catch (e) {
    await stop();
    throw e;
  }

  return cp;
}
