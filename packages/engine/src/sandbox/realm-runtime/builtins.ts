/**
 * Builtins that allocate in bulk, or walk a length in one uninterruptible native step, are wrapped so
 * that what they will build is charged before they build it. A native call that builds a gigabyte
 * string or walks an array of length 2^32-1 cannot be stopped half-way (some of V8's C++ loops ignore
 * termination), so the check has to come first.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the wrappers keep the builtins' own loose signatures */
import { BIG_STRING, PROTECTED_NAMES } from '../realm-abi.js';
import type { Run } from './budgets.js';
import { CHARS_PER_UNIT, WORK_FREE, chargeCharWork, chargeChars, chargeElements, chargeWork, checkMemory, copied, countStep, current, tick } from './budgets.js';
import { displace } from './displaced.js';
import { isPromise } from './promises.js';
import { guarded, unguarded, useRegExpConstructor } from './regexps.js';
import {
  ArrayCtor,
  ArrayIteratorPrototype,
  ArrayPrototype,
  BigIntCtor,
  BigIntPrototype,
  ErrorPrototype,
  FunctionPrototype,
  G,
  IntlObject,
  JSONObject,
  MapCtor,
  MapIteratorPrototype,
  MathObject,
  ObjectCtor,
  ObjectPrototype,
  ProxyCtor,
  RangeErrorCtor,
  ReflectObject,
  RegExpCtor,
  RegExpPrototype,
  SetCtor,
  SetIteratorPrototype,
  StringCtor,
  StringIteratorPrototype,
  StringPrototype,
  SyntaxErrorCtor,
  TypeErrorCtor,
  WeakSetCtor,
  apply,
  arrayFrom,
  bigIntAsUintN,
  bigIntValueOf,
  construct,
  create,
  arrayIncludes,
  arrayJoin,
  arrayLastIndexOf,
  arrayPush,
  arraySlice,
  defineProperty,
  freeze,
  fromCharCode,
  gopd,
  gpo,
  isArray,
  isFrozen,
  gopsyms,
  jsonIsRawJSON,
  jsonParse,
  jsonStringify,
  nativeDefineProperties,
  objectKeys,
  weakSetAdd,
  weakSetHas,
  reflectDefine,
  reflectDelete,
  ownKeys,
  stringCharCodeAt,
  stringIndexOf,
  stringSlice,
  stringValueOf,
  regexpExec,
  mapSize,
  setSize,
  numberValueOf,
  stringRaw,
  regexpSourceGetter,
  symbolIsConcatSpreadable,
  symbolIterator,
  symbolSpecies,
  symbolMatch,
  symbolMatchAll,
  symbolReplace,
  symbolSearch,
  symbolSplit,
  symbolToPrimitive,
  setHas,
  WeakMapCtor,
  weakMapGet,
  weakMapSet,
} from './primordials.js';

type AnyFn = (...args: any[]) => any;

/**
 * Replaces `obj[key]` by the method of that key in what `make(original)` returns (an object literal, so
 * the replacement has a builtin's shape: no prototype, not a constructor), keeping the original's name,
 * length and attributes.
 */
export function wrap(obj: object, key: PropertyKey, make: (original: AnyFn) => object): void {
  const d = gopd(obj, key);
  if (!d || typeof d.value !== 'function') return;
  const original = d.value as AnyFn;
  displace(original);
  const replacement = gopd(make(original), key)?.value as AnyFn;
  defineProperty(replacement, 'name', { value: original.name });
  defineProperty(replacement, 'length', { value: original.length });
  defineProperty(obj, key, { value: replacement, writable: d.writable, enumerable: d.enumerable, configurable: d.configurable });
}

/**
 * Replaces an accessor that hands out one bound function per receiver (`Intl.Collator`'s `compare`,
 * `Intl.DateTimeFormat`'s `format`): the replacement hands out one function per native one, made by
 * `make` (so `x.format === x.format` still holds), nameless like the native. The native getter runs
 * first, so a receiver of the wrong kind throws its own TypeError.
 */
export function wrapHandedOut(proto: object, key: string, make: (native: AnyFn) => AnyFn): void {
  const d = gopd(proto, key);
  const nativeGet = d?.get;
  if (d === undefined || nativeGet === undefined) return;
  const made = new WeakMapCtor<object, unknown>();
  const getter = gopd({
    get [key]() {
      const native = apply(nativeGet, this, []) as AnyFn;
      let fn = apply(weakMapGet, made, [native]) as AnyFn | undefined;
      if (fn === undefined) {
        fn = make(native);
        defineProperty(fn, 'name', { value: '' });
        apply(weakMapSet, made, [native, fn]);
      }
      return fn;
    },
  }, key)?.get;
  displace(nativeGet);
  defineProperty(proto, key, { get: getter, set: undefined, enumerable: d.enumerable, configurable: d.configurable });
}

/** ToObject of a value that is not null or undefined: a primitive becomes its wrapper (a string reads its characters). */
function toObject(v: any): any {
  return typeof v === 'object' || typeof v === 'function' ? v : ObjectCtor(v);
}

export function toLen(v: unknown): number {
  const n = +(v as number);
  return n > 0 ? (n === Infinity ? Infinity : n - (n % 1)) : 0;
}

/** Below this length an array is used in place by the walking methods without any check. */
const SMALL = BIG_STRING;
/** Key lists longer than this are charged after they are made (see KEY_LISTINGS). */
const MEASURED_KEYS = 64;

/**
 * The receiver a native array method may use. A real array's length is managed by the engine (no
 * script code runs when it is read; proxies of arrays do not exist, see lockdown), so it is checked in
 * place. Anything else (an array-like, a string) could report one length to the check and another to
 * the native, so read-only methods run on a bounded snapshot and mutating ones are refused.
 */
export function receiver(self: any, mutating: boolean, orig?: AnyFn, dense = false): any {
  if (isArray(self)) {
    const len = self.length;
    if (len > SMALL) chargeElements(len);
    return self;
  }
  if (self === null || self === undefined) {
    // The native's own TypeError (its ToObject comes first, before any argument is looked at).
    if (orig !== undefined) apply(orig, self, []);
    throw new TypeErrorCtor('Cannot convert undefined or null to object');
  }
  if (mutating) throw new TypeErrorCtor('This array method is not available on array-like objects in AgentScript; copy it with Array.from(x) first.');
  // ToObject, as the native does: a string receiver reads its characters (`in` throws on a primitive).
  const o = toObject(self);
  const len = toLen(o.length);
  // Every copy, however small, adds to the charges that trigger a heap check (see charged): the copy
  // may be made where no checkpoint follows (Array.fromAsync copies in a microtask of its own, and 1,000
  // copies of 60,000 elements each grew a vm host to its 512 MB under a 64 MB budget).
  chargeElements(len);
  chargeWork(len);
  const copy: unknown[] = [];
  copy.length = len;
  // `dense`: the native reads every index with Get alone (no HasProperty, which a proxy would see).
  for (let i = 0; i < len; i++) if (dense) copy[i] = o[i];
  else if (i in o) copy[i] = o[i];
  return copy;
}

/**
 * A callback of a method run on a copy of an array-like (see receiver) is handed the script's own
 * object as its last argument, as the native hands it, not the runtime's copy.
 */
function withObject(callback: unknown, obj: unknown, reducer: boolean): unknown {
  if (typeof callback !== 'function') return callback;
  const o = toObject(obj);
  const cb = callback as AnyFn;
  if (reducer) return (acc: unknown, v: unknown, i: unknown) => apply(cb, undefined, [acc, v, i, o]);
  return function (this: unknown, v: unknown, i: unknown) {
    return apply(cb, this, [v, i, o]);
  };
}

/**
 * A small array, charged for its length without a check of its own: many copies of small arrays in one
 * loop add up to a heap check (see Run.charged), as one copy of a large one does at once.
 */
function charged(self: unknown[]): unknown[] {
  chargeElements(self.length);
  return self;
}

/**
 * An array a native walks, copies or converts whole, in one step with no script code in between (see
 * chargeWork): its length charged to the iteration budget. Not for the methods that call back per
 * element, whose calls are charged already.
 */
function walked<T extends { length: number }>(self: T): T {
  chargeWork(self.length);
  return self;
}

/** A relative index (of `slice`, `fill`) that is a number, as the natives resolve it against `len`. */
function relative(x: number, len: number, absent: number): number {
  if (x === undefined) return absent;
  const n = x === x ? x - (x % 1) : 0;
  return n < 0 ? (len + n > 0 ? len + n : 0) : n < len ? n : len;
}

/**
 * The elements between `start` and `end` as `slice` and `fill` take them; the whole length when either
 * is not a number or undefined (its conversion is the native's, and may run script code).
 */
function span(len: number, start: unknown, end: unknown): number {
  if ((start !== undefined && typeof start !== 'number') || (end !== undefined && typeof end !== 'number')) return len;
  const from = relative(start as number, len, 0);
  const to = relative(end as number, len, len);
  return to > from ? to - from : 0;
}

/**
 * An array whose iteration is the intrinsic one, bounded by its length: an array of this realm, not of
 * a subclass, with no iterator method of its own (Array.prototype is frozen, and proxies of arrays are
 * refused). `Array.isArray` alone is not enough: an array subclass, or an array given its own
 * `Symbol.iterator`, passes it with an iterator whose `next` may be a builtin (`{ next: Object }`), and a
 * native would then step it forever with no checkpoint between two steps. Nothing here runs script code.
 */
export function plainArray(v: unknown): v is unknown[] {
  return isArray(v) && gpo(v) === ArrayPrototype && gopd(v, symbolIterator) === undefined;
}

/** V8 preallocates the elements when an array's length grows below this, in one step. */
const PREALLOCATED = 2 ** 25;

/**
 * The value to set as the `length` of `o`, with the growth of a real array charged first: V8
 * preallocates it in one step that no builtin sees (see Guards.ls), and several such steps in one
 * expression, with no checkpoint between them, aborted a 512 MB host. For an array, a value that is not a
 * number is converted here as ArraySetLength converts it (an object twice, ToUint32 then ToNumber, as the
 * native does), and the number is what the native is handed: handed the object or string, it would
 * convert it again after the charge (`a.length = '3.3e7'` was never charged). Anything else is returned
 * as it is: only an array's own length preallocates.
 */
export function lengthGrowth(o: unknown, value: unknown): unknown {
  if (!isArray(o)) return value;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const first = +(value as unknown as number);
    n = +(value as unknown as number);
    if (first >>> 0 !== n) throw new RangeErrorCtor('Invalid array length');
    value = n;
  } else {
    // A string or a boolean (a symbol or a BigInt throws the native's own TypeError here).
    n = +(value as number);
    value = n;
  }
  if (n < PREALLOCATED && n > o.length + SMALL) chargeElements(n - o.length);
  // Far past the end of a long array, V8 makes its elements a dictionary instead (see ELEMENT_GAP).
  if (o.length > SMALL && n >= o.length + ELEMENT_GAP) dictionaryStep(o.length);
  return value;
}

/**
 * How far past an array's end V8 stores an element in its fast backing store (kMaxGap): a store further
 * out, a `length` set past it, or an element defined as an accessor or with attributes of its own, turns
 * the array's elements into a dictionary, in one native step that ignores termination and allocates about
 * 42 bytes per element the array has (DICTIONARY_UNITS elements of 8 bytes charged). Found by
 * red-teaming (Node 20, 22 and 24, validated and with both layers off, both isolations): `a[2 ** 31] = 1`
 * on an array of 4e6 elements (32 MB, within STANDARD's budget) took 2 s and 169 MB of the host in that
 * one step and answered OK; at PERMISSIVE, one such store on an array of 3e7 elements aborted a vm host
 * with a 2 GB heap. The store itself, not a loop around it, is the step: no checkpoint sees it.
 */
const ELEMENT_GAP = 1024;
const DICTIONARY_UNITS = 6;
/** The most elements one such step may convert (about 0.5 s on Node 20); a longer array is refused. */
const DICTIONARY_MOST = 1 << 20;

/** The array index a store's key names (a number, or a string as the number's canonical text), or -1. */
function elementIndex(key: unknown): number {
  let n: number;
  if (typeof key === 'number') n = key;
  else if (typeof key === 'string' && key.length > 0 && key.length <= 10) {
    n = +key;
    if (StringCtor(n) !== key) return -1;
  } else return -1;
  return n >= 0 && n < 4_294_967_295 && n % 1 === 0 ? n : -1;
}

/**
 * Before the elements of an array of `len` may become a dictionary (see ELEMENT_GAP): refused past
 * DICTIONARY_MOST, charged otherwise. The charge assumes the array dense: whether it is (a fast backing
 * store of `len` elements) or sparse already (a dictionary, where the step costs nothing) cannot be told
 * without listing it, so a sparse array written further out is charged as a dense one would be.
 */
export function dictionaryStep(len: number): void {
  if (len > DICTIONARY_MOST) {
    throw new RangeErrorCtor(`A write that makes an array of ${len} elements sparse is not available in AgentScript: at most ${DICTIONARY_MOST} (V8 turns its elements into a dictionary in one step that cannot be interrupted); write the elements in order, or keep sparse data in a Map.`);
  }
  chargeElements(len * DICTIONARY_UNITS);
  chargeWork(len);
}

/**
 * Before element `key` of `o` is stored (or, with `define`, defined with a descriptor, which makes a
 * dictionary at any index when it is an accessor or has attributes of its own: every define on a long
 * array is taken for one): a long array written more than ELEMENT_GAP past its end is charged its
 * conversion to a dictionary (see dictionaryStep). Anything else goes on as it is.
 */
export function elementWrite(o: unknown, key: unknown, define: boolean): void {
  if (!isArray(o)) {
    // A number past SMALL, or a string of 5 to 10 characters from '1' to '9' first (':' follows '9'):
    // compared without a call, as a computed string key is a hot write.
    if (typeof key === 'number' ? key > SMALL : typeof key === 'string' && key.length > 4 && key.length < 11 && key < ':' && key >= '1') objectElementWrite(o, key);
    return;
  }
  const len = o.length;
  if (len <= SMALL) return;
  const index = elementIndex(key);
  if (index < 0 || (!define && index < len + ELEMENT_GAP)) return;
  dictionaryStep(len);
}

/** Past elementWrite's first look at `key`: an object, and an index past SMALL, makes its elements a dictionary. */
function objectElementWrite(o: unknown, key: unknown): void {
  if (o !== null && (typeof o === 'object' || typeof o === 'function') && elementIndex(key) > SMALL) sparseElements(o);
}

