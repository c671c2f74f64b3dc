/**
 * One Node.js major everywhere: the tests run on the line package.json pins, `engines` names it as
 * the oldest supported, and both images are built on it. A drift between any two fails here.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (f: string) => readFileSync(join(root, f), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };
const pinnedMajor = Number(/^(\d+)\./.exec(pkg.devDependencies.node)?.[1]);

describe('Node.js runtime', () => {
  it('pins an exact Node version as a dev dependency', () => {
    expect(pkg.devDependencies.node).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pinnedMajor % 2).toBe(0); // even majors are the LTS lines
  });

  it('runs these tests on the pinned major', () => {
    expect(Number(process.versions.node.split('.')[0])).toBe(pinnedMajor);
  });

  it('names the pinned major as the oldest supported engine', () => {
    expect(pkg.engines.node).toBe(`>=${pinnedMajor}`);
  });

  it.each(['Dockerfile.operator', 'Dockerfile.worker'])('%s builds and runs on the pinned major', (file) => {
    const images = [...read(file).matchAll(/node:(\d+)[-\w.]*/g)].map((m) => Number(m[1]));
    expect(images.length).toBeGreaterThan(0);
    expect(new Set(images)).toEqual(new Set([pinnedMajor]));
  });

  it('the Helm chart documents the same major', () => {
    expect(read('helm/bij-operator/Chart.yaml')).toContain(`batchinference.dev/node-version: "${pinnedMajor}"`);
  });
});
