/**
 * What stands in for a container image on the process kubelet: a function from the container to the
 * argv to run, or an error that fails the pod. The default knows this project's two images, each by the
 * last path segment of its repository (any registry, any tag or digest), run from this checkout's
 * build with the Node that runs the kubelet, as the image's ENTRYPOINT would run them:
 *
 *   bij-worker     node dist/worker/src/main.js <args>        (Dockerfile.worker)
 *   bij-operator   node dist/operator/src/cli/main.js operator <args>   (Dockerfile.operator; the Helm chart's pod)
 *
 * A `command` replaces the entrypoint, as in Kubernetes, but only `node <script in the checkout>` is
 * mapped. Nothing else is run: an image it cannot map fails the pod (reason ImageNotMapped), never
 * something in its place.
 */
import type { V1Container } from '@kubernetes/client-node';
import path from 'node:path';

export type ImageMapping = { argv: string[] } | { error: string };
export type ImageMap = (container: V1Container) => ImageMapping;

export const WORKER_REPOSITORY = 'bij-worker';
export const OPERATOR_REPOSITORY = 'bij-operator';

/** The last path segment of an image's repository: `ghcr.io/a/bij-worker:0.1@sha256:...` → `bij-worker`. */
export function repositoryName(image: string): string {
  const noDigest = image.split('@')[0];
  const lastSlash = noDigest.lastIndexOf('/');
  const last = noDigest.slice(lastSlash + 1);
  const colon = last.indexOf(':');
  return colon >= 0 ? last.slice(0, colon) : last;
}

/** Each known image's entrypoint after `node`, relative to the checkout. */
const ENTRYPOINTS: Record<string, string[]> = {
  [WORKER_REPOSITORY]: ['dist/worker/src/main.js'],
  [OPERATOR_REPOSITORY]: ['dist/operator/src/cli/main.js', 'operator'],
};

/** Argv for this project's images, given the repository root and the Node binary (both fixed by the caller). */
export function defaultImageMap(repoRoot: string, nodeBinary: string = process.execPath): ImageMap {
  const entry = (repo: string): string[] => {
    const [script, ...rest] = ENTRYPOINTS[repo];
    return [nodeBinary, path.join(repoRoot, script), ...rest];
  };
  const known = Object.keys(ENTRYPOINTS).map((r) => `${r} (as ${entry(r).join(' ')})`).join(' and ');
  return (c) => {
    const image = c.image ?? '';
    const repo = repositoryName(image);
    if (!Object.hasOwn(ENTRYPOINTS, repo)) {
      return { error: `image "${image}" of container ${c.name} is not mapped: this kubelet runs only the images named ${known}, any registry and tag` };
    }
    let argv = entry(repo);
    if (c.command && c.command.length > 0) {
      const [bin, script, ...rest] = c.command;
      if (path.basename(bin) !== 'node' || script === undefined || rest.length > 0) {
        return { error: `container ${c.name} (image "${image}"): command ${JSON.stringify(c.command)} is not mapped: only ["node", "<script in the checkout>"] is` };
      }
      const resolved = path.resolve(repoRoot, script);
      const rel = path.relative(repoRoot, resolved);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
        return { error: `container ${c.name} (image "${image}"): command script ${script} is outside the checkout ${repoRoot}` };
      }
      argv = [nodeBinary, resolved];
    }
    return { argv: [...argv, ...(c.args ?? [])] };
  };
}
