/**
 * Natives that walk a script's iterable or iterator in one step: the collection constructors,
 * `Object.fromEntries`, `Object.groupBy` and `Map.groupBy`, `AggregateError`, the `Iterator.prototype`
 * methods that loop, and the Set methods that walk a set-like's `keys`. When the iterator's `next` is
 * itself a builtin (`{ next: Object }`), no script code runs from one step to the next: no checkpoint
 * counts the steps or checks the heap. Found in review: `new AggregateError(it)` and `toArray` over such
 * an iterator aborted the `vm` host out of memory whatever the deadline, `Set.prototype.union` with a
 * set-like of that kind ran 37 s past a 1 s deadline, and `new Set(it)` or `Object.groupBy(it, f)` ran to
 * the deadline without any iteration counted. So each of them is handed the iterable through counted (or
 * an iterator through countedIterator): every step is counted against the iteration budget, and the heap
 * is checked every STEPS_PER_CHECK steps. Arrays and strings go on as they are: their iterators are
 * bounded already.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the wrappers keep the builtins' loose signatures */
import { chargeElements, chargeWork, current, tick } from './budgets.js';
import { bounded, countedIterator, each, fromEntriesSparse, plainArray, receiver, replaceConstructor, withMetered, wrap } from './builtins.js';
import { handledCapability } from './promises.js';
import {
  AggregateErrorCtor,
  G,
  MapCtor,
  ObjectCtor,
  SetCtor,
  WeakMapCtor,
  WeakSetCtor,
  apply,
  arrayValues,
  construct,
  defineProperty,
  gopd,
  gpo,
  promiseThen,
  reflectGet,
  setSize,
  symbolAsyncIterator,
  symbolIterator,
} from './primordials.js';

type AnyFn = (...args: any[]) => any;

/**
 * A collection constructor whose iterable is bounded: called without `new` it is the native's own
 * TypeError, and a subclass still gets its own prototype.
 */
function boundedCollection(name: string, native: unknown): void {
  const Native = native as AnyFn;
  const Safe = function (this: unknown, iterable?: unknown): unknown {
    if (new.target === undefined) return apply(Native, this, []);
    return construct(Native, iterable === undefined || iterable === null ? [] : [bounded(iterable)], new.target === Safe ? Native : new.target);
  };
  replaceConstructor(G, name, Native, Safe, true);
}

/**
 * The Iterator.prototype methods that walk `this`: the eager ones, and the lazy ones that may step it
 * many times in one `next` (filter until a match, drop its count, flatMap past empty inner iterators).
 * The lazy map and take step it once per `next`, and flatMap an inner iterator once per `next` too.
 */
const ITERATOR_WALKS = ['toArray', 'forEach', 'reduce', 'some', 'every', 'find', 'filter', 'drop', 'flatMap'] as const;

/**
 * The values of a string or of an array whose iteration is the intrinsic one (see plainArray), every
 * step counted (see countedIterator). `Array.fromAsync` takes a microtask and a promise per element,
 * after it has returned, where neither a charge made before the call nor a checkpoint sees them: 3,000
 * calls on array-likes of 60,000 elements (STANDARD, validated, Node 24) counted no iteration, grew a
 * vm host to 430 MB of its 512 by their 30 s deadline against a 64 MB budget, and aborted it given 60 s.
 */
function countedValues(items: string | unknown[]): Iterable<unknown> {
  return { [symbolIterator]: () => countedIterator(typeof items === 'string' ? (items as unknown as Iterable<unknown>)[symbolIterator]() : apply(arrayValues, items, [])) } as Iterable<unknown>;
}

/** What a close that the native must not see fail answers: an iterator result, as a `return` gives. */
const closed = () => ({ done: true, value: undefined });

/**
 * An iterator `Array.fromAsync` walks, counted (see countedIterator), whose `return` always succeeds.
 * V8's fromAsync (Node 22 and 24) closes the iterator again, and again, for as long as closing fails (a
 * sync iterator's `return` that throws or answers a primitive, an async one's whose promise rejects),
 * and takes the termination the deadline sends for one more failure: `return() { throw 2; }` on a sync
 * iterator whose value rejected held a vm host for good past its deadline (STANDARD, validated; plain
 * `node:vm` hangs the same way). It only ever closes on an error, which wins whatever closing does (the
 * specification ignores it): so the script's `return` is read and called as the native would, and what
 * either throws or answers is dropped. An async one's answer is still awaited, as the native awaits it.
 */
function closingQuietly(it: unknown, async: boolean): unknown {
  const counted = countedIterator(it);
  if (counted === it || typeof (counted as { next?: unknown }).next !== 'function') return counted;
  const source = it as { return?: unknown };
  defineProperty(counted as object, 'return', {
    get() {
      // Read once per close, as the native reads it; a getter that throws, or anything but a function,
      // closes nothing (V8 retries a failing read for ever too).
      let close: unknown;
      try {
        close = source.return;
      } catch {
        return undefined;
      }
      if (typeof close !== 'function') return undefined;
      return () => {
        let out: unknown;
        try {
          out = apply(close as AnyFn, it, []);
        } catch {
          out = undefined;
        }
        if (!async) return closed();
        // Settled by the runtime and handled at birth; `then` on it makes another of the realm's.
        const cap = handledCapability(undefined);
        cap.resolve(out);
        return apply(promiseThen, cap.promise, [closed, closed]);
      };
    },
    enumerable: true,
    configurable: true,
  });
  return counted;
}

/**
 * What `Array.fromAsync` walks, read as it reads it (the async iterator method, else the iterator
 * method, else an array-like): an iterator is counted and closes quietly (see closingQuietly), an
 * array-like is a bounded copy (see receiver) whose values are counted as they are walked, like an
 * array's or a string's (see countedValues).
 */
