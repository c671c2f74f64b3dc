/** The CEL subset: table-driven evaluation, errors, and what compileCel refuses. */
import { CelError, compileCel, evalCel } from './cel.js';

const run = (rule: string, self: unknown, oldSelf?: unknown) => evalCel(compileCel(rule).ast, { self, oldSelf });

test.each<[string, unknown, unknown]>([
  ['has(self.a) != has(self.b)', { a: 1 }, true],
  ['has(self.a) != has(self.b)', { a: 1, b: 2 }, false],
  ['!(has(self.a) && has(self.b))', { b: 1 }, true],
  ['!(has(self.a) && has(self.b))', { a: 1, b: 1 }, false],
  ['self.x <= self.y', { x: 1, y: 2 }, true],
  ['self.x <= self.y', { x: 3, y: 2 }, false],
  ['self.name.startsWith("bij-") && size(self.name) < 10', { name: 'bij-a' }, true],
  ['self.items.all(i, i > 0) && self.items.exists(i, i == 2)', { items: [1, 2] }, true],
  ['self.items.exists_one(i, i > 1)', { items: [1, 2, 3] }, false],
  ['self.items.map(i, i * 2) == [2, 4]', { items: [1, 2] }, true],
  ['self.items.filter(i, i % 2 == 1).size() == 1', { items: [1, 2] }, true],
  ["self.mode in ['a', 'b'] ? self.n / 2 == 2 : false", { mode: 'a', n: 5 }, true],
  ["'k' in self.m && self.m['k'] == 'v'", { m: { k: 'v' } }, true],
  ['self.s.matches("^[a-z]+$") && self.s.lowerAscii() == "abc"', { s: 'abc' }, true],
  ['int("12") + 1 == 13 && string(3) == "3" && double(1) == 1', {}, true],
  ['-self.n < 0 || self.x == null', { n: 1, x: null }, true],
  ['has(self.missing) || true', {}, true],
  ['self.missing == 1 || true', {}, true], // an error on one side of || is absorbed by a true on the other
])('%s on %j', (rule, self, want) => {
  expect(run(rule, self)).toEqual(want);
});

test('transition rules compare with oldSelf', () => {
  expect(run('self == oldSelf', { a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
  expect(run('self == oldSelf', 'x', 'y')).toBe(false);
  expect(compileCel('self == oldSelf').usesOldSelf).toBe(true);
  expect(compileCel('self.oldSelfish == 1').usesOldSelf).toBe(false);
});

test.each([
  ['self.a == 1', {}, 'no such key: a'],
  ['self.a + 1', { a: 'x' }, 'no such overload: _+_(string, int)'],
  ['self.a < "b"', { a: 1 }, 'no such overload'],
  ['self.l[3]', { l: [] }, 'index out of bounds: 3'],
  ['self.n / 0', { n: 1 }, 'division by zero'],
])('%s fails at run time with %s', (rule, self, message) => {
  expect(() => run(rule, self)).toThrow(CelError);
  expect(() => run(rule, self)).toThrow(message);
});

test.each([
  ['self.start < timestamp("2024-01-01T00:00:00Z")', "undeclared reference to 'timestamp'"],
  ['other.x == 1', "undeclared reference to 'other'"],
  ['self.x.?y == 1', "expected a field name after '.'"],
  ['self.x ==', 'unexpected end of expression'],
  ['self.list.sortBy(x, x)', "undeclared reference to 'sortBy'"],
])('compileCel refuses %s', (rule, message) => {
  expect(() => compileCel(rule)).toThrow(message);
});
