/**
 * Node reports a realm promise rejected without a handler to the host process, and with
 * --unhandled-rejections=strict it crashes before any listener can intervene. Every promise the realm
 * hands out is therefore marked handled at birth; awaiting or catching it still works.
 */
import { JSONObject, PromiseCtor, TypeErrorCtor, apply, arrayPush, functionBind, gopd, jsonStringify, promiseThen, promiseWithResolvers, reflectDefine, reflectDelete, reflectSetPrototypeOf } from './primordials.js';

const noop = () => {};
const UNDEFINED_CONSTRUCTOR = { value: undefined, writable: true, enumerable: false, configurable: true };

/**
 * The intrinsic `then` on `p`, making an intrinsic promise whatever `p` is. `then()` looks up
 * `p.constructor[Symbol.species]`, which can be a script's getter (a subclass) or the realm's marking
 * Promise; a temporary own `constructor` of undefined makes it use the intrinsic Promise, so no script
 * code runs and nothing recurses. The promise's own `constructor`, if it had one, is put back. Undefined
 * when `p` takes no such property (non-extensible); throws for what is not a promise.
 */
export function thenIntrinsic(p: object, onFulfilled: unknown, onRejected: unknown): Promise<unknown> | undefined {
  const saved = gopd(p, 'constructor');
  if (!reflectDefine(p, 'constructor', UNDEFINED_CONSTRUCTOR)) return undefined;
  try {
    return apply(promiseThen, p, [onFulfilled, onRejected]) as Promise<unknown>;
  } finally {
    if (saved === undefined) reflectDelete(p, 'constructor');
    else reflectDefine(p, 'constructor', saved);
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
  if (newTarget !== undefined && newTarget !== PromiseCtor) {
    // A script's subclass: its instances get its prototype, as OrdinaryCreateFromConstructor gives them.
    const proto = (newTarget as { prototype?: unknown }).prototype;
    if (proto !== null && (typeof proto === 'object' || typeof proto === 'function')) reflectSetPrototypeOf(promise, proto as object);
  }
  markOrThrow(promise);
  return { promise, resolve, reject };
}

/** A rejected promise the host never hears about unless the script leaves it unhandled at the end. */
export function rejected(err: unknown): Promise<never> {
  const cap = handledCapability(undefined);
  cap.reject(err);
  return cap.promise as Promise<never>;
}
