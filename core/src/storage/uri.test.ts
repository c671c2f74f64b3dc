import { BadInputError } from '../contract/error-kinds.js';
import { normalizeUri, parseUri, toFileUri } from './uri.js';

describe('parseUri', () => {
  test('s3 URIs: bucket and key (key may be empty or a prefix)', () => {
    expect(parseUri('s3://bkt/a/b.parquet')).toEqual({ scheme: 's3', bucket: 'bkt', key: 'a/b.parquet' });
    expect(parseUri('s3://bkt/dir/')).toEqual({ scheme: 's3', bucket: 'bkt', key: 'dir/' });
    expect(parseUri('s3://bkt')).toEqual({ scheme: 's3', bucket: 'bkt', key: '' });
    expect(parseUri('S3://bkt/k')).toEqual({ scheme: 's3', bucket: 'bkt', key: 'k' });
    expect(() => parseUri('s3:///k')).toThrow(BadInputError);
  });

  test('file URIs, absolute and relative paths; a trailing slash is kept', () => {
    expect(parseUri('file:///data/x.parquet')).toEqual({ scheme: 'file', path: '/data/x.parquet' });
    expect(parseUri('file:///data/dir/')).toEqual({ scheme: 'file', path: '/data/dir/' });
    expect(parseUri('file:///data/a%20b')).toEqual({ scheme: 'file', path: '/data/a b' });
    expect(parseUri('/abs/x')).toEqual({ scheme: 'file', path: '/abs/x' });
    expect(parseUri('rel/x', '/work')).toEqual({ scheme: 'file', path: '/work/rel/x' });
    expect(parseUri('rel/dir/', '/work')).toEqual({ scheme: 'file', path: '/work/rel/dir/' });
    expect(parseUri('.', '/work')).toEqual({ scheme: 'file', path: '/work/' });
    expect(parseUri('', '/work')).toEqual({ scheme: 'file', path: '/work/' });
    expect(parseUri('a/..', '/work')).toEqual({ scheme: 'file', path: '/work/' });
    expect(parseUri('odd#name?x', '/work')).toEqual({ scheme: 'file', path: '/work/odd#name?x' });
  });

  test('other schemes and file URIs with a host are bad input', () => {
    expect(() => parseUri('gs://b/k')).toThrow(/unsupported storage URI "gs:\/\/b\/k"/);
    expect(() => parseUri('http://host/x')).toThrow(BadInputError);
    expect(() => parseUri('file://host/x')).toThrow(BadInputError);
  });

  test('normalizeUri and toFileUri', () => {
    expect(normalizeUri('s3://b/k')).toBe('s3://b/k');
    expect(normalizeUri('rel/a b', '/w')).toBe('file:///w/rel/a%20b');
    expect(normalizeUri('rel/', '/w')).toBe('file:///w/rel/');
    expect(toFileUri('/x/y/')).toBe('file:///x/y/');
    expect(parseUri(toFileUri('/x/a#b c%'))).toEqual({ scheme: 'file', path: '/x/a#b c%' });
  });
});
