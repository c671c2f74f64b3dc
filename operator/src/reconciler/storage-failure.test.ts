import { at, iso } from '../testing/builders.js';
import { TERMINAL_TRIES, storageFailureOutcome, type StorageFailure } from './storage-failure.js';

const failure = (over: Partial<StorageFailure> = {}): StorageFailure => ({ message: 'access denied to s3://out/x (AccessDenied)', terminal: true, tries: 1, since: at(0), ...over });
const running = { phase: 'Running' as const, runId: 'r1', startTime: iso(0), message: '2/4 shards', shards: { total: 4, pending: 0, running: 2, succeeded: 2, failed: 0, retries: 0 } };

describe('storageFailureOutcome', () => {
  test('a terminal error fails the run only after TERMINAL_TRIES tries, keeping its counts, with one Warning', () => {
    for (let tries = 1; tries < TERMINAL_TRIES; tries++) {
      expect(storageFailureOutcome(running, 'r1', 2, failure({ tries }), at(5)).status?.phase).toBe('Running');
    }
    const r = storageFailureOutcome(running, 'r1', 2, failure({ tries: TERMINAL_TRIES }), at(5));
    expect(r.status).toMatchObject({ phase: 'Failed', runId: 'r1', completionTime: iso(5), shards: running.shards, observedGeneration: 2 });
    expect(r.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'StorageError', message: `storage error (after 3 tries): ${failure().message}` });
    expect(r.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'StorageError' })]);
  });

  test('a transient error keeps the phase, puts the error in the message, and warns once per episode', () => {
    const r = storageFailureOutcome(running, 'r1', 2, failure({ terminal: false, tries: 7, message: 'S3 read s3://in/a failed: SlowDown (HTTP 503)' }), at(60));
    expect(r.status).toEqual({ ...running, message: `retrying since ${iso(0)} after a storage error: S3 read s3://in/a failed: SlowDown (HTTP 503)` });
    expect(r.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'StorageRetrying', key: `storage-retrying-${at(0).getTime()}` })]);
    expect(storageFailureOutcome(r.status!, 'r1', 2, failure({ terminal: false, tries: 8, message: 'S3 read s3://in/a failed: SlowDown (HTTP 503)' }), at(90))).toEqual({ events: [] });
  });

  test('a finished run is left as it finished', () => {
    for (const phase of ['Succeeded', 'Failed'] as const) {
      expect(storageFailureOutcome({ ...running, phase }, 'r1', 2, failure({ tries: 9 }), at(5))).toEqual({ events: [] });
    }
  });

  test('before the first status of a run: Failed names the new run and starts now', () => {
    const r = storageFailureOutcome({}, 'r2', 1, failure({ tries: 3 }), at(9));
    expect(r.status).toMatchObject({ phase: 'Failed', runId: 'r2', startTime: iso(9) });
    expect(r.status?.shards).toBeUndefined();
  });
});