/**
 * An ordinary object (not an array) whose integer keys were written in order has fast elements, as an
 * array has, and one store far past them or one element defined with an accessor or attributes converts
 * them all into a dictionary in one native step that ignores termination. Found by red-teaming (Node 20,
 * 22, 24, both isolations, `validate: false, transform: false`): about 0.6 us an element on an idle machine
 * and 2.5 under load (V8's NumberDictionary insertion, a cache miss an element; a plain `node:vm` context
 * and the main realm take as long), so 4e6 keys held a `vm` host 3-7 s past its deadline; and past about
 * 2.24e7 elements (179 MB, within PERMISSIVE's 256 MB) the dictionary V8 needs is larger than a hash table
 * may be, and V8 aborted the process ("invalid table size"), the `worker_threads` host too. How many
 * elements an object holds cannot be told without listing them, so instead an object is never let hold
 * more than SMALL of them fast: the first time a key past SMALL is written or defined on it (the rewriter
 * sends every such write through `lt`, whatever `transform` says), its elements are made a dictionary
 * while they are few, and kept one: an element past 2^29, which V8 marks as needing a dictionary for good,
 * is defined and deleted at once (no setter, trap or listing sees it; a non-extensible object refuses it
 * and cannot grow). The script sees the same keys in the same order; an object used as an array of more
 * than 65,536 elements is written at dictionary speed (use an array). What it bounds: one conversion of
 * at most SMALL elements plus what one call may copy in (an object spread, 2^18 indices).
 */
const SPARSE_MARK = 4_294_967_294;
const SPARSE_DESCRIPTOR: PropertyDescriptor = freeze(create(null, { value: { value: undefined }, writable: { value: true }, enumerable: { value: true }, configurable: { value: true } })) as PropertyDescriptor;
const sparseObjects = new WeakSetCtor<object>();
/** The target of each proxy the script made (see scriptProxy): a proxy's default traps write its target natively. */
const proxyTargets = new WeakMapCtor<object, object>();

/** Makes the elements of `o` (or of the target behind a proxy the script made) a dictionary for good, once. */
export function sparseElements(o: object): void {
  for (let depth = 0; depth < 64; depth++) {
    if (apply(weakSetHas, sparseObjects, [o]) as boolean) return;
    apply(weakSetAdd, sparseObjects, [o]);
    const target = apply(weakMapGet, proxyTargets, [o]) as object | undefined;
    if (target === undefined) {
      if (apply(weakSetHas, scriptProxies, [o]) as boolean) return;
      if (gopd(o, SPARSE_MARK) === undefined && reflectDefine(o, SPARSE_MARK, SPARSE_DESCRIPTOR)) reflectDelete(o, SPARSE_MARK);
      return;
    }
    o = target;
  }
}

/** The value of the entry `fromEntriesSparse` puts first: no script ever holds it. */
const SPARSE_VALUE = freeze(create(null)) as object;
const SPARSE_STEP = freeze({ value: freeze([SPARSE_MARK, SPARSE_VALUE]), done: false });

/**
 * `Object.fromEntries` over `source` (what `bounded` made of the script's iterable): its entries are
 * written in order, so an iterable of millions of integer keys would make an object of as many fast
 * elements (see sparseElements). Past SMALL elements of a plain array, and for any other iterable, the
 * native is handed an iterator that gives it an entry at SPARSE_MARK first (its elements are a dictionary
 * from the start, and stay one), then the script's own, and that entry is deleted from what it made unless
 * a script's entry replaced it. The script's iterator is got and its `next` read once, as the native does,
 * and closed through its `return` when the native closes it.
 */
export function fromEntriesSparse(orig: AnyFn, source: unknown): unknown {
  if (source === null || (typeof source !== 'object' && typeof source !== 'function') || (plainArray(source) && source.length <= SMALL)) return apply(orig, ObjectCtor, [source]);
  const method = (source as Record<symbol, unknown>)[symbolIterator];
  if (typeof method !== 'function') return apply(orig, ObjectCtor, [source]);
  const it = apply(method as AnyFn, source, []) as Record<string, unknown>;
  if (it === null || (typeof it !== 'object' && typeof it !== 'function')) throw new TypeErrorCtor('Result of the Symbol.iterator method is not an object');
  const next = it.next;
  let started = false;
  const steps = {
    next() {
      if (started) return apply(next as AnyFn, it, []);
      started = true;
      return SPARSE_STEP;
    },
    get return() {
      const close = it.return;
      return typeof close === 'function' ? () => apply(close as AnyFn, it, []) : close;
    },
  };
  const made = apply(orig, ObjectCtor, [{ [symbolIterator]: () => steps }]) as object;
  const d = gopd(made, SPARSE_MARK);
  if (d !== undefined && d.value === SPARSE_VALUE) reflectDelete(made, SPARSE_MARK);
  return made;
}

/** ToPropertyKey, once: a key object's `toString` cannot answer differently later. */
export function propertyKey(k: unknown): PropertyKey {
  if (typeof k === 'string' || typeof k === 'number' || typeof k === 'symbol') return k;
  const box = {};
  defineProperty(box, k as PropertyKey, { value: 0, enumerable: true, configurable: true });
  return ownKeys(box)[0] as PropertyKey;
}

const DESCRIPTOR_FIELDS = ['enumerable', 'configurable', 'value', 'writable', 'get', 'set'] as const;

/**
 * ToPropertyDescriptor, in the native's order (each field looked up, then read, so a getter runs once):
 * a copy the native can read without running script code, so the `length` it sets is the one charged
 * (a `value` getter, or a `value` inherited from the descriptor's prototype, answered nothing to a check
 * that read the own data property and 3.3e7 to the native). An object that is not one is handed on for
 * the native's own TypeError.
 */
function descriptorCopy(desc: unknown): unknown {
  if (desc === null || (typeof desc !== 'object' && typeof desc !== 'function')) return desc;
  const copy = create(null) as Record<string, unknown>;
  for (let i = 0; i < DESCRIPTOR_FIELDS.length; i++) {
    const field = DESCRIPTOR_FIELDS[i] as string;
    if (field in (desc as object)) copy[field] = (desc as Record<string, unknown>)[field];
  }
  return copy;
}

/**
 * Whether an own `constructor` on `o` would turn off one of V8's species fast paths. V8 keeps one flag per
 * process for each (the host's `map`, `slice` and `split` use them too), and turns it off for good when
 * any array or RegExp of any context gets, or is only asked to take, an own `constructor`: one
 * `Object.defineProperty([], 'constructor', ...)` made the host's `map` and `slice` about 100 times
 * slower for the life of the process. (Typed arrays are not in the realm; promises: see protectorHolder.)
 */
export function speciesHolder(o: unknown): boolean {
  if (o === null || typeof o !== 'object') return false;
  // Array.prototype is an array; RegExp.prototype is no RegExp, but V8 guards its `constructor` too.
  if (isArray(o) || o === RegExpPrototype) return true;
  // Every RegExp has an own `lastIndex` that cannot be configured, from birth: an object without one is
  // no RegExp, and is told apart without realRegExp's caught TypeError (thrown for every `Object.assign`
  // to an object, it made each call about 25 times slower).
  const lastIndex = gopd(o, 'lastIndex');
  return lastIndex !== undefined && lastIndex.configurable === false && realRegExp(o);
}

/**
 * An array, Map, Set or String iterator, as far as V8's iterator protectors go: an own `next` (or
 * `Symbol.iterator`) on one turns off the fast paths of every spread and `for-of` over that kind in the
 * isolate. Told apart by its prototype, which the runtime never lets a script change for these (see
 * refusePrototypeChange); an object made with such a prototype (`Object.create`) is taken for one too.
 */
export function guardedIterator(o: object): boolean {
  return iteratorPrototype(gpo(o));
}

function iteratorPrototype(p: unknown): boolean {
  return p === ArrayIteratorPrototype || p === MapIteratorPrototype || p === SetIteratorPrototype || p === StringIteratorPrototype;
}

/**
 * A String object (`new String('a')`): an own `valueOf` or `Symbol.toPrimitive` on one turns off V8's
 * StringWrapperToPrimitive protector (Node 22 and later). Its prototype is String.prototype, which the
 * runtime never lets a script change for these either; each has an own `length` that cannot be written
 * or configured, from birth: an object without one is told apart without thisStringValue's TypeError.
 */
export function stringObject(o: object): boolean {
  if (gpo(o) !== StringPrototype) return false;
  const length = gopd(o, 'length');
  return length !== undefined && length.writable === false && length.configurable === false && hasSlot(stringValueOf, o);
}

/**
 * A Set or a Map, of a subclass too (told by its internal slots): an own `Symbol.iterator` on a Set turns
 * off V8's Set iterator protector (a Map is taken alike, at no cost: the key is rare).
 */
export function collection(o: object): boolean {
  return hasSlot(setSize, o) || hasSlot(mapSize, o);
}

/** Symbols V8 guards with a protector on some receivers (see protectorHolder). */
const PROTECTOR_SYMBOLS = new SetCtor<unknown>([symbolIterator, symbolSpecies, symbolIsConcatSpreadable, symbolReplace, symbolSplit, symbolMatch, symbolMatchAll, symbolSearch, symbolToPrimitive]);

/**
 * Whether defining or setting `key` on `o` would turn off one of V8's protectors: flags kept once per
 * isolate (the host's, in the `vm` isolation; a worker's, for every later tenant of it) that guard fast
 * paths of every context in it, and that V8 turns off for good when a store or a define merely looks the
 * key up on such a receiver, before it finds that the write fails. Measured on Node 20, 22 and 24 with
 * --trace-protector-invalidation: `next` on an array, Map, Set or String iterator, `Symbol.iterator` on an
 * array or such an iterator (`try { [1].values().next = 1 } catch {}` made the host's own `[...array]`
 * about 55 times slower), `valueOf` or `Symbol.toPrimitive` on a String object, `constructor` on an array
 * or a RegExp (see speciesHolder), `Symbol.isConcatSpreadable` on anything, and any of these keys or
 * `Symbol.replace`, `split`, `match`, `matchAll`, `search`, `species` on the realm's intrinsics
 * (String.prototype, Object.prototype, `[].constructor`...), which are all frozen: a write to a frozen
 * object fails anyway, so whatever V8 version guards which intrinsic, none is written to.
 */
export function protectorHolder(o: unknown, key: unknown): boolean {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return false;
  if (typeof key === 'string') {
    // The iterators and their own prototypes, without isFrozen: `node.next = v` is a hot write.
    if (key === 'next') return iteratorPrototype(gpo(o)) || iteratorPrototype(o);
    if (key === 'constructor') return speciesHolder(o) || isPromise(o);
    // A promise's or Object.prototype's `then` (PromiseThenLookupChain; see ownPrototype in promises.ts).
    if (key === 'then') return o === ObjectPrototype || isPromise(o);
    if (key !== 'valueOf') return false;
  } else if (typeof key !== 'symbol' || !apply(setHas, PROTECTOR_SYMBOLS, [key])) return false;
  if (key === symbolIsConcatSpreadable || isFrozen(o)) return true;
  if (key === symbolIterator) return isArray(o) || guardedIterator(o) || collection(o);
  if (key === 'valueOf' || key === symbolToPrimitive) return stringObject(o);
  return false;
}

// Four compares, not a loop or a Set: `o[k] = v` is a hot write, and each realm's copy of the runtime
// runs mostly in V8's interpreter. A fifth name in PROTECTED_NAMES fails this tuple's type until it is compared.
const FOUR: readonly [string, string, string, string] = PROTECTED_NAMES;

/** Whether `key` is one of PROTECTED_NAMES. */
export function protectedName(key: string): boolean {
  return key === FOUR[0] || key === FOUR[1] || key === FOUR[2] || key === FOUR[3];
}

/** Whether `key` is one that V8 guards with a protector on some receivers (see protectorHolder). */
export function protectedKey(key: unknown): boolean {
  return typeof key === 'string' ? protectedName(key) : apply(setHas, PROTECTOR_SYMBOLS, [key]);
}

/** Throws before `key` is defined or set on `o` by `name` if that would turn off a protector of the isolate (see protectorHolder). */
export function refuseProtected(name: string, o: unknown, key: unknown): void {
  if (!protectorHolder(o, key)) return;
  if (key === 'constructor') throw new TypeErrorCtor(`${name}: an own "constructor" on an array, a RegExp or a promise is not available in AgentScript (it would slow down every array, RegExp or promise of the process).`);
  const what = typeof key === 'symbol' ? StringCtor(key) : `"${key as string}"`;
  throw new TypeErrorCtor(`${name}: writing or deleting ${what} on this object is not available in AgentScript (even an attempt would slow down every iterator, string, promise or intrinsic of the same kind in the process).`);
}

/**
 * Before a native changes the prototype of `o`: an iterator or a String object moved to another
 * prototype would no longer be told apart by guardedIterator or stringObject, and V8 tells them by their
 * internal type; a Set or a Map moved to Object.prototype would pass for an ordinary object in
 * Object.assign (see assignsChecked).
 */
export function refusePrototypeChange(name: string, o: unknown): void {
  if (o !== null && typeof o === 'object' && (guardedIterator(o) || stringObject(o) || collection(o))) {
    throw new TypeErrorCtor(`${name}: changing the prototype of an iterator, a String object, a Set or a Map is not available in AgentScript.`);
  }
}

/** Before `desc` is defined as the `key` of `o`: a descriptor of an array's `length` is read once, and its value charged. */
function definedLength(o: unknown, key: PropertyKey, desc: unknown): unknown {
  if (key !== 'length' || !isArray(o)) return desc;
  const copy = descriptorCopy(desc);
  if (copy !== desc && 'value' in (copy as object)) (copy as { value: unknown }).value = lengthGrowth(o, (copy as { value: unknown }).value);
  return copy;
}

/**
 * ObjectDefineProperties as the specification words it: every descriptor read (ToPropertyDescriptor)
 * before any is defined, then each defined by the intrinsic one at a time. The native does it all in one
 * step: the `length` of an array it defines was not charged (see definedLength), and a list of 1e6
 * descriptors, or an `Object.create` with one, could not be interrupted.
 */
function defineAll(name: string, o: unknown, props: unknown): unknown {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return apply(nativeDefineProperties, ObjectCtor, [o, props]);
  if (props === null || props === undefined) return apply(nativeDefineProperties, ObjectCtor, [o, props]);
  const from = ObjectCtor(props) as Record<PropertyKey, unknown>;
  // The keys are listed in one step that ignores termination, a string per index of a string, String
  // object or array: `Object.create(null, 'x'.repeat(3e7))` (through an alias of Object, STANDARD
  // validated) held a vm host 21 s past a 2 s deadline and grew it by 810 MB. Counted as a copy's.
  copiedIndices(name, indexCount(props));
  const keys = ownKeys(from);
  const run = current;
  const descs: unknown[] = [];
  for (let i = 0; i < keys.length; i++) {
    tick(run);
    const key = keys[i] as PropertyKey;
    const d = gopd(from, key);
    if (d === undefined || d.enumerable !== true) continue;
    refuseProtected(name, o, key);
    const desc = descriptorCopy(from[key]);
    if (desc === null || typeof desc !== 'object') return apply(nativeDefineProperties, ObjectCtor, [o, { [key]: desc }]);
    apply(arrayPush, descs, [key, desc]);
  }
  for (let i = 0; i < descs.length; i += 2) {
    if (i % 2048 === 0) tick(run);
    const key = descs[i] as PropertyKey;
    elementWrite(o, key, true);
    defineProperty(o, key, definedLength(o, key, descs[i + 1]) as PropertyDescriptor);
  }
  return o;
}

