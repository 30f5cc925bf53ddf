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
 * are dropped; Errors become `{ name, message }`; RegExps become their source text; String objects become
 * their string and typed arrays an array of their elements (neither is listed key by key). Accessors are read
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
  dateToISOString,
  defineProperty,
  freeze,
  gopd,
  isArray,
  isView,
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
  setDelete,
  setHas,
  setSize,
  stringCharCodeAt,
  stringIndexOf,
  stringSlice,
  stringValueOf,
  typedArrayLengthGetter,
} from './primordials.js';

export interface EncodeOptions {
  maxBytes: number;
  maxDepth?: number;
  /** Read accessors (host only: the host reading its own tool results). */
  getters?: boolean;
  /** Call `toJSON` methods (host only). */
  useToJSON?: boolean;
  /**
   * Host only, with `getters`: a getter or a `toJSON` that throws fails the copy (UNREADABLE) instead of
   * leaving its value out, as the run's `input` and globals are copied; a tool's result leaves it out.
   */
  strict?: boolean;
  /**
   * Host only: a string (a value, a key, a BigInt's digits) longer than this fails the copy (TOO_LONG). The
   * realm never builds a string past MAX_STRING_CHARS (realm-abi.ts), since V8 reads a string in steps that
   * ignore termination; a host value must not bring one in.
   */
  maxStringChars?: number;
  /** Host only: strings of at least `extractMin` characters are replaced by what this returns (unless undefined). */
  extract?: (text: string) => unknown;
  extractMin?: number;
  /**
   * Host only: what an object that is none of the copied kinds is, when it is one the copy refuses (a
   * Promise, a WeakMap: their content cannot be read, and `{}` is surely not what the host meant), else
   * undefined. Asked only of objects that would be copied key by key (class instances and the like).
   */
  opaque?: (value: object) => string | undefined;
}

/** Over `maxBytes`. */
export const TOO_LARGE = -1;
/** Nested deeper than `maxDepth`, or not encodable. */
export const TOO_DEEP = -2;
/** A cycle, which JSON cannot represent (`encodeJSON` with `cycles: 'fail'`). */
export const CYCLE = -3;
/** Reading the value threw: a revoked Proxy, a Proxy trap, a getter or a `toJSON` that throws (`encode` with `getters`). */
export const UNREADABLE = -4;
/** A value the host's `opaque` option refuses (see EncodeOptions.opaque). */
export const UNSUPPORTED = -5;

/** A string longer than `maxStringChars` (EncodeOptions). */
export const TOO_LONG = -6;

/** What `encode` gives back when it cannot copy a value. */
export interface EncodeFailure {
  code: typeof TOO_LARGE | typeof TOO_DEEP | typeof UNREADABLE | typeof UNSUPPORTED | typeof TOO_LONG;
  /** Where, as a path below the root (`.a.b[2]`), for every code but TOO_LARGE; empty for the root itself. */
  path: string;
  /**
   * UNREADABLE: what threw (`'getter'`, `'toJSON'`, or `'object'`: inspecting it); UNSUPPORTED: what `opaque` said;
   * TOO_LONG: the string's length, and `' key'` after it for a property name.
   */
  what: string;
}

export interface JSONEncodeOptions {
  /** Longest text; everything is counted as it is written, a shared value each time it appears. */
  maxBytes: number;
  maxDepth: number;
  /** A cycle fails the copy ('fail') or is written as the string "[Circular]" ('mark', for logs). */
  cycles: 'fail' | 'mark';
  /**
   * Counts the keys the copy listed (with Object.keys, one step per object whatever the cap): the run
   * charges them as the script's own listing is charged (see chargeWork in the realm's budgets).
   */
  listed?: { count: number };
}

/** What `encodeJSON` gives back when it cannot copy a value. */
export interface JSONFailure {
  code: typeof TOO_LARGE | typeof TOO_DEEP | typeof CYCLE | typeof UNREADABLE;
  /** Where the cycle closes or the value that could not be read is, as a path below the root (`.a.b[2]`); empty otherwise. */
  path: string;
}

