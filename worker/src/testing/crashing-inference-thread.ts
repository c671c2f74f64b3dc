/**
 * TEST-ONLY: the inference thread (session/inference-thread-main.ts) made to crash on cue, for the
 * tests of what the session does when its thread dies. Started through ScoringSessionOptions.threadEntry
 * with `threadTest: { crashAtScore: n }`: on the n-th `score` request (counted from 1) the thread
 * throws an uncaught exception before answering.
 */
import { parentPort, workerData } from 'node:worker_threads';

export interface InferenceCrashCue {
  crashAtScore: number;
}

const cue = (workerData as { test?: InferenceCrashCue }).test;
let scores = 0;
// Registered before the real thread's own listener (imported below), so it sees each request first.
parentPort?.on('message', (m: { op?: string }) => {
  if (!cue || m?.op !== 'score' || ++scores !== cue.crashAtScore) return;
  throw new Error(`the test thread crashed on cue (score request ${scores})`);
});

await import('../session/inference-thread-main.js');