/**
 * Object.assign as the specification words it, for a target that is a real array (whose `length` a
 * source may set) or that may hold one of V8's protectors (see protectorHolder): each source's own
 * enumerable keys read once, each value got once (a getter runs once) and set, each key checked before
 * it is set, an array's `length` charged first. The native read a `length` getter after any check of the
 * source's descriptor, and looked each key up on the target before any check could run.
 */
function assignChecked(target: object, sources: unknown[]): unknown {
  const run = current;
  for (let s = 0; s < sources.length; s++) {
    const source = sources[s];
    if (source === null || source === undefined) continue;
    const from = ObjectCtor(source) as Record<PropertyKey, unknown>;
    const keys = ownKeys(from);
    for (let i = 0; i < keys.length; i++) {
      if (i % 2048 === 0) tick(run);
      const key = keys[i] as PropertyKey;
      const d = gopd(from, key);
      if (d === undefined || d.enumerable !== true) continue;
      refuseProtected('Object.assign', target, key);
      const v = from[key];
      elementWrite(target, key, false);
      (target as unknown as Record<PropertyKey, unknown>)[key] = key === 'length' ? lengthGrowth(target, v) : v;
    }
  }
  return target;
}

/**
 * A target whose own keys Object.assign sets one at a time, each checked (see assignChecked). An
 * ordinary object (the usual `Object.assign({}, ...)`) is none of those kinds: their prototypes cannot be
 * changed (see refusePrototypeChange). For another, a source with symbol keys (rare) sends it there:
 * `Symbol.iterator` on a Set, of a subclass too, is told only by a brand check that throws for
 * everything else.
 */
function assignsChecked(target: unknown, sources: unknown[]): boolean {
  if (target === null || typeof target !== 'object') return false;
  if (speciesHolder(target) || isFrozen(target) || isPromise(target)) return true;
  const p = gpo(target);
  if (p === ObjectPrototype) return false;
  if (iteratorPrototype(p) || stringObject(target)) return true;
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i];
    if (source !== null && typeof source === 'object' && gopsyms(source).length > 0) return true;
  }
  return false;
}

/**
 * The values of an array-like, `o[0]` to `o[len - 1]`, each read (Get alone, as Array.from reads an
 * array-like) when the walk reaches it. Steps are not counted: what walks it charges its own calls.
 */
function indexValues(o: any, len: number): Iterable<unknown> {
  return {
    *[symbolIterator]() {
      for (let k = 0; k < len; k++) yield o[k];
    },
  };
}

/**
 * An iterable whose every step is counted: bounds spreads and Array.from over script iterators, and the
 * natives that walk an iterable (see bounded). `method` is the iterable's iterator method, when the
 * caller has read it already (so that a getter runs once, as the native would run it).
 */
export function counted(iterable: Iterable<unknown>, method?: unknown, weight = 0): Iterable<unknown> {
  const run = current;
  const source: Iterable<unknown> = method === undefined ? iterable : { [symbolIterator]: () => apply(method as AnyFn, iterable, []) as Iterator<unknown> };
  // `weight`: iterations each step costs besides its own, as chargeWork charges them (nothing for the
  // first steps; past them, those steps too).
  const free = weight > 0 ? WORK_FREE / weight : Infinity;
  return {
    *[symbolIterator]() {
      let n = 0;
      // iterates the script's own iterable, within its budget
      for (const v of source) {
        countStep(run, ++n);
        if (n > free && run !== null) tickMany(run, n - 1 <= free ? n * weight : weight);
        yield v;
      }
    },
  };
}

/**
 * What a native that walks an iterable in one step (`new Set(x)`, `Promise.all(x)`, `Object.groupBy(x)`)
 * is handed instead of a script's object: a plain array (see plainArray) is walked by its own bounded iterator,
 * anything else through counted, its iterator method read once here. A method that is not a function is
 * handed on as it was read, for the native's own TypeError.
 */
export function bounded(v: unknown, weight = 0): unknown {
  if (typeof v === 'string' || plainArray(v)) {
    // Walked by the intrinsic iterator, element by element in one native step: charged first.
    if (v.length > SMALL) chargeElements(v.length);
    chargeWork(v.length * (weight + 1));
    return v;
  }
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return v;
  const method = (v as Record<symbol, unknown>)[symbolIterator];
  return typeof method === 'function' ? counted(v as Iterable<unknown>, method, weight) : { [symbolIterator]: method };
}

/**
 * An iterator record (what `Iterator.prototype` methods and a set-like's `keys` hand a native) whose
 * every `next` is counted: its `next` read once, as the native reads it, and its `return` looked up when
 * the native closes it. A `next` that is not a function is handed on for the native's own TypeError.
 */
export function countedIterator(it: unknown): unknown {
  if (it === null || (typeof it !== 'object' && typeof it !== 'function')) return it;
  const next = (it as { next?: unknown }).next;
  if (typeof next !== 'function') return { next };
  const run = current;
  let n = 0;
  return {
    next() {
      countStep(run, ++n);
      return apply(next as AnyFn, it, []);
    },
    get return() {
      const close = (it as { return?: unknown }).return;
      return typeof close === 'function' ? () => apply(close as AnyFn, it, []) : close;
    },
  };
}

function replacementBound(s: string, replacement: unknown): number {
  if (typeof replacement !== 'string') return s.length;
  const quadratic = apply(stringIndexOf, replacement, [`$${fromCharCode(96)}`]) !== -1 || apply(stringIndexOf, replacement, ["$'"]) !== -1;
  return s.length + (s.length + 1) * replacement.length * (quadratic ? s.length + 1 : 1);
}

/**
 * A replacement function's results, charged as they are made (their total is the output's size), and
 * its calls counted (see withMetered): `s.replace(/x/g, String)` calls a builtin once per match.
 */
function replaceBy(fn: unknown, replace: (replacer: unknown) => unknown): unknown {
  if (typeof fn !== 'function') return replace(fn);
  let total = 0;
  return withMetered(function (...args: unknown[]) {
    const r = sortKey(apply(fn as AnyFn, undefined, args));
    total += r.length;
    chargeChars(total);
    return r;
  }, replace);
}

/**
 * Output of a string replacement, charged before it is built: exact for string patterns (occurrences
 * counted first), pessimistic for regex patterns (every position may match). One native call builds the
 * whole output, so a post-check would come after the host heap was already spent. The count is a pass
 * over the subject as long as V8's own (both ignore termination, 2^24 characters take 7 to 200 ms each),
 * so it is left out where it cannot change the answer: a `replace` (one match at most) whose one match
 * fits, and any replacement no longer than what it replaces.
 */
function chargeReplacement(str: string, pattern: unknown, r: string, all: boolean): void {
  const run = current;
  if (run === null) return;
  let bound = replacementBound(str, r);
  if (bound <= SMALL) return;
  if (typeof pattern === 'string') {
    // What each match adds: a replacement with a `$` may repeat the match (`$&`).
    const grows = apply(stringIndexOf, r, ['$']) === -1 ? r.length - pattern.length : r.length + pattern.length;
    if (grows <= 0 || (!all && str.length + grows <= run.maxChars)) bound = str.length + (grows > 0 ? grows : 0);
    else {
      let count = 0;
      if (pattern.length > 0) {
        for (let i = apply(stringIndexOf, str, [pattern]) as number; i !== -1; i = apply(stringIndexOf, str, [pattern, i + pattern.length]) as number) {
          count++;
          if (!all) break;
        }
      } else count = all ? str.length + 1 : 1;
      bound = str.length + count * grows;
    }
  }
  chargeChars(bound);
}

/**
 * The string a native built from parts the script supplied, charged once it exists: V8 joins long parts
 * as a rope, a few bytes whatever its length, so nothing was allocated yet, but the first use that
 * flattens it (a property key, a Map key, a comparison) is one allocation of its whole length. The
 * charges made before the call cannot see every part: a replacement's `$&`, `` $` ``, `$1` or `$<name>`
 * repeat text the pattern or a script's `exec` chose, and `Error.prototype.toString` or String.raw join
 * strings the script holds (one of each, set back and joined again, doubles in every turn).
 */
function builtString(out: unknown): unknown {
  if (typeof out === 'string' && out.length > SMALL) chargeChars(out.length);
  return out;
}

/** Characters of an attribute `anchor`, `fontcolor`, `fontsize` or `link` escapes (a few ms at most). */
const MAX_ATTRIBUTE = 1 << 16;

/**
 * BigInts of fewer bits than this convert to strings too short to charge. Made at first use (8 KB, which
 * every realm held otherwise).
 */
let smallBigInt: bigint | undefined;

/**
 * An upper bound of a BigInt's bits (at most twice them), or 0 below smallBigInt: `BigInt.asUintN(k, m)`
 * is `m` itself once `2^k` exceeds it, found by doubling `k` (each step a pass over at most `k` bits).
 */
function bigIntBits(x: bigint): number {
  const m = x < BigIntCtor(0) ? -x : x;
  if (m < (smallBigInt ??= BigIntCtor(1) << BigIntCtor(SMALL))) return 0;
  let k = SMALL * 2;
  while ((apply(bigIntAsUintN, BigIntCtor, [k, m]) as bigint) !== m) k *= 2;
  return k;
}

/** The BigInt `self` is or holds (thisBigIntValue), or undefined where the native would throw. */
function thisBigInt(self: unknown): bigint | undefined {
  if (typeof self === 'bigint') return self;
  try {
    return apply(bigIntValueOf, self, []) as bigint;
  } catch {
    return undefined;
  }
}

/** The whole bits of one digit in radix `r` (2 to 36): fewer bits a digit, more digits, so a bound. */
function log2Floor(r: number): number {
  let n = 0;
  for (let p = 2; p <= r; p *= 2) n++;
  return n;
}

/** Maximum expansion of Unicode normalization per form. */
const NORMALIZE_EXPANSION: Readonly<Record<string, number>> = { NFC: 3, NFD: 4, NFKC: 18, NFKD: 18 };
/** Arguments lists are built in one uninterruptible step from an array-like of any length. */
const MAX_ARGUMENTS = 65_536;

/**
 * The argument list `apply`, `Reflect.apply` and `Reflect.construct` hand the native: at most
 * MAX_ARGUMENTS. An array's length is the engine's own; an array-like's is read once, here, and the
 * native gets a copy of that many elements, read in the native's order. Handed the array-like itself,
 * the native would read `length` again: a getter that showed this check 1 and the native 1e8 held the
 * vm host for 30 s past a 5 s deadline.
 */
function argumentList(args: any): any {
  if (args === null || (typeof args !== 'object' && typeof args !== 'function')) return args;
  const array = isArray(args);
  const len = array ? (args.length as number) : toLen(args.length);
  if (len > MAX_ARGUMENTS) throw new RangeErrorCtor(`Too many arguments (${len}): AgentScript allows at most ${MAX_ARGUMENTS} in one call.`);
  // Copied onto the callee's stack, element by element (see chargeWork).
  chargeWork(len);
  if (array) return args;
  const copy: unknown[] = [];
  for (let i = 0; i < len; i++) copy[i] = args[i];
  return copy;
}

/** Calls `fn` for each item of a runtime-owned array, without the array iterator (see host.ts). */
export function each<T>(items: readonly T[], fn: (item: T) => void): void {
  for (let i = 0; i < items.length; i++) fn(items[i] as T);
}

/**
 * The indices a native that lists or copies the own keys of `v` makes a string of, as far as they are
 * known without listing them: a string's, an array's, or a String object's length (`Object(s)` lists
 * every index of `s` like `s` itself, and got past every cap: `Object.keys(Object('x'.repeat(3e7)))`
 * held the host 15 s past a 5 s deadline and grew it to 830 MB).
 */
export function indexCount(v: unknown): number {
  if (typeof v === 'string' || isArray(v)) return v.length;
  if (v === null || typeof v !== 'object') return 0;
  // A String object's own length is fixed, a number: only then is its slot looked at (which throws for
  // anything else, too dear for every ordinary object spread or for-in).
  const d = gopd(v, 'length');
  return d !== undefined && d.configurable === false && d.writable === false && typeof d.value === 'number' && hasSlot(stringValueOf, v) ? d.value : 0;
}

/**
 * The most keys a copy or a listing with values copies from one object (see namedKeys). At 2^17 an object
 * spread took 0.28 to 0.6 s and Object.assign 0.27 to 0.57 s on a 2-core VM at a load of 9 (red8, Node
 * 20): a run ended that much past its deadline. At 2^15 the costliest of them took 60 to 160 ms there.
 */
export const NAMED_COPY_MOST = 1 << 15;

/**
 * The natives that list an object's own keys. V8 lists the indices of an array or a string in one step
 * that ignores termination, a new string each: `Object.entries` of 4e6 elements blocked the host 6 s past
 * a 1 s deadline (STANDARD, validated), `getOwnPropertyNames`, `Reflect.ownKeys` and
 * `getOwnPropertyDescriptors` as long. Each row: the elements charged per index (8 bytes a unit: a key
 * is a string and a slot, 5; an entry a pair, its key and a slot, 12; a descriptor an object, its key and
 * a slot, 16; `values` of an array makes no string, 1), the most indices one call may list (about 0.2 s at most:
 * the costlier the listing per index, the fewer; `values` of an array is not capped), and the most keys of any kind
 * it may list with a value or a descriptor each (see namedKeys; the plain listings are not counted twice).
 */
/** Object.keys's units and most indices (see KEY_LISTINGS). */
const KEYS_UNITS = 5;
const KEYS_MOST = 1 << 20;
const KEY_LISTINGS: readonly (readonly [object, string, number, number, number])[] = [
  [ObjectCtor, 'keys', KEYS_UNITS, KEYS_MOST, Infinity], [ObjectCtor, 'values', 1, Infinity, NAMED_COPY_MOST], [ObjectCtor, 'entries', 12, 1 << 18, NAMED_COPY_MOST], [ObjectCtor, 'getOwnPropertyNames', 5, 1 << 19, Infinity],
  [ObjectCtor, 'getOwnPropertyDescriptors', 16, 1 << 18, NAMED_COPY_MOST], [ReflectObject, 'ownKeys', 5, 1 << 19, Infinity], [ObjectCtor, 'getOwnPropertySymbols', 1, Infinity, Infinity],
];

/**
 * Before a native lists `n` indices (see KEY_LISTINGS), `units` elements each: refused past `most`
 * indices, charged otherwise. `name` names the listing in the error.
 */
