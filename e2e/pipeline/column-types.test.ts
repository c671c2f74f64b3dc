/**
 * Column types end to end in the worker: files written by DuckDB, by parquet-wasm and byte by byte
 * (BYTE_ARRAY decimals), planned by the planner, scored by a generated ONNX model in onnxruntime, and
 * every value checked against DuckDB reading the same files: an engine that shares neither the
 * worker's Parquet reader nor its packing.
 */
import * as A from 'apache-arrow';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freezePlan, planRun } from '../../operator/src/planner/plan-run.js';
import { BatchInferenceJobSpecSchema, type BatchInferenceJobSpecInput } from '../../core/src/contract/job-spec.js';
import { GraphBuilder, linearModel, prng } from '../../core/src/modelgen/index.js';
import { openStorage } from '../../core/src/storage/index.js';
import { decimalVector } from '../../core/testing/tensors.js';
import { byteArrayDecimalParquet } from '../../worker/src/testing/parquet-by-hand.js';
import { Duck, sqlString } from '../../core/testing/fixtures.js';
import { encodeParquet } from '../../worker/src/writer/encode.js';
import { runShard } from '../../worker/src/pipeline/run-shard.js';

const storage = openStorage();
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'bij-types-'));
});

async function query(sql: string): Promise<Record<string, any>[]> {
  const duck = await Duck.open();
  try {
    return await duck.all(sql);
  } finally {
    duck.close();
  }
}

/** Plans and runs a one-shard job over `input` with `model`; returns the globs of its data and error parts. */
async function runJob(name: string, model: Uint8Array, input: string, m: Pick<BatchInferenceJobSpecInput['model'], 'inputs' | 'outputs'>) {
  mkdirSync(join(root, name), { recursive: true });
  const modelPath = join(root, name, 'model.onnx');
  writeFileSync(modelPath, model);
  const spec = BatchInferenceJobSpecSchema.parse({
    model: { uri: modelPath, ...m }, input: { uri: input, idColumn: 'id' }, output: { uri: join(root, name, 'out') + '/' },
    shards: 1, batchSize: 256, maxFailedRows: 1000, worker: { executionProvider: 'cpu' },
  });
  const plan = await freezePlan(storage, await planRun(storage, { namespace: 'ns', name, uid: 'u', generation: 1 }, spec, 'r1', new Date()));
  const { manifest } = await runShard({ storage, plan, shard: 0, attempt: 0, writerToken: 'w' });
  const dir = join(root, name, 'out', '_bij', 'r1', 'shards', '00000', 'a0');
  return { manifest, data: sqlString(join(dir, 'part-*.parquet')), errors: sqlString(join(dir, 'errors-*.parquet')) };
}

