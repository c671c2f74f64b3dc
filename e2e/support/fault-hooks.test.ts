import { jest } from '@jest/globals';
import { commitStepHook, installCommitStepHook } from '../../operator/src/commit/step-hook.js';
import { installShardHook, shardHook } from '../../worker/src/hooks.js';
import { faultEnv } from './fault-env.js';
import { installFromEnv, parseCommitExit, parseFaults, shardFaults } from './fault-hooks.js';

describe('fault hooks (test-only, preloaded into processes under test)', () => {
  afterEach(() => { installShardHook(undefined); installCommitStepHook(undefined); });

  test('nothing installed (production): every hook point is a no-op that returns at once', () => {
    expect(shardHook('batch', 0, 0)).toBeUndefined();
    expect(shardHook('before-manifest', 3, 1)).toBeUndefined();
    expect(commitStepHook()).toBeUndefined();
    installFromEnv({});
    expect(shardHook('batch', 0, 0)).toBeUndefined();
  });

  test('slow-rows sleeps at the batches of the shards it names, and only there', async () => {
    installFromEnv({ BIJ_FAULT: 'slow-rows:30:1' });
    expect(shardHook('batch', 0, 0)).toBeUndefined();
    expect(shardHook('before-manifest', 1, 0)).toBeUndefined();
    // The sleep's length on a fake clock: pending 1 ms short of 30 ms, done at 30 ms (no wall time).
    jest.useFakeTimers();
    try {
      let done = false;
      const slept = shardHook('batch', 1, 0)!.then(() => { done = true; });
      await jest.advanceTimersByTimeAsync(29);
      expect(done).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await slept;
      expect(done).toBe(true);
    } finally {
      jest.useRealTimers();
    }
    expect(shardFaults(parseFaults('slow-rows:5:*:3'))('batch', 9, 2)).toBeUndefined();
  });

  test('the commit exit step is parsed and installed', () => {
    installFromEnv({ BIJ_TEST_COMMIT_EXIT_AFTER_STEP: '6' });
    expect(commitStepHook()).toBeDefined();
    expect(() => parseCommitExit('x')).toThrow(/BIJ_TEST_COMMIT_EXIT_AFTER_STEP must be a commit step number/);
  });

  test('faultEnv adds the preload only when a fault is set', () => {
    expect(faultEnv({ A: '1' })).toEqual({ A: '1' });
    const env = faultEnv({ BIJ_FAULT: 'slow-rows:1' });
    expect(env.BIJ_FAULT_HOOKS_PRELOAD).toBe('1');
    expect(env.NODE_OPTIONS).toMatch(/--import=file:\/\/.*\/dist\/e2e\/support\/fault-hooks\.js/);
  });

  test('parses each form, with * and left-out selectors meaning any', () => {
    expect(parseFaults('slow-rows:250, exit-before-manifest:1:0 ,exit-at-batch:1:2,slow-rows:5:*:3,exit-before-manifest:2:*:75')).toEqual([
      { kind: 'slow-rows', value: 250, shard: undefined, attempt: undefined },
      { kind: 'exit-before-manifest', shard: 1, attempt: 0, value: 137 },
      { kind: 'exit-at-batch', value: 1, shard: 2, attempt: undefined },
      { kind: 'slow-rows', value: 5, shard: undefined, attempt: 3 },
      { kind: 'exit-before-manifest', shard: 2, attempt: undefined, value: 75 },
    ]);
    expect(parseFaults('')).toEqual([]);
  });

  test('a bad value is refused, naming the part', () => {
    expect(() => parseFaults('slow-rows:fast')).toThrow(/ms per batch.*"fast".*slow-rows:fast/);
    expect(() => parseFaults('exit-at-batch')).toThrow(/exit code/);
    expect(() => parseFaults('exit-before-manifest:x:0')).toThrow(/shard must be a number or \*, got "x"/);
    expect(() => parseFaults('crash:1')).toThrow(/unknown fault "crash"/);
  });
});