export function listedIndices(name: string, n: number, units: number, most: number): void {
  if (n <= SMALL) return;
  if (n > most) throw new RangeErrorCtor(`${name} of ${n} indices is not available in AgentScript: at most ${most} (it makes a string of every index in one step that cannot be interrupted); iterate instead, e.g. with a.entries().`);
  chargeElements(n * units);
  chargeWork(n);
}

/**
 * Before a native copies `n` indices of strings, String objects or arrays as properties of an object
 * (Object.assign, an object spread or rest): each index is a key string and a dictionary entry, about
 * 60 to 80 bytes (10 elements charged), at about 1 µs in one step that ignores termination. A spread of
 * a 3e6-element array (24 MB, within the budget) held a vm host 4 s past a 1 s deadline and took 400
 * MB; Object.assign from it the same. Charged, then refused past 2^18 indices (about 0.3 s).
 */
export function copiedIndices(name: string, n: number): void {
  // The memory first, as before the cap: a copy past the budget is the budget's error.
  if (n > SMALL) chargeElements(n * 10);
  listedIndices(name, n, 0, 1 << 18);
}

/**
 * Proxies the script made (see lockdown's Proxy): `namedKeys` lists no key of theirs, since their traps
 * are script code, which a second listing would run again and which the deadline interrupts anyway.
 */
const scriptProxies = new WeakSetCtor<object>();

export function scriptProxy<T extends object>(proxy: T, target?: object): T {
  apply(weakSetAdd, scriptProxies, [proxy]);
  if (target !== undefined) apply(weakMapSet, proxyTargets, [proxy, target]);
  return proxy;
}

/** Whether `o` is a proxy the script made: reading anything of it may run the script's traps. */
export function isScriptProxy(o: unknown): boolean {
  return o !== null && (typeof o === 'object' || typeof o === 'function') && (apply(weakSetHas, scriptProxies, [o]) as boolean);
}

/**
 * Before a native copies or lists an object's own properties with a value or a descriptor each
 * (Object.assign, an object spread or rest, `entries`, `values`, `getOwnPropertyDescriptors`): how many
 * it has is only known by listing them, and these natives take 2 to 5 µs a key in one step that ignores
 * termination, where `Object.keys` takes under 1. A PERMISSIVE script could make 1.5e6 keys within its
 * budget: `Object.assign({}, o)` then took 8 s, and a run with a 5 s deadline ended 4.6 s past it (a vm
 * host's thread held all along); STANDARD's 9e5 keys took 2.8 s. So the keys are counted first with
 * `Object.keys`, and a copy of more than `most` refused (not of an array or a String object with more
 * than 65,536 indices: the named keys that such an object may also have are not counted).
 */
export function namedKeys(name: string, o: unknown, most: number): boolean {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function') || apply(weakSetHas, scriptProxies, [o])) return false;
  // An array's or a String object's indices are counted and capped by their length (see KEY_LISTINGS);
  // Object.keys would make a string of each here, which `values` never does.
  if (indexCount(o) > SMALL) return true;
  const keys = objectKeys(o);
  const n = keys.length;
  if (n > most) throw new RangeErrorCtor(`${name} of an object with ${n} keys is not available in AgentScript: at most ${most} (it copies every key in one step that cannot be interrupted); keep this many entries in a Map.`);
  chargeWork(n);
  return farIndexKey(keys);
}

/**
 * Whether `keys` (an own key listing, where the indices come first, in ascending order) holds an index
 * past SMALL: the last index is found by halving, so a copy learns it for the price of a few keys.
 */
function farIndexKey(keys: string[]): boolean {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (elementIndex(keys[mid]) >= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && elementIndex(keys[lo - 1]) > SMALL;
}

/**
 * The indices a `for-in` over `o` lists, as far as they are known without listing them: those of the
 * strings, String objects and arrays on its prototype chain (V8 makes a string of each, in one step).
 */
export function forInIndices(o: unknown): number {
  if (typeof o === 'string') return o.length;
  let n = 0;
  for (let p = o; p !== null && (typeof p === 'object' || typeof p === 'function'); p = gpo(p)) n += indexCount(p);
  return n;
}

/**
 * Before a `for-in` over `o`: the keys of its prototypes, counted with Object.keys (see namedKeys) and
 * refused past `most`. V8 lists an inherited key at about 2 µs, checking it against the keys listed
 * before it, in the step that lists `o`'s own (about 0.7 µs a key): a `for-in` over an object whose
 * prototype had 1e6 keys took 1.9 s, 2.5 s with half of them shadowed. A script's proxy is not listed
 * (its traps are script code), nor anything behind it.
 */
export function inheritedKeys(o: unknown, most: number): void {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return;
  let n = 0;
  for (let p = gpo(o) as unknown; p !== null && (typeof p === 'object' || typeof p === 'function'); p = gpo(p)) {
    if (apply(weakSetHas, scriptProxies, [p])) return;
    n += objectKeys(p).length;
  }
  if (n > most) throw new RangeErrorCtor(`A for-in over an object that inherits ${n} keys is not available in AgentScript: at most ${most} (they are listed in one step that cannot be interrupted); iterate over Object.keys of each object instead.`);
}

/** Charges `n` units of the runtime's own iteration at once (see tick). */
export function tickMany(run: Run, n: number): void {
  if (n <= 0) return;
  run.bulk += n - 1;
  tick(run);
}

/** The script's own counter (loops and calls of its functions), or 0 before it is bound. */
const scriptCount = (run: Run): number => (run.getN === null ? 0 : run.getN());

/**
 * Invariant 5 counts callbacks. A script function's calls count themselves (its prologue does), but a
 * builtin's do not: `a.map(Math.abs)` or `a.sort()` would do `length` uncounted calls per counted
 * turn of the loop around it. So a method that calls back is charged what the script's counter did not
 * see: after `calls` callbacks, whatever of them the counter did not grow by.
 */
function chargeCallbacks(run: Run, calls: number, countedBefore: number): void {
  const unpaid = calls - (scriptCount(run) - countedBefore);
  if (unpaid > 0) tickMany(run, unpaid);
}

/**
 * A callback that counts its calls and settles what its own code did not count every 1024 calls, so a
 * long native loop (a sort) stops at the iteration budget, and the deadline can interrupt it (the
 * wrapper is script-level code even when the callback is a builtin, whose calls V8 may not interrupt).
 * With `heap`, each settlement checks the heap too: for natives that allocate per call (`groupBy` makes
 * a group, a key and a slot per element in one native step, and 2e6 of them took 466 MB of the vm host).
 */
function metered(run: Run, fn: AnyFn, heap = false): { fn: AnyFn; settle: () => void } {
  const before = scriptCount(run);
  let calls = 0;
  let paid = 0;
  const settle = () => {
    const unpaid = calls - (scriptCount(run) - before) - paid;
    if (unpaid > 0) {
      paid += unpaid;
      tickMany(run, unpaid);
    }
    if (heap) checkMemory(run);
  };
  return {
    // The callee sees exactly the arguments it was given (a comparator two, a find callback three).
    fn(this: unknown, ...args: unknown[]) {
      calls++;
      if ((calls & 1023) === 0) settle();
      return apply(fn, this, args);
    },
    settle,
  };
}

/**
 * Calls `native` with `callback` metered (see metered), and settles once it returns: how the natives
 * that call back per element outside the array methods (`groupBy`, a replacement function, a reviver,
 * Map and Set `forEach`) count a builtin callback, which runs no
 * script code and so no counter of its own. A callback that is not a function is handed on as it is,
 * for the native's own TypeError (or, for a reviver, to be ignored).
 */
export function withMetered(callback: unknown, native: (callback: unknown) => unknown, heap = false): unknown {
  const run = current;
  if (run === null || typeof callback !== 'function') return native(callback);
  const m = metered(run, callback as AnyFn, heap);
  try {
    return native(m.fn);
  } finally {
    m.settle();
  }
}

/**
 * A callback charged call by call, for a native that calls it from later microtasks (`Array.fromAsync`'s
 * map function), where no native step ends at which to settle (see metered).
 */
export function chargedEach(callback: unknown): unknown {
  const run = current;
  if (run === null || typeof callback !== 'function') return callback;
  return function (this: unknown, ...args: unknown[]) {
    const before = scriptCount(run);
    try {
      return apply(callback as AnyFn, this, args);
    } finally {
      chargeCallbacks(run, 1, before);
    }
  };
}

/** ToString as a default sort compares by (and as every native ToString does): a symbol throws, like the native. */
export function sortKey(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'symbol') throw new TypeErrorCtor('Cannot convert a Symbol value to a string');
  return StringCtor(v);
}

/**
 * A long string about to be compared: V8 flattens a concatenation (`p + i`, a few bytes however long)
 * into a copy of its full length before comparing it, outside any charge. Charged here, so that a
 * comparison over many such strings reaches a heap check (the charge is only a trigger: a string that is
 * already flat costs a check, not the budget).
 */
function chargeCompared(s: string): void {
  if (s.length > SMALL) chargeChars(s.length);
}

/**
 * ToNumber as one call V8 does not inline (a proxy's call never is): the call's stack check is where
 * the deadline's termination lands between two slow conversions (see Guards.y, which is called so too).
 */
const toNumberStep = new ProxyCtor((v: unknown) => +(v as number), freeze(create(null))) as (v: unknown) => number;

/** SortCompare without a comparator (undefined never reaches it: sort puts those last itself). */
function defaultCompare(x: unknown, y: unknown): number {
  const a = sortKey(x);
  const b = sortKey(y);
  chargeCompared(a);
  chargeCompared(b);
  return a < b ? -1 : b < a ? 1 : 0;
}

/**
 * Up to this many elements a default-order sort is charged its length rather than its comparisons (so
 * that a sort of a few thousand elements fits the smallest iteration budget). It never runs as V8's
 * native default-order sort, which converts and compares in one uninterruptible native step: 2e6 numbers
 * take seconds past any deadline, and so do 1,000 strings with a shared prefix of 1e6 characters
 * (each comparison walks the prefix, and flattens a concatenation into a copy no budget saw: 4,096 of
 * them exhausted the host's heap). The runtime's comparator keeps the native order and is JavaScript,
 * which the deadline interrupts between two comparisons; above this length it is metered too.
 */
const SORT_NATIVE = 4096;

function sortWith(orig: AnyFn, self: any, comparefn: unknown): unknown {
  const run = current;
  if (run === null || (comparefn !== undefined && typeof comparefn !== 'function')) return apply(orig, self, comparefn === undefined ? [] : [comparefn]);
  const len = self.length as number;
  if (comparefn === undefined && len <= SORT_NATIVE) {
    tickMany(run, len);
    return apply(orig, self, [defaultCompare]);
  }
  return withMetered(comparefn ?? defaultCompare, (f) => apply(orig, self, [f]));
}

/** Elements one native join or toLocaleString converts in one step (a few ms): longer arrays go by slices. */
const JOIN_CHUNK = 8192;
/** Arrays being joined: one met again is a cycle, which joins as '' (as V8's own join does). */
const joining: unknown[] = [];
/** Lets go of the arrays of joins a run left unfinished (called when a run ends). */
export function forgetJoins(): void {
  joining.length = 0;
}

/** Characters a number, a boolean, null or undefined is joined as, at most. */
const PRIMITIVE_CHARS = 25;

/**
 * Joins `len` elements of `self` (an array, or a bounded copy) as the native `orig` (join, or
 * toLocaleString with `locale`) does, with the joined length checked against the run's budget before
 * any of it is built. V8 builds a joined string flat, in one native step: 500 references to one string
 * of 2^20 characters (a 2 MB array, within STANDARD's 64 MB) made a 1 GB string before the charge that
 * came after it, which grew the vm host's resident memory to 1.1 GB, and `arr.toString()`, `String(arr)`
 * or `${arr}` need no more than ordinary syntax (found by red-teaming; past 2^29 characters V8 throws,
 * and turns off the isolate's StringLengthOverflowLookupChain on the way).
 *
 * So each element is read once, in the native's order, into a copy: strings (and for join the other
 * short primitives) as they are, anything else converted by the native itself on a one-element array
 * (its `toString` or `toLocaleString`, nested arrays, a symbol's TypeError: all as in V8's join). The
 * copy's native join runs no script code. Long arrays go by slices of JOIN_CHUNK elements, so no single
 * native step converts millions of elements (V8's join does not honour termination).
 */
function joinCharged(run: Run, orig: AnyFn, self: any, len: number, sep: string, args: unknown[], locale: boolean): string {
  if (joining.length > 0 && (apply(arrayLastIndexOf, joining, [self]) as number) !== -1) return '';
  let total = len > 0 ? (len - 1) * sep.length : 0;
  if (total > run.maxChars) chargeChars(total);
  // The common case, an array of strings and numbers: copied by the native slice (each element read once,
  // as join reads it; an element copy built here made a join three times slower), measured, then joined.
  if (!locale && len <= JOIN_CHUNK && gpo(self) === ArrayPrototype && gopd(self, 'constructor') === undefined && self.length === len) {
    const copy = apply(arraySlice, self, [0, len]) as unknown[];
    let sum = total;
    let plain = true;
    for (let j = 0; j < len; j++) {
      const v = copy[j];
      if (typeof v === 'string') sum += v.length;
      else if (typeof v === 'number' || typeof v === 'boolean') sum += PRIMITIVE_CHARS;
      else if (v !== null && v !== undefined) {
        plain = false;
        break;
      }
    }
    if (plain) {
      chargeChars(sum);
      return apply(orig, copy, args) as string;
    }
  }
  // On the list only while an element of it is converted: only that runs code that may join it again.
  let listed = false;
  try {
    let whole = '';
    let chunks: string[] | null = null;
    for (let i = 0; i < len; i += JOIN_CHUNK) {
      if (i > 0) tick(run);
      const end = i + JOIN_CHUNK < len ? i + JOIN_CHUNK : len;
      const parts: unknown[] = [];
      for (let j = i; j < end; j++) {
        let v = self[j];
        if (typeof v === 'string') total += v.length;
        else if (v === null || v === undefined) v = '';
        else if (!locale && (typeof v === 'number' || typeof v === 'boolean')) total += PRIMITIVE_CHARS;
        else {
          if (!listed) {
            joining[joining.length] = self;
            listed = true;
          }
          v = apply(orig, [v], args) as string;
          total += v.length;
        }
        if (total > run.maxChars) chargeChars(total);
        parts[j - i] = v;
      }
      whole = apply(orig, parts, args) as string;
      if (len > JOIN_CHUNK) {
        chunks ??= [];
        chunks[chunks.length] = whole;
      }
    }
    chargeChars(total);
    return chunks === null ? whole : (apply(arrayJoin, chunks, [sep]) as string);
  } finally {
    if (listed) joining.length--;
  }
}

/** Code-unit comparisons one native lastIndexOf may do in one step (~10 ms). */
const SEARCH_WORK = 1 << 25;

