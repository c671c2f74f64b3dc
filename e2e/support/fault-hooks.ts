/**
 * TEST-ONLY fault injection for the worker, driven by the `BIJ_FAULT` environment variable. Unset (as
 * in every real deployment) every hook is a no-op: `faultAt` returns undefined without awaiting
 * anything. The end-to-end fault suite (e2e/faults/worker-*.test.ts) sets it through the local Job
 * runner's environment to make shard attempts slow, crash, or die at a precise point.
 *
 * `BIJ_FAULT` is a comma-separated list of faults. `<shard>` and `<attempt>` are numbers or `*` (any;
 * the default when left out):
 *
 *   exit-before-manifest:<shard>:<attempt>[:<code>]
 *       exit with <code> (default 137, as if SIGKILLed) right before the shard manifest is written:
 *       every data and errors file is complete, but the attempt never counts.
 *   exit-at-batch:<code>:<shard>[:<attempt>]
 *       exit with <code> when the first batch has been read and written (a crash mid-shard).
 *   slow-rows:<ms-per-batch>[:<shard>[:<attempt>]]
 *       sleep this long after each batch is written (a batch never spans row groups), so a shard
 *       lasts long enough to be killed mid-way.
 *
 * Example: `BIJ_FAULT=slow-rows:50,exit-before-manifest:1:0`.
 */

export type FaultPoint = 'batch' | 'before-manifest';

interface Fault {
  kind: 'exit-before-manifest' | 'exit-at-batch' | 'slow-rows';
  shard?: number;
  attempt?: number;
  /** Exit code, or sleep milliseconds for slow-rows. */
  value: number;
}

export const FAULT_ENV = 'BIJ_FAULT';

const selector = (raw: string | undefined, what: string, spec: string): number | undefined => {
  if (raw === undefined || raw === '' || raw === '*') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${FAULT_ENV}: ${what} must be a number or *, got "${raw}" in "${spec}"`);
  return n;
};

const number = (raw: string | undefined, what: string, spec: string): number => {
  const n = Number(raw);
  if (raw === undefined || raw === '' || !Number.isInteger(n) || n < 0) throw new Error(`${FAULT_ENV}: ${what} must be a non-negative integer, got "${raw}" in "${spec}"`);
  return n;
};

/** Parses a BIJ_FAULT value; throws naming the bad part. Exported for tests. */
export function parseFaults(value: string): Fault[] {
  const out: Fault[] = [];
  for (const spec of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [kind, ...args] = spec.split(':');
    switch (kind) {
      case 'exit-before-manifest':
        out.push({ kind, shard: selector(args[0], 'shard', spec), attempt: selector(args[1], 'attempt', spec), value: args[2] === undefined ? 137 : number(args[2], 'exit code', spec) });
        break;
      case 'exit-at-batch':
        out.push({ kind, value: number(args[0], 'exit code', spec), shard: selector(args[1], 'shard', spec), attempt: selector(args[2], 'attempt', spec) });
        break;
      case 'slow-rows':
        out.push({ kind, value: number(args[0], 'ms per batch', spec), shard: selector(args[1], 'shard', spec), attempt: selector(args[2], 'attempt', spec) });
        break;
      default:
        throw new Error(`${FAULT_ENV}: unknown fault "${kind}" in "${spec}" (known: exit-before-manifest, exit-at-batch, slow-rows)`);
    }
  }
  return out;
}

let parsed: Fault[] | undefined;

function faults(): Fault[] {
  if (parsed === undefined) {
    const raw = process.env[FAULT_ENV];
    parsed = raw ? parseFaults(raw) : [];
  }
  return parsed;
}

const applies = (f: Fault, shard: number, attempt: number): boolean =>
  (f.shard === undefined || f.shard === shard) && (f.attempt === undefined || f.attempt === attempt);

function exitNow(code: number, what: string): never {
  process.stderr.write(`${FAULT_ENV}: ${what}: exiting with code ${code}\n`);
  process.exit(code);
}

/**
 * A fault point in the shard pipeline. Returns undefined at once when no fault applies (always, when
 * BIJ_FAULT is unset); otherwise a promise that sleeps, or a process exit.
 */
export function faultAt(point: FaultPoint, shard: number, attempt: number): Promise<void> | undefined {
  const list = faults();
  if (list.length === 0) return undefined;
  let sleepMs = 0;
  for (const f of list) {
    if (!applies(f, shard, attempt)) continue;
    if (point === 'before-manifest' && f.kind === 'exit-before-manifest') exitNow(f.value, `shard ${shard} attempt ${attempt} before its manifest`);
    if (point === 'batch' && f.kind === 'exit-at-batch') exitNow(f.value, `shard ${shard} attempt ${attempt} at its first batch`);
    if (point === 'batch' && f.kind === 'slow-rows') sleepMs += f.value;
  }
  return sleepMs > 0 ? new Promise((r) => setTimeout(r, sleepMs)) : undefined;
}
