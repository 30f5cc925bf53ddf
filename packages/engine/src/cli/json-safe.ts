/**
 * Converts what a run returns into plain JSON data that prints well. A run's value comes out of the
 * sandbox as a copy that can still hold what JSON cannot: `undefined`, `NaN`, BigInts, Dates, Maps,
 * Sets, shared references and cycles. `JSON.stringify` would throw on a BigInt or a cycle and turn
 * `NaN`, Maps and Sets into `null` or `{}`; this renders each one readably instead.
 *
 * | value                         | rendered as                                                    |
 * |-------------------------------|----------------------------------------------------------------|
 * | `123n`                        | `"123n"`                                                       |
 * | `NaN`, `Infinity`, `-Infinity`| `"NaN"`, `"Infinity"`, `"-Infinity"`                           |
 * | `-0`                          | `0`                                                            |
 * | `Date`                        | its ISO string, `"Invalid Date"` when invalid                  |
 * | `Map`                         | an object when every key is a string, else `[[key, value], …]` |
 * | `Set`, typed array            | an array                                                       |
 * | `RegExp`                      | `"/source/flags"`                                              |
 * | `Error`                       | `{ name, message }`                                            |
 * | function, symbol              | `"[Function name]"`, `"Symbol(desc)"`                          |
 * | `undefined`                   | dropped from objects, `null` in arrays (as JSON does)          |
 * | a cycle                       | `"[Circular]"`                                                 |
 *
 * The walk is bounded: a value with many shared references can describe an exponentially large tree
 * (`a = [x, x]; b = [a, a]; …`), so past `maxNodes` values and below `maxDepth` levels the rest is
 * replaced by `"[Truncated]"` instead of hanging the CLI.
 */

export interface JSONSafeOptions {
  /** Values converted before the rest is replaced by `"[Truncated]"` (default 1,000,000). */
  maxNodes?: number;
  /** Nesting levels kept (default 1000). */
  maxDepth?: number;
}

export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

const TRUNCATED = '[Truncated]';
const CIRCULAR = '[Circular]';

function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, not assignment: an own "__proto__" key must stay a key, not become the prototype.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Returns a JSON-compatible copy of `value` (see the table above). `undefined` at the top level stays
 * `undefined`, as with `JSON.stringify`. Never throws for data; accessors that throw are rendered as
 * `"[Unreadable]"`.
 */
export function toJSONSafe(value: unknown, options: JSONSafeOptions = {}): JSONValue | undefined {
  const maxNodes = options.maxNodes ?? 1_000_000;
  const maxDepth = options.maxDepth ?? 1000;
  let nodes = 0;
  // Objects on the path from the root: seeing one again is a cycle. Shared references that are not
  // cycles are expanded (the node budget bounds the cost).
  const path = new Set<object>();

  const convert = (v: unknown, depth: number): JSONValue | undefined => {
    if (++nodes > maxNodes) return TRUNCATED;
    switch (typeof v) {
      case 'undefined':
        return undefined;
      case 'boolean':
      case 'string':
        return v;
      case 'number':
        if (Number.isNaN(v)) return 'NaN';
        if (v === Infinity) return 'Infinity';
        if (v === -Infinity) return '-Infinity';
        return Object.is(v, -0) ? 0 : v;
      case 'bigint':
        return `${v}n`;
      case 'symbol':
        return v.toString();
      case 'function':
        return `[Function${v.name ? ` ${v.name}` : ''}]`;
      default:
        break;
    }
    if (v === null) return null;
    const obj = v as object;
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
    if (obj instanceof RegExp) return String(obj);
    if (path.has(obj)) return CIRCULAR;
    if (depth >= maxDepth) return TRUNCATED;
    path.add(obj);
    try {
      if (obj instanceof Error) {
        return { name: String(obj.name), message: String(obj.message) };
      }
      if (Array.isArray(obj) || obj instanceof Set || ArrayBuffer.isView(obj)) {
        const items: Iterable<unknown> = Array.isArray(obj) ? obj : obj instanceof Set ? obj.values() : Array.from(obj as unknown as ArrayLike<unknown>);
        const out: JSONValue[] = [];
        for (const item of items) {
          const c = convert(item, depth + 1);
          out.push(c === undefined ? null : c);
          if (nodes > maxNodes) break;
        }
        return out;
      }
      if (obj instanceof Map) {
        const entries = [...obj.entries()];
        if (entries.every(([k]) => typeof k === 'string')) {
          const out: Record<string, JSONValue> = {};
          for (const [k, item] of entries) {
            const c = convert(item, depth + 1);
            if (c !== undefined) setKey(out, k as string, c);
            if (nodes > maxNodes) break;
          }
          return out;
        }
        const out: JSONValue[] = [];
        for (const [k, item] of entries) {
          const key = convert(k, depth + 2);
          const c = convert(item, depth + 2);
          out.push([key === undefined ? null : key, c === undefined ? null : c]);
          if (nodes > maxNodes) break;
        }
        return out;
      }
      const out: Record<string, JSONValue> = {};
      for (const key of Object.keys(obj)) {
        let item: unknown;
        try {
          item = (obj as Record<string, unknown>)[key];
        } catch {
          item = '[Unreadable]';
        }
        const c = convert(item, depth + 1);
        if (c !== undefined) setKey(out, key, c);
        if (nodes > maxNodes) break;
      }
      return out;
    } finally {
      path.delete(obj);
    }
  };

  return convert(value, 0);
}

/** `toJSONSafe` then `JSON.stringify` with two-space indentation; `undefined` prints as `undefined`. */
export function stringifySafe(value: unknown, options: JSONSafeOptions & { indent?: number } = {}): string {
  const safe = toJSONSafe(value, options);
  return safe === undefined ? 'undefined' : JSON.stringify(safe, null, options.indent ?? 2);
}
