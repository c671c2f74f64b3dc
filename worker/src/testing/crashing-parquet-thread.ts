/**
 * TEST-ONLY: the Parquet thread (reader/parquet-thread-main.ts) made to crash on cue, for the tests of
 * what the reader does when a decoder thread dies mid-shard. Started through ParquetThreadOptions.entry
 * with `test: { crashAtNext: n, how }`: on the n-th `next` request (counted from 1) the thread dies
 * before answering, by `exit` (the thread exits with code 70) or `throw` (an uncaught exception).
 */
import { parentPort, workerData } from 'node:worker_threads';

export interface CrashCue {
  crashAtNext: number;
  how: 'exit' | 'throw';
}

const cue = (workerData as { test?: CrashCue }).test;
let nexts = 0;
// Registered before the real thread's own listener (imported below), so it sees each request first.
parentPort?.on('message', (m: { op?: string }) => {
  if (!cue || m?.op !== 'next' || ++nexts !== cue.crashAtNext) return;
  if (cue.how === 'exit') process.exit(70);
  throw new Error(`the test thread crashed on cue (next request ${nexts})`);
});

await import('../../../core/src/parquet/parquet-thread-main.js');
