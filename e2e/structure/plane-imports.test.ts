/**
 * The layout's one rule (DESIGN.md, section 2): neither plane imports the other, both import core/,
 * and core/ imports neither (nor the local cluster). Tests included: a test that needs both planes
 * lives in e2e/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (n === 'node_modules') return [];
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import (static, dynamic, re-export) of the files under `folder`, as repository paths. */
function importsOf(folder: string): { file: string; target: string }[] {
  return sources(path.join(root, folder)).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(/(?:from|import\(?)\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => ({
      file: path.relative(root, file),
      target: path.relative(root, path.resolve(path.dirname(file), m[1])),
    }));
  });
}

const crossing = (folder: string, forbidden: string[]) =>
  importsOf(folder).filter((i) => forbidden.some((f) => i.target.startsWith(`${f}/`))).map((i) => `${i.file} -> ${i.target}`);

test('the operator imports nothing of the worker', () => {
  expect(crossing('operator', ['worker', 'cluster'])).toEqual([]);
});

test('the worker imports nothing of the operator', () => {
  expect(crossing('worker', ['operator', 'cluster'])).toEqual([]);
});

test('core/ imports neither plane nor the local cluster', () => {
  expect(crossing('core', ['operator', 'worker', 'cluster'])).toEqual([]);
});
