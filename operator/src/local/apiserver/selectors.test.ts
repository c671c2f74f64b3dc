/** Label and field selector parsing and matching, table-driven. */
import { COMMON_FIELDS, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError } from './status.js';

const labels = { env: 'prod', tier: 'web', n: '5' };

test.each<[string, boolean]>([
  ['', true],
  ['env=prod', true],
  ['env==prod', true],
  ['env!=prod', false],
  ['missing!=x', true],
  ['env in (dev,prod)', true],
  ['env in (dev)', false],
  ['env notin (dev)', true],
  ['missing notin (dev)', true],
  ['tier', true],
  ['!tier', false],
  ['!missing', true],
  ['n>4,n<6', true],
  ['n>5', false],
  [' env = prod , tier in ( web ) ', true],
])('label selector %j -> %s', (sel, want) => {
  expect(matchesLabels(parseLabelSelector(sel), labels)).toBe(want);
});

test.each(['env in prod', 'env in (a', '=x', 'a=b=c', 'n>x', 'env notin'])('bad label selector %j is a 400', (sel) => {
  expect(() => parseLabelSelector(sel)).toThrow(ApiError);
  try { parseLabelSelector(sel); } catch (e) { expect((e as ApiError).code).toBe(400); }
});

test('field selectors: =, ==, != on supported fields, escapes, and unsupported fields', () => {
  const obj = { metadata: { name: 'a,b', namespace: 'ns' } };
  expect(matchesFields(parseFieldSelector('metadata.name=a\\,b', COMMON_FIELDS), obj, COMMON_FIELDS)).toBe(true);
  expect(matchesFields(parseFieldSelector('metadata.namespace==ns,metadata.name!=x', COMMON_FIELDS), obj, COMMON_FIELDS)).toBe(true);
  expect(matchesFields(parseFieldSelector('metadata.namespace!=ns', COMMON_FIELDS), obj, COMMON_FIELDS)).toBe(false);
  expect(() => parseFieldSelector('spec.x=1', COMMON_FIELDS)).toThrow('field label not supported: spec.x');
});
