/**
 * GPU device check: the closing table (run.sh's last output, so the device tool's reply holds it), from
 * the bench's and the anchor's JSON files: `node dist/e2e/bench/device/summary.js DIR LABEL...`,
 * reading DIR/bench-LABEL.json and DIR/anchor-LABEL.json, and writing DIR/summary.json.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Bench {
  model: string; rows: number; provider: string; decoders: number; cores: number;
  rowsPerSecond: { decode: number; inference: number; write: number; endToEnd: number };
  modelBusy: number;
}
interface Anchor { rowsPerSecond: number; modelBusy: number; device: string; dtype: string; engine: string }

const read = <T>(path: string): T | undefined => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as T : undefined);
const m = (n: number | undefined): string => (n === undefined ? '-' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`);
const pct = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '-' : `${(100 * n).toFixed(0)}%`);

const [dir, ...labels] = process.argv.slice(2);
const rows: Record<string, unknown>[] = [];
console.log('model          provider  rows      decode  inference  write   end-to-end  model-busy | PyTorch e2e  busy | ours / PyTorch');
for (const label of labels) {
  const b = read<Bench>(join(dir, `bench-${label}.json`));
  const a = read<Anchor>(join(dir, `anchor-${label}.json`));
  const ratio = b && a ? b.rowsPerSecond.endToEnd / a.rowsPerSecond : undefined;
  console.log(`${label.padEnd(14)} ${(b?.provider ?? '-').padEnd(9)} ${String(b?.rows ?? '-').padEnd(9)} ${m(b?.rowsPerSecond.decode).padStart(6)}  ${m(b?.rowsPerSecond.inference).padStart(9)}  `
    + `${m(b?.rowsPerSecond.write).padStart(6)}  ${m(b?.rowsPerSecond.endToEnd).padStart(10)}  ${pct(b?.modelBusy).padStart(10)} | ${m(a?.rowsPerSecond).padStart(11)}  ${pct(a?.modelBusy).padStart(4)} | `
    + `${ratio === undefined ? '-' : ratio.toFixed(2)}`);
  rows.push({ label, bench: b, anchor: a, oursOverPyTorch: ratio });
}
console.log('(rows/s, median of the counted rounds; model-busy: share of the end-to-end wall time the model was running)');
writeFileSync(join(dir, 'summary.json'), JSON.stringify(rows, null, 2));
