/**
 * What ICU is handed besides the text: locale lists, language tags, option strings and the items of a
 * list to format. V8 passes each to ICU in one native step that ignores termination, and some of that
 * work grows faster than its input: a locale list is deduplicated pairwise (`'a'.localeCompare('b',
 * tags)` with 1e5 distinct tags blocked the host 13 s past a 1 s deadline, at STANDARD, validated), a
 * language tag or a `numberingSystem` of a million characters took seconds to a minute to parse, and
 * `Intl.ListFormat`'s `formatToParts` of 2e6 items ran 9 s and made 8e6 objects in one step (a 512 MB
 * host aborted out of memory). So every builtin that takes them bounds them first: at most MAX_LOCALES
 * locales, tags and option strings of at most MAX_TAG characters, and lists of at most MAX_LIST_ITEMS
 * items (and MAX_LIST_CHARS characters), charged before they are formatted.
 *
 * Each bound reads what the native would read, once, and hands the native what it checked: a copy of a
 * locale list, a proxy over an options object whose `get` checks the value the native is about to use.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the wrappers keep the builtins' loose signatures */
import { BIG_STRING } from '../realm-abi.js';
import { chargeCharWork, chargeChars, chargeElements } from './budgets.js';
import { checkIcu, counted, each, replaceConstructor, sortKey, toLen, wrap, wrapHandedOut } from './builtins.js';
import {
  BigIntCtor,
  BigIntPrototype,
  DatePrototype,
  IntlObject,
  NumberPrototype,
  ProxyCtor,
  RangeErrorCtor,
  StringCtor,
  StringPrototype,
  TypeErrorCtor,
  apply,
  bigIntValueOf,
  construct,
  gopd,
  isArray,
  localeToString,
  ordinaryToPrimitive,
  reflectGet,
  symbolIterator,
  symbolToPrimitive,
} from './primordials.js';

type AnyFn = (...args: any[]) => any;

/** Locales in one list: BCP 47 negotiation needs a handful. */
const MAX_LOCALES = 32;
/** Characters of one language tag or option string (ICU's own buffers hold 157). */
const MAX_TAG = 256;
/** Items of one list handed to `Intl.ListFormat`, and their characters. */
const MAX_LIST_ITEMS = 16_384;
const MAX_LIST_CHARS = 1 << 20;

const refuse = (what: string, n: number, max: number, unit: string): RangeError =>
  new RangeErrorCtor(`${what} of ${n} ${unit} is not available in AgentScript: at most ${max} (ICU reads it in one step that cannot be interrupted).`);

/** The tag of an `Intl.Locale` (read from its internal slot, as the native reads it), or undefined. */
function localeTag(v: unknown): string | undefined {
  if (localeToString === undefined || v === null || typeof v !== 'object') return undefined;
  try {
    return apply(localeToString, v, []) as string;
  } catch {
    return undefined;
  }
}

/**
 * A language tag as the native takes it: a string, or an `Intl.Locale` (its tag is read, the locale is
 * handed on); another object is converted here, once, as the native would convert it. Anything else goes
 * through for the native's own TypeError.
 */
function boundTag(v: unknown, what: string): unknown {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'string')) return v;
  const tag = localeTag(v);
  const s = tag ?? (typeof v === 'string' ? v : StringCtor(v));
  if (s.length > MAX_TAG) throw refuse(what, s.length, MAX_TAG, 'characters');
  return tag === undefined ? s : v;
}

/** A string argument as the native converts it (an object once, here), at most `max` characters. */
function boundString(v: unknown, what: string, max: number): unknown {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'string')) return v;
  const s = typeof v === 'string' ? v : StringCtor(v);
  if (s.length > max) throw refuse(what, s.length, max, 'characters');
  return s;
}

/**
 * A `locales` argument: undefined, a tag or an `Intl.Locale` as they are; a list (any object, as the
 * native's ToObject makes it) copied once, holes skipped as the native skips them, into an array of at
 * most MAX_LOCALES bounded tags.
 */
export function boundLocales(locales: unknown): unknown {
  if (locales === null || (typeof locales !== 'object' && typeof locales !== 'function')) return typeof locales === 'string' ? boundTag(locales, 'A language tag') : locales;
  if (localeTag(locales) !== undefined) return boundTag(locales, 'A language tag');
  const list = locales as ArrayLike<unknown>;
  const len = toLen(list.length);
  if (len > MAX_LOCALES) throw refuse('A list', len, MAX_LOCALES, 'locales');
  const out: unknown[] = [];
  for (let k = 0; k < len; k++) if (k in list) out[out.length] = boundTag(list[k], 'A language tag');
  return out;
}

