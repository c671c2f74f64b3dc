/**
 * The environment that makes a process under test load the fault hooks (fault-hooks.ts): its settings
 * plus NODE_OPTIONS=--import=<the built module>. Processes started with it pass it on to their children
 * (bij run and bij up to their workers), which load the hooks too; a process whose env names no fault
 * gets nothing added.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const SETTINGS = ['BIJ_FAULT', 'BIJ_TEST_COMMIT_EXIT_AFTER_STEP'];

/** The built fault-hooks module (dist/e2e/support/fault-hooks.js), from this file's source or dist copy. */
export function faultHooksModule(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'fault-hooks.js'), path.resolve(here, '../../dist/e2e/support/fault-hooks.js')];
  const found = candidates.find((c) => c.includes(`${path.sep}dist${path.sep}`) && existsSync(c));
  if (!found) throw new Error(`the fault hooks are not built (${candidates[1]} is missing): run npm run build`);
  return found;
}

/** `env` plus what loads the fault hooks, when it sets any fault; `env` itself otherwise. */
export function faultEnv<T extends Record<string, string | undefined>>(env: T): T & { NODE_OPTIONS?: string; BIJ_FAULT_HOOKS_PRELOAD?: string } {
  if (!SETTINGS.some((k) => env[k])) return env;
  const load = `--import=${pathToFileURL(faultHooksModule()).href}`;
  const existing = env.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? '';
  return { ...env, BIJ_FAULT_HOOKS_PRELOAD: '1', NODE_OPTIONS: existing.includes(load) ? existing : `${existing} ${load}`.trim() };
}
