/**
 * Checks spec.model.inputs/outputs against the model's metadata and the data's Arrow schema, and
 * compiles them into a ScoringPlan. Every mismatch is a BadInputError whose message names the culprit.
 */
import { DataType, type Field, type Schema } from 'apache-arrow';
import { BadInputError } from '../../../operator/src/contract/index.js';
import {
  ELEMENT_TYPES, isElementType,
  type ElementType, type ModelMappingLike, type ModelMeta, type ValueMeta,
} from './types.js';

export type InputSource =
  | { kind: 'columns'; columns: readonly string[] }
  /** One list column: FixedSizeList (`listSize` known), List or LargeList (width checked per row). */
  | { kind: 'list'; column: string; list: 'fixed' | 'list' | 'large'; listSize?: number };

export interface InputPlan {
  /** The ONNX input name. */
  name: string;
  type: ElementType;
  /** Values per row: the product of the non-batch dims. Undefined only for a List column feeding a
   * model whose feature dim is symbolic; the packer then takes it from the data (all rows must agree). */
  width: number | undefined;
  /** The tensor's dims after the batch dim: [width] for rank 2, [] for rank 1, [a, b] for rank 3. */
  rowDims: readonly number[] | undefined;
  source: InputSource;
}

export interface OutputPlan {
  /** The ONNX output name. */
  name: string;
  column: string;
  select?: number;
  type: ElementType;
  /** The output's declared dims (may be symbolic or empty). */
  dims: readonly (number | string)[];
  /** Values per row in the output column (after select), when the declared shape fixes it. */
  width: number | undefined;
}

export interface ScoringPlan {
  inputs: readonly InputPlan[];
  outputs: readonly OutputPlan[];
  /** The model's fixed batch size, when its inputs declare one. */
  fixedBatch: number | undefined;
}

export const formatDims = (dims: readonly (number | string)[]): string =>
  `[${dims.map((d) => (typeof d === 'number' ? String(d) : d || '?')).join(', ')}]`;

const describe = (v: ValueMeta): string => (v.isTensor ? `${v.name} (${v.type} ${formatDims(v.dims)})` : `${v.name} (not a tensor)`);
const listNames = (vs: readonly ValueMeta[]): string => vs.map(describe).join(', ');

/** Scalar numeric Arrow types the packer reads: ints of every width, Float16/32/64. */
export const isNumericType = (t: DataType): boolean => DataType.isInt(t) || DataType.isFloat(t);

function fieldOf(schema: Schema, column: string, where: string): Field {
  const f = schema.fields.find((x) => x.name === column);
  if (!f) {
    throw new BadInputError(`${where}: column '${column}' is not in the input data (columns: ${schema.fields.map((x) => x.name).join(', ')})`);
  }
  return f;
}

function planSource(name: string, mapping: ModelMappingLike['inputs'][string], schema: Schema): { source: InputSource; width?: number; describe: string } {
  const where = `spec.model.inputs.${name}`;
  if (mapping.columns !== undefined && mapping.column === undefined) {
    for (const c of mapping.columns) {
      const f = fieldOf(schema, c, where);
      if (!isNumericType(f.type)) throw new BadInputError(`${where}: column '${c}' has type ${f.type}, which is not numeric`);
    }
    return {
      source: { kind: 'columns', columns: mapping.columns },
      width: mapping.columns.length,
      describe: `${mapping.columns.length} (columns ${mapping.columns.join(', ')})`,
    };
  }
  if (mapping.column !== undefined && mapping.columns === undefined) {
    const c = mapping.column;
    const f = fieldOf(schema, c, where);
    const t = f.type;
    const isList = DataType.isFixedSizeList(t) || DataType.isList(t) || DataType.isLargeList(t);
    if (!isList || !isNumericType(t.children[0].type)) {
      throw new BadInputError(`${where}: column '${c}' has type ${t}; column needs a FixedSizeList or List of numbers (use columns for numeric scalar columns)`);
    }
    if (DataType.isFixedSizeList(t)) {
      return { source: { kind: 'list', column: c, list: 'fixed', listSize: t.listSize }, width: t.listSize, describe: `${t.listSize} (column '${c}' is ${t})` };
    }
    return { source: { kind: 'list', column: c, list: DataType.isList(t) ? 'list' : 'large' }, describe: `column '${c}'` };
  }
  throw new BadInputError(`${where}: set exactly one of columns or column`);
}

