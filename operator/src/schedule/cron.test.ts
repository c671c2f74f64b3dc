/** Cron parsing: CronJob's grammar, refusals that name the field, and the times a schedule names. */
import { parseCron } from './cron.js';

test.each<[string, string, string | undefined, string, string]>([
  // name, schedule, zone, from (exclusive), next
  ['every five minutes', '*/5 * * * *', undefined, '2026-12-05T00:01:00Z', '2026-12-05T00:05:00Z'],
  ['names of months and days', '0 3 * JAN-MAR MON', 'UTC', '2026-12-05T00:00:00Z', '2027-01-04T03:00:00Z'],
  ['? is *', '0 3 ? * *', 'UTC', '2026-12-05T00:00:00Z', '2026-12-05T03:00:00Z'],
  ['@daily', '@daily', 'UTC', '2026-12-05T00:00:00Z', '2026-12-06T00:00:00Z'],
  ['@hourly in a zone', '@hourly', 'Asia/Kolkata', '2026-12-05T00:00:00Z', '2026-12-05T00:30:00Z'],
  ['both day fields restricted: either matches (Vixie cron)', '0 0 1 * MON', 'UTC', '2026-12-02T00:00:00Z', '2026-12-07T00:00:00Z'],
])('%s: %s', (_name, schedule, zone, from, next) => {
  const r = parseCron(schedule, zone);
  if (!r.ok) throw new Error(r.message);
  expect(r.cron.next(new Date(from))?.toISOString().replace('.000', '')).toBe(next);
});

test('latestAtOrBefore includes the instant itself', () => {
  const r = parseCron('*/5 * * * *');
  if (!r.ok) throw new Error(r.message);
  expect(r.cron.latestAtOrBefore(new Date('2026-12-05T00:05:00Z'))?.toISOString()).toBe('2026-12-05T00:05:00.000Z');
  expect(r.cron.latestAtOrBefore(new Date('2026-12-05T00:04:59Z'))?.toISOString()).toBe('2026-12-05T00:00:00.000Z');
});

test.each<[string, string | undefined, string, string]>([
  ['61 * * * *', undefined, 'spec.schedule', 'minute'],
  ['* * * *', undefined, 'spec.schedule', 'not a cron schedule'],
  ['0 0 0 * * *', undefined, 'spec.schedule', 'not a cron schedule'],
  ['@every 5m', undefined, 'spec.schedule', 'unknown descriptor'],
  ['TZ=Europe/Berlin 0 2 * * *', undefined, 'spec.schedule', 'set spec.timeZone instead'],
  ['0 0 31 2 *', undefined, 'spec.schedule', 'never runs'],
  ['0 2 * * *', 'Europe/Atlantis', 'spec.timeZone', 'unknown time zone "Europe/Atlantis"'],
])('%s (zone %s) is refused, naming %s', (schedule, zone, field, message) => {
  const r = parseCron(schedule, zone);
  expect(r).toMatchObject({ ok: false, field, message: expect.stringContaining(message) });
});
