import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalLocation, lexicalLocation, locationText, overlap } from './location.js';

const lex = (u: string) => locationText(lexicalLocation(u, '/work'));

describe('lexicalLocation', () => {
  test.each([
    ['file:///data//eq/', '/data/eq'],
    ['file:///data/%65q', '/data/eq'],
    ['/data/x/../eq/', '/data/eq'],
    ['/data/./eq', '/data/eq'],
    ['rel/dir/', '/work/rel/dir'],
    ['s3://b//in/', 's3://b/in'],
    ['s3://b/a%2Fb/c', 's3://b/a/b/c'],
    ['s3://b/in/../out', 's3://b/out'],
    ['s3://b/100%', 's3://b/100%'],
    ['s3://b', 's3://b/'],
  ])('%s -> %s', (uri, want) => expect(lex(uri)).toBe(want));
});

describe('overlap', () => {
  const o = (a: string, b: string) => overlap(lexicalLocation(a), lexicalLocation(b));
  test.each<[string, string, ReturnType<typeof o>]>([
    ['s3://b/in/', 's3://b/in', 'same'],
    ['s3://b/in/out/', 's3://b/in/', 'a-inside-b'],
    ['s3://b/in/', 's3://b/in/out', 'b-inside-a'],
    ['s3://b/in-scores/', 's3://b/in/', undefined],
    ['s3://a/in/', 's3://b/in/', undefined],
    ['s3://b/x', '/b/x', undefined],
    ['s3://b/', 's3://b/anything', 'b-inside-a'],
    ['s3://b/in%2Fout/', 's3://b/in/', 'a-inside-b'],
  ])('%s vs %s', (a, b, want) => expect(o(a, b)).toBe(want));
});

describe('canonicalLocation', () => {
  test('resolves a symlink in the longest existing ancestor, keeps the rest', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bij-loc-'));
    mkdirSync(join(root, 'real', 'in'), { recursive: true });
    symlinkSync(join(root, 'real'), join(root, 'link'));
    const real = await canonicalLocation(`${root}/real/in/`);
    const viaLink = await canonicalLocation(`file://${root}/link/in`);
    expect(overlap(viaLink, real)).toBe('same');
    const notYet = await canonicalLocation(`${root}/link/in/out/new/`);
    expect(overlap(notYet, real)).toBe('a-inside-b');
    expect(overlap(lexicalLocation(`${root}/link/in`), lexicalLocation(`${root}/real/in`))).toBeUndefined();
  });
});
