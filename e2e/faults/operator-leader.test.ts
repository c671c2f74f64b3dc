/**
 * Fault case 13: two operator replicas (real `bij operator` processes) with leader election on a
 * short Lease (3 s, renew deadline 2 s, retry 0.3 s). The leader is SIGKILLed mid-run: the standby takes
 * the Lease once it expires, within the lease duration (plus one retry period and slack for a loaded
 * machine), and finishes the run exactly once. Only one replica acts at a time: the Lease holder
 * changes exactly once, the standby did nothing before it held the Lease, and no Job was created twice.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, expectExactlyOnce, fixtureJob } from '../support/cluster.js';
import {
  DATA, LEASE, LEASE_NAME, filesUnder, killAll, readLease, recordCluster, startOperatorProcess, until, writeFixtures,
  writeKubeconfig, type OperatorProcess,
} from '../support/operator-process.js';

const ACTIONS = new Set(['created shard Job', 'deleted shard Job']);

describe('leader election: the leader dies, the standby takes over', () => {
  let root: string;
  let data: { model: string; input: string };
  let cluster: TestCluster | undefined;
  const procs: OperatorProcess[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bij-op-leader-'));
    data = await writeFixtures(root);
  }, 60_000);

  afterAll(async () => {
    await killAll(procs.splice(0));
    await cluster?.close();
  });

  test('the standby takes the Lease within its duration and completes the run exactly once', async () => {
    cluster = await TestCluster.start({ operators: 0, workerEnv: { BIJ_FAULT: 'slow-rows:300' } });
    const rec = recordCluster(cluster.server);
    const kubeconfig = writeKubeconfig(cluster.server, root);
    const out = join(root, 'out') + '/';
    const name = 'leader-kill';

    // op-a starts first and leads; op-b is the standby.
    const a = startOperatorProcess({ kubeconfig, identity: 'op-a', leaderElect: true });
    procs.push(a);
    await a.waitForLog((l) => l.msg === 'became leader');
    const b = startOperatorProcess({ kubeconfig, identity: 'op-b', leaderElect: true });
    procs.push(b);
    await b.waitForLog((l) => l.msg === 'operator started');

    await cluster.apply(fixtureJob(name, { ...data, output: out }, { shards: 4, parallelism: 2, batchSize: 512 }));
    await cluster.waitForPhase(name, 'Running', 30_000);
    await until('the Started event', () => cluster!.eventReasons(name), (r) => r.includes('Started'), 10_000);
    await cluster.waitForRunningPod(name, 30_000);
    expect((await readLease(cluster.clients))?.spec?.holderIdentity).toBe('op-a');

    const killedAt = Date.now();
    expect((await a.kill('SIGKILL')).signal).toBe('SIGKILL');
    const createdByA = rec.jobsCreated.length;
    expect(createdByA).toBeGreaterThanOrEqual(1);
    expect(createdByA).toBeLessThan(4);

    // The standby takes over once the lease has expired: not before, and not much later.
    const took = await b.waitForLog((l) => l.msg === 'became leader', 20_000);
    const takeoverMs = took.time - killedAt;
    // Not before op-a's lease ran out (3 s from its last renewal), and soon after it did.
    const expiry = rec.lastRenew.get('op-a')! + LEASE.durationMs;
    expect(rec.leaseHolders[1]?.holder).toBe('op-b');
    expect(rec.leaseHolders[1].at).toBeGreaterThanOrEqual(expiry);
    expect(rec.leaseHolders[1].at - expiry).toBeLessThan(LEASE.retryPeriodMs + 1_500);
    expect(takeoverMs).toBeLessThan(LEASE.durationMs + LEASE.retryPeriodMs + 1_500);
    const lease = await readLease(cluster.clients);
    expect(lease?.spec?.holderIdentity).toBe('op-b');

    const status = await cluster.waitForPhase(name, 'Succeeded', 60_000);
    expect(status).toMatchObject({ shards: { total: 4, succeeded: 4, retries: 0 } });
    const manifest = await expectExactlyOnce(out, DATA.total);
    expect(filesUnder(join(out, '_bij', manifest.runId, 'shards'))).toEqual([]);

    // One holder at a time: the Lease went from op-a to op-b exactly once.
    expect(rec.leaseHolders.map((h) => h.holder)).toEqual(['op-a', 'op-b']);
    expect(rec.leaseHolders[1].at).toBeGreaterThanOrEqual(killedAt);
    expect((await readLease(cluster.clients, LEASE_NAME))?.spec?.leaseTransitions).toBe(1);
    expect(a.lines.filter((l) => l.msg === 'became leader')).toHaveLength(1);
    expect(b.lines.filter((l) => l.msg === 'became leader')).toHaveLength(1);
    // The standby acted only after it led, and the Jobs were made once each (attempt 0, 4 shards).
    const bActions = b.lines.filter((l) => ACTIONS.has(l.msg));
    expect(bActions.length).toBeGreaterThan(0);
    for (const l of bActions) expect(l.time).toBeGreaterThanOrEqual(took.time);
    expect(rec.jobsCreated.map((j) => `${j.shard}/${j.attempt}`).sort()).toEqual(['0/0', '1/0', '2/0', '3/0']);
    expect(a.lines.filter((l) => l.msg === 'created shard Job')).toHaveLength(createdByA);
    expect(b.lines.filter((l) => l.msg === 'created shard Job')).toHaveLength(4 - createdByA);
    // Events name the replica that wrote them.
    const events = await cluster.events(name);
    expect(events.filter((e) => e.reason === 'Started').map((e) => e.reportingInstance)).toEqual(['op-a']);
    expect(events.filter((e) => e.reason === 'Committed').map((e) => e.reportingInstance)).toEqual(['op-b']);
  }, 120_000);
});