export function boundedAsync(items: unknown): unknown {
  if (typeof items === 'string' || (plainArray(items) && gopd(items, symbolAsyncIterator) === undefined)) {
    chargeElements(items.length);
    return countedValues(items);
  }
  if (items === null || (typeof items !== 'object' && typeof items !== 'function')) return items;
  const asyncMethod = (items as Record<symbol, unknown>)[symbolAsyncIterator];
  if (typeof asyncMethod === 'function') return { [symbolAsyncIterator]: () => closingQuietly(apply(asyncMethod as AnyFn, items, []), true) };
  if (asyncMethod !== undefined && asyncMethod !== null) return { [symbolAsyncIterator]: asyncMethod };
  const method = (items as Record<symbol, unknown>)[symbolIterator];
  if (typeof method === 'function') return { [symbolIterator]: () => closingQuietly(apply(method as AnyFn, items, []), false) };
  if (method !== undefined && method !== null) return { [symbolIterator]: method };
  return countedValues(receiver(items, false, undefined, true) as unknown[]);
}

function wrapIteratorMethods(): void {
  // %Iterator.prototype%, from an array iterator: absent before Node 22.
  const IP = gpo(gpo(apply(arrayValues, [], []) as object)) as Record<string, unknown> | null;
  if (IP === null || typeof IP.toArray !== 'function') return;
  each(ITERATOR_WALKS, (key) => {
    wrap(IP, key, (orig) => ({
      [key](this: unknown, ...args: unknown[]) {
        // Only an object has the iterator record the native reads: anything else is its own TypeError.
        if (this === null || (typeof this !== 'object' && typeof this !== 'function')) return apply(orig, this, args);
        return apply(orig, countedIterator(this), args);
      },
    }));
  });
  const Iterator = (G as unknown as { Iterator?: Record<string, unknown> }).Iterator;
  if (Iterator !== undefined) {
    wrap(Iterator, 'concat', (orig) => ({ concat(this: unknown, ...items: unknown[]) { for (let i = 0; i < items.length; i++) items[i] = bounded(items[i]); return apply(orig, this, items); } }));
  }
}

/**
 * A set-like as the Set methods read it (GetSetRecord: `size` converted to a number, then `has` and
 * `keys`, each read once), with `has` and the iterator `keys` returns counted.
 */
function countedSetLike(other: unknown): unknown {
  if (other === null || (typeof other !== 'object' && typeof other !== 'function')) return other;
  const o = other as { size?: unknown; has?: unknown; keys?: unknown };
  const size = +(o.size as number);
  if (size !== size) return { size };
  const has = o.has;
  if (typeof has !== 'function') return { size, has };
  // (Read as the native reads it; `keys` is also the name of a builtin method the lint guards.)
  const keys = reflectGet(o, 'keys');
  if (typeof keys !== 'function') return { size, has, keys };
  const run = current;
  return {
    size,
    has(v: unknown) {
      tick(run);
      return apply(has as AnyFn, other, [v]);
    },
    keys() {
      return countedIterator(apply(keys as AnyFn, other, []));
    },
  };
}

const SET_METHODS = ['union', 'intersection', 'difference', 'symmetricDifference', 'isSubsetOf', 'isSupersetOf', 'isDisjointFrom'] as const;

function wrapSetMethods(): void {
  const SP = SetCtor.prototype as unknown as Record<string, unknown>;
  each(SET_METHODS, (key) => {
    wrap(SP, key, (orig) => ({
      [key](this: unknown, other: unknown) {
        // The receiver first, as the native checks it before it reads the argument: a bad one is its own error.
        let size: number;
        try {
          size = apply(setSize, this, []) as number;
        } catch {
          return apply(orig, this, [other]);
        }
        const counted = countedSetLike(other);
        // These start from a copy of the receiver, made in one native step (see chargeWork); the other
        // walks go through the counted `has` and `keys`.
        if (key === 'union' || key === 'difference' || key === 'symmetricDifference') chargeWork(size);
        return apply(orig, this, [counted]);
      },
    }));
  });
}

/** Bounds every native that walks a script's iterable. Runs once, at install, before lockdown freezes them. */
export function wrapIterableConsumers(): void {
  wrap(ObjectCtor, 'fromEntries', (orig) => ({ fromEntries(iterable: unknown) { return fromEntriesSparse(orig, bounded(iterable)); } }));
  // groupBy also calls back once per element, arrays included (which `bounded` hands on as they are),
  // and makes a group, a key and a slot per call: its callback is metered, with a heap check (see metered).
  each([ObjectCtor, MapCtor] as const, (holder) => {
    wrap(holder, 'groupBy', (orig) => ({
      groupBy(items: unknown, callback: unknown) {
        const walked = bounded(items);
        return withMetered(callback, (fn) => apply(orig, holder, [walked, fn]), true);
      },
    }));
  });
  boundedCollection('Map', MapCtor);
  boundedCollection('Set', SetCtor);
  boundedCollection('WeakMap', WeakMapCtor);
  boundedCollection('WeakSet', WeakSetCtor);
  const SafeAggregateError = function AggregateError(this: unknown, errors: unknown, ...rest: unknown[]): unknown {
    const args: unknown[] = [bounded(errors)];
    for (let i = 0; i < rest.length; i++) args[i + 1] = rest[i];
    return new.target === undefined ? apply(AggregateErrorCtor, this, args) : construct(AggregateErrorCtor, args, new.target === SafeAggregateError ? AggregateErrorCtor : new.target);
  };
  replaceConstructor(G, 'AggregateError', AggregateErrorCtor, SafeAggregateError, true);
  wrapIteratorMethods();
  wrapSetMethods();
}
