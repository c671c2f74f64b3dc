/**
 * Fault case 6: the API server misbehaves during a run (the fault proxy in front of the real
 * kube-apiserver, unmodified client-node): 409 Conflict on status writes, 429 and 500 on Job creates, dropped watches,
 * and a compacted history (410 Gone) so that every informer must re-list, whose first lists fail with
 * 500 and 429. The run still commits every row exactly once, with one event per transition, and the
 * request log shows each fault was hit and each informer re-listed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggedRequest } from '../../cluster/src/embedded/apiserver/requestlog.js';
import { TestCluster, expectExactlyOnce, fixtureJob } from '../support/cluster.js';
import { DATA, recordCluster, until, writeFixtures } from '../support/operator-process.js';

const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;
const BIJS = 'batchinferencejobs';

describe('API server faults during a run', () => {
  let root: string;
  let data: { model: string; input: string };
  let cluster: TestCluster | undefined;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bij-op-api-'));
    data = await writeFixtures(root);
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  test('409 on status, 429/500 on creates and lists, dropped watches and 410 Gone: exactly once', async () => {
    cluster = await TestCluster.start({ workerEnv: { BIJ_FAULT: 'slow-rows:250' } });
    const { server } = cluster;
    const { faults } = server;
    const rec = recordCluster(cluster);
    const out = join(root, 'out') + '/';
    const name = 'api-faults';
    const after = (seq: number, pred: (r: LoggedRequest) => boolean) => server.requestLog.filter((r) => r.seq > seq && pred(r));
    const lastSeq = () => server.requestLog.at(-1)?.seq ?? 0;

    // From the start: the first three status writes conflict, the first two Job creates fail.
    const status409 = faults.failNext({ verb: 'update', resource: BIJS, subresource: 'status' }, 409, 3);
    const create429 = faults.failNext({ verb: 'create', resource: 'jobs' }, 429, 1);
    const create500 = faults.failNext({ verb: 'create', resource: 'jobs' }, 500, 1);
    await cluster.apply(fixtureJob(name, { ...data, output: out }, { shards: 4, parallelism: 2, batchSize: 512 }));
    await cluster.waitForPhase(name, 'Running', 30_000);
    await cluster.waitForRunningPod(name, 30_000);
    expect([status409.hits, create429.hits, create500.hits]).toEqual([3, 1, 1]);

    // Watches cut like a reset connection: every informer reconnects and resumes from its
    // resourceVersion, without a re-list.
    const mark1 = lastSeq();
    expect(faults.dropWatches({ mode: 'abrupt' })).toBeGreaterThanOrEqual(3); // the operator's: bijs, jobs, pods
    const resumed = await until('every watch to resume', () => after(mark1, (r) => r.verb === 'watch'),
      (ws) => ['batchinferencejobs', 'jobs', 'pods'].every((res) => ws.some((w) => w.resource === res)), 15_000);
    for (const w of resumed) expect(w.query.resourceVersion).toMatch(/^\d+$/);
    expect(after(mark1, (r) => r.verb === 'list')).toEqual([]);

    // History compacted past every informer's resourceVersion (an unwatched write first, so no
    // informer is at the head), then watches end: resuming gets 410 Gone, so each informer re-lists;
    // the first two Job lists and the first Pod list fail and are retried.
    const list500 = faults.failNext({ verb: 'list', resource: 'jobs' }, 500, 1);
    const list429 = faults.failNext({ verb: 'list', resource: 'jobs' }, 429, 1);
    const podList429 = faults.failNext({ verb: 'list', resource: 'pods' }, 429, 1);
    const mark2 = lastSeq();
    const bump = await cluster.clients.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'rv-bump' } } });
    const compactedRv = Number(bump.metadata!.resourceVersion);
    faults.compactHistory();
    expect(faults.compactedRv).toBeGreaterThan(0);
    expect(faults.dropWatches()).toBeGreaterThanOrEqual(3);

    const status = await cluster.waitForPhase(name, 'Succeeded', 60_000);
    expect(status).toMatchObject({ shards: { total: 4, succeeded: 4 }, rows: { total: DATA.total, processed: DATA.total } });
    const manifest = await expectExactlyOnce(out, DATA.total);
    expect(manifest.runId).toBe(status?.runId);

    // The faults were hit, as the request log shows.
    expect([list500.hits, list429.hits, podList429.hits]).toEqual([1, 1, 1]);
    const log = server.requestLog;
    // (later writes from a cache that lags the last write may conflict too: those are real conflicts)
    const statusWrites = log.filter((r) => r.verb === 'update' && r.resource === BIJS && r.subresource === 'status');
    expect(statusWrites.slice(0, 3).map((r) => [r.status, r.reason])).toEqual([[409, 'Conflict'], [409, 'Conflict'], [409, 'Conflict']]);
    expect(statusWrites.some((r) => r.status === 200)).toBe(true);
    expect(log.filter((r) => r.verb === 'create' && r.resource === 'jobs').map((r) => r.status).slice(0, 3)).toEqual([429, 500, 201]);
    // After the compaction: resumed watches from compacted resourceVersions, then a successful
    // re-list by every informer (the operator's Jobs list has its label selector).
    const stale = after(mark2, (r) => r.verb === 'watch' && Number(r.query.resourceVersion) < compactedRv);
    expect(new Set(stale.map((w) => w.resource))).toEqual(new Set([BIJS, 'jobs', 'pods']));
    const lists = after(mark2, (r) => r.verb === 'list');
    expect(lists.filter((r) => r.resource === 'jobs').map((r) => r.status).slice(0, 2)).toEqual([500, 429]);
    expect(lists.filter((r) => r.resource === 'pods').map((r) => r.status)[0]).toBe(429);
    expect(lists.some((r) => r.resource === BIJS && r.status === 200)).toBe(true);
    expect(lists.some((r) => r.resource === 'pods' && r.status === 200)).toBe(true);
    expect(lists.some((r) => r.resource === 'jobs' && r.status === 200 && r.query.labelSelector)).toBe(true);
    // And the informers worked from there: Jobs were still created and seen finishing after the re-list.
    const firstRelist = lists.find((r) => r.status === 200)!;
    expect(log.some((r) => r.seq > firstRelist.seq && r.verb === 'update' && r.resource === BIJS && r.status === 200)).toBe(true);

    // No Job twice, and one event per transition despite the conflicts.
    expect(rec.jobsCreated.map((j) => `${j.shard}/${j.attempt}`).sort()).toEqual(['0/0', '1/0', '2/0', '3/0']);
    const reasons = await cluster.waitForEvent(name, 'Committed'); // events follow the status write
    expect(count(reasons, 'Started')).toBe(1);
    expect(count(reasons, 'Committed')).toBe(1);
  }, 120_000);
});
