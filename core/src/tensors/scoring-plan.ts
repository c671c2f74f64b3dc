/**
 * Checks spec.model.inputs/outputs against the model's metadata and the data's Arrow schema, and
 * compiles them into a ScoringPlan. Both planes run it: the worker on the schema of the rows it reads
 * and onnxruntime's metadata; the planner (operator/src/planner/plan-run.ts) on every file's footer and
 * the metadata model-info.ts reads from the ONNX file, so that a mismatch is refused before any pod
 * starts. Column types follow type-rules.ts. Each problem names the spec field and the culprit.
 */
import { DataType, type Field, type Schema } from 'apache-arrow';
import { BadInputError } from '../contract/index.js';
import { typeName } from '../parquet/normalize.js';
import {
  elementTypeProblem, feedProblem, isElementType, missingColumnProblem, type ElementType,
} from './type-rules.js';
import type { ModelMappingLike, ModelMeta, ValueMeta } from './types.js';

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

/** What a mapping's columns give: the source, its width when known, and words for messages. */
interface SourcePlan {
  source: InputSource;
  width?: number;
  describe: string;
}

/** The mapping's source; pushes a problem for each column that is missing or cannot feed the input
 * (whose element type is `target`, when supported), and returns undefined if there is any. */
function planSource(name: string, mapping: ModelMappingLike['inputs'][string], schema: Schema, target: ElementType | undefined, where: string, problems: string[]): SourcePlan | undefined {
  const field = `spec.model.inputs.${name}`;
  const typeOf = (column: string, f: string): DataType | undefined => {
    const found: Field | undefined = schema.fields.find((x) => x.name === column);
    if (!found) problems.push(missingColumnProblem(f, column, where, schema.fields.map((x) => x.name)));
    return found?.type;
  };
  const fits = (column: string, f: string, how: 'columns' | 'column'): boolean => {
    const t = typeOf(column, f);
    const problem = t && feedProblem({ field: f, column, where, input: name }, t, how, target);
    if (problem) problems.push(problem);
    return t !== undefined && problem === undefined;
  };
  if (mapping.columns !== undefined && mapping.column === undefined) {
    const ok = mapping.columns.map((c, i) => fits(c, `${field}.columns[${i}]`, 'columns')).every(Boolean);
    const plan: SourcePlan = {
      source: { kind: 'columns', columns: mapping.columns },
      width: mapping.columns.length,
      describe: `${mapping.columns.length} (columns ${mapping.columns.join(', ')})`,
    };
    return ok ? plan : undefined;
  }
  if (mapping.column !== undefined && mapping.columns === undefined) {
    const c = mapping.column;
    if (!fits(c, `${field}.column`, 'column')) return undefined;
    const t = schema.fields.find((x) => x.name === c)!.type;
    if (DataType.isFixedSizeList(t)) {
      return { source: { kind: 'list', column: c, list: 'fixed', listSize: t.listSize }, width: t.listSize, describe: `${t.listSize} (column '${c}' is ${typeName(t)})` };
    }
    return { source: { kind: 'list', column: c, list: DataType.isList(t) ? 'list' : 'large' }, describe: `column '${c}'` };
  }
  problems.push(`${field}: set exactly one of columns or column`);
  return undefined;
}

function planInput(meta: ValueMeta, mapping: ModelMappingLike['inputs'][string], schema: Schema, where: string, problems: string[]): InputPlan | undefined {
  const { name } = meta;
  if (!meta.isTensor) {
    problems.push(`model input '${name}' is not a tensor; only tensor inputs are supported`);
    return undefined;
  }
  const typeProblem = elementTypeProblem('input', name, meta.type);
  if (typeProblem) problems.push(typeProblem);
  const type = isElementType(meta.type) ? meta.type : undefined;
  const src = planSource(name, mapping, schema, type, where, problems);
  // dims[0] is the batch; the rest give the row's shape. No declared shape: [batch, width].
  const rest = meta.dims.slice(1);
  const given = src?.width ?? (mapping.column === undefined ? mapping.columns?.length : undefined);
  let width: number | undefined;
  let rowDims: number[] | undefined;
  if (meta.dims.length === 0) {
    width = given;
    rowDims = width === undefined ? undefined : [width];
  } else if (rest.every((d) => typeof d === 'number')) {
    rowDims = rest as number[];
    width = rowDims.reduce((a, b) => a * b, 1);
  } else if (rest.length === 1) {
    width = given;
    rowDims = width === undefined ? undefined : [width];
  } else {
    problems.push(`model input '${name}' has shape ${formatDims(meta.dims)}; for inputs of rank > 2 only the batch dimension may be symbolic`);
    return undefined;
  }
  if (width !== undefined && given !== undefined && width !== given) {
    const describeGiven = src?.describe ?? `${given} (columns ${mapping.columns?.join(', ')})`;
    problems.push(`model input '${name}' takes ${width} value${width === 1 ? '' : 's'} per row (shape ${formatDims(meta.dims)}), but spec.model.inputs.${name} gives ${describeGiven}`);
    return undefined;
  }
  if (!src || !type) return undefined;
  return { name, type, width, rowDims, source: src.source };
}

