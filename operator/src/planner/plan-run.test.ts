/**
 * Planning refuses what cannot run before any pod starts: the planner reads the model's graph inputs
 * and outputs (model-info.ts, no onnxruntime) and checks the mapping against the model and every
 * file's columns with the worker's own rules (tensors/scoring-plan.ts, type-rules.ts).
 */
import * as A from 'apache-arrow';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, linearModel } from '../../../core/src/modelgen/index.js';
import { Duck, sqlString } from '../../../core/testing/duck.js';
import { openStorage } from '../../../core/src/storage/index.js';
import type { Storage } from '../../../core/src/storage/types.js';
import type { ModelMeta, ValueMeta } from '../../../core/src/tensors/types.js';
import { BatchInferenceJobSpecSchema, type BatchInferenceJobSpec, type BatchInferenceJobSpecInput } from '../../../core/src/contract/job-spec.js';
import { BadInputError } from '../../../core/src/contract/index.js';
import { columnProblems, mappingProblems, planRun } from './plan-run.js';

const FILE = 's3://lake/part-0.parquet';
const tensor = (name: string, type: string, dims: (number | string)[]): ValueMeta => ({ name, isTensor: true, type, dims });
const footer = (cols: Record<string, A.DataType>) => ({
  uri: FILE,
  columns: Object.entries(cols).map(([name, t]) => ({ name, type: String(t), nullable: true, arrowType: t })),
});
const specOf = (model: BatchInferenceJobSpecInput['model']): BatchInferenceJobSpec => BatchInferenceJobSpecSchema.parse({
  model, input: { uri: 's3://lake/', idColumn: 'id' }, output: { uri: 's3://out/' },
});

describe('mappingProblems: the spec against the model and one file, as the worker would check it', () => {
  const cols = footer({
    id: new A.Int64(), f: new A.Float32(), d: new A.Float64(), n: new A.Int64(), u: new A.Uint64(), small: new A.Int8(),
    price: new A.Decimal(4, 12, 128), emb: new A.FixedSizeList(3, new A.Field('item', new A.Float32(), true)), s: new A.Utf8(),
  });
  const out = { Y: { column: 'y' } };
  const Y = [tensor('Y', 'float32', ['batch', 1])];
  const cases: Array<[string, BatchInferenceJobSpecInput['model']['inputs'], ValueMeta[], ValueMeta[], string[]]> = [
    ['integer columns of any width and sign into int64', { X: { columns: ['n', 'u', 'small'] } }, [tensor('X', 'int64', ['batch', 3])], Y, []],
    ['floats and decimals into a float16 input', { X: { columns: ['f', 'd', 'price'] } }, [tensor('X', 'float16', ['batch', 3])], [tensor('Y', 'float16', ['batch', 1])], []],
    ['a float column into an int64 input', { X: { columns: ['n', 'd'] } }, [tensor('X', 'int64', ['batch', 2])], Y, [
      `spec.model.inputs.X.columns[1]: column "d" in ${FILE} is Float64, but model input 'X' takes int64: the fractions would be cut off `
      + '(1.9 -> 1, -1.9 -> -1). Cast the column to an integer type in the data (e.g. CAST(d AS BIGINT)) if it holds whole numbers, or export the model with a float input']],
    ['a decimal column into an int32 input', { X: { columns: ['price'] } }, [tensor('X', 'int32', ['batch', 1])], Y, [
      `spec.model.inputs.X.columns[0]: column "price" in ${FILE} is DECIMAL(12,4), but model input 'X' takes int32: the fractions would be cut off `
      + '(1.9 -> 1, -1.9 -> -1). Cast the column to an integer type in the data (e.g. CAST(price AS BIGINT)) if it holds whole numbers, or export the model with a float input']],
    ['an input name the model lacks, and its real input unmapped', { Z: { columns: ['f'] } }, [tensor('X', 'float32', ['batch', 1])], Y, [
      "spec.model.inputs names 'Z', which is not an input of the model (model inputs: X (float32 [batch, 1]))",
      "model input 'X' is not mapped: add it to spec.model.inputs with columns or column (model inputs: X (float32 [batch, 1]))"]],
    ['an unsupported input element type', { X: { columns: ['f'] } }, [tensor('X', 'string', ['batch', 1])], Y, [
      "model input 'X' has element type string; supported input types are float32, float64, float16, int64, int32, int16, int8, uint64, uint32, uint16, uint8"]],
    ['an unsupported output element type', { X: { columns: ['f'] } }, [tensor('X', 'float32', ['batch', 1])], [tensor('Y', 'bool', ['batch'])], [
      "model output 'Y' has element type bool; supported output types are float32, float64, float16, int64, int32, int16, int8, uint64, uint32, uint16, uint8"]],
    ['column count against a fixed last dim', { X: { columns: ['f', 'd'] } }, [tensor('X', 'float32', ['batch', 4])], Y, [
      "model input 'X' takes 4 values per row (shape [batch, 4]), but spec.model.inputs.X gives 2 (columns f, d)"]],
    ['a fixed-size list against a fixed last dim', { X: { column: 'emb' } }, [tensor('X', 'float32', ['batch', 4])], Y, [
      "model input 'X' takes 4 values per row (shape [batch, 4]), but spec.model.inputs.X gives 3 (column 'emb' is FixedSizeList[3]<Float32>)"]],
    ['a missing and a non-numeric column', { X: { columns: ['nope', 's'] } }, [tensor('X', 'float32', ['batch', 2])], Y, [
      `spec.model.inputs.X.columns[0]: column "nope" is not in ${FILE} (it has: id, f, d, n, u, small, price, emb, s)`,
      `spec.model.inputs.X.columns[1]: column "s" in ${FILE} is Utf8, not a numeric column`]],
  ];
  test.each(cases)('%s', (_name, inputs, modelInputs, modelOutputs, expected) => {
    const model: ModelMeta = { inputs: modelInputs, outputs: modelOutputs };
    expect(mappingProblems(specOf({ uri: 's3://m/model.onnx', inputs, outputs: out }), cols, model)).toEqual(expected);
  });

  test('columnProblems: id and passthrough columns, named by field and file', () => {
    const spec = BatchInferenceJobSpecSchema.parse({
      model: { uri: 's3://m/model.onnx', inputs: { X: { columns: ['f'] } }, outputs: out },
      input: { uri: 's3://lake/', idColumn: 'key', passthroughColumns: ['region'] }, output: { uri: 's3://out/' },
    });
    expect(columnProblems(spec, footer({ id: new A.Int64(), f: new A.Float32() }))).toEqual([
      `spec.input.idColumn: column "key" is not in ${FILE} (it has: id, f)`,
      `spec.input.passthroughColumns[0]: column "region" is not in ${FILE} (it has: id, f)`,
    ]);
  });
});

