/**
 * What the operator observes in storage about a run, with caching so a reconcile stays cheap:
 * - the frozen plan (immutable once written: cached per run);
 * - shard manifests (immutable: positives cached forever; the run's shards are listed once, then only
 *   attempts that finished since are probed);
 * - progress of running attempts (re-read at most every `progressTtlMs` per attempt);
 * - whether the commit is done (_SUCCESS naming the run) and its row counts (cached once true).
 */
import type { Storage } from '../../../core/src/storage/types.js';
import type { ManifestSummary } from '../reconciler/types.js';
import type { OutputStats, StageTimings } from '../../../core/src/contract/index.js';
import {
  ProgressSchema, checkShardManifest, parseShardPlan, readSuccessMarker, joinUri, planUri, progressUri, runPrefix,
  shardManifestUri, type RowCounts, type ShardPlan,
} from '../../../core/src/contract/index.js';
import { committedRowsOf, readRunManifest } from './commit.js';
import type { Claim } from './claim.js';


const MANIFEST_KEY = /\/shards\/(\d+)\/a(\d+)\/manifest\.json$/;

export class RunState {
  private plans = new Map<string, ShardPlan>();
  private manifests = new Map<string, Map<number, Map<number, ManifestSummary>>>();
  private listed = new Set<string>();
  private probed = new Set<string>();
  private progress = new Map<string, { at: number; rows: number; timings?: StageTimings; outputs?: OutputStats }>();
  private committed = new Map<string, RowCounts>();
  private sweptRuns = new Set<string>();
  private claims = new Map<string, Claim>();

  constructor(private readonly progressTtlMs = 2_000) {}

  async loadPlan(storage: Storage, outputUri: string, runId: string): Promise<ShardPlan | undefined> {
    const cached = this.plans.get(runId);
    if (cached) return cached;
    const uri = planUri(outputUri, runId);
    if (!(await storage.exists(uri))) return undefined;
    const plan = parseShardPlan(await storage.readText(uri), uri);
    this.plans.set(runId, plan);
    return plan;
  }

  rememberPlan(plan: ShardPlan): void {
    this.plans.set(plan.runId, plan);
  }

  private runManifests(runId: string): Map<number, Map<number, ManifestSummary>> {
    let m = this.manifests.get(runId);
    if (!m) this.manifests.set(runId, (m = new Map()));
    return m;
  }

  /** Reads one shard manifest. I/O errors propagate (the reconcile is retried); a file that is not a
   * valid manifest of this attempt is ignored for good (workers write manifests atomically, last). */
  private async readManifest(storage: Storage, uri: string, runId: string, shard: number, attempt: number): Promise<void> {
    const { manifest: parsed } = checkShardManifest(await storage.readText(uri), { runId, shard, attempt });
    if (!parsed) return;
    const byShard = this.runManifests(runId);
    let attempts = byShard.get(shard);
    if (!attempts) byShard.set(shard, (attempts = new Map()));
    attempts.set(attempt, { attempt, rows: parsed.rows, timings: parsed.timings, ...(parsed.batchSize ? { batchSize: parsed.batchSize } : {}), ...(parsed.outputs ? { outputs: parsed.outputs } : {}) });
  }