function planInput(meta: ValueMeta, mapping: ModelMappingLike['inputs'][string], schema: Schema): InputPlan {
  const { name } = meta;
  if (!meta.isTensor) throw new BadInputError(`model input '${name}' is not a tensor; only tensor inputs are supported`);
  if (!isElementType(meta.type)) {
    throw new BadInputError(`model input '${name}' has element type ${meta.type}; supported input types are ${ELEMENT_TYPES.join(', ')}`);
  }
  const src = planSource(name, mapping, schema);
  // dims[0] is the batch; the rest give the row's shape. No declared shape: [batch, width].
  const rest = meta.dims.slice(1);
  let width: number | undefined;
  let rowDims: number[] | undefined;
  if (meta.dims.length === 0) {
    width = src.width;
    rowDims = width === undefined ? undefined : [width];
  } else if (rest.every((d) => typeof d === 'number')) {
    rowDims = rest as number[];
    width = rowDims.reduce((a, b) => a * b, 1);
  } else if (rest.length === 1) {
    width = src.width;
    rowDims = width === undefined ? undefined : [width];
  } else {
    throw new BadInputError(`model input '${name}' has shape ${formatDims(meta.dims)}; for inputs of rank > 2 only the batch dimension may be symbolic`);
  }
  if (width !== undefined && src.width !== undefined && width !== src.width) {
    throw new BadInputError(`model input '${name}' takes ${width} value${width === 1 ? '' : 's'} per row (shape ${formatDims(meta.dims)}), but spec.model.inputs.${name} gives ${src.describe}`);
  }
  return { name, type: meta.type, width, rowDims, source: src.source };
}

function planOutput(meta: ValueMeta, column: string, select: number | undefined): OutputPlan {
  const { name, dims } = meta;
  const where = `spec.model.outputs.${name}`;
  if (!meta.isTensor) {
    throw new BadInputError(`model output '${name}' is not a tensor (a sequence or map, e.g. a ZipMap); only tensor outputs can be mapped to columns`);
  }
  if (!isElementType(meta.type)) {
    throw new BadInputError(`model output '${name}' has element type ${meta.type}; supported output types are ${ELEMENT_TYPES.join(', ')}`);
  }
  const rest = dims.slice(1);
  const fixed = dims.length > 0 && rest.every((d) => typeof d === 'number');
  let width = fixed ? (rest as number[]).reduce((a, b) => a * b, 1) : undefined;
  if (select !== undefined) {
    if (dims.length === 1) {
      throw new BadInputError(`${where}: select needs an output with an axis after the batch, but output '${name}' has shape ${formatDims(dims)}`);
    }
    const last = dims[dims.length - 1];
    if (typeof last === 'number' && select >= last) {
      throw new BadInputError(`${where}: select ${select} is out of range: output '${name}' has ${last} values on its last axis (shape ${formatDims(dims)})`);
    }
    if (width !== undefined) width /= last as number;
  }
  return { name, column, select, type: meta.type, dims, width };
}

/** Validates the mapping against the model and the data's schema, and compiles it. */
export function planScoring(mapping: ModelMappingLike, model: ModelMeta, schema: Schema): ScoringPlan {
  for (const name of Object.keys(mapping.inputs)) {
    if (!model.inputs.some((m) => m.name === name)) {
      throw new BadInputError(`spec.model.inputs names '${name}', which is not an input of the model (model inputs: ${listNames(model.inputs)})`);
    }
  }
  for (const name of Object.keys(mapping.outputs)) {
    if (!model.outputs.some((m) => m.name === name)) {
      throw new BadInputError(`spec.model.outputs names '${name}', which is not an output of the model (model outputs: ${listNames(model.outputs)})`);
    }
  }
  if (Object.keys(mapping.outputs).length === 0) {
    throw new BadInputError(`spec.model.outputs is empty: map at least one model output to a column (model outputs: ${listNames(model.outputs)})`);
  }
  const inputs = model.inputs.map((meta) => {
    const m = mapping.inputs[meta.name];
    if (!m) {
      throw new BadInputError(`model input '${meta.name}' is not mapped: add it to spec.model.inputs with columns or column (model inputs: ${listNames(model.inputs)})`);
    }
    return planInput(meta, m, schema);
  });
  const byColumn = new Map<string, string>();
  const outputs = model.outputs.flatMap((meta) => {
    const m = mapping.outputs[meta.name];
    if (!m) return [];
    const other = byColumn.get(m.column);
    if (other !== undefined) {
      throw new BadInputError(`spec.model.outputs: column '${m.column}' is used by both ${other} and ${meta.name}`);
    }
    byColumn.set(m.column, meta.name);
    return [planOutput(meta, m.column, m.select)];
  });
  let fixedBatch: number | undefined;
  for (const meta of model.inputs) {
    const b = meta.dims[0];
    if (typeof b !== 'number') continue;
    if (b < 1) throw new BadInputError(`model input '${meta.name}' has batch dimension ${b}`);
    if (fixedBatch !== undefined && fixedBatch !== b) {
      throw new BadInputError(`the model's inputs disagree on the batch size: ${listNames(model.inputs)}`);
    }
    fixedBatch = b;
  }
  return { inputs, outputs, fixedBatch };
}
