/** The schedule's decision, table by table: which slot starts, the deadline and the 100-missed limit,
 * each concurrency policy, suspend, time zones and DST, history limits, and the job it builds. */
import { decideSchedule, MAX_REQUEUE_MS, NEXT_SCHEDULE_DELTA_MS, withCreatedUids } from './decide.js';
import { ANNOTATION_SCHEDULED_TIME, LABEL_SCHEDULE, scheduledJobName } from './names.js';
import type { ObservedRun, ScheduleInput, ScheduleResult } from './types.js';
import { makeSchedule, run, scheduleInput, type ScheduleBuilder } from '../testing/schedule-builders.js';

const MIN = 60_000;
const created = (r: ScheduleResult) => r.create.map((j) => j.metadata.annotations[ANNOTATION_SCHEDULED_TIME]);
const reasons = (r: ScheduleResult) => r.events.map((e) => e.reason);

describe('which slot starts (*/5, created 00:00 UTC)', () => {
  test.each<[string, (b: ScheduleBuilder) => ScheduleBuilder, string, string[], string | undefined, number | undefined]>([
    // name, schedule, now, created slots, lastScheduleTime after, requeue (ms, before the 100 ms delta)
    ['before the first slot: nothing; requeue at it', (b) => b, '2026-12-05T00:03:00Z', [], undefined, 2 * MIN],
    ['the creation time itself is not a slot to start', (b) => b, '2026-12-05T00:00:00Z', [], undefined, 5 * MIN],
    ['on the slot', (b) => b, '2026-12-05T00:05:00Z', ['2026-12-05T00:05:00Z'], '2026-12-05T00:05:00Z', 5 * MIN],
    ['a slot reached late still starts', (b) => b, '2026-12-05T00:07:30Z', ['2026-12-05T00:05:00Z'], '2026-12-05T00:05:00Z', 2.5 * MIN],
    ['a slot already started is not started again', (b) => b.lastScheduled('2026-12-05T00:05:00Z'), '2026-12-05T00:09:00Z', [], '2026-12-05T00:05:00Z', 1 * MIN],
    ['missed slots (operator down 00:06-00:31): only the newest starts',
      (b) => b.lastScheduled('2026-12-05T00:05:00Z'), '2026-12-05T00:31:00Z', ['2026-12-05T00:30:00Z'], '2026-12-05T00:30:00Z', 4 * MIN],
    ['missed slots, within startingDeadlineSeconds: the newest starts',
      (b) => b.lastScheduled('2026-12-05T00:05:00Z').deadline(90), '2026-12-05T00:31:00Z', ['2026-12-05T00:30:00Z'], '2026-12-05T00:30:00Z', 4 * MIN],
    ['missed slots, all past startingDeadlineSeconds: none starts',
      (b) => b.lastScheduled('2026-12-05T00:05:00Z').deadline(60), '2026-12-05T00:31:01Z', [], '2026-12-05T00:05:00Z', 4 * MIN - 1000],
    ['a deadline of 0 starts nothing, as in CronJob (every slot is already past it)',
      (b) => b.deadline(0), '2026-12-05T00:05:00Z', [], undefined, 5 * MIN],
    ['suspended: nothing, and no requeue (unsuspending is a watch event)', (b) => b.suspend(), '2026-12-05T00:07:00Z', [], undefined, undefined],
  ])('%s', (_name, build, now, slots, last, requeue) => {
    const r = decideSchedule(scheduleInput(build(makeSchedule()).obj(), now));
    expect(created(r)).toEqual(slots);
    expect(r.status.lastScheduleTime).toBe(last);
    expect(r.requeueAfterMs).toBe(requeue === undefined ? undefined : requeue + NEXT_SCHEDULE_DELTA_MS);
    expect(r.delete).toEqual([]);
    if (slots.length > 0) expect(r.events).toEqual([expect.objectContaining({ type: 'Normal', reason: 'SuccessfulCreate', withJobs: true })]);
  });
});

test.each<[string, string, number]>([
  ['hourly: at the next slot', '@hourly', 55 * MIN + NEXT_SCHEDULE_DELTA_MS],
  ['yearly: in an hour at most (a timer cannot wait a year)', '@yearly', MAX_REQUEUE_MS],
])('requeue, %s', (_name, cron, ms) => {
  expect(decideSchedule(scheduleInput(makeSchedule().cron(cron).obj(), '2026-12-05T00:05:00Z')).requeueAfterMs).toBe(ms);
});