/**
 * An `options` argument: an object becomes a proxy whose `get` hands the native each value it reads,
 * after checking it (a getter runs once, as it would natively, with the script's object as `this`).
 * Strings are bounded; an object, whose conversion the native would run after the check, is refused.
 */
export function boundOptions(options: unknown): unknown {
  if (options === null || (typeof options !== 'object' && typeof options !== 'function')) return options;
  const target = options as object;
  const proxy: object = new ProxyCtor(target, {
    get(t: object, key: PropertyKey, receiver: unknown) {
      const v = apply(reflectGet, undefined, [t, key, receiver === proxy ? t : receiver]) as unknown;
      if (typeof v === 'string' && v.length > MAX_TAG) throw refuse(`The option ${StringCtor(key as string)}`, v.length, MAX_TAG, 'characters');
      if (v !== null && (typeof v === 'object' || typeof v === 'function')) throw new TypeErrorCtor(`The option ${StringCtor(key as string)} must be a string, a number or a boolean in AgentScript.`);
      return v;
    },
  });
  return proxy;
}

/**
 * `fn(locales?, options?)` with its locales at `at` and its options (if any) after them; `check` sees the
 * receiver first (it throws what the native would throw for it, before any argument is read).
 */
function wrapLocales(obj: object | undefined, key: string, at: number, options: boolean, check?: (self: unknown) => void): void {
  if (obj === undefined) return;
  wrap(obj, key, (orig) => ({
    [key](this: unknown, ...args: unknown[]) {
      if (check !== undefined) check(this);
      if (args.length > at) args[at] = boundLocales(args[at]);
      if (options && args.length > at + 1) args[at + 1] = boundOptions(args[at + 1]);
      return apply(orig, this, args);
    },
  }));
}

/**
 * An Intl constructor whose locales and options are bounded, however it is called (`new`, a subclass,
 * or without `new` where the native allows it). It shares the native's prototype, whose `constructor`
 * becomes this one, so the native is reached from nothing a script holds.
 */
function wrapIntlConstructor(intl: Record<string, unknown>, name: string): void {
  const Native = intl[name] as AnyFn | undefined;
  if (typeof Native !== 'function') return;
  const locale = name === 'Locale';
  const Safe = function (this: unknown, ...args: unknown[]): unknown {
    if (args.length > 0) args[0] = locale ? boundTag(args[0], 'A language tag') : boundLocales(args[0]);
    if (args.length > 1) args[1] = boundOptions(args[1]);
    if (new.target === undefined) return apply(Native, this, args);
    return construct(Native, args, new.target === Safe ? Native : new.target);
  };
  replaceConstructor(intl, name, Native, Safe, true);
  wrapLocales(Safe, 'supportedLocalesOf', 0, true);
}

/**
 * The list `Intl.ListFormat` formats (`orig` on `self`), read once (an iterable's steps counted), bounded
 * and charged.
 */
function boundList(orig: AnyFn, self: unknown, items: unknown, parts: boolean): unknown[] {
  const out: unknown[] = [];
  if (items === undefined) return out;
  if (isArray(items) && items.length > MAX_LIST_ITEMS) throw refuse('A list', items.length, MAX_LIST_ITEMS, 'items');
  let chars = 0;
  // iterates the script's own iterable, within its budget
  for (const v of counted(items as Iterable<unknown>)) {
    // The native's own TypeError for an item that is not a string (thrown here, it closes the iterator).
    if (typeof v !== 'string') apply(orig, self, [[v]]);
    const s = v as string;
    chars += s.length;
    if (out.length >= MAX_LIST_ITEMS) throw refuse('A list', out.length + 1, MAX_LIST_ITEMS, 'items');
    if (chars > MAX_LIST_CHARS) throw refuse('A list', chars, MAX_LIST_CHARS, 'characters');
    out[out.length] = s;
  }
  // The output holds every item and a separator between two; formatToParts makes two objects per item.
  chargeChars(chars + out.length * 8);
  if (parts) chargeElements(out.length * 16);
  return out;
}

/**
 * Digits of a number ICU formats, a BigInt or a numeric string: ICU formats it in one step that ignores
 * termination, and a BigInt's cost grows faster than its digits (16,384 take about 20 ms; `formatToParts`
 * of 1e6 took 2.4 s, `toLocaleString` 0.7 s, reachable at every level without Intl). A numeric string's
 * characters are bounded alike (ICU parses each, and formats as many digits as it keeps).
 */
