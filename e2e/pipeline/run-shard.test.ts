import { mkdtempSync, mkdirSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../core/src/storage/index.js';
import { runShard } from '../../worker/src/pipeline/run-shard.js';
import { batchRows } from '../../worker/src/pipeline/shard-sizing.js';
import { runCommitted } from '../../worker/src/pipeline/late-attempt.js';
import { planRun, freezePlan } from '../../operator/src/planner/plan-run.js';
import { BatchInferenceJobSpecSchema, type BatchInferenceJobSpecInput } from '../../core/src/contract/job-spec.js';
import { BadInputError, ProgressSchema, attemptPrefix, mergeOutputStats, shardManifestUri, type Progress, type ShardPlan } from '../../core/src/contract/index.js';
import { writeDataset, writeModel, readScores, isBadRow, referenceScore, scoreProblems, scorableRows, Duck, sqlString } from '../../core/testing/fixtures.js';
import { rewriteWithParquetWasm, withFooterQuirks } from '../../worker/src/reader/testdata-gen.js';

const storage = openStorage();
let root: string;
let modelPath: string;
const job = { namespace: 'ns', name: 'j', uid: 'uid-1', generation: 1 };

function spec(over: Partial<BatchInferenceJobSpecInput> = {}, out = 'out'): BatchInferenceJobSpecInput {
  return {
    model: { uri: modelPath, version: 'v1', inputs: { X: { columns: ['f0', 'f1', 'f2', 'f3'] } }, outputs: { probs: { column: 'churn_score', select: 1 } } },
    input: { uri: join(root, 'in') + '/', idColumn: 'id', passthroughColumns: ['region'] },
    output: { uri: join(root, out) + '/' },
    shards: 3,
    batchSize: 700,
    maxFailedRows: 1000,
    worker: { executionProvider: 'cpu' },
    ...over,
  };
}

async function plan(s: BatchInferenceJobSpecInput, runId = 'r1'): Promise<ShardPlan> {
  return freezePlan(storage, await planRun(storage, job, BatchInferenceJobSpecSchema.parse(s), runId, new Date()));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'bij-shard-'));
  modelPath = writeModel(join(root, 'models'));
  await writeDataset(join(root, 'in'), { files: 3, rowsPerFile: 4000, rowGroupRows: 1000, badEvery: 97 });
}, 60_000);

