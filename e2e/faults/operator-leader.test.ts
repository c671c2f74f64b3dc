/**
 * Fault case 13: two operator replicas (real `bij operator` processes) with leader election on a
 * short Lease (3 s, renew deadline 2 s, retry 0.3 s). The leader is SIGKILLed mid-run: the standby takes
 * the Lease once it expires, at its first attempt after that (or its second, when the first read the
 * Lease a moment before it ran out), and finishes the run exactly once. Only one replica acts at a
 * time: the Lease holder changes exactly once, the standby did nothing before it held the Lease, and
 * no Job was created twice.
 *
 * The test waits for states (a replica standing by, the Lease changing hands, phases), never for a
 * time: on a loaded 2-core machine a replica's start alone (loading the CLI and client-node, about
 * 0.8 s of CPU) can take tens of seconds, and every attempt of the standby is slower alike. Each wait
 * is bounded only by STATE_MS, there to end a run that is truly stuck.
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
/** How long any one state may take to come: a stuck run, not a slow machine, runs out of it. */
const STATE_MS = 120_000;

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
    const rec = recordCluster(cluster);
    const kubeconfig = writeKubeconfig(cluster, root);
    const out = join(root, 'out') + '/';
    const name = 'leader-kill';

    // op-a starts first and leads; op-b is the standby.
    const a = startOperatorProcess({ kubeconfig, identity: 'op-a', leaderElect: true });
    procs.push(a);
    await a.waitForLog((l) => l.msg === 'became leader', STATE_MS);
    const b = startOperatorProcess({ kubeconfig, identity: 'op-b', leaderElect: true });
    procs.push(b);
    // op-b is a standby once it has found op-a holding the Lease (it then retries every 0.3 s).
    await b.waitForLog((l) => l.msg === 'standing by: another replica holds the lease' && l.holder === 'op-a', STATE_MS);

    await cluster.apply(fixtureJob(name, { ...data, output: out }, { shards: 4, parallelism: 2, batchSize: 512 }));
    await cluster.waitForPhase(name, 'Running', STATE_MS);
    await until('the Started event', () => cluster!.eventReasons(name), (r) => r.includes('Started'), STATE_MS);
    await cluster.waitForRunningPod(name, STATE_MS);
    expect((await readLease(cluster.clients))?.spec?.holderIdentity).toBe('op-a');

    const killedAt = Date.now();
    expect((await a.kill('SIGKILL')).signal).toBe('SIGKILL');
    const createdByA = rec.jobsCreated.length;
    expect(createdByA).toBeGreaterThanOrEqual(1);
    expect(createdByA).toBeLessThan(4);

    // The standby takes over once the lease has expired: not before, and at its first chance after.
    // (Watched in the store, in process: a read of the Lease by the test would count as op-b's.)
    await until('op-b to hold the Lease', () => rec.leaseHolders.at(-1)?.holder, (h) => h === 'op-b', STATE_MS);
    const took = await b.waitForLog((l) => l.msg === 'became leader', STATE_MS);
    const takenAt = rec.leaseHolders[1].at;
    // Not before op-a's lease ran out (3 s from its last renewal)...
    const expiry = rec.lastRenew.get('op-a')! + LEASE.durationMs;
    expect(rec.leaseHolders[1]?.holder).toBe('op-b');
    expect(takenAt).toBeGreaterThanOrEqual(expiry);
    // ... and at the first read of the Lease op-b made after that, or the second if the first was
    // decided a moment before the expiry. Counted in attempts, not seconds: a loaded machine slows
    // each attempt alike. Only op-b reads the Lease over HTTP in this window (op-a is dead).
    const reads = cluster.server.requests({ verb: 'get', resource: 'leases' }).filter((r) => r.time >= expiry && r.time <= takenAt);
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(reads.length).toBeLessThanOrEqual(2);
    expect(took.time).toBeGreaterThanOrEqual(killedAt);
    const lease = await readLease(cluster.clients);
    expect(lease?.spec?.holderIdentity).toBe('op-b');

    const status = await cluster.waitForPhase(name, 'Succeeded', STATE_MS);
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
  }, 6 * STATE_MS);
});
