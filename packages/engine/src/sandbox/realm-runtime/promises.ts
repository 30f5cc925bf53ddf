/**
 * Node reports a realm promise rejected without a handler to the host process, and with
 * --unhandled-rejections=strict it crashes before any listener can intervene. Every promise the realm
 * hands out is therefore marked handled at birth; awaiting or catching it still works.
 */
import { JSONObject, PromiseCtor, PromisePrototype, TypeErrorCtor, WeakSetCtor, apply, arrayPush, functionBind, gpo, jsonStringify, promiseThen, promiseWithResolvers, reflectSetPrototypeOf, weakSetAdd, weakSetHas } from './primordials.js';

const noop = () => {};

/**
 * V8 keeps two flags per isolate, PromiseThenLookupChain and PromiseSpeciesLookupChain, that let every
 * context's `then`, `await` and `Promise.all` skip their lookups of `then`, `constructor` and
 * `Symbol.species`; it turns them off for good, for the host too in the `vm` isolation, the first time a
 * `then` or a `constructor` is written to or defined on any promise or any context's %PromisePrototype%
 * (or a `then` on any %ObjectPrototype%). Measured on Node 20: once off, the host's own `Promise.all` over
 * 1,000 resolved promises ran 2.2 to 2.9 times slower, `new Promise((r) => r(p))` 1.6 times.
 *
 * So the runtime writes neither, and %PromisePrototype% keeps the intrinsic `then` and `constructor`: it
 * is never handed to a script (its `constructor`, the intrinsic %Promise%, would make promises nobody
 * marked; its `then` would make them too). Every promise V8 makes for the realm is taken here while it
 * still has %PromisePrototype% (where the intrinsic `then` runs V8's fast path: no lookup, no script
 * code), marked handled, and moved to the realm's own Promise.prototype (see installPromise) or a
 * script's subclass's before the script can hold it.
 */
let ownPrototype: object = PromisePrototype;

/** Every promise the runtime has handed out: what V8 would take for a promise, told apart with no script code. */
const handedOut = new WeakSetCtor<object>();

export function setOwnPrototype(proto: object): void {
  ownPrototype = proto;
}

/** Whether `o` is a promise the runtime handed out (every promise a script can hold is one). */
export function isPromise(o: unknown): boolean {
  return o !== null && typeof o === 'object' && (apply(weakSetHas, handedOut, [o]) as boolean);
}

/**
 * A promise V8 has just made (an async function's, an async generator's request): marked handled while it
 * still has %PromisePrototype%, then given the realm's Promise.prototype. Anything else is returned as is.
 * Throws (out of stack, at the bottom of a deep call chain) rather than hand out a promise that still has
 * %PromisePrototype%; each step leaves a state that markHandled can still mark later: recorded first, so
 * that thenIntrinsic knows it whatever prototype it is left with.
 */
export function adopt<P>(p: P): P {
  if (p === null || typeof p !== 'object' || isPromise(p) || gpo(p as object) !== PromisePrototype) return p;
  apply(weakSetAdd, handedOut, [p]);
  apply(promiseThen, p, [undefined, noop]);
  if (ownPrototype !== PromisePrototype && !reflectSetPrototypeOf(p as object, ownPrototype)) throw new TypeErrorCtor('a promise could not be adopted');
  return p;
}

/**
 * What a builtin that can reject its own new promise inside the call has just returned, until it is
 * marked. V8 reports such a rejection to Node at once, and Node forgets it only when a handler is added.
 * A termination (the deadline) is taken at the next function entry, and one that lands after the
 * builtin returned and before the mark (the entry of `adopt`, of `then`, or Node's own callback for the
 * mark) leaves the rejection with Node, which hands it to the host's `unhandledRejection` listeners once
 * the entry is over (under --unhandled-rejections=strict, an uncaught exception). So the result is kept
 * here before any function is entered (a property store takes no interrupt), and the host has whatever
 * is left marked when an entry did not return (see RealmControl.quiet).
 */
const inflight: { p: unknown } = { p: undefined };

/** Marks the promise a cut-off call left in `inflight`, if any (a second mark of a marked one is harmless). */
export function markInflight(): void {
  const p = inflight.p;
  if (p === undefined) return;
  inflight.p = undefined;
  markHandled(p);
}

/**
 * `orig` called with `args` on `self`, a builtin that may reject the promise it returns before returning
 * it: the promise is adopted (`move`, see adopt) or only marked handled, with no window in which a
 * termination leaves its rejection with Node (see inflight).
 */
export function fromBuiltin(orig: (...a: unknown[]) => unknown, self: unknown, args: unknown[], move: boolean): unknown {
  // A call that failed before its mark (out of stack at the entry of `adopt`) left its promise here.
  if (inflight.p !== undefined) markInflight();
  inflight.p = apply(orig, self, args);
  const p = move ? adopt(inflight.p) : markHandled(inflight.p);
  inflight.p = undefined;
  return p;
}

/**
 * The intrinsic `then` on `p`, making an intrinsic promise whatever `p` is: on %PromisePrototype%, V8
 * looks nothing up (both flags are intact); a promise the runtime handed out is moved there for the
 * call and back, so no `constructor` or species of the script's is read and no script code runs.
 * Undefined when `p` cannot be moved (a frozen promise of a subclass); throws for what is not a promise.
 */
