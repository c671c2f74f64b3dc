/**
 * GPU device check, step (a): the same job scored by the worker's production entry point
 * (dist/worker/src/main.js, a real worker process per attempt) on one provider and on another, and
 * every row's score compared.
 *
 *   node dist/e2e/bench/device/compare.js --data DIR --model FILE [--ref-model FILE] --out DIR
 *       [--ep cuda] [--ref-ep cpu] [--tolerance 1e-3] [--label NAME]
 *
 * One frozen plan (one shard); attempt 0 runs with BIJ_EXECUTION_PROVIDER=--ep, attempt 1 with
 * --ref-ep (and --ref-model, when given, through a second plan: a float32 reference for a float16
 * model). Both attempts' Parquet parts are read back and joined on id. Exits 1 when a row is missing,
 * a score is NaN, or |score - reference| > tolerance for any row; prints the largest difference.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { BatchInferenceJobSpecSchema } from '../../../core/src/contract/job-spec.js';
import { attemptPrefix, joinUri, planUri, shardManifestUri, ShardManifestSchema } from '../../../core/src/contract/index.js';
import { freezePlan, planRun } from '../../../operator/src/planner/plan-run.js';
import { openStorage } from '../../../core/src/storage/index.js';
import { featureColumns, type BenchDataMeta } from '../bench-data.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/e2e/bench/device -> dist/worker/src/main.js */
const WORKER = resolve(here, '..', '..', '..', 'worker', 'src', 'main.js');

interface Scored {
  provider: string;
  seconds: number;
  scores: Map<bigint, number>;
}

async function planFor(dataDir: string, model: string, out: string, features: number, name: string): Promise<{ plan: string; output: string }> {
  const storage = openStorage();
  const spec = BatchInferenceJobSpecSchema.parse({
    model: { uri: resolve(model), inputs: { X: { columns: featureColumns(features) } }, outputs: { probs: { column: 'score', select: 1 } } },
    input: { uri: resolve(dataDir) + '/', idColumn: 'id' },
    output: { uri: resolve(out, name) + '/' },
    shards: 1, batchSize: 8192, worker: { executionProvider: 'auto' },
  });
  const plan = await freezePlan(storage, await planRun(storage, { namespace: 'device', name, uid: 'u', generation: 1 }, spec, name, new Date()));
  return { plan: planUri(spec.output.uri, plan.runId), output: spec.output.uri };
}

/** Runs one attempt of shard 0 in a worker process and reads back every (id, score). */
async function score(planFile: string, output: string, attempt: number, ep: string): Promise<Scored> {
  const runId = JSON.parse(readFileSync(planFile, 'utf8')).runId as string;
  const t0 = performance.now();
  const child = spawnSync(process.execPath, [WORKER, '--plan', planFile, '--shard', '0', '--attempt', String(attempt), '--termination-log', join(dirname(planFile), `termination-${attempt}.json`)], {
    env: { ...process.env, BIJ_EXECUTION_PROVIDER: ep }, encoding: 'utf8', maxBuffer: 64 << 20,
  });
  const seconds = (performance.now() - t0) / 1000;
  let provider = '?';
  for (const line of child.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const rec = JSON.parse(line) as { msg?: string; provider?: string; fallback?: string; err?: unknown; level?: number };
    if (rec.msg === 'model loaded') {
      provider = rec.provider ?? '?';
      console.log(`  worker attempt ${attempt} (${ep}): model loaded on ${provider}${rec.fallback ? ` (fallback: ${rec.fallback})` : ''}`);
    }
    if ((rec.level ?? 0) >= 50) console.log(`  worker attempt ${attempt} (${ep}): ${rec.msg} ${JSON.stringify(rec.err ?? '')}`);
  }
  if (child.status !== 0) {
    throw new Error(`worker attempt ${attempt} (${ep}) exited ${child.status}: ${child.stderr.slice(-2000)}${child.stdout.slice(-2000)}`);
  }
  const storage = openStorage();
  const manifest = ShardManifestSchema.parse(JSON.parse(await storage.readText(shardManifestUri(output, runId, 0, attempt))));
  const scores = new Map<bigint, number>();
  for (const f of manifest.files) {
    const bytes = await storage.read(joinUri(attemptPrefix(output, runId, 0, attempt), f.path));
    const table = arrow.tableFromIPC(pw.readParquet(bytes).intoIPCStream());
    const ids = table.getChild('id');
    const s = table.getChild('score');
    if (!ids || !s) throw new Error(`${f.path}: no id or score column`);
    for (let i = 0; i < table.numRows; i++) scores.set(ids.get(i) as bigint, Number(s.get(i)));
  }
  return { provider: manifest.executionProvider || provider, seconds, scores };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' }, model: { type: 'string' }, 'ref-model': { type: 'string' }, out: { type: 'string' },
      ep: { type: 'string', default: 'cuda' }, 'ref-ep': { type: 'string', default: 'cpu' },
      tolerance: { type: 'string', default: '1e-3' }, label: { type: 'string', default: 'job' },
    },
  });
  if (!values.data || !values.model || !values.out) throw new Error('--data, --model and --out are required');
  const meta = JSON.parse(readFileSync(join(values.data, 'meta.json'), 'utf8')) as BenchDataMeta;
  const tolerance = Number(values.tolerance);
  const out = resolve(values.out, values.label);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const a = await planFor(values.data, values.model, out, meta.features, 'a');
  const b = values['ref-model'] ? await planFor(values.data, values['ref-model'], out, meta.features, 'b') : a;
  const local = (uri: string) => fileURLToPath(uri.startsWith('file:') ? uri : `file://${uri}`);
  const left = await score(local(a.plan), a.output, 0, values.ep);
  const right = await score(local(b.plan), b.output, 1, values['ref-ep']);
  let max = 0;
  let sum = 0;
  let over = 0;
  let missing = 0;
  let nan = 0;
  for (const [id, v] of left.scores) {
    const r = right.scores.get(id);
    if (r === undefined) { missing++; continue; }
    if (Number.isNaN(v) || Number.isNaN(r)) { nan++; continue; }
    const d = Math.abs(v - r);
    sum += d;
    if (d > max) max = d;
    if (d > tolerance) over++;
  }
  missing += Math.max(0, right.scores.size - left.scores.size);
  const n = left.scores.size;
  const ok = n === meta.rows && right.scores.size === meta.rows && missing === 0 && nan === 0 && over === 0;
  console.log(`compare ${values.label}: ${n} rows scored on ${left.provider} (${left.seconds.toFixed(1)} s, worker process) vs ${right.scores.size} on ${right.provider} `
    + `(${right.seconds.toFixed(1)} s): max |diff| ${max.toExponential(2)}, mean ${(sum / Math.max(1, n)).toExponential(2)}, over ${tolerance}: ${over}, `
    + `missing ${missing}, NaN ${nan} -> ${ok ? 'AGREE' : 'DISAGREE'}`);
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(err);
  process.exit(2);
});