describe('runShard', () => {
  test('scores every row of every shard once, with values matching an independent reference', async () => {
    const p = await plan(spec());
    expect(p.shards).toHaveLength(3);
    const manifests = [];
    for (const s of p.shards) manifests.push((await runShard({ storage, plan: p, shard: s.index, attempt: 0, writerToken: 'w1' })).manifest);

    const scores = await readScores(join(root, 'out', '_bij', 'r1', 'shards', '*', 'a0', 'part-*.parquet'));
    expect(scoreProblems(scores, 12_000, 97)).toEqual([]);
    expect([...scores.entries()].every(([id, r]) => r.region === `r${id % 3}`)).toBe(true);
    const bad = 12_000 - scorableRows(12_000, 97);
    const read = manifests.reduce((n, m) => n + m.rows.read, 0);
    const failed = manifests.reduce((n, m) => n + m.rows.failed, 0);
    expect(read).toBe(12_000);
    expect(failed).toBe(bad);
    expect(manifests.every((m) => m.executionProvider === 'cpu' && m.model.sha256.length === 64)).toBe(true);
    // Each manifest's statistics cover exactly what it scored, in the same bins; merged, they are the
    // written scores' (min and max are float32 values, read back exactly).
    expect(manifests.map((m) => m.outputs?.churn_score.count)).toEqual(manifests.map((m) => m.rows.scored));
    const merged = mergeOutputStats(manifests.map((m) => m.outputs!)).churn_score;
    const written = [...scores.values()].map((r) => r.score);
    expect([merged.count, merged.min, merged.max]).toEqual([written.length, Math.min(...written), Math.max(...written)]);
    expect(merged.mean!).toBeCloseTo(written.reduce((a, b) => a + b, 0) / written.length, 12);

    // Bad rows land in errors files with their id and the reason.
    const duck = await Duck.open();
    try {
      const errs = await duck.all(`SELECT id, reason FROM read_parquet(${sqlString(join(root, 'out', '_bij', 'r1', 'shards', '*', 'a0', 'errors-*.parquet'))}) ORDER BY id`);
      expect(errs.map((r) => Number(r.id))).toEqual(Array.from({ length: 12_000 }, (_, i) => i).filter((i) => isBadRow(i, 97)));
      expect(String(errs[0].reason)).toMatch(/null in column f2/);
      const kv = await duck.all(`SELECT DISTINCT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${sqlString(join(root, 'out', '_bij', 'r1', 'shards', '00000', 'a0', 'part-*.parquet'))}) WHERE decode(key) LIKE 'bij.%'`);
      const meta = Object.fromEntries(kv.map((r) => [r.k, r.v]));
      expect(meta).toMatchObject({ 'bij.run_id': 'r1', 'bij.model_version': 'v1', 'bij.shard': '0', 'bij.attempt': '0' });
    } finally {
      duck.close();
    }
  }, 60_000);

  test('with several decoder threads: every row once, reference values, the same output order', async () => {
    const p = await plan(spec(), 'r-dec');
    const one = await runShard({ storage, plan: p, shard: 1, attempt: 0, writerToken: 'd1', decoders: 1 });
    const three = await runShard({ storage, plan: p, shard: 1, attempt: 1, writerToken: 'd3', decoders: 3 });
    expect(three.manifest.rows).toEqual(one.manifest.rows);
    expect(three.manifest.outputs).toEqual(one.manifest.outputs); // the same figures, to the bit
    const ids = async (attempt: number) => {
      const duck = await Duck.open();
      try {
        const rows = await duck.all(`SELECT id FROM read_parquet(${sqlString(join(root, 'out', '_bij', 'r-dec', 'shards', '00001', `a${attempt}`, 'part-*.parquet'))})`);
        return rows.map((r) => Number(r.id));
      } finally {
        duck.close();
      }
    };
    const [a0, a1] = [await ids(0), await ids(1)];
    expect(a1).toEqual(a0); // written in plan order, whatever thread decoded the row group
    expect(new Set(a1).size).toBe(a1.length);
    const scores = await readScores(join(root, 'out', '_bij', 'r-dec', 'shards', '00001', 'a1', 'part-*.parquet'));
    expect(scores.size).toBe(three.manifest.rows.scored);
    expect([...scores].filter(([id, r]) => r.count !== 1 || Math.abs(r.score - referenceScore(id)) > 1e-5)).toEqual([]);
  }, 60_000);

  test('the manifest lists exactly the files the attempt wrote, with sizes and checksums', async () => {
    const p = await plan(spec({}, 'out2'), 'r2');
    const { manifest } = await runShard({ storage, plan: p, shard: 1, attempt: 2, writerToken: 'abcd' });
    const dir = attemptPrefix(p.spec.output.uri, 'r2', 1, 2);
    const onDisk = readdirSync(dir).filter((f) => f.endsWith('.parquet')).sort();
    expect(manifest.files.map((f) => f.path).sort()).toEqual(onDisk);
    for (const f of manifest.files) {
      const info = await storage.stat(join(dir, f.path));
      expect(info.size).toBe(f.bytes);
      expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(manifest.rows.read).toBe(p.shards[1].rows);
    expect(Object.keys(manifest.timings)).toEqual(expect.arrayContaining(['read', 'decode', 'pack', 'infer', 'write', 'total']));
  }, 60_000);
});

describe('batchSize: auto', () => {
  // The decoded batches of this dataset (6 columns read: id, region, f0..f3) bound the size tried.
  const { autoMax } = batchRows('auto', 6, false);

  test('every row scored once with reference values; each shard records a size within bounds', async () => {
    const p = await plan(spec({ batchSize: 'auto' }), 'r-auto');
    expect(p.spec.batchSize).toBe('auto');
    const manifests = [];
    for (const s of p.shards) manifests.push((await runShard({ storage, plan: p, shard: s.index, attempt: 0, writerToken: 'a1' })).manifest);
    const scores = await readScores(join(root, 'out', '_bij', 'r-auto', 'shards', '*', 'a0', 'part-*.parquet'));
    expect(scoreProblems(scores, 12_000, 97)).toEqual([]);
    expect(manifests.reduce((n, m) => n + m.rows.read, 0)).toBe(12_000);
    expect(autoMax).toBeGreaterThanOrEqual(4096);
    for (const m of manifests) {
      expect(m.batchSize).toEqual({ chosen: expect.any(Number), auto: true });
      expect(m.batchSize!.chosen).toBeGreaterThanOrEqual(1);
      expect(m.batchSize!.chosen).toBeLessThanOrEqual(autoMax as number);
      // A power of two from the start size: the policy only doubles (and halves on out of memory).
      expect(Math.log2(m.batchSize!.chosen / 32) % 1).toBe(0);
    }
  }, 60_000);

  test('a model with a fixed batch dimension runs exactly that, untuned; every row once', async () => {
    const fixed = writeModel(join(root, 'models'), 'fixed16.onnx', 16);
    const p = await plan(spec({ batchSize: 'auto', model: { ...spec().model, uri: fixed } }), 'r-auto-fixed');
    const manifests = [];
    for (const s of p.shards) manifests.push((await runShard({ storage, plan: p, shard: s.index, attempt: 0, writerToken: 'f1' })).manifest);
    expect(manifests.map((m) => m.batchSize)).toEqual([0, 1, 2].map(() => ({ chosen: 16, auto: true })));
    const scores = await readScores(join(root, 'out', '_bij', 'r-auto-fixed', 'shards', '*', 'a0', 'part-*.parquet'));
    expect(scoreProblems(scores, 12_000, 97)).toEqual([]);
  }, 60_000);

  test('a fixed batchSize is recorded as it is, and a fixed batch dimension over it', async () => {
    const p = await plan(spec(), 'r-fixed-size');
    expect((await runShard({ storage, plan: p, shard: 0, attempt: 0, writerToken: 's1' })).manifest.batchSize).toEqual({ chosen: 700, auto: false });
    const fixed = writeModel(join(root, 'models'), 'fixed8.onnx', 8);
    const q = await plan(spec({ model: { ...spec().model, uri: fixed } }), 'r-fixed-dim');
    expect((await runShard({ storage, plan: q, shard: 0, attempt: 0, writerToken: 's2' })).manifest.batchSize).toEqual({ chosen: 8, auto: false });
  }, 60_000);

  test.each<[number | 'auto', number, boolean, { decode: number; autoMax?: number }]>([
    [700, 6, false, { decode: 65536 }],
    ['auto', 6, false, { decode: 65536, autoMax: 65536 }],
    ['auto', 1024, false, { decode: 4096, autoMax: 4096 }],
    ['auto', 6, true, { decode: 4096, autoMax: 4096 }],
    [100, 6, true, { decode: 100 }],
  ])('batchRows(%p, %i columns, list input %p)', (batchSize, columns, list, expected) => {
    expect(batchRows(batchSize, columns, list)).toEqual(expected);
  });
});

describe('files as other writers leave them are scored exactly', () => {
  // Footers with dictionary_page_offset 0 and num_rows 0 (testdata-gen FOOTER_QUIRKS), over the
  // same rows written by DuckDB and by parquet-wasm.
  test.each(['DuckDB', 'parquet-wasm'])('%s', async (writer) => {
    const dir = join(root, `in-quirks-${writer}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 3; f++) {
      const src = join(root, 'in', `part-${f}.parquet`);
      const written = join(root, `part-${f}-${writer}.parquet`);
      if (writer === 'parquet-wasm') await rewriteWithParquetWasm(storage, src, written, { rowGroupRows: 1000, dictionaryColumns: ['region'] });
      await withFooterQuirks(writer === 'parquet-wasm' ? written : src, join(dir, `part-${f}.parquet`));
    }
    const out = `out-quirks-${writer}`;
    const p = await plan({ ...spec({}, out), input: { uri: dir + '/', idColumn: 'id', passthroughColumns: ['region'] } }, 'rq');
    expect(p.totalRows).toBe(12_000);
    for (const s of p.shards) await runShard({ storage, plan: p, shard: s.index, attempt: 0, writerToken: 'q' });
    const scores = await readScores(join(root, out, '_bij', 'rq', 'shards', '*', 'a0', 'part-*.parquet'));
    expect(scoreProblems(scores, 12_000, 97)).toEqual([]);
  }, 60_000);
});

describe('bad input fails fast, names the culprit, and leaves no manifest', () => {
  // Each is refused at planning, before any pod starts. The worker refuses them too, should the model
  // or the spec change after planning: here the shard runs the plan of the good spec with the bad spec
  // in it, and without the model the plan froze (as a plan of an older operator), so the worker's own
  // checks of the spec are what it meets.
  const cases: [string, (s: BatchInferenceJobSpecInput) => BatchInferenceJobSpecInput, RegExp, boolean][] = [
    ['a missing model', (s) => ({ ...s, model: { ...s.model, uri: join(root, 'models', 'nope.onnx') } }), /model not found at .*nope\.onnx/, true],
    ['a model that is not ONNX', (s) => {
      const p = join(root, 'models', 'garbage.onnx');
      writeFileSync(p, 'this is not a model');
      return { ...s, model: { ...s.model, uri: p } };
    }, /garbage\.onnx.*not a valid ONNX model/, true],
    ['a model failing its sha256', (s) => ({ ...s, model: { ...s.model, sha256: 'a'.repeat(64) } }), /sha256/, true],
    ['a mapping narrower than the model input', (s) => ({ ...s, model: { ...s.model, inputs: { X: { columns: ['f0', 'f1', 'f2'] } } } }), /X.*4.*3|X.*3.*4/, true],
    ['an input name not in the model', (s) => ({ ...s, model: { ...s.model, inputs: { Z: { columns: ['f0', 'f1', 'f2', 'f3'] } } } }), /Z/, true],
    ['an output name not in the model', (s) => ({ ...s, model: { ...s.model, outputs: { nope: { column: 'x' } } } }), /nope/, true],
    ['a select past the output width', (s) => ({ ...s, model: { ...s.model, outputs: { probs: { column: 'x', select: 5 } } } }), /select/, true],
  ];
  test.each(cases)('%s', async (_name, edit, message, atPlanning) => {
    const out = `bad-${Math.random().toString(36).slice(2)}`;
    const s = edit(spec({}, out));
    const refused = await plan(s, 'rb').then(() => undefined, (e: unknown) => e);
    if (atPlanning) {
      expect(refused).toBeInstanceOf(BadInputError);
      expect((refused as Error).message).toMatch(message);
    } else {
      expect(refused).toBeUndefined();
    }
    const { model: _frozen, ...good } = await plan(spec({}, out), 'rb');
    const p = { ...good, spec: BatchInferenceJobSpecSchema.parse(s) };
    const err = await runShard({ storage, plan: p, shard: 0, attempt: 0, writerToken: 'w' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toMatch(message);
    expect(existsSync(shardManifestUri(p.spec.output.uri, 'rb', 0, 0))).toBe(false);
    const dir = attemptPrefix(p.spec.output.uri, 'rb', 0, 0);
    const leftovers = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.parquet')) : [];
    expect(leftovers).toEqual([]);
  }, 30_000);

  test('more unscorable rows than maxFailedRows stops the shard', async () => {
    const p = await plan(spec({ maxFailedRows: 2 }, 'out-maxfailed'), 'rm');
    await expect(runShard({ storage, plan: p, shard: 0, attempt: 0, writerToken: 'w' })).rejects.toThrow(/cannot be scored, more than spec.maxFailedRows \(2\).*null in column f2/);
  }, 30_000);
});

describe('planning errors', () => {
  test.each([
    ['a column that does not exist', (s: BatchInferenceJobSpecInput) => ({ ...s, model: { ...s.model, inputs: { X: { columns: ['f0', 'f1', 'f2', 'f9'] } } } }), /spec.model.inputs.X.columns\[3\]: column "f9" is not in .*part-0\.parquet/],
    ['a column that is not numeric', (s: BatchInferenceJobSpecInput) => ({ ...s, model: { ...s.model, inputs: { X: { columns: ['f0', 'f1', 'f2', 'region'] } } } }), /column "region" in .*part-0\.parquet is Utf8, not a numeric column/],
    ['a missing id column', (s: BatchInferenceJobSpecInput) => ({ ...s, input: { ...s.input, idColumn: 'customer' } }), /spec.input.idColumn: column "customer"/],
    ['an input folder without Parquet files', (s: BatchInferenceJobSpecInput) => ({ ...s, input: { ...s.input, uri: join(root, 'models') + '/' } }), /no Parquet files under .*models/],
    ['an input file that is not Parquet', (s: BatchInferenceJobSpecInput) => {
      const dir = join(root, 'corrupt');
      writeDatasetSync(dir);
      return { ...s, input: { ...s.input, uri: dir + '/' } };
    }, /corrupt.*bad\.parquet/],
  ])('%s', async (_name, edit, message) => {
    const err = await plan(edit(spec({}, 'plan-out')), 'rp').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('nested columns', () => {
  // The dataset's first file plus nested columns: a list, a struct and a map.
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'in-nested');
    mkdirSync(dir, { recursive: true });
    const duck = await Duck.open();
    try {
      await duck.run(`COPY (SELECT *, [id, id + 1] AS ids, {'k': id, 's': region} AS st, MAP {region: id} AS mp
        FROM read_parquet(${sqlString(join(root, 'in', 'part-0.parquet'))})) TO ${sqlString(join(dir, 'part-0.parquet'))} (FORMAT parquet)`);
    } finally {
      duck.close();
    }
  });

  test.each([
    ['ids', 'List<Int64>'], ['st', 'Struct<{k:Int64, s:Utf8}>'], ['mp', 'Map<'],
  ])('an id column of nested type (%s) is refused at planning, naming it and its type', async (column, type) => {
    const s = spec({}, 'plan-nested');
    const err = await plan({ ...s, input: { uri: dir + '/', idColumn: column } }, 'rn').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toContain(`spec.input.idColumn: column "${column}" in ${join(dir, 'part-0.parquet')} is ${type}`);
    expect((err as Error).message).toMatch(/not a scalar type/);
  });

  test('nested passthrough columns are copied as they are', async () => {
    const s = spec({}, 'out-nested');
    const p = await plan({ ...s, shards: 1, input: { uri: dir + '/', idColumn: 'id', passthroughColumns: ['ids', 'st', 'mp'] } }, 'rn');
    const { manifest } = await runShard({ storage, plan: p, shard: 0, attempt: 0, writerToken: 'n' });
    expect(manifest.rows).toEqual({ read: 4000, scored: scorableRows(4000, 97), failed: 4000 - scorableRows(4000, 97) });
    const duck = await Duck.open();
    try {
      const same = await duck.one(`SELECT count(*)::INTEGER AS n FROM read_parquet(${sqlString(join(root, 'out-nested', '_bij', 'rn', 'shards', '*', 'a0', 'part-*.parquet'))}) o
        JOIN read_parquet(${sqlString(join(dir, 'part-0.parquet'))}) i USING (id)
        WHERE o.ids = i.ids AND o.st = i.st AND o.mp = i.mp`);
      expect(same.n).toBe(manifest.rows.scored);
    } finally {
      duck.close();
    }
  }, 60_000);
});

function writeDatasetSync(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bad.parquet'), Buffer.from('PAR1 this is not really parquet, just garbage PAR1'));
}

describe('an attempt that outlives its run\'s commit', () => {
  const success = (runId: string) => JSON.stringify({ runId, manifest: '_manifest.json', committedAt: new Date().toISOString() });

  test('runCommitted: only a _SUCCESS naming this run counts', async () => {
    const p = await plan(spec({}, 'out-marker'), 'rm');
    const marker = join(root, 'out-marker', '_SUCCESS');
    expect(await runCommitted(storage, p)).toBe(false); // none
    writeFileSync(marker, '');
    expect(await runCommitted(storage, p)).toBe(false); // another tool's empty marker
    writeFileSync(marker, success('other-run'));
    expect(await runCommitted(storage, p)).toBe(false);
    writeFileSync(marker, success('rm'));
    expect(await runCommitted(storage, p)).toBe(true);
  });

  test('finishing after the commit, it removes everything it wrote; before it, nothing', async () => {
    const p = await plan(spec({}, 'out-late'), 'rl');
    const prefix = attemptPrefix(p.spec.output.uri, 'rl', 1, 0);
    writeFileSync(join(root, 'out-late', '_SUCCESS'), success('an-older-run'));
    const kept = await runShard({ storage, plan: p, shard: 1, attempt: 0, writerToken: 'w1' });
    expect(kept.discarded).toBeUndefined();
    expect(readdirSync(prefix).filter((f) => f.endsWith('.parquet')).length).toBeGreaterThan(0);
    expect(existsSync(shardManifestUri(p.spec.output.uri, 'rl', 1, 0))).toBe(true);

    // The commit of this run happened while attempt 1 was running (a slow duplicate).
    writeFileSync(join(root, 'out-late', '_SUCCESS'), success('rl'));
    const late = await runShard({ storage, plan: p, shard: 1, attempt: 1, writerToken: 'w2' });
    expect(late.discarded).toBe(true);
    expect(late.manifest.rows.read).toBe(p.shards[1].rows);
    const latePrefix = attemptPrefix(p.spec.output.uri, 'rl', 1, 1);
    expect(existsSync(latePrefix) ? readdirSync(latePrefix, { recursive: true }) : []).toEqual([]);
  });
});

describe('start-up', () => {
  test('the first row groups are fetched while the model is still loading', async () => {
    const p = await plan(spec({}, 'out-startup'), 'rs');
    // The model read is held until the input has been read from: a worker that loaded the model
    // before starting to read would wait here until the gate gives up, and fail.
    let inputRead!: () => void;
    const gate = new Promise<void>((resolve) => { inputRead = resolve; });
    const watched: typeof storage = Object.create(storage);
    watched.readRange = async (uri, start, end, options) => {
      if (uri.includes(`${join(root, 'in')}`)) inputRead();
      return storage.readRange(uri, start, end, options);
    };
    watched.read = async (uri) => {
      if (uri === modelPath) {
        let timer: NodeJS.Timeout | undefined;
        const giveUp = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the model was loaded before any input was read')), 10_000); });
        await Promise.race([gate, giveUp]).finally(() => clearTimeout(timer));
      }
      return storage.read(uri);
    };
    const r = await runShard({ storage: watched, plan: p, shard: 0, attempt: 0, writerToken: 'w1' });
    expect(r.manifest.rows.read).toBe(p.shards[0].rows);
  });

  test('a model that cannot load fails the shard as before, with nothing left running', async () => {
    // Planned while the model was there; gone when the shard starts.
    const planned = await plan(spec({}, 'out-nomodel'), 'rn');
    const p = { ...planned, spec: { ...planned.spec, model: { ...planned.spec.model, uri: join(root, 'models', 'missing.onnx') } } };
    await expect(runShard({ storage, plan: p, shard: 0, attempt: 0, writerToken: 'w1' })).rejects.toThrow(/model not found at .*missing\.onnx/);
    expect(existsSync(shardManifestUri(p.spec.output.uri, 'rn', 0, 0))).toBe(false);
  });
});

describe('progress', () => {
  test('progress.json carries rows done and the stage timings so far, ending at the shard\'s rows', async () => {
    const p = await plan(spec({}, 'out-progress'), 'rp');
    const seen: Progress[] = [];
    const watched: typeof storage = Object.create(storage);
    watched.write = async (uri, data, o) => {
      if (String(uri).endsWith('progress.json')) seen.push(ProgressSchema.parse(JSON.parse(String(data))));
      return storage.write(uri, data, o);
    };
    const r = await runShard({ storage: watched, plan: p, shard: 0, attempt: 0, writerToken: 'w1', progressIntervalMs: 20 });
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ shard: 0, attempt: 0, rowsDone: p.shards[0].rows, rowsTotal: p.shards[0].rows });
    expect(last.timings!.total).toBeGreaterThan(0);
    expect(last.timings!.total).toBeLessThanOrEqual(r.manifest.timings.total);
    expect(last.timings!.infer).toBeGreaterThan(0);
  });
});
