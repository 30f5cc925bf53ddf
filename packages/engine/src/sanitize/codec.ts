import vm from 'node:vm';

/**
 * The wire codec: how values cross between the host and a realm. Only strings cross; each side builds
 * its own objects from them with its own intrinsics, so no object of one realm is ever reachable from
 * the other (invariant 1).
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
 *
 * The source below is evaluated once in the host and once in every realm, before any script runs, and
 * captures that realm's intrinsics at that moment.
 */
export const CODEC_SOURCE = String.raw`(function () {
  'use strict';
  const O = Object, A = Array, R = Reflect;
  const keys = O.keys, gopd = O.getOwnPropertyDescriptor, defineProperty = R.defineProperty, apply = R.apply;
  const isArray = A.isArray, ownKeysOf = R.ownKeys;
  const jsonStringify = JSON.stringify, jsonParse = JSON.parse;
  const MapCtor = Map, SetCtor = Set, DateCtor = Date, BigIntCtor = BigInt, StringCtor = String, RegExpCtor = RegExp, ErrorCtor = Error;
  const mapProto = Map.prototype, setProto = Set.prototype, dateProto = Date.prototype, regexpProto = RegExp.prototype, errorProto = Error.prototype;
  const mapForEach = mapProto.forEach, setForEach = setProto.forEach, mapSet = mapProto.set, setAdd = setProto.add;
  const mapGet = mapProto.get, mapHas = mapProto.has;
  const getTime = dateProto.getTime, regexpToString = regexpProto.toString;
  const mapSize = gopd(mapProto, 'size').get, setSize = gopd(setProto, 'size').get;
  const isPrototypeOf = O.prototype.isPrototypeOf;
  const strIndexOf = StringCtor.prototype.indexOf, strSlice = StringCtor.prototype.slice;
  const numIsFinite = Number.isFinite, objectIs = O.is;
  const arrayPush = A.prototype.push;
  const TAG = '\u0000';
  const protoKeys = new SetCtor(R.ownKeys(O.prototype)), setHasKey = SetCtor.prototype.has;

  const objectProto = O.prototype, arrayProto = A.prototype, getProto = R.getPrototypeOf;
  // Plain objects and arrays, by far the most common values, are recognised without any brand test.
  // Everything else is checked with instanceof first and confirmed with the internal-slot method, so
  // an exception is thrown only for objects that imitate a Date, Map or Set.
  function protoOf(v) { try { return getProto(v); } catch { return undefined; } }
  function brand(v, getter) { try { apply(getter, v, []); return true; } catch { return false; } }
  function isDate(v) { return v instanceof DateCtor && brand(v, getTime); }
  function isMap(v) { return v instanceof MapCtor && brand(v, mapSize); }
  function isSet(v) { return v instanceof SetCtor && brand(v, setSize); }
  function isRegExp(v) { return v instanceof RegExpCtor; }
  function isError(v) { return v instanceof ErrorCtor; }
  // Accessors the realm installed itself (to keep frozen prototypes overridable) are safe to call.
  let safeGetter = null;
  function tagged(t, v) { const o = {}; o[TAG] = t; if (v !== undefined) o.v = v; return o; }

  // Returns the JSON text, or a negative number: -1 over maxBytes, -2 nested deeper than maxDepth.
  function encode(root, opts) {
    const maxBytes = opts.maxBytes, maxDepth = opts.maxDepth || 256, getters = opts.getters === true, toJSON = opts.toJSON === true;
    // Host only: long strings may be swapped for a small stand-in (the tool sidecar's references).
    const extract = typeof opts.extract === 'function' ? opts.extract : null, extractMin = opts.extractMin;
    const seen = new MapCtor();
    let nextId = 0, bytes = 0, fail = 0;
    function charge(n) { bytes += n; if (bytes > maxBytes) { fail = -1; return false; } return true; }
    function num(v) {
      if (numIsFinite(v) && !objectIs(v, -0)) return v;
      return tagged('n', objectIs(v, -0) ? '-0' : StringCtor(v));
    }
    function enc(v, depth) {
      if (fail) return null;
      switch (typeof v) {
        case 'string': {
          if (extract !== null && v.length >= extractMin) { const r = extract(v); if (r !== undefined) return enc(r, depth); }
          return charge(v.length + 2) ? v : null;
        }
        case 'number': charge(8); return num(v);
        case 'boolean': charge(5); return v;
        case 'undefined': charge(4); return tagged('u');
        case 'bigint': { const s = StringCtor(v); charge(s.length + 12); return tagged('b', s); }
        case 'symbol': case 'function': charge(4); return tagged('u');
      }
      if (v === null) { charge(4); return null; }
      if (depth > maxDepth) { fail = -2; return null; }
      const prior = apply(mapGet, seen, [v]);
      if (prior !== undefined) { charge(12); return tagged('r', prior); }
      const proto = protoOf(v);
      const plain = proto === objectProto || proto === null;
      if (toJSON && !isDate(v)) {
        let tj; try { tj = v.toJSON; } catch { tj = undefined; }
        if (typeof tj === 'function') {
          let out; try { out = apply(tj, v, ['']); } catch { out = undefined; }
          if (out !== v) return enc(out, depth + 1);
        }
      }
      if (!plain && isRegExp(v)) { let s; try { s = apply(regexpToString, v, []); } catch { s = '/(?:)/'; } return charge(s.length + 2) ? s : null; }
      const id = nextId++;
      apply(mapSet, seen, [v, id]);
      if (isArray(v)) {
        const len = v.length;
        if (!charge(len + 2)) return null;
        const out = new A(len);
        for (let i = 0; i < len && !fail; i++) out[i] = enc(readIndex(v, i), depth + 1);
        return out;
      }
      if (plain) return encodeObject(v, depth, false);
      if (isDate(v)) { charge(24); const t = apply(getTime, v, []); return tagged('d', numIsFinite(t) ? t : null); }
      if (isMap(v)) {
        const flat = [];
        apply(mapForEach, v, [(val, key) => { if (!fail) { apply(arrayPush, flat, [enc(key, depth + 1)]); apply(arrayPush, flat, [enc(val, depth + 1)]); } }]);
        return tagged('m', flat);
      }
      if (isSet(v)) {
        const flat = [];
        apply(setForEach, v, [(val) => { if (!fail) apply(arrayPush, flat, [enc(val, depth + 1)]); }]);
        return tagged('s', flat);
      }
      return encodeObject(v, depth, isError(v));
    }
    function encodeObject(v, depth, error) {
      const out = {};
      let hasTagKey = false;
      if (error) {
        out.name = enc(readProp(v, 'name'), depth + 1);
        out.message = enc(readProp(v, 'message'), depth + 1);
        return out;
      }
      let ks; try { ks = keys(v); } catch { ks = []; }
      for (let i = 0; i < ks.length && !fail; i++) {
        const k = ks[i];
        let val;
        if (getters) { try { val = v[k]; } catch { continue; } }
        else { let d; try { d = gopd(v, k); } catch { continue; } if (!d || !('value' in d)) continue; val = d.value; }
        // Functions and symbols are dropped from objects (as JSON does); in arrays they become undefined.
        if (typeof val === 'function' || typeof val === 'symbol') continue;
        if (!charge(k.length + 4)) break;
        const e = enc(val, depth + 1);
        if (k === TAG) hasTagKey = true;
        // Plain assignment is faster, but a key that Object.prototype also has would hit its setter
        // ("__proto__") or its frozen, read-only property (in a realm): those are defined instead.
        if (apply(setHasKey, protoKeys, [k])) defineProperty(out, k, { value: e, enumerable: true, writable: true, configurable: true });
        else out[k] = e;
      }
      return hasTagKey ? tagged('o', out) : out;
    }
    function readIndex(arr, i) {
      try { return arr[i]; } catch { return undefined; }
    }
    function readProp(o, k) {
      // Walks the prototype chain by descriptor, so an Error's name and message are read without
      // running any accessor.
      let cur = o;
      for (let hops = 0; cur !== null && hops < 32; hops++) {
        let d; try { d = gopd(cur, k); } catch { return undefined; }
        if (d) { let x; if ('value' in d) x = d.value; else if (safeGetter !== null && d.get !== undefined && safeGetter(d.get)) { try { x = apply(d.get, o, []); } catch { return undefined; } } else return undefined; return typeof x === 'string' ? x : x === undefined ? undefined : StringCtor(typeof x === 'symbol' ? 'Symbol()' : typeof x === 'object' || typeof x === 'function' ? '[object]' : x); }
        try { cur = R.getPrototypeOf(cur); } catch { return undefined; }
      }
      return undefined;
    }
    let tree;
    try { tree = enc(root, 0); } catch { fail = fail || -2; }
    if (fail) return fail;
    let text;
    try { text = jsonStringify(tree); } catch { return -2; }
    if (text === undefined) text = 'null';
    if (text.length > maxBytes) return -1;
    return text;
  }

  function decode(text) {
    const root = jsonParse(text);
    if (apply(strIndexOf, text, ['\\u0000']) === -1) return root;
    const refs = [];
    function set(container, k, v) { defineProperty(container, k, { value: v, enumerable: true, writable: true, configurable: true }); }
    function dec(v) {
      if (v === null || typeof v !== 'object') return v;
      if (isArray(v)) {
        arrayPushRef(v);
        for (let i = 0; i < v.length; i++) { const x = v[i]; const d = dec(x); if (d !== x) v[i] = d; }
        return v;
      }
      const t = gopd(v, TAG);
      if (t === undefined) { arrayPushRef(v); decProps(v); return v; }
      const tag = t.value, payload = v.v;
      switch (tag) {
        case 'u': return undefined;
        case 'n': return payload === '-0' ? -0 : payload === 'NaN' ? NaN : payload === 'Infinity' ? Infinity : payload === '-Infinity' ? -Infinity : NaN;
        case 'b': try { return BigIntCtor(payload); } catch { return undefined; }
        case 'd': { const d = new DateCtor(payload === null ? NaN : payload); arrayPushRef(d); return d; }
        case 'r': return refs[payload];
        case 'o': { arrayPushRef(payload); decProps(payload); return payload; }
        case 'm': { const m = new MapCtor(); arrayPushRef(m); for (let i = 0; i + 1 < payload.length; i += 2) apply(mapSet, m, [dec(payload[i]), dec(payload[i + 1])]); return m; }
        case 's': { const s = new SetCtor(); arrayPushRef(s); for (let i = 0; i < payload.length; i++) apply(setAdd, s, [dec(payload[i])]); return s; }
        default: return undefined;
      }
    }
    function decProps(o) {
      const ks = keys(o);
      for (let i = 0; i < ks.length; i++) { const k = ks[i]; const x = o[k]; if (x !== null && typeof x === 'object') { const d = dec(x); if (d !== x) set(o, k, d); } }
    }
    function arrayPushRef(x) { refs[refs.length] = x; }
    return dec(root);
  }

  return { encode, decode, setSafeGetter(fn) { if (safeGetter === null) safeGetter = fn; } };
})`;

export interface Codec {
  /** JSON text, or -1 (larger than `maxBytes`) or -2 (nested deeper than `maxDepth`, or unencodable). */
  encode(
    value: unknown,
    opts: {
      maxBytes: number;
      maxDepth?: number;
      getters?: boolean;
      toJSON?: boolean;
      /** Host only: strings of at least `extractMin` characters are replaced by what this returns (unless undefined). */
      extract?: (text: string) => unknown;
      extractMin?: number;
    },
  ): string | -1 | -2;
  decode(text: string): unknown;
  /** Once: a predicate for accessors that are safe to call while copying (the realm's own). */
  setSafeGetter(fn: (getter: unknown) => boolean): void;
}

/** The host's own instance of the codec, built from the same source as the realms' copies. */
export const hostCodec: Codec = (vm.runInThisContext(CODEC_SOURCE, { filename: 'enclave:codec' }) as () => Codec)();
