/**
 * Footers other writers leave (reader/footer-fix.ts): quirks that another engine reads are read the
 * same, and what is really corrupt is still refused.
 */
import * as fs from 'node:fs/promises';
import { readFooter } from './index.js';
import {
  FOOTER_QUIRKS, columnMetasOf, parseFooter, rangeOf, rewriteFooter, rewriteWithParquetWasm, rowGroupsOf, withFooterQuirks,
} from './testdata-gen.js';
import { T, fieldOf, setField, writeStruct } from '../../../core/src/parquet/thrift.js';
import { ROWS, useReaderFixture } from './reader-fixture.js';

const { storage, file, planOf, collect, expectBadInput, checkAgainstDuckDB } = useReaderFixture();

describe('footers other writers leave', () => {
  // The same rows from two writers: DuckDB, and parquet-wasm (the worker's own part writer, with
  // dictionaries on two columns only, so chunks with and without a dictionary page).
  const WRITERS = { DuckDB: 'types-snappy.parquet', 'parquet-wasm': 'types-wasm.parquet' };
  beforeAll(async () => {
    await rewriteWithParquetWasm(storage, file(WRITERS.DuckDB), file(WRITERS['parquet-wasm']), { rowGroupRows: 2048, dictionaryColumns: ['cat', 'code'] });
  });

  test('the test footer codec writes back the bytes it read', async () => {
    for (const name of Object.values(WRITERS)) {
      const bytes = new Uint8Array(await fs.readFile(file(name)));
      const { fmd, start } = parseFooter(bytes);
      expect(Buffer.from(writeStruct(fmd)).equals(Buffer.from(bytes.subarray(start, bytes.length - 8)))).toBe(true);
    }
  });

  const quirks = [...Object.keys(FOOTER_QUIRKS), 'all of them'];
  const cases = Object.entries(WRITERS).flatMap(([writer, name]) => quirks.map((quirk) => ({ writer, name, quirk })));
  test.each(cases)('$writer, $quirk: read exactly as DuckDB reads it', async ({ writer, name, quirk }) => {
    const dst = `quirk-${writer}-${quirk.replace(/\W+/g, '-')}.parquet`;
    await withFooterQuirks(file(name), file(dst), quirk === 'all of them' ? undefined : quirk);
    // The quirk is really there.
    const { fmd } = parseFooter(new Uint8Array(await fs.readFile(file(dst))));
    const zeroDict = columnMetasOf(fmd).filter(({ meta }) => fieldOf(meta, 11)?.value === 0n).length;
    if (quirk.startsWith('dictionary_page_offset')) expect(zeroDict).toBeGreaterThan(0);
    if (quirk === 'num_rows 0') expect(fieldOf(fmd, 3)?.value).toBe(0n);
    const f = await readFooter(storage, file(dst));
    expect(f.rows).toBe(ROWS);
    expect(f.rowGroupRows).toEqual([2048, 2048, 904]);
    await checkAgainstDuckDB(dst);
  });

  test.each([ROWS - 1, ROWS + 1])('a nonzero num_rows (%i) that its row groups do not add up to is still corrupt', async (rows) => {
    const dst = `num-rows-${rows}.parquet`;
    await rewriteFooter(file('types-snappy.parquet'), file(dst), (fmd) => {
      fieldOf(fmd, 3)!.value = BigInt(rows);
    });
    await expectBadInput(readFooter(storage, file(dst)), file(dst), `corrupt Parquet footer (row groups hold ${ROWS} rows, the file says ${rows})`);
  });

  test('num_rows 0 with a row group claiming more rows than its pages hold is refused when read', async () => {
    const dst = 'num-rows-0-overstated.parquet';
    await rewriteFooter(file('types-snappy.parquet'), file(dst), (fmd) => {
      fieldOf(fmd, 3)!.value = 0n;
      fieldOf(rowGroupsOf(fmd)[1], 3)!.value = 3000n;
    });
    const { files } = await planOf(dst);
    expect(files[0]).toMatchObject({ rows: 2048 + 3000 + 904, rowGroupRows: [2048, 3000, 904] });
    await expectBadInput(collect(files, [rangeOf(files, 0)], ['id', 'f64']), file(dst), /row group 1 decoded to 2048 rows, but its footer says 3000/);
  });

  test('a nonzero dictionary_page_offset that points at no page is still corrupt, naming the column', async () => {
    const dst = 'dict-offset-wrong.parquet';
    await rewriteFooter(file('types-snappy.parquet'), file(dst), (fmd) => {
      const f64 = columnMetasOf(fmd).find((c) => c.rowGroup === 0 && c.path === 'f64')!;
      expect(fieldOf(f64.meta, 11)).toBeUndefined();
      setField(f64.meta, 11, T.I64, 5n); // inside the magic and the first chunk's page header
    });
    const { files } = await planOf(dst);
    await expectBadInput(collect(files, [rangeOf(files, 0)], ['id', 'i8', 'f64', 'cat']), file(dst), /column "f64" in row group 0 is corrupt or unreadable/);
  });
});