  /**
   * The valid shard manifests of a run. `finished` lists attempts (shard/attempt) that ended since
   * the run was listed; each is probed once.
   */
  async manifestsFor(storage: Storage, outputUri: string, runId: string, finished: { shard: number; attempt: number }[]):
    Promise<Map<number, ManifestSummary[]>> {
    if (!this.listed.has(runId)) {
      const root = joinUri(runPrefix(outputUri, runId), 'shards') + '/';
      const found: Promise<void>[] = [];
      for await (const o of storage.list(root)) {
        const m = MANIFEST_KEY.exec(o.uri);
        if (m) found.push(this.readManifest(storage, o.uri, runId, Number(m[1]), Number(m[2])));
      }
      await Promise.all(found);
      this.listed.add(runId);
    }
    const probes: Promise<void>[] = [];
    for (const { shard, attempt } of finished) {
      const key = `${runId}/${shard}/${attempt}`;
      if (this.probed.has(key) || this.runManifests(runId).get(shard)?.has(attempt)) continue;
      const uri = shardManifestUri(outputUri, runId, shard, attempt);
      // Marked probed only after a definite answer: a transient error is retried next reconcile
      // rather than hiding a good attempt's manifest for good.
      probes.push((async () => {
        if (await storage.exists(uri)) await this.readManifest(storage, uri, runId, shard, attempt);
        this.probed.add(key);
      })());
    }
    await Promise.all(probes);
    const out = new Map<number, ManifestSummary[]>();
    for (const [shard, attempts] of this.runManifests(runId)) out.set(shard, [...attempts.values()].sort((a, b) => a.attempt - b.attempt));
    return out;
  }

  /** Rows done by running attempts, and their stage timings so far, keyed `${shard}/${attempt}`.
   * Missing files count as 0 rows. */
  async progressFor(storage: Storage, outputUri: string, runId: string, running: { shard: number; attempt: number }[], now: number):
    Promise<{ rows: Map<string, number>; timings: Map<string, StageTimings>; outputs: Map<string, OutputStats> }> {
    const rows = new Map<string, number>();
    const timings = new Map<string, StageTimings>();
    const outputs = new Map<string, OutputStats>();
    await Promise.all(running.map(async ({ shard, attempt }) => {
      const key = `${runId}/${shard}/${attempt}`;
      let entry = this.progress.get(key);
      if (!entry || now - entry.at >= this.progressTtlMs) {
        entry = { at: now, rows: entry?.rows ?? 0, timings: entry?.timings, outputs: entry?.outputs };
        try {
          const p = ProgressSchema.parse(JSON.parse(await storage.readText(progressUri(outputUri, runId, shard, attempt))));
          entry.rows = p.rowsDone;
          entry.timings = p.timings;
          entry.outputs = p.outputs;
        } catch {
          /* not written yet */
        }
        this.progress.set(key, entry);
      }
      rows.set(`${shard}/${attempt}`, entry.rows);
      if (entry.timings) timings.set(`${shard}/${attempt}`, entry.timings);
      if (entry.outputs) outputs.set(`${shard}/${attempt}`, entry.outputs);
    }));
    return { rows, timings, outputs };
  }

  /** The run's committed row counts when _SUCCESS names it (read from _manifest.json once), else undefined. */
  async committedRows(storage: Storage, outputUri: string, runId: string): Promise<RowCounts | undefined> {
    const cached = this.committed.get(runId);
    if (cached) return cached;
    const marker = await readSuccessMarker(storage, outputUri);
    if (marker?.runId !== runId) return undefined;
    const rows = committedRowsOf(await readRunManifest(storage, outputUri));
    this.committed.set(runId, rows);
    return rows;
  }

  markCommitted(runId: string, rows: RowCounts): void {
    this.committed.set(runId, rows);
  }

  /** Whether this process already swept the run's attempt files after its commit (apply.ts). */
  swept(runId: string): boolean {
    return this.sweptRuns.has(runId);
  }

  markSwept(runId: string): void {
    this.sweptRuns.add(runId);
  }

  /** The output claim this process holds for a run (commit/claim.ts), if it made or checked one. */
  claimOf(runId: string): Claim | undefined {
    return this.claims.get(runId);
  }

  rememberClaim(claim: Claim): void {
    this.claims.set(claim.runId, claim);
  }

  /** Forgets a run (the job was deleted or moved to a new run). */
  forget(runId: string): void {
    this.plans.delete(runId);
    this.sweptRuns.delete(runId);
    this.manifests.delete(runId);
    this.listed.delete(runId);
    this.committed.delete(runId);
    this.claims.delete(runId);
    for (const k of [...this.probed]) if (k.startsWith(runId + '/')) this.probed.delete(k);
    for (const k of [...this.progress.keys()]) if (k.startsWith(runId + '/')) this.progress.delete(k);
  }
}
