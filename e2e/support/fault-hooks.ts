/**
 * Fault hooks for the end-to-end suite, preloaded into the processes under test: tests never change
 * production code paths, they install hooks through the hook points the product exposes
 * (worker/src/hooks.ts, operator/src/commit/step-hook.ts), which do nothing unless this module runs.
 * `faultEnv()` (fault-env.ts) gives a process the environment that loads it
 * (NODE_OPTIONS=--import=<this module, built>) with the settings below.
 *
 * `BIJ_FAULT`, for worker processes: a comma-separated list of faults. `<shard>` and `<attempt>` are
 * numbers or `*` (any; the default when left out):
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
 *
 * `BIJ_TEST_COMMIT_EXIT_AFTER_STEP=n`, for operator processes: exit 137 as soon as commit step n has
 * completed (e.g. 6: `_manifest.json` written, `_SUCCESS` not yet), as a SIGKILL would.
 */
import { installCommitStepHook } from '../../operator/src/commit/step-hook.js';
import { installShardHook, type HookPoint } from '../../worker/src/hooks.js';

interface Fault {
  kind: 'exit-before-manifest' | 'exit-at-batch' | 'slow-rows';
  shard?: number;
  attempt?: number;
  /** Exit code, or sleep milliseconds for slow-rows. */
  value: number;
}

export const FAULT_ENV = 'BIJ_FAULT';
export const COMMIT_EXIT_ENV = 'BIJ_TEST_COMMIT_EXIT_AFTER_STEP';

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

const applies = (f: Fault, shard: number, attempt: number): boolean =>
  (f.shard === undefined || f.shard === shard) && (f.attempt === undefined || f.attempt === attempt);

function exitNow(code: number, what: string): never {
  process.stderr.write(`fault hook: ${what}: exiting with code ${code}\n`);
  process.exit(code);
}

/** The worker's hook for a list of faults: undefined at once when none applies, else a sleep or an exit. */
export function shardFaults(list: Fault[]): (point: HookPoint, shard: number, attempt: number) => Promise<void> | undefined {
  return (point, shard, attempt) => {
    let sleepMs = 0;
    for (const f of list) {
      if (!applies(f, shard, attempt)) continue;
      if (point === 'before-manifest' && f.kind === 'exit-before-manifest') exitNow(f.value, `shard ${shard} attempt ${attempt} before its manifest`);
      if (point === 'batch' && f.kind === 'exit-at-batch') exitNow(f.value, `shard ${shard} attempt ${attempt} at its first batch`);
      if (point === 'batch' && f.kind === 'slow-rows') sleepMs += f.value;
    }
    return sleepMs > 0 ? new Promise((r) => setTimeout(r, sleepMs)) : undefined;
  };
}

/** Parses BIJ_TEST_COMMIT_EXIT_AFTER_STEP; throws naming the variable. */
export function parseCommitExit(raw: string): number {
  const at = Number(raw);
  if (!Number.isInteger(at) || at < 1) throw new Error(`${COMMIT_EXIT_ENV} must be a commit step number (1-7), got ${JSON.stringify(raw)}`);
  return at;
}

/** Installs the hooks the environment asks for (what preloading this module does). */
export function installFromEnv(env: NodeJS.ProcessEnv): void {
  const faults = env[FAULT_ENV] ? parseFaults(env[FAULT_ENV]) : [];
  if (faults.length) installShardHook(shardFaults(faults));
  const commitExit = env[COMMIT_EXIT_ENV];
  if (commitExit) {
    const at = parseCommitExit(commitExit);
    installCommitStepHook((step) => { if (step === at) exitNow(137, `commit step ${step} done`); });
  }
}

// Preloaded (node --import): install at once. Imported by a test: the test calls installFromEnv itself.
if (process.env.BIJ_FAULT_HOOKS_PRELOAD === '1') installFromEnv(process.env);
