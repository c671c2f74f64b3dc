import { formatEntry, LineSplitter, parseEntries, renderEntries, rfc3339Nano, type LogEntry } from './log-format.js';
import { parseLogQuery } from './logs-server.js';

const e = (time: string, content: string, full = true): LogEntry => ({ time, stream: 'stdout', full, content });
const t = (s: number) => `2025-01-01T00:00:${String(s).padStart(2, '0')}Z`;
const entries = [e(t(1), 'one'), e(t(2), 'tw', false), e(t(3), 'o'), e(t(4), 'three'), e(t(5), 'unfinished', false)];

describe('rfc3339Nano', () => {
  test.each([
    [Date.UTC(2025, 0, 1, 12, 0, 0, 0), '2025-01-01T12:00:00Z'],
    [Date.UTC(2025, 0, 1, 12, 0, 0, 123), '2025-01-01T12:00:00.123Z'],
    [Date.UTC(2025, 0, 1, 12, 0, 0, 5) + 0.25, '2025-01-01T12:00:00.00525Z'],
  ])('%d -> %s', (ms, want) => expect(rfc3339Nano(ms)).toBe(want));
});

describe('entries', () => {
  test('a line splitter keeps partial lines until they end, and flushes the rest as P', () => {
    const s = new LineSplitter('stderr', () => Date.UTC(2025, 0, 1));
    expect(s.push('a\nb')).toEqual([{ time: '2025-01-01T00:00:00Z', stream: 'stderr', full: true, content: 'a' }]);
    expect(s.push('c\n\n').map((x) => x.content)).toEqual(['bc', '']);
    expect(s.push('tail')).toEqual([]);
    expect(s.flush()).toEqual([{ time: '2025-01-01T00:00:00Z', stream: 'stderr', full: false, content: 'tail' }]);
    expect(s.flush()).toEqual([]);
  });
  test('a very long line is split into P entries', () => {
    const got = new LineSplitter('stdout').push('x'.repeat(20_000));
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((x) => !x.full)).toBe(true);
  });
  test('format and parse round-trip; malformed lines are skipped', () => {
    const text = entries.map(formatEntry).join('') + 'garbage\n2025 stdout F';
    expect(parseEntries(text)).toEqual(entries);
  });
});

describe('renderEntries', () => {
  test.each<[string, Parameters<typeof renderEntries>[1], string]>([
    ['all', {}, 'one\ntwo\nthree\nunfinished'],
    ['timestamps on each entry', { timestamps: true, tailLines: 2 }, `${t(4)} three\n${t(5)} unfinished`],
    ['tailLines counts whole lines', { tailLines: 3 }, 'two\nthree\nunfinished'],
    ['tailLines 0', { tailLines: 0 }, ''],
    ['tailLines more than there are', { tailLines: 99 }, 'one\ntwo\nthree\nunfinished'],
    ['since', { since: new Date(t(4)) }, 'three\nunfinished'],
  ])('%s', (_, q, want) => expect(renderEntries(entries, q)).toBe(want));
});

describe('parseLogQuery', () => {
  const now = new Date(t(30));
  test('reads what kubectl sends', () => {
    expect(parseLogQuery(new URLSearchParams('follow=true&tailLines=5&limitBytes=10&timestamps=true&sinceSeconds=10'), now))
      .toEqual({ follow: true, timestamps: true, tailLines: 5, limitBytes: 10, since: new Date(t(20)) });
    expect(parseLogQuery(new URLSearchParams(`sinceTime=${t(3)}`), now).since).toEqual(new Date(t(3)));
    expect(parseLogQuery(new URLSearchParams(''), now)).toEqual({ follow: false, timestamps: false, tailLines: undefined, limitBytes: undefined, since: undefined });
  });
  test.each(['tailLines=-1', 'limitBytes=x', 'sinceTime=yesterday'])('refuses %s', (q) => {
    expect(() => parseLogQuery(new URLSearchParams(q), now)).toThrow(q.split('=')[0]);
  });
});