describe('integer columns of every width and sign into an int64 model input', () => {
  const INTS = ['i8', 'i16', 'i32', 'i64', 'u8', 'u16', 'u32', 'u64'];
  const W = [1e-2, 1e-4, 1e-6, 1e-9, 1e-2, 1e-4, 1e-9, 1e-18];

  test('go in exactly; uint64 values beyond int64 are error rows naming the column, never wrapped', async () => {
    const file = join(root, 'ints.parquet');
    await query(`COPY (SELECT i::BIGINT AS id,
        ((i % 200) - 100)::TINYINT AS i8, ((i * 37) % 60000 - 30000)::SMALLINT AS i16, (i * 7919 - 4000000)::INTEGER AS i32,
        (i * 1000003 - 5000000000)::BIGINT AS i64, (i % 256)::UTINYINT AS u8, ((i * 13) % 65536)::USMALLINT AS u16,
        (i * 65537)::UINTEGER AS u32,
        CASE WHEN i % 50 = 7 THEN 9223372036854775808::UBIGINT + i::UBIGINT WHEN i = 3 THEN 9223372036854775807::UBIGINT
             ELSE (i * 3)::UBIGINT END AS u64
      FROM range(0, 2000) t(i)) TO ${sqlString(file)} (FORMAT parquet, ROW_GROUP_SIZE 500)`);
    // echo: the int64 tensor itself; score: sigmoid(x . W), computed from it in float32.
    const g = new GraphBuilder('ints');
    const x = g.input('X', 'int64', ['batch', 8]);
    g.output('echo', 'int64', ['batch', 8], x);
    const logit = g.node('MatMul', [g.node('Cast', [x], { to: { i: 1 } }), g.init('W', 'float32', [8, 1], W)]);
    g.output('score', 'float32', ['batch', 1], g.node('Sigmoid', [logit]));
    const run = await runJob('ints', g.encode(), file, { inputs: { X: { columns: INTS } }, outputs: { echo: { column: 'echo' }, score: { column: 'score' } } });

    const expected = await query(`SELECT id, ${INTS.map((c) => `${c}::VARCHAR AS ${c}`).join(', ')},
        1 / (1 + exp(-(${INTS.map((c, j) => `${c}::DOUBLE * ${W[j]}`).join(' + ')}))) AS score
      FROM ${sqlString(file)} WHERE u64 <= 9223372036854775807 ORDER BY id`);
    const got = await query(`SELECT id, echo::VARCHAR[] AS echo, score FROM read_parquet(${run.data}) ORDER BY id`);
    expect(expected).toHaveLength(2000 - 40);
    expect(got.map((r) => Number(r.id))).toEqual(expected.map((r) => Number(r.id)));
    const mismatches = got.filter((r, k) => JSON.stringify(r.echo) !== JSON.stringify(INTS.map((c) => expected[k][c]))
      || Math.abs(r.score - expected[k].score) > 1e-5);
    expect(mismatches).toEqual([]);
    expect(got.find((r) => Number(r.id) === 3)!.echo[7]).toBe('9223372036854775807'); // the largest that fits

    const errors = await query(`SELECT id, reason FROM read_parquet(${run.errors}) ORDER BY id`);
    expect(errors.map((r) => Number(r.id))).toEqual(Array.from({ length: 40 }, (_, k) => 50 * k + 7));
    expect(new Set(errors.map((r) => r.reason))).toEqual(new Set(['value outside the int64 range (-9223372036854775808 to 9223372036854775807) in column u64']));
    expect(run.manifest.rows).toEqual({ read: 2000, scored: 1960, failed: 40 });
  }, 60_000);
});

describe('a float16 model over FLOAT, DOUBLE and DECIMAL columns written by DuckDB', () => {
  const COLS = ['f', 'd', 'd9', 'd18', 'd38'];
  const W = [0.5, -0.25, 1, -0.75, 0.125];
  const B = 0.1;

  test('scores within float16 precision of DuckDB\'s float64 computation; out-of-range values are error rows', async () => {
    const file = join(root, 'halves.parquet');
    await query(`COPY (SELECT i::BIGINT AS id, ((i % 1000) / 37.0 - 13)::FLOAT AS f,
        CASE WHEN i = 17 THEN 100000 ELSE ((i * 0.731) % 50 - 25) END::DOUBLE AS d,
        ((i % 997) * 0.0137 - 6)::DECIMAL(9,4) AS d9, (i * 0.0011 - 1)::DECIMAL(18,6) AS d18,
        ((i % 313) * 0.031 - 4.5)::DECIMAL(38,10) AS d38
      FROM range(0, 3000) t(i)) TO ${sqlString(file)} (FORMAT parquet, ROW_GROUP_SIZE 1000)`);
    const types = await query(`SELECT name, type FROM parquet_schema(${sqlString(file)}) WHERE name LIKE 'd%' AND type IS NOT NULL`);
    expect(Object.fromEntries(types.map((r) => [r.name, r.type]))).toEqual({ d: 'DOUBLE', d9: 'INT32', d18: 'INT64', d38: 'FIXED_LEN_BYTE_ARRAY' });
    const model = linearModel({ features: 5, weights: W.map((w) => [w]), bias: [B], sigmoid: true, inputType: 'float16', outputType: 'float16' });
    const run = await runJob('halves', model.bytes, file, { inputs: { X: { columns: COLS } }, outputs: { Y: { column: 'p' } } });

    const ref = await query(`SELECT id, ${COLS.map((c) => `${c}::DOUBLE AS ${c}`).join(', ')} FROM ${sqlString(file)} WHERE id <> 17 ORDER BY id`);
    const got = await query(`SELECT id, p, typeof(p) AS t FROM read_parquet(${run.data}) ORDER BY id`);
    expect(got.map((r) => Number(r.id))).toEqual(ref.map((r) => Number(r.id)));
    expect(new Set(got.map((r) => r.t))).toEqual(new Set(['FLOAT']));
    const worst = ref.reduce((acc, r, k) => {
      const x = COLS.map((c) => r[c] as number);
      const z = x.reduce((s, v, j) => s + v * W[j], B);
      const expected = 1 / (1 + Math.exp(-z));
      // float16 keeps 11 significant bits: each input is off by at most 2^-11 of itself, the sigmoid's
      // slope is at most 1/4, and the output is rounded to float16 once more.
      const bound = 0.25 * x.reduce((s, v, j) => s + Math.abs(v * W[j]), 0) * 2 ** -11 + expected * 2 ** -11 + 1e-6;
      return Math.max(acc, Math.abs(got[k].p - expected) / bound);
    }, 0);
    expect(worst).toBeLessThanOrEqual(1);
    expect(worst).toBeGreaterThan(0.05); // float16, not float32: the error is of the bound's size
    const errors = await query(`SELECT id, reason FROM read_parquet(${run.errors})`);
    expect(errors.map((r) => [Number(r.id), r.reason])).toEqual([[17, 'value beyond the float16 range (±65504) in column d']]);
  }, 60_000);
});