export function thenIntrinsic(p: object, onFulfilled: unknown, onRejected: unknown): Promise<unknown> | undefined {
  if (!isPromise(p)) {
    // A promise V8 made and nobody has adopted yet has %PromisePrototype% (a script has none of those);
    // anything else is refused before any of its code (a proxy's trap) could run.
    if (p === null || typeof p !== 'object' || gpo(p) !== PromisePrototype) throw new TypeErrorCtor('Method Promise.prototype.then called on incompatible receiver');
    return apply(promiseThen, p, [onFulfilled, onRejected]) as Promise<unknown>;
  }
  const proto = gpo(p);
  if (proto === PromisePrototype) return apply(promiseThen, p, [onFulfilled, onRejected]) as Promise<unknown>;
  if (!reflectSetPrototypeOf(p, PromisePrototype)) return undefined;
  try {
    return apply(promiseThen, p, [onFulfilled, onRejected]) as Promise<unknown>;
  } finally {
    reflectSetPrototypeOf(p, proto);
  }
}

/**
 * Marks `p` handled. A promise that is already non-extensible here was made elsewhere and marked when
 * it was made.
 */
export function markHandled<P>(p: P): P {
  try {
    thenIntrinsic(p as object, undefined, noop);
  } catch {
    // Not a promise: nothing to mark.
  }
  return p;
}

/** Nested arrays: serializing one recurses once per level in V8's C++ JSON writer (see needStack). */
function nested(levels: number): unknown[] {
  let a: unknown[] = [];
  for (let i = 0; i < levels; i++) a = [a];
  return a;
}

/**
 * V8's JSON writer checks the stack limit at each level it recurses: 256 levels are about 60 KB of stack,
 * measured in native frames that no JIT can shrink.
 */
const headroom = nested(256);

/**
 * Throws a RangeError, before anything happens, when the stack is nearly used up. Used in front of the
 * few builtins that can reject a promise they have just made, before anyone could handle it: Node's
 * rejection tracking runs on top of the script's frames, and with no stack left it prints to the host's
 * stderr instead.
 */
export function needStack(): void {
  apply(jsonStringify, JSONObject, [headroom]);
}

/**
 * The same check for a few frames only (about 2 KB): enough for the Promise constructor to call its
 * executor, at a microsecond instead of the full check's 50.
 */
const fewFrames = nested(8);

/**
 * `markHandled` that throws when it cannot mark (out of stack, say): a caller that then rejects the
 * promise itself must not do so, or Node would see a rejection without a handler.
 */
export function markOrThrow<P extends object>(p: P): P {
  if (thenIntrinsic(p, undefined, noop) === undefined) throw new TypeErrorCtor('a promise could not be marked');
  return p;
}

/**
 * The executor of the runtime's own promises: `push` bound to an array, a builtin. An executor written
 * in JavaScript may have to be compiled when it is called (the first time in a realm, or after V8
 * dropped its bytecode), and V8 refuses to compile with less than 40 KB of stack left: the Promise
 * constructor then rejects the promise it just made, unhandled, on an exhausted stack.
 */
const captured: unknown[] = [];
const capture = apply(functionBind, arrayPush, [captured]) as (...args: unknown[]) => number;

/**
 * A new intrinsic promise that already has a handler, and the functions that settle it. Settling it
 * later, at any stack depth, reports nothing to Node: V8 tells the host about a rejection only when the
 * promise has no handler at that moment. Out of stack, this throws and makes nothing.
 */
export function handledCapability(newTarget: unknown): { promise: Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void } {
  let promise: Promise<unknown>;
  let resolve: (v: unknown) => void;
  let reject: (e: unknown) => void;
  if (promiseWithResolvers !== undefined) {
    // No executor runs, so nothing can fail inside the constructor after the promise exists (an executor
    // that overflows the stack there rejects the new promise, with no handler and no stack left for
    // Node's rejection tracking, which then prints to the host's stderr on Node 22 and later).
    const made = apply(promiseWithResolvers, PromiseCtor, []);
    promise = made.promise;
    resolve = made.resolve;
    reject = made.reject;
  } else {
    // Node 20 has no withResolvers: the executor below must not be the call that overflows, or the
    // constructor rejects the promise it has just made, unhandled, and V8 prints that to the host's
    // stderr. Out of stack, this throws first and nothing is made.
    apply(jsonStringify, JSONObject, [fewFrames]);
    captured.length = 0;
    // `new`, not Reflect.construct: on a nearly exhausted stack, the latter's path into the constructor
    // can fail inside it, after the promise exists (measured), where `new` either fails before or succeeds.
    promise = new PromiseCtor(capture as unknown as (res: (v: unknown) => void, rej: (e: unknown) => void) => void);
    // The last two: a script's constructor (a proxy's trap reading `prototype`) may have made a promise
    // of its own in between.
    resolve = captured[captured.length - 2] as (v: unknown) => void;
    reject = captured[captured.length - 1] as (e: unknown) => void;
    if (typeof resolve !== 'function' || typeof reject !== 'function') throw new TypeErrorCtor('a promise could not be made');
  }
  // Marked while it has %PromisePrototype% (V8's fast path, see ownPrototype), then moved.
  markOrThrow(promise);
  let proto: unknown = ownPrototype;
  if (newTarget !== undefined && newTarget !== PromiseCtor) {
    // A script's subclass: its instances get its prototype, as OrdinaryCreateFromConstructor gives them.
    const own = (newTarget as { prototype?: unknown }).prototype;
    if (own !== null && (typeof own === 'object' || typeof own === 'function')) proto = own;
  }
  if (proto !== PromisePrototype) reflectSetPrototypeOf(promise, proto as object);
  apply(weakSetAdd, handedOut, [promise]);
  return { promise, resolve, reject };
}

/** A rejected promise the host never hears about unless the script leaves it unhandled at the end. */
export function rejected(err: unknown): Promise<never> {
  const cap = handledCapability(undefined);
  cap.reject(err);
  return cap.promise as Promise<never>;
}
