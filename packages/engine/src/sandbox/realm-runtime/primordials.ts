/**
 * Every intrinsic the realm runtime uses, captured when the runtime is evaluated: before lockdown wraps
 * or removes builtins, and before any script runs. The other runtime modules take built-ins only from
 * here (lint: no-restricted-globals and no-restricted-properties in .oxlintrc.json), so nothing a script
 * does to an object it owns (an own `push`, a getter named `then`) can reach the runtime's own logic.
 * Methods are called with `apply(method, receiver, args)`.
 *
 * This module is also evaluated in the host, by the host's copy of the codec: there it captures the
 * host's intrinsics.
 */

export const G = globalThis;
export const ObjectCtor = Object;
export const ArrayCtor = Array;
export const StringCtor = String;
export const BigIntCtor = BigInt;
export const DateCtor = Date;
export const RegExpCtor = RegExp;
export const MapCtor = Map;
export const SetCtor = Set;
export const WeakMapCtor = WeakMap;
export const WeakSetCtor = WeakSet;
export const PromiseCtor = Promise;
export const ErrorCtor = Error;
export const TypeErrorCtor = TypeError;
export const RangeErrorCtor = RangeError;
export const SyntaxErrorCtor = SyntaxError;
export const ReferenceErrorCtor = ReferenceError;
export const URIErrorCtor = URIError;
export const EvalErrorCtor = EvalError;
export const AggregateErrorCtor = AggregateError;
export const JSONObject = JSON;
export const MathObject = Math;
export const ReflectObject = Reflect;
export const RegExpStatics = RegExp as unknown as Record<string, unknown>;

export const { apply, construct, ownKeys, get: reflectGet, set: reflectSet, deleteProperty: reflectDelete, defineProperty: reflectDefine, getPrototypeOf: reflectGetPrototypeOf, setPrototypeOf: reflectSetPrototypeOf } = Reflect;
export const {
  defineProperty,
  getOwnPropertyDescriptor: gopd,
  getOwnPropertyNames: gopn,
  getPrototypeOf: gpo,
  freeze,
  isFrozen,
  keys: objectKeys,
  getOwnPropertySymbols: gopsyms,
  is: objectIs,
  create,
  defineProperties: nativeDefineProperties,
} = Object;
export const ObjectPrototype = Object.prototype;
export const ArrayPrototype = Array.prototype;
export const StringPrototype = String.prototype;
export const FunctionPrototype = Function.prototype;
export const PromisePrototype = Promise.prototype;
export const RegExpPrototype = RegExp.prototype;
export const ErrorPrototype = Error.prototype;
export const NumberPrototype = Number.prototype;
export const BigIntPrototype = BigInt.prototype;
export const DatePrototype = Date.prototype;
/**
 * The prototypes of the iterators whose `next` V8 guards with a protector each (array, Map, Set and
 * String iterators): a realm's iterators of those kinds are made with these.
 */
export const ArrayIteratorPrototype = Object.getPrototypeOf([][Symbol.iterator]()) as object;
export const MapIteratorPrototype = Object.getPrototypeOf(new Map()[Symbol.iterator]()) as object;
export const SetIteratorPrototype = Object.getPrototypeOf(new Set()[Symbol.iterator]()) as object;
export const StringIteratorPrototype = Object.getPrototypeOf(''[Symbol.iterator]()) as object;

