/**
 * Where a worker thread's module file is. Threads are real module files, compiled with the rest to
 * dist/ and started with `new Worker(url)`.
 *
 * From dist/ (the worker, the bench, `bij run`) the thread's file is the sibling of the module that
 * starts it. Under jest the modules run from their TypeScript sources, which Node cannot start as a
 * thread (jest's transform does not reach worker threads): the thread then runs from the build, the
 * same file under dist/. `npm test` builds first; a build older than the thread's sources would run
 * code other than the code under test, so that is refused with the fix, not run (each source of the
 * thread's folders against its own compiled file).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const checked = new Map<string, URL>();

/** The repository root above a source file: the first folder holding package.json and dist/. */
function rootAbove(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root (a folder with package.json and tsconfig.json) above ${file}`);
  }
}

/** The first .ts source (tests left out) in these folders whose compiled .js under dist/ is missing or
 * older than it: the build does not hold the code under test. */
function staleSource(root: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.ts') || name.endsWith('.test.ts') || name.endsWith('.d.ts')) continue;
      const source = join(dir, name);
      const built = join(root, 'dist', relative(root, dir), name.replace(/\.ts$/, '.js'));
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) return source;
    }
  }
  return undefined;
}

/**
 * The URL of thread module `name` (e.g. `parquet-thread-main.js`) beside the module at `from`
 * (its import.meta.url). `sourceDirs`: the folders, relative to that module's, whose sources the
 * thread runs; under jest the build must be newer than every one of them.
 */
export function threadModuleUrl(name: string, from: string, sourceDirs: string[] = ['.']): URL {
  const key = `${from}\n${name}`;
  const known = checked.get(key);
  if (known) return known;
  const here = fileURLToPath(from);
  let url: URL;
  if (!here.endsWith('.ts')) {
    url = new URL(`./${name}`, from);
  } else {
    const root = rootAbove(here);
    const built = join(root, 'dist', relative(root, dirname(here)), name);
    if (!existsSync(built)) throw new Error(`the thread module ${built} is missing: run npm run build (tests run threads from the build)`);
    const stale = staleSource(root, sourceDirs.map((d) => join(dirname(here), d)));
    if (stale) throw new Error(`the build under ${join(root, 'dist')} is older than ${stale}: run npm run build (tests run threads from the build)`);
    url = pathToFileURL(built);
  }
  checked.set(key, url);
  return url;
}
