/**
 * Where a URI really points, for the one question that must never be answered by comparing strings:
 * do two locations overlap? `file:///data//in/`, `file:///data/%69n`, `/data/x/../in` and a symlink to
 * /data/in all name /data/in; `s3://b/in//` and `s3://b/in/` name one prefix.
 *
 * - `lexicalLocation` is pure: it decodes and normalises the URI (percent-escapes, `//`, `.`, `..`,
 *   trailing `/`) but does not touch the filesystem.
 * - `canonicalLocation` also resolves symlinks: the real path of the longest existing ancestor, plus
 *   the rest of the path (which does not exist yet, so it cannot be a link).
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { parseUri } from './uri.js';

export interface Location {
  scheme: 'file' | 's3';
  /** '' for files. */
  bucket: string;
  /** Path segments, normalised: no empty, `.` or `..` segments. */
  segments: string[];
}

function decode(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg; // a lone '%' is a literal percent sign
  }
}

/** Applies `.` and `..` and drops empty segments; `..` above the root stays at the root (as POSIX does). */
function normaliseSegments(raw: string[]): string[] {
  const out: string[] = [];
  for (const s of raw) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return out;
}

/** Pure: the URI decoded and normalised. Relative paths resolve against `cwd`. */
export function lexicalLocation(uri: string, cwd?: string): Location {
  const p = parseUri(uri, cwd);
  if (p.scheme === 's3') {
    // S3 keys are literal, but a key spelled with `//`, `..` or %-escapes is almost always a mistake
    // for the plain one: for overlap, the normalised decoded key is the safe reading.
    return { scheme: 's3', bucket: p.bucket, segments: normaliseSegments(decode(p.key).split('/')) };
  }
  return { scheme: 'file', bucket: '', segments: normaliseSegments(p.path.split('/')) };
}

/** The location with symlinks resolved (files); S3 locations are returned as `lexicalLocation` gives them. */
export async function canonicalLocation(uri: string, cwd?: string): Promise<Location> {
  const lex = lexicalLocation(uri, cwd);
  if (lex.scheme === 's3') return lex;
  for (let n = lex.segments.length; n >= 0; n--) {
    const head = '/' + lex.segments.slice(0, n).join('/');
    let real: string;
    try {
      real = await realpath(head);
    } catch {
      continue; // does not exist (or cannot be read): try its parent
    }
    return { scheme: 'file', bucket: '', segments: [...normaliseSegments(real.split(path.sep)), ...lex.segments.slice(n)] };
  }
  return lex;
}

export const locationText = (l: Location): string =>
  l.scheme === 's3' ? `s3://${l.bucket}/${l.segments.join('/')}` : '/' + l.segments.join('/');

const within = (inner: Location, outer: Location): boolean =>
  inner.scheme === outer.scheme && inner.bucket === outer.bucket &&
  outer.segments.length <= inner.segments.length && outer.segments.every((s, i) => inner.segments[i] === s);

export type Overlap = 'same' | 'a-inside-b' | 'b-inside-a';

/** Whether two locations are one, or one lies inside the other; undefined when they are apart. */
export function overlap(a: Location, b: Location): Overlap | undefined {
  const aInB = within(a, b);
  const bInA = within(b, a);
  if (aInB && bInA) return 'same';
  if (aInB) return 'a-inside-b';
  if (bInA) return 'b-inside-a';
  return undefined;
}

export const sameLocation = (a: Location, b: Location): boolean => overlap(a, b) === 'same';
