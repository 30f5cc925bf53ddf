/**
 * The wire codec: how values cross between the host and a realm. Only strings cross; each side builds
 * its own objects from them with its own intrinsics, so no object of one realm is ever reachable from
 * the other (invariant 1). The host and every realm run this same module, each with its own primordials.
 *
 * The format is JSON. Values JSON cannot carry are tagged objects with the single key "\u0000":
 *   {"\u0000":"u"}                      undefined (also holes, functions and symbols in arrays)
 *   {"\u0000":"n","v":"NaN"}            NaN, Infinity, -Infinity, -0
 *   {"\u0000":"b","v":"123"}            BigInt
 *   {"\u0000":"d","v":1700000000000}    Date (v is null for an invalid date)
 *   {"\u0000":"m","v":[k1,v1,k2,v2]}    Map
 *   {"\u0000":"s","v":[v1,v2]}          Set
 *   {"\u0000":"r","v":3}                the 4th container already seen: shared references and cycles
 *   {"\u0000":"o","v":{...}}            a plain object that itself has a "\u0000" key
 * Containers (arrays, objects, Dates, Maps, Sets) are numbered in pre-order on both sides. Text without
 * any "\u0000" is plain JSON and is decoded by `JSON.parse` alone.
 *
 * Objects keep own enumerable string-keyed properties; prototypes, symbol keys, functions and symbols
 * are dropped; Errors become `{ name, message }`; RegExps become their source text. Accessors are read
 * only where the caller allows it (the host reading its own tool results), never in a realm, so copying
 * a script's value out runs none of the script's code.
 */
import {
  ArrayCtor,
  BigIntCtor,
  DateCtor,
  ErrorCtor,
  MapCtor,
  ObjectPrototype,
  RegExpCtor,
  SetCtor,
  StringCtor,
  apply,
  arrayPush,
  dateGetTime,
  defineProperty,
  gopd,
  isArray,
  jsonParse,
  jsonStringify,
  mapForEach,
  mapGet,
  mapSet,
  mapSize,
  numberIsFinite,
  objectIs,
  objectKeys,
  ownKeys,
  reflectGetPrototypeOf,
  regexpToString,
  setAdd,
  setForEach,
  setHas,
  setSize,
  stringIndexOf,
} from './primordials.js';

export interface EncodeOptions {
  maxBytes: number;
  maxDepth?: number;
  /** Read accessors (host only: the host reading its own tool results). */
  getters?: boolean;
  /** Call `toJSON` methods (host only). */
  useToJSON?: boolean;
  /** Host only: strings of at least `extractMin` characters are replaced by what this returns (unless undefined). */
  extract?: (text: string) => unknown;
  extractMin?: number;
}

/** Over `maxBytes`. */
export const TOO_LARGE = -1;
/** Nested deeper than `maxDepth`, or not encodable. */
export const TOO_DEEP = -2;

export interface Codec {
  /** JSON text, or TOO_LARGE or TOO_DEEP. */
  encode(value: unknown, opts: EncodeOptions): string | typeof TOO_LARGE | typeof TOO_DEEP;
  decode(text: string): unknown;
  /** Once: a predicate for accessors that are safe to call while copying (the realm's own). */
  setSafeGetter(fn: (getter: unknown) => boolean): void;
}

const TAG = '\u0000';

type Tagged = { [TAG]: string; v?: unknown };