export interface Codec {
  /** The tagged text of a value (see the format above), or why it cannot be copied. */
  encode(value: unknown, opts: EncodeOptions): string | EncodeFailure;
  decode(text: string): unknown;
  /**
   * A value as plain JSON data, the way it leaves a realm for the host (results, tool arguments, logs):
   * see the mapping below. The empty string stands for a value that is not there at all (undefined).
   */
  encodeJSON(value: unknown, opts: JSONEncodeOptions): string | JSONFailure;
  /** The value of `encodeJSON` text, without prototype keys even if the text was not made by encodeJSON. */
  decodeJSON(text: string): unknown;
  /** Once: a predicate for accessors that are safe to call while copying (the realm's own). */
  setSafeGetter(fn: (getter: unknown) => boolean): void;
}

const TAG = '\u0000';

/** Keys a copy never carries: a naive deep merge of the copy would otherwise reach a prototype. */
function prototypeKey(k: string, v: unknown): boolean {
  return k === '__proto__' || (k === 'constructor' && v !== null && (typeof v === 'object' || typeof v === 'function'));
}

function scrub(this: unknown, key: string, value: unknown): unknown {
  return prototypeKey(key, value) ? undefined : value;
}

/**
 * The value of `encodeJSON` text (the empty text is undefined). A text that has a "__proto__" key, or
 * an object under "constructor", was not made by encodeJSON (a worker is untrusted input): those keys
 * are dropped here too. Throws on text that is not JSON.
 */
export function decodeJSON(text: string): unknown {
  if (text === '') return undefined;
  // A key can be spelled with escapes ("__pr\u006fto__"): any escape takes the scrubbing path.
  if (apply(stringIndexOf, text, ['"__proto__"']) === -1 && apply(stringIndexOf, text, ['"constructor"']) === -1 && apply(stringIndexOf, text, ['\\u']) === -1) return jsonParse(text);
  return jsonParse(text, scrub);
}

type Tagged = { [TAG]: string; v?: unknown };

/** Longest key a failure's path quotes. */
const MAX_PATH_KEY = 40;

/** A key as a path segment: `.name`, or `["any text"]` (cut at MAX_PATH_KEY characters). */
function keySegment(k: string): string {
  let plain = k.length > 0 && k.length <= MAX_PATH_KEY;
  for (let i = 0; i < k.length && plain; i++) {
    const c = apply(stringCharCodeAt, k, [i]) as number;
    plain = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x24 || c === 0x5f || (i > 0 && c >= 0x30 && c <= 0x39);
  }
  return plain ? `.${k}` : `[${keyText(k)}]`;
}

