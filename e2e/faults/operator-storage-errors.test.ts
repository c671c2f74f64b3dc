/**
 * Storage failures the operator meets end the run or say why it waits (reconciler/storage-failure.ts):
 * the operator's storage is wrapped to fail like a full disk or a flaky store, the workers' is not.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../core/src/storage/index.js';
import { mapFsError } from '../../core/src/storage/backend-errors.js';
import type { Storage } from '../../core/src/storage/types.js';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
import { TestCluster, fixtureJob } from '../support/cluster.js';

const errno = (code: string, syscall: string, path: string) =>
  Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });

/** The real storage with some methods replaced. */
const wrapped = (over: Partial<Storage>): Storage => Object.assign(Object.create(openStorage()) as Storage, over);

describe('storage errors seen by the operator', () => {
  let root: string;
  let model: string;
  let input: string;
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bij-storage-errors-'));
    model = writeModel(join(root, 'models'));
    input = join(root, 'in');
    await writeDataset(input, { files: 2, rowsPerFile: 2_000, rowGroupRows: 500 });
  }, 60_000);
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  test('a full disk during the commit fails the run after a few tries, naming the operation, file and error', async () => {
    const real = openStorage();
    const full = wrapped({
      copy: async (from, to) => { throw mapFsError(errno('ENOSPC', 'copyfile', to), 'copy', to); },
    });
    cluster = await TestCluster.start({ operatorOptions: { openStorage: () => full } });
    const out = join(root, 'out-full');
    await cluster.apply(fixtureJob('full', { model, input: input + '/', output: out + '/' }));
    const st = await cluster.waitForPhase('full', ['Succeeded', 'Failed'], 60_000);
    expect(st?.phase).toBe('Failed');
    const cond = st?.conditions?.find((c) => c.type === 'Failed');
    expect(cond?.reason).toBe('StorageError');
    expect(cond?.message).toMatch(/storage error \(after 3 tries\): cannot copy .*out-full\/part-s0000\d-00000\.parquet: ENOSPC/);
    expect(await cluster.waitForEvent('full', 'StorageError')).toContain('StorageError');
    expect(existsSync(join(out, '_SUCCESS'))).toBe(false);
    expect(await real.exists(join(out, '_manifest.json'))).toBe(false);
  }, 90_000);

  test('a store that fails for a while: the status says why nothing moves, then the run succeeds', async () => {
    let failing = true;
    const flaky = wrapped({
      exists: async (uri) => {
        if (failing) throw new Error(`cannot stat ${uri}: ECONNRESET`, { cause: errno('ECONNRESET', 'read', uri) });
        return openStorage().exists(uri);
      },
    });
    cluster = await TestCluster.start({ operatorOptions: { openStorage: () => flaky } });
    const out = join(root, 'out-flaky');
    await cluster.apply(fixtureJob('flaky', { model, input: input + '/', output: out + '/' }));
    const waiting = await cluster.waitFor('flaky', (s) => /^retrying since .* after a storage error: cannot stat .*ECONNRESET/.test(s?.message ?? ''), 30_000);
    expect(waiting?.phase).not.toBe('Failed');
    expect(await cluster.waitForEvent('flaky', 'StorageRetrying')).toContain('StorageRetrying');
    failing = false;
    const st = await cluster.waitForPhase('flaky', ['Succeeded', 'Failed'], 60_000);
    expect(st?.phase).toBe('Succeeded');
    expect(st?.message).not.toMatch(/storage error/);
  }, 120_000);
});