describe('the 100-missed-schedules limit', () => {
  const last = '2026-12-05T00:05:00Z';
  const plus = (slots: number) => new Date(Date.parse(last) + slots * 5 * MIN).toISOString();
  test.each<[string, (b: ScheduleBuilder) => ScheduleBuilder, number, boolean]>([
    ['100 missed: no warning', (b) => b, 100, false],
    ['101 missed: a TooManyMissedTimes warning, and the newest still starts', (b) => b, 101, true],
    ['years missed (a clock off): a warning, the newest starts, without walking every slot', (b) => b, 3 * 365 * 288, true],
    ['101 missed, but startingDeadlineSeconds looks back 10 minutes: no warning', (b) => b.deadline(600), 101, false],
  ])('%s', (_name, build, missed, warns) => {
    const r = decideSchedule(scheduleInput(build(makeSchedule().lastScheduled(last)).obj(), plus(missed)));
    expect(created(r)).toEqual([plus(missed).replace('.000', '')]);
    const warning = r.events.find((e) => e.reason === 'TooManyMissedTimes');
    expect(warning !== undefined).toBe(warns);
    if (warning) {
      expect(warning.type).toBe('Warning');
      expect(warning.message).toContain('spec.startingDeadlineSeconds');
    }
  });
});

describe('concurrency policies (the 00:05 run still active at the 00:10 slot)', () => {
  const base = (b: ScheduleBuilder) => b.lastScheduled('2026-12-05T00:05:00Z');
  const slot5 = '2026-12-05T00:05:00Z';
  test.each<[string, (b: ScheduleBuilder) => ScheduleBuilder, string, (s: ReturnType<ScheduleBuilder['obj']>) => ObservedRun[], string[], string[], string[], string]>([
    // name, schedule, now, runs, created slots, deleted jobs, active after, event reasons
    ['Allow: runs overlap', (b) => base(b).policy('Allow'), '2026-12-05T00:10:00Z', (s) => [run(s, slot5).obj()],
      ['2026-12-05T00:10:00Z'], [], ['nightly-29940485', 'nightly-29940490'], 'SuccessfulCreate'],
    ['Forbid: the slot is skipped while one runs', (b) => base(b).policy('Forbid'), '2026-12-05T00:10:00Z', (s) => [run(s, slot5).obj()],
      [], [], ['nightly-29940485'], 'JobAlreadyActive'],
    ['Forbid: a run still Waiting for its input (spec.input.waitFor) is active: the slot is skipped', (b) => base(b).policy('Forbid'), '2026-12-05T00:10:00Z', (s) => [run(s, slot5).phase('Waiting').obj()],
      [], [], ['nightly-29940485'], 'JobAlreadyActive'],
    ['Forbid: the skipped slot starts late when the run ends', (b) => base(b).policy('Forbid'), '2026-12-05T00:12:00Z', (s) => [run(s, slot5).succeeded('2026-12-05T00:11:50Z').obj()],
      ['2026-12-05T00:10:00Z'], [], ['nightly-29940490'], 'SuccessfulCreate'],
    ['Forbid: ... unless that is past startingDeadlineSeconds', (b) => base(b).policy('Forbid').deadline(60), '2026-12-05T00:12:00Z', (s) => [run(s, slot5).succeeded('2026-12-05T00:11:50Z').obj()],
      [], [], [], ''],
    ['Forbid: a failed run does not block', (b) => base(b).policy('Forbid'), '2026-12-05T00:10:00Z', (s) => [run(s, slot5).failed('2026-12-05T00:09:00Z').obj()],
      ['2026-12-05T00:10:00Z'], [], ['nightly-29940490'], 'SuccessfulCreate'],
    ['Replace: the active run is deleted and the new one created', (b) => base(b).policy('Replace'), '2026-12-05T00:10:00Z', (s) => [run(s, slot5).obj()],
      ['2026-12-05T00:10:00Z'], ['nightly-29940485'], ['nightly-29940490'], 'SuccessfulDelete,SuccessfulCreate'],
    ['Replace: a run already being deleted is not deleted again', (b) => base(b).policy('Replace'), '2026-12-05T00:10:00Z', (s) => [run(s, slot5).deleting().obj()],
      ['2026-12-05T00:10:00Z'], [], ['nightly-29940490'], 'SuccessfulCreate'],
    ['Replace with nothing active: just a create', (b) => base(b).policy('Replace'), '2026-12-05T00:10:00Z', (s) => [run(s, slot5).succeeded('2026-12-05T00:08:00Z').obj()],
      ['2026-12-05T00:10:00Z'], [], ['nightly-29940490'], 'SuccessfulCreate'],
  ])('%s', (_name, build, now, runs, slots, deleted, activeAfter, events) => {
    const s = build(makeSchedule()).obj();
    const r = decideSchedule(scheduleInput(s, now, ...runs(s)));
    expect(created(r)).toEqual(slots);
    expect(r.delete.map((d) => d.name)).toEqual(deleted);
    expect(r.status.active?.map((a) => a.name)).toEqual(activeAfter);
    expect(r.status.activeCount).toBe(activeAfter.length);
    expect(reasons(r).join(',')).toBe(events);
    if (deleted.length > 0) expect(r.delete.every((d) => d.reason === 'Replaced')).toBe(true);
  });

  test('Forbid keeps lastScheduleTime, so the slot stays due, and says so once per slot (keyed event)', () => {
    const s = base(makeSchedule()).policy('Forbid').obj();
    const r1 = decideSchedule(scheduleInput(s, '2026-12-05T00:10:00Z', run(s, slot5)));
    const r2 = decideSchedule(scheduleInput(s, '2026-12-05T00:11:00Z', run(s, slot5)));
    expect(r1.status.lastScheduleTime).toBe(slot5);
    expect(r1.events[0].key).toBe(r2.events[0].key);
    expect(r1.events[0].message).toContain('nightly-29940485 still running (concurrencyPolicy Forbid)');
    expect(r1.requeueAfterMs).toBe(5 * MIN + NEXT_SCHEDULE_DELTA_MS);
  });
});

