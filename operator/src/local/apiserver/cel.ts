/**
 * A small CEL subset for CRD `x-kubernetes-validations`: literals, `self`/`oldSelf`, field selection,
 * indexing, `has()`, `size()`, string functions (startsWith, endsWith, contains, matches, lowerAscii,
 * upperAscii), int()/double()/string(), the macros all/exists/exists_one/map/filter, and the operators
 * `! - * / % + < <= > >= == != in && || ?:`. `compileCel` rejects anything else with a clear error, so an
 * unsupported rule fails at CRD registration rather than being ignored. Numbers are JS numbers (no
 * int/uint/double distinction except that `/` truncates when both sides are integers).
 */

export type Ast =
  | { k: 'lit'; v: unknown }
  | { k: 'id'; name: string }
  | { k: 'sel'; obj: Ast; field: string }
  | { k: 'idx'; obj: Ast; index: Ast }
  | { k: 'call'; fn: string; target?: Ast; args: Ast[] }
  | { k: 'has'; obj: Ast; field: string }
  | { k: 'macro'; fn: string; target: Ast; v: string; body: Ast }
  | { k: 'un'; op: string; x: Ast }
  | { k: 'bin'; op: string; l: Ast; r: Ast }
  | { k: 'cond'; c: Ast; t: Ast; f: Ast }
  | { k: 'list'; items: Ast[] }
  | { k: 'map'; entries: [Ast, Ast][] };

export class CelError extends Error {}

const FUNCS = new Set(['size', 'startsWith', 'endsWith', 'contains', 'matches', 'lowerAscii', 'upperAscii', 'int', 'uint', 'double', 'string']);
const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const PUNCT = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '+', '-', '*', '/', '%', '?', ':', '.', ',', '(', ')', '[', ']', '{', '}'];