describe('columnProblems: partition columns that cannot name a folder', () => {
  const specWith = (passthroughColumns: string[], partitionBy: string[]) => BatchInferenceJobSpecSchema.parse({
    model: { uri: 's3://m/model.onnx', inputs: { X: { columns: ['f'] } }, outputs: { Y: { column: 'y' } } },
    input: { uri: 's3://lake/', idColumn: 'id', passthroughColumns }, output: { uri: 's3://out/', partitionBy, addColumns: [{ name: 'day', source: 'scheduledDate' }] },
  });
  test.each<[string, A.DataType, RegExp | undefined]>([
    ['a string', new A.Utf8(), undefined],
    ['an integer', new A.Int32(), undefined],
    ['a timestamp', new A.TimestampMicrosecond('UTC'), undefined],
    ['a double', new A.Float64(), /spec\.output\.partitionBy\[0\]: column "p" in .* is .*: Float64 cannot name a partition folder/],
    ['a list', new A.List(new A.Field('item', new A.Int32())), /spec\.output\.partitionBy\[0\]: .*cannot name a partition folder/],
  ])('%s', (_n, type, problem) => {
    const problems = columnProblems(specWith(['p'], ['p', 'day']), footer({ id: new A.Int64(), f: new A.Float32(), p: type }));
    if (problem) expect(problems).toEqual([expect.stringMatching(problem)]);
    else expect(problems).toEqual([]);
  });
});

