/** `bij run`: validate, run locally with a progress display, and end with Succeeded or Failed: <reason>. */
import { makeLogger, silentLogger } from '../../../operator/src/log.js';
import { parseBatchInferenceJob, specWarnings } from '../../../operator/src/api/validate.js';
import { readJobFile, resolveLocalPaths, type JobDocument } from '../../../operator/src/cli/job-file.js';
import { KUEUE_LABELS } from '../../../operator/src/reconciler/names.js';
import { ProgressPrinter, formatDuration } from './progress.js';
import { runLocal } from '../embedded/run-local.js';
import { describeEfficiency } from '../../../operator/src/reconciler/efficiency.js';

export interface RunOptions {
  timeout?: number;
  workdir?: string;
  maxPods?: number;
  verbose?: boolean;
}

/**
 * The job without its Kueue labels: `bij run` has no Kueue to admit suspended shard Jobs, so they would
 * wait for ever. Returns the labels it removed.
 */
export function withoutKueueLabels(job: JobDocument): { job: JobDocument; removed: string[] } {
  const labels = job.metadata?.labels;
  if (!labels || typeof labels !== 'object') return { job, removed: [] };
  const kept: Record<string, unknown> = { ...(labels as Record<string, unknown>) };
  const removed = KUEUE_LABELS.filter((k) => k in kept);
  for (const k of removed) delete kept[k];
  return removed.length === 0 ? { job, removed } : { job: { ...job, metadata: { ...job.metadata, labels: kept } }, removed };
}

export async function runCommand(file: string, opts: RunOptions, stdout: NodeJS.WriteStream = process.stdout): Promise<number> {
  const { job, removed } = withoutKueueLabels(resolveLocalPaths(readJobFile(file), file));
  if (removed.length > 0) stdout.write(`bij: ignoring ${removed.join(', ')}: bij run has no Kueue; shards run on this machine without queueing\n`);
  const parsed = parseBatchInferenceJob(job);
  if (!parsed.ok) {
    stdout.write(`Failed: ${file} is not a valid BatchInferenceJob\n`);
    for (const e of parsed.errors) stdout.write(`  ${e.field}: ${e.message}\n`);
    return 1;
  }
  for (const w of specWarnings(parsed.bij.spec)) stdout.write(`warning: ${w.field}: ${w.message}\n`);
  const log = opts.verbose ? makeLogger({ name: 'bij', destination: process.stderr }) : silentLogger();
  const printer = new ProgressPrinter(stdout, Boolean(stdout.isTTY));
  const started = Date.now();
  // Ctrl-C stops the workers and the embedded cluster cleanly; the run resumes on the next bij run.
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort();
  process.once('SIGINT', onSigint);
  stdout.write(`bij: running ${parsed.bij.metadata.name} locally (embedded cluster, worker processes on this machine)\n`);
  const result = await runLocal(job, {
    log, onStatus: (s) => printer.update(s), timeoutMs: opts.timeout ? opts.timeout * 1000 : undefined,
    workDir: opts.workdir, maxPods: opts.maxPods,
    onResume: (runId) => stdout.write(`bij: resuming run ${runId}: shards already scored are kept\n`),
    signal: interrupted.signal,
  });
  process.off('SIGINT', onSigint);
  printer.finish();
  const elapsed = formatDuration((Date.now() - started) / 1000);
  const s = result.status;
  if (result.phase === 'Succeeded') {
    // A run can succeed with something to say (an input without rows, attempts that failed and were
    // retried): the job's Warning events. A failed run's reason is in its last line already.
    const warnings = result.warnings ?? [];
    for (const w of warnings.slice(0, 5)) stdout.write(`Warning ${w.reason}: ${w.message}\n`);
    if (warnings.length > 5) stdout.write(`(and ${warnings.length - 5} more warnings)\n`);
    const rows = (s?.rows?.processed ?? 0).toLocaleString('en-US');
    const failed = (s?.rows?.failed ?? 0).toLocaleString('en-US');
    stdout.write(`Output: ${parsed.bij.spec.output.uri}\n`);
    if (s?.outputManifest) stdout.write(`Manifest: ${s.outputManifest}\n`);
    if (s?.efficiency) stdout.write(`Time: ${describeEfficiency(s.efficiency)}\n`);
    stdout.write(`Succeeded: ${rows} rows scored, ${failed} failed, ${s?.shards?.total ?? 0} shards, in ${elapsed}\n`);
    return 0;
  }
  const reason = result.phase === 'Rejected'
    ? `not a valid BatchInferenceJob: ${result.message}`
    : result.phase === 'TimedOut' ? result.message : result.message || 'the job failed';
  stdout.write(`Worker logs: ${result.workDir}\n`);
  stdout.write(`Failed: ${reason}\n`);
  return 1;
}
