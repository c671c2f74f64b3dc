/**
 * The columns copied to the output (the id and the passthrough columns) must have one type across
 * the input files: every output part then has one schema, and a reader that globs the parts can read
 * them as one table. Pure.
 */
import type { ParquetFooter } from '../../../core/src/parquet/footer.js';
import type { BatchInferenceJobSpec } from '../../../core/src/contract/job-spec.js';

/** One message per copied column whose type differs between files, naming two files and both types. */
export function copiedColumnDisagreements(spec: BatchInferenceJobSpec, footers: readonly Pick<ParquetFooter, 'uri' | 'columns'>[]): string[] {
  const copied = [
    { field: 'spec.input.idColumn', column: spec.input.idColumn },
    ...(spec.input.passthroughColumns ?? []).map((column, i) => ({ field: `spec.input.passthroughColumns[${i}]`, column })),
  ];
  const problems: string[] = [];
  for (const { field, column } of copied) {
    let first: { uri: string; type: string } | undefined;
    for (const f of footers) {
      const c = f.columns.find((x) => x.name === column);
      if (!c) continue; // reported as missing elsewhere
      const type = String(c.type);
      if (!first) first = { uri: f.uri, type };
      else if (type !== first.type) {
        problems.push(`${field}: column "${column}" is ${first.type} in ${first.uri} but ${type} in ${f.uri}; ` +
          'copied columns must have one type in every input file (cast them to one type when writing the input)');
        break;
      }
    }
  }
  return problems;
}