describe('planRun reads the model and refuses a mismatch before any pod starts', () => {
  const root = mkdtempSync(join(tmpdir(), 'bij-plan-'));
  const storage = openStorage();
  const job = { namespace: 'ns', name: 'j', uid: 'u', generation: 1 };
  const model = (name: string, bytes: Uint8Array) => {
    mkdirSync(join(root, 'models'), { recursive: true });
    writeFileSync(join(root, 'models', name), bytes);
    return join(root, 'models', name);
  };
  const spec = (over: Partial<BatchInferenceJobSpecInput['model']>) => BatchInferenceJobSpecSchema.parse({
    model: { uri: join(root, 'models', 'float.onnx'), inputs: { X: { columns: ['a', 'b'] } }, outputs: { Y: { column: 'y' } }, ...over },
    input: { uri: join(root, 'in') + '/', idColumn: 'id' }, output: { uri: join(root, 'out') + '/' },
  });
  const plan = (s: BatchInferenceJobSpec, st: Storage = storage) => planRun(st, job, s, 'r1', new Date());

  beforeAll(async () => {
    const duck = await Duck.open();
    try {
      mkdirSync(join(root, 'in'), { recursive: true });
      for (const f of [0, 1, 2]) {
        await duck.run(`COPY (SELECT i::BIGINT AS id, (i / 8)::DOUBLE AS a, (i % 7)::INTEGER AS b FROM range(${f * 100}, ${f * 100 + 100}) t(i))
          TO ${sqlString(join(root, 'in', `part-${f}.parquet`))} (FORMAT parquet)`);
      }
    } finally {
      duck.close();
    }
    model('float.onnx', linearModel({ features: 2, weights: [[1], [1]], bias: [0] }).bytes);
    model('int64.onnx', linearModel({ features: 2, weights: [[1], [1]], bias: [0], inputType: 'int64' }).bytes);
    model('float16.onnx', linearModel({ features: 2, weights: [[1], [1]], bias: [0], inputType: 'float16', outputType: 'float16' }).bytes);
    const g = new GraphBuilder('strings');
    g.output('Y', 'float32', ['batch', 1], g.node('Cast', [g.node('StringNormalizer', [g.input('X', 'string', ['batch', 2])])], { to: { i: 1 } }));
    model('strings.onnx', g.encode());
  });

  const refusal = async (s: BatchInferenceJobSpec) => {
    const err = await plan(s).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    return (err as Error).message;
  };

  test('a valid job plans; a float16 model is no longer refused', async () => {
    expect((await plan(spec({}))).totalRows).toBe(300);
    expect((await plan(spec({ uri: join(root, 'models', 'float16.onnx') }))).totalRows).toBe(300);
  });

  test('DOUBLE columns into an int64 model input: refused, naming the input, the column, both types and the fix', async () => {
    const message = await refusal(spec({ uri: join(root, 'models', 'int64.onnx') }));
    expect(message).toContain(`spec.model.inputs.X.columns[0]: column "a" in ${join(root, 'in', 'part-0.parquet')} is Float64, but model input 'X' takes int64: `
      + 'the fractions would be cut off (1.9 -> 1, -1.9 -> -1). Cast the column to an integer type in the data (e.g. CAST(a AS BIGINT)) if it holds '
      + 'whole numbers, or export the model with a float input');
    // One message per file (each names its file); the INTEGER column b is fine.
    expect(message.match(/column "a" in/g)).toHaveLength(3);
    expect(message).not.toContain('column "b"');
  });

  test('an id column that is BIGINT in one file and VARCHAR in another is refused, naming both files and types', async () => {
    const dir = join(root, 'in-mixed');
    mkdirSync(dir, { recursive: true });
    const duck = await Duck.open();
    try {
      await duck.run(`COPY (SELECT i::BIGINT AS id, i::DOUBLE AS a, i::INTEGER AS b FROM range(10) t(i)) TO ${sqlString(join(dir, 'a.parquet'))} (FORMAT parquet)`);
      await duck.run(`COPY (SELECT i::VARCHAR AS id, i::DOUBLE AS a, i::INTEGER AS b FROM range(10) t(i)) TO ${sqlString(join(dir, 'b.parquet'))} (FORMAT parquet)`);
    } finally {
      duck.close();
    }
    const s = BatchInferenceJobSpecSchema.parse({ ...spec({}), input: { uri: dir + '/', idColumn: 'id' } });
    expect(await refusal(s)).toBe(`spec.input.idColumn: column "id" is Int64 in ${join(dir, 'a.parquet')} but Utf8 in ${join(dir, 'b.parquet')}; `
      + 'copied columns must have one type in every input file (cast them to one type when writing the input)');
  });

  test('problems of the model alone come once, not once per file', async () => {
    const message = await refusal(spec({ inputs: { Q: { columns: ['a', 'b'] } }, outputs: { P: { column: 'p' } } }));
    expect(message).toBe("spec.model.inputs names 'Q', which is not an input of the model (model inputs: X (float32 [batch, 2])); "
      + "spec.model.outputs names 'P', which is not an output of the model (model outputs: Y (float32 [batch, 1])); "
      + "model input 'X' is not mapped: add it to spec.model.inputs with columns or column (model inputs: X (float32 [batch, 2]))");
  });

  test.each<[string, Partial<BatchInferenceJobSpecInput['model']>, RegExp]>([
    ['an unsupported element type', { uri: join(root, 'models', 'strings.onnx') }, /^model input 'X' has element type string; supported input types are float32, /],
    ['a width the model does not take', { inputs: { X: { columns: ['a'] } } }, /^model input 'X' takes 2 values per row \(shape \[batch, 2\]\), but spec\.model\.inputs\.X gives 1 \(columns a\)$/],
    ['a missing model', { uri: join(root, 'models', 'gone.onnx') }, /^model not found at .*gone\.onnx \(spec\.model\.uri\)$/],
  ])('%s', async (_name, over, message) => {
    expect(await refusal(spec(over))).toMatch(message);
  });

  test('the model is read with ranged reads (storage.read is never called), as the footers are', async () => {
    const reads: string[] = [];
    const watched: Storage = Object.create(storage);
    watched.read = async (uri) => {
      reads.push(uri);
      return storage.read(uri);
    };
    await plan(spec({}), watched);
    expect(reads).toEqual([]);
  });
});
