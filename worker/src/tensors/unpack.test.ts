import * as A from 'apache-arrow';
import { BadInputError } from '../../../core/src/contract/index.js';
import type { OutputPlan, ScoringPlan } from '../../../core/src/tensors/scoring-plan.js';
import type { DenseTensor } from '../../../core/src/tensors/types.js';
import { unpackOutput, unpackOutputs } from './unpack.js';

const plan = (o: Partial<OutputPlan> = {}): OutputPlan => ({ name: 'Y', column: 'y', type: 'float32', dims: [], width: undefined, ...o });
const t = (type: string, dims: number[], data: DenseTensor['data']): DenseTensor => ({ type, dims, data });
const values = (v: A.Vector) => v.toArray();
const rows = (v: A.Vector) => Array.from({ length: v.length }, (_, i) => {
  const x = v.get(i);
  return x === null ? null : typeof x === 'object' ? Array.from(x as Iterable<unknown>, Number) : Number(x);
});

describe('unpackOutput', () => {
  const scalarCases: Array<[string, DenseTensor, string, unknown[]]> = [
    ['float32 [b]', t('float32', [3], new Float32Array([1, 2, 3])), 'Float32', [1, 2, 3]],
    ['float32 [b, 1]', t('float32', [3, 1], new Float32Array([1, 2, 3])), 'Float32', [1, 2, 3]],
    ['float64 [b, 1]', t('float64', [2, 1], new Float64Array([0.1, 0.2])), 'Float64', [0.1, 0.2]],
    ['int64 [b]', t('int64', [2], new BigInt64Array([5n, -(2n ** 60n)])), 'Int64', [5n, -(2n ** 60n)]],
    ['int32 [b, 1, 1]', t('int32', [2, 1, 1], new Int32Array([7, 8])), 'Int32', [7, 8]],
    ['int16 [b]', t('int16', [2], new Int16Array([-32768, 5])), 'Int16', [-32768, 5]],
    ['int8 [b]', t('int8', [2], new Int8Array([-128, 127])), 'Int8', [-128, 127]],
    ['uint64 [b]', t('uint64', [2], new BigUint64Array([2n ** 64n - 1n, 0n])), 'Uint64', [2n ** 64n - 1n, 0n]],
    ['uint32 [b]', t('uint32', [2], new Uint32Array([2 ** 32 - 1, 1])), 'Uint32', [2 ** 32 - 1, 1]],
    ['uint16 [b]', t('uint16', [2], new Uint16Array([65535, 1])), 'Uint16', [65535, 1]],
    ['uint8 [b]', t('uint8', [2], new Uint8Array([255, 1])), 'Uint8', [255, 1]],
    // float16 outputs become float32 columns, exactly; the data may be the bits or a Float16Array.
    ['float16 [b] as bits', t('float16', [3], new Uint16Array([0x2e66, 0xc000, 0x7bff])), 'Float32', [0.0999755859375, -2, 65504]],
    ['float16 [b, 1] as Float16Array', t('float16', [2, 1], new Float16Array([1.5, -0.25]) as unknown as Uint16Array), 'Float32', [1.5, -0.25]],
  ];
  test.each(scalarCases)('%s -> scalar column', (_n, tensor, type, expected) => {
    const v = unpackOutput(tensor, plan());
    expect(String(v.type)).toBe(type);
    expect(v.nullCount).toBe(0);
    expect(Array.from(values(v) as ArrayLike<unknown>)).toEqual(expected);
  });

  test('the scalar column shares the tensor\'s buffer (no copy)', () => {
    const data = new Float32Array([1, 2]);
    expect(unpackOutput(t('float32', [2, 1], data), plan()).data[0].values).toBe(data);
  });

  const selectCases: Array<[string, DenseTensor, number, string, unknown[]]> = [
    ['[b, 2] select 1', t('float32', [3, 2], new Float32Array([0.1, 0.9, 0.2, 0.8, 0.3, 0.7])), 1, 'Float32', [0.9, 0.8, 0.7].map(Math.fround)],
    ['[b, 3] select 0 int64', t('int64', [2, 3], new BigInt64Array([1n, 2n, 3n, 4n, 5n, 6n])), 0, 'Int64', [1, 4]],
    ['[b, 2, 3] select 2', t('float64', [2, 2, 3], Float64Array.from({ length: 12 }, (_, i) => i)), 2, 'FixedSizeList[2]<Float64>', [[2, 5], [8, 11]]],
    ['float16 [b, 2] select 1', t('float16', [2, 2], new Uint16Array(new Float16Array([0.25, 0.75, 0.5, 0.125]).buffer)), 1, 'Float32', [0.75, 0.125]],
    ['uint64 [b, 2] select 0', t('uint64', [2, 2], new BigUint64Array([2n ** 63n, 1n, 2n, 3n])), 0, 'Uint64', [2 ** 63, 2]],
  ];
  test.each(selectCases)('%s', (_n, tensor, select, type, expected) => {
    const v = unpackOutput(tensor, plan({ select }));
    expect(String(v.type)).toBe(type);
    expect(rows(v)).toEqual(expected.map((x) => (typeof x === 'bigint' ? Number(x) : x)));
  });

  test('[b, k] without select -> FixedSizeList<k>', () => {
    const v = unpackOutput(t('float32', [2, 3], new Float32Array([1, 2, 3, 4, 5, 6])), plan());
    expect(String(v.type)).toBe('FixedSizeList[3]<Float32>');
    expect(rows(v)).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  test('select out of range, or on an output without a last axis, is a BadInputError', () => {
    expect(() => unpackOutput(t('float32', [2, 2], new Float32Array(4)), plan({ name: 'probs', select: 2 })))
      .toThrow(new BadInputError("spec.model.outputs.probs: select 2 is out of range: output 'probs' has 2 values on its last axis (shape [2, 2])"));
    expect(() => unpackOutput(t('float32', [2], new Float32Array(2)), plan({ select: 0 })))
      .toThrow(new BadInputError("spec.model.outputs.Y: select needs an output with an axis after the batch, but output 'Y' has shape [2]"));
    expect(() => unpackOutput(t('string', [1], new Float32Array(1)), plan())).toThrow(BadInputError);
    expect(() => unpackOutput(t('float32', [2, 3], new Float32Array(6)), plan({ dims: ['batch', 2], width: 2 })))
      .toThrow(new BadInputError("model output 'Y' declares shape [batch, 2] but produced [2, 3]"));
  });

  test('positions scatter rows into a longer column; the other rows are null', () => {
    const positions = new Int32Array([0, 2, 5]);
    const s = unpackOutput(t('float64', [3, 1], new Float64Array([1, 2, 3])), plan(), { positions, length: 6 });
    expect(s.nullCount).toBe(3);
    expect(rows(s)).toEqual([1, null, 2, null, null, 3]);
    const i = unpackOutput(t('int64', [3], new BigInt64Array([1n, 2n, 3n])), plan(), { positions, length: 6 });
    expect(rows(i)).toEqual([1, null, 2, null, null, 3]);
    const h = unpackOutput(t('float16', [3], new Uint16Array(new Float16Array([1, 2, 3]).buffer)), plan(), { positions, length: 6 });
    expect(String(h.type)).toBe('Float32');
    expect(rows(h)).toEqual([1, null, 2, null, null, 3]);
    const l = unpackOutput(t('float32', [3, 2], new Float32Array([1, 1, 2, 2, 3, 3])), plan(), { positions, length: 6 });
    expect(rows(l)).toEqual([[1, 1], null, [2, 2], null, null, [3, 3]]);
    const sel = unpackOutput(t('float32', [3, 2], new Float32Array([1, 9, 2, 8, 3, 7])), plan({ select: 1 }), { positions, length: 6 });
    expect(rows(sel)).toEqual([9, null, 8, null, null, 7]);
    // Zero rows scored: an all-null column of the right type.
    const none = unpackOutput(t('float32', [0, 2], new Float32Array(0)), plan(), { positions: new Int32Array(0), length: 2 });
    expect(String(none.type)).toBe('FixedSizeList[2]<Float32>');
    expect(rows(none)).toEqual([null, null]);
  });

  test('vectors drop into an Arrow table', () => {
    const p: ScoringPlan = { inputs: [], fixedBatch: undefined, outputs: [plan({ name: 'P', column: 'p', select: 1 }), plan({ name: 'L', column: 'label' })] };
    const cols = unpackOutputs({ P: t('float32', [2, 2], new Float32Array([0.25, 0.75, 0.5, 0.5])), L: t('int64', [2], new BigInt64Array([1n, 0n])) }, p);
    const table = new A.Table(Object.fromEntries(cols));
    expect(table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['p:Float32', 'label:Int64']);
    expect(table.toArray().map((r) => r.toJSON())).toEqual([{ p: 0.75, label: 1n }, { p: 0.5, label: 0n }]);
    expect(() => unpackOutputs({}, p)).toThrow("the model returned no output 'P'");
  });
});
