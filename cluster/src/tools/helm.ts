/**
 * The real `helm` (v4), built from the module pinned in tools/helm (helm.sh/helm/v4) into the cache
 * outside the tree (go-binary.ts), for the chart's tests: helm lint, helm template, helm install.
 *
 *   const helm = await helmBinary();   // builds it first if the cache lacks it (minutes, once)
 *
 * BIJ_HELM_BIN names another helm binary instead (no build).
 */
import { ensureGoBinary, goBinaryPath, type EnsureOptions, type GoToolPin } from '../go-binary.js';

export const HELM: GoToolPin = {
  name: 'helm',
  pinDir: 'tools/helm',
  pkg: 'helm.sh/helm/v4/cmd/helm',
  // What Helm's Makefile stamps, so `helm version` reports the pinned release, not its "v4.3" default.
  linkerVars: (version) => ({ 'helm.sh/helm/v4/internal/version.version': version, 'helm.sh/helm/v4/internal/version.gitTreeState': 'clean' }),
};

/** Where the pinned helm is (or will be), with its module and version. */
export const helmBinaryPath = (): { bin: string; module: string; version: string } => goBinaryPath(HELM);

/** The pinned helm, built first if missing; `onBuild` hears once that a build starts, and where to. */
export function helmBinary(opts: EnsureOptions = {}): Promise<string> {
  if (process.env.BIJ_HELM_BIN) return Promise.resolve(process.env.BIJ_HELM_BIN);
  return ensureGoBinary(HELM, opts);
}
