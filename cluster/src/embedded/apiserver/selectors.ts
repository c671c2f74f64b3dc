/**
 * Selectors, as much of them as `bij run` uses: label selectors of `key=value`, `key==value`,
 * `key!=value`, `key` and `!key` requirements joined by commas, and field selectors on `metadata.name`
 * and `metadata.namespace` (`=`, `==`, `!=`). Set-based requirements (`in`, `notin`) and other fields are
 * refused with a 400 naming them: the real control plane (`bij up`) serves the whole grammar.
 */
import { badRequest } from './status.js';
import type { KObject } from './types.js';

export interface Requirement { key: string; op: 'eq' | 'neq' | 'exists' | '!exists'; value: string }
export type Selector = Requirement[];

const LABEL_KEY = /^[A-Za-z0-9_.\-/]+$/;
const VALUE = /^[A-Za-z0-9_.\-]*$/;
const FIELDS: Record<string, (o: KObject) => string> = {
  'metadata.name': (o) => o.metadata?.name ?? '',
  'metadata.namespace': (o) => o.metadata?.namespace ?? '',
};

function parse(input: string | undefined, kind: 'label' | 'field'): Selector {
  const out: Requirement[] = [];
  for (const raw of (input ?? '').split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const m = /^(!?)([^!=]+?)\s*(?:(==|!=|=)\s*(.*))?$/.exec(part);
    const key = m?.[2].trim() ?? '';
    if (!m || !LABEL_KEY.test(key) || (m[1] && m[3]) || !VALUE.test(m[4]?.trim() ?? '')) {
      throw badRequest(`unable to parse requirement: ${JSON.stringify(part)} in ${kind} selector "${input}": the embedded API server of bij run supports only =, ==, !=${kind === 'label' ? ', key and !key' : ''}`);
    }
    if (kind === 'field' && (!FIELDS[key] || !m[3])) {
      throw badRequest(`"${part}" is not a field selector the embedded API server of bij run supports (metadata.name, metadata.namespace with =, ==, !=)`);
    }
    const op = m[1] ? '!exists' : !m[3] ? 'exists' : m[3] === '!=' ? 'neq' : 'eq';
    out.push({ key, op, value: m[4]?.trim() ?? '' });
  }
  return out;
}

export const parseLabelSelector = (input: string | undefined): Selector => parse(input, 'label');
export const parseFieldSelector = (input: string | undefined): Selector => parse(input, 'field');

function holds(r: Requirement, value: string | undefined): boolean {
  switch (r.op) {
    case 'eq': return value === r.value;
    case 'neq': return value !== r.value;
    case 'exists': return value !== undefined;
    case '!exists': return value === undefined;
  }
}

export const matchesLabels = (sel: Selector, labels: Record<string, string> | undefined): boolean =>
  sel.every((r) => holds(r, labels?.[r.key]));

export const matchesFields = (sel: Selector, obj: KObject): boolean => sel.every((r) => holds(r, FIELDS[r.key](obj)));
