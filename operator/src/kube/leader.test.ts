/**
 * LeaderElector: the pure canAcquire rule, and two electors on one Lease in the real kube-apiserver, as
 * the operator's ServiceAccount under the chart's leader Role (through the fault proxy): exactly one
 * leads, a stopping leader hands over at once, and a leader that cannot renew within renewDeadline
 * steps down.
 */
import { useKubeTestEnv } from '../../../e2e/support/kube-test-env.js';
import { makeLogger, silentLogger } from '../log.js';
import { FIELD_MANAGER, makeClients } from './clients.js';
import { LeaderElector, canAcquire, type LeaseView } from './leader.js';
import { until as poll } from '../../../core/testing/until.js';

describe('canAcquire', () => {
  const now = new Date('2030-01-01T00:00:10Z');
  const at = (s: string) => new Date(`2030-01-01T00:00:${s}Z`);
  test.each<[string, LeaseView | undefined, boolean]>([
    ['no lease', undefined, true],
    ['a lease without a holder (released)', { renewTime: at('09'), leaseDurationSeconds: 15 }, true],
    ['held by me, fresh', { holder: 'me', renewTime: at('09'), leaseDurationSeconds: 15 }, true],
    ['held by me, expired', { holder: 'me', renewTime: at('00'), leaseDurationSeconds: 1 }, true],
    ['held by another, never renewed', { holder: 'other' }, true],
    ['held by another, fresh', { holder: 'other', renewTime: at('09'), leaseDurationSeconds: 15 }, false],
    ['held by another, expires exactly now', { holder: 'other', renewTime: at('05'), leaseDurationSeconds: 5 }, false],
    ['held by another, expired a second ago', { holder: 'other', renewTime: at('04'), leaseDurationSeconds: 5 }, true],
    ['held by another, no duration: 15 s default, fresh', { holder: 'other', renewTime: at('00') }, false],
  ])('%s', (_what, lease, expected) => {
    expect(canAcquire(lease, 'me', now)).toBe(expected);
  });
  test('the 15 s default expires', () => {
    expect(canAcquire({ holder: 'other', renewTime: new Date('2030-01-01T00:00:00Z') }, 'me', new Date('2030-01-01T00:00:15.001Z'))).toBe(true);
  });
});

