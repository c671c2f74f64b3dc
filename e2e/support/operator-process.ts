/**
 * The operator as a real OS process (`node bin/bij.js operator`, built in dist/) against a test's
 * embedded API server, for the crash and leader-election cases: SIGKILL means SIGKILL, and what a
 * replica knows dies with it. Its JSON log lines (pino) are kept for assertions.
 *
 *   const kubeconfig = writeKubeconfig(cluster.server, dir);
 *   const op = startOperatorProcess({ kubeconfig, identity: 'op-1' });
 *   await op.waitForLog((l) => l.msg === 'operator started');
 *   await op.kill();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync, type Dirent } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { OPERATOR_NAMESPACE } from '../../cluster/src/up/install.js';
import type { KubeClients } from '../../operator/src/kube/clients.js';
import { isNotFound } from '../../operator/src/kube/api-errors.js';
import { sleep, type TestCluster } from './cluster.js';
import { until as poll } from '../../core/testing/until.js';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
import { faultEnv } from './fault-env.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIJ_BIN = join(REPO, 'bin', 'bij.js');

/** Fast settings for tests (production: resync 60 s, retries from 10 s, progress every 15 s). */
export const FAST_OPERATOR_ARGS = ['--resync-ms', '2000', '--retry-backoff-ms', '200', '--progress-poll-ms', '500'];
/** Short leader-election timings: lease 3 s, renew deadline 2 s, retry every 0.3 s. */
export const LEASE = { durationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 300 };
export const LEASE_ARGS = [
  '--lease-namespace', OPERATOR_NAMESPACE,
  '--lease-duration-ms', String(LEASE.durationMs), '--renew-deadline-ms', String(LEASE.renewDeadlineMs),
  '--retry-period-ms', String(LEASE.retryPeriodMs),
];
export const LEASE_NAME = 'bij-operator';

/** One pino line; `time` is epoch ms. */
export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [k: string]: unknown;
}

export interface OperatorProcessOptions {
  kubeconfig: string;
  /** POD_NAME: the replica's identity in the Lease and in Events. */
  identity: string;
  leaderElect?: boolean;
  /** More flags (after the fast defaults, so they win). */
  args?: string[];
  env?: Record<string, string>;
}

export interface OperatorProcess {
  identity: string;
  child: ChildProcess;
  readonly lines: LogLine[];
  /** stdout and stderr that were not JSON log lines (crashes, warnings). */
  readonly other: string[];
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The first line matching `pred` (seen already or still to come); rejects after timeoutMs or on exit. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends SIGKILL (by default) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it said, for failure messages. */
  transcript(): string;
}

/** Writes the operator's kubeconfig (through the cluster's fault proxy, as the chart's ServiceAccount)
 * to `dir`/kubeconfig.yaml. */
export function writeKubeconfig(cluster: TestCluster, dir: string): string {
  const path = join(dir, 'kubeconfig.yaml');
  writeFileSync(path, cluster.operatorKubeconfig());
  return path;
}

export function startOperatorProcess(o: OperatorProcessOptions): OperatorProcess {
  const args = [
    BIJ_BIN, 'operator', '--kubeconfig', o.kubeconfig, '--metrics-port', '0', '--metrics-host', '127.0.0.1',
    ...FAST_OPERATOR_ARGS, ...(o.leaderElect ? LEASE_ARGS : ['--no-leader-elect']), ...(o.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: faultEnv({ ...process.env, BIJ_LOG_LEVEL: 'info', POD_NAME: o.identity, ...(o.env ?? {}) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const other: string[] = [];
  const listeners = new Set<() => void>();
  const onText = (stream: NodeJS.ReadableStream) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        try {
          const parsed = JSON.parse(line) as LogLine;
          if (typeof parsed.msg === 'string') lines.push(parsed);
          else other.push(line);
        } catch {
          other.push(line);
        }
      }
      for (const l of [...listeners]) l();
    });
  };
  onText(child.stdout!);
  onText(child.stderr!);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      done = true;
      for (const l of [...listeners]) l();
      res({ code, signal });
    });
  });
  const transcript = () => [...lines.map((l) => JSON.stringify(l)), ...other].join('\n').slice(-6000);

  return {
    identity: o.identity,
    child,
    lines,
    other,
    exited,
    transcript,
    waitForLog(pred, timeoutMs = 20_000) {
      return new Promise<LogLine>((res, rej) => {
        const check = () => {
          const hit = lines.find(pred);
          if (hit) finish(() => res(hit));
          else if (done) finish(() => rej(new Error(`operator ${o.identity} exited before the awaited log line:\n${transcript()}`)));
        };
        const timer = setTimeout(() => finish(() => rej(new Error(`operator ${o.identity}: no such log line within ${timeoutMs} ms:\n${transcript()}`))), timeoutMs);
        const finish = (f: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!done) child.kill(signal);
      return withTimeout(exited, 10_000, `operator ${o.identity} to exit after ${signal}`);
    },
  };
}

/** `p`, or a rejection naming `what` after `ms` (the timer does not outlive the race). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops every process given, without failing: for afterEach. */
export async function killAll(procs: OperatorProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => p.kill('SIGKILL').catch(() => undefined)));
}

