import type { V1Container } from '@kubernetes/client-node';
import { defaultImageMap, repositoryName } from './image-map.js';

const root = '/repo';
const map = defaultImageMap(root, '/usr/bin/node');
const worker = ['/usr/bin/node', '/repo/dist/worker/src/main.js'];
const c = (image: string, more: Partial<V1Container> = {}): V1Container => ({ name: 'worker', image, ...more });

describe('repositoryName', () => {
  test.each([
    ['ghcr.io/batchinference/bij-worker:0.1.0', 'bij-worker'],
    ['registry/bij-worker:1.2', 'bij-worker'],
    ['bij-worker:dev', 'bij-worker'],
    ['bij-worker', 'bij-worker'],
    ['localhost:5000/bij-worker', 'bij-worker'],
    ['localhost:5000/x/bij-worker@sha256:abc', 'bij-worker'],
    ['ghcr.io/bij-worker/other:1', 'other'],
    ['busybox:1.36', 'busybox'],
  ])('%s -> %s', (image, want) => expect(repositoryName(image)).toBe(want));
});

describe('defaultImageMap', () => {
  test.each<[string, V1Container, { argv: string[] } | RegExp]>([
    ['worker image, any registry and tag', c('ghcr.io/batchinference/bij-worker:0.1.0'), { argv: worker }],
    ['worker image with args', c('bij-worker:dev', { args: ['--shard', '3'] }), { argv: [...worker, '--shard', '3'] }],
    ['command node <script in checkout>', c('registry/bij-worker:1.2', { command: ['node', 'dist/tools/x.js'], args: ['a'] }), { argv: ['/usr/bin/node', '/repo/dist/tools/x.js', 'a'] }],
    ['absolute script inside the checkout', c('bij-worker', { command: ['/usr/local/bin/node', '/repo/a.js'] }), { argv: ['/usr/bin/node', '/repo/a.js'] }],
    ['another image', c('busybox:1.36'), /image "busybox:1.36" of container worker is not mapped.*bij-worker.*\/repo\/dist\/worker\/src\/main\.js/],
    ['a look-alike repository', c('ghcr.io/bij-worker/evil:1'), /image "ghcr.io\/bij-worker\/evil:1"/],
    ['a command that is not node', c('bij-worker', { command: ['sh', '-c', 'rm -rf /'] }), /command \["sh","-c","rm -rf \/"\] is not mapped/],
    ['node with extra command words', c('bij-worker', { command: ['node', 'a.js', 'b'] }), /is not mapped/],
    ['the operator image runs bij operator', c('ghcr.io/batchinference/bij-operator:0.1.0', { args: ['--metrics-port=8080', '--lease-name=x'] }),
      { argv: ['/usr/bin/node', '/repo/dist/operator/src/cli/main.js', 'operator', '--metrics-port=8080', '--lease-name=x'] }],
    ['the operator image with a command', c('bij-operator:dev', { command: ['node', 'bin/bij.js'], args: ['operator'] }), { argv: ['/usr/bin/node', '/repo/bin/bij.js', 'operator'] }],
    ['a look-alike operator repository', c('ghcr.io/bij-operator/x:1'), /image "ghcr.io\/bij-operator\/x:1" of container worker is not mapped.*bij-operator \(as \/usr\/bin\/node \/repo\/dist\/operator\/src\/cli\/main\.js operator\)/],
    ['a script outside the checkout', c('bij-worker', { command: ['node', '../etc/x.js'] }), /outside the checkout \/repo/],
    ['an absolute script outside', c('bij-worker', { command: ['node', '/tmp/x.js'] }), /outside the checkout/],
  ])('%s', (_, container, want) => {
    const got = map(container);
    if (want instanceof RegExp) expect('error' in got ? got.error : JSON.stringify(got)).toMatch(want);
    else expect(got).toEqual(want);
  });
});