const MAX_DIGITS = 16_384;
/**
 * 2^54426 is below 10^MAX_DIGITS (10^16383.86): a BigInt below it in magnitude has fewer digits. Made with
 * its negative when a BigInt is first formatted (7 KB, which every realm held otherwise); the negative
 * once, not a new 7 KB BigInt at every check.
 */
let fewerDigits: bigint | undefined;
let fewerDigitsNegative: bigint | undefined;
/**
 * 10^MAX_DIGITS, made when a BigInt of about that size first comes: computing it took about 2 M
 * instructions of every realm's install (a tenth of it), for scripts that mostly never format one.
 */
let digitsLimit: bigint | undefined;

/** A BigInt ICU may format: compared with 10^MAX_DIGITS, which costs a pass over its words, not a conversion. */
function boundBigInt(v: bigint): void {
  if (fewerDigits === undefined || fewerDigitsNegative === undefined) {
    const bound = BigIntCtor(1) << BigIntCtor(54_426);
    fewerDigitsNegative = -bound;
    fewerDigits = bound;
  }
  if (v < fewerDigits && v > fewerDigitsNegative) return;
  digitsLimit ??= BigIntCtor(10) ** BigIntCtor(MAX_DIGITS);
  if (v >= digitsLimit || v <= -digitsLimit) {
    throw new RangeErrorCtor(`A number of more than ${MAX_DIGITS} digits is not available in AgentScript: ICU formats it in one step that cannot be interrupted.`);
  }
}

/** What `valueOf` (a primordial that checks its receiver) reads from `self`, or undefined where the native would throw its own TypeError. */
function thisValue(valueOf: AnyFn, self: unknown): unknown {
  try {
    return apply(valueOf, self, []);
  } catch {
    return undefined;
  }
}

/** ToPrimitive with the number hint, as the native converts an object it formats: once, here. */
function toPrimitiveNumber(o: object): unknown {
  const exotic = (o as Record<symbol, unknown>)[symbolToPrimitive];
  if (exotic === undefined || exotic === null) return apply(ordinaryToPrimitive, o, ['number']);
  const r = apply(exotic as AnyFn, o, ['number']) as unknown;
  if (r !== null && (typeof r === 'object' || typeof r === 'function')) throw new TypeErrorCtor('Cannot convert object to primitive value');
  return r;
}

/**
 * A value `Intl.NumberFormat` formats (ToIntlMathematicalValue): an object becomes its primitive, a
 * BigInt or a numeric string is bounded (see MAX_DIGITS). What else the native converts itself
 * (numbers, booleans, a symbol's TypeError) goes on as it is.
 */
function boundNumber(v: unknown): unknown {
  const p = v !== null && (typeof v === 'object' || typeof v === 'function') ? toPrimitiveNumber(v) : v;
  if (typeof p === 'bigint') boundBigInt(p);
  else if (typeof p === 'string' && p.length > MAX_DIGITS) throw refuse('A numeric string', p.length, MAX_DIGITS, 'characters');
  return p;
}

/**
 * `Intl.NumberFormat`'s formatting methods, with the values bounded (see boundNumber) after the native's
 * own receiver check: the `format` accessor hands out one function per formatter, the others are methods.
 */
function wrapNumberFormat(proto: object | undefined): void {
  const brand = proto === undefined ? undefined : gopd(proto, 'format')?.get;
  if (proto === undefined || brand === undefined) return;
  // Whether `self` is a formatter: the native getter throws for anything else (the native method then
  // throws its own TypeError, before it reads any argument).
  const formatter = (self: unknown): boolean => thisValue(brand, self) !== undefined;
  wrapHandedOut(proto, 'format', (native) => ({ format(value: unknown) { return apply(native, undefined, [boundNumber(value)]) as string; } }).format);
  wrap(proto, 'formatToParts', (orig) => ({
    formatToParts(this: unknown, value: unknown) {
      return apply(orig, this, [formatter(this) ? boundNumber(value) : value]);
    },
  }));
  each(['formatRange', 'formatRangeToParts'], (key) => {
    wrap(proto, key, (orig) => ({
      [key](this: unknown, start: unknown, end: unknown) {
        // Either end undefined is the native's TypeError, before either is converted.
        if (!formatter(this) || start === undefined || end === undefined) return apply(orig, this, [start, end]);
        const x = boundNumber(start);
        return apply(orig, this, [x, boundNumber(end)]);
      },
    }));
  });
}

