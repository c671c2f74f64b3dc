/**
 * Validation of custom resources against a CRD version's schema: ajv for the OpenAPI part, with errors
 * reworded as the apiserver words them (`spec.input.idColumn: Required value`), then the schema's CEL rules.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CelError, compileCel, evalCel, type CompiledCel } from './cel.js';
import { STRING_FORMATS, toJsonSchema, type CelRuleSpec, type Structural } from './schema.js';
import type { FieldError, FieldErrorType } from './types.js';

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
for (const [name, validate] of Object.entries(STRING_FORMATS)) ajv.addFormat(name, { type: 'string', validate });

const BLOCKING = new Set<FieldErrorType>(['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid']);

interface CompiledRule { spec: CelRuleSpec; rule: CompiledCel; message?: CompiledCel }

export interface CompiledSchema {
  schema: Structural;
  /** Validates a pruned, defaulted object; `old` enables transition rules (those using oldSelf). */
  validate(obj: unknown, old: unknown): FieldError[];
}

/** Compiles the schema and every x-kubernetes-validations rule; throws an Error naming any unsupported rule. */
export function compileSchema(schema: Structural, where: string): CompiledSchema {
  const rules = new Map<Structural, CompiledRule[]>();
  collectRules(schema, '', rules, where);
  let check: ValidateFunction;
  try {
    check = ajv.compile(toJsonSchema(schema));
  } catch (err) {
    throw new Error(`${where}: openAPIV3Schema cannot be compiled: ${(err as Error).message}`, { cause: err });
  }
  return {
    schema,
    validate(obj, old) {
      const errs = check(obj) ? [] : mapAjvErrors(check.errors ?? [], obj);
      if (rules.size === 0) return errs;
      // hasBlockingErr: these schema errors skip the CEL rules, with a field-less note (rendered `<nil>`).
      if (errs.some((e) => BLOCKING.has(e.type))) {
        errs.push({ type: 'FieldValueInvalid', field: '<nil>', value: null, detail: 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation' });
        return errs;
      }
      walkRules(obj, old, schema, '', rules, errs);
      return errs;
    },
  };
}

function collectRules(s: Structural | undefined, path: string, out: Map<Structural, CompiledRule[]>, where: string): void {
  if (!s || typeof s !== 'object') return;
  const specs = s['x-kubernetes-validations'] ?? [];
  if (specs.length) {
    out.set(s, specs.map((spec) => {
      const compile = (src: string, what: string) => {
        try { return compileCel(src); } catch (err) {
          const why = err instanceof CelError ? err.message : String(err);
          throw new Error(`${where}: unsupported x-kubernetes-validations ${what} at ${path || '<root>'}: ${JSON.stringify(src)}: ${why}`, { cause: err });
        }
      };
      if (spec.optionalOldSelf) throw new Error(`${where}: unsupported x-kubernetes-validations rule at ${path || '<root>'}: optionalOldSelf is not supported`);
      return { spec, rule: compile(spec.rule, 'rule'), message: spec.messageExpression ? compile(spec.messageExpression, 'messageExpression') : undefined };
    }));
  }
  for (const [k, v] of Object.entries(s.properties ?? {})) collectRules(v, path ? `${path}.${k}` : k, out, where);
  if (typeof s.additionalProperties === 'object') collectRules(s.additionalProperties, `${path}[*]`, out, where);
  collectRules(s.items, `${path}[*]`, out, where);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v);

function walkRules(x: unknown, old: unknown, s: Structural, path: string, rules: Map<Structural, CompiledRule[]>, errs: FieldError[]): void {
  for (const r of rules.get(s) ?? []) {
    if (r.rule.usesOldSelf && old === undefined) continue;
    const env = { self: x, oldSelf: old };
    const field = r.spec.fieldPath ? `${path}${r.spec.fieldPath.startsWith('.') || !path ? '' : '.'}${r.spec.fieldPath}`.replace(/^\./, '') : path;
    let ok: unknown;
    try { ok = evalCel(r.rule.ast, env); } catch (err) {
      if (!(err instanceof CelError)) throw err;
      errs.push({ type: 'FieldValueInvalid', field, value: s.type ?? 'object', detail: `${err.message} evaluating rule: ${r.spec.rule}` });
      continue;
    }
    if (ok === true) continue;
    let message = r.spec.message || `failed rule: ${r.spec.rule}`;
    if (r.message) { try { const m = evalCel(r.message.ast, env); if (typeof m === 'string' && m) message = m; } catch { /* keep message */ } }
    const type = ({ FieldValueForbidden: 'FieldValueForbidden', FieldValueRequired: 'FieldValueRequired', FieldValueDuplicate: 'FieldValueDuplicate' } as Record<string, FieldErrorType>)[r.spec.reason ?? ''] ?? 'FieldValueInvalid';
    errs.push({ type, field, value: type === 'FieldValueInvalid' || type === 'FieldValueDuplicate' ? (s.type ?? 'object') : undefined, detail: message });
  }
  if (Array.isArray(x) && s.items) x.forEach((v, i) => walkRules(v, undefined, s.items!, `${path}[${i}]`, rules, errs));
  if (!isObj(x)) return;
  const o = isObj(old) ? old : undefined;
  for (const [k, v] of Object.entries(x)) {
    const child = s.properties?.[k];
    if (child) walkRules(v, o?.[k], child, path ? `${path}.${k}` : k, rules, errs);
    else if (typeof s.additionalProperties === 'object') walkRules(v, o?.[k], s.additionalProperties, `${path}[${k}]`, rules, errs);
  }
}

/** JSON pointer -> `spec.items[0].name`, using the data to tell list indices from map keys. */
function fieldPath(pointer: string, data: unknown): string {
  let out = '';
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) out += `[${seg}]`; else out += out ? `.${seg}` : seg;
    cur = isObj(cur) || Array.isArray(cur) ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

const at = (pointer: string, data: unknown): unknown => pointer.split('/').slice(1)
  .reduce<unknown>((c, s) => (c && typeof c === 'object' ? (c as Record<string, unknown>)[s.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), data);

function mapAjvErrors(errors: ErrorObject[], data: unknown): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (/\/(anyOf|oneOf|not)\//.test(e.schemaPath)) continue; // reported once, by the combinator itself
    const field = fieldPath(e.instancePath, data);
    const v = at(e.instancePath, data);
    const inBody = `${field} in body`;
    const p = e.params as Record<string, unknown>;
    let fe: FieldError;
    switch (e.keyword) {
      case 'required': {
        const f = field ? `${field}.${p.missingProperty}` : String(p.missingProperty);
        fe = { type: 'FieldValueRequired', field: f };
        break;
      }
      case 'type': {
        const expected = Array.isArray(p.type) ? (p.type as string[]).filter((t) => t !== 'null').join(',') : String(p.type);
        fe = { type: 'FieldValueTypeInvalid', field, value: jsonType(v), detail: `${inBody} must be of type ${expected}: "${jsonType(v)}"` };
        break;
      }
      case 'enum':
        fe = { type: 'FieldValueNotSupported', field, value: v, detail: `supported values: ${(p.allowedValues as unknown[]).map((a) => JSON.stringify(a)).join(', ')}` };
        break;
      case 'minimum': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} should be greater than or equal to ${p.limit}` }; break;
      case 'maximum': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} should be less than or equal to ${p.limit}` }; break;
      case 'exclusiveMinimum': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} should be greater than ${p.limit}` }; break;
      case 'exclusiveMaximum': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} should be less than ${p.limit}` }; break;
      case 'multipleOf': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} should be a multiple of ${p.multipleOf}` }; break;
      case 'minLength': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} should be at least ${p.limit} chars long` }; break;
      case 'maxLength': fe = { type: 'FieldValueTooLong', field, value: v, detail: `may not be longer than ${p.limit}` }; break;
      case 'pattern': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} should match '${p.pattern}'` }; break;
      case 'minItems': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} should have at least ${p.limit} items` }; break;
      case 'maxItems': fe = { type: 'FieldValueTooMany', field, value: Array.isArray(v) ? v.length : v, detail: `must have at most ${p.limit} items` }; break;
      case 'minProperties': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} should have at least ${p.limit} properties` }; break;
      case 'maxProperties': fe = { type: 'FieldValueTooMany', field, value: isObj(v) ? Object.keys(v).length : v, detail: `must have at most ${p.limit} items` }; break;
      case 'uniqueItems': fe = { type: 'FieldValueDuplicate', field, value: Array.isArray(v) ? v[Number(p.i)] : v }; break;
      case 'format': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} must be of type ${p.format}: ${JSON.stringify(v)}` }; break;
      case 'anyOf': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} must validate at least one schema (anyOf)` }; break;
      case 'oneOf': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} must validate one and only one schema (oneOf)` }; break;
      case 'not': fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} must not validate the schema (not)` }; break;
      default: fe = { type: 'FieldValueInvalid', field, value: v, detail: `${inBody} ${e.message ?? 'is invalid'}` };
    }
    const key = `${fe.type}|${fe.field}|${fe.detail}`;
    if (!seen.has(key)) { seen.add(key); out.push(fe); }
  }
  return out;
}
