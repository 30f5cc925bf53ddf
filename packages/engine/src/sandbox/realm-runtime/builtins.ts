/**
 * Builtins that allocate in bulk, or walk a length in one uninterruptible native step, are wrapped so
 * that what they will build is charged before they build it. A native call that builds a gigabyte
 * string or walks an array of length 2^32-1 cannot be stopped half-way (some of V8's C++ loops ignore
 * termination), so the check has to come first.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the wrappers keep the builtins' own loose signatures */
import { BIG_STRING } from '../realm-abi.js';
import type { Run } from './budgets.js';
import { chargeChars, chargeElements, current, tick } from './budgets.js';
import { displace } from './displaced.js';
import {
  ArrayCtor,
  ArrayPrototype,
  FunctionPrototype,
  G,
  JSONObject,
  ObjectCtor,
  RangeErrorCtor,
  ReflectObject,
  RegExpPrototype,
  StringCtor,
  StringPrototype,
  TypeErrorCtor,
  apply,
  arrayFrom,
  construct,
  arrayIncludes,
  arrayPush,
  defineProperty,
  fromCharCode,
  gopd,
  isArray,
  jsonParse,
  jsonStringify,
  objectKeys,
  stringIndexOf,
  stringRaw,
  symbolIsConcatSpreadable,
  symbolIterator,
  symbolMatch,
  symbolMatchAll,
  symbolReplace,
  symbolSplit,
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

function toLen(v: unknown): number {
  const n = +(v as number);
  return n > 0 ? (n === Infinity ? Infinity : n - (n % 1)) : 0;
}

/** Below this length an array is used in place by the walking methods without any check. */
const SMALL = BIG_STRING;

/**
 * The receiver a native array method may use. A real array's length is managed by the engine (no
 * script code runs when it is read; proxies of arrays do not exist, see lockdown), so it is checked in
 * place. Anything else (an array-like, a string) could report one length to the check and another to
 * the native, so read-only methods run on a bounded snapshot and mutating ones are refused.
 */
export function receiver(self: any, mutating: boolean): any {
  if (isArray(self)) {
    const len = self.length;
    if (len > SMALL) chargeElements(len);
    return self;
  }
  if (mutating) throw new TypeErrorCtor('This array method is not available on array-like objects in AgentScript; copy it with Array.from(x) first.');
  const len = toLen(self.length);
  if (len > SMALL) chargeElements(len);
  const copy: unknown[] = [];
  copy.length = len;
  for (let i = 0; i < len; i++) if (i in self) copy[i] = self[i];
  return copy;
}

/** An iterable whose every step is counted: bounds spreads and Array.from over script iterators. */
export function counted(iterable: Iterable<unknown>): Iterable<unknown> {
  const run = current;
  return {
    *[symbolIterator]() {
      let n = 0;
      // iterates the script's own iterable, within its budget
      for (const v of iterable) {
        n++;
        if (run !== null && n > run.maxElements) chargeElements(n);
        tick(run);
        yield v;
      }
    },
  };
}

function replacementBound(s: string, replacement: unknown): number {
  if (typeof replacement !== 'string') return s.length;
  const quadratic = apply(stringIndexOf, replacement, [`$${fromCharCode(96)}`]) !== -1 || apply(stringIndexOf, replacement, ["$'"]) !== -1;
  return s.length + (s.length + 1) * replacement.length * (quadratic ? s.length + 1 : 1);
}

function wrapReplacer(fn: unknown): unknown {
  if (typeof fn !== 'function') return fn;
  let total = 0;
  return function (...args: unknown[]) {
    const r = StringCtor(apply(fn as AnyFn, undefined, args));
    total += r.length;
    chargeChars(total);
    return r;
  };
}

/**
 * Output of a string replacement, charged before it is built: exact for string patterns (occurrences
 * counted first), pessimistic for regex patterns (every position may match). One native call builds the
 * whole output, so a post-check would come after the host heap was already spent.
 */
function chargeReplacement(str: string, pattern: unknown, r: string, all: boolean): void {
  if (current === null) return;
  let bound = replacementBound(str, r);
  if (bound <= SMALL) return;
  if (typeof pattern === 'string') {
    let count = 0;
    if (pattern.length > 0) {
      for (let i = apply(stringIndexOf, str, [pattern]) as number; i !== -1; i = apply(stringIndexOf, str, [pattern, i + pattern.length]) as number) {
        count++;
        if (!all) break;
      }
    } else count = all ? str.length + 1 : 1;
    bound = str.length + count * (r.length + pattern.length);
  }
  chargeChars(bound);
}

/** Maximum expansion of Unicode normalization per form. */
const NORMALIZE_EXPANSION: Readonly<Record<string, number>> = { NFC: 3, NFD: 4, NFKC: 18, NFKD: 18 };
/** Arguments lists are built in one uninterruptible step from an array-like of any length. */
const MAX_ARGUMENTS = 65_536;

function checkArgs(args: any): void {
  if (args === null || args === undefined) return;
  const len = toLen(args.length);
  if (len > MAX_ARGUMENTS) throw new RangeErrorCtor(`Too many arguments (${len}): AgentScript allows at most ${MAX_ARGUMENTS} in one call.`);
}

/** Calls `fn` for each item of a runtime-owned array, without the array iterator (see host.ts). */
function each<T>(items: readonly T[], fn: (item: T) => void): void {
  for (let i = 0; i < items.length; i++) fn(items[i] as T);
}

/** Object helpers copy every index of a string or array source. */
const sourceLength = (v: unknown): number => (typeof v === 'string' || isArray(v) ? v.length : 0);

/** Wraps every bulk builtin of the realm. Runs once, at install, before lockdown freezes them. */
export function wrapBulkBuiltins(): void {
  const SP = StringPrototype;
  const AP = ArrayPrototype;
  const S = StringCtor;

  wrap(SP, 'repeat', (orig) => ({ repeat(this: unknown, count: unknown) { const s = S(this); chargeChars(s.length * toLen(count)); return apply(orig, s, [count]); } }));
  wrap(SP, 'padStart', (orig) => ({ padStart(this: unknown, n: unknown, f: unknown) { chargeChars(toLen(n)); return apply(orig, this, [n, f]); } }));
  wrap(SP, 'padEnd', (orig) => ({ padEnd(this: unknown, n: unknown, f: unknown) { chargeChars(toLen(n)); return apply(orig, this, [n, f]); } }));
  wrap(SP, 'concat', (orig) => ({
    concat(this: unknown, ...parts: unknown[]) {
      let n = S(this).length;
      for (let i = 0; i < parts.length; i++) {
        const part = S(parts[i]);
        parts[i] = part;
        n += part.length;
      }
      chargeChars(n);
      return apply(orig, this, parts);
    },
  }));
  each(['replace', 'replaceAll'] as const, (key) => {
    wrap(SP, key, (orig) => ({
      [key](this: unknown, pattern: unknown, replacement: unknown) {
        const s = S(this);
        if (typeof replacement === 'function') return apply(orig, s, [pattern, wrapReplacer(replacement)]);
        const r = S(replacement);
        chargeReplacement(s, pattern, r, key === 'replaceAll');
        return apply(orig, s, [pattern, r]);
      },
    }));
  });
  wrap(SP, 'split', (orig) => ({
    split(this: unknown, sep: unknown, limit: unknown) {
      const s = S(this);
      if (typeof sep === 'string' && sep !== '') chargeElements(s.length / sep.length + 1);
      else chargeElements(s.length);
      return apply(orig, s, [sep, limit]);
    },
  }));
  wrap(AP, 'join', (orig) => ({
    join(this: unknown, sep: unknown) {
      const run = current;
      tick(run);
      if (run === null) return apply(orig, this, [sep]);
      const self = receiver(this, false);
      const len = toLen(self.length);
      const sepLen = sep === undefined ? 1 : S(sep).length;
      chargeChars(len > 0 ? (len - 1) * sepLen : 0);
      const out = apply(orig, self, [sep]) as string;
      chargeChars(out.length);
      return out;
    },
  }));
  wrap(AP, 'fill', (orig) => ({ fill(this: unknown, value: unknown, start: unknown, end: unknown) { const self = receiver(this, true); chargeElements(self.length); return apply(orig, self, [value, start, end]); } }));
  wrap(AP, 'concat', (orig) => ({
    concat(this: unknown, ...items: unknown[]) {
      const self = receiver(this, false);
      let n = self.length as number;
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        if (isArray(it)) n += it.length;
        else if (it !== null && typeof it === 'object' && (it as Record<symbol, unknown>)[symbolIsConcatSpreadable]) {
          throw new TypeErrorCtor('concat of spreadable array-likes is not available in AgentScript; copy them with Array.from(x) first.');
        } else n += 1;
      }
      chargeElements(n);
      return apply(orig, self, items);
    },
  }));
  each(['toSorted', 'toReversed', 'toSpliced', 'with', 'keys', 'values', 'entries'] as const, (key) => {
    wrap(AP, key, (orig) => ({ [key](this: unknown, ...args: unknown[]) { const self = receiver(this, false); chargeElements(self.length); return apply(orig, self, args); } }));
  });
  // Array methods that walk 0..length. On a sparse array or an array-like with a huge length, V8 runs
  // some of them as C++ loops that do not honour termination, so not even the watchdog stops them: they
  // refuse lengths past the run's element budget, and large inputs trigger a heap check (copies such as
  // slice or map in a short loop can outgrow the heap between checkpoints).
  const MUTATING = ['copyWithin', 'reverse', 'shift', 'sort', 'splice', 'unshift'];
  each(['copyWithin', 'every', 'filter', 'find', 'findIndex', 'findLast', 'findLastIndex', 'flatMap', 'forEach', 'includes',
    'indexOf', 'lastIndexOf', 'map', 'reduce', 'reduceRight', 'reverse', 'shift', 'slice', 'some', 'sort', 'splice', 'toLocaleString', 'unshift'] as const, (key) => {
    const mutating = apply(arrayIncludes, MUTATING, [key]) as boolean;
    wrap(AP, key, (orig) => ({ [key](this: unknown, ...args: unknown[]) { return apply(orig, isArray(this) && this.length <= SMALL ? this : receiver(this, mutating), args); } }));
  });
  // String methods that copy (or flatten) their receiver: a large receiver triggers a heap check.
  each(['trim', 'trimStart', 'trimEnd', 'indexOf', 'lastIndexOf', 'includes', 'startsWith', 'endsWith', 'localeCompare', 'toWellFormed', 'isWellFormed',
    'at', 'charAt', 'charCodeAt', 'codePointAt', 'slice', 'substring', 'substr'] as const, (key) => {
    wrap(SP, key, (orig) => ({
      [key](this: unknown, ...args: unknown[]) {
        if (typeof this === 'string' && this.length <= SMALL) return apply(orig, this, args);
        const str = S(this);
        if (str.length > SMALL) chargeChars(str.length);
        return apply(orig, str, args);
      },
    }));
  });
  wrap(S, 'raw', () => ({
    raw(template: { raw: unknown }, ...subs: unknown[]) {
      // The raw strings are read once, into a bounded copy, so a getter cannot change their count.
      const raw = receiver(template.raw, false);
      chargeElements(raw.length);
      const args: unknown[] = [{ raw }];
      for (let i = 0; i < subs.length; i++) args[i + 1] = subs[i];
      return apply(stringRaw, S, args);
    },
  }));
  each(['keys', 'values', 'entries', 'getOwnPropertyNames'] as const, (key) => {
    wrap(ObjectCtor, key, (orig) => ({ [key](o: unknown) { const n = sourceLength(o); if (n > SMALL) chargeElements(n); return apply(orig, ObjectCtor, [o]); } }));
  });
  wrap(ObjectCtor, 'assign', (orig) => ({
    assign(target: unknown, ...sources: unknown[]) {
      let n = 0;
      for (let i = 0; i < sources.length; i++) n += sourceLength(sources[i]);
      if (n > SMALL) chargeElements(n);
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
      return apply(jsonParse, JSONObject, reviver === undefined ? [t] : [t, reviver]);
    },
  }));
  wrap(SP, 'normalize', (orig) => ({
    normalize(this: unknown, form: unknown) {
      const str = S(this);
      const f = form === undefined ? 'NFC' : S(form);
      if (str.length > 4096) chargeChars(str.length * (NORMALIZE_EXPANSION[f] || 18));
      return apply(orig, str, form === undefined ? [] : [form]);
    },
  }));
  each(['toUpperCase', 'toLowerCase', 'toLocaleUpperCase', 'toLocaleLowerCase'] as const, (key) => {
    wrap(SP, key, (orig) => ({ [key](this: unknown, ...args: unknown[]) { const str = S(this); if (str.length > SMALL) chargeChars(str.length * 3); return apply(orig, str, args); } }));
  });
  const globals = G as unknown as Record<string, unknown>;
  each(['encodeURIComponent', 'encodeURI', 'decodeURIComponent', 'decodeURI'] as const, (key) => {
    const orig = globals[key];
    if (typeof orig !== 'function') return;
    const factor = key[0] === 'e' ? 9 : 1;
    displace(orig);
    globals[key] = { [key](v: unknown) { const str = S(v); if (str.length > 16_384) chargeChars(str.length * factor); return apply(orig as AnyFn, undefined, [str]); } }[key];
  });
  // RegExp methods behind match, matchAll, replace, search and split: also reachable directly.
  each([symbolMatch, symbolMatchAll, symbolSplit], (sym) => {
    wrap(RegExpPrototype, sym, (orig) => ({
      [sym](this: unknown, ...args: unknown[]) {
        const str = S(args[0]);
        if (str.length > SMALL) chargeElements(str.length);
        return apply(orig, this, args.length > 1 ? [str, args[1]] : [str]);
      },
    }));
  });
  wrap(RegExpPrototype, symbolReplace, (orig) => ({
    [symbolReplace](this: unknown, string: unknown, replacement: unknown) {
      const str = S(string);
      if (typeof replacement === 'function') return apply(orig, this, [str, wrapReplacer(replacement)]);
      const r = S(replacement);
      chargeReplacement(str, this, r, true);
      return apply(orig, this, [str, r]);
    },
  }));
  // Strings iterate by code point through this: spreads, for-of, destructuring with a rest element.
  wrap(SP, symbolIterator, (orig) => ({
    [symbolIterator](this: unknown) {
      const str = S(this);
      if (str.length > SMALL) chargeElements(str.length);
      return apply(orig, str, []);
    },
  }));
  const fnApply = gopd(FunctionPrototype, 'apply')?.value as AnyFn;
  wrap(FunctionPrototype, 'apply', () => ({ apply(this: unknown, thisArg: unknown, args: unknown) { checkArgs(args); return apply(fnApply, this, [thisArg, args]); } }));
  wrap(ReflectObject, 'apply', () => ({ apply(target: AnyFn, thisArg: unknown, args: ArrayLike<unknown>) { checkArgs(args); return apply(apply, ReflectObject, [target, thisArg, args]); } }));
  wrap(ReflectObject, 'construct', () => ({
    construct(target: AnyFn, args: ArrayLike<unknown>, ...rest: unknown[]) {
      checkArgs(args);
      return apply(construct, ReflectObject, rest.length > 0 ? [target, args, rest[0]] : [target, args]);
    },
  }));
  // Arrays iterate (spread, for-of, destructuring) through the bounded `values` above.
  defineProperty(AP, symbolIterator, { value: gopd(AP, 'values')?.value, writable: true, enumerable: false, configurable: true });
  wrap(AP, 'flat', (orig) => ({
    flat(this: unknown, depth: unknown) {
      const run = current;
      if (run === null) return apply(orig, this, [depth]);
      // Count what flattening would produce, ticking per array visited: a DAG of shared arrays would
      // otherwise expand exponentially inside one native call.
      const d = depth === undefined ? 1 : toLen(depth);
      let total = 0;
      const walk = (arr: any, level: number) => {
        tick(run);
        const n = toLen(arr.length);
        for (let i = 0; i < n; i++) {
          const x = arr[i];
          if (level < d && isArray(x)) walk(x, level + 1);
          else {
            total++;
            if (total > run.maxElements) chargeElements(total);
          }
        }
      };
      const self = receiver(this, false);
      walk(self, 0);
      return apply(orig, self, [depth]);
    },
  }));
  wrap(ArrayCtor, 'from', () => ({
    from(this: unknown, items: any, mapFn: unknown, thisArg: unknown) {
      if (items !== null && items !== undefined && typeof items[symbolIterator] !== 'function') items = receiver(items, false);
      else if (items !== null && items !== undefined && !isArray(items) && typeof items !== 'string') items = counted(items);
      else if (items !== null && items !== undefined) chargeElements(toLen(items.length));
      return mapFn === undefined ? apply(arrayFrom, this, [items]) : apply(arrayFrom, this, [items, mapFn, thisArg]);
    },
  }));
  wrap(JSONObject, 'stringify', () => ({
    stringify(value: unknown, replacer: unknown, space: unknown) {
      const run = current;
      if (run !== null && value !== null && typeof value === 'object') chargeStringifyEstimate(run, value);
      const out = apply(jsonStringify, JSONObject, [value, replacer, space]) as string | undefined;
      if (typeof out === 'string') chargeChars(out.length);
      return out;
    },
  }));
}

/** Estimates JSON.stringify's output before producing it: repeated references to one big value multiply. */
function chargeStringifyEstimate(run: Run, value: object): void {
  let size = 0;
  const seen: unknown[] = [];
  const walk = (v: any, depth: number) => {
    tick(run);
    if (typeof v === 'string') size += v.length + 2;
    else if (v === null || typeof v !== 'object') size += 8;
    else {
      if (depth > 512) return;
      for (let i = 0; i < seen.length; i++) if (seen[i] === v) return;
      apply(arrayPush, seen, [v]);
      if (isArray(v)) {
        const n = toLen(v.length);
        size += n;
        for (let i = 0; i < n; i++) walk(v[i], depth + 1);
      } else {
        const ks = objectKeys(v);
        for (let i = 0; i < ks.length; i++) {
          const k = ks[i] as string;
          size += k.length + 4;
          const d = gopd(v, k);
          if (d && 'value' in d) walk(d.value, depth + 1);
        }
      }
      seen.length--;
    }
    if (size > run.maxChars) chargeChars(size);
  };
  walk(value, 0);
}
