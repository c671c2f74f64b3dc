/**
 * Helpers for the fault suite (e2e/faults/): watch an output folder for every file that ever
 * appears (attempt files are removed by the commit, so evidence has to be caught while it exists),
 * wait for a shard attempt to be mid-way, read the key-value metadata of committed parts, and list
 * what a run left behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  attemptPrefix, planUri, progressUri, ProgressSchema, ShardPlanSchema, type ShardPlan,
} from '../../core/src/contract/index.js';
import { jobName } from '../../operator/src/reconciler/names.js';
import { Duck, sqlString } from '../../core/testing/fixtures.js';
import type { TestCluster } from './cluster.js';
import { until } from '../../core/testing/until.js';

/** Polls `fn` until it returns something other than undefined/false; fails naming `what`. */
export function waitUntil<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  return until<T>(what, fn, timeoutMs, everyMs, (v) => v !== undefined && v !== false);
}

/** Every file under `dir` (relative paths, '/'-separated), temp files of atomic writes left out. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return []; // removed while listing (the commit's cleanup)
  }
  const out: string[] = [];
  for (const e of entries) {
    const rel = e.split('\\').join('/');
    if (rel.split('/').pop()!.includes('.bij-tmp-')) continue;
    try {
      if (statSync(join(dir, rel)).isFile()) out.push(rel);
    } catch {
      /* gone meanwhile */
    }
  }
  return out.sort();
}

/**
 * Records every file that appears under a folder while a run goes on, with the time it was first
 * seen, and (for files matching `capture`) a copy of its bytes' sha256 and text taken when first seen.
 */
export class TreeWatcher {
  readonly firstSeen = new Map<string, number>();
  readonly sha256 = new Map<string, string>();
  readonly text = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly root: string, private readonly capture: RegExp = /$^/, private readonly everyMs = 20) {}

  start(): this {
    this.timer = setInterval(() => this.scan(), this.everyMs);
    return this;
  }

  scan(): void {
    for (const rel of listFiles(this.root)) {
      if (this.firstSeen.has(rel)) continue;
      if (this.capture.test(rel)) {
        try {
          const bytes = readFileSync(join(this.root, rel));
          this.sha256.set(rel, createHash('sha256').update(bytes).digest('hex'));
          if (rel.endsWith('.json')) this.text.set(rel, bytes.toString('utf8'));
        } catch {
          continue; // removed between the listing and the read: try again next time (it will not be seen)
        }
      }
      this.firstSeen.set(rel, Date.now());
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.scan();
  }

  /** Paths ever seen that match. */
  seen(re: RegExp): string[] {
    return [...this.firstSeen.keys()].filter((k) => re.test(k)).sort();
  }
}

/** The relative folder of one attempt under the output folder: `_bij/<run>/shards/00003/a1`. */
export const attemptDir = (outputDir: string, runId: string, shard: number, attempt: number): string =>
  attemptPrefix(outputDir, runId, shard, attempt).slice(outputDir.replace(/\/+$/, '').length + 1);

/** Rows done by an attempt, as its progress.json says (undefined before the first write). */
export function progressOf(outputDir: string, runId: string, shard: number, attempt: number): number | undefined {
  try {
    return ProgressSchema.parse(JSON.parse(readFileSync(progressUri(outputDir, runId, shard, attempt), 'utf8'))).rowsDone;
  } catch {
    return undefined;
  }
}

export function readPlan(outputDir: string, runId: string): ShardPlan {
  return ShardPlanSchema.parse(JSON.parse(readFileSync(planUri(outputDir, runId), 'utf8')));
}

/** The run id once the operator has planned (status.runId with a phase past Pending: plan.json exists). */
export async function waitForRunId(c: TestCluster, name: string, timeoutMs = 60_000): Promise<string> {
  const s = await c.waitFor(name, (st) => st?.phase !== undefined && st.phase !== 'Pending' && st.runId !== undefined, timeoutMs);
  return s!.runId!;
}

export const shardJobName = (bij: string, runId: string, shard: number, attempt: number): string => jobName(bij, runId, shard, attempt);

/**
 * Waits until the Job of (shard, attempt) has a running process that has reported some rows done but
 * not all of them: the attempt is provably mid-way. Returns the Job name.
 */
export async function waitForMidShard(
  c: TestCluster, bij: string, outputDir: string, runId: string, shard: number, attempt: number, shardRows: number, timeoutMs = 30_000,
): Promise<string> {
  const name = shardJobName(bij, runId, shard, attempt);
  await waitUntil(`shard ${shard} attempt ${attempt} (${name}) to be running with 0 < rows done < ${shardRows}`, () => {
    if (!c.runner.running().some((p) => p.job === name)) return false;
    const done = progressOf(outputDir, runId, shard, attempt) ?? 0;
    return done > 0 && done < shardRows;
  }, timeoutMs);
  return name;
}

export interface PartMetadata {
  file: string;
  runId: string;
  shard: number;
  attempt: number;
}

/** The bij.* key-value metadata of each committed data part directly under outputDir. */
export async function committedPartMetadata(outputDir: string): Promise<PartMetadata[]> {
  const files = listFiles(outputDir).filter((f) => /^part-s\d+-\d+\.parquet$/.test(f));
  if (files.length === 0) return [];
  const duck = await Duck.open();
  try {
    const out: PartMetadata[] = [];
    for (const f of files) {
      const rows = await duck.all(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${sqlString(join(outputDir, f))})`);
      const kv = new Map(rows.map((r) => [String(r.k), String(r.v)]));
      out.push({ file: f, runId: kv.get('bij.run_id') ?? '', shard: Number(kv.get('bij.shard')), attempt: Number(kv.get('bij.attempt')) });
    }
    return out;
  } finally {
    duck.close();
  }
}

export const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
