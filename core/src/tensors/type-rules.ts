/**
 * Which column types feed which model element types, and how: the one rule set that both planes
 * apply. The planner applies it before any pod starts (operator/src/planner/plan-run.ts, with the model
 * read by model-info.ts). The worker applies it to the schema of the rows it reads (scoring-plan.ts) and to
 * every value (pack.ts). The README's column type table says the same thing in prose.
 *
 * - Integer columns of any width and sign feed integer inputs exactly. When the input's range is
 *   narrower than the column's (int64 -> int32, uint64 -> int64, int16 -> uint8, ...), each value is
 *   checked: a value that does not fit makes its row unscorable (an error row naming the column, like
 *   a null). It never wraps.
 * - Float and decimal columns never feed integer inputs: that would truncate (1.9 -> 1). Refused,
 *   naming the input, the column, both types and the fix.
 * - Any numeric column feeds a float input as the nearest value of the input's type. That is exact
 *   when every value of the column's type fits, e.g. int32 or float32 -> float64. A finite value
 *   beyond the float16 range (|v| > 65504) makes its row unscorable when the input is float16, and so
 *   does a decimal beyond the float32 range going to float32. A DOUBLE beyond the float32 range going
 *   to float32 becomes ±Infinity, as a CAST to FLOAT would make it.
 * - Nothing else feeds a model: strings, booleans, timestamps, structs.
 */
import { DataType, Precision } from 'apache-arrow';
import { typeName } from '../parquet/normalize.js';

/** Element types the worker feeds to and reads from a model. float16 outputs become float32 columns. */
export const ELEMENT_TYPES = [
  'float32', 'float64', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint64', 'uint32', 'uint16', 'uint8',
] as const;
export type ElementType = (typeof ELEMENT_TYPES)[number];
export type FloatElementType = 'float16' | 'float32' | 'float64';
export type IntElementType = Exclude<ElementType, FloatElementType>;

export const isElementType = (t: unknown): t is ElementType => ELEMENT_TYPES.includes(t as ElementType);
export const isFloatElement = (t: ElementType): t is FloatElementType => t.startsWith('float');

/** Significand bits of each float type, and the magnitude from which a value rounds to infinity. */
export const FLOAT_LIMITS: Readonly<Record<FloatElementType, { bits: number; max: number; overflow: number }>> = {
  float16: { bits: 11, max: 65504, overflow: 65520 },
  float32: { bits: 24, max: 3.4028234663852886e38, overflow: 3.4028235677973366e38 },
  float64: { bits: 53, max: Number.MAX_VALUE, overflow: Infinity },
};

