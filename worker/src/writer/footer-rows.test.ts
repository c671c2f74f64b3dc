import * as arrow from 'apache-arrow';
import { encodeParquet } from './encode.js';
import { footerRows } from '../../../core/src/parquet/thread-parts.js';

describe('footerRows (the row count a streamed part is checked against, from its last bytes only)', () => {
  const file = encodeParquet(arrow.tableFromArrays({ id: Int32Array.from({ length: 12_345 }, (_, i) => i) }), { compression: 'snappy', rowGroupRows: 1000 });

  test('reads num_rows from the footer at the end of the file', () => {
    expect(footerRows(file)).toBe(12_345);
  });

  test('needs only the tail that holds the footer', () => {
    const len = new DataView(file.buffer, file.byteOffset).getUint32(file.byteLength - 8, true);
    expect(footerRows(file.subarray(file.byteLength - 8 - len))).toBe(12_345);
  });

  test('refuses a tail without the magic, or too short for its footer', () => {
    expect(() => footerRows(file.subarray(0, file.byteLength - 1))).toThrow(/no PAR1 magic/);
    expect(() => footerRows(file.subarray(file.byteLength - 20))).toThrow(/is not within its last/);
  });
});
