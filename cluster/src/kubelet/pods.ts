/**
 * The pods bound to this node, each taken from the watch to a process and back to a final status:
 * start (env resolved, the service-account token mounted, CreateContainerConfigError retried with
 * backoff), running status, activeDeadline, graceful deletion (SIGTERM the group, SIGKILL after the
 * grace, final status, delete with grace 0), restarts in place for restartPolicy Always (the kubelet's
 * CrashLoopBackOff: 10 s doubling to 5 min, reset after 10 min running), and the verdict on pods a
 * previous life of this kubelet had started (ContainerStatusUnknown).
 */
import type * as k8s from '@kubernetes/client-node';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../operator/src/log.js';
import type { ImageMap } from './image-map.js';
import { parseEntries, plainText } from './log-format.js';
import { PodApi } from './pod-api.js';
import { containerEnv } from './pod-env.js';
import { deadlineOf, graceSeconds, hadProcess, isTerminal, unsupportedReason, UNSUPPORTED } from './pod-spec.js';
import { backOffStatus, DEADLINE_EXCEEDED, exitCodeOf, lostStatus, runningStatus, terminatedState, terminatedStatus, terminationMessage, waitingStatus } from './pod-status.js';
import { readOr, signalGroup, spawnPodProcess, type PodProcess, type ProcessExit } from './process.js';
import { mountServiceAccount, tokenProjection, type ApiServerAccess, type ServiceAccountFiles } from './service-account.js';

export interface PodWorkersOptions {
  core: k8s.CoreV1Api;
  workDir: string;
  baseEnv: Record<string, string>;
  imageMap: ImageMap;
  log: Logger;
  onPodStarted: (pod: k8s.V1Pod, pid: number) => void;
  /** The API server as pods reach it, for service-account tokens (service-account.ts). */
  apiServer: ApiServerAccess;
  /** First restart delay of a restartPolicy Always container (default 10 s, the kubelet's), doubling to 5 min. */
  restartBackoffMs?: number;
}

interface Run {
  pod: k8s.V1Pod;
  dir: string;
  logFile: string;
  terminationFile: string;
  startTime: Date;
  proc?: PodProcess;
  /** Why the kubelet stopped it (the pod's status says so). */
  killedFor?: 'deadline' | 'deletion';
  cancelled?: boolean;
  failures: number;
  timers: NodeJS.Timeout[];
  /** The running status is written before the final one. */
  runningWritten?: Promise<void>;
  exited?: Promise<void>;
  /** restartPolicy Always: restarts so far, how the container last ended, and whether it waits to start again. */
  restarts: number;
  lastState?: k8s.V1ContainerState;
  backingOff?: boolean;
  /** The service-account token the process reads (service-account.ts), renewed until the pod ends. */
  serviceAccount?: ServiceAccountFiles;
}

export interface LogSource {
  file: string;
  /** True once the process has exited (nothing more will be written). */
  done(): boolean;
}

