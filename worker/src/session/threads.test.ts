import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableCpus, parseCfsQuota, parseCpuMax } from './threads.js';

test.each([
  ['max 100000', undefined], ['200000 100000', 2], ['150000 100000', 2], ['50000 100000', 1], ['400000', 4], ['garbage', undefined], ['', undefined],
])('parseCpuMax(%p) = %p', (text, cpus) => {
  expect(parseCpuMax(text)).toBe(cpus);
});

test.each([['-1', '100000', undefined], ['300000', '100000', 3], ['25000', '100000', 1]])('parseCfsQuota(%p, %p) = %p', (q, p, cpus) => {
  expect(parseCfsQuota(q, p)).toBe(cpus);
});

describe('availableCpus', () => {
  const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
  const fixture = (name: string, files: Record<string, string>): string => {
    const dir = join(root, name);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  test.each([
    ['a v2 quota below the OS count', { 'cpu.max': '300000 100000\n' }, 16, 3],
    ['a v2 quota above the OS count', { 'cpu.max': '3200000 100000\n' }, 16, 16],
    ['no v2 quota', { 'cpu.max': 'max 100000\n' }, 8, 8],
    ['a v1 quota', { 'cpu/cpu.cfs_quota_us': '200000', 'cpu/cpu.cfs_period_us': '100000' }, 8, 2],
    ['no cgroup files', {}, 6, 6],
  ])('%s', (name, files, parallelism, expected) => {
    expect(availableCpus({ cgroupRoot: fixture(name.replace(/ /g, '-'), files), parallelism })).toBe(expected);
  });
  test('the real machine gives at least one', () => {
    expect(availableCpus()).toBeGreaterThanOrEqual(1);
  });
});