describe('LeaderElector on the real API server', () => {
  const env = useKubeTestEnv({ proxy: 'operator', prefix: 'le', controlPlane: { controllers: false } });
  const electors: LeaderElector[] = [];
  afterEach(async () => {
    for (const e of electors.splice(0)) await e.stop();
  });
  /** Leases live in the operator's namespace (the chart's leader Role is there); each test its own name. */
  const NS = () => env().operatorNamespace;
  const leaseName = () => `${env().namespace}-lease`;
  const requests = (f: Parameters<ReturnType<typeof env>['requests']>[0]) => env().requests({ resource: 'leases', ...f });
  const read = (lease: string) => env().admin.coordination.readNamespacedLease({ namespace: NS(), name: lease });

  interface Candidate { elector: LeaderElector; started: number; stopped: number; stoppedAt: number }
  function candidate(lease: string, identity: string, timing: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number }): Candidate {
    const c: Candidate = { started: 0, stopped: 0, stoppedAt: 0, elector: undefined as unknown as LeaderElector };
    c.elector = new LeaderElector(makeClients(env().proxy.kubeConfig()), { namespace: NS(), name: lease, identity, log: silentLogger(), ...timing }, {
      onStartedLeading: () => { c.started++; },
      onStoppedLeading: () => { c.stopped++; c.stoppedAt = Date.now(); },
    });
    electors.push(c.elector);
    return c;
  }
  const holder = async (lease: string) => (await read(lease)).spec?.holderIdentity;

  const until = <T>(what: string, fn: () => T | undefined | false, timeoutMs = 5_000) => poll(what, fn, timeoutMs, 5);

  // A long lease, so a quick takeover can only come from the release, not from expiry.
  const SLOW_EXPIRY = { leaseDurationMs: 5_000, renewDeadlineMs: 1_000, retryPeriodMs: 100 };

  test('two candidates: exactly one leads; stop() releases the lease and the other takes over at once', async () => {
    const lease = leaseName();
    const a = candidate(lease, 'a', SLOW_EXPIRY);
    const b = candidate(lease, 'b', SLOW_EXPIRY);
    a.elector.start();
    b.elector.start();
    const first = await until('a leader', () => (a.elector.isLeader() ? a : b.elector.isLeader() ? b : undefined));
    const second = first === a ? b : a;
    // Several renewals: never two leaders, the same one all along, and the Lease names it.
    const renewals = () => requests({ verb: 'update', name: lease, status: 200 }).length;
    const end = Date.now() + 3_000;
    while (renewals() < 4 && Date.now() < end) {
      expect(a.elector.isLeader() && b.elector.isLeader()).toBe(false);
      expect(first.elector.isLeader()).toBe(true);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(renewals()).toBeGreaterThanOrEqual(4);
    expect(await holder(lease)).toBe(first === a ? 'a' : 'b');
    expect([first.started, second.started]).toEqual([1, 0]);

    const readsBefore = requests({ verb: 'get', name: lease }).length;
    await first.elector.stop();
    expect(first.elector.isLeader()).toBe(false);
    const released = await read(lease);
    expect(released.spec?.holderIdentity === undefined || released.spec?.holderIdentity === (second === a ? 'a' : 'b')).toBe(true);
    // Waited for past the lease's expiry, so the count decides: taking over by expiry would take the
    // standby about 50 reads (one per 100 ms retry period for 5 s); from the release it takes a few
    // (the release's own read and the standby's tries while the release is under way).
    await until('the other to lead', () => second.elector.isLeader(), 10_000);
    expect(requests({ verb: 'get', name: lease }).length - readsBefore).toBeLessThanOrEqual(10);
    expect(await holder(lease)).toBe(second === a ? 'a' : 'b');
    const taken = await read(lease);
    expect(taken.spec?.leaseTransitions).toBe(1);
    // Every write (create, renewals, release, takeover) was the operator's, with MicroTimes the server took.
    expect(taken.metadata?.managedFields?.map((m) => m.manager)).toEqual([FIELD_MANAGER]);
    expect(requests({ verb: 'update', name: lease }).filter((r) => r.status !== 200)).toEqual([]);
    // A clean stop is not a lost lease.
    expect(first.stopped).toBe(0);
    expect(second.started).toBe(1);
  });

  test('a standby says once that another replica holds the lease', async () => {
    const lease = leaseName();
    const a = candidate(lease, 'a', SLOW_EXPIRY);
    a.elector.start();
    await until('a leads', () => a.elector.isLeader());
    const lines: { msg: string; holder?: string }[] = [];
    const log = makeLogger({ name: 'b', destination: { write: (s: string) => { lines.push(JSON.parse(s)); return true; } } as unknown as NodeJS.WritableStream });
    const b = new LeaderElector(makeClients(env().proxy.kubeConfig()), { namespace: NS(), name: lease, identity: 'b', log, ...SLOW_EXPIRY },
      { onStartedLeading: () => undefined, onStoppedLeading: () => undefined });
    electors.push(b);
    b.start();
    const standing = () => lines.filter((l) => l.msg === 'standing by: another replica holds the lease');
    await until('b to stand by', () => standing().length > 0);
    const reads = requests({ verb: 'get', name: lease }).length;
    await until('b to try a few more times', () => requests({ verb: 'get', name: lease }).length >= reads + 6);
    expect(standing()).toEqual([expect.objectContaining({ holder: 'a' })]);
    expect(b.isLeader()).toBe(false);
  });

  test('stopping while a renewal is in flight still releases the lease', async () => {
    const lease = leaseName();
    const a = candidate(lease, 'a', SLOW_EXPIRY);
    a.elector.start();
    await until('a leads', () => a.elector.isLeader());
    // The next renewal is slow, and stop() is called while it is in flight; the release's own write is
    // slower still. Released without waiting for the renewal, the release would read the lease before the
    // renewal lands and write after it: a 409, and the lease stays held until it expires.
    env().proxy.faults.latency(150, { verb: 'update', resource: 'leases', name: lease }, 1);
    const inFlight = () => requests({ verb: 'update', name: lease }).some((r) => r.status === undefined);
    await until('a renewal in flight', inFlight);
    env().proxy.faults.latency(200, { verb: 'update', resource: 'leases', name: lease }, 1);
    await a.elector.stop();
    expect(await holder(lease)).toBeUndefined();
  });

  test('a leader that cannot renew for longer than renewDeadline calls onStoppedLeading', async () => {
    const lease = leaseName();
    const timing = { leaseDurationMs: 2_000, renewDeadlineMs: 300, retryPeriodMs: 50 };
    const a = candidate(lease, 'a', timing);
    a.elector.start();
    await until('a leads', () => a.elector.isLeader());
    const fault = env().proxy.faults.failNext({ verb: 'update', resource: 'leases', name: lease }, 500, Infinity);
    const t0 = Date.now();
    await until('onStoppedLeading', () => a.stopped > 0, 10_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.stopped).toBe(1);
    // It stepped down only after renewDeadline without a successful renewal, and not much later.
    // (The lease was taken by a create, then renewed by updates.)
    // (A create names no object in its URL: this test's lease writes are all there are since it began.)
    const writes = requests({}).filter((r) => r.verb === 'create' || r.verb === 'update');
    const lastOk = writes.filter((u) => u.status === 200 || u.status === 201).at(-1)!;
    expect(writes.filter((u) => u.seq > lastOk.seq).every((u) => u.status === 500)).toBe(true);
    expect(fault.hits).toBeGreaterThanOrEqual(1);
    expect(a.stoppedAt - lastOk.time).toBeGreaterThan(timing.renewDeadlineMs);
    expect(a.stoppedAt - t0).toBeLessThan(timing.renewDeadlineMs + 1_500);
    // It keeps campaigning (as a candidate) but cannot win while the writes fail, and is not called again.
    await new Promise((r) => setTimeout(r, 200));
    expect(a.elector.isLeader()).toBe(false);
    expect(a.stopped).toBe(1);
    fault.cancel();
  });

  test('failures shorter than renewDeadline do not cost the lease', async () => {
    const lease = leaseName();
    const b = candidate(lease, 'b', { leaseDurationMs: 3_000, renewDeadlineMs: 1_500, retryPeriodMs: 50 });
    b.elector.start();
    await until('b leads', () => b.elector.isLeader());
    const blip = env().proxy.faults.failNext({ verb: 'update', resource: 'leases', name: lease }, 500, 2);
    await until('the blip to pass', () => blip.remaining === 0);
    const lastFailed = requests({ verb: 'update', name: lease, status: 500 }).at(-1)!;
    await until('a successful renewal after the blip', () => requests({ verb: 'update', name: lease, status: 200 }).some((r) => r.seq > lastFailed.seq));
    expect(b.elector.isLeader()).toBe(true);
    expect(b.stopped).toBe(0);
    expect(b.started).toBe(1);
  });
});
