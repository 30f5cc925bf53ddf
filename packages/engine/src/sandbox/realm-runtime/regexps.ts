/**
 * RegExp.prototype's `Symbol.match`, `Symbol.replace` and `Symbol.split` run V8's generic algorithm
 * whenever `this` is not a plain RegExp (an object with an `exec`, a RegExp with an own `exec`, a
 * subclass, a species constructor of the script's): a native loop that calls the `exec` it reads from
 * `this` until that returns null, and then reads every capture of every result, up to the `length` the
 * result claims. The script supplies both, and neither needs to be script code: found by red-teaming,
 * `{ exec: Object, global: true }` made `match` loop without end in one native step (no checkpoint
 * between two calls of a builtin), which aborted a 256 MB vm host out of memory within seconds, at
 * STANDARD, validated; a `split` whose species constructor returned such an object read a capture list
 * as long as the string at every position (the same abort); and an `exec` result claiming a length of
 * 2^32 - 1 made V8 allocate a capture vector of that length outside its heap (23 GB of host memory).
 *
 * So a receiver that is not a plain RegExp reaches the native through a proxy of the runtime's: each
 * read of its `exec` gives a function that counts the call (the iteration budget, a heap check every
 * 1,024 calls) before it calls the script's `exec` (or, where that is not callable, the intrinsic one) on
 * the script's own object, and each result the native reads through a proxy that counts every read and
 * refuses a `length` no RegExp can have. Everything else reads and writes the script's own object, with
 * that object as the receiver of its accessors, so the script never meets the proxies: a non-global
 * match returns the script's own result, and `split` hands a species constructor the script's own
 * object. A plain RegExp (the realm's prototype, which is frozen, and no own property but `lastIndex`)
 * goes to the native as it is: V8 sets its `lastIndex` to a number before a global loop and runs
 * nothing of the script's in it.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the traps keep the natives' loose signatures */
import { countStep, current } from './budgets.js';
import {
  ProxyCtor,
  RangeErrorCtor,
  RegExpCtor,
  RegExpPrototype,
  WeakMapCtor,
  apply,
  construct,
  ownKeys,
  reflectGet,
  reflectGetPrototypeOf,
  reflectSet,
  reflectSetPrototypeOf,
  regexpExec,
  regexpSourceGetter,
  symbolSpecies,
  weakMapGet,
  weakMapSet,
} from './primordials.js';

type AnyFn = (...args: any[]) => any;

/** V8 allows 65,535 capture groups: a match result is at most the match and those. */
const MAX_MATCH_LENGTH = 65_536;

/** The realm's global RegExp (see installRegExpConstructor), which bounds a pattern before V8 parses it. */
let RegExpSafe: AnyFn = RegExpCtor as unknown as AnyFn;

export function useRegExpConstructor(Safe: AnyFn): void {
  RegExpSafe = Safe;
}

/** Result proxies handed to a native, to the script's own results (what a non-global match returns). */
const results = new WeakMapCtor<object, object>();

/** A RegExp the natives run as it is: see above. A proxy fails the brand check before any trap runs. */
function plainRegExp(rx: object): boolean {
  try {
    apply(regexpSourceGetter, rx, []);
  } catch {
    return false;
  }
  return reflectGetPrototypeOf(rx) === RegExpPrototype && ownKeys(rx).length === 1;
}

/** A handler object that no script can reach or extend: its traps are looked up on it alone. */
function handler(traps: ProxyHandler<object>): ProxyHandler<object> {
  reflectSetPrototypeOf(traps, null);
  return traps;
}

/**
 * What `split` and `matchAll` read as `this.constructor` (see SpeciesConstructor), for the species they
 * then read: one that constructs on the script's own object and guards the splitter it gets. Where the
 * native would use the intrinsic RegExp, the realm's global one is called the same way (the native would
 * hand the intrinsic the proxy, whose conversion to a pattern could call the script's `toString` on the
 * proxy, and whose `source` no bound would see).
 */
function speciesOf(target: object, step: () => void): unknown {
  const C = reflectGet(target, 'constructor', target);
  let S: unknown = RegExpSafe;
  if (C !== undefined) {
    if (C === null || (typeof C !== 'object' && typeof C !== 'function')) return C;
    const own = (C as Record<symbol, unknown>)[symbolSpecies];
    if (own !== undefined && own !== null) S = own;
  }
  if (typeof S !== 'function') return { [symbolSpecies]: S };
  // A constructor (`new` calls it): the splitter the species makes is guarded in turn.
  const Species = function (this: unknown, _rx: unknown, flags: unknown) {
    return guarded(construct(S as AnyFn, [target, flags]) as object, false, step);
  };
  return { [symbolSpecies]: Species };
}

/** An `exec` result as the native reads it: every read counted, and no `length` past MAX_MATCH_LENGTH. */
function boundedResult(r: object, step: () => void): object {
  const proxy = new ProxyCtor({}, handler({
    get(_, key) {
      step();
      const v = reflectGet(r, key, r);
      if (key !== 'length') return v;
      // Converted here, once, as the native would convert it right after the read.
      const n = +(v as number);
      if (n > MAX_MATCH_LENGTH) throw new RangeErrorCtor(`A match result of length ${n} is not available in AgentScript: at most ${MAX_MATCH_LENGTH}.`);
      return n;
    },
  }));
  apply(weakMapSet, results, [proxy, r]);
  return proxy;
}

/**
 * The receiver a RegExp protocol native is handed for `rx` (see above); with `species` (`split` and
 * `matchAll`) its species constructor is guarded too. `step` counts one native step; one is made per
 * native call when not given.
 */
export function guarded(rx: unknown, species: boolean, step?: () => void): any {
  if (rx === null || (typeof rx !== 'object' && typeof rx !== 'function') || plainRegExp(rx)) return rx;
  let count = step;
  if (count === undefined) {
    const run = current;
    let n = 0;
    count = () => countStep(run, ++n);
  }
  const tick = count;
  const target = rx;
  // The proxy's own target is an empty object, so that no invariant of the script's object (a frozen
  // `exec`, say) constrains what the traps answer; every read and write goes to the script's object.
  return new ProxyCtor({}, handler({
    get(_, key) {
      if (key === 'exec') {
        const exec = reflectGet(target, key, target);
        return (s: unknown) => {
          tick();
          const r = typeof exec === 'function' ? apply(exec as AnyFn, target, [s]) : apply(regexpExec, target, [s]);
          // A primitive is the native's own TypeError.
          return r !== null && (typeof r === 'object' || typeof r === 'function') ? boundedResult(r as object, tick) : r;
        };
      }
      if (key === 'constructor' && species) return speciesOf(target, tick);
      return reflectGet(target, key, target);
    },
    set(_, key, value) {
      return reflectSet(target, key, value, target);
    },
  }));
}

/** What a native returned, with a result proxy of guarded put back to the script's own result. */
export function unguarded(out: unknown): unknown {
  if (out === null || (typeof out !== 'object' && typeof out !== 'function')) return out;
  const own = apply(weakMapGet, results, [out]) as object | undefined;
  return own === undefined ? out : own;
}
