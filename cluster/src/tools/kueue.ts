/**
 * The real Kueue controller manager (sigs.k8s.io/kueue/cmd/kueue), built from the module pinned in
 * tools/kueue into the cache outside the tree (go-binary.ts), for the Kueue tests (e2e/kueue), which run
 * it as a process against the real control plane. Its CRDs ship in the same module
 * (config/components/crd/bases/), found in Go's module cache by `kueueCrdDir()`.
 *
 *   const kueue = await kueueBinary();   // builds it first if the cache lacks it (minutes, once)
 *
 * BIJ_KUEUE_BIN names another Kueue manager binary instead (no build).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureGoBinary, goBinaryPath, repoRoot, type EnsureOptions, type GoToolPin } from '../go-binary.js';

export const KUEUE: GoToolPin = {
  name: 'kueue',
  pinDir: 'tools/kueue',
  pkg: 'sigs.k8s.io/kueue/cmd/kueue',
  // What Kueue's Makefile stamps (LD_FLAGS), so the manager logs the pinned release, not "v0.0.0-main".
  linkerVars: (version) => ({ 'sigs.k8s.io/kueue/pkg/version.GitVersion': version }),
};

/** Where the pinned Kueue manager is (or will be), with its module and version. */
export const kueueBinaryPath = (): { bin: string; module: string; version: string } => goBinaryPath(KUEUE);

/** The pinned Kueue manager, built first if missing; `onBuild` hears once that a build starts, and where to. */
export function kueueBinary(opts: EnsureOptions = {}): Promise<string> {
  if (process.env.BIJ_KUEUE_BIN) return Promise.resolve(process.env.BIJ_KUEUE_BIN);
  return ensureGoBinary(KUEUE, opts);
}

/**
 * The folder of Kueue's CRDs in the pinned module (Go's module cache; `go mod download` fetches the
 * module if the cache lacks it, which the build has done already).
 */
export async function kueueCrdDir(): Promise<string> {
  const { module, version } = kueueBinaryPath();
  const { stdout } = await promisify(execFile)('go', ['mod', 'download', '-json', `${module}@${version}`], {
    cwd: path.join(repoRoot(), KUEUE.pinDir),
  });
  const { Dir, Error: err } = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (!Dir) throw new Error(`go mod download ${module}@${version}: ${err ?? 'no Dir'}`);
  return path.join(Dir, 'config', 'components', 'crd', 'bases');
}
