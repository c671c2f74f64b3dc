/**
 * Binaries built from Go modules pinned in this repository (a folder under tools/ holding go.mod and
 * go.sum, with a `tool` line for the main package), into a cache outside the working tree, reused
 * while the pin is unchanged:
 *
 *   ${XDG_CACHE_HOME:-~/.cache}/batch-inference-operator/<module>-<version>-<pin hash>/<name>
 *
 * Module downloads go to Go's own GOMODCACHE, the compiler's work to GOCACHE (both outside the tree).
 * Two processes wanting the same binary at once build it once: the first holds a lock file, the
 * others wait for it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface GoToolPin {
  /** The binary's name, e.g. `weed`. */
  name: string;
  /** The pin's folder relative to the repository root, e.g. `tools/s3`. */
  pinDir: string;
  /** The main package, e.g. `github.com/seaweedfs/seaweedfs/weed`. */
  pkg: string;
  /** `-X` settings for the linker, given the pinned module version (e.g. the version a binary reports). */
  linkerVars?(version: string): Record<string, string>;
  /** Build tags (`go build -tags`), e.g. to leave out optional parts; they are part of the cache key. */
  tags?: string[];
}

/** The repository root: the first folder above this file (source or dist/) that holds `tools/`. */
export function repoRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'tools')) && existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no repository root (a folder with tools/ and package.json) above ${fileURLToPath(import.meta.url)}`);
  }
}

export const cacheRoot = (): string =>
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'batch-inference-operator');

/** The version go.mod requires of the module that holds `pkg` (the longest matching module path). */
export function pinnedVersion(goMod: string, pkg: string): { module: string; version: string } {
  let best: { module: string; version: string } | undefined;
  for (const m of goMod.matchAll(/^\s*(?:require\s+)?([\w.\-/]+)\s+(v\S+)/gm)) {
    const [, mod, version] = m;
    if ((pkg === mod || pkg.startsWith(`${mod}/`)) && (!best || mod.length > best.module.length)) best = { module: mod, version };
  }
  if (!best) throw new Error(`go.mod requires no module that holds ${pkg}`);
  return best;
}

/** Where the pinned binary lives (whether or not it is built yet), and what it is. */
export function goBinaryPath(pin: GoToolPin): { bin: string; module: string; version: string } {
  const dir = path.join(repoRoot(), pin.pinDir);
  const goMod = readFileSync(path.join(dir, 'go.mod'), 'utf8');
  const { module, version } = pinnedVersion(goMod, pin.pkg);
  const h = createHash('sha256').update(goMod).update(readFileSync(path.join(dir, 'go.sum')));
  if (pin.tags?.length) h.update(`\ntags=${pin.tags.join(',')}`);
  const hash = h.digest('hex').slice(0, 10);
  return { bin: path.join(cacheRoot(), `${path.basename(module.replace(/\/v\d+$/, ''))}-${version}-${hash}`, pin.name), module, version };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Runs `go build` for the pin; its output goes to `log` (stderr by default). */
function goBuild(pin: GoToolPin, version: string, out: string, log: (s: string) => void): Promise<void> {
  const vars = Object.entries(pin.linkerVars?.(version) ?? {}).map(([k, v]) => ` -X ${k}=${v}`).join('');
  const tags = pin.tags?.length ? [`-tags=${pin.tags.join(',')}`] : [];
  const args = ['build', '-trimpath', ...tags, `-ldflags=-s${vars}`, '-o', out, pin.pkg];
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, { cwd: path.join(repoRoot(), pin.pinDir), stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (d: Buffer): void => {
      log(d.toString());
      tail = (tail + d.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (e) => {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new Error(missing
        ? `cannot build ${pin.name}: the Go toolchain (go, 1.26 or later) is not on PATH`
        : `cannot build ${pin.name}: go build failed to start`, { cause: e }));
    });
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`go ${args.join(' ')} (in ${pin.pinDir}) failed with ${signal ?? `exit code ${code}`}: ${tail.trim()}`));
    });
  });
}

export interface EnsureOptions {
  /** Told once when a build starts (it takes minutes on a cold machine). */
  onBuild?(info: { bin: string; module: string; version: string }): void;
  /** Build output; default: none. */
  log?(s: string): void;
}

/** The pinned binary, built first if the cache lacks it. */
export async function ensureGoBinary(pin: GoToolPin, opts: EnsureOptions = {}): Promise<string> {
  const info = goBinaryPath(pin);
  if (existsSync(info.bin)) return info.bin;
  const dir = path.dirname(info.bin);
  await fs.mkdir(dir, { recursive: true });
  const lock = path.join(dir, '.lock');
  for (;;) {
    if (existsSync(info.bin)) return info.bin;
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(lock, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number((await fs.readFile(lock, 'utf8').catch(() => '')).trim());
      // a lock left by a process that died (or one just being written: give it a moment)
      if (holder > 0 && !alive(holder)) await fs.rm(lock, { force: true });
      else await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      await handle.writeFile(String(process.pid));
      await handle.close();
      if (existsSync(info.bin)) return info.bin;
      opts.onBuild?.(info);
      const tmp = `${info.bin}.tmp-${process.pid}`;
      try {
        await goBuild(pin, info.version, tmp, opts.log ?? (() => undefined)).catch((e: Error) => {
          throw new Error(`cannot build ${pin.name} from ${info.module}@${info.version} (pinned in ${pin.pinDir}/go.mod): ${e.message}`, { cause: e });
        });
        await fs.rename(tmp, info.bin);
      } finally {
        await fs.rm(tmp, { force: true });
      }
      return info.bin;
    } finally {
      await fs.rm(lock, { force: true });
    }
  }
}
