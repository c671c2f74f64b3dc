/**
 * Leader election with a coordination.k8s.io/v1 Lease, so two operator replicas never both act.
 * Same rules as client-go's leaderelection: a candidate takes the lease when it is free or expired
 * (renewTime + leaseDurationSeconds in the past), the holder renews every retryPeriod, and a holder
 * that cannot renew within renewDeadline stops leading. Every write carries the resourceVersion it
 * read, so two candidates racing for an expired lease cannot both win (one gets 409).
 */
import type * as k8s from '@kubernetes/client-node';
import type { KubeClients } from './clients.js';
import { isAlreadyExists, isConflict, isNotFound } from './api-errors.js';
import { microTime } from './micro-time.js';
import type { Logger } from '../log.js';
import { bestEffort, errorText } from '../../../core/src/contract/index.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
}

export interface LeaseView {
  holder?: string;
  renewTime?: Date;
  leaseDurationSeconds?: number;
}

/** Whether `identity` may take or keep the lease at `now`. Pure. */
export function canAcquire(lease: LeaseView | undefined, identity: string, now: Date): boolean {
  if (!lease || !lease.holder) return true;
  if (lease.holder === identity) return true;
  if (!lease.renewTime) return true;
  const expires = lease.renewTime.getTime() + (lease.leaseDurationSeconds ?? 15) * 1000;
  return now.getTime() > expires;
}

const toDate = (v: unknown): Date | undefined => (v === undefined || v === null ? undefined : new Date(v as string));

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  /** The other replica the last attempt found holding a lease that had not run out. */
  private seenHolder?: string;
  /** The holder last logged as such (a standby logs each new one once). */
  private otherHolder?: string;
  /** The last lease error logged, so a repeating one is said once. */
  private lastError?: string;
  private timer?: NodeJS.Timeout;
  /** The tick in progress, if any: stop() waits for it, so a renewal cannot land after the release. */
  private ticking?: Promise<void>;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  constructor(
    private readonly clients: KubeClients,
    private readonly o: LeaderElectionOptions,
    private readonly callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void },
  ) {
    this.leaseDurationMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = o.retryPeriodMs ?? 2_000;
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.runTick();
  }

  private runTick(): void {
    const t = this.tick();
    this.ticking = t;
    void t.finally(() => { if (this.ticking === t) this.ticking = undefined; });
  }

  /** Stops campaigning (a clean shutdown, so onStoppedLeading is not called); a leader releases the
   * lease so a standby can take over at once instead of waiting for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.leading = false;
    // A renewal (or acquisition) in flight could otherwise land between the release's read and write.
    // (Its failure was logged by the tick itself.)
    await bestEffort(this.ticking, () => undefined);
    // release() does nothing unless the lease is ours (the tick in flight may just have taken it).
    await bestEffort(this.release(), (err) => this.o.log.warn({ lease: `${this.o.namespace}/${this.o.name}`, err: errorText(err) }, 'could not release the leader lease; the next leader waits for it to expire'));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.runTick(), this.retryPeriodMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      // Said once per distinct error (a 403 or a 400 repeats every retry period until someone fixes it).
      const why = String(err).split('\n').slice(0, 3).join(' ');
      if (why !== this.lastError) this.o.log.warn({ lease: `${this.o.namespace}/${this.o.name}`, err: why }, 'cannot take or renew the leader lease');
      this.lastError = why;
    }
    if (this.stopped) return;
    const now = Date.now();
    if (ok) {
      this.lastError = undefined;
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.o.log.info({ lease: this.o.name, identity: this.o.identity }, 'became leader');
        this.callbacks.onStartedLeading();
      }
    } else if (!this.leading && this.seenHolder !== undefined && this.seenHolder !== this.otherHolder) {
      // A standby says once (per holder) that it is campaigning, as client-go's elector does.
      this.otherHolder = this.seenHolder;
      this.o.log.info({ lease: this.o.name, holder: this.seenHolder }, 'standing by: another replica holds the lease');
    } else if (this.leading && now - this.lastRenew > this.renewDeadlineMs) {
      this.leading = false;
      this.o.log.warn({ lease: this.o.name }, 'lost leadership: could not renew the lease in time');
      this.callbacks.onStoppedLeading();
    }
    this.schedule();
  }

  private leaseBody(existing: k8s.V1Lease | undefined, now: Date): k8s.V1Lease {
    const takingOver = existing?.spec?.holderIdentity !== this.o.identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...(existing?.metadata ?? {}), name: this.o.name, namespace: this.o.namespace },
      spec: {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        acquireTime: microTime(takingOver ? now : toDate(existing?.spec?.acquireTime) ?? now) as unknown as k8s.V1MicroTime,
        renewTime: microTime(now) as unknown as k8s.V1MicroTime,
        leaseTransitions: (existing?.spec?.leaseTransitions ?? 0) + (takingOver && existing ? 1 : 0),
      },
    };
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.o;
    this.seenHolder = undefined;
    const now = new Date();
    let existing: k8s.V1Lease | undefined;
    try {
      existing = await this.clients.coordination.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!existing) {
      try {
        await this.clients.coordination.createNamespacedLease({ namespace, body: this.leaseBody(undefined, now) });
        return true;
      } catch (err) {
        if (isAlreadyExists(err)) return false;
        throw err;
      }
    }
    const view: LeaseView = {
      holder: existing.spec?.holderIdentity,
      renewTime: toDate(existing.spec?.renewTime),
      leaseDurationSeconds: existing.spec?.leaseDurationSeconds,
    };
    if (!canAcquire(view, identity, now)) {
      this.seenHolder = view.holder;
      return false;
    }
    try {
      await this.clients.coordination.replaceNamespacedLease({ namespace, name, body: this.leaseBody(existing, now) });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  private async release(): Promise<void> {
    const { namespace, name, identity } = this.o;
    const lease = await this.clients.coordination.readNamespacedLease({ namespace, name });
    if (lease.spec?.holderIdentity !== identity) return;
    // client-node reads MicroTimes into Dates, which it would write back with milliseconds (a 400).
    const acquired = toDate(lease.spec?.acquireTime);
    lease.spec = {
      ...lease.spec, holderIdentity: undefined, renewTime: undefined,
      acquireTime: (acquired ? microTime(acquired) : undefined) as unknown as k8s.V1MicroTime,
    };
    await this.clients.coordination.replaceNamespacedLease({ namespace, name, body: lease });
  }
}