export function createCodec(): Codec {
  const protoKeys = new SetCtor<PropertyKey>(ownKeys(ObjectPrototype));
  // Accessors the realm installed itself (to keep frozen prototypes overridable) are safe to call.
  let safeGetter: ((getter: unknown) => boolean) | null = null;

  function protoOf(v: object): object | null | undefined {
    try {
      return reflectGetPrototypeOf(v);
    } catch {
      return undefined;
    }
  }
  // Plain objects and arrays, by far the most common values, are recognised without any brand test.
  // Everything else is checked with instanceof first and confirmed with the internal-slot method, so
  // an exception is thrown only for objects that imitate a Date, Map or Set.
  function brand(v: object, getter: (...a: never[]) => unknown): boolean {
    try {
      apply(getter, v, []);
      return true;
    } catch {
      return false;
    }
  }
  const isDate = (v: object): v is Date => v instanceof DateCtor && brand(v, dateGetTime);
  const isMap = (v: object): v is Map<unknown, unknown> => v instanceof MapCtor && brand(v, mapSize);
  const isSet = (v: object): v is Set<unknown> => v instanceof SetCtor && brand(v, setSize);
  function tagged(t: string, v?: unknown): Tagged {
    const o = {} as Tagged;
    o[TAG] = t;
    if (v !== undefined) o.v = v;
    return o;
  }

  function encode(root: unknown, opts: EncodeOptions): string | typeof TOO_LARGE | typeof TOO_DEEP {
    const maxBytes = opts.maxBytes;
    const maxDepth = opts.maxDepth || 256;
    const getters = opts.getters === true;
    const useToJSON = opts.useToJSON === true;
    const extract = typeof opts.extract === 'function' ? opts.extract : null;
    const extractMin = opts.extractMin ?? Infinity;
    const seen = new MapCtor<object, number>();
    let nextId = 0;
    let bytes = 0;
    let fail: 0 | typeof TOO_LARGE | typeof TOO_DEEP = 0;
    function charge(n: number): boolean {
      bytes += n;
      if (bytes > maxBytes) {
        fail = TOO_LARGE;
        return false;
      }
      return true;
    }
    function num(v: number): number | Tagged {
      if (numberIsFinite(v) && !objectIs(v, -0)) return v;
      return tagged('n', objectIs(v, -0) ? '-0' : StringCtor(v));
    }
    function enc(v: unknown, depth: number): unknown {
      if (fail) return null;
      switch (typeof v) {
        case 'string': {
          if (extract !== null && v.length >= extractMin) {
            const r = extract(v);
            if (r !== undefined) return enc(r, depth);
          }
          return charge(v.length + 2) ? v : null;
        }
        case 'number':
          charge(8);
          return num(v);
        case 'boolean':
          charge(5);
          return v;
        case 'undefined':
          charge(4);
          return tagged('u');
        case 'bigint': {
          const s = StringCtor(v);
          charge(s.length + 12);
          return tagged('b', s);
        }
        case 'symbol':
        case 'function':
          charge(4);
          return tagged('u');
      }
      if (v === null) {
        charge(4);
        return null;
      }
      const o = v as object;
      if (depth > maxDepth) {
        fail = TOO_DEEP;
        return null;
      }
      const prior = apply(mapGet, seen, [o]) as number | undefined;
      if (prior !== undefined) {
        charge(12);
        return tagged('r', prior);
      }
      const proto = protoOf(o);
      const plain = proto === ObjectPrototype || proto === null;
      if (useToJSON && !isDate(o)) {
        let tj: unknown;
        try {
          // Host only (the `toJSON` option): the host's own tool results.
          // eslint-disable-next-line no-restricted-properties
          tj = (o as { toJSON?: unknown }).toJSON;
        } catch {
          tj = undefined;
        }
        if (typeof tj === 'function') {
          let out: unknown;
          try {
            out = apply(tj, o, ['']);
          } catch {
            out = undefined;
          }
          if (out !== o) return enc(out, depth + 1);
        }
      }
      if (!plain && o instanceof RegExpCtor) {
        let s: string;
        try {
          s = apply(regexpToString, o, []) as string;
        } catch {
          s = '/(?:)/';
        }
        return charge(s.length + 2) ? s : null;
      }
      const id = nextId++;
      apply(mapSet, seen, [o, id]);
      if (isArray(o)) {
        const len = o.length;
        if (!charge(len + 2)) return null;
        const out = new ArrayCtor<unknown>(len);
        for (let i = 0; i < len && !fail; i++) out[i] = enc(readIndex(o, i), depth + 1);
        return out;
      }
      if (plain) return encodeObject(o, depth, false);
      if (isDate(o)) {
        charge(24);
        const t = apply(dateGetTime, o, []) as number;
        return tagged('d', numberIsFinite(t) ? t : null);
      }
      if (isMap(o)) {
        const flat: unknown[] = [];
        apply(mapForEach, o, [
          (val: unknown, key: unknown) => {
            if (!fail) {
              apply(arrayPush, flat, [enc(key, depth + 1)]);
              apply(arrayPush, flat, [enc(val, depth + 1)]);
            }
          },
        ]);
        return tagged('m', flat);
      }
      if (isSet(o)) {
        const flat: unknown[] = [];
        apply(setForEach, o, [
          (val: unknown) => {
            if (!fail) apply(arrayPush, flat, [enc(val, depth + 1)]);
          },
        ]);
        return tagged('s', flat);
      }
      return encodeObject(o, depth, o instanceof ErrorCtor);
    }
    function encodeObject(v: object, depth: number, error: boolean): unknown {
      const out: Record<string, unknown> = {};
      let hasTagKey = false;
      if (error) {
        out.name = enc(readProp(v, 'name'), depth + 1);
        out.message = enc(readProp(v, 'message'), depth + 1);
        return out;
      }
      let ks: string[];
      try {
        ks = objectKeys(v);
      } catch {
        ks = [];
      }
      for (let i = 0; i < ks.length && !fail; i++) {
        const k = ks[i] as string;
        let val: unknown;
        if (getters) {
          try {
            val = (v as Record<string, unknown>)[k];
          } catch {
            continue;
          }
        } else {
          let d: PropertyDescriptor | undefined;
          try {
            d = gopd(v, k);
          } catch {
            continue;
          }
          if (!d || !('value' in d)) continue;
          val = d.value;
        }
        // Functions and symbols are dropped from objects (as JSON does); in arrays they become undefined.
        if (typeof val === 'function' || typeof val === 'symbol') continue;
        if (!charge(k.length + 4)) break;
        const e = enc(val, depth + 1);
        if (k === TAG) hasTagKey = true;
        // Plain assignment is faster, but a key that Object.prototype also has would hit its setter
        // ("__proto__") or its frozen, read-only property (in a realm): those are defined instead.
        if (apply(setHas, protoKeys, [k])) defineProperty(out, k, { value: e, enumerable: true, writable: true, configurable: true });
        else out[k] = e;
      }
      return hasTagKey ? tagged('o', out) : out;
    }
    function readIndex(arr: unknown[], i: number): unknown {
      try {
        return arr[i];
      } catch {
        return undefined;
      }
    }
    // Walks the prototype chain by descriptor, so an Error's name and message are read without running
    // any accessor but the realm's own.
    function readProp(o: object, k: string): string | undefined {
      let cur: object | null = o;
      for (let hops = 0; cur !== null && hops < 32; hops++) {
        let d: PropertyDescriptor | undefined;
        try {
          d = gopd(cur, k);
        } catch {
          return undefined;
        }
        if (d) {
          let x: unknown;
          if ('value' in d) x = d.value;
          else if (safeGetter !== null && d.get !== undefined && safeGetter(d.get)) {
            try {
              x = apply(d.get, o, []);
            } catch {
              return undefined;
            }
          } else return undefined;
          if (typeof x === 'string') return x;
          if (x === undefined) return undefined;
          return StringCtor(typeof x === 'symbol' ? 'Symbol()' : typeof x === 'object' || typeof x === 'function' ? '[object]' : x);
        }
        try {
          cur = reflectGetPrototypeOf(cur);
        } catch {
          return undefined;
        }
      }
      return undefined;
    }
    let tree: unknown;
    try {
      tree = enc(root, 0);
    } catch {
      fail ||= TOO_DEEP;
    }
    if (fail) return fail;
    let text: string | undefined;
    try {
      text = jsonStringify(tree);
    } catch {
      return TOO_DEEP;
    }
    if (text === undefined) text = 'null';
    if (text.length > maxBytes) return TOO_LARGE;
    return text;
  }

  function decode(text: string): unknown {
    const root: unknown = jsonParse(text);
    if (apply(stringIndexOf, text, ['\\u0000']) === -1) return root;
    const refs: unknown[] = [];
    const pushRef = (x: unknown) => {
      refs[refs.length] = x;
    };
    function set(container: object, k: string, v: unknown) {
      defineProperty(container, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    function dec(v: unknown): unknown {
      if (v === null || typeof v !== 'object') return v;
      if (isArray(v)) {
        pushRef(v);
        for (let i = 0; i < v.length; i++) {
          const x: unknown = v[i];
          const d = dec(x);
          if (d !== x) v[i] = d;
        }
        return v;
      }
      const t = gopd(v, TAG);
      if (t === undefined) {
        pushRef(v);
        decProps(v);
        return v;
      }
      const tag: unknown = t.value;
      const payload = (v as Tagged).v;
      switch (tag) {
        case 'u':
          return undefined;
        case 'n':
          return payload === '-0' ? -0 : payload === 'NaN' ? NaN : payload === 'Infinity' ? Infinity : payload === '-Infinity' ? -Infinity : NaN;
        case 'b':
          try {
            return BigIntCtor(payload as string);
          } catch {
            return undefined;
          }
        case 'd': {
          const d = new DateCtor(payload === null ? NaN : (payload as number));
          pushRef(d);
          return d;
        }
        case 'r':
          return refs[payload as number];
        case 'o': {
          pushRef(payload);
          decProps(payload as object);
          return payload;
        }
        case 'm': {
          const m = new MapCtor();
          pushRef(m);
          const flat = payload as unknown[];
          for (let i = 0; i + 1 < flat.length; i += 2) apply(mapSet, m, [dec(flat[i]), dec(flat[i + 1])]);
          return m;
        }
        case 's': {
          const s = new SetCtor();
          pushRef(s);
          const flat = payload as unknown[];
          for (let i = 0; i < flat.length; i++) apply(setAdd, s, [dec(flat[i])]);
          return s;
        }
        default:
          return undefined;
      }
    }
    function decProps(o: object) {
      const ks = objectKeys(o);
      for (let i = 0; i < ks.length; i++) {
        const k = ks[i] as string;
        const x = (o as Record<string, unknown>)[k];
        if (x !== null && typeof x === 'object') {
          const d = dec(x);
          if (d !== x) set(o, k, d);
        }
      }
    }
    return dec(root);
  }

  return {
    encode,
    decode,
    setSafeGetter(fn) {
      if (safeGetter === null) safeGetter = fn;
    },
  };
}
