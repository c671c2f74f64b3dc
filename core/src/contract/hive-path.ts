/**
 * Hive-style partition folders (`col=value/`), named exactly as Hive and Spark name them, so their
 * readers (Spark, Hive, Trino/Athena, DuckDB, pyarrow) find every row under the values it holds.
 *
 * Escaping follows Hive's FileUtils.escapePathName as Spark copies it
 * (org.apache.spark.sql.catalyst.catalog.ExternalCatalogUtils): each UTF-16 code unit that is an ASCII
 * control character (0x01-0x1F), 0x7F, or one of  " # % ' * / : = ? \ { [ ] ^  becomes `%` and two
 * uppercase hex digits; everything else (space and non-ASCII letters included) stays as it is. The
 * column name is escaped the same way. A null value, and an empty string (as Spark writes it), is the
 * folder `__HIVE_DEFAULT_PARTITION__`. Pure.
 */

export const DEFAULT_PARTITION_NAME = '__HIVE_DEFAULT_PARTITION__';

const ESCAPED = new Set<number>([
  ...Array.from({ length: 0x1f }, (_, i) => i + 1),
  ...'"#%\'*/:=?\\{[]^'.split('').map((c) => c.charCodeAt(0)),
  0x7f,
]);

/** Hive's escapePathName: `a/b:c` -> `a%2Fb%3Ac`. */
export function escapePathName(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += ESCAPED.has(c) ? '%' + c.toString(16).toUpperCase().padStart(2, '0') : s[i];
  }
  return out;
}

/** Hive's unescapePathName: `%XX` back to its character; anything else as it is. */
export function unescapePathName(s: string): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** One folder: `col=value`, with null and '' as the default partition. */
export function partitionSegment(column: string, value: string | null): string {
  return `${escapePathName(column)}=${value === null || value === '' ? DEFAULT_PARTITION_NAME : escapePathName(value)}`;
}

/** The folders of one partition, relative to output.uri: `region=emea/day=2026-12-05`. */
export function partitionPath(columns: readonly string[], values: readonly (string | null)[]): string {
  if (columns.length !== values.length) throw new Error(`partitionPath: ${columns.length} columns but ${values.length} values`);
  return columns.map((c, i) => partitionSegment(c, values[i])).join('/');
}

/** `region=emea/day=2026-12-05` -> the column names and values it says (null for the default partition). */
export function parsePartitionPath(path: string): { column: string; value: string | null }[] {
  if (path === '') return [];
  return path.split('/').map((seg) => {
    const eq = seg.indexOf('=');
    if (eq <= 0) throw new Error(`partition folder ${JSON.stringify(seg)} is not col=value`);
    const raw = seg.slice(eq + 1);
    return { column: unescapePathName(seg.slice(0, eq)), value: raw === DEFAULT_PARTITION_NAME ? null : unescapePathName(raw) };
  });
}
