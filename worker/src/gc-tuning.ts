/**
 * V8 garbage-collector setting for the worker process.
 *
 * The worker's JavaScript heap is small (~20 MB: code, a few thousand objects), but every batch moves
 * megabytes through ArrayBuffers: file ranges, decoded IPC, packed tensors, output columns. V8 counts
 * those bytes against limits it derives from the small heap, so with its default (dynamic) growing
 * factor it ran a full mark-compact every few tens of MB of buffers, in every isolate of the process
 * (main, decoder, encoder, inference): 7-8 per million rows on the main thread alone, plus their
 * concurrent marking on V8's helper threads.
 *
 * A fixed growing factor of 5 lets the heap limit sit at 5x the live heap after each collection, so
 * buffer garbage is collected in far fewer, equally cheap passes. Measured with `npm run bench` (1M
 * rows, 2 cores): end to end 1.84 -> ~2.15 M rows/s, CPU per 1M rows 0.95 -> ~0.82 s; peak RSS of a
 * worker run +50-80 MB (one decoder thread; each isolate of a larger pod adds its share). A fixed
 * factor also replaces the smaller ones V8 picks under memory pressure, but the limit stays a multiple
 * of the live heap (tens of MB here) and V8 still caps it below the heap's maximum.
 *
 * Set at run time (not as a node flag) so that the images, the local runner and the bench all get it
 * from the one place, and a Node version without the flag ignores it instead of refusing to start.
 * Worker threads created afterwards get it too (their heaps are set up from the process's flags).
 */
import { setFlagsFromString } from 'node:v8';

export const WORKER_V8_FLAGS = ['--heap-growing-percent=400'];

let applied = false;

/** Applies WORKER_V8_FLAGS once per process; call before the worker starts its threads. */
export function applyWorkerGcTuning(): void {
  if (applied) return;
  applied = true;
  for (const flag of WORKER_V8_FLAGS) setFlagsFromString(flag);
}