export async function readLease(clients: KubeClients, name = LEASE_NAME, namespace = OPERATOR_NAMESPACE): Promise<k8s.V1Lease | undefined> {
  try {
    return await clients.coordination.readNamespacedLease({ namespace, name });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Records every Lease holder seen, polling every `everyMs`, until stop() is called. */
export function watchLeaseHolders(clients: KubeClients, everyMs = 50): { holders: { holder: string; at: number }[]; stop(): Promise<void> } {
  const holders: { holder: string; at: number }[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const lease = await readLease(clients).catch(() => undefined);
      const h = lease?.spec?.holderIdentity;
      if (h && holders[holders.length - 1]?.holder !== h) holders.push({ holder: h, at: Date.now() });
      await sleep(everyMs);
    }
  })();
  return {
    holders,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared by the operator fault cases (e2e/faults/operator-*.test.ts).

/** What happened in the API server, seen through an admin's watches (straight to the API server). */
export interface ClusterRecord {
  /** Every Job that came into existence, in order. */
  jobsCreated: { name: string; run: string; shard: string; attempt: string; at: number }[];
  jobsDeleted: { name: string; run: string; at: number }[];
  /** Each change of the leader Lease's holder (consecutive duplicates folded). */
  leaseHolders: { holder: string; transitions: number; at: number }[];
  /** The last renewTime (epoch ms) each holder wrote into the Lease. */
  lastRenew: Map<string, number>;
}

export function recordCluster(cluster: TestCluster): ClusterRecord {
  const rec: ClusterRecord = { jobsCreated: [], jobsDeleted: [], leaseHolders: [], lastRenew: new Map() };
  const kc = cluster.controlPlane.kubeConfig();
  const watch = new k8s.Watch(kc);
  type Obj = { metadata?: k8s.V1ObjectMeta; spec?: { holderIdentity?: string; leaseTransitions?: number; renewTime?: string } };
  const onJob = (type: string, obj: Obj): void => {
    const labels = obj.metadata?.labels ?? {};
    const name = obj.metadata?.name ?? '';
    const run = labels['batchinference.dev/run'] ?? '';
    if (type === 'ADDED') {
      rec.jobsCreated.push({ name, run, shard: labels['batchinference.dev/shard'] ?? '', attempt: labels['batchinference.dev/attempt'] ?? '', at: Date.now() });
    } else if (type === 'DELETED') rec.jobsDeleted.push({ name, run, at: Date.now() });
  };
  const onLease = (_type: string, obj: Obj): void => {
    if (obj.metadata?.name !== LEASE_NAME) return;
    const holder = obj.spec?.holderIdentity ?? '';
    if (holder && obj.spec?.renewTime) rec.lastRenew.set(holder, Date.parse(obj.spec.renewTime));
    if (holder && rec.leaseHolders[rec.leaseHolders.length - 1]?.holder !== holder) {
      rec.leaseHolders.push({ holder, transitions: obj.spec?.leaseTransitions ?? 0, at: Date.now() });
    }
  };
  // Watches from "now" (no resourceVersion): the test records from before it applies anything.
  const follow = (path: string, on: (type: string, obj: Obj) => void): void => {
    void watch.watch(path, { allowWatchBookmarks: false }, on, () => undefined).catch(() => undefined);
  };
  follow('/apis/batch/v1/jobs', onJob);
  follow(`/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases`, onLease);
  return rec;
}

/** The shared poll (testing/until.ts) with a predicate on the probed value: every 50 ms until `pred`
 * holds; fails naming `what` and the last value seen. */
export function until<T>(what: string, probe: () => Promise<T> | T, pred: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  return poll<T>(what, probe, timeoutMs, 50, (v) => pred(v as T));
}

/** Model and a 4 x 2048-row dataset under root, written once per test file. DuckDB writes row groups of
 * at least 2,048 rows, so each file is one row group and `shards: 4` gives 4 shards of 2,048 rows. */
export const DATA = { files: 4, rowsPerFile: 2_048, rowGroupRows: 2_048, total: 8_192 } as const;

export async function writeFixtures(root: string): Promise<{ model: string; input: string }> {
  const model = writeModel(join(root, 'models'));
  await writeDataset(join(root, 'in'), { files: DATA.files, rowsPerFile: DATA.rowsPerFile, rowGroupRows: DATA.rowGroupRows });
  return { model, input: join(root, 'in') + '/' };
}

/** Every file under a local folder, recursively (absolute paths); [] when the folder is absent. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}