type Tok = { t: 'num' | 'str' | 'id' | 'p'; v: string | number };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    const rest = src.slice(i);
    const num = /^(0x[0-9a-fA-F]+|\d+\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)u?/.exec(rest);
    if (num) { out.push({ t: 'num', v: Number(num[1]) }); i += num[0].length; continue; }
    const raw = /^[rR](?=['"])/.test(rest);
    if (c === '"' || c === "'" || raw) {
      const q = raw ? rest[1] : c;
      let j = raw ? 2 : 1;
      let s = '';
      while (j < rest.length && rest[j] !== q) {
        if (rest[j] === '\\' && !raw) {
          const e = rest[j + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
          if (!(e in map)) throw new CelError(`unsupported escape \\${e}`);
          s += map[e]; j += 2; continue;
        }
        s += rest[j++];
      }
      if (j >= rest.length) throw new CelError('unterminated string literal');
      out.push({ t: 'str', v: s }); i += j + 1; continue;
    }
    const id = /^[_a-zA-Z][_a-zA-Z0-9]*/.exec(rest);
    if (id) { out.push({ t: 'id', v: id[0] }); i += id[0].length; continue; }
    const p = PUNCT.find((x) => rest.startsWith(x));
    if (!p) throw new CelError(`unexpected character '${c}'`);
    out.push({ t: 'p', v: p }); i += p.length;
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(private toks: Tok[]) {}
  private peek(v?: string) { const t = this.toks[this.i]; return t && (v === undefined || t.v === v) ? t : undefined; }
  private eat(v: string) { if (this.peek(v) && this.toks[this.i].t !== 'str') { this.i++; return true; } return false; }
  private expect(v: string) { if (!this.eat(v)) throw new CelError(`expected '${v}' but found ${this.describe()}`); }
  private describe() { const t = this.toks[this.i]; return t ? `'${t.v}'` : 'end of expression'; }
  parse(): Ast { const e = this.expr(); if (this.i < this.toks.length) throw new CelError(`unexpected ${this.describe()}`); return e; }
  private expr(): Ast {
    const c = this.binary(0);
    if (this.eat('?')) { const t = this.expr(); this.expect(':'); const f = this.expr(); return { k: 'cond', c, t, f }; }
    return c;
  }
  private static LEVELS = [['||'], ['&&'], ['==', '!=', '<', '<=', '>', '>=', 'in'], ['+', '-'], ['*', '/', '%']];
  private binary(level: number): Ast {
    if (level >= Parser.LEVELS.length) return this.unary();
    let l = this.binary(level + 1);
    for (;;) {
      const t = this.toks[this.i];
      if (!t || t.t === 'str' || !Parser.LEVELS[level].includes(String(t.v)) || (t.t === 'id' && t.v !== 'in')) return l;
      this.i++;
      l = { k: 'bin', op: String(t.v), l, r: this.binary(level + 1) };
    }
  }
  private unary(): Ast {
    if (this.eat('!')) return { k: 'un', op: '!', x: this.unary() };
    if (this.eat('-')) return { k: 'un', op: '-', x: this.unary() };
    return this.member();
  }
  private args(): Ast[] {
    const a: Ast[] = [];
    if (this.eat(')')) return a;
    do a.push(this.expr()); while (this.eat(','));
    this.expect(')');
    return a;
  }
  private member(): Ast {
    let e = this.primary();
    for (;;) {
      if (this.eat('.')) {
        const t = this.toks[this.i++];
        if (!t || t.t !== 'id') throw new CelError(`expected a field name after '.' but found ${t ? `'${t.v}'` : 'end of expression'}`);
        const name = String(t.v);
        if (this.eat('(')) {
          const args = this.args();
          if (MACROS.has(name)) {
            if (args.length !== 2 || args[0].k !== 'id') throw new CelError(`${name}() macro needs (variable, expression)`);
            e = { k: 'macro', fn: name, target: e, v: args[0].name, body: args[1] };
          } else {
            if (!FUNCS.has(name)) throw new CelError(`undeclared reference to '${name}'`);
            e = { k: 'call', fn: name, target: e, args };
          }
        } else e = { k: 'sel', obj: e, field: name };
      } else if (this.eat('[')) {
        const index = this.expr(); this.expect(']'); e = { k: 'idx', obj: e, index };
      } else return e;
    }
  }
  private primary(): Ast {
    const t = this.toks[this.i++];
    if (!t) throw new CelError('unexpected end of expression');
    if (t.t === 'num' || t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'p') {
      if (t.v === '(') { const e = this.expr(); this.expect(')'); return e; }
      if (t.v === '[') {
        const items: Ast[] = [];
        if (!this.eat(']')) { do items.push(this.expr()); while (this.eat(',')); this.expect(']'); }
        return { k: 'list', items };
      }
      if (t.v === '{') {
        const entries: [Ast, Ast][] = [];
        if (!this.eat('}')) { do { const key = this.expr(); this.expect(':'); entries.push([key, this.expr()]); } while (this.eat(',')); this.expect('}'); }
        return { k: 'map', entries };
      }
      throw new CelError(`unexpected '${t.v}'`);
    }
    const name = String(t.v);
    if (name === 'true' || name === 'false') return { k: 'lit', v: name === 'true' };
    if (name === 'null') return { k: 'lit', v: null };
    if (this.eat('(')) {
      const args = this.args();
      if (name === 'has') {
        const a = args[0];
        if (args.length !== 1 || a.k !== 'sel') throw new CelError('invalid argument to has() macro');
        return { k: 'has', obj: a.obj, field: a.field };
      }
      if (!FUNCS.has(name)) throw new CelError(`undeclared reference to '${name}'`);
      return { k: 'call', fn: name, args };
    }
    return { k: 'id', name };
  }
}

function checkRefs(e: Ast, scope: Set<string>): void {
  const c = (x: Ast) => checkRefs(x, scope);
  switch (e.k) {
    case 'id': if (!scope.has(e.name)) throw new CelError(`undeclared reference to '${e.name}'`); return;
    case 'sel': case 'has': return c(e.obj);
    case 'idx': c(e.obj); return c(e.index);
    case 'call': if (e.target) c(e.target); e.args.forEach(c); return;
    case 'macro': c(e.target); return checkRefs(e.body, new Set([...scope, e.v]));
    case 'un': return c(e.x);
    case 'bin': c(e.l); return c(e.r);
    case 'cond': c(e.c); c(e.t); return c(e.f);
    case 'list': return e.items.forEach(c);
    case 'map': return e.entries.forEach(([k, v]) => { c(k); c(v); });
    default:
  }
}

export interface CompiledCel { source: string; ast: Ast; usesOldSelf: boolean }

/** Parses and checks a rule; throws CelError naming what is unsupported. */
export function compileCel(source: string): CompiledCel {
  const ast = new Parser(tokenize(source)).parse();
  checkRefs(ast, new Set(['self', 'oldSelf']));
  return { source, ast, usesOldSelf: /\boldSelf\b/.test(source) };
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeName = (v: unknown) => (v === null ? 'null_type' : Array.isArray(v) ? 'list' : isMap(v) ? 'map'
  : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'double') : typeof v === 'boolean' ? 'bool' : typeof v);
const noOverload = (op: string, ...vs: unknown[]) => new CelError(`no such overload: ${op}(${vs.map(typeName).join(', ')})`);

export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => celEquals(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && celEquals(a[k], b[k]));
  }
  return false;
}