export const isArray = Array.isArray;
export const arrayFrom = Array.from;
export const arrayPush = Array.prototype.push;
export const arrayShift = Array.prototype.shift;
export const arrayJoin = Array.prototype.join;
export const arrayIncludes = Array.prototype.includes;
export const arrayLastIndexOf = Array.prototype.lastIndexOf;
export const arrayValues = Array.prototype.values;
export const arraySlice = Array.prototype.slice;
export const stringSlice = String.prototype.slice;
export const stringIndexOf = String.prototype.indexOf;
export const stringEndsWith = String.prototype.endsWith;
export const stringCharCodeAt = String.prototype.charCodeAt;
export const stringRaw = String.raw;
export const fromCharCode = String.fromCharCode;
export const numberIsFinite = Number.isFinite;
export const jsonParse = JSON.parse;
export const jsonStringify = JSON.stringify;
/** Node 22 and later: whether a value is raw JSON text (`JSON.rawJSON`), which JSON.stringify writes as it is. */
export const jsonIsRawJSON = (JSON as { isRawJSON?: (v: unknown) => boolean }).isRawJSON;
export const promiseThen = Promise.prototype.then;
/** Node 22 and later: makes a promise and its resolving functions without calling an executor. */
export const promiseWithResolvers = (Promise as { withResolvers?: () => { promise: Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void } }).withResolvers;
export const functionBind = Function.prototype.bind;
/** V8's own (not in the ES library). */
export const captureStackTrace = (Error as unknown as { captureStackTrace: (target: object) => void }).captureStackTrace;
export const mapGet = Map.prototype.get;
export const mapSet = Map.prototype.set;
export const mapDelete = Map.prototype.delete;
export const mapForEach = Map.prototype.forEach;
export const setAdd = Set.prototype.add;
export const setHas = Set.prototype.has;
export const setDelete = Set.prototype.delete;
export const setForEach = Set.prototype.forEach;
export const weakMapGet = WeakMap.prototype.get;
export const weakMapSet = WeakMap.prototype.set;
export const weakSetAdd = WeakSet.prototype.add;
export const weakSetHas = WeakSet.prototype.has;
export const dateGetTime = Date.prototype.getTime;
export const dateToISOString = Date.prototype.toISOString;
export const dateToString = Date.prototype.toString;
export const dateNow = Date.now;
export const mathRandom = Math.random;
export const mathImul = Math.imul;
export const regexpToString = RegExp.prototype.toString;
/** The intrinsic `Function.prototype.toString`, before lockdown replaces it (see sources.ts). */
export const functionToString = Function.prototype.toString;
export const regexpExec = RegExp.prototype.exec;
/** RegExp.prototype.source's getter: throws for anything without a RegExp's internal slots (a proxy too) but RegExp.prototype. */
export const regexpSourceGetter = (Object.getOwnPropertyDescriptor(RegExp.prototype, 'source') as PropertyDescriptor).get as (this: unknown) => string;
export const stringValueOf = String.prototype.valueOf;
/** thisBigIntValue: a BigInt, or the BigInt in a BigInt object; throws for anything else. */
export const bigIntValueOf = BigInt.prototype.valueOf;
export const bigIntAsUintN = BigInt.asUintN;
/** OrdinaryToPrimitive with a hint, on any object (`Date.prototype[Symbol.toPrimitive]` only checks that `this` is one). */
export const ordinaryToPrimitive = Date.prototype[Symbol.toPrimitive] as (this: object, hint: string) => unknown;
export const numberValueOf = Number.prototype.valueOf;
export const isView = ArrayBuffer.isView;
/** %TypedArray%.prototype.length: throws for anything but a typed array. */
export const typedArrayLengthGetter = (Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Int8Array.prototype) as object, 'length') as PropertyDescriptor).get as (this: unknown) => number;
export const mapSize = (Object.getOwnPropertyDescriptor(Map.prototype, 'size') as PropertyDescriptor).get as (this: Map<unknown, unknown>) => number;
export const setSize = (Object.getOwnPropertyDescriptor(Set.prototype, 'size') as PropertyDescriptor).get as (this: Set<unknown>) => number;

export const SymbolCtor = Symbol;
export const symbolIterator: typeof Symbol.iterator = Symbol.iterator;
export const symbolSpecies: typeof Symbol.species = Symbol.species;
export const symbolAsyncIterator: typeof Symbol.asyncIterator = Symbol.asyncIterator;
/** Node 24 and later (explicit resource management); undefined before. */
export const symbolAsyncDispose: symbol | undefined = (Symbol as { asyncDispose?: symbol }).asyncDispose;
export const symbolIsConcatSpreadable: typeof Symbol.isConcatSpreadable = Symbol.isConcatSpreadable;
export const symbolMatch: typeof Symbol.match = Symbol.match;
export const symbolMatchAll: typeof Symbol.matchAll = Symbol.matchAll;
export const symbolSplit: typeof Symbol.split = Symbol.split;
export const symbolReplace: typeof Symbol.replace = Symbol.replace;
export const symbolToPrimitive: typeof Symbol.toPrimitive = Symbol.toPrimitive;
export const symbolSearch: typeof Symbol.search = Symbol.search;

/** Builtins that not every Node version has, or that only some levels keep. */
export const IteratorCtor: { from?: (it: unknown) => unknown } | undefined = typeof (globalThis as { Iterator?: unknown }).Iterator === 'function' ? (globalThis as unknown as { Iterator: { from?: (it: unknown) => unknown } }).Iterator : undefined;
export const Int8ArrayCtor = Int8Array;
export const ProxyCtor = Proxy;
export const IntlObject = typeof Intl === 'object' ? Intl : undefined;
/** `Intl.DateTimeFormat.prototype`: its `format` and `formatToParts` read the clock when given no date. */
export const DateTimeFormatPrototype: object | undefined = IntlObject?.DateTimeFormat.prototype;
/** `Intl.Locale.prototype.toString`: the tag of an `Intl.Locale`, read from its internal slot; throws for anything else. */
export const localeToString: ((this: unknown) => string) | undefined = IntlObject?.Locale?.prototype.toString;