/**
 * V8's lastIndexOf compares the needle at every position from the right, naively, in one native step
 * that ignores termination: a 2e4-character needle in a 1e6-character haystack takes seconds. Past
 * SEARCH_WORK comparisons the search goes window by window from the right (each window a native call
 * of bounded cost, on a slice that shares the haystack's characters), after one linear indexOf has
 * answered the common case of no occurrence at all.
 */
function lastIndexOfBounded(orig: AnyFn, h: string, n: string, position: unknown): number {
  const numPos = +(position as number);
  let pos = numPos !== numPos ? Infinity : numPos;
  pos = pos < 0 ? 0 : pos > h.length ? h.length : pos - (pos % 1);
  const start = pos < h.length - n.length ? pos : h.length - n.length;
  if (start < 0) return -1;
  if ((start + 1) * n.length <= SEARCH_WORK) return apply(orig, h, [n, start]) as number;
  if ((apply(stringIndexOf, h, [n]) as number) === -1) return -1;
  const run = current;
  const step = SEARCH_WORK / n.length - ((SEARCH_WORK / n.length) % 1) || 1;
  for (let hi = start; hi >= 0; hi -= step) {
    tick(run);
    const lo = hi - step + 1 > 0 ? hi - step + 1 : 0;
    const at = apply(orig, apply(stringSlice, h, [lo, hi + n.length]), [n]) as number;
    if (at !== -1) return lo + at;
  }
  return -1;
}

/** Needles up to this length are searched for natively in an array whatever its length (one comparison is short). */
const SEARCH_NEEDLE = 64;

/**
 * Array `indexOf`, `includes` and `lastIndexOf` of a long string, as the specification words them, in
 * JavaScript that the deadline can interrupt. V8 runs them as one native loop that ignores termination,
 * and an element of the needle's length is compared character by character (and flattened first, if it
 * is a concatenation, into a copy no budget saw): 2e5 references to a string of 1e6 characters blocked
 * the host for seconds past the deadline.
 */
function searchArray(key: 'includes' | 'indexOf' | 'lastIndexOf', self: any, needle: string, args: unknown[]): number | boolean {
  const len = toLen(self.length);
  const last = key === 'lastIndexOf';
  const none = key === 'includes' ? false : -1;
  if (len === 0) return none;
  const hasFrom = args.length > 1;
  let n = 0;
  if (hasFrom || last) {
    const f = hasFrom ? +(args[1] as number) : len - 1;
    n = f !== f ? 0 : f === Infinity || f === -Infinity ? f : f - (f % 1);
  }
  if (last) {
    if (n === -Infinity) return -1;
    for (let k = n >= 0 ? (n < len - 1 ? n : len - 1) : len + n; k >= 0; k--) {
      if (k in self) {
        const v = self[k];
        if (typeof v === 'string' && v.length === needle.length) chargeCompared(v);
        if (v === needle) return k;
      }
    }
    return -1;
  }
  if (n === Infinity) return none;
  for (let k = n >= 0 ? n : len + n > 0 ? len + n : 0; k < len; k++) {
    // includes reads holes as undefined, which a string never equals: both skip them.
    if (k in self) {
      const v = self[k];
      if (typeof v === 'string' && v.length === needle.length) chargeCompared(v);
      if (v === needle) return key === 'includes' ? true : k;
    }
  }
  return none;
}

/**
 * Characters one ICU call (normalize, locale case mapping, locale comparison) may take: ICU runs them
 * in one native step that ignores termination, at up to ~250 ns a character for a comparison.
 */
const MAX_ICU_CHARS = 1 << 20;

export function checkIcu(what: string, chars: number): void {
  if (chars > MAX_ICU_CHARS) throw new RangeErrorCtor(`${what} of ${chars} characters is not available in AgentScript: at most ${MAX_ICU_CHARS} in one call (it cannot be interrupted).`);
}

/** `Intl.Collator`'s `compare` runs ICU over both strings in one step, like `localeCompare`: capped the same. */
function capCollatorCompare(): void {
  const proto = IntlObject?.Collator?.prototype as object | undefined;
  if (proto === undefined) return;
  wrapHandedOut(proto, 'compare', (native) => ({
    compare(a: unknown, b: unknown) {
      const x = sortKey(a);
      const y = sortKey(b);
      checkIcu('Intl.Collator compare', x.length + y.length);
      chargeCharWork(x.length + y.length);
      return apply(native, undefined, [x, y]) as number;
    },
  }).compare);
}

/** Leaves `flattened` writes between two charges. */
const FLAT_CHARGE = 1024;

/**
 * ArraySpeciesCreate(O, 0): the array `flat` and `flatMap` fill, made as the native makes it, or null
 * where that is a new ordinary array.
 */
function speciesArray(O: unknown): any {
  if (!isArray(O)) return null;
  let C = (O as { constructor?: unknown }).constructor;
  if (C !== null && (typeof C === 'object' || typeof C === 'function')) {
    C = (C as Record<symbol, unknown>)[symbolSpecies];
    if (C === null) C = undefined;
  }
  if (C === undefined || C === ArrayCtor) return null;
  if (typeof C !== 'function') throw new TypeErrorCtor('object.constructor[Symbol.species] is not a constructor');
  return construct(C as AnyFn, [0]);
}

/**
 * `flat` and `flatMap` as the specification words them (ArraySpeciesCreate, then FlattenIntoArray), in
 * the runtime. V8 flattens in one native step that reads every element again after any check of ours:
 * an element getter showed a counting walk 1 and the native a DAG of 2^27 leaves, and a builtin as the
 * `flatMap` callback (`Object.bind(null, big)`) handed back one array of 1e6 elements 2,000 times; both
 * aborted a 256 MB vm host (the second at STANDARD, validated). Here every element is read once (its
 * `in` check and its value, as the native reads them), each array visited counts one iteration, and the
 * leaves are charged as they are written, so the heap is checked as the result grows.
 * `O` is the script's receiver, `source` what receiver() made of it.
 */
function flattened(run: Run, O: unknown, source: any, depth: number, mapper: AnyFn | null, thisArg: unknown): unknown {
  const made = speciesArray(O);
  const own = made === null;
  const target = own ? [] : made;
  const obj = typeof O === 'object' || typeof O === 'function' ? O : ObjectCtor(O);
  let n = 0;
  const put = (v: unknown) => {
    if (own) target[n] = v;
    else defineProperty(target, n, { value: v, writable: true, enumerable: true, configurable: true });
    n++;
    if (n % FLAT_CHARGE === 0) chargeElements(n > run.maxElements ? n : FLAT_CHARGE);
  };
  const walk = (arr: any, len: number, level: number, mapping: boolean) => {
    tick(run);
    for (let i = 0; i < len; i++) {
      if (!(i in arr)) continue;
      let x = arr[i];
      if (mapping) x = apply(mapper as AnyFn, thisArg, [x, i, obj]);
      if (level > 0 && isArray(x)) walk(x, toLen(x.length), level - 1, false);
      else put(x);
    }
  };
  walk(source, toLen(source.length), depth, mapper !== null);
  chargeWork(n);
  return target;
}

/** A copy of the array `E` (its first `len` elements, holes kept), read once. */
function arrayCopy(E: unknown[], len: number): unknown[] {
  // A plain array's slice consults no species of the script's and runs no script code to find its length.
  if (gpo(E) === ArrayPrototype && gopd(E, 'constructor') === undefined) return apply(arraySlice, E, [0, len]) as unknown[];
  const copy: unknown[] = [];
  copy.length = len;
  for (let k = 0; k < len; k++) if (k in E) copy[k] = E[k];
  return copy;
}

/**
 * `concat` as the specification words it, with the copying left to natives that run no script code.
 * V8's concat runs script code between the items it copies (the receiver's species, each item's
 * `Symbol.isConcatSpreadable` getter, element getters), after any charge made from the items' lengths
 * before the call: a getter that grew a later item to 3e7 elements had V8 copy them uncharged (240 MB of
 * a 256 MB vm host under a 64 MB limit, in one step). Here each item is looked at once, in the native's
 * order, its length charged when it is read and the item copied then, and the copies are joined by the
 * native concat, which finds nothing of the script's in them. Spreadable objects that are not arrays are
 * refused, as before.
 */
function concatenated(run: Run, orig: AnyFn, self: unknown, items: unknown[]): unknown {
  const O = toObject(self);
  const made = speciesArray(O);
  const pieces: unknown[][] = [];
  let total = 0;
  const take = (E: unknown) => {
    let spreadable = false;
    if (E !== null && (typeof E === 'object' || typeof E === 'function')) {
      const s = (E as Record<symbol, unknown>)[symbolIsConcatSpreadable];
      spreadable = s !== undefined ? !!s : isArray(E);
    }
    if (!spreadable) {
      total++;
      apply(arrayPush, pieces, [[E]]);
      return;
    }
    if (!isArray(E)) throw new TypeErrorCtor('concat of spreadable array-likes is not available in AgentScript; copy them with Array.from(x) first.');
    const len = E.length;
    chargeElements(len);
    total += len;
    if (total > run.maxElements) chargeElements(total);
    apply(arrayPush, pieces, [arrayCopy(E, len)]);
  };
  take(O);
  for (let i = 0; i < items.length; i++) take(items[i]);
  chargeWork(total);
  if (made === null) return apply(orig, [], pieces);
  // A species of the script's: CreateDataPropertyOrThrow for each element, then the length.
  let n = 0;
  for (let p = 0; p < pieces.length; p++) {
    const piece = pieces[p] as unknown[];
    for (let k = 0; k < piece.length; k++, n++) if (k in piece) defineProperty(made, n, { value: piece[k], writable: true, enumerable: true, configurable: true });
  }
  made.length = n;
  return made;
}

/**
 * Characters of one RegExp pattern. V8 parses a pattern when the RegExp is made and compiles it when it
 * is first used, each in one native step that ignores termination and allocates outside the heap: found
 * by red-teaming, `new RegExp('a|'.repeat(1e6)).test('x')` ran 43 s past a 20 s deadline and took 630 MB
 * of host memory, and parsing `'(?:a|b)'.repeat(2e6)` alone 1.2 GB. V8 refuses most patterns past
 * about 60,000 characters as too large anyway, after that work.
 */
const MAX_PATTERN = 65_536;

function checkPattern(p: string): string {
  if (p.length > MAX_PATTERN) throw new SyntaxErrorCtor(`Invalid regular expression: a pattern of ${p.length} characters is not available in AgentScript: at most ${MAX_PATTERN} (it is parsed and compiled in one step that cannot be interrupted).`);
  return p;
}

/** A RegExp with its own source (RegExp.prototype answers `source` too, without being one). */
function realRegExp(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || v === RegExpPrototype) return false;
  try {
    apply(regexpSourceGetter, v, []);
    return true;
  } catch {
    return false;
  }
}

/** IsRegExp: a `Symbol.match` that is not undefined decides, else being a RegExp. */
function regExpLike(v: unknown): boolean {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return false;
  const m = (v as Record<symbol, unknown>)[symbolMatch];
  return m !== undefined ? !!m : realRegExp(v);
}

/**
 * The arguments the intrinsic RegExp constructor is handed: a RegExp as it is (its source was bounded
 * when it was made), anything else read and converted here as the constructor reads it (a regexp-like's
 * `source` and `flags`, else the pattern itself), and its length bounded.
 */
function patternArgs(pattern: unknown, flags: unknown): unknown[] {
  if (realRegExp(pattern)) return [pattern, flags];
  let P = pattern;
  let F = flags;
  if (regExpLike(pattern)) {
    P = (pattern as { source?: unknown }).source;
    if (flags === undefined) F = (pattern as { flags?: unknown }).flags;
  }
  return [checkPattern(P === undefined ? '' : sortKey(P)), F === undefined ? undefined : sortKey(F)];
}

/**
 * The realm's global RegExp bounds its pattern (see MAX_PATTERN) before the intrinsic parses it; so do
 * `compile` and the String methods that make a RegExp of a string (`match`, `matchAll`, `search`), and
 * the protocol natives whose species would be the intrinsic (see regexps.ts). `RegExp.prototype.constructor`
 * stays the intrinsic: changing it turns off V8's RegExp species fast paths in every context of the
 * process. A script that is not validated can reach it as `/x/.constructor`.
 */
export function installRegExpConstructor(): void {
  const Native = RegExpCtor as unknown as AnyFn;
  const Safe = function RegExp(this: unknown, pattern: unknown, flags: unknown): unknown {
    const args = patternArgs(pattern, flags);
    return new.target === undefined ? apply(Native, undefined, args) : construct(Native, args, new.target === Safe ? Native : new.target);
  };
  replaceConstructor(G, 'RegExp', Native, Safe, false);
  useRegExpConstructor(Safe);
  wrap(RegExpPrototype, 'compile', (orig) => ({
    compile(this: unknown, pattern: unknown, flags: unknown) {
      return apply(orig, this, realRegExp(pattern) ? [pattern, flags] : [pattern === undefined ? undefined : checkPattern(sortKey(pattern)), flags]);
    },
  }));
  const SP = StringPrototype;
  each([['match', symbolMatch], ['matchAll', symbolMatchAll], ['search', symbolSearch]] as const, (entry) => {
    const key = entry[0];
    const sym = entry[1];
    wrap(SP, key, (orig) => ({
      [key](this: unknown, regexp: unknown) {
        if (this === null || this === undefined) return apply(orig, this, [regexp]);
        if (regexp !== undefined && regexp !== null) {
          if (key === 'matchAll' && regExpLike(regexp)) {
            const f = (regexp as { flags?: unknown }).flags;
            if (f === undefined || f === null || apply(stringIndexOf, sortKey(f), ['g']) === -1) throw new TypeErrorCtor('String.prototype.matchAll called with a non-global RegExp argument');
          }
          // The argument's own method, read once and called here (the native would read it again).
          const method = (regexp as Record<symbol, unknown>)[sym];
          if (method !== undefined && method !== null) return apply(method as AnyFn, regexp, [this]);
        }
        // A RegExp made of the argument as a string: bounded, and handed on as a string.
        const S = sortKey(this);
        return apply(orig, S, [checkPattern(regexp === undefined ? '' : sortKey(regexp))]);
      },
    }));
  });
}