/** Bounds every builtin that hands ICU locales, options or lists. Runs once, at install, before lockdown. */
export function wrapLocaleBuiltins(intl: boolean): void {
  // The receiver and the other string are converted first, as the native converts them; ICU then gets
  // at most MAX_ICU_CHARS of text (see checkIcu) and bounded locales.
  wrap(StringPrototype, 'localeCompare', (orig) => ({
    localeCompare(this: unknown, that: unknown, locales: unknown, options: unknown) {
      if (this === null || this === undefined) return apply(orig, this, [that, locales, options]);
      const str = sortKey(this);
      const other = sortKey(that);
      checkIcu('localeCompare', str.length + other.length);
      chargeCharWork(str.length + other.length);
      return apply(orig, str, [other, boundLocales(locales), boundOptions(options)]);
    },
  }));
  each(['toLocaleUpperCase', 'toLocaleLowerCase'], (key) => {
    wrap(StringPrototype, key, (orig) => ({
      [key](this: unknown, locales: unknown) {
        if (this === null || this === undefined) return apply(orig, this, [locales]);
        const str = sortKey(this);
        if (str.length > BIG_STRING) chargeChars(str.length * 3);
        checkIcu(key, str.length);
        chargeCharWork(str.length);
        return apply(orig, str, [boundLocales(locales)]);
      },
    }));
  });
  wrapLocales(NumberPrototype, 'toLocaleString', 0, true);
  wrapLocales(BigIntPrototype, 'toLocaleString', 0, true, (self) => {
    const v = thisValue(bigIntValueOf, self);
    if (typeof v === 'bigint') boundBigInt(v);
  });
  wrapLocales(DatePrototype, 'toLocaleString', 0, true);
  wrapLocales(DatePrototype, 'toLocaleDateString', 0, true);
  wrapLocales(DatePrototype, 'toLocaleTimeString', 0, true);
  const namespace = IntlObject as unknown as Record<string, unknown> | undefined;
  if (!intl || namespace === undefined) return;
  wrapLocales(namespace, 'getCanonicalLocales', 0, false);
  const ctors = ['Collator', 'DateTimeFormat', 'NumberFormat', 'PluralRules', 'RelativeTimeFormat', 'ListFormat', 'DisplayNames', 'Segmenter', 'DurationFormat', 'Locale'];
  for (let i = 0; i < ctors.length; i++) wrapIntlConstructor(namespace, ctors[i] as string);
  wrapNumberFormat((namespace.NumberFormat as { prototype?: object } | undefined)?.prototype);
  // Short strings ICU parses or looks up in one step: a unit of 5e7 characters took 1.7 s.
  wrap(namespace, 'supportedValuesOf', (orig) => ({ supportedValuesOf(key: unknown) { return apply(orig, namespace, [boundString(key, 'A key', MAX_TAG)]); } }));
  const relativeTime = (namespace.RelativeTimeFormat as { prototype?: object } | undefined)?.prototype;
  if (relativeTime !== undefined) {
    each(['format', 'formatToParts'], (key) => {
      wrap(relativeTime, key, (orig) => ({
        // As the native: the value is converted to a number before the unit to a string.
        [key](this: unknown, value: unknown, unit: unknown) { return apply(orig, this, [+(value as number), boundString(unit, 'A unit', MAX_TAG)]); },
      }));
    });
  }
  // A segment is found in one ICU step that reads all of it (a word of 5e7 letters took 3 s), and one
  // grapheme may be a letter followed by any number of combining marks: the text is capped as the
  // other ICU calls cap theirs.
  const segmenter = (namespace.Segmenter as { prototype?: object } | undefined)?.prototype;
  if (segmenter !== undefined) {
    wrap(segmenter, 'segment', (orig) => ({
      segment(this: unknown, text: unknown) {
        const str = sortKey(text);
        checkIcu('Intl.Segmenter segment', str.length);
        return apply(orig, this, [str]);
      },
    }));
  }
  const displayNames = (namespace.DisplayNames as { prototype?: object } | undefined)?.prototype;
  if (displayNames !== undefined) {
    wrap(displayNames, 'of', (orig) => ({ of(this: unknown, code: unknown) { return apply(orig, this, [boundTag(code, 'A code')]); } }));
  }
  const listFormat = (namespace.ListFormat as { prototype?: object } | undefined)?.prototype;
  if (listFormat !== undefined) {
    each(['format', 'formatToParts'], (key) => {
      wrap(listFormat, key, (orig) => ({
        [key](this: unknown, list: unknown) {
          // What is not iterable gets the native's own TypeError, before any work.
          if (list !== undefined && (list === null || typeof (list as Record<symbol, unknown>)[symbolIterator] !== 'function')) return apply(orig, this, [list]);
          return apply(orig, this, [boundList(orig, this, list, key === 'formatToParts')]);
        },
      }));
    });
  }
}
