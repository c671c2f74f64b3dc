/** kubectl's table output (`kubectl get`) -> header and rows. Columns are cut where each header starts,
 * so an empty cell stays empty and a header of two words (LAST SCHEDULE) stays one column. */
export function parseKubectlTable(out: string): { header: string[]; rows: Record<string, string>[] } {
  const lines = out.trimEnd().split('\n');
  const head = lines[0];
  const starts = [...head.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index!);
  const header = starts.map((s, i) => head.slice(s, starts[i + 1]).trim());
  const rows = lines.slice(1).map((l) => Object.fromEntries(header.map((h, i) => [h, l.slice(starts[i], starts[i + 1]).trim()])));
  return { header, rows };
}
