/**
 * `node dist/e2e/bench/rss.js`: does a worker's peak RSS grow with its shard? Writes DuckDB zstd
 * files (int64 id + 16 float32 features, DuckDB's default row groups of 122,880 rows) of each size in
 * RSS_ROWS (default "1000000,10000000"), plans one shard over each, runs the worker's production entry
 * point (dist/worker/src/main.js) on it as its own process, and prints the peakRssMiB it logs with
 * 'shard done', and the ratio of the largest to the smallest. RSS_SAMPLE=1 also samples the process's
 * RSS from /proc every 250 ms and prints it against time.
 * RSS_KEEP=1 keeps the files. Not part of CI: it takes a while and needs DuckDB (a dev dependency).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchModel, featureColumns } from './bench-data.js';
import { openStorage } from '../../core/src/storage/index.js';
import { planRun, freezePlan } from '../../operator/src/planner/plan-run.js';
import { BatchInferenceJobSpecSchema } from '../../core/src/contract/job-spec.js';
import { planUri } from '../../core/src/contract/index.js';

const SIZES = (process.env.RSS_ROWS ?? '1000000,10000000').split(',').map(Number);
const FEATURES = 16;
const SAMPLE = process.env.RSS_SAMPLE === '1';

async function writeDuckdbFiles(dir: string, rows: number): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const con = await instance.connect();
  try {
    mkdirSync(dir, { recursive: true });
    const cols = featureColumns(FEATURES).map((c) => `(random() * 2 - 1)::FLOAT AS ${c}`).join(', ');
    await con.run(`COPY (SELECT i::BIGINT AS id, ${cols} FROM range(${rows}) t(i)) TO '${join(dir, 'data.parquet')}' (FORMAT parquet, COMPRESSION zstd)`);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

function rssMiBOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function runWorker(uri: string): Promise<{ peakRssMiB: number; seconds: number; samples: string[] }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../worker/src/main.js'), '--plan', uri, '--shard', '0', '--attempt', '0', '--termination-log', '/dev/null'], {
    stdio: ['ignore', 'pipe', 'inherit'], env: process.env,
  });
  let out = '';
  const samples: string[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const timer = SAMPLE ? setInterval(() => {
    const r = rssMiBOf(child.pid!);
    if (r !== undefined) samples.push(`${((performance.now() - t0) / 1000).toFixed(1)}s rss ${r.toFixed(0)} MiB`);
  }, 250) : undefined;
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  if (timer) clearInterval(timer);
  const done = out.split('\n').filter((l) => l.includes('"shard done"')).map((l) => JSON.parse(l) as { peakRssMiB: number })[0];
  if (code !== 0 || !done) throw new Error(`worker exited ${code}:\n${out.slice(-4000)}`);
  return { peakRssMiB: done.peakRssMiB, seconds: (performance.now() - t0) / 1000, samples };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bij-rss-'));
  const storage = openStorage();
  try {
    const modelUri = join(dir, 'model.onnx');
    writeFileSync(modelUri, benchModel(FEATURES).bytes);
    const results: { rows: number; peakRssMiB: number; seconds: number }[] = [];
    for (const rows of SIZES) {
      const input = join(dir, `in-${rows}`);
      await writeDuckdbFiles(input, rows);
      const spec = BatchInferenceJobSpecSchema.parse({
        model: { uri: modelUri, inputs: { X: { columns: featureColumns(FEATURES) } }, outputs: { probs: { column: 'score', select: 1 } } },
        input: { uri: input + '/', idColumn: 'id' },
        output: { uri: join(dir, `out-${rows}`) + '/' },
        shards: 1, batchSize: 8192, worker: { executionProvider: 'cpu' },
      });
      const plan = await freezePlan(storage, await planRun(storage, { namespace: 'rss', name: 'rss', uid: 'u', generation: 1 }, spec, 'rss', new Date()));
      const r = await runWorker(planUri(spec.output.uri, plan.runId));
      for (const s of r.samples) console.log(`  ${rows}: ${s}`);
      console.log(`rows ${rows}: peakRssMiB ${r.peakRssMiB} (${r.seconds.toFixed(1)} s)`);
      results.push({ rows, peakRssMiB: r.peakRssMiB, seconds: r.seconds });
      if (!process.env.RSS_KEEP) rmSync(input, { recursive: true, force: true });
    }
    const small = results[0];
    const large = results[results.length - 1];
    console.log(`peakRssMiB at ${large.rows} rows / at ${small.rows} rows: ${(large.peakRssMiB / small.peakRssMiB).toFixed(2)} (target <= 1.2)`);
  } finally {
    if (!process.env.RSS_KEEP) rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