/** Wraps every bulk builtin of the realm. Runs once, at install, before lockdown freezes them. */
export function wrapBulkBuiltins(): void {
  const SP = StringPrototype;
  const AP = ArrayPrototype;
  // ToString as the natives do it: a symbol throws a TypeError (String(symbol) would not). Each wrapper
  // converts every argument once, in the native's order, and hands the native the converted value, so
  // that a valueOf or toString runs as often and as early as it does natively. A null or undefined
  // receiver goes to the native, which throws its own TypeError.
  const S = sortKey;
  const absent = (v: unknown): boolean => v === null || v === undefined;

  wrap(SP, 'repeat', (orig) => ({
    repeat(this: unknown, count: unknown) {
      if (absent(this)) return apply(orig, this, [count]);
      const s = S(this);
      const c = +(count as number);
      // An infinite count is the native's RangeError, not a charge.
      if (c !== Infinity) chargeChars(s.length * toLen(c));
      return apply(orig, s, [c]);
    },
  }));
  each(['padStart', 'padEnd'] as const, (key) => {
    wrap(SP, key, (orig) => ({
      [key](this: unknown, n: unknown, f: unknown) {
        if (absent(this)) return apply(orig, this, [n, f]);
        const s = S(this);
        const len = +(n as number);
        chargeChars(toLen(len));
        return apply(orig, s, [len, f]);
      },
    }));
  });
  // asUintN(bits, x) of a negative x is a BigInt of `bits` bits (asUintN(2 ** 30, -1n) is 128 MB) made in
  // one native step: a large one is charged first. The bit count is converted here, once, as the native
  // would (a BigInt or a Symbol throws the same TypeError); only a non-negative BigInt cannot grow.
  wrap(BigIntCtor, 'asUintN', (orig) => ({
    asUintN(bits: unknown, x: unknown) {
      const b = +(bits as number);
      if (b > BIG_STRING * 8 && !(typeof x === 'bigint' && x >= 0)) chargeElements(b / 64);
      return apply(orig, BigIntCtor, [b, x]);
    },
  }));
  // A power-of-two radix converts in one fast native step to up to one character per bit: 2e8 bits made
  // a one-byte string of 200 MB from a BigInt of 25 MB, twice in one expression. The output is charged
  // before it is made (other radixes convert slowly, and the deadline interrupts them).
  wrap(BigIntPrototype, 'toString', (orig) => ({
    toString(this: unknown, radix: unknown) {
      // The receiver first, as the native checks it: what is no BigInt is the native's own TypeError.
      const x = thisBigInt(this);
      if (x === undefined) return apply(orig, this, [radix]);
      const r = radix === undefined ? 10 : +(radix as number);
      const bits = bigIntBits(x);
      if (bits > 0 && r >= 2 && r < 37) chargeChars(bits / log2Floor(r) + 2);
      return apply(orig, x, [r]);
    },
  }));
  wrap(SP, 'concat', (orig) => ({
    concat(this: unknown, ...parts: unknown[]) {
      if (absent(this)) return apply(orig, this, parts);
      const s = S(this);
      let n = s.length;
      for (let i = 0; i < parts.length; i++) {
        const part = S(parts[i]);
        parts[i] = part;
        n += part.length;
      }
      chargeChars(n);
      return apply(orig, s, parts);
    },
  }));
  each(['replace', 'replaceAll'] as const, (key) => {
    wrap(SP, key, (orig) => ({
      [key](this: unknown, pattern: unknown, replacement: unknown) {
        if (absent(this)) return apply(orig, this, [pattern, replacement]);
        if (key === 'replace' && !absent(pattern)) {
          // As the native: a pattern's own replace method (a RegExp's is wrapped, and charges) is handed
          // the receiver and the replacement as they are; a pattern without one is converted to a string.
          const method = (pattern as Record<symbol, unknown>)[symbolReplace];
          if (typeof method === 'function') return apply(method as AnyFn, pattern, [this, replacement]);
          if (method !== undefined && method !== null) return apply(orig, this, [pattern, replacement]);
        }
        const s = S(this);
        // A pattern with no replace method is converted before the replacement, as the native does.
        if (key === 'replace' || pattern === null || (typeof pattern !== 'object' && typeof pattern !== 'function')) pattern = S(pattern);
        if (typeof replacement === 'function') return replaceBy(replacement, (fn) => apply(orig, s, [pattern, fn]));
        const r = S(replacement);
        chargeReplacement(s, pattern, r, key === 'replaceAll');
        chargeCharWork(s.length);
        return builtString(apply(orig, s, [pattern, r]));
      },
    }));
  });
  // RegExp.escape (Node 24) writes up to six characters for each of its input's (`\x20` for a space,
  // `\u2028`) in one step: ten of them over 1.5e7 spaces in one expression aborted a 512 MB host
  // (STANDARD, validated). Charged at the most first; no RegExp may use more than MAX_PATTERN of it.
  wrap(RegExpCtor, 'escape', (orig) => ({
    escape(s: unknown) {
      if (typeof s === 'string' && s.length > SMALL) chargeChars(s.length * 6);
      return apply(orig, RegExpCtor, [s]);
    },
  }));
  wrap(SP, 'split', (orig) => ({
    split(this: unknown, sep: unknown, limit: unknown) {
      if (absent(this)) return apply(orig, this, [sep, limit]);
      const s = S(this);
      if (typeof sep === 'string' && sep !== '') chargeElements(s.length / sep.length + 1);
      else chargeElements(s.length);
      chargeCharWork(s.length);
      return walked(apply(orig, s, [sep, limit]) as unknown[]);
    },
  }));
  wrap(AP, 'join', (orig) => ({
    join(this: unknown, sep: unknown) {
      const run = current;
      tick(run);
      if (run === null) return apply(orig, this, [sep]);
      const self = receiver(this, false, orig, true);
      // The native reads the length before it converts the separator, and joins that many elements
      // even if the conversion (script code) grew or shrank the array. Handed the separator as a string,
      // it would read the length again: an array whose length changed goes by slices of `len` instead.
      const len = toLen(self.length);
      const sepText = sep === undefined ? ',' : S(sep);
      if (len > SMALL) chargeElements(len);
      chargeWork(len);
      return joinCharged(run, orig, self, len, sepText, [sepText], false);
    },
  }));
  wrap(AP, 'toLocaleString', (orig) => ({
    toLocaleString(this: unknown, ...args: unknown[]) {
      const run = current;
      const self = isArray(this) && this.length <= JOIN_CHUNK ? this : receiver(this, false, orig, true);
      if (run === null) return apply(orig, self, args);
      chargeWork(self.length);
      // Checked as join's output is: 17 references to a string of 3e7 characters made one of 5e8.
      return joinCharged(run, orig, self, self.length, ',', args, true);
    },
  }));
  wrap(AP, 'sort', (orig) => ({ sort(this: unknown, comparefn: unknown) { return sortWith(orig, isArray(this) && this.length <= SMALL ? charged(this) : receiver(this, true, orig), comparefn); } }));
  wrap(AP, 'toSorted', (orig) => ({
    toSorted(this: unknown, comparefn: unknown) {
      // The comparator is checked before the receiver is read, as the native does.
      if (comparefn !== undefined && typeof comparefn !== 'function') return apply(orig, this, [comparefn]);
      const self = receiver(this, false, orig, true);
      chargeElements(self.length);
      return sortWith(orig, self, comparefn);
    },
  }));
  // Methods that call back once per element (at most): charged what the script's counter did not see.
  each(['forEach', 'map', 'filter', 'reduce', 'reduceRight'] as const, (key) => {
    wrap(AP, key, (orig) => ({
      [key](this: unknown, ...args: unknown[]) {
        const self = isArray(this) && this.length <= SMALL ? charged(this) : receiver(this, false, orig);
        if (self !== this) args[0] = withObject(args[0], this, key === 'reduce' || key === 'reduceRight');
        const run = current;
        if (run === null) return apply(orig, self, args);
        const len = self.length as number;
        const before = scriptCount(run);
        try {
          return apply(orig, self, args);
        } finally {
          chargeCallbacks(run, len, before);
        }
      },
    }));
  });
  // Those that may stop early count their calls, so that a find that stops at once is not charged the length.
  each(['every', 'some', 'find', 'findIndex', 'findLast', 'findLastIndex'] as const, (key) => {
    wrap(AP, key, (orig) => ({
      [key](this: unknown, callback: unknown, thisArg: unknown) {
        const self = isArray(this) && this.length <= SMALL ? charged(this) : receiver(this, false, orig, key !== 'every' && key !== 'some');
        if (self !== this) callback = withObject(callback, this, false);
        return withMetered(callback, (f) => apply(orig, self, [f, thisArg]));
      },
    }));
  });
  wrap(AP, 'fill', (orig) => ({ fill(this: unknown, value: unknown, start: unknown, end: unknown) { const self = receiver(this, true, orig); chargeElements(self.length); chargeWork(span(self.length, start, end)); return apply(orig, self, [value, start, end]); } }));
  wrap(AP, 'concat', (orig) => ({
    concat(this: unknown, ...items: unknown[]) {
      const run = current;
      if (run === null || this === null || this === undefined) return apply(orig, this, items);
      return concatenated(run, orig, this, items);
    },
  }));
  each(['toReversed', 'toSpliced', 'with', 'keys', 'values', 'entries'] as const, (key) => {
    // The iterators walk nothing when they are made: what steps them is counted where it steps them.
    const copies = key === 'toReversed' || key === 'toSpliced' || key === 'with';
    wrap(AP, key, (orig) => ({ [key](this: unknown, ...args: unknown[]) { const self = receiver(this, false, orig, key === 'toReversed' || key === 'with'); chargeElements(self.length); if (copies) chargeWork(self.length); return apply(orig, self, args); } }));
  });
  // Array methods that walk 0..length. On a sparse array or an array-like with a huge length, V8 runs
  // some of them as C++ loops that do not honour termination, so not even the watchdog stops them: they
  // refuse lengths past the run's element budget, and large inputs trigger a heap check (copies such as
  // slice or map in a short loop can outgrow the heap between checkpoints).
  const MUTATING = ['copyWithin', 'reverse', 'shift', 'splice', 'unshift'];
  each(['copyWithin', 'reverse', 'shift', 'slice', 'splice', 'unshift'] as const, (key) => {
    const mutating = apply(arrayIncludes, MUTATING, [key]) as boolean;
    wrap(AP, key, (orig) => ({
      [key](this: unknown, ...args: unknown[]) {
        const self = isArray(this) && this.length <= SMALL ? charged(this) : receiver(this, mutating, orig);
        // What each moves or copies: slice its span, splice what follows its start (V8's shift trims the
        // front of an array in place, and a queue that shifts is an ordinary program: not charged).
        if (key === 'slice') chargeWork(span(self.length, args[0], args[1]));
        else if (key === 'splice') chargeWork(span(self.length, args[0], undefined) + args.length);
        else if (key !== 'shift') chargeWork(self.length + args.length);
        return apply(orig, self, args);
      },
    }));
  });
  // The searches compare the needle with every element in one native loop; a long string needle makes
  // each comparison as long as the needle (see searchArray).
  each(['includes', 'indexOf', 'lastIndexOf'] as const, (key) => {
    wrap(AP, key, (orig) => ({
      [key](this: unknown, ...args: unknown[]) {
        const self = isArray(this) && this.length <= SMALL ? charged(this) : receiver(this, false, orig, key === 'includes');
        const needle = args[0];
        chargeWork(self.length);
        if (typeof needle === 'string' && needle.length > SEARCH_NEEDLE && toLen(self.length) * needle.length > SEARCH_WORK) return searchArray(key, self, needle, args);
        return apply(orig, self, args);
      },
    }));
  });
  // String methods that copy (or flatten) their receiver: a large receiver triggers a heap check.
  wrap(SP, 'lastIndexOf', (orig) => ({
    lastIndexOf(this: unknown, search: unknown, position: unknown) {
      if (this === null || this === undefined) return apply(orig, this, [search, position]);
      const str = S(this);
      if (str.length > SMALL) chargeChars(str.length);
      const found = lastIndexOfBounded(orig, str, sortKey(search), position);
      // Searched from the right: what it passed over.
      chargeCharWork(str.length - (found < 0 ? 0 : found));
      return found;
    },
  }));
  // The searches and the checks that read every character are charged what they read (see chargeWork):
  // a search from where it starts to where it found its needle, as a parser's `indexOf(x, from)` reads.
  const searchFree = WORK_FREE * CHARS_PER_UNIT;
  each(['trim', 'trimStart', 'trimEnd', 'indexOf', 'includes', 'startsWith', 'endsWith', 'toWellFormed', 'isWellFormed',
    'at', 'charAt', 'charCodeAt', 'codePointAt', 'slice', 'substring', 'substr'] as const, (key) => {
    const reads = key === 'indexOf' || key === 'includes' ? 1 : key === 'toWellFormed' || key === 'isWellFormed' ? 2 : 0;
    wrap(SP, key, (orig) => ({
      [key](this: unknown, ...args: unknown[]) {
        if ((typeof this === 'string' && this.length <= (reads === 0 ? SMALL : searchFree)) || absent(this)) return apply(orig, this, args);
        const str = S(this);
        if (str.length > SMALL) chargeChars(str.length);
        if (reads === 2) chargeCharWork(str.length);
        if (reads !== 1 || current === null) return apply(orig, str, args);
        // includes of a string is indexOf's answer told as a boolean (both search alike); anything else
        // (a RegExp is includes' TypeError) goes to the native, charged the whole string. The needle and
        // the position are converted once, here, in the native's order.
        if (key === 'includes' && typeof args[0] !== 'string') {
          chargeCharWork(str.length);
          return apply(orig, str, args);
        }
        const needle = S(args[0]);
        const from = args.length > 1 ? +(args[1] as number) : 0;
        const found = apply(stringIndexOf, str, [needle, from]) as number;
        const start = from > 0 ? (from < str.length ? from - (from % 1) : str.length) : 0;
        chargeCharWork((found < 0 ? str.length : found + needle.length) - start);
        return key === 'includes' ? found !== -1 : found;
      },
    }));
  });
  // These convert every argument to a number in one native call, and converting a long string (or an
  // object whose conversion is native too: a String object, `valueOf` a builtin) is one uninterruptible
  // step of milliseconds: `Math.max(...a)` over 3,000 strings of 7.2e6 characters ran 5.1 s past a
  // 400 ms deadline with no call between two of them (no count of the rewriter's sees inside one
  // native). Arguments that are all numbers go straight to the native; otherwise each is converted by
  // a call that V8 cannot inline, where the deadline's termination lands (see toNumberStep), and the
  // native gets the numbers (the same result: it would convert each in the same order, once).
  each<[object, string]>([[MathObject, 'max'], [MathObject, 'min'], [MathObject, 'hypot'], [StringCtor, 'fromCharCode'], [StringCtor, 'fromCodePoint']], (entry) => {
    // Read by index: runtime code never goes through the array iterator (see realm-runtime.test.ts).
    const holder = entry[0];
    const key = entry[1];
    wrap(holder, key, (orig) => ({
      [key](...args: unknown[]) {
        for (let i = 0; i < args.length; i++) {
          if (typeof args[i] === 'number') continue;
          for (let j = i; j < args.length; j++) if (typeof args[j] !== 'number') args[j] = toNumberStep(args[j]);
          break;
        }
        return apply(orig, holder, args);
      },
    }));
  });
  wrap(StringCtor, 'raw', () => ({
    raw(template: { raw: unknown }, ...subs: unknown[]) {
      // The raw strings are read once, into a bounded copy, so a getter cannot change their count.
      const raw = receiver(template.raw, false, undefined, true);
      chargeElements(raw.length);
      const args: unknown[] = [{ raw }];
      for (let i = 0; i < subs.length; i++) args[i + 1] = subs[i];
      return builtString(apply(stringRaw, StringCtor, args));
    },
  }));
  each([ErrorPrototype, RegExpPrototype], (proto) => {
    wrap(proto, 'toString', (orig) => ({ toString(this: unknown) { return builtString(apply(orig, this, [])); } }));
  });
  // Key lists of an object that is not an array or a string are charged what they made, after: its
  // size is not known before (an `Object.entries` of 3e5 keys per loop turn aborted a 300 MB host
  // between two checkpoints); the descriptors come as an object, so that copy is checked before instead.
  each(KEY_LISTINGS, (listing) => {
    const holder = listing[0];
    const key = listing[1];
    const name = `${holder === ReflectObject ? 'Reflect' : 'Object'}.${key}`;
    wrap(holder, key, (orig) => ({
      [key](o: unknown) {
        // Reflect.ownKeys of a primitive is the native's own TypeError.
        const n = holder === ReflectObject && typeof o === 'string' ? 0 : indexCount(o);
        // `values` makes no key string for an array's elements, but lists a string's or a String
        // object's indices through their keys: Object.values of 3e7 characters held a vm host 20 s past
        // a 2 s deadline (PERMISSIVE) and grew it by 810 MB. It is capped as Object.keys is then.
        const viaKeys = key === 'values' && !isArray(o);
        if (n > SMALL) listedIndices(name, n, viaKeys ? KEYS_UNITS : listing[2], viaKeys ? KEYS_MOST : listing[3]);
        else if (key === 'getOwnPropertyDescriptors' && o !== null && typeof o === 'object') copied(current);
        if (listing[4] !== Infinity) namedKeys(name, o, listing[4]);
        const out = apply(orig, holder, [o]) as unknown;
        if (n <= SMALL && isArray(out) && out.length > MEASURED_KEYS) chargeElements(out.length * listing[2]);
        // The listings with values were counted by namedKeys; those past SMALL indices by listedIndices.
        if (n <= SMALL && listing[4] === Infinity && isArray(out)) chargeWork(out.length);
        return out;
      },
    }));
  });
  // Map and Set call back once per entry, entries added during the walk included.
  each([MapCtor.prototype, SetCtor.prototype], (proto) => {
    wrap(proto, 'forEach', (orig) => ({ forEach(this: unknown, callback: unknown, thisArg: unknown) { return withMetered(callback, (fn) => apply(orig, this, [fn, thisArg])); } }));
  });
  // The HTML methods that take an attribute escape every quote in it as `&quot;`, in one step that
  // ignores termination: an attribute of 3e7 quotes took 3 to 5 s and made 180 MB (STANDARD, validated).
  // No markup needs a long one: it is capped, and the output (a concatenation) charged once it exists.
  each(['anchor', 'fontcolor', 'fontsize', 'link'] as const, (key) => {
    wrap(SP, key, (orig) => ({
      [key](this: unknown, attribute: unknown) {
        if (absent(this)) return apply(orig, this, [attribute]);
        const s = S(this);
        const a = S(attribute);
        if (a.length > MAX_ATTRIBUTE) throw new RangeErrorCtor(`An HTML attribute of ${a.length} characters is not available in AgentScript: at most ${MAX_ATTRIBUTE} (it is escaped in one step that cannot be interrupted).`);
        return builtString(apply(orig, s, [a]));
      },
    }));
  });
  wrap(ObjectCtor, 'assign', (orig) => ({
    assign(target: unknown, ...sources: unknown[]) {
      let n = 0;
      for (let i = 0; i < sources.length; i++) {
        const source = sources[i];
        n += indexCount(source);
        if (source !== null && typeof source === 'object') copied(current);
      }
      copiedIndices('Object.assign', n);
      let far = false;
      for (let i = 0; i < sources.length; i++) far = namedKeys('Object.assign', sources[i], NAMED_COPY_MOST) || far;
      // Keys past SMALL copied into an object in order would grow its fast elements past it (see sparseElements).
      if (far && target !== null && (typeof target === 'object' || typeof target === 'function') && !isArray(target)) sparseElements(target);
      // A long array too: a source's index far past its end would make its elements a dictionary (see ELEMENT_GAP).
      if (assignsChecked(target, sources) || (isArray(target) && target.length > SMALL)) return assignChecked(target as object, sources);
      const args: unknown[] = [target];
      for (let i = 0; i < sources.length; i++) args[i + 1] = sources[i];
      return apply(orig, ObjectCtor, args);
    },
  }));
  // Single natives that allocate far more than their input in one step, before any checkpoint can run:
  // each is charged an estimate of its output first (parsed JSON nodes, match arrays; worst-case
  // expansion of Unicode normalization and case mapping).
  wrap(JSONObject, 'parse', () => ({
    parse(text: unknown, reviver: unknown) {
      const t = S(text);
      if (t.length > SMALL) chargeElements(t.length * 2);
      chargeCharWork(t.length);
      if (reviver === undefined) return apply(jsonParse, JSONObject, [t]);
      return withMetered(reviver, (fn) => apply(jsonParse, JSONObject, [t, fn]));
    },
  }));
  wrap(SP, 'normalize', (orig) => ({
    normalize(this: unknown, form: unknown) {
      if (absent(this)) return apply(orig, this, [form]);
      const str = S(this);
      const f = form === undefined ? 'NFC' : S(form);
      if (str.length > 4096) chargeChars(str.length * (NORMALIZE_EXPANSION[f] || 18));
      chargeCharWork(str.length);
      checkIcu('normalize', str.length);
      return apply(orig, str, form === undefined ? [] : [f]);
    },
  }));
  each(['toUpperCase', 'toLowerCase'] as const, (key) => {
    wrap(SP, key, (orig) => ({
      [key](this: unknown) {
        if (absent(this)) return apply(orig, this, []);
        const str = S(this);
        if (str.length > SMALL) chargeChars(str.length * 3);
        chargeCharWork(str.length);
        return apply(orig, str, []);
      },
    }));
  });
  capCollatorCompare();
  const globals = G as unknown as Record<string, unknown>;
  each(['encodeURIComponent', 'encodeURI', 'decodeURIComponent', 'decodeURI'] as const, (key) => {
    const orig = globals[key];
    if (typeof orig !== 'function') return;
    const factor = key[0] === 'e' ? 9 : 1;
    displace(orig);
    globals[key] = { [key](v: unknown) { const str = S(v); if (str.length > 16_384) chargeChars(str.length * factor); chargeCharWork(str.length); return apply(orig as AnyFn, undefined, [str]); } }[key];
  });
  // RegExp methods behind match, matchAll, replace, search and split: also reachable directly. A receiver
  // that is not a plain RegExp is guarded (see regexps.ts): match, replace and split loop over its `exec`,
  // split and matchAll construct from it with its species.
  each([symbolMatch, symbolMatchAll, symbolSplit], (sym) => {
    wrap(RegExpPrototype, sym, (orig) => ({
      [sym](this: unknown, ...args: unknown[]) {
        const str = S(args[0]);
        if (str.length > SMALL) chargeElements(str.length);
        // matchAll's iterator matches as it is stepped; match and split read the whole string.
        if (sym !== symbolMatchAll) chargeCharWork(str.length);
        const rx = guarded(this, sym !== symbolMatch);
        const out = unguarded(apply(orig, rx, args.length > 1 ? [str, args[1]] : [str]));
        // A global match or a split makes a string per match, each charged as an element.
        if (sym !== symbolMatchAll && isArray(out)) chargeWork(out.length);
        return out;
      },
    }));
  });
  wrap(RegExpPrototype, symbolReplace, (orig) => ({
    [symbolReplace](this: unknown, string: unknown, replacement: unknown) {
      const str = S(string);
      if (typeof replacement === 'function') return replaceBy(replacement, (fn) => apply(orig, guarded(this, false), [str, fn]));
      const r = S(replacement);
      chargeReplacement(str, this, r, true);
      chargeCharWork(str.length);
      return builtString(apply(orig, guarded(this, false), [str, r]));
    },
  }));
  // `test` and `search` read the string up to their match in one call, as a string search does, and were
  // charged one iteration however much they read: charged what they read (see chargeWork), `search` up to
  // where it found its match and `test`, which tells nothing of where, the whole string. `exec` is not
  // wrapped: V8 runs `replace`, `match` and `split` on a plain RegExp natively only while RegExp.prototype
  // holds its own `exec` (each of those is charged the whole string already); with a wrapper in its place
  // `replace` took 7 times as long, `split` 20-30 times, `match` 2.5 times (Node 20, 9 KB of text). So a
  // loop of direct `exec` calls over a long string is charged one iteration a turn, not what each call
  // reads (4e6 characters: 0.26 ms a call; 11,398 turns in 3 s where `test` ends at once at
  // MAX_ITERATIONS): it ends at its deadline, which each call, a call, lets V8 enforce. Through the
  // protocol natives an object's `exec` is counted per call (see regexps.ts).
  each(['test', symbolSearch] as const, (key) => {
    wrap(RegExpPrototype, key, (orig) => ({
      [key](this: unknown, string: unknown) {
        // A receiver that is not an object is the native's TypeError, before the string is converted.
        if (this === null || (typeof this !== 'object' && typeof this !== 'function')) return apply(orig, this, [string]);
        const str = S(string);
        const out = apply(orig, this, [str]) as unknown;
        chargeCharWork(key === 'test' || typeof out !== 'number' || out < 0 ? str.length : out);
        return out;
      },
    }));
  });
  const fnApply = gopd(FunctionPrototype, 'apply')?.value as AnyFn;
  // A target that is not callable is the native's TypeError, before it reads the arguments.
  wrap(FunctionPrototype, 'apply', () => ({ apply(this: unknown, thisArg: unknown, args: unknown) { return apply(fnApply, this, [thisArg, typeof this === 'function' ? argumentList(args) : args]); } }));
  wrap(ReflectObject, 'apply', () => ({ apply(target: AnyFn, thisArg: unknown, args: ArrayLike<unknown>) { return apply(apply, ReflectObject, [target, thisArg, typeof target === 'function' ? argumentList(args) : args]); } }));
  wrap(ReflectObject, 'construct', () => ({
    construct(target: AnyFn, args: ArrayLike<unknown>, ...rest: unknown[]) {
      const list = typeof target === 'function' ? argumentList(args) : args;
      return apply(construct, ReflectObject, rest.length > 0 ? [target, list, rest[0]] : [target, list]);
    },
  }));
  // The other ways to set an array's length than `o.length = v` (which the rewriter writes as `ls`): the
  // key converted once (a key object's `toString` may answer 'length' to the native alone), the value
  // read as the native reads it, and the growth of the array whose length is set charged first.
  wrap(ReflectObject, 'set', (orig) => ({
    set(target: unknown, key: unknown, value: unknown, ...rest: unknown[]) {
      if (target === null || (typeof target !== 'object' && typeof target !== 'function')) return apply(orig, ReflectObject, [target, key, value]);
      const k = propertyKey(key);
      refuseProtected('Reflect.set', target, k);
      if (rest.length > 0) refuseProtected('Reflect.set', rest[0], k);
      // The length set is the receiver's (OrdinarySet defines it there).
      const v = k === 'length' ? lengthGrowth(rest.length > 0 ? rest[0] : target, value) : value;
      elementWrite(rest.length > 0 ? rest[0] : target, k, false);
      return apply(orig, ReflectObject, rest.length > 0 ? [target, k, v, rest[0]] : [target, k, v]);
    },
  }));
  each([ObjectCtor, ReflectObject], (holder) => {
    wrap(holder, 'defineProperty', (orig) => ({
      defineProperty(o: unknown, key: unknown, desc: unknown) {
        if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return apply(orig, holder, [o, key, desc]);
        const k = propertyKey(key);
        refuseProtected(holder === ObjectCtor ? 'Object.defineProperty' : 'Reflect.defineProperty', o, k);
        elementWrite(o, k, true);
        return apply(orig, holder, [o, k, definedLength(o, k, desc)]);
      },
    }));
  });
  // A delete looks its key up as a write does (see protectorHolder).
  wrap(ReflectObject, 'deleteProperty', (orig) => ({
    deleteProperty(target: unknown, key: unknown) {
      if (target === null || (typeof target !== 'object' && typeof target !== 'function')) return apply(orig, ReflectObject, [target, key]);
      const k = propertyKey(key);
      refuseProtected('Reflect.deleteProperty', target, k);
      return apply(orig, ReflectObject, [target, k]);
    },
  }));
  // An iterator keeps its prototype: guardedIterator tells it by that (see refusePrototypeChange).
  each([ObjectCtor, ReflectObject], (holder) => {
    wrap(holder, 'setPrototypeOf', (orig) => ({
      setPrototypeOf(o: unknown, proto: unknown) {
        refusePrototypeChange(holder === ObjectCtor ? 'Object.setPrototypeOf' : 'Reflect.setPrototypeOf', o);
        return apply(orig, holder, [o, proto]);
      },
    }));
  });
  const protoAccessor = gopd(ObjectPrototype, '__proto__');
  const protoSet = protoAccessor?.set;
  if (protoAccessor !== undefined && protoSet !== undefined) {
    displace(protoSet);
    const holder = {
      set __proto__(proto: unknown) {
        refusePrototypeChange('__proto__', this);
        apply(protoSet, this, [proto]);
      },
    };
    defineProperty(ObjectPrototype, '__proto__', { get: protoAccessor.get, set: gopd(holder, '__proto__')?.set, enumerable: protoAccessor.enumerable, configurable: protoAccessor.configurable });
  }
  // The legacy accessors define on `this` as Object.defineProperty does.
  each(['__defineGetter__', '__defineSetter__'] as const, (name) => {
    wrap(ObjectPrototype, name, (orig) => ({
      [name](this: unknown, key: unknown, fn: unknown) {
        const k = propertyKey(key);
        refuseProtected(name, this, k);
        elementWrite(this, k, true);
        return apply(orig, this, [k, fn]);
      },
    }));
  });
  wrap(ObjectCtor, 'defineProperties', () => ({ defineProperties(o: unknown, props: unknown) { return defineAll('Object.defineProperties', o, props); } }));
  wrap(ObjectCtor, 'create', (orig) => ({
    create(proto: unknown, props: unknown) {
      // The prototype is checked (and the object made) first, as the native does.
      const o = apply(orig, ObjectCtor, [proto]) as object;
      return props === undefined ? o : defineAll('Object.create', o, props);
    },
  }));
  wrap(AP, 'flat', (orig) => ({
    flat(this: unknown, depth: unknown) {
      const run = current;
      if (run === null) return apply(orig, this, [depth]);
      // As the native: the receiver and its length first, then the depth, converted once.
      const self = receiver(this, false, orig);
      return flattened(run, this, self, toLen(depth === undefined ? 1 : +(depth as number)), null, undefined);
    },
  }));
  wrap(AP, 'flatMap', (orig) => ({
    flatMap(this: unknown, callback: unknown, thisArg: unknown) {
      const run = current;
      if (run === null || this === null || this === undefined) return apply(orig, this, [callback, thisArg]);
      const self = receiver(this, false, orig);
      if (typeof callback !== 'function') return apply(orig, self, [callback, thisArg]);
      return withMetered(callback, (f) => flattened(run, this, self, 1, f as AnyFn, thisArg));
    },
  }));
  wrap(ArrayCtor, 'from', () => ({
    from(this: unknown, items: any, mapFn: unknown, thisArg: unknown) {
      if (items !== null && items !== undefined && typeof items[symbolIterator] !== 'function') {
        // An array-like mapped into an array: its values are read as the map function asks for them, not
        // copied whole first, so a budget stops it as soon as it runs out (`Array.from({ length: 5e6 }, f)`
        // used to copy 5e6 values in this runtime's own loop, 0.6-1.3 s, before f's first call). Its length
        // is charged as before; each call is charged as map's are (see withMetered).
        if (typeof mapFn === 'function' && (this === safeArray || this === ArrayCtor || this === undefined) && current !== null) {
          const o = toObject(items);
          const len = toLen(o.length);
          chargeElements(len);
          return withMetered(mapFn, (f) => apply(arrayFrom, this, [indexValues(o, len), f, thisArg]));
        }
        items = receiver(items, false, undefined, true);
      }
      else if (items !== null && items !== undefined && !plainArray(items) && typeof items !== 'string') items = counted(items);
      else if (items !== null && items !== undefined) {
        chargeElements(toLen(items.length));
        // A map function's calls are charged as they are made.
        if (mapFn === undefined) chargeWork(toLen(items.length));
      }
      const run = current;
      if (mapFn === undefined || run === null) return mapFn === undefined ? apply(arrayFrom, this, [items]) : apply(arrayFrom, this, [items, mapFn, thisArg]);
      // The map function is called once per element: charged after, as map's callback is (a common way
      // to make an array, kept as cheap as the native). A script iterator's steps count themselves.
      const calls = isArray(items) || typeof items === 'string' ? items.length : 0;
      const before = scriptCount(run);
      try {
        return apply(arrayFrom, this, [items, mapFn, thisArg]);
      } finally {
        if (typeof mapFn === 'function') chargeCallbacks(run, calls, before);
      }
    },
  }));
  wrap(JSONObject, 'stringify', () => ({
    stringify(value: unknown, replacer: unknown, space: unknown) {
      const run = current;
      let out: string | undefined;
      if (run === null) return apply(jsonStringify, JSONObject, [value, replacer, space]) as string | undefined;
      // A string alone is written in one step too: checked at what its escapes make of it.
      if (typeof value === 'string' && value.length > SMALL && typeof replacer !== 'function') chargeChars(jsonStringChars(value));
      const plain = value === null || typeof value !== 'object' || chargeStringifyEstimate(run, value, gapOf(space));
      if (plain && typeof replacer !== 'function') out = apply(jsonStringify, JSONObject, [value, replacer, space]) as string | undefined;
      else out = stringifyMetered(run, value, replacer, space);
      if (typeof out === 'string') chargeChars(out.length);
      return out;
    },
  }));
}

