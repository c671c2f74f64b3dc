/**
 * Runs an Argo CD Lua script (health check or resource action) in the real Lua 5.1 interpreter
 * (Debian's `lua5.1`, which `.ci/run` installs), the way Argo CD does: the object as the global `obj`,
 * the script's chunk in a sandbox that holds only the base functions and the table, string and math
 * libraries. The script's return value comes back as flattened "path<TAB>type<TAB>value" lines.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const LUA = 'lua5.1';

/** A JSON value as a Lua table constructor; nulls are left out (a nil in Lua). */
export function luaLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`no Lua literal for ${v}`);
    return String(v);
  }
  if (typeof v === 'string') return luaString(v);
  if (Array.isArray(v)) return `{${v.map(luaLiteral).join(', ')}}`;
  if (typeof v === 'object') {
    const fields = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null && x !== undefined);
    return `{${fields.map(([k, x]) => `[${luaString(k)}] = ${luaLiteral(x)}`).join(', ')}}`;
  }
  throw new Error(`no Lua literal for a ${typeof v}`);
}

function luaString(s: string): string {
  // Lua 5.1 strings are bytes: UTF-8 passes through; escape the quote, the backslash and control bytes.
  return `"${s.replace(/[\\"\x00-\x1f\x7f]/g, (c) => `\\${c.charCodeAt(0).toString().padStart(3, '0')}`)}"`;
}

/** Flattens a JSON value into the lines the harness prints for a Lua value (1-based array indexes,
 * empty tables left out: Lua cannot tell an empty array from an empty object). Sorted. */
export function flatten(v: unknown, path = ''): string[] {
  const out: string[] = [];
  const walk = (x: unknown, p: string): void => {
    if (x === null || x === undefined) return;
    if (Array.isArray(x)) x.forEach((e, i) => walk(e, `${p}[${i + 1}]`));
    else if (typeof x === 'object') for (const [k, e] of Object.entries(x as Record<string, unknown>)) walk(e, p ? `${p}.${k}` : k);
    else out.push(`${p}\t${typeof x}\t${escape(String(x))}`);
  };
  walk(v, path);
  return out.sort();
}

const escape = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t');

/** Runs `script` with `obj` (both set by the line put before it) and prints its result, flattened. */
const HARNESS = `
local env = {
  obj = obj, pairs = pairs, ipairs = ipairs, next = next, type = type, tostring = tostring,
  tonumber = tonumber, error = error, pcall = pcall, select = select, unpack = unpack,
  table = table, string = string, math = math,
}
local chunk = assert(loadstring(script, "=script"))
setfenv(chunk, env)
local result = chunk()
local function isArray(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end
local function esc(s) return (string.gsub(string.gsub(string.gsub(s, "\\\\", "\\\\\\\\"), "\\n", "\\\\n"), "\\t", "\\\\t")) end
local function walk(v, p)
  if type(v) == "table" then
    local array = isArray(v)
    for k, x in pairs(v) do
      if array then walk(x, p .. "[" .. k .. "]")
      elseif p == "" then walk(x, tostring(k))
      else walk(x, p .. "." .. tostring(k)) end
    end
  else
    print(p .. "\\t" .. type(v) .. "\\t" .. esc(tostring(v)))
  end
end
walk(result, "")
`;

/** Runs the Lua file at `scriptPath` with `obj`; returns the flattened, sorted lines of its result. */
export function runArgoLua(scriptPath: string, obj: unknown): string[] {
  const program = `local script, obj = ${luaString(readFileSync(scriptPath, 'utf8'))}, ${luaLiteral(obj)}\n${HARNESS}`;
  const r = spawnSync(LUA, ['-'], { input: program, encoding: 'utf8' });
  if (r.error) {
    throw new Error(`cannot run ${LUA} (${(r.error as NodeJS.ErrnoException).code}): install Debian's lua5.1 package (\`apt-get install -y lua5.1\`; .ci/run does)`, { cause: r.error });
  }
  if (r.status !== 0) throw new Error(`${LUA} ${scriptPath} exited ${r.status}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '').sort();
}

/** The lines of a flat result as a path -> value map (values as Lua's tostring wrote them). */
export const asMap = (lines: string[]): Record<string, string> =>
  Object.fromEntries(lines.map((l) => { const [p, , v] = l.split('\t'); return [p, v]; }));
