/** Parsing and normalising the URIs the storage layer accepts: `s3://bucket/key`, `file:///abs`,
 * `/abs` and relative paths (resolved against a working directory). */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BadInputError } from '../contract/error-kinds.js';

export type ParsedUri =
  | { scheme: 'file'; /** Absolute path; a trailing `/` of the input is kept (it marks a directory prefix). */ path: string }
  | { scheme: 's3'; bucket: string; /** May be empty (the whole bucket). */ key: string };

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/** Parses a storage URI. Relative paths resolve against `cwd` (default: the process's working dir). */
export function parseUri(uri: string, cwd: string = process.cwd()): ParsedUri {
  if (typeof uri !== 'string') throw new BadInputError(`storage URI must be a string, got ${typeof uri}`);
  const m = SCHEME.exec(uri);
  if (m) {
    const scheme = m[1].toLowerCase();
    if (scheme === 's3') {
      const rest = uri.slice(m[0].length);
      const slash = rest.indexOf('/');
      const bucket = slash < 0 ? rest : rest.slice(0, slash);
      const key = slash < 0 ? '' : rest.slice(slash + 1);
      if (!bucket) throw new BadInputError(`bad S3 URI "${uri}": it names no bucket (expected s3://bucket/key)`);
      return { scheme: 's3', bucket, key };
    }
    if (scheme === 'file') {
      let p: string;
      try {
        p = fileURLToPath(uri);
      } catch (cause) {
        throw new BadInputError(`bad file URI "${uri}": expected file:///absolute/path`, { cause });
      }
      return { scheme: 'file', path: p };
    }
    throw new BadInputError(`unsupported storage URI "${uri}": use s3://bucket/key, file:///abs/path or a path`);
  }
  if (uri === '') return { scheme: 'file', path: withSlash(path.resolve(cwd)) };
  return { scheme: 'file', path: keepTrailingSlash(uri, path.resolve(cwd, uri)) };
}

/** `s3://…` unchanged; any local form becomes an absolute `file:///` URI (trailing `/` kept). */
export function normalizeUri(uri: string, cwd: string = process.cwd()): string {
  const p = parseUri(uri, cwd);
  return p.scheme === 's3' ? `s3://${p.bucket}/${p.key}` : toFileUri(p.path);
}

/** A local path (relative ones resolve against cwd) as a `file:///` URI; a trailing `/` is kept. */
export function toFileUri(p: string, cwd: string = process.cwd()): string {
  const abs = keepTrailingSlash(p, path.resolve(cwd, p));
  const href = pathToFileURL(abs).href;
  return abs.endsWith('/') && !href.endsWith('/') ? href + '/' : href;
}

export const s3Uri = (bucket: string, key: string): string => `s3://${bucket}/${key}`;

/** Percent-encodes a relative path the way file: URIs need it, so that appending it to a file: URI
 * prefix and parsing the result gives back the path. */
export function encodeFileUriPath(rel: string): string {
  return rel
    .split('/')
    .map((seg) => encodeURIComponent(seg))
    .join('/');
}

function withSlash(p: string): string {
  return p.endsWith('/') ? p : p + '/';
}

/** path.resolve drops a trailing slash and turns "x/." into "x": a prefix that ends in `/`, `/.` or
 * `/..` (or is `.`/`..`) names a directory, so the result keeps a trailing slash. */
function keepTrailingSlash(input: string, resolved: string): string {
  if (/(^|\/)\.{1,2}$/.test(input) || input.endsWith('/')) return withSlash(resolved);
  return resolved;
}
