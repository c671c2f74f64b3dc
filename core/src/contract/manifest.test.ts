import { NotFoundError } from './error-kinds.js';
import { successUri } from './layout.js';
import { readSuccessMarker } from './manifest.js';

/** A storage that answers readText from a map (missing: NotFoundError) and counts the reads. */
function store(files: Record<string, string | Error>) {
  const reads: string[] = [];
  return {
    reads,
    async readText(uri: string): Promise<string> {
      reads.push(uri);
      const f = files[uri];
      if (f === undefined) throw new NotFoundError(`${uri} not found`);
      if (f instanceof Error) throw f;
      return f;
    },
  };
}

describe('readSuccessMarker', () => {
  const out = 's3://b/scores/';
  test('ours: the marker, in one read', async () => {
    const s = store({ [successUri(out)]: JSON.stringify({ runId: 'r1', manifest: 'm', committedAt: 't' }) });
    expect(await readSuccessMarker(s, out)).toEqual({ runId: 'r1', manifest: 'm', committedAt: 't' });
    expect(s.reads).toEqual([successUri(out)]);
  });

  test('missing, or another tool\'s empty _SUCCESS: no marker', async () => {
    expect(await readSuccessMarker(store({}), out)).toBeUndefined();
    expect(await readSuccessMarker(store({ [successUri(out)]: '' }), out)).toBeUndefined();
  });

  test('a failing read is not "no marker"', async () => {
    await expect(readSuccessMarker(store({ [successUri(out)]: new Error('ECONNRESET') }), out)).rejects.toThrow('ECONNRESET');
  });
});
