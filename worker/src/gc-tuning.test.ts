import { spawnSync } from 'node:child_process';
import { WORKER_V8_FLAGS } from './gc-tuning.js';

describe('worker GC tuning', () => {
  // setFlagsFromString ignores a flag V8 does not know, so a misspelled or retired flag would quietly
  // do nothing; the node binary itself refuses one (exit 9, "bad option").
  test.each(WORKER_V8_FLAGS)('%s is a flag this Node version knows', (flag) => {
    const r = spawnSync(process.execPath, [flag, '-e', '0'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('a flag Node does not know is refused (the check above can fail)', () => {
    const r = spawnSync(process.execPath, ['--heap-growing-percentage=400', '-e', '0'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/bad option/);
  });
});
