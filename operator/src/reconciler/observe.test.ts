import { iso, makeJob, makePod } from '../testing/builders.js';
import { observeAttempts, parseTerminationSummary } from './observe.js';

const RUN = 'r0123456789';
const JOB = `churn-${RUN}-s2-a1`;
const job = () => makeJob(JOB).labels(RUN, 2, 1).started(iso(5));

describe('observeAttempts', () => {
  test('an active Job', () => {
    expect(observeAttempts([job().gpus(2).obj()], [])).toEqual([{
      runId: RUN, shard: 2, attempt: 1, jobName: JOB, state: 'active', disrupted: false, gpus: 2, startedAt: iso(5),
    }]);
  });

  test('a Job being deleted is deleting, even if it failed meanwhile (its pod was stopped: not counted)', () => {
    const [a] = observeAttempts([job().deleting().failedCondition().obj()], []);
    expect(a.state).toBe('deleting');
  });

  test('a pod that cannot start: its waiting reason, message and creation time', () => {
    const [a] = observeAttempts([job().obj()], [makePod(JOB).waiting('ImagePullBackOff', 'Back-off pulling image "reg/bij-worker:typo"').obj()]);
    expect(a).toMatchObject({ state: 'active', waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "reg/bij-worker:typo"', since: iso(1) } });
  });

  test('a disruption is named by the pod\'s DisruptionTarget reason, not the Job\'s BackoffLimitExceeded', () => {
    const [a] = observeAttempts([job().failedCondition().obj()], [makePod(JOB).terminated(137).disruptionTarget('EvictionByEvictionAPI').obj()]);
    expect(a).toMatchObject({ state: 'failed', disrupted: true, reason: 'EvictionByEvictionAPI' });
  });

  test('a disrupted pod the Job controller replaced (pod failure policy Ignore): the attempt goes on, the pod is listed', () => {
    const evicted = makePod(JOB, 'aaaaa').terminated(143).disruptionTarget('EvictionByEvictionAPI').obj();
    const running = makePod(JOB, 'bbbbb').created(iso(20)).obj();
    const [a] = observeAttempts([job().obj()], [evicted, running]);
    expect(a).toMatchObject({ state: 'active', replacedPods: [{ pod: `${JOB}-aaaaa`, reason: 'EvictionByEvictionAPI' }] });
    const [done] = observeAttempts([job().complete().obj()], [evicted, makePod(JOB, 'bbbbb').created(iso(20)).terminated(0).obj()]);
    expect(done).toMatchObject({ state: 'succeeded', disrupted: false, replacedPods: [{ pod: `${JOB}-aaaaa` }] });
    // A crash is not a replaced disruption; a failed attempt reports its disruption itself.
    expect(observeAttempts([job().obj()], [makePod(JOB, 'aaaaa').terminated(137).obj(), running])[0].replacedPods).toBeUndefined();
    expect(observeAttempts([job().failedCondition().obj()], [evicted])[0].replacedPods).toBeUndefined();
  });

  test('Jobs without our labels are not attempts', () => {
    expect(observeAttempts([makeJob('other').obj(), makeJob('x').labels(RUN, 1, 0).obj()], [])).toHaveLength(1);
    const bad = makeJob('y').obj();
    bad.metadata!.labels = { 'batchinference.dev/run': RUN, 'batchinference.dev/shard': 'x', 'batchinference.dev/attempt': '0' };
    expect(observeAttempts([bad], [])).toEqual([]);
  });

  test.each([
    { name: 'Complete=True -> succeeded', j: () => job().complete(iso(60)), state: 'succeeded', finishedAt: iso(60) },
    { name: 'Failed=True -> failed', j: () => job().failedCondition('BackoffLimitExceeded', 'backoff', iso(70)), state: 'failed', finishedAt: iso(70) },
    { name: 'deletionTimestamp -> deleting', j: () => job().deleting(), state: 'deleting', finishedAt: undefined },
    { name: 'finished wins over deleting', j: () => job().complete(iso(60)).deleting(), state: 'succeeded', finishedAt: iso(60) },
  ])('$name', ({ j, state, finishedAt }) => {
    const [a] = observeAttempts([j().obj()], []);
    expect(a.state).toBe(state);
    expect(a.finishedAt).toBe(finishedAt);
  });

  test('exit code and TerminationSummary message from the pod', () => {
    const summary = JSON.stringify({ outcome: 'bad-input', message: 'column f0 is missing', shard: 2, attempt: 1 });
    const [a] = observeAttempts([job().failedCondition().obj()], [makePod(JOB).terminated(65, summary).obj()]);
    expect(a).toMatchObject({ state: 'failed', exitCode: 65, message: 'column f0 is missing', summary: { outcome: 'bad-input' }, disrupted: false });
    expect(a.reason).toBe('BackoffLimitExceeded');
  });

  test('a plain termination message (logs fallback) is kept as is', () => {
    const [a] = observeAttempts([job().failedCondition().obj()], [makePod(JOB).terminated(1, 'Error: boom\n    at x\n').obj()]);
    expect(a.message).toBe('Error: boom\n    at x');
    expect(a.summary).toBeUndefined();
  });

  test('OOMKilled is the reason', () => {
    const [a] = observeAttempts([job().failedCondition().obj()], [makePod(JOB).terminated(137, undefined, 'OOMKilled').obj()]);
    expect(a).toMatchObject({ exitCode: 137, reason: 'OOMKilled', disrupted: false });
  });

  test.each([
    { name: 'DisruptionTarget condition', pod: () => makePod(JOB).terminated(143).disruptionTarget(), disrupted: true },
    { name: 'Evicted', pod: () => makePod(JOB).podReason('Evicted', 'The node was low on resource: memory.'), disrupted: true },
    { name: 'Preempting', pod: () => makePod(JOB).podReason('Preempting'), disrupted: true },
    { name: 'NodeLost', pod: () => makePod(JOB).podReason('NodeLost'), disrupted: true },
    { name: 'graceful node shutdown', pod: () => makePod(JOB).podReason('Terminated', 'Pod was terminated in response to imminent node shutdown.'), disrupted: true },
    { name: 'DeadlineExceeded is the user\'s limit', pod: () => makePod(JOB).podReason('DeadlineExceeded'), disrupted: false },
    { name: 'an ordinary crash', pod: () => makePod(JOB).terminated(1), disrupted: false },
  ])('disruption: $name', ({ pod, disrupted }) => {
    const [a] = observeAttempts([job().failedCondition().obj()], [pod().obj()]);
    expect(a.disrupted).toBe(disrupted);
  });

  test('disruption from the Job\'s pod failure policy condition', () => {
    const j = job().failedCondition('PodFailurePolicy', 'Pod default/x has condition DisruptionTarget matching FailJob rule at index 0').obj();
    expect(observeAttempts([j], [])[0].disrupted).toBe(true);
  });

  test('pods are matched by owner uid, by job-name label, or by our labels', () => {
    const j = job().failedCondition().obj();
    const byOwner = makePod('unrelated').ownedBy(j.metadata!.uid!).terminated(75).obj();
    const byLabels = makePod('unrelated', 'zzzzz').labelsOnly({ 'batchinference.dev/run': RUN, 'batchinference.dev/shard': '2', 'batchinference.dev/attempt': '1' }).terminated(76).obj();
    expect(observeAttempts([j], [byOwner])[0].exitCode).toBe(75);
    expect(observeAttempts([j], [byLabels])[0].exitCode).toBe(76);
    expect(observeAttempts([j], [makePod('someone-else').terminated(77).obj()])[0].exitCode).toBeUndefined();
  });

  test('with several pods (replacements after a disruption), the latest terminated one decides', () => {
    const j = job().failedCondition().obj();
    const first = makePod(JOB, 'aaaaa').created(iso(1)).terminated(143).disruptionTarget().obj();
    const second = makePod(JOB, 'bbbbb').created(iso(30)).terminated(75, 'throttled').obj();
    const [a] = observeAttempts([j], [second, first]);
    expect(a).toMatchObject({ exitCode: 75, message: 'throttled', disrupted: false });
  });

  test('Date objects (client-node) and strings (watch events) both work', () => {
    const j = job().obj();
    j.status!.startTime = new Date('2024-02-27T10:00:05.123Z');
    expect(observeAttempts([j], [])[0].startedAt).toBe('2024-02-27T10:00:05Z');
  });
});

test.each([
  { msg: undefined, ok: false },
  { msg: 'plain text', ok: false },
  { msg: '{"broken', ok: false },
  { msg: '{"outcome":"weird","message":"x"}', ok: false },
  { msg: '{"outcome":"failed","message":"x","rowsRead":3}', ok: true },
])('parseTerminationSummary($msg)', ({ msg, ok }) => {
  expect(parseTerminationSummary(msg) !== undefined).toBe(ok);
});
