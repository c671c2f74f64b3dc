/**
 * Label selectors (k8s.io/apimachinery/pkg/labels grammar: =, ==, !=, in, notin, exists, !exists, >, <)
 * and field selectors (=, ==, != on a per-resource set of fields).
 */
import { badRequest } from './status.js';
import type { KObject } from './types.js';

export type LabelOp = 'eq' | 'neq' | 'in' | 'notin' | 'exists' | '!exists' | 'gt' | 'lt';
export interface LabelRequirement { key: string; op: LabelOp; values: string[] }
export type LabelSelector = LabelRequirement[];

const fail = (sel: string, why: string) => badRequest(`unable to parse requirement: ${why} (in selector "${sel}")`);

/** Parses a label selector string; throws a 400 ApiError on bad syntax. The empty string selects everything. */
export function parseLabelSelector(input: string | undefined): LabelSelector {
  const s = input ?? '';
  const reqs: LabelRequirement[] = [];
  let i = 0;
  const ws = () => { while (i < s.length && /\s/.test(s[i])) i++; };
  const ident = (): string => {
    ws();
    const m = /^[A-Za-z0-9_.\-/]*/.exec(s.slice(i))!;
    i += m[0].length;
    return m[0];
  };
  ws();
  if (i === s.length) return reqs;
  for (;;) {
    ws();
    let neg = false;
    if (s[i] === '!') { neg = true; i++; }
    const key = ident();
    if (!key) throw fail(s, `expected a label key at position ${i}`);
    ws();
    if (neg) {
      reqs.push({ key, op: '!exists', values: [] });
    } else if (i >= s.length || s[i] === ',') {
      reqs.push({ key, op: 'exists', values: [] });
    } else if (s.startsWith('==', i) || s.startsWith('!=', i) || s[i] === '=' || s[i] === '>' || s[i] === '<') {
      let op: LabelOp;
      if (s.startsWith('==', i)) { op = 'eq'; i += 2; } else if (s.startsWith('!=', i)) { op = 'neq'; i += 2; } else {
        op = s[i] === '=' ? 'eq' : s[i] === '>' ? 'gt' : 'lt'; i += 1;
      }
      const value = ident();
      if ((op === 'gt' || op === 'lt') && !/^-?\d+$/.test(value)) throw fail(s, `for 'Gt', 'Lt' operators, the value must be an integer`);
      reqs.push({ key, op, values: [value] });
    } else {
      const word = ident();
      if (word !== 'in' && word !== 'notin') throw fail(s, `found '${word || s[i]}', expected: '=', '!=', '==', 'in', notin'`);
      ws();
      if (s[i] !== '(') throw fail(s, `found '${s[i] ?? 'end of string'}', expected: '('`);
      i++;
      const values: string[] = [];
      for (;;) {
        const v = ident();
        values.push(v);
        ws();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === ')') { i++; break; }
        throw fail(s, `found '${s[i] ?? 'end of string'}', expected: ',', ')' or identifier`);
      }
      reqs.push({ key, op: word, values });
    }
    ws();
    if (i >= s.length) break;
    if (s[i] !== ',') throw fail(s, `found '${s[i]}', expected: ',' or 'end of string'`);
    i++;
  }
  return reqs;
}

export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'eq': return has && v === r.values[0];
      case 'neq': return !has || v !== r.values[0];
      case 'in': return has && r.values.includes(v);
      case 'notin': return !has || !r.values.includes(v);
      case 'exists': return has;
      case '!exists': return !has;
      case 'gt': return has && /^-?\d+$/.test(v) && Number(v) > Number(r.values[0]);
      case 'lt': return has && /^-?\d+$/.test(v) && Number(v) < Number(r.values[0]);
    }
    return false;
  });
}

export interface FieldRequirement { field: string; op: 'eq' | 'neq'; value: string }
export type FieldSelector = FieldRequirement[];
/** Fields a resource supports in field selectors, beyond metadata.name and metadata.namespace. */
export type FieldGetters = Record<string, (o: KObject) => string | undefined>;

export const COMMON_FIELDS: FieldGetters = {
  'metadata.name': (o) => o.metadata?.name,
  'metadata.namespace': (o) => o.metadata?.namespace,
};

/** Splits on unescaped commas; values may escape `,`, `=` and `\` with a backslash. */
function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) { cur += s[i] + s[i + 1]; i++; continue; }
    if (s[i] === sep) { out.push(cur); cur = ''; continue; }
    cur += s[i];
  }
  out.push(cur);
  return out;
}
const unescape = (s: string) => s.replace(/\\(.)/g, '$1');

export function parseFieldSelector(input: string | undefined, supported: FieldGetters): FieldSelector {
  const s = (input ?? '').trim();
  if (!s) return [];
  return splitUnescaped(s, ',').map((part) => {
    const m = /^\s*([^=!\s]+)\s*(==|!=|=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    const field = m[1];
    if (!supported[field]) throw badRequest(`field label not supported: ${field}`);
    return { field, op: m[2] === '!=' ? 'neq' : 'eq', value: unescape(m[3].trim()) } satisfies FieldRequirement;
  });
}

export function matchesFields(sel: FieldSelector, obj: KObject, getters: FieldGetters): boolean {
  return sel.every((r) => {
    const v = getters[r.field]?.(obj) ?? '';
    return r.op === 'eq' ? v === r.value : v !== r.value;
  });
}
