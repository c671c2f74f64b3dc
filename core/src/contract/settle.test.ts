import { awaitedLater, bestEffort, errorText } from './settle.js';

test('bestEffort gives the value, or reports the failure and gives the fallback', async () => {
  const seen: unknown[] = [];
  expect(await bestEffort(Promise.resolve(3), (e) => seen.push(e), 0)).toBe(3);
  expect(seen).toEqual([]);
  const boom = new Error('store down', { cause: new Error('ECONNRESET') });
  expect(await bestEffort(Promise.reject(boom), (e) => seen.push(errorText(e)), false)).toBe(false);
  expect(seen).toEqual(['store down: ECONNRESET']);
  expect(await bestEffort(undefined, () => seen.push('never'), 'none')).toBe('none');
  expect(seen).toHaveLength(1);
});

test('awaitedLater keeps the rejection for whoever awaits it, and reports nothing unhandled meanwhile', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown) => unhandled.push(r);
  process.on('unhandledRejection', onUnhandled);
  try {
    const p = awaitedLater(Promise.reject(new Error('later')));
    await new Promise((r) => setTimeout(r, 20));
    await expect(p).rejects.toThrow('later');
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
