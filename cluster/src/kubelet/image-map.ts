/**
 * What stands in for a container image on the process kubelet: a function from the container to the
 * argv to run, or an error that fails the pod. The default knows one image, the worker: any image whose
 * repository's last path segment is `bij-worker` (any registry, any tag or digest) runs this checkout's
 * build of the worker with the Node that runs the kubelet. Nothing else is run: an image it cannot map
 * fails the pod (reason ImageNotMapped), never something in its place.
 */
import type { V1Container } from '@kubernetes/client-node';
import path from 'node:path';

export type ImageMapping = { argv: string[] } | { error: string };
export type ImageMap = (container: V1Container) => ImageMapping;

export const WORKER_REPOSITORY = 'bij-worker';

/** The last path segment of an image's repository: `ghcr.io/a/bij-worker:0.1@sha256:...` → `bij-worker`. */
export function repositoryName(image: string): string {
  const noDigest = image.split('@')[0];
  const lastSlash = noDigest.lastIndexOf('/');
  const last = noDigest.slice(lastSlash + 1);
  const colon = last.indexOf(':');
  return colon >= 0 ? last.slice(0, colon) : last;
}

/** Argv for the worker image, given the repository root and the Node binary (both fixed by the caller). */
export function defaultImageMap(repoRoot: string, nodeBinary: string = process.execPath): ImageMap {
  const workerMain = path.join(repoRoot, 'dist', 'worker', 'src', 'main.js');
  return (c) => {
    const image = c.image ?? '';
    if (repositoryName(image) !== WORKER_REPOSITORY) {
      return { error: `image "${image}" of container ${c.name} is not mapped: this kubelet runs only images named ${WORKER_REPOSITORY} (any registry and tag), as ${nodeBinary} ${workerMain}` };
    }
    let argv = [nodeBinary, workerMain];
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
