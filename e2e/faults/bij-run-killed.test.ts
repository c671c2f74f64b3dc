/**
 * `kill -9` of `bij run`: its worker processes must die with it (worker/src/parent-watch.ts), not
 * live on as orphans writing into a run that nobody will commit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { writeDataset, writeModel } from '../../core/testing/fixtures.js';
import { fixtureJob, sleep } from '../support/cluster.js';
import { faultEnv } from '../support/fault-env.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The worker processes under `pid` (the local runner's children), from ps. */
function workersOf(pid: number): number[] {
  const ps = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  return ps.stdout.split('\n').filter((l) => l.includes('worker/src/main.js')).map((l) => Number(l.trim().split(/\s+/)[0]));
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('kill -9 of bij run takes its worker processes with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bij-killed-'));
  const model = writeModel(join(dir, 'models'));
  await writeDataset(join(dir, 'in'), { files: 2, rowsPerFile: 4_000, rowGroupRows: 1_000 });
  writeFileSync(join(dir, 'job.yaml'), stringify(fixtureJob('killed', { model, input: join(dir, 'in') + '/', output: join(dir, 'out') + '/' })));
  // Slow workers (the local runner hands them this process's environment), so they are mid-shard.
  const bij = spawn(process.execPath, [join(root, 'bin', 'bij.js'), 'run', join(dir, 'job.yaml')], {
    // Silent workers: an orphan that logs dies of EPIPE sooner or later; a silent one lives on.
    env: faultEnv({ ...process.env, BIJ_FAULT: 'slow-rows:20000', BIJ_LOG_LEVEL: 'silent' }), stdio: 'ignore',
  });
  let workers: number[] = [];
  try {
    const deadline = Date.now() + 60_000;
    while ((workers = workersOf(bij.pid!)).length < 2) {
      if (Date.now() > deadline) throw new Error(`bij run started ${workers.length} workers within 60 s`);
      await sleep(100);
    }
    bij.kill('SIGKILL');
    const gone = Date.now() + 10_000;
    while (workers.some(alive) && Date.now() < gone) await sleep(50);
    expect(workers.filter(alive)).toEqual([]);
  } finally {
    bij.kill('SIGKILL');
    for (const w of workers.filter(alive)) process.kill(w, 'SIGKILL');
  }
}, 90_000);