const keyOf = (pod: k8s.V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`;
const jobOf = (pod: k8s.V1Pod) => pod.metadata?.labels?.['batch.kubernetes.io/job-name'] ?? pod.metadata?.labels?.['job-name'];

export class PodWorkers {
  private readonly runs = new Map<string, Run>();
  /** Pods this kubelet took to a final status (by uid), and pods whose deletion it finished. */
  private readonly finished = new Set<string>();
  private readonly deleting = new Set<string>();
  private stopping = false;
  private readonly api: PodApi;

  constructor(private readonly o: PodWorkersOptions) {
    this.api = new PodApi(o.core, o.log, () => this.stopping);
    mkdirSync(o.workDir, { recursive: true });
  }

  onPod(kind: 'add' | 'update' | 'delete', pod: k8s.V1Pod): void {
    if (this.stopping) return;
    const uid = pod.metadata!.uid!;
    const run = this.runs.get(uid);
    if (kind === 'delete') {
      // Removed from the API at once (grace 0 by someone else): stop the process, nothing to report.
      if (run) this.kill(run, 'deletion', 0);
      return;
    }
    if (run) {
      run.pod = pod;
      if (pod.metadata?.deletionTimestamp) this.kill(run, 'deletion', graceSeconds(pod));
      return;
    }
    if (pod.metadata?.deletionTimestamp) {
      if (this.deleting.has(uid)) return;
      this.deleting.add(uid);
      // Never started here (or finished already): report it stopped if it is not, then let it go.
      void (async () => {
        if (!isTerminal(pod)) await this.api.writeStatus(pod, lostStatus(pod, new Date()));
        await this.api.finishDeletion(pod);
      })();
      return;
    }
    if (this.finished.has(uid) || isTerminal(pod)) return;
    if (hadProcess(pod)) {
      // A previous life of this kubelet started it; its process is gone. The real kubelet's verdict:
      this.finished.add(uid);
      this.o.log.warn({ pod: keyOf(pod) }, 'pod had a container that is not here (the kubelet restarted): failing it');
      void this.api.writeStatus(pod, lostStatus(pod, new Date()));
      return;
    }
    this.start(pod);
  }

  private start(pod: k8s.V1Pod): void {
    const uid = pod.metadata!.uid!;
    const now = new Date();
    const startTime = pod.status?.startTime ? new Date(pod.status.startTime) : now;
    const refused = unsupportedReason(pod);
    const mapping = refused ? undefined : this.o.imageMap(pod.spec!.containers[0]);
    if (refused || (mapping && 'error' in mapping)) {
      const reason = refused ? UNSUPPORTED : 'ImageNotMapped';
      const message = refused ?? (mapping as { error: string }).error;
      this.finished.add(uid);
      this.o.log.warn({ pod: keyOf(pod), reason }, message);
      void this.api.writeStatus(pod, terminatedStatus(pod, { exitCode: 128, reason, message, startTime, finishedAt: now, pod: { reason, message } }));
      return;
    }
    const dir = path.join(this.o.workDir, `${pod.metadata!.namespace}_${pod.metadata!.name}_${uid}`);
    const container = pod.spec!.containers[0].name;
    const run: Run = {
      pod, dir, logFile: path.join(dir, `${container}.log`), terminationFile: path.join(dir, `${container}.termination-log`),
      startTime, failures: 0, timers: [], restarts: 0,
    };
    this.runs.set(uid, run);
    const deadline = deadlineOf(pod, startTime);
    if (deadline) run.timers.push(setTimeout(() => this.kill(run, 'deadline', graceSeconds(run.pod)), Math.max(0, deadline.getTime() - Date.now())));
    void this.launch(run, (mapping as { argv: string[] }).argv);
  }

  private async launch(run: Run, argv: string[]): Promise<void> {
    const pod = run.pod;
    const container = pod.spec!.containers[0];
    let env: Record<string, string>;
    try {
      env = await containerEnv(pod, container, this.api);
      const projection = tokenProjection(pod, container);
      if (projection && !run.serviceAccount) {
        run.serviceAccount = await mountServiceAccount({
          core: this.o.core, pod, projection, dir: path.join(run.dir, 'serviceaccount'), api: this.o.apiServer, log: this.o.log,
        });
      }
      // The container's own KUBECONFIG, if it sets one, wins (as it would over in-cluster config).
      env = { ...run.serviceAccount?.env, ...env };
    } catch (err) {
      if (this.stopping || run.cancelled) return this.endWithoutProcess(run);
      const delay = Math.min(10_000, 500 * 2 ** run.failures++);
      const message = err instanceof Error ? err.message : String(err);
      this.o.log.warn({ pod: keyOf(pod), err: message, retryInMs: delay }, 'cannot create the container config; retrying');
      await this.api.writeStatus(run.pod, waitingStatus(run.pod, { reason: 'CreateContainerConfigError', message, startTime: run.startTime, now: new Date() }));
      run.timers.push(setTimeout(() => void this.launch(run, argv), delay));
      return;
    }
    if (this.stopping || run.cancelled) return this.endWithoutProcess(run);
    run.backingOff = false;
    mkdirSync(run.dir, { recursive: true });
    let proc: PodProcess;
    try {
      proc = await spawnPodProcess({ argv, env: { ...this.o.baseEnv, ...env }, logFile: run.logFile, terminationFile: run.terminationFile });
    } catch (err) {
      const message = `pod ${keyOf(pod)}, image ${container.image}: ${(err as Error).message}`;
      this.runs.delete(pod.metadata!.uid!);
      this.finished.add(pod.metadata!.uid!);
      for (const t of run.timers) clearTimeout(t);
      run.serviceAccount?.stop();
      await this.api.writeStatus(run.pod, terminatedStatus(run.pod, { exitCode: 128, reason: 'StartError', message, startTime: run.startTime, finishedAt: new Date() }));
      return;
    }
    run.proc = proc;
    this.o.log.debug({ pod: keyOf(pod), pid: proc.pid, argv }, 'pod started');
    run.runningWritten = this.api.writeStatus(run.pod, runningStatus(run.pod, {
      pid: proc.pid, startTime: run.startTime, startedAt: proc.startedAt, restartCount: run.restarts, lastState: run.lastState,
    }));
    run.exited = proc.exited.then((exit) => this.onExit(run, proc, exit));
    this.o.onPodStarted(run.pod, proc.pid);
    // deleted, or past its deadline, while it started
    if (run.killedFor) this.kill(run, run.killedFor, graceSeconds(run.pod), true);
  }

  /** SIGTERM the group, SIGKILL after `grace` seconds. */
  private kill(run: Run, why: 'deadline' | 'deletion', grace: number, again = false): void {
    if (run.killedFor && !again) return;
    run.killedFor = why;
    if (!run.proc || run.backingOff) {
      run.cancelled = true;
      // waiting for a retry or a restart: end now rather than at the next attempt
      if (run.failures > 0 || run.backingOff) {
        for (const t of run.timers) clearTimeout(t);
        void this.endWithoutProcess(run);
      }
      return;
    }
    this.o.log.debug({ pod: keyOf(run.pod), why, grace }, 'stopping pod');
    run.proc.signal('SIGTERM');
    const t = setTimeout(() => run.proc!.signal('SIGKILL'), grace * 1000);
    t.unref();
    run.timers.push(t);
  }

  /** A pod stopped before its process started: deleted, past its deadline, or the kubelet stopping. */
  private async endWithoutProcess(run: Run): Promise<void> {
    const uid = run.pod.metadata!.uid!;
    if (!this.runs.has(uid)) return;
    this.runs.delete(uid);
    this.finished.add(uid);
    run.serviceAccount?.stop();
    if (this.stopping) return;
    const now = new Date();
    const status = run.killedFor === 'deadline'
      ? terminatedStatus(run.pod, { exitCode: 137, reason: 'Error', startTime: run.startTime, finishedAt: now, pod: DEADLINE_EXCEEDED })
      : lostStatus(run.pod, now);
    await this.api.writeStatus(run.pod, status);
    if (run.pod.metadata?.deletionTimestamp) await this.api.finishDeletion(run.pod);
  }

  private async onExit(run: Run, proc: PodProcess, exit: ProcessExit): Promise<void> {
    const code = exitCodeOf(exit.code, exit.signal);
    const c = run.pod.spec!.containers[0];
    const message = () => terminationMessage(readOr(run.terminationFile, ''), plainText(parseEntries(readOr(run.logFile, ''))), code, c.terminationMessagePolicy);
    if ((run.pod.spec?.restartPolicy ?? 'Always') === 'Always' && !this.stopping && !run.killedFor && !run.pod.metadata?.deletionTimestamp) {
      return this.restartLater(run, proc, exit, code, message());
    }
    for (const t of run.timers) clearTimeout(t);
    run.serviceAccount?.stop();
    const uid = run.pod.metadata!.uid!;
    this.runs.delete(uid);
    this.finished.add(uid);
    if (this.stopping) return;
    await run.runningWritten;
    await this.api.writeStatus(run.pod, terminatedStatus(run.pod, {
      exitCode: code, signal: exit.code === null ? code - 128 : undefined, message: message(), pid: proc.pid,
      startTime: run.startTime, startedAt: proc.startedAt, finishedAt: exit.finishedAt,
      pod: run.killedFor === 'deadline' ? DEADLINE_EXCEEDED : undefined,
    }));
    this.o.log.debug({ pod: keyOf(run.pod), exitCode: code }, 'pod finished');
    if (run.pod.metadata?.deletionTimestamp || run.killedFor === 'deletion') await this.api.finishDeletion(run.pod);
  }

  /** restartPolicy Always: the container ended on its own; start it again after the kubelet's back-off. */
  private async restartLater(run: Run, proc: PodProcess, exit: ProcessExit, code: number, message: string): Promise<void> {
    await run.runningWritten;
    const base = this.o.restartBackoffMs ?? 10_000;
    // The kubelet forgets the back-off once a container ran 10 minutes (twice its 5 min cap).
    const ranMs = exit.finishedAt.getTime() - proc.startedAt.getTime();
    const steps = ranMs > 600_000 ? 0 : Math.min(run.restarts, 5);
    const delayMs = Math.min(300_000, base * 2 ** steps);
    run.restarts++;
    run.proc = undefined;
    run.backingOff = true;
    run.lastState = terminatedState({
      exitCode: code, signal: exit.code === null ? code - 128 : undefined, message, pid: proc.pid, startedAt: proc.startedAt, finishedAt: exit.finishedAt,
    });
    this.o.log.warn({ pod: keyOf(run.pod), exitCode: code, restarts: run.restarts, restartInMs: delayMs }, 'container exited; restarting it (restartPolicy Always)');
    await this.api.writeStatus(run.pod, backOffStatus(run.pod, { restartCount: run.restarts, lastState: run.lastState, delayMs, startTime: run.startTime, now: new Date() }));
    if (this.stopping || run.cancelled) return this.endWithoutProcess(run);
    const mapping = this.o.imageMap(run.pod.spec!.containers[0]);
    if ('error' in mapping) return this.endWithoutProcess(run); // cannot happen: it mapped before
    run.timers.push(setTimeout(() => void this.launch(run, mapping.argv), delayMs));
  }

  /** Stops every process (SIGTERM, SIGKILL after its grace); writes no more status. */
  async stop(): Promise<void> {
    this.stopping = true;
    const all = [...this.runs.values()];
    for (const r of all) {
      for (const t of r.timers) clearTimeout(t);
      r.serviceAccount?.stop();
      if (r.proc) {
        r.proc.signal('SIGTERM');
        const t = setTimeout(() => r.proc!.signal('SIGKILL'), (r.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
        t.unref();
        r.timers.push(t);
      }
    }
    await Promise.all(all.map((r) => r.exited));
    for (const r of all) for (const t of r.timers) clearTimeout(t);
  }

  running(): { namespace: string; pod: string; job?: string; pid: number }[] {
    return [...this.runs.values()].filter((r) => r.proc && !r.proc.done).map((r) => ({
      namespace: r.pod.metadata!.namespace!, pod: r.pod.metadata!.name!, job: jobOf(r.pod), pid: r.proc!.pid,
    }));
  }

  /** Test hook: a crash (the status says how it died), not a deletion. */
  kill_(name: string, signal: NodeJS.Signals): boolean {
    const r = [...this.runs.values()].find((x) => x.proc && !x.proc.done && (x.pod.metadata?.name === name || jobOf(x.pod) === name));
    return r ? signalGroup(r.proc!.pid, signal) : false;
  }

  /** The log of a pod's container: a running or recent one, or one a previous life of this kubelet left. */
  logSource(namespace: string, pod: string, container: string): LogSource | undefined {
    const run = [...this.runs.values()].find((r) => r.pod.metadata?.namespace === namespace && r.pod.metadata?.name === pod);
    if (run) {
      if (run.pod.spec?.containers[0].name !== container) return undefined;
      return { file: run.logFile, done: () => !run.proc || run.proc.done };
    }
    const prefix = `${namespace}_${pod}_`;
    const dirs = readdirSync(this.o.workDir).filter((d) => d.startsWith(prefix))
      .map((d) => path.join(this.o.workDir, d, `${container}.log`))
      .filter((f) => { try { return statSync(f).isFile(); } catch { return false; } })
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    return dirs.length > 0 ? { file: dirs[0], done: () => true } : undefined;
  }
}
