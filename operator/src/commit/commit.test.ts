import { mkdtempSync, readdirSync, readFileSync, existsSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../../core/src/storage/index.js';
import { BatchInferenceJobSpecSchema } from '../../../core/src/contract/job-spec.js';
import {
  attemptPrefix, shardManifestUri, planUri, readSuccessMarker, type ShardManifest, type ShardPlan,
} from '../../../core/src/contract/index.js';
import { CommitError, commitRun, readShardManifest } from './commit.js';
import { mergeManifests } from './merge.js';

const storage = openStorage();
const timings = { read: 0, decode: 0, pack: 0, infer: 0, unpack: 0, write: 0, total: 1 };

function makePlan(out: string, runId: string, shardRows: number[]): ShardPlan {
  return {
    kind: 'ShardPlan', runId, createdAt: '2026-01-01T00:00:00.000Z',
    job: { namespace: 'ns', name: 'j', uid: 'u', generation: 1 },
    spec: BatchInferenceJobSpecSchema.parse({
      model: { uri: '/m.onnx', version: 'v1', inputs: { X: { columns: ['a'] } }, outputs: { Y: { column: 'y' } } },
      input: { uri: '/in/', idColumn: 'id' }, output: { uri: out },
    }),
    totalRows: shardRows.reduce((a, b) => a + b, 0),
    files: [],
    shards: shardRows.map((rows, index) => ({ index, rows, ranges: [] })),
  };
}

function manifest(runId: string, shard: number, attempt: number, parts: number[], failed = 0): ShardManifest {
  const files: ShardManifest['files'] = parts.map((rows, i) => ({ path: `part-0000${i}-w${attempt}.parquet`, kind: 'data', rowCount: rows, bytes: 10 + i, sha256: 'x'.repeat(64) }));
  if (failed) files.push({ path: `errors-00000-w${attempt}.parquet`, kind: 'errors', rowCount: failed, bytes: 5, sha256: 'y'.repeat(64) });
  const scored = parts.reduce((a, b) => a + b, 0);
  return {
    kind: 'ShardManifest', runId, shard, attempt, files, rows: { read: scored + failed, scored, failed }, timings,
    model: { uri: '/m.onnx', version: 'v1', sha256: 'a'.repeat(64) }, executionProvider: 'cpu',
    startedAt: `2026-01-01T00:00:0${shard}.000Z`, finishedAt: `2026-01-01T00:01:0${shard}.000Z`,
  };
}

/** Writes attempt files and the shard manifest of an attempt, like a worker would. */
async function writeAttempt(plan: ShardPlan, m: ShardManifest): Promise<void> {
  const prefix = attemptPrefix(plan.spec.output.uri, plan.runId, m.shard, m.attempt);
  const files = [];
  for (const f of m.files) {
    const content = `${m.shard}/${m.attempt}/${f.path}`;
    await storage.write(join(prefix, f.path), content);
    files.push({ ...f, bytes: Buffer.byteLength(content) });
  }
  await storage.write(shardManifestUri(plan.spec.output.uri, plan.runId, m.shard, m.attempt), JSON.stringify({ ...m, files }));
}

describe('mergeManifests (pure)', () => {
  const plan = makePlan('/out/', 'r1', [30, 20]);
  test('one entry per shard, committed names deterministic, counts add up', () => {
    const { manifest: run, promotions } = mergeManifests(plan, [manifest('r1', 1, 2, [20]), manifest('r1', 0, 0, [10, 15], 5)]);
    expect(run.files.map((f) => f.path)).toEqual(['part-s00000-00000.parquet', 'part-s00000-00001.parquet', '_errors/part-s00000-00000.parquet', 'part-s00001-00000.parquet']);
    expect(run).toMatchObject({ rowCount: 45, failedRowCount: 5, inputRowCount: 50, finishedAt: '2026-01-01T00:01:01.000Z', startedAt: '2026-01-01T00:00:00.000Z' });
    expect(promotions[3]).toEqual({ from: '/out/_bij/r1/shards/00001/a2/part-00000-w2.parquet', to: '/out/part-s00001-00000.parquet', bytes: 10 });
  });
  test.each([
    ['a missing shard', [manifest('r1', 0, 0, [30])], /no shard manifest chosen for shard 1/],
    ['a shard twice', [manifest('r1', 0, 0, [30]), manifest('r1', 0, 1, [30]), manifest('r1', 1, 0, [20])], /two manifests chosen for shard 0/],
    ['another run', [manifest('r0', 0, 0, [30]), manifest('r1', 1, 0, [20])], /belongs to run r0/],
    ['a shard that read fewer rows than planned', [manifest('r1', 0, 0, [29]), manifest('r1', 1, 0, [20])], /read 29 rows but the plan has 30/],
  ])('refuses %s (a CommitError: retrying cannot help)', (_n, ms, message) => {
    expect(() => mergeManifests(plan, ms)).toThrow(message);
    expect(() => mergeManifests(plan, ms)).toThrow(CommitError);
  });
});

test('mergeManifests refuses a shard scored by another model than the plan froze, and records the frozen one', () => {
  const plan = { ...makePlan('/out/', 'r1', [30, 20]), model: { uri: '/m.onnx', sha256: 'a'.repeat(64), size: 1 } };
  expect(mergeManifests(plan, [manifest('r1', 0, 0, [30]), manifest('r1', 1, 0, [20])]).manifest.model.sha256).toBe('a'.repeat(64));
  const other = { ...plan, model: { ...plan.model, sha256: 'b'.repeat(64) } };
  expect(() => mergeManifests(other, [manifest('r1', 0, 0, [30]), manifest('r1', 1, 0, [20])]))
    .toThrow(/shard 0 attempt 0 was scored by a model with sha256 a{64}, but the run's model is b{64}/);
});

describe('commitRun', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'bij-commit-'));
  });

  async function setUp(runId = 'r1') {
    const out = join(root, 'out') + '/';
    const plan = makePlan(out, runId, [30, 20, 10]);
    await storage.write(planUri(out, runId), JSON.stringify(plan));
    await writeAttempt(plan, manifest(runId, 0, 0, [10, 20]));
    await writeAttempt(plan, manifest(runId, 0, 1, [30])); // a losing attempt of shard 0
    await writeAttempt(plan, manifest(runId, 1, 3, [20]));
    await writeAttempt(plan, manifest(runId, 2, 0, [7], 3));
    return { out, plan, chosen: [{ shard: 0, attempt: 0 }, { shard: 1, attempt: 3 }, { shard: 2, attempt: 0 }] };
  }

  const committedFiles = (out: string) => readdirSync(out).filter((f) => f.endsWith('.parquet')).sort();

  test('promotes the chosen attempts, writes the manifest then _SUCCESS, and cleans the attempts', async () => {
    const { out, plan, chosen } = await setUp();
    const m = await commitRun(storage, plan, chosen);
    expect(committedFiles(out)).toEqual(['part-s00000-00000.parquet', 'part-s00000-00001.parquet', 'part-s00001-00000.parquet', 'part-s00002-00000.parquet']);
    expect(readFileSync(join(out, 'part-s00000-00001.parquet'), 'utf8')).toBe('0/0/part-00001-w0.parquet');
    expect(readdirSync(join(out, '_errors'))).toEqual(['part-s00002-00000.parquet']);
    expect(m.rowCount).toBe(57);
    expect((await readSuccessMarker(storage, out))?.runId).toBe('r1');
    expect(existsSync(join(out, '_bij', 'r1', 'shards'))).toBe(false);
    expect(existsSync(join(out, '_bij', 'r1', 'plan.json'))).toBe(true);
  });

  test.each([1, 2, 3, 4, 5, 6, 7])('a commit that crashes after step %i and runs again gives the same result', async (crashAfter) => {
    const { out, plan, chosen } = await setUp();
    const crash = await commitRun(storage, plan, chosen, {
      afterStep: (n) => {
        if (n === crashAfter) throw new Error(`crash after step ${n}`);
      },
    }).then(() => undefined, (e: unknown) => e);
    expect(crash).toBeInstanceOf(Error);
    // Nothing looks committed unless the crash came after _SUCCESS was written (step 7).
    expect(existsSync(join(out, '_SUCCESS'))).toBe(crashAfter >= 7);
    const manifestText = crashAfter >= 6 ? readFileSync(join(out, '_manifest.json'), 'utf8') : undefined;
    const again = await commitRun(storage, plan, chosen);
    expect(committedFiles(out)).toEqual(['part-s00000-00000.parquet', 'part-s00000-00001.parquet', 'part-s00001-00000.parquet', 'part-s00002-00000.parquet']);
    expect(again.rowCount).toBe(57);
    if (manifestText) expect(readFileSync(join(out, '_manifest.json'), 'utf8')).toBe(manifestText);
    expect((await readSuccessMarker(storage, out))?.runId).toBe('r1');
    expect(existsSync(join(out, '_bij', 'r1', 'shards'))).toBe(false);
  });

  test('a chosen manifest that is gone is a CommitError; a failing read is not (it is retried)', async () => {
    const { out, plan, chosen } = await setUp();
    await storage.delete(shardManifestUri(out, 'r1', 1, 3));
    const gone = await commitRun(storage, plan, chosen).then(() => undefined, (e: unknown) => e);
    expect(gone).toBeInstanceOf(CommitError);
    expect((gone as Error).message).toMatch(/shards\/00001\/a3\/manifest.json is gone/);
    expect(existsSync(join(out, '_SUCCESS'))).toBe(false);
    const flaky = { ...storage, readText: async () => { throw new Error('ECONNRESET'); } } as typeof storage;
    const io = await readShardManifest(flaky, plan, 0, 0).then(() => undefined, (e: unknown) => e);
    expect(io).not.toBeInstanceOf(CommitError);
  });

  test.each([
    ['not JSON', () => '{"kind": "ShardManifest",', /a3\/manifest.json is not JSON/],
    ['not a manifest', () => JSON.stringify({ kind: 'ShardManifest', runId: 'r1' }), /a3\/manifest.json is not a valid shard manifest/],
    ['another attempt\'s', () => JSON.stringify(manifest('r1', 1, 2, [10])), /a3\/manifest.json describes run r1 shard 1 attempt 2/],
  ])('a chosen manifest that is %s is a CommitError naming the file, and nothing is committed', async (_n, text, message) => {
    const { out, plan, chosen } = await setUp();
    await storage.write(shardManifestUri(out, 'r1', 1, 3), text());
    const err = await commitRun(storage, plan, chosen).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CommitError);
    expect((err as Error).message).toMatch(message);
    expect(existsSync(join(out, '_SUCCESS'))).toBe(false);
  });

  test('a new run over an old committed output removes the old _SUCCESS first and the old parts it no longer has', async () => {
    const { out, plan, chosen } = await setUp('r1');
    await commitRun(storage, plan, chosen);
    mkdirSync(join(out, 'keep'), { recursive: true });
    writeFileSync(join(out, 'keep', 'other.txt'), 'not ours');
    const plan2 = makePlan(out, 'r2', [60]);
    await storage.write(planUri(out, 'r2'), JSON.stringify(plan2));
    await writeAttempt(plan2, manifest('r2', 0, 0, [60]));
    let successDuring: boolean | undefined;
    await commitRun(storage, plan2, [{ shard: 0, attempt: 0 }], {
      afterStep: (n) => {
        if (n === 4) successDuring = existsSync(join(out, '_SUCCESS'));
      },
    });
    expect(successDuring).toBe(false);
    expect(committedFiles(out)).toEqual(['part-s00000-00000.parquet']);
    expect(readFileSync(join(out, 'keep', 'other.txt'), 'utf8')).toBe('not ours');
    expect((await readSuccessMarker(storage, out))?.runId).toBe('r2');
  });

  test('never overwrites or deletes a file the plan lists as input, even through a symlink made after planning', async () => {
    const { out, plan, chosen } = await setUp();
    // The input directory is (now) the output directory, seen through a link: part-s00001-00000.parquet
    // is an input file of the plan, and part-s00009-00000.parquet (another input) looks like a stale part.
    const inputDir = join(root, 'in-link');
    symlinkSync(out, inputDir);
    writeFileSync(join(out, 'part-s00001-00000.parquet'), 'input rows');
    writeFileSync(join(out, 'part-s00009-00000.parquet'), 'more input rows');
    const withInputs: ShardPlan = { ...plan, files: ['part-s00001-00000.parquet', 'part-s00009-00000.parquet'].map((f) => ({ uri: join(inputDir, f), size: 1, rows: 1, rowGroupRows: [1] })) };
    const err = await commitRun(storage, withInputs, chosen).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CommitError);
    expect((err as Error).message).toMatch(/refusing to commit .*part-s00001-00000.parquet: it is an input file/);
    expect(readFileSync(join(out, 'part-s00001-00000.parquet'), 'utf8')).toBe('input rows');
    expect(readFileSync(join(out, 'part-s00009-00000.parquet'), 'utf8')).toBe('more input rows');
    expect(existsSync(join(out, '_SUCCESS'))).toBe(false);
  });

  test('verifies every listed file before _SUCCESS: a copy that went missing or came out short is a CommitError', async () => {
    const { out, plan, chosen } = await setUp();
    const lossy = Object.assign(Object.create(storage) as typeof storage, {
      copy: async (from: string, to: string) => (to.endsWith('part-s00001-00000.parquet') ? storage.write(to, 'cut') : storage.copy(from, to)),
    });
    const err = await commitRun(lossy, plan, chosen).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CommitError);
    expect((err as Error).message).toMatch(/part-s00001-00000.parquet holds 3 bytes, but its shard wrote \d+; the output is not complete/);
    expect(existsSync(join(out, '_SUCCESS'))).toBe(false);
    expect(existsSync(join(out, '_manifest.json'))).toBe(false);
  });

  test('the fence is checked before the output changes and before _manifest.json and _SUCCESS', async () => {
    const { out, plan, chosen } = await setUp();
    const seen: string[] = [];
    await commitRun(storage, plan, chosen, {
      fence: async () => { seen.push([existsSync(join(out, 'part-s00000-00000.parquet')), existsSync(join(out, '_manifest.json')), existsSync(join(out, '_SUCCESS'))].map(Number).join('')); },
    });
    expect(seen).toEqual(['000', '000', '100', '110']);
    const lost = await commitRun(storage, makePlan(out, 'r9', [60]), [{ shard: 0, attempt: 0 }], {
      fence: async () => { throw new Error('taken over'); },
    }).then(() => undefined, (e: unknown) => e);
    expect((lost as Error).message).toBe('taken over');
    expect((await readSuccessMarker(storage, out))?.runId).toBe('r1');
  });
});