describe('time zones and daylight saving time', () => {
  test.each<[string, string, string, string, string, string[]]>([
    // name, cron, zone, lastScheduleTime, now, created slots (UTC)
    ['02:00 New York is 07:00 UTC in winter', '0 2 * * *', 'America/New_York', '2026-12-04T07:00:00Z', '2026-12-05T07:00:05Z', ['2026-12-05T07:00:00Z']],
    ['... and 06:00 UTC in summer', '0 2 * * *', 'America/New_York', '2026-07-04T06:00:00Z', '2026-07-05T06:00:05Z', ['2026-07-05T06:00:00Z']],
    ['no zone is UTC', '0 2 * * *', 'UTC', '2026-12-04T02:00:00Z', '2026-12-05T02:00:00Z', ['2026-12-05T02:00:00Z']],
    ['spring forward (Berlin, 29 March 2026): 02:30 does not exist, the run starts at 03:00 CEST, not skipped',
      '30 2 * * *', 'Europe/Berlin', '2026-03-28T01:30:00Z', '2026-03-29T01:00:30Z', ['2026-03-29T01:00:00Z']],
    ['... and the next night is 02:30 CEST again', '30 2 * * *', 'Europe/Berlin', '2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z', ['2026-03-30T00:30:00Z']],
    ['fall back (Berlin, 25 October 2026): 02:30 happens twice, the run starts at the first',
      '30 2 * * *', 'Europe/Berlin', '2026-10-24T00:30:00Z', '2026-10-25T00:30:00Z', ['2026-10-25T00:30:00Z']],
    ['... and not at the second', '30 2 * * *', 'Europe/Berlin', '2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z', []],
    ['an interval schedule runs at every real half hour through the repeated hour', '*/30 * * * *', 'Europe/Berlin', '2026-10-25T00:30:00Z', '2026-10-25T01:00:00Z', ['2026-10-25T01:00:00Z']],
  ])('%s', (_name, cron, zone, last, now, slots) => {
    const s = makeSchedule().cron(cron).tz(zone).lastScheduled(last).obj();
    expect(created(decideSchedule(scheduleInput(s, now)))).toEqual(slots);
  });

  test('the repeated wall time 02:00 (CEST, then CET) gives two runs with two names', () => {
    const s = makeSchedule().cron('*/30 * * * *').tz('Europe/Berlin').obj();
    expect(scheduledJobName('nightly', new Date('2026-10-25T00:00:00Z'))).not.toBe(scheduledJobName('nightly', new Date('2026-10-25T01:00:00Z')));
    const first = decideSchedule(scheduleInput(makeSchedule().cron('*/30 * * * *').tz('Europe/Berlin').lastScheduled('2026-10-24T23:30:00Z').obj(), '2026-10-25T00:00:00Z'));
    const second = decideSchedule(scheduleInput(s, '2026-10-25T01:00:00Z', { name: first.create[0].metadata.name, deleting: false, phase: 'Succeeded' }));
    expect(first.create[0].metadata.name).not.toBe(second.create[0]?.metadata.name);
  });

  test('the zone decides the rendered date: 01:30 UTC on 5 December is still the 4th in Los Angeles, already the 5th in Berlin', () => {
    const at = '2026-12-05T01:30:00Z';
    const job = (zone: string) => decideSchedule(scheduleInput(makeSchedule().cron('30 * * * *').tz(zone).lastScheduled('2026-12-05T00:30:00Z').obj(), at)).create[0];
    expect(job('America/Los_Angeles').spec.input.uri).toBe('s3://lake/features/date=2026-12-04/');
    expect(job('Europe/Berlin').spec.input.uri).toBe('s3://lake/features/date=2026-12-05/');
    expect(job('UTC').spec.output.uri).toBe('s3://scores/churn/date=2026-12-05/');
  });
});

