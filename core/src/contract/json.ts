/**
 * JSON that never fails on what data holds. The worker writes values that come from the input into
 * messages and files (an id in an error message, anything a manifest, progress file, termination
 * message or log line carries), and data holds what JSON.stringify cannot: it throws on BigInt (every
 * INT64 value read through Arrow), and turns NaN and Infinity into null without a word. Arrow values
 * (vectors, struct and map rows) serialize through their toJSON, which hands their elements here too.
 *
 * - bigint: its decimal digits, as a string ("9007199254740993": exact, unlike a number);
 * - NaN, Infinity, -Infinity: those words, as strings;
 * - bytes (Uint8Array, binary columns): "0x" and their hex digits;
 * - other typed arrays: arrays of their elements (BigInt64Array elements as above);
 * - Map: an object with the keys as strings; Set: an array.
 */

const hex = (b: Uint8Array): string => '0x' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** A JSON.stringify replacer with the rules above. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'object': {
      if (value === null) return value;
      // By tag, not instanceof: values made in another realm (a thread's, a test's) count the same.
      const tag = Object.prototype.toString.call(value).slice(8, -1);
      if (tag === 'Uint8Array' || tag === 'Uint8ClampedArray') return hex(value as Uint8Array);
      if (tag === 'DataView') {
        const v = value as DataView;
        return hex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      }
      if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>);
      if (tag === 'Map') return Object.fromEntries(Array.from(value as Map<unknown, unknown>, ([k, v]) => [String(k), v]));
      if (tag === 'Set') return Array.from(value as Set<unknown>);
      return value;
    }
    default:
      return value;
  }
}

/** JSON.stringify that never throws on data (see above); `undefined` alone gives "null". */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, jsonReplacer, space) ?? 'null';
}

/** The same value as plain JSON data (for loggers that serialize objects themselves). */
export function toJsonValue(value: unknown): unknown {
  return JSON.parse(toJson(value));
}