describe('DECIMAL columns of every physical encoding into float inputs: the nearest value', () => {
  /** DECIMAL(precision, scale) columns, stored by DuckDB as INT32, INT32, INT64 and FIXED_LEN_BYTE_ARRAY. */
  const DECIMALS: Array<[string, number, number]> = [['d4', 4, 2], ['d9', 9, 4], ['d18', 18, 6], ['d38', 38, 10]];
  const ROWS = 300;
  const rand = prng(17);
  const randomUnscaled = (digits: number): bigint => {
    const r = rand();
    if (r < 0.03) return 10n ** BigInt(digits) - 1n; // the largest
    if (r < 0.06) return -(10n ** BigInt(digits) - 1n);
    let s = '';
    for (let i = 0, n = 1 + Math.floor(rand() * digits); i < n; i++) s += Math.floor(rand() * 10);
    return (rand() < 0.5 ? -1n : 1n) * BigInt(s);
  };
  /** Three files' worth of rows: unscaled values per column, some null. */
  const rows = (base: number) => Array.from({ length: ROWS }, (_, i) => ({
    id: BigInt(base + i),
    values: DECIMALS.map(([, p]) => ((base + i) % 41 === 5 ? null : randomUnscaled(p))),
  }));
  const literal = (u: bigint, p: number, s: number) => {
    const neg = u < 0n;
    const digits = (neg ? -u : u).toString().padStart(s + 1, '0');
    return `CAST('${neg ? '-' : ''}${digits.slice(0, digits.length - s)}.${digits.slice(digits.length - s)}' AS DECIMAL(${p},${s}))`;
  };

  test('DuckDB, parquet-wasm and hand-written BYTE_ARRAY files: float64 and float32 inputs get the nearest value', async () => {
    const dir = join(root, 'decimals-in');
    mkdirSync(dir, { recursive: true });
    // DuckDB: INT32, INT32, INT64, FIXED_LEN_BYTE_ARRAY(16).
    const duckRows = rows(0);
    await query(`COPY (SELECT * FROM (VALUES ${duckRows.map((r) => `(${r.id}::BIGINT, ${r.values.map((u, j) => (u === null ? `NULL::DECIMAL(${DECIMALS[j][1]},${DECIMALS[j][2]})` : literal(u, DECIMALS[j][1], DECIMALS[j][2]))).join(', ')})`).join(',\n')})
      AS t(id, ${DECIMALS.map(([c]) => c).join(', ')})) TO ${sqlString(join(dir, 'duckdb.parquet'))} (FORMAT parquet)`);
    // parquet-wasm (arrow-rs): INT32, INT32, INT64, FIXED_LEN_BYTE_ARRAY(16).
    const wasmRows = rows(1000);
    writeFileSync(join(dir, 'parquet-wasm.parquet'), encodeParquet(new A.Table({
      id: A.vectorFromArray(wasmRows.map((r) => r.id), new A.Int64()),
      ...Object.fromEntries(DECIMALS.map(([c, p, s], j) => [c, decimalVector(wasmRows.map((r) => r.values[j]), p, s)])),
    })));
    // By hand: BYTE_ARRAY.
    const handRows = rows(2000);
    writeFileSync(join(dir, 'byte-array.parquet'), byteArrayDecimalParquet(handRows.map((r) => r.id),
      DECIMALS.map(([name, precision, scale], j) => ({ name, precision, scale, values: handRows.map((r) => r.values[j]) }))));

    const physical = await query(`SELECT regexp_extract(file_name, '[^/]*$') AS file, name, type FROM parquet_schema(${sqlString(join(dir, '*.parquet'))})
      WHERE name LIKE 'd%' AND type IS NOT NULL ORDER BY file, name`);
    expect(physical.map((r) => `${r.file} ${r.name} ${r.type}`)).toEqual([
      ...['d18 BYTE_ARRAY', 'd38 BYTE_ARRAY', 'd4 BYTE_ARRAY', 'd9 BYTE_ARRAY'].map((s) => `byte-array.parquet ${s}`),
      ...['d18 INT64', 'd38 FIXED_LEN_BYTE_ARRAY', 'd4 INT32', 'd9 INT32'].map((s) => `duckdb.parquet ${s}`),
      ...['d18 INT64', 'd38 FIXED_LEN_BYTE_ARRAY', 'd4 INT32', 'd9 INT32'].map((s) => `parquet-wasm.parquet ${s}`),
    ]);

    // The reference: each decimal's text as DuckDB reads it, parsed by JS (correctly rounded to a double).
    const ref = await query(`SELECT id, ${DECIMALS.map(([c]) => `${c}::VARCHAR AS ${c}`).join(', ')} FROM read_parquet(${sqlString(join(dir, '*.parquet'))}) ORDER BY id`);
    expect(ref).toHaveLength(3 * ROWS);
    const complete = ref.filter((r) => DECIMALS.every(([c]) => r[c] !== null));
    const columns = DECIMALS.map(([c]) => c);
    for (const type of ['float64', 'float32'] as const) {
      const g = new GraphBuilder('identity');
      g.output('Y', type, ['batch', 4], g.input('X', type, ['batch', 4]));
      const run = await runJob(`decimals-${type}`, g.encode(), dir + '/', { inputs: { X: { columns } }, outputs: { Y: { column: 'y' } } });
      const got = await query(`SELECT id, y::DOUBLE[] AS y FROM read_parquet(${run.data}) ORDER BY id`);
      const round = type === 'float64' ? (v: number) => v : Math.fround;
      expect(got.map((r) => Number(r.id))).toEqual(complete.map((r) => Number(r.id)));
      const wrong = got.filter((r, k) => JSON.stringify(r.y) !== JSON.stringify(columns.map((c) => round(Number(complete[k][c])))));
      expect(wrong).toEqual([]);
      const errors = await query(`SELECT count(*)::INTEGER AS n, min(reason) AS reason FROM read_parquet(${run.errors})`);
      expect(errors[0]).toEqual({ n: 3 * ROWS - complete.length, reason: 'null in column d4' });
    }
  }, 60_000);
});