describe('history limits', () => {
  const s = makeSchedule().history(2, 1).lastScheduled('2026-12-05T00:30:00Z').obj();
  const slot = (m: number) => `2026-12-05T00:${String(m).padStart(2, '0')}:00Z`;
  const done = (m: number) => `2026-12-05T00:${String(m + 2).padStart(2, '0')}:00Z`;

  test('the oldest finished jobs beyond the limits are deleted; active and deleting ones are left alone', () => {
    const r = decideSchedule(scheduleInput(s, '2026-12-05T00:31:00Z',
      run(s, slot(5)).succeeded(done(5)), run(s, slot(10)).succeeded(done(10)), run(s, slot(15)).succeeded(done(15)), run(s, slot(20)).succeeded(done(20)),
      run(s, slot(0)).deleting().succeeded(done(0)),
      run(s, slot(25)).failed(done(25)), run(s, slot(30)).failed(done(30)),
    ));
    expect(r.delete).toEqual([
      { name: 'nightly-29940485', reason: 'HistoryLimit' }, { name: 'nightly-29940490', reason: 'HistoryLimit' }, { name: 'nightly-29940505', reason: 'HistoryLimit' },
    ]);
    expect(reasons(r)).toEqual(['SuccessfulDelete', 'SuccessfulDelete', 'SuccessfulDelete']);
    expect(r.status).toEqual({ lastScheduleTime: slot(30), lastSuccessfulTime: done(20), active: [], activeCount: 0 });
  });

  test.each<[string, number, number, number]>([
    ['limits of 0 keep no finished job', 0, 0, 4],
    ['limits above the count delete nothing', 10, 10, 0],
    ['the default limits (3 succeeded, 1 failed) keep all of these', 3, 1, 0],
  ])('%s', (_name, succeeded, failed, deletions) => {
    const b = makeSchedule().lastScheduled('2026-12-05T00:30:00Z');
    const sched = (succeeded === 3 && failed === 1 ? b : b.history(succeeded, failed)).obj();
    const r = decideSchedule(scheduleInput(sched, '2026-12-05T00:31:00Z',
      run(sched, slot(5)).succeeded(done(5)), run(sched, slot(10)).succeeded(done(10)), run(sched, slot(15)).succeeded(done(15)), run(sched, slot(20)).failed(), run(sched, slot(30))));
    expect(r.delete).toHaveLength(deletions);
    expect(r.delete.map((d) => d.name)).not.toContain('nightly-29940510'); // the active one
  });

  test('a job without its scheduled-time annotation is ordered by its creation', () => {
    const r = decideSchedule(scheduleInput(makeSchedule().history(1, 1).lastScheduled(slot(30)).obj(), '2026-12-05T00:31:00Z',
      run(s, slot(10)).succeeded(done(10)).noAnnotation(), run(s, slot(5)).succeeded(done(5))));
    expect(r.delete.map((d) => d.name)).toEqual(['nightly-29940485']);
  });

  test('lastSuccessfulTime never goes back, even once the job that set it is gone', () => {
    const r = decideSchedule(scheduleInput(makeSchedule().status({ lastScheduleTime: slot(30), lastSuccessfulTime: '2026-12-05T00:29:00Z' }).obj(), '2026-12-05T00:31:00Z',
      run(s, slot(5)).succeeded(done(5))));
    expect(r.status.lastSuccessfulTime).toBe('2026-12-05T00:29:00Z');
  });
});