describe('commitRun with spec.output.partitionBy', () => {
  function partitionedPlan(out: string, runId: string, shardRows: number[]): ShardPlan {
    const plan = makePlan(out, runId, shardRows);
    return { ...plan, spec: { ...plan.spec, output: { ...plan.spec.output, partitionBy: ['region'] } } };
  }
  /** A shard manifest with data files in partition folders: [region value, rows][] (null: the default partition). */
  function partitioned(runId: string, shard: number, attempt: number, parts: [string | null, number][]): ShardManifest {
    const m = manifest(runId, shard, attempt, []);
    const files: ShardManifest['files'] = parts.map(([v, rows], i) => {
      const folder = v === null ? 'region=__HIVE_DEFAULT_PARTITION__' : `region=${v.replace('/', '%2F')}`;
      return { path: `${folder}/part-0000${i}-w${attempt}.parquet`, kind: 'data', rowCount: rows, bytes: 1, sha256: 'x'.repeat(64), partition: { path: folder, values: { region: v } } };
    });
    const scored = parts.reduce((a, [, r]) => a + r, 0);
    return { ...m, files, rows: { read: scored, scored, failed: 0 } };
  }

  test('promotes into partition folders, lists partitions, and removes stale parts in partition folders', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bij-commit-part-'));
    const out = join(root, 'out') + '/';
    // An older committed run left parts in folders (one this run also writes, one it does not) and at the top.
    for (const stale of ['region=emea/part-s00000-00003.parquet', 'region=gone/part-s00007-00000.parquet', 'part-s00000-00000.parquet']) {
      mkdirSync(join(out, stale, '..'), { recursive: true });
      writeFileSync(join(out, stale), 'old');
    }
    mkdirSync(join(out, 'region=emea', 'notes'), { recursive: true });
    writeFileSync(join(out, 'region=emea', 'notes', 'readme.txt'), 'not ours');
    const plan = partitionedPlan(out, 'r5', [30, 20]);
    await storage.write(planUri(out, 'r5'), JSON.stringify(plan));
    await writeAttempt(plan, partitioned('r5', 0, 0, [['emea', 10], ['a/b', 15], [null, 5]]));
    await writeAttempt(plan, partitioned('r5', 0, 1, [['emea', 30]])); // a losing attempt
    await writeAttempt(plan, partitioned('r5', 1, 0, [['emea', 20]]));
    const m = await commitRun(storage, plan, [{ shard: 0, attempt: 0 }, { shard: 1, attempt: 0 }]);
    const all = (readdirSync(out, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).sort();
    expect(all).toEqual([
      'region=__HIVE_DEFAULT_PARTITION__/part-s00000-00000.parquet', 'region=a%2Fb/part-s00000-00000.parquet',
      'region=emea/part-s00000-00000.parquet', 'region=emea/part-s00001-00000.parquet',
    ]);
    expect(readFileSync(join(out, 'region=emea', 'notes', 'readme.txt'), 'utf8')).toBe('not ours');
    expect(m.partitionBy).toEqual(['region']);
    expect(m.partitions).toEqual([
      { path: 'region=__HIVE_DEFAULT_PARTITION__', values: { region: null }, rowCount: 5, files: ['region=__HIVE_DEFAULT_PARTITION__/part-s00000-00000.parquet'] },
      { path: 'region=a%2Fb', values: { region: 'a/b' }, rowCount: 15, files: ['region=a%2Fb/part-s00000-00000.parquet'] },
      { path: 'region=emea', values: { region: 'emea' }, rowCount: 30, files: ['region=emea/part-s00000-00000.parquet', 'region=emea/part-s00001-00000.parquet'] },
    ]);
    expect((await readSuccessMarker(storage, out))?.runId).toBe('r5');
  });

  test('the same commit under a file: URI output (keys with % and = encoded in the URI)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bij-commit-part-uri-'));
    const out = `file://${join(root, 'out')}/`;
    const plan = partitionedPlan(out, 'r6', [5]);
    await storage.write(planUri(out, 'r6'), JSON.stringify(plan));
    const m = partitioned('r6', 0, 0, [['x:y', 5]]);
    const prefix = attemptPrefix(out, 'r6', 0, 0);
    await storage.write(`${prefix}/region%3Dx%253Ay/part-00000-w0.parquet`, 'data');
    await storage.write(shardManifestUri(out, 'r6', 0, 0), JSON.stringify({ ...m, files: [{ ...m.files[0], path: 'region=x%3Ay/part-00000-w0.parquet', bytes: 4, partition: { path: 'region=x%3Ay', values: { region: 'x:y' } } }] }));
    await commitRun(storage, plan, [{ shard: 0, attempt: 0 }]);
    expect(readFileSync(join(root, 'out', 'region=x%3Ay', 'part-s00000-00000.parquet'), 'utf8')).toBe('data');
  });

  test.each([
    ['a data file without a partition', (m: ShardManifest) => ({ ...m, files: m.files.map(({ partition: _p, ...f }) => f) }), /has no partition, but spec.output.partitionBy is \[region\]/],
    ['a folder its values do not name', (m: ShardManifest) => ({ ...m, files: m.files.map((f) => ({ ...f, partition: { path: f.partition!.path, values: { region: 'other' } } })) }), /but its values name the folder region=other/],
  ])('refuses %s (CommitError)', (_n, edit, message) => {
    const plan = partitionedPlan('/out/', 'r1', [10]);
    expect(() => mergeManifests(plan, [edit(partitioned('r1', 0, 0, [['emea', 10]]))])).toThrow(message);
  });

  test('no rows: no partition folders, and a manifest that says so', () => {
    const plan = { ...partitionedPlan('/out/', 'r1', []), shards: [] };
    const { manifest: m, promotions } = mergeManifests(plan, []);
    expect(m).toMatchObject({ rowCount: 0, files: [], partitionBy: ['region'], partitions: [] });
    expect(promotions).toEqual([]);
  });
});