/** A Map key or property name as a failure's path shows it: a quoted string (cut), a number, or `…` for an object. */
function keyText(k: unknown): string {
  if (typeof k === 'string') return jsonStringify(k.length > MAX_PATH_KEY ? `${apply(stringSlice, k, [0, MAX_PATH_KEY]) as string}...` : k) as string;
  if (typeof k === 'number' || typeof k === 'boolean' || k === null || k === undefined) return StringCtor(k);
  return '…';
}

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

  /** Own enumerable string keys; none for an object whose ownKeys trap throws. */
  function keysOf(v: object): string[] {
    try {
      return objectKeys(v);
    } catch {
      return [];
    }
  }
  /**
   * Plain assignment is faster, but a key that Object.prototype also has would hit its setter
   * ("__proto__") or its frozen, read-only property (in a realm): those are defined instead.
   */
  function putOwn(out: Record<string, unknown>, k: string, e: unknown): void {
    if (apply(setHas, protoKeys, [k])) defineProperty(out, k, { value: e, enumerable: true, writable: true, configurable: true });
    else out[k] = e;
  }
  /** A RegExp's source text, read by the intrinsic (an object that only inherits from RegExp has none). */
  function regexpText(o: object): string {
    try {
      return apply(regexpToString, o, []) as string;
    } catch {
      return '/(?:)/';
    }
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

  function encode(root: unknown, opts: EncodeOptions): string | EncodeFailure {
    const maxBytes = opts.maxBytes;
    const maxDepth = opts.maxDepth || 256;
    const getters = opts.getters === true;
    const useToJSON = opts.useToJSON === true;
    const extract = typeof opts.extract === 'function' ? opts.extract : null;
    const extractMin = opts.extractMin ?? Infinity;
    const opaque = typeof opts.opaque === 'function' ? opts.opaque : null;
    const strict = opts.strict === true;
    const maxChars = opts.maxStringChars ?? Infinity;
    const seen = new MapCtor<object, number>();
    let nextId = 0;
    let bytes = 0;
    let fail: 0 | EncodeFailure['code'] = 0;
    let failWhat = '';
    // The segments from the failure up to the root, in that order (see `within`).
    const path: string[] = [];
    function unreadable(what: string): null {
      if (!fail) {
        fail = UNREADABLE;
        failWhat = what;
      }
      return null;
    }
    /**
     * After a child's copy failed (callers test `fail` first, so that a copy that succeeds builds no
     * segment): the failure, but the byte budget's (which is not anywhere), passes through `segment`.
     */
    function passes(segment: string): void {
      if (fail !== TOO_LARGE) path[path.length] = segment;
    }
    /** False (the copy fails) for a string past `maxChars`. */
    function short(s: string, key: boolean): boolean {
      if (s.length <= maxChars) return true;
      fail = TOO_LONG;
      failWhat = key ? `${s.length} key` : `${s.length}`;
      return false;
    }
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
          return short(v, false) && charge(v.length + 2) ? v : null;
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
          if (!short(s, false)) return null;
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
      try {
        return encObject(o, depth);
      } catch {
        // Inspecting the object threw (a revoked Proxy, a Proxy trap that throws): what a child of it
        // threw was caught at the child.
        return unreadable('object');
      }
    }
    function encObject(o: object, depth: number): unknown {
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
            if (strict) return unreadable('toJSON');
            out = undefined;
          }
          if (out !== o) {
            const replaced = enc(out, depth + 1);
            if (fail) passes('.toJSON()');
            return replaced;
          }
        }
      }
      if (!plain && o instanceof RegExpCtor) {
        const s = regexpText(o);
        return charge(s.length + 2) ? s : null;
      }
      // As in encodeJSON: a String object becomes its string, a view an array, both counted before any
      // key is listed (`structuredClone(new String('x'.repeat(3e7)))` held a vm host 15 s past its
      // deadline; a tool's Float64Array of 1e7 elements, 2.7 s).
      const boxed = stringValue(o);
      if (boxed !== undefined) return charge(boxed.length + 2) ? boxed : null;
      const id = nextId++;
      apply(mapSet, seen, [o, id]);
      const viewLength = isArray(o) ? o.length : typedArrayLength(o);
      if (viewLength >= 0) {
        if (!charge(viewLength + 2)) return null;
        const out = new ArrayCtor<unknown>(viewLength);
        for (let i = 0; i < viewLength && !fail; i++) {
          let item: unknown;
          if (!getters) item = readIndex(o as unknown[], i);
          else {
            try {
              item = (o as unknown[])[i];
            } catch {
              if (strict) unreadable('getter');
            }
          }
          if (!fail) out[i] = enc(item, depth + 1);
          if (fail) passes(`[${i}]`);
        }
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
            if (fail) return;
            apply(arrayPush, flat, [enc(key, depth + 1)]);
            if (fail) return passes('.keys()');
            apply(arrayPush, flat, [enc(val, depth + 1)]);
            if (fail) passes(`.get(${keyText(key)})`);
          },
        ]);
        return tagged('m', flat);
      }
      if (isSet(o)) {
        const flat: unknown[] = [];
        apply(setForEach, o, [
          (val: unknown) => {
            if (fail) return;
            apply(arrayPush, flat, [enc(val, depth + 1)]);
            if (fail) passes('.values()');
          },
        ]);
        return tagged('s', flat);
      }
      const what = opaque === null ? undefined : opaque(o);
      if (what !== undefined) {
        fail = UNSUPPORTED;
        failWhat = what;
        return null;
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
      // The host's own values (getters on) say when they cannot be listed; a script's are copied as far as they can be read.
      const ks = getters ? objectKeys(v) : keysOf(v);
      for (let i = 0; i < ks.length && !fail; i++) {
        const k = ks[i] as string;
        let val: unknown;
        if (getters) {
          try {
            val = (v as Record<string, unknown>)[k];
          } catch {
            if (!strict) continue;
            unreadable('getter');
            passes(keySegment(k));
            break;
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
        if (!short(k, true)) break;
        if (!charge(k.length + 4)) break;
        const e = enc(val, depth + 1);
        if (fail) {
          passes(keySegment(k));
          break;
        }
        if (k === TAG) hasTagKey = true;
        putOwn(out, k, e);
      }
      return hasTagKey ? tagged('o', out) : out;
    }
    const failure = (code: EncodeFailure['code']): EncodeFailure => {
      let where = '';
      for (let i = path.length - 1; i >= 0; i--) where += path[i] as string;
      return { code, path: where, what: failWhat };
    };
    let tree: unknown;
    try {
      tree = enc(root, 0);
    } catch {
      // The stack ran out.
      fail ||= TOO_DEEP;
    }
    if (fail) return failure(fail);
    let text: string | undefined;
    try {
      text = jsonStringify(tree);
    } catch {
      return failure(TOO_DEEP);
    }
    if (text === undefined) text = 'null';
    if (text.length > maxBytes) return failure(TOO_LARGE);
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

  /** An own data property's value; undefined for a hole or an accessor, whose code never runs here. */
  function ownDescriptor(o: object, k: number | string): PropertyDescriptor | undefined {
    try {
      return gopd(o, k);
    } catch {
      return undefined;
    }
  }
  function ownData(o: object, k: number | string): unknown {
    const d = ownDescriptor(o, k);
    return d !== undefined && 'value' in d ? d.value : undefined;
  }
  /** The length of a typed array (read by the intrinsic getter, so only a real one has it), or -1. */
  function typedArrayLength(o: object): number {
    if (!isView(o)) return -1;
    try {
      return apply(typedArrayLengthGetter, o, []) as number;
    } catch {
      return -1; // a DataView
    }
  }
  /**
   * The string a String object wraps, or undefined for anything else. By its brand, not its prototype: a
   * String object whose prototype was set to null or to Object.prototype passed for a plain object, and
   * its indices were listed as keys, one string each, in one step that ignores termination (3e7
   * characters: 19-21 s past a 2 s deadline, 812 MB, in a log line, a tool's arguments or the result).
   * Only an object whose own `length` is a fixed number, as a String object's is, pays the brand check.
   */
  function stringValue(o: object): string | undefined {
    const d = ownDescriptor(o, 'length');
    if (d === undefined || typeof d.value !== 'number' || d.writable !== false || d.configurable !== false) return undefined;
    try {
      return apply(stringValueOf, o, []) as string;
    } catch {
      return undefined;
    }
  }

  /** What `encodeJSON` leaves out of an object (and writes as null in an array). */
  const OMIT = freeze({});

  /**
   * Plain JSON data: what crosses from a realm to the host. Everything is counted as it is written, a
   * shared value each time it appears, so no small value expands into gigabytes of text on the host,
   * and what the host gets is something its own `JSON.stringify` writes without throwing:
   *   undefined, functions, symbols   left out of objects, null in arrays
   *   NaN, Infinity, -Infinity        null (and -0 is 0), as JSON.stringify writes them
   *   BigInt                          its decimal digits, as a string
   *   Date                            its ISO string (null for an invalid date)
   *   Map                             an array of [key, value] pairs (prototype keys left out, as below)
   *   Set                             an array of its values
   *   RegExp                          its source text, as a string
   *   typed arrays                    an array of their elements (BigInt elements as strings)
   *   String objects                  their string
   *   Error                           { name, message }
   *   cycles                          refused with the path where they close, or "[Circular]" (logs)
   *   other objects                   own enumerable data properties; no getter runs, no toJSON is called
   *   key "__proto__", or "constructor" with an object value: left out
   * No code of the value runs: accessors are skipped, not read (a Proxy's traps are the only exception:
   * they are the script's own realm code, still under the run's deadline).
   */
  function encodeJSON(root: unknown, opts: JSONEncodeOptions): string | JSONFailure {
    const maxBytes = opts.maxBytes;
    const maxDepth = opts.maxDepth;
    const markCycles = opts.cycles === 'mark';
    // Only the containers on the path to the current one: a value shared elsewhere is written again.
    const ancestors = new SetCtor<object>();
    const path: string[] = [];
    let bytes = 0;
    let fail: 0 | JSONFailure['code'] = 0;
    function charge(n: number): boolean {
      bytes += n;
      if (bytes > maxBytes) {
        if (!fail) fail = TOO_LARGE;
        return false;
      }
      return true;
    }
    function enc(v: unknown, depth: number): unknown {
      if (fail) return null;
      switch (typeof v) {
        case 'string':
          return charge(v.length + 2) ? v : null;
        case 'number':
          charge(8);
          return numberIsFinite(v) ? (v === 0 ? 0 : v) : null;
        case 'boolean':
          charge(5);
          return v;
        case 'bigint': {
          const digits = StringCtor(v);
          return charge(digits.length + 2) ? digits : null;
        }
        case 'undefined':
        case 'symbol':
        case 'function':
          return OMIT;
      }
      const o = v as object | null;
      if (o === null || depth > maxDepth) {
        if (o === null) charge(4);
        else fail = TOO_DEEP;
        return null;
      }
      try {
        return encObject(o, depth);
      } catch {
        // Inspecting the object threw (a revoked Proxy, a trap that throws); a child's throw was caught at the child.
        if (!fail) fail = UNREADABLE;
        return null;
      }
    }
    function encObject(o: object, depth: number): unknown {
      if (apply(setHas, ancestors, [o])) {
        if (markCycles) return charge(12) ? '[Circular]' : null;
        fail = CYCLE;
        return null;
      }
      const proto = protoOf(o);
      const plain = proto === ObjectPrototype || proto === null;
      if (!plain && o instanceof RegExpCtor) {
        const text = regexpText(o);
        return charge(text.length + 2) ? text : null;
      }
      // String objects have one own key per character: a few bytes of the script's memory could
      // otherwise become millions of keys here. Counted first, whatever their prototype.
      const boxed = stringValue(o);
      if (boxed !== undefined) return charge(boxed.length + 2) ? boxed : null;
      if (!plain && isDate(o)) {
        charge(26);
        const t = apply(dateGetTime, o, []) as number;
        return numberIsFinite(t) ? (apply(dateToISOString, o, []) as string) : null;
      }
      apply(setAdd, ancestors, [o]);
      try {
        if (isArray(o)) return encodeItems(o.length, (i) => ownData(o, i), depth);
        // Views too, one own key per element (the host's: a realm has none), whatever their prototype.
        const viewLength = typedArrayLength(o);
        if (viewLength >= 0) return encodeItems(viewLength, (i) => (o as unknown as ArrayLike<unknown>)[i], depth);
        if (plain) return encodeProps(o, depth);
        // A Map's pairs and a Set's values are all collected before any is charged. Every value is
        // charged 2 bytes at least (an empty string, array or object; 4 to 8 for the rest), and every
        // item of a list 1 more: a pair at least 9 (all but the two a prototype key may leave out), a
        // Set's value 3. One that cannot fit the bytes left is refused before anything is collected:
        // collected first, a Map of 1.5e6 pairs took 0.4 s and 300 MB of the host per log line (then
        // '[value too large]'), per tool call and per result, whatever the cap.
        if (isMap(o) || isSet(o)) {
          const least = isMap(o) ? 9 * ((apply(mapSize, o, []) as number) - 2) : 3 * (apply(setSize, o, []) as number);
          if (least + 2 > maxBytes - bytes) {
            if (!fail) fail = TOO_LARGE;
            return null;
          }
        }
        if (isMap(o)) {
          const pairs: unknown[] = [];
          // The pairs become an object as soon as a host calls Object.fromEntries: same keys left out.
          apply(mapForEach, o, [(val: unknown, key: unknown) => {
            if (!fail && !(typeof key === 'string' && prototypeKey(key, val))) pairs[pairs.length] = [key, val];
          }]);
          return encodeItems(pairs.length, (i) => pairs[i], depth);
        }
        if (isSet(o)) {
          const items: unknown[] = [];
          apply(setForEach, o, [(val: unknown) => {
            if (!fail) items[items.length] = val;
          }]);
          return encodeItems(items.length, (i) => items[i], depth);
        }
        if (o instanceof ErrorCtor) {
          charge(2);
          const out: Record<string, unknown> = {};
          const name = enc(readProp(o, 'name'), depth + 1);
          const message = enc(readProp(o, 'message'), depth + 1);
          if (name !== OMIT) out.name = name;
          if (message !== OMIT) out.message = message;
          return out;
        }
        return encodeProps(o, depth);
      } finally {
        apply(setDelete, ancestors, [o]);
      }
    }
    function encodeItems(len: number, at: (i: number) => unknown, depth: number): unknown[] | null {
      if (!charge(len + 2)) return null;
      const out = new ArrayCtor<unknown>(len);
      for (let i = 0; i < len; i++) {
        const e = enc(at(i), depth + 1);
        if (fail) {
          if (fail === CYCLE || fail === UNREADABLE) path[path.length] = `[${i}]`;
          break;
        }
        if (e === OMIT) {
          charge(4);
          out[i] = null;
        } else out[i] = e;
      }
      return out;
    }
    function encodeProps(v: object, depth: number): Record<string, unknown> {
      charge(2);
      const out: Record<string, unknown> = {};
      const ks = keysOf(v);
      if (opts.listed !== undefined) opts.listed.count += ks.length;
      for (let i = 0; i < ks.length && !fail; i++) {
        const k = ks[i] as string;
        // An accessor reads as undefined, and is left out like any undefined.
        const val = ownData(v, k);
        if (prototypeKey(k, val)) continue;
        const e = enc(val, depth + 1);
        if (fail) {
          if (fail === CYCLE || fail === UNREADABLE) path[path.length] = `.${k}`;
          break;
        }
        if (e === OMIT || !charge(k.length + 4)) continue;
        putOwn(out, k, e);
      }
      return out;
    }
    let tree: unknown;
    try {
      tree = enc(root, 0);
    } catch {
      if (!fail) fail = TOO_DEEP;
    }
    if (fail) {
      let where = '';
      for (let i = path.length - 1; i >= 0; i--) where += path[i] as string;
      return { code: fail, path: where };
    }
    if (tree === OMIT) return '';
    let text: string;
    try {
      text = jsonStringify(tree) as string;
    } catch {
      return { code: TOO_DEEP, path: '' };
    }
    return text.length > maxBytes ? { code: TOO_LARGE, path: '' } : text;
  }

  return {
    encode,
    decode,
    encodeJSON,
    decodeJSON,
    setSafeGetter(fn) {
      if (safeGetter === null) safeGetter = fn;
    },
  };
}