function compare(op: string, a: unknown, b: unknown): boolean {
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string') || (typeof a === 'boolean' && typeof b === 'boolean'))) throw noOverload(`_${op}_`, a, b);
  const [x, y] = [a as number, b as number];
  return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
}

function arith(op: string, a: unknown, b: unknown): unknown {
  if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
  if (op === '+' && Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  if (typeof a !== 'number' || typeof b !== 'number') throw noOverload(`_${op}_`, a, b);
  if ((op === '/' || op === '%') && b === 0) throw new CelError(op === '/' ? 'division by zero' : 'modulus by zero');
  const ints = Number.isInteger(a) && Number.isInteger(b);
  switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return ints ? Math.trunc(a / b) : a / b;
    default: return a % b;
  }
}

function callFn(fn: string, target: unknown, args: unknown[]): unknown {
  const all = target === undefined ? args : [target, ...args];
  const [a, b] = all;
  switch (fn) {
    case 'size':
      if (typeof a === 'string') return [...a].length;
      if (Array.isArray(a)) return a.length;
      if (isMap(a)) return Object.keys(a).length;
      throw noOverload('size', a);
    case 'startsWith': case 'endsWith': case 'contains': case 'matches':
      if (typeof a !== 'string' || typeof b !== 'string') throw noOverload(fn, a, b);
      return fn === 'startsWith' ? a.startsWith(b) : fn === 'endsWith' ? a.endsWith(b) : fn === 'contains' ? a.includes(b) : new RegExp(b, 'u').test(a);
    case 'lowerAscii': case 'upperAscii':
      if (typeof a !== 'string') throw noOverload(fn, a);
      return fn === 'lowerAscii' ? a.replace(/[A-Z]/g, (c) => c.toLowerCase()) : a.replace(/[a-z]/g, (c) => c.toUpperCase());
    case 'int': case 'uint': {
      const n = typeof a === 'string' ? Number(a) : a;
      if (typeof n !== 'number' || Number.isNaN(n)) throw noOverload(fn, a);
      return Math.trunc(n);
    }
    case 'double': { const n = typeof a === 'string' ? Number(a) : a; if (typeof n !== 'number') throw noOverload(fn, a); return n; }
    case 'string':
      if (typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean') return String(a);
      throw noOverload(fn, a);
    default: throw new CelError(`undeclared reference to '${fn}'`);
  }
}

export function evalCel(e: Ast, env: Record<string, unknown>): unknown {
  const ev = (x: Ast) => evalCel(x, env);
  switch (e.k) {
    case 'lit': return e.v;
    case 'id': if (!(e.name in env)) throw new CelError(`undeclared reference to '${e.name}'`); return env[e.name];
    case 'sel': case 'has': {
      const o = ev(e.obj);
      if (!isMap(o)) throw new CelError(`no such key: ${e.field}`);
      if (e.k === 'has') return Object.prototype.hasOwnProperty.call(o, e.field);
      if (!Object.prototype.hasOwnProperty.call(o, e.field)) throw new CelError(`no such key: ${e.field}`);
      return o[e.field];
    }
    case 'idx': {
      const o = ev(e.obj); const i = ev(e.index);
      if (Array.isArray(o) && typeof i === 'number') { if (i < 0 || i >= o.length) throw new CelError(`index out of bounds: ${i}`); return o[i]; }
      if (isMap(o) && typeof i === 'string') { if (!(i in o)) throw new CelError(`no such key: ${i}`); return o[i]; }
      throw noOverload('_[_]', o, i);
    }
    case 'call': return callFn(e.fn, e.target ? ev(e.target) : undefined, e.args.map(ev));
    case 'macro': {
      const t = ev(e.target);
      const items = Array.isArray(t) ? t : isMap(t) ? Object.keys(t) : undefined;
      if (!items) throw noOverload(e.fn, t);
      const run = (x: unknown) => evalCel(e.body, { ...env, [e.v]: x });
      const bool = (x: unknown) => { const r = run(x); if (typeof r !== 'boolean') throw noOverload(e.fn, r); return r; };
      if (e.fn === 'all') return items.every(bool);
      if (e.fn === 'exists') return items.some(bool);
      if (e.fn === 'exists_one') return items.filter(bool).length === 1;
      if (e.fn === 'map') return items.map(run);
      return items.filter(bool);
    }
    case 'un': {
      const x = ev(e.x);
      if (e.op === '!') { if (typeof x !== 'boolean') throw noOverload('!_', x); return !x; }
      if (typeof x !== 'number') throw noOverload('-_', x);
      return -x;
    }
    case 'bin': return evalBinary(e.op, e.l, e.r, env);
    case 'cond': { const c = ev(e.c); if (typeof c !== 'boolean') throw noOverload('_?_:_', c); return c ? ev(e.t) : ev(e.f); }
    case 'list': return e.items.map(ev);
    case 'map': return Object.fromEntries(e.entries.map(([k, v]) => [String(ev(k)), ev(v)]));
    default: throw new CelError('unsupported expression');
  }
}

function evalBinary(op: string, l: Ast, r: Ast, env: Record<string, unknown>): unknown {
  if (op === '&&' || op === '||') {
    // CEL's commutative logic: a definite answer on either side wins over an error on the other.
    const side = (x: Ast): boolean | CelError => {
      try { const v = evalCel(x, env); if (typeof v !== 'boolean') throw noOverload(op, v); return v; } catch (err) {
        if (err instanceof CelError) return err; throw err;
      }
    };
    const a = side(l); const short = op === '||';
    if (a === short) return short;
    const b = side(r);
    if (b === short) return short;
    if (a instanceof CelError) throw a;
    if (b instanceof CelError) throw b;
    return !short;
  }
  const a = evalCel(l, env); const b = evalCel(r, env);
  switch (op) {
    case '==': return celEquals(a, b);
    case '!=': return !celEquals(a, b);
    case '<': case '<=': case '>': case '>=': return compare(op, a, b);
    case 'in':
      if (Array.isArray(b)) return b.some((x) => celEquals(x, a));
      if (isMap(b)) return typeof a === 'string' && Object.prototype.hasOwnProperty.call(b, a);
      throw noOverload('@in', a, b);
    default: return arith(op, a, b);
  }
}
