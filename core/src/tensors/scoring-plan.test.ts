import * as A from 'apache-arrow';
import { BadInputError } from '../contract/index.js';
import { planScoring } from './scoring-plan.js';
import { f32List, meta, table, tensor } from '../../testing/tensors.js';
import type { ModelMappingLike, ModelMeta } from './types.js';

const data = table({
  id: [[1, 2], new A.Int32()],
  f0: [[1, 2], new A.Float64()],
  f1: [[1, 2], new A.Int64()],
  name: [['a', 'b'], new A.Utf8()],
  emb: [[[1, 2], [3, 4]], f32List(2)],
  vlist: [[[1, 2], [3, 4]], f32List()],
  words: [[['a'], ['b']], new A.List(new A.Field('item', new A.Utf8(), true))],
}).schema.assign(new A.Schema([new A.Field('d', new A.Decimal(4, 12, 128)), new A.Field('big', new A.Decimal(0, 18, 128))]));

const COLUMNS = 'id, f0, f1, name, emb, vlist, words, d, big';
const SUPPORTED = 'float32, float64, float16, int64, int32, int16, int8, uint64, uint32, uint16, uint8';
const X2 = tensor('X', 'float32', ['batch', 2]);
const out = { Y: { column: 'score' } };

describe('planScoring', () => {
  test('compiles a valid mapping', () => {
    const plan = planScoring(
      { inputs: { X: { columns: ['f0', 'f1'] }, E: { column: 'emb' } }, outputs: { P: { column: 'p', select: 1 }, Y: { column: 'y' } } },
      meta([X2, tensor('E', 'float16', [8, 2])], [tensor('Y', 'float32', [8]), tensor('P', 'float64', [8, 2]), tensor('Z', 'string', [8])]),
      data,
    );
    expect(plan.fixedBatch).toBe(8);
    expect(plan.inputs).toEqual([
      { name: 'X', type: 'float32', width: 2, rowDims: [2], source: { kind: 'columns', columns: ['f0', 'f1'] } },
      { name: 'E', type: 'float16', width: 2, rowDims: [2], source: { kind: 'list', column: 'emb', list: 'fixed', listSize: 2 } },
    ]);
    // Model order; unmapped outputs (even unsupported ones) are ignored.
    expect(plan.outputs.map((o) => [o.name, o.column, o.select, o.width])).toEqual([['Y', 'y', undefined, 1], ['P', 'p', 1, 1]]);
  });

  test('widths: symbolic feature dims take the data width; rank 3 and rank 1 inputs', () => {
    const plan = planScoring(
      { inputs: { A: { column: 'vlist' }, B: { columns: ['f0', 'f1'] }, C: { columns: ['f0'] }, D: { columns: ['f0', 'f1'] } }, outputs: out },
      meta([tensor('A', 'float32', ['batch', 'n']), tensor('B', 'float32', ['', 'k']), tensor('C', 'float64', ['batch']), tensor('D', 'float64', ['b', 1, 2])]),
      data,
    );
    expect(plan.inputs.map((i) => [i.width, i.rowDims])).toEqual([[undefined, undefined], [2, [2]], [1, []], [2, [1, 2]]]);
    expect(plan.fixedBatch).toBeUndefined();
  });

  const cases: Array<[string, ModelMappingLike, ModelMeta, string]> = [
    ['input not in model', { inputs: { X: { columns: ['f0', 'f1'] }, Q: { columns: ['f0'] } }, outputs: out }, meta([X2]),
      "spec.model.inputs names 'Q', which is not an input of the model (model inputs: X (float32 [batch, 2]))"],
    ['output not in model', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: { probs: { column: 'p' } } }, meta([X2], [tensor('Y', 'float32', ['batch', 1]), tensor('L', 'int64', ['batch'])]),
      "spec.model.outputs names 'probs', which is not an output of the model (model outputs: Y (float32 [batch, 1]), L (int64 [batch]))"],
    ['no outputs mapped', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: {} }, meta([X2]),
      'spec.model.outputs is empty: map at least one model output to a column (model outputs: Y (float32 [batch, 1]))'],
    ['model input unmapped', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: out }, meta([X2, tensor('E', 'float32', ['batch', 2])]),
      "model input 'E' is not mapped: add it to spec.model.inputs with columns or column (model inputs: X (float32 [batch, 2]), E (float32 [batch, 2]))"],
    ['missing column', { inputs: { X: { columns: ['f0', 'f9'] } }, outputs: out }, meta([X2]),
      `spec.model.inputs.X.columns[1]: column "f9" is not in the input data (it has: ${COLUMNS})`],
    ['missing list column', { inputs: { X: { column: 'nope' } }, outputs: out }, meta([X2]),
      `spec.model.inputs.X.column: column "nope" is not in the input data (it has: ${COLUMNS})`],
    ['non-numeric column', { inputs: { X: { columns: ['f0', 'name'] } }, outputs: out }, meta([X2]),
      'spec.model.inputs.X.columns[1]: column "name" in the input data is Utf8, not a numeric column'],
    ['scalar column as column', { inputs: { X: { column: 'f0' } }, outputs: out }, meta([X2]),
      'spec.model.inputs.X.column: column "f0" in the input data is Float64, not a list of numbers (map numeric scalar columns with columns, not column)'],
    ['list of strings', { inputs: { X: { column: 'words' } }, outputs: out }, meta([X2]),
      'spec.model.inputs.X.column: column "words" in the input data is List<Utf8>, not a list of numbers'],
    ['both columns and column', { inputs: { X: { columns: ['f0'], column: 'emb' } }, outputs: out }, meta([X2]),
      'spec.model.inputs.X: set exactly one of columns or column'],
    ['columns width', { inputs: { X: { columns: ['f0'] } }, outputs: out }, meta([X2]),
      "model input 'X' takes 2 values per row (shape [batch, 2]), but spec.model.inputs.X gives 1 (columns f0)"],
    ['rank 1 width', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: out }, meta([tensor('X', 'float32', ['batch'])]),
      "model input 'X' takes 1 value per row (shape [batch]), but spec.model.inputs.X gives 2 (columns f0, f1)"],
    ['fixed-size-list width', { inputs: { X: { column: 'emb' } }, outputs: out }, meta([tensor('X', 'float32', ['batch', 3])]),
      "model input 'X' takes 3 values per row (shape [batch, 3]), but spec.model.inputs.X gives 2 (column 'emb' is FixedSizeList[2]<Float32>)"],
    ['rank 3 width', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: out }, meta([tensor('X', 'float32', ['batch', 2, 2])]),
      "model input 'X' takes 4 values per row (shape [batch, 2, 2]), but spec.model.inputs.X gives 2 (columns f0, f1)"],
    ['rank 3 symbolic', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: out }, meta([tensor('X', 'float32', ['batch', 'a', 2])]),
      "model input 'X' has shape [batch, a, 2]; for inputs of rank > 2 only the batch dimension may be symbolic"],
    ['unsupported input type', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: out }, meta([tensor('X', 'string', ['batch', 2])]),
      `model input 'X' has element type string; supported input types are ${SUPPORTED}`],
    ['non-tensor input', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: out }, meta([{ name: 'X', isTensor: false, dims: [] }]),
      "model input 'X' is not a tensor; only tensor inputs are supported"],
    ['unsupported output type', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: { L: { column: 'label' } } }, meta([X2], [tensor('L', 'string', ['batch'])]),
      `model output 'L' has element type string; supported output types are ${SUPPORTED}`],
    ['non-tensor output', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: { P: { column: 'p' } } }, meta([X2], [{ name: 'P', isTensor: false, dims: [] }]),
      "model output 'P' is not a tensor (a sequence or map, e.g. a ZipMap); only tensor outputs can be mapped to columns"],
    ['select out of range', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: { P: { column: 'p', select: 2 } } }, meta([X2], [tensor('P', 'float32', ['batch', 2])]),
      'spec.model.outputs.P: select 2 is out of range: output \'P\' has 2 values on its last axis (shape [batch, 2])'],
    ['select on rank 1', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: { L: { column: 'l', select: 0 } } }, meta([X2], [tensor('L', 'int64', ['batch'])]),
      "spec.model.outputs.L: select needs an output with an axis after the batch, but output 'L' has shape [batch]"],
    ['duplicate output column', { inputs: { X: { columns: ['f0', 'f1'] } }, outputs: { A: { column: 's' }, B: { column: 's' } } }, meta([X2], [tensor('A', 'float32', ['batch']), tensor('B', 'float32', ['batch'])]),
      "spec.model.outputs: column 's' is used by both A and B"],
    ['a float column into an int64 input: refused, not truncated', { inputs: { X: { columns: ['f1', 'f0'] } }, outputs: out }, meta([tensor('X', 'int64', ['batch', 2])]),
      'spec.model.inputs.X.columns[1]: column "f0" in the input data is Float64, but model input \'X\' takes int64: the fractions would be cut off '
      + '(1.9 -> 1, -1.9 -> -1). Cast the column to an integer type in the data (e.g. CAST(f0 AS BIGINT)) if it holds whole numbers, or export the model with a float input'],
    ['a decimal column into an int32 input', { inputs: { X: { columns: ['d'] } }, outputs: out }, meta([tensor('X', 'int32', ['batch', 1])]),
      'spec.model.inputs.X.columns[0]: column "d" in the input data is DECIMAL(12,4), but model input \'X\' takes int32: the fractions would be cut off '
      + '(1.9 -> 1, -1.9 -> -1). Cast the column to an integer type in the data (e.g. CAST(d AS BIGINT)) if it holds whole numbers, or export the model with a float input'],
    ['a whole-number decimal into an int64 input', { inputs: { X: { columns: ['big'] } }, outputs: out }, meta([tensor('X', 'int64', ['batch', 1])]),
      'spec.model.inputs.X.columns[0]: column "big" in the input data is DECIMAL(18,0), but model input \'X\' takes int64: decimal columns feed float inputs only. '
      + 'Cast the column to an integer type in the data (e.g. CAST(big AS BIGINT)) if it holds whole numbers, or export the model with a float input'],
    ['a list of floats into an int64 input', { inputs: { X: { column: 'emb' } }, outputs: out }, meta([tensor('X', 'int64', ['batch', 2])]),
      'spec.model.inputs.X.column: column "emb" in the input data is FixedSizeList[2]<Float32>, but model input \'X\' takes int64: the fractions would be cut off '
      + '(1.9 -> 1, -1.9 -> -1). Cast the column to an integer type in the data if it holds whole numbers, or export the model with a float input'],
    ['every problem at once, not just the first', { inputs: { X: { columns: ['f0', 'name', 'f9'] }, Q: { columns: ['f0'] } }, outputs: { nope: { column: 'n' } } }, meta([tensor('X', 'uint8', ['batch', 2])]),
      "spec.model.inputs names 'Q', which is not an input of the model (model inputs: X (uint8 [batch, 2])); "
      + "spec.model.outputs names 'nope', which is not an output of the model (model outputs: Y (float32 [batch, 1])); "
      + 'spec.model.inputs.X.columns[0]: column "f0" in the input data is Float64, but model input \'X\' takes uint8: the fractions would be cut off (1.9 -> 1, -1.9 -> -1). '
      + 'Cast the column to an integer type in the data (e.g. CAST(f0 AS BIGINT)) if it holds whole numbers, or export the model with a float input; '
      + 'spec.model.inputs.X.columns[1]: column "name" in the input data is Utf8, not a numeric column; '
      + `spec.model.inputs.X.columns[2]: column "f9" is not in the input data (it has: ${COLUMNS}); `
      + "model input 'X' takes 2 values per row (shape [batch, 2]), but spec.model.inputs.X gives 3 (columns f0, name, f9)"],
    ['batch sizes disagree', { inputs: { X: { columns: ['f0', 'f1'] }, E: { column: 'emb' } }, outputs: out }, meta([tensor('X', 'float32', [4, 2]), tensor('E', 'float32', [8, 2])]),
      "the model's inputs disagree on the batch size: X (float32 [4, 2]), E (float32 [8, 2])"],
  ];

  test.each(cases)('%s', (_name, mapping, model, message) => {
    let err: unknown;
    try {
      planScoring(mapping, model, data);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toBe(message);
  });
});