/** The indentation JSON.stringify writes per level for `space` (at most 10 characters; an object, which it converts, counted at the most). */
function gapOf(space: unknown): number {
  if (typeof space === 'number') return space >= 10 ? 10 : space >= 1 ? space - (space % 1) : 0;
  if (typeof space === 'string') return space.length > 10 ? 10 : space.length;
  return space !== null && typeof space === 'object' ? 10 : 0;
}

/** A character JSON.stringify writes as an escape: a control character, `"`, `\\` or a surrogate. */
// oxlint-disable-next-line no-control-regex -- control characters are what it looks for
const JSON_ESCAPED = /[\u0000-\u001f"\\\ud800-\udfff]/;

/**
 * The characters JSON.stringify writes for `s`, quotes included. A control character is written as six
 * (`\u0001`): 3e7 of them (60 MB, within STANDARD's 64 MB) were estimated at 3e7 and written as 1.8e8 in
 * one native step, 360 MB of the vm host's heap before the charge that came after it.
 */
function jsonStringChars(s: string): number {
  let n = s.length + 2;
  if (apply(regexpExec, JSON_ESCAPED, [s]) === null) return n;
  for (let i = 0; i < s.length; i++) {
    const c = apply(stringCharCodeAt, s, [i]) as number;
    if (c === 0x22 || c === 0x5c || (c >= 8 && c <= 13 && c !== 11)) n += 1;
    else if (c < 0x20) n += 5;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = apply(stringCharCodeAt, s, [i + 1]) as number;
      if (d >= 0xdc00 && d <= 0xdfff) i++;
      else n += 5;
    } else if (c >= 0xd800 && c <= 0xdfff) n += 5;
  }
  return n;
}