/** The range of each integer type, ends included. */
export const INT_RANGE: Readonly<Record<IntElementType, readonly [bigint, bigint]>> = {
  int8: [-(2n ** 7n), 2n ** 7n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint8: [0n, 2n ** 8n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

/** What a numeric column's type says about its values. */
type NumericSource =
  | { kind: 'int'; range: readonly [bigint, bigint] }
  | { kind: 'float'; type: FloatElementType }
  | { kind: 'decimal'; precision: number; scale: number };

function numericSource(t: DataType): NumericSource | undefined {
  if (DataType.isInt(t)) {
    const bits = BigInt(t.bitWidth);
    return { kind: 'int', range: t.isSigned ? [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n] : [0n, 2n ** bits - 1n] };
  }
  if (DataType.isFloat(t)) {
    return { kind: 'float', type: t.precision === Precision.HALF ? 'float16' : t.precision === Precision.SINGLE ? 'float32' : 'float64' };
  }
  if (DataType.isDecimal(t)) return { kind: 'decimal', precision: t.precision, scale: t.scale };
  return undefined;
}

/** Scalar Arrow types that can feed a model: integers of every width, Float16/32/64, decimals. */
export const isNumericType = (t: DataType): boolean => numericSource(t) !== undefined;

/** List types whose values can feed a model: FixedSizeList, List and LargeList of numeric values. */
export const isNumericListType = (t: DataType): boolean =>
  (DataType.isFixedSizeList(t) || DataType.isList(t) || DataType.isLargeList(t)) && isNumericType(t.children[0].type);

/** How the values of a column feed an input of a given element type. */
export interface Feed {
  /** Every value of the column's type converts exactly; otherwise each goes to the nearest value. */
  exact: boolean;
  /** Some values of the column's type do not fit the input's type: each value is checked, and a row
   * holding one that does not fit cannot be scored. */
  checked: boolean;
}

/** How a column of (scalar) type `t` feeds an element type, or null when it must not. */
export function feedOf(t: DataType, target: ElementType): Feed | null {
  const s = numericSource(t);
  if (!s) return null;
  if (!isFloatElement(target)) {
    if (s.kind !== 'int') return null;
    const [lo, hi] = INT_RANGE[target];
    return { exact: true, checked: s.range[0] < lo || s.range[1] > hi };
  }
  const { bits, overflow } = FLOAT_LIMITS[target];
  switch (s.kind) {
    case 'int': {
      const magnitude = -s.range[0] > s.range[1] ? -s.range[0] : s.range[1];
      return { exact: magnitude <= 2n ** BigInt(bits), checked: Number(s.range[1]) >= overflow };
    }
    case 'float':
      return { exact: FLOAT_LIMITS[s.type].bits <= bits, checked: target === 'float16' && s.type !== 'float16' };
    case 'decimal':
      return { exact: s.scale === 0 && 10 ** s.precision <= 2 ** bits, checked: 10 ** (s.precision - s.scale) >= overflow };
  }
}

/** Where a check is made, for its messages. */
export interface FeedContext {
  /** The spec field naming the column, e.g. `spec.model.inputs.X.columns[2]`. */
  field: string;
  column: string;
  /** The file (planner) or `the input data` (worker). */
  where: string;
  /** The model input's name. */
  input: string;
}

export const missingColumnProblem = (field: string, column: string, where: string, available: readonly string[]): string =>
  `${field}: column "${column}" is not in ${where} (it has: ${available.join(', ')})`;

/**
 * Why a column of type `t` cannot feed the input, or undefined when it can. `how` says how the spec
 * maps it: one of `columns` (a numeric scalar) or `column` (a list of numbers). `target` is the
 * input's element type, when the model's is known and supported.
 */
export function feedProblem(c: FeedContext, t: DataType, how: 'columns' | 'column', target: ElementType | undefined): string | undefined {
  const head = `${c.field}: column "${c.column}" in ${c.where} is ${typeName(t)}`;
  if (how === 'columns' && !isNumericType(t)) {
    return isNumericListType(t) ? `${head}, not a numeric column (map a list column with column, not columns)` : `${head}, not a numeric column`;
  }
  if (how === 'column' && !isNumericListType(t)) {
    return `${head}, not a list of numbers${isNumericType(t) ? ' (map numeric scalar columns with columns, not column)' : ''}`;
  }
  if (target === undefined) return undefined;
  const scalar = how === 'column' ? t.children[0].type : t;
  if (feedOf(scalar, target)) return undefined;
  const why = DataType.isDecimal(scalar) && scalar.scale === 0
    ? 'decimal columns feed float inputs only'
    : 'the fractions would be cut off (1.9 -> 1, -1.9 -> -1)';
  return `${head}, but model input '${c.input}' takes ${target}: ${why}. Cast the column to an integer type in the data`
    + `${how === 'columns' ? ` (e.g. CAST(${c.column} AS BIGINT))` : ''} if it holds whole numbers, or export the model with a float input`;
}

/** Why a model input or output's element type is not supported, or undefined when it is. */
export function elementTypeProblem(role: 'input' | 'output', name: string, type: string | undefined): string | undefined {
  if (isElementType(type)) return undefined;
  return `model ${role} '${name}' has element type ${type}; supported ${role} types are ${ELEMENT_TYPES.join(', ')}`;
}
