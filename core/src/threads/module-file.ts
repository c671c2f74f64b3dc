/**
 * Where a worker thread's module file is. Threads are real module files, compiled with the rest to
 * dist/ and started with `new Worker(url)`.
 *
 * From dist/ (the worker, the bench, `bij run`) the thread's file is the sibling of the module that
 * starts it. Under jest the modules run from their TypeScript sources, which Node cannot start as a
 * thread (jest's transform does not reach worker threads): the thread then runs from the build, the
 * same file under dist/, as the other processes tests start do (cluster/src/control-plane/supervisor.ts,
 * operator/src/local). `npm test` builds first; run `npm run build` after changing a thread's code
 * before running jest alone. (The build is not checked against the sources by modification time:
 * after a rebase or a checkout the sources are newer while tsc, finding their contents unchanged,
 * rightly writes nothing, and the check would refuse a build that is current.)
 */
import { existsSync } from 'node:fs';
import { repoRootAbove } from '../repo-root.js';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The URL of thread module `name` (e.g. `parquet-thread-main.js`) beside the module at `from` (its import.meta.url). */
export function threadModuleUrl(name: string, from: string): URL {
  const here = fileURLToPath(from);
  if (!here.endsWith('.ts')) return new URL(`./${name}`, from);
  const root = repoRootAbove(here);
  const built = join(root, 'dist', relative(root, dirname(here)), name);
  if (!existsSync(built)) throw new Error(`the thread module ${built} is missing: run npm run build (tests run threads from the build)`);
  return pathToFileURL(built);
}