describe('parquet-wasm files: Float16 and UINT_64 columns', () => {
  test('a Float16 column into a float32 input exactly, and uint64 into a uint64 input exactly', async () => {
    const file = join(root, 'wasm-types.parquet');
    const halves = [0.5, -2, 65504, 0.0999755859375, -6.103515625e-5, 1024];
    const big = [0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 12345678901234567890n, 7n];
    writeFileSync(file, encodeParquet(new A.Table({
      id: A.vectorFromArray(halves.map((_, i) => BigInt(i)), new A.Int64()),
      h: A.vectorFromArray(halves, new A.Float16()),
      u: A.vectorFromArray(big, new A.Uint64()),
    })));
    const g = new GraphBuilder('echo');
    g.output('H', 'float32', ['batch', 1], g.input('X', 'float32', ['batch', 1]));
    g.output('U', 'uint64', ['batch', 1], g.input('N', 'uint64', ['batch', 1]));
    const run = await runJob('wasm-types', g.encode(), file, {
      inputs: { X: { columns: ['h'] }, N: { columns: ['u'] } }, outputs: { H: { column: 'h2' }, U: { column: 'u2' } },
    });
    const got = await query(`SELECT o.h2 = i.h::FLOAT AS same_h, o.u2 = i.u AS same_u, typeof(o.u2) AS t
      FROM read_parquet(${run.data}) o JOIN ${sqlString(file)} i USING (id) ORDER BY id`);
    expect(got).toEqual(halves.map(() => ({ same_h: true, same_u: true, t: 'UBIGINT' })));
  }, 60_000);
});
