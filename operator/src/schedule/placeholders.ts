/**
 * Path placeholders: a BatchInferenceSchedule's jobTemplate may name the scheduled time in the strings
 * under spec.model, spec.input and spec.output, so that each run reads and writes its own dated prefix:
 *
 *   input.uri:  s3://lake/features/date=${date}/         ->  s3://lake/features/date=2026-12-05/
 *   output.uri: s3://scores/churn/${year}/${month}/${day}/ ->  s3://scores/churn/2026/12/05/
 *   input.uri:  s3://lake/features/date=${date-1d}/       ->  the day before (yesterday's partition)
 *
 * A placeholder is `${name}` or `${name+Nd}` / `${name-Nd}` (shifted by N calendar days):
 *   date      2026-12-05        datetime  20261205T0200 (ISO 8601 basic: no ':' for Hadoop-style paths)
 *   year      2026              month     12      day  05      hour  02      minute  00
 * Every value is the scheduled time's wall clock in the schedule's timeZone (default UTC), so a run
 * at 01:30 Europe/Berlin on 5 December has date 2026-12-05 although it is still the 4th in UTC. A day
 * shift moves the calendar date and keeps the wall time (a DST change does not move it by an hour).
 *
 * `${` always opens a placeholder: an unknown name is an error naming the field. The syntax is shell's
 * and Argo's, short enough to read inside a path, safe unquoted in YAML, and it cannot be mistaken
 * for Kubernetes' `$(VAR)` expansion in container args. Pure.
 */
import type { FieldError } from '../api/field-error.js';

export const PLACEHOLDER_NAMES = ['date', 'datetime', 'year', 'month', 'day', 'hour', 'minute'] as const;
type PlaceholderName = (typeof PLACEHOLDER_NAMES)[number];

/** The spec sections whose strings are rendered. */
export const TEMPLATED_SECTIONS = ['model', 'input', 'output'] as const;

const ANY = /\$\{([^}]*)\}/g;
const ONE = /^(date|datetime|year|month|day|hour|minute)(?:([+-])(\d{1,4})d)?$/;
const OPEN = /\$\{(?![^}]*\})/;

export interface WallClock { year: number; month: number; day: number; hour: number; minute: number }

/** The wall clock of an instant in an IANA time zone. */
export function wallClock(t: Date, timeZone: string): WallClock {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23',
  }).formatToParts(t);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute') };
}

function shiftDays(w: WallClock, days: number): WallClock {
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day + days));
  return { ...w, year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function format(name: PlaceholderName, w: WallClock): string {
  switch (name) {
    case 'date': return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
    case 'datetime': return `${pad(w.year, 4)}${pad(w.month)}${pad(w.day)}T${pad(w.hour)}${pad(w.minute)}`;
    case 'year': return pad(w.year, 4);
    case 'month': return pad(w.month);
    case 'day': return pad(w.day);
    case 'hour': return pad(w.hour);
    case 'minute': return pad(w.minute);
  }
}

/** The problem with one string's placeholders, or undefined when they are all known. */
export function placeholderProblem(s: string): string | undefined {
  for (const m of s.matchAll(ANY)) {
    if (!ONE.test(m[1])) {
      return `unknown placeholder ${m[0]}: use \${name} or \${name-Nd}/\${name+Nd} with name one of ${PLACEHOLDER_NAMES.join(', ')}`;
    }
  }
  if (OPEN.test(s)) return `unclosed placeholder in ${JSON.stringify(s)}: a placeholder is \${name}`;
  return undefined;
}

/** The placeholders a string holds, as written (`${date}`, `${date-1d}`). */
export const placeholdersIn = (s: string): string[] => [...s.matchAll(ANY)].map((m) => m[0]);

/** One string with its placeholders filled in. Throws on an unknown one (check first with placeholderProblem). */
export function renderString(s: string, scheduledTime: Date, timeZone: string): string {
  const wall = wallClock(scheduledTime, timeZone);
  return s.replace(ANY, (whole: string, inner: string) => {
    const m = ONE.exec(inner);
    if (!m) throw new Error(`unknown placeholder ${whole}`);
    const days = m[2] === undefined ? 0 : (m[2] === '-' ? -1 : 1) * Number(m[3]);
    return format(m[1] as PlaceholderName, days === 0 ? wall : shiftDays(wall, days));
  });
}

/** Every string under a value with its path: `model.uri`, `input.passthroughColumns[0]`, ... */
function* strings(value: unknown, path: string): Generator<[string, string]> {
  if (typeof value === 'string') yield [path, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, `${path}[${i}]`);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) yield* strings(v, /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`);
  }
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
  return value;
}

type SpecLike = Record<string, unknown>;

/** In a schedule's jobTemplate.spec: every placeholder must be a known one. `prefix` names the spec. */
export function templatePlaceholderErrors(spec: SpecLike, prefix: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const section of TEMPLATED_SECTIONS) {
    for (const [field, s] of strings(spec[section], `${prefix}.${section}`)) {
      const problem = placeholderProblem(s);
      if (problem) errors.push({ field, message: problem });
    }
  }
  return errors;
}

/** In a BatchInferenceJob made by hand: no placeholder at all (nothing would fill it in). */
export function jobPlaceholderErrors(spec: SpecLike, prefix = 'spec'): FieldError[] {
  const errors: FieldError[] = [];
  for (const section of TEMPLATED_SECTIONS) {
    for (const [field, s] of strings(spec[section], `${prefix}.${section}`)) {
      const found = placeholdersIn(s);
      if (found.length > 0) {
        errors.push({
          field,
          message: `holds the placeholder ${found[0]}, which only a BatchInferenceSchedule's jobTemplate fills in: write the path out, or create this job from a schedule`,
        });
      }
    }
  }
  return errors;
}

/** A template spec with the placeholders in its model, input and output filled in for one scheduled time. */
export function renderTemplateSpec<T extends SpecLike>(spec: T, scheduledTime: Date, timeZone: string): T {
  const out: SpecLike = { ...spec };
  for (const section of TEMPLATED_SECTIONS) {
    if (section in spec) out[section] = mapStrings(spec[section], (s) => renderString(s, scheduledTime, timeZone));
  }
  return out as T;
}