function planOutput(meta: ValueMeta, column: string, select: number | undefined, problems: string[]): OutputPlan | undefined {
  const { name, dims } = meta;
  const where = `spec.model.outputs.${name}`;
  if (!meta.isTensor) {
    problems.push(`model output '${name}' is not a tensor (a sequence or map, e.g. a ZipMap); only tensor outputs can be mapped to columns`);
    return undefined;
  }
  const typeProblem = elementTypeProblem('output', name, meta.type);
  if (typeProblem) problems.push(typeProblem);
  const rest = dims.slice(1);
  const fixed = dims.length > 0 && rest.every((d) => typeof d === 'number');
  let width = fixed ? (rest as number[]).reduce((a, b) => a * b, 1) : undefined;
  if (select !== undefined) {
    if (dims.length === 1) {
      problems.push(`${where}: select needs an output with an axis after the batch, but output '${name}' has shape ${formatDims(dims)}`);
      return undefined;
    }
    const last = dims[dims.length - 1];
    if (typeof last === 'number' && select >= last) {
      problems.push(`${where}: select ${select} is out of range: output '${name}' has ${last} values on its last axis (shape ${formatDims(dims)})`);
      return undefined;
    }
    if (width !== undefined) width /= last as number;
  }
  if (!isElementType(meta.type)) return undefined;
  return { name, column, select, type: meta.type, dims, width };
}

/** A ScoringPlan, or every problem found (then `plan` is undefined). */
export interface ScoringCheck {
  plan: ScoringPlan | undefined;
  problems: string[];
}

/**
 * Validates the mapping against the model and the data's schema, and compiles it. `where` names the
 * data in messages: a file (the planner) or `the input data` (the worker).
 */
export function checkScoring(mapping: ModelMappingLike, model: ModelMeta, schema: Schema, where = 'the input data'): ScoringCheck {
  const problems: string[] = [];
  for (const name of Object.keys(mapping.inputs)) {
    if (!model.inputs.some((m) => m.name === name)) {
      problems.push(`spec.model.inputs names '${name}', which is not an input of the model (model inputs: ${listNames(model.inputs)})`);
    }
  }
  for (const name of Object.keys(mapping.outputs)) {
    if (!model.outputs.some((m) => m.name === name)) {
      problems.push(`spec.model.outputs names '${name}', which is not an output of the model (model outputs: ${listNames(model.outputs)})`);
    }
  }
  if (Object.keys(mapping.outputs).length === 0) {
    problems.push(`spec.model.outputs is empty: map at least one model output to a column (model outputs: ${listNames(model.outputs)})`);
  }
  const inputs = model.inputs.map((meta) => {
    const m = mapping.inputs[meta.name];
    if (!m) {
      problems.push(`model input '${meta.name}' is not mapped: add it to spec.model.inputs with columns or column (model inputs: ${listNames(model.inputs)})`);
      return undefined;
    }
    return planInput(meta, m, schema, where, problems);
  });
  const byColumn = new Map<string, string>();
  const outputs = model.outputs.flatMap((meta) => {
    const m = mapping.outputs[meta.name];
    if (!m) return [];
    const other = byColumn.get(m.column);
    if (other !== undefined) {
      problems.push(`spec.model.outputs: column '${m.column}' is used by both ${other} and ${meta.name}`);
      return [];
    }
    byColumn.set(m.column, meta.name);
    return [planOutput(meta, m.column, m.select, problems)];
  });
  let fixedBatch: number | undefined;
  for (const meta of model.inputs) {
    const b = meta.dims[0];
    if (typeof b !== 'number') continue;
    if (b < 1) problems.push(`model input '${meta.name}' has batch dimension ${b}`);
    else if (fixedBatch !== undefined && fixedBatch !== b) {
      problems.push(`the model's inputs disagree on the batch size: ${listNames(model.inputs)}`);
      break;
    } else fixedBatch = b;
  }
  if (problems.length > 0) return { plan: undefined, problems };
  return { plan: { inputs: inputs as InputPlan[], outputs: outputs as OutputPlan[], fixedBatch }, problems };
}

/** Validates the mapping against the model and the data's schema, and compiles it; a BadInputError
 * naming every problem otherwise. */
export function planScoring(mapping: ModelMappingLike, model: ModelMeta, schema: Schema): ScoringPlan {
  const { plan, problems } = checkScoring(mapping, model, schema);
  if (!plan) throw new BadInputError(problems.join('; '));
  return plan;
}
