/**
 * A self-healing informer over client-node's ListWatch: list, then watch from the list's
 * resourceVersion; on 410 Gone ListWatch re-lists by itself; on any other error (a dropped
 * connection, a 5xx, a 429) ListWatch stops, so this wrapper restarts it with capped exponential
 * backoff. Lifecycle changes are reported as typed events; objects as add/update/delete callbacks.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../log.js';

export const InformerEvent = {
  Connected: 'connected',
  Error: 'error',
  Restarting: 'restarting',
  Stopped: 'stopped',
} as const;
export type InformerEvent = (typeof InformerEvent)[keyof typeof InformerEvent];

export interface InformerOptions<T extends k8s.KubernetesObject> {
  kc: k8s.KubeConfig;
  /** The watch path, e.g. /apis/batch/v1/jobs or /apis/batch/v1/namespaces/ns/jobs. */
  path: string;
  list: k8s.ListPromise<T>;
  labelSelector?: string;
  log: Logger;
  name: string;
  onObject: (kind: 'add' | 'update' | 'delete', obj: T) => void;
  onLifecycle?: (event: InformerEvent, detail?: unknown) => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class SelfHealingInformer<T extends k8s.KubernetesObject> {
  private readonly informer: k8s.Informer<T> & k8s.ObjectCache<T>;
  private stopped = false;
  private failures = 0;
  private restartTimer?: NodeJS.Timeout;
  /** Counts errors reported by ListWatch, so a (re)start can tell whether its list and watch succeeded. */
  private errors = 0;
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(private readonly o: InformerOptions<T>) {
    this.informer = k8s.makeInformer(o.kc, o.path, o.list, o.labelSelector);
    this.informer.on(k8s.ADD, (obj) => o.onObject('add', obj));
    this.informer.on(k8s.UPDATE, (obj) => o.onObject('update', obj));
    this.informer.on(k8s.DELETE, (obj) => o.onObject('delete', obj));
    this.informer.on(k8s.CONNECT, () => {
      o.onLifecycle?.(InformerEvent.Connected);
    });
    this.informer.on(k8s.ERROR, (err) => this.onError(err));
  }

  /** Resolves once the first list has been received (a failing list is retried with backoff first). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.attempt();
    await this.waitForSync();
  }

  /** One (re)start of ListWatch. It reports a failed list or watch to its error handlers and resolves
   * anyway, so success is "no error reported meanwhile". */
  private async attempt(): Promise<void> {
    const errorsBefore = this.errors;
    await this.informer.start();
    if (this.errors === errorsBefore && !this.stopped) this.markSynced();
  }

  /** Resolves once the first list has been received (or the informer is stopped). */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): ReadonlyArray<T> {
    return this.informer.list(namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.informer.stop();
    for (const w of this.syncWaiters.splice(0)) w();
    this.o.onLifecycle?.(InformerEvent.Stopped);
  }

  private markSynced(): void {
    this.failures = 0;
    if (this.synced) return;
    this.synced = true;
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private onError(err: unknown): void {
    this.errors++;
    if (this.stopped) return;
    this.o.onLifecycle?.(InformerEvent.Error, err);
    const min = this.o.minBackoffMs ?? 200;
    const max = this.o.maxBackoffMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** this.failures) * (0.5 + Math.random() / 2);
    this.failures++;
    this.o.log.debug({ informer: this.o.name, err: String(err), delayMs: Math.round(delay) }, 'watch ended; restarting');
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.o.onLifecycle?.(InformerEvent.Restarting);
      this.attempt().catch((e: unknown) => this.onError(e));
    }, delay);
    this.restartTimer.unref();
  }
}