describe('the job it creates', () => {
  const s = makeSchedule().labels({ team: 'growth' }).paths('s3://lake/f/date=${date-1d}/', 's3://scores/${year}/${month}/${day}/h${hour}${minute}/').tz('Europe/Berlin').obj();
  const job = decideSchedule(scheduleInput(s, '2026-12-05T01:05:00Z')).create[0];

  test('a deterministic name per slot, labels, the scheduled time, and the schedule as its controller (cascading delete)', () => {
    expect(job.metadata).toEqual({
      name: 'nightly-29940545', namespace: 'default',
      labels: { team: 'growth', [LABEL_SCHEDULE]: 'nightly' },
      annotations: { [ANNOTATION_SCHEDULED_TIME]: '2026-12-05T01:05:00Z' },
      ownerReferences: [{ apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceSchedule', name: 'nightly', uid: 'sched-uid-1', controller: true, blockOwnerDeletion: true }],
    });
    expect(job).toMatchObject({ apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob' });
  });

  test('paths rendered in the schedule\'s zone (02:05 in Berlin), the rest of the spec as the template says', () => {
    expect(job.spec.input.uri).toBe('s3://lake/f/date=2026-12-04/');
    expect(job.spec.output.uri).toBe('s3://scores/2026/12/05/h0205/');
    expect(job.spec.model.uri).toBe('s3://models/churn/v3/model.onnx');
    expect(job.spec.shards).toBe(4);
  });

  test('a restart after the create but before the status write creates nothing twice', () => {
    const first = decideSchedule(scheduleInput(s, '2026-12-05T01:05:00Z'));
    const again = decideSchedule(scheduleInput(s, '2026-12-05T01:06:00Z', { name: first.create[0].metadata.name, deleting: false, phase: 'Pending' }));
    expect(again.create).toEqual([]);
    expect(again.status.lastScheduleTime).toBe('2026-12-05T01:05:00Z');
    expect(again.events).toEqual([]);
  });

  test('the controller fills in the uid of the job it created', () => {
    const r = decideSchedule(scheduleInput(s, '2026-12-05T01:05:00Z'));
    expect(withCreatedUids(r.status, new Map([['nightly-29940545', 'u-9']])).active).toEqual([
      { apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', name: 'nightly-29940545', namespace: 'default', uid: 'u-9' },
    ]);
  });
});

describe('schedules that cannot run', () => {
  test.each<[string, string, (b: ScheduleBuilder) => ScheduleBuilder]>([
    ['an unparsable schedule', 'spec.schedule', (b) => b.cron('61 * * * *')],
    ['an unknown time zone', 'spec.timeZone', (b) => b.tz('Mars/Olympus_Mons')],
    ['an unknown placeholder', 'spec.jobTemplate.spec.input.uri', (b) => b.paths('s3://lake/${dat}/', 's3://out/')],
  ])('%s: a Warning InvalidSchedule naming %s, no job, no requeue', (_name, field, build) => {
    const r = decideSchedule(scheduleInput(build(makeSchedule()).obj(), '2026-12-05T00:05:00Z'));
    expect(r.create).toEqual([]);
    expect(r.requeueAfterMs).toBeUndefined();
    expect(r.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'InvalidSchedule', message: expect.stringContaining(field) })]);
  });

  test('a schedule being deleted starts nothing and deletes nothing (the garbage collector takes its jobs)', () => {
    const s = makeSchedule().deleting().history(0, 0).obj();
    const r = decideSchedule(scheduleInput(s, '2026-12-05T00:05:00Z', run(s, '2026-12-04T00:05:00Z').succeeded('2026-12-04T00:06:00Z')));
    expect(r).toMatchObject({ create: [], delete: [], events: [] });
  });
});

test('a decision is a function of its input: same input, same result', () => {
  const s = makeSchedule().policy('Replace').history(1, 1).lastScheduled('2026-12-05T00:05:00Z').obj();
  const input = (): ScheduleInput => scheduleInput(s, '2026-12-05T00:10:00Z', run(s, '2026-12-05T00:05:00Z'));
  expect(decideSchedule(input())).toEqual(decideSchedule(input()));
});
