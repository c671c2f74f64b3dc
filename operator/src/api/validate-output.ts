/**
 * Semantic checks of spec.output.addColumns and spec.output.partitionBy (validate.ts runs them). Pure.
 *
 * - An added (run) column must not take the name of an id, passthrough or output column, nor of
 *   another added column: one name, one column.
 * - modelVersion needs spec.model.version (a column of nothing would say nothing).
 * - timeZone only for scheduledDate, and a zone this runtime knows.
 * - A partition column is a passthrough or an added column, once. Never the id column: a folder per
 *   row is no partitioning (and ids are for joins, not for pruning). Never an output column: a
 *   prediction is not a business dimension, and a float makes a folder per value.
 * Column types (a list or a float passthrough) are checked at planning, where the files are read.
 */
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';
import type { FieldError } from './field-error.js';

/** `outCols`: output column -> the ONNX output that writes it. */
export function outputColumnErrors(spec: BatchInferenceJobSpec, outCols: ReadonlyMap<string, string>): FieldError[] {
  const errors: FieldError[] = [];
  const add = (field: string, message: string) => errors.push({ field, message });
  const { idColumn } = spec.input;
  const passthrough = new Set(spec.input.passthroughColumns ?? []);
  const added = new Map<string, number>();

  (spec.output.addColumns ?? []).forEach((c, i) => {
    const f = `spec.output.addColumns[${i}]`;
    if (c.name === idColumn) add(`${f}.name`, `${c.name} is the idColumn; name the run column otherwise`);
    else if (passthrough.has(c.name)) add(`${f}.name`, `${c.name} is a passthrough column (spec.input.passthroughColumns); name the run column otherwise`);
    else if (outCols.has(c.name)) add(`${f}.name`, `${c.name} is the output column of spec.model.outputs.${outCols.get(c.name)}; name the run column otherwise`);
    else if (added.has(c.name)) add(`${f}.name`, `duplicate column ${c.name} (also spec.output.addColumns[${added.get(c.name)}])`);
    if (!added.has(c.name)) added.set(c.name, i);
    if (c.source === 'modelVersion' && !spec.model.version) add(`${f}.source`, 'modelVersion needs spec.model.version, which is not set');
    if (c.timeZone !== undefined) {
      if (c.source !== 'scheduledDate') add(`${f}.timeZone`, `only a scheduledDate column takes a timeZone (this one's source is ${c.source})`);
      else if (!knownZone(c.timeZone)) add(`${f}.timeZone`, `unknown time zone ${JSON.stringify(c.timeZone)}; use an IANA name such as Europe/Berlin or UTC`);
    }
  });

  const seen = new Set<string>();
  (spec.output.partitionBy ?? []).forEach((col, i) => {
    const f = `spec.output.partitionBy[${i}]`;
    if (seen.has(col)) add(f, `duplicate partition column ${col}`);
    else if (col === idColumn) add(f, `${col} is the idColumn: that is a folder per row; partition by a passthrough column with few values (a date, a region)`);
    else if (outCols.has(col)) add(f, `${col} is a model output (spec.model.outputs.${outCols.get(col)}); partition by a passthrough column or an added run column`);
    else if (!passthrough.has(col) && !added.has(col)) {
      add(f, `${col} is neither a passthrough column (spec.input.passthroughColumns) nor an added column (spec.output.addColumns); add it to one of them`);
    }
    seen.add(col);
  });
  return errors;
}

function knownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
