/**
 * Cron schedules in a time zone: parsing, and the times they name. A thin layer over croner (pure:
 * the times asked about are passed in; croner's own timers are never started).
 *
 * The grammar is Kubernetes CronJob's (robfig/cron's standard parser): five fields, minute hour
 * day-of-month month day-of-week, with names (JAN, MON), ranges, lists and steps; `?` means `*`;
 * when both day fields are restricted a day matching either runs (Vixie cron's OR); and the
 * descriptors @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly. A `TZ=` or
 * `CRON_TZ=` prefix is refused, as the CronJob API refuses it: the zone goes in spec.timeZone.
 *
 * Daylight saving time follows Vixie/ISC cron (croner's `fixedTimeRule: 'no-wildcard'`): a job at a
 * fixed wall time (`30 2 * * *`, also lists and ranges of hours and minutes) that falls in a gap runs
 * at the first time after it, and runs once when its time happens twice; a job with `*` or a step in
 * its minute or hour field runs at every real instant that matches, skipping the gap. So a nightly job
 * is never skipped nor run twice. (robfig/cron, under CronJob, skips such a night.)
 */
import { Cron } from 'croner';

export interface ParsedCron {
  /** The first scheduled time strictly after `t`, or undefined when there is none (e.g. 31 February). */
  next(t: Date): Date | undefined;
  /** The newest scheduled time at or before `t`, or undefined when there is none in reach. */
  latestAtOrBefore(t: Date): Date | undefined;
}

export type CronResult = { ok: true; cron: ParsedCron } | { ok: false; field: 'spec.schedule' | 'spec.timeZone'; message: string };

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};

/** Whether an IANA zone name is one this runtime knows. */
export function isKnownTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** A schedule and a time zone (default UTC) -> the parsed schedule, or a message naming the field. */
export function parseCron(schedule: string, timeZone = 'UTC'): CronResult {
  const text = schedule.trim();
  if (/^(CRON_)?TZ=/.test(text)) {
    return { ok: false, field: 'spec.schedule', message: `${JSON.stringify(schedule)}: a TZ= or CRON_TZ= prefix is not supported; set spec.timeZone instead` };
  }
  if (!isKnownTimeZone(timeZone)) {
    return { ok: false, field: 'spec.timeZone', message: `unknown time zone ${JSON.stringify(timeZone)}: use an IANA name such as UTC, Europe/Berlin or America/New_York` };
  }
  if (text.startsWith('@') && !(text.toLowerCase() in DESCRIPTORS)) {
    return { ok: false, field: 'spec.schedule', message: `${JSON.stringify(schedule)}: unknown descriptor; use 5 fields or one of ${Object.keys(DESCRIPTORS).join(', ')}` };
  }
  const pattern = DESCRIPTORS[text.toLowerCase()] ?? text.replace(/\?/g, '*');
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone: timeZone, mode: '5-part', fixedTimeRule: 'no-wildcard', paused: true });
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    return { ok: false, field: 'spec.schedule', message: `${JSON.stringify(schedule)} is not a cron schedule (minute hour day-of-month month day-of-week): ${why}` };
  }
  if (cron.nextRun(new Date(0)) === null) {
    return { ok: false, field: 'spec.schedule', message: `${JSON.stringify(schedule)} never runs (no such date, e.g. 31 February)` };
  }
  return {
    ok: true,
    cron: {
      next: (t) => cron.nextRun(t) ?? undefined,
      // previousRuns is strict (before its reference): one millisecond later makes it "at or before".
      latestAtOrBefore: (t) => cron.previousRuns(1, new Date(t.getTime() + 1))[0],
    },
  };
}