/** Levels below which the estimate does not walk (its own recursion, and its ancestor scan, stay short). */
const ESTIMATE_DEPTH = 512;

/** Whether `o` has a `toJSON` JSON.stringify would call (a function, or a getter that may return one), own or inherited. */
function hasToJSON(o: object): boolean {
  for (let p: object | null = o; p !== null; p = gpo(p) as object | null) {
    const d = gopd(p, 'toJSON');
    if (d !== undefined) return !('value' in d) || typeof d.value === 'function';
  }
  return false;
}

/**
 * Estimates JSON.stringify's output before producing it: repeated references to one big value multiply,
 * and with indentation every line is as long as its depth. Returns false when the native would meet
 * values the walk cannot see (what a `toJSON` or a getter returns, or what lies past ESTIMATE_DEPTH):
 * a DAG of 2^22 references to a string of 1,000 characters behind one `toJSON`, or 600 levels down,
 * was expanded in one native step and aborted a 512 MB vm host (STANDARD, validated).
 */
function chargeStringifyEstimate(run: Run, value: object, gap: number): boolean {
  let size = 0;
  let plain = true;
  const seen: unknown[] = [];
  const walk = (v: any, depth: number) => {
    tick(run);
    // With indentation, a value starts a line of its depth, and a container ends on one.
    if (gap > 0) size += 1 + gap * depth;
    if (typeof v === 'string') size += jsonStringChars(v);
    else if (v === null || typeof v !== 'object') size += 8;
    else {
      if (depth > ESTIMATE_DEPTH || hasToJSON(v)) {
        plain = false;
        return;
      }
      for (let i = 0; i < seen.length; i++) if (seen[i] === v) return;
      apply(arrayPush, seen, [v]);
      if (gap > 0) size += 1 + gap * depth;
      if (isArray(v)) {
        const n = toLen(v.length);
        size += n;
        for (let i = 0; i < n; i++) {
          walk(v[i], depth + 1);
          if (!plain) return;
        }
      } else if (indexCount(v) > 0) {
        // A String object, which JSON writes as its string: listing its keys would make a string of
        // every index in one step (`JSON.stringify(Object('x'.repeat(1e7)))` held a vm host 17 s past a
        // 1 s deadline and grew it by 1.1 GB, PERMISSIVE and STANDARD, validated or not).
        size += indexCount(v) + 2;
      } else {
        const ks = objectKeys(v);
        for (let i = 0; i < ks.length; i++) {
          const k = ks[i] as string;
          size += jsonStringChars(k) + 2;
          const d = gopd(v, k);
          if (d !== undefined && 'value' in d) walk(d.value, depth + 1);
          else if (d !== undefined) plain = false;
          if (!plain) return;
        }
      }
      seen.length--;
    }
    if (size > run.maxChars) chargeChars(size);
  };
  walk(value, 0);
  return plain;
}

/**
 * The characters JSON.stringify writes for a value a replacer returned, past what it then visits itself
 * (the members of an object or an array, each handed to the replacer in turn): a string with its
 * escapes, raw JSON text (Node 22 and later) as long as it is, a number at its longest.
 */
function writtenChars(v: unknown): number {
  if (typeof v === 'string') return jsonStringChars(v);
  if (typeof v === 'number') return PRIMITIVE_CHARS;
  if (rawJSON(v)) {
    // A frozen object with a null prototype and its text as an own data property: read without a getter.
    const text = gopd(v, 'rawJSON')?.value;
    return typeof text === 'string' ? text.length : PRIMITIVE_CHARS;
  }
  return 8;
}

/** Whether `v` is raw JSON text (`JSON.rawJSON`, Node 22 and later), which JSON.stringify writes as it is. */
function rawJSON(v: unknown): v is object {
  return jsonIsRawJSON !== undefined && v !== null && typeof v === 'object' && (apply(jsonIsRawJSON, JSONObject, [v]) as boolean);
}

/**
 * JSON.stringify of a value the estimate could not see through, or with a replacer function: the native
 * is handed a replacer of the runtime's, which it calls for every value it is about to write (after
 * `toJSON`, once per occurrence), so what it writes is counted and charged as it goes, and the deadline
 * can stop it between two values. A replacer list becomes the same filter: an object is handed on as a
 * copy with the listed keys, in the list's order, read once each (as the native reads them).
 *
 * Each value is counted as written (see writtenChars), its key with its escapes, and with `space` the
 * line it starts, as deep as its holder is: the holders the native walks through are kept as a path
 * (it visits depth first, and a holder met again closes the ones opened after it).
 */
function stringifyMetered(run: Run, value: unknown, replacer: unknown, space: unknown): string | undefined {
  const fn = typeof replacer === 'function' ? (replacer as AnyFn) : null;
  const list = fn === null && isArray(replacer) ? propertyList(replacer) : null;
  const gap = gapOf(space);
  const path: unknown[] = [];
  let size = 0;
  const meter = function (this: unknown, key: string, v: unknown): unknown {
    tick(run);
    let out = fn === null ? v : apply(fn, this, [key, v]);
    // Raw JSON text is written as it is, list or not.
    if (list !== null && out !== null && typeof out === 'object' && !isArray(out) && !rawJSON(out)) {
      const o = out as Record<string, unknown>;
      const copy: Record<string, unknown> = {};
      for (let i = 0; i < list.length; i++) defineProperty(copy, list[i] as string, { value: o[list[i] as string], writable: true, enumerable: true, configurable: true });
      out = copy;
    }
    let depth = 0;
    if (gap > 0) {
      depth = path.length - 1;
      while (depth >= 0 && path[depth] !== this) depth--;
      if (depth < 0) depth = path.length;
      path.length = depth + 1;
      path[depth] = this;
    }
    // The key and its colon, a comma, the value; with `space`, its line and one that may close it.
    size += jsonStringChars(key) + 2 + writtenChars(out) + (gap > 0 ? 2 * (1 + gap * depth) : 0);
    if (size > run.maxChars) chargeChars(size);
    return out;
  };
  return apply(jsonStringify, JSONObject, [value, meter, space]) as string | undefined;
}

/** Whether `v` is a String or Number object (what a replacer list converts), read from its internal slot. */
function isWrapper(v: object): boolean {
  return hasSlot(stringValueOf, v) || hasSlot(numberValueOf, v);
}

/** Whether `valueOf` (a primordial that throws for a receiver of another kind) accepts `v`. */
function hasSlot(valueOf: AnyFn, v: object): boolean {
  try {
    apply(valueOf, v, []);
    return true;
  } catch {
    return false;
  }
}

/** A replacer list as JSON.stringify reads it: strings, numbers and their wrappers, converted once, without repeats. */
function propertyList(replacer: unknown[]): string[] {
  const out: string[] = [];
  const len = toLen(replacer.length);
  for (let i = 0; i < len; i++) {
    const v = replacer[i];
    let item: string | undefined;
    if (typeof v === 'string') item = v;
    else if (typeof v === 'number') item = StringCtor(v);
    else if (v !== null && typeof v === 'object' && isWrapper(v)) item = sortKey(v);
    if (item !== undefined && (apply(arrayIncludes, out, [item]) as boolean) === false) out[out.length] = item;
  }
  return out;
}

/** The longest array V8 allocates in full for `Array(n)` (2^25 elements, 256 MB); past it the array is sparse. */
const PREALLOCATED_MAX = 33_554_432;

/** The realm's `Array` as scripts see it (installArrayConstructor), once installed. */
let safeArray: unknown;

/**
 * `Array(n)` and `new Array(n)` preallocate n elements in one native step that no other wrapper sees: a
 * few of them in one expression outgrew the host's heap, and every way to call the constructor
 * (`Array.call`, `.apply`, `.bind`, a spread argument, an alias, `Reflect.construct`, a subclass) must
 * be charged. The global `Array` becomes a constructor that charges the length and then builds the
 * array with the intrinsic, for `new.target`'s prototype. `Array.prototype.constructor` stays the
 * intrinsic: changing it would turn off V8's species fast paths (map, filter, slice) in every context of
 * the process; a script that is not validated can reach it as `[].constructor`, uncharged.
 */
export function installArrayConstructor(): void {
  const NativeArray = ArrayCtor;
  const SafeArray = function Array(this: unknown, ...args: unknown[]): unknown {
    if (args.length === 1) chargeArrayLength(args[0]);
    return construct(NativeArray, args, new.target === undefined || new.target === SafeArray ? NativeArray : new.target);
  };
  safeArray = SafeArray;
  replaceConstructor(G, 'Array', NativeArray, SafeArray, false);
}

/**
 * Puts `Safe` where `holder[name]` had the constructor `Native`, with the native's statics as they are
 * now (its `prototype` too, so `instanceof` and subclasses work as before). With `protoConstructor`, the
 * prototype's `constructor` becomes `Safe` as well, so that nothing a script holds reaches the native.
 * `omit` names a static the replacement does not get.
 */
export function replaceConstructor(holder: object, name: string, Native: AnyFn, Safe: AnyFn, protoConstructor: boolean, omit?: string): void {
  const keys = ownKeys(Native);
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] === omit) continue;
    const d = gopd(Native, keys[i] as PropertyKey);
    if (d !== undefined) defineProperty(Safe, keys[i] as PropertyKey, d);
  }
  displace(Native);
  const proto = (Native as { prototype?: object }).prototype;
  if (protoConstructor && proto !== undefined) defineProperty(proto, 'constructor', { value: Safe, writable: true, enumerable: false, configurable: true });
  defineProperty(holder, name, { value: Safe, writable: true, enumerable: false, configurable: true });
}

/** Charges an array length V8 would preallocate; anything else is left to the constructor. */
function chargeArrayLength(n: unknown): void {
  if (typeof n === 'number' && n > 0 && n <= PREALLOCATED_MAX && n === n >>> 0) chargeElements(n);
}
