/**
 * Locks the realm before any script runs, in order: remove globals that reach code generation, shared or
 * off-heap memory, weak references and the legacy RegExp statics (which hold the last match, i.e.
 * another run's data); pin stack traces to the user's own frames; make every promise the realm hands
 * out handled at birth; turn the data properties that ordinary code overrides on instances into
 * accessors so that freezing does not break them; freeze the global object (an ordinary object: the host
 * creates the context without contextifying it) and everything reachable from it and from the hidden
 * intrinsics. After that nothing shared between runs can hold state.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the replacements keep the builtins' loose signatures */
import type { InstallOptions } from '../realm-abi.js';
import type { Run } from './budgets.js';
import { chargeChars, chargeElements, chargeWork, current, fatal } from './budgets.js';
import { bounded, chargedEach, collection, guardedIterator, installArrayConstructor, installRegExpConstructor, plainArray, refuseProtected, replaceConstructor, scriptProxy, sortKey, speciesHolder, stringObject, tickMany, wrap, wrapBulkBuiltins } from './builtins.js';
import { boundedAsync, wrapIterableConsumers } from './iterables.js';
import { displace, displaced } from './displaced.js';
import { asBuiltin, installFunctionToString } from './sources.js';
import type { Codec } from './codec.js';
import { TOO_DEEP, TOO_LARGE } from './codec.js';
import { STACK_FRAMES, cleanError, enable, prepareStackTrace, refuseForeign } from './errors.js';
import {
  AggregateErrorCtor,
  ArrayCtor,
  ErrorCtor,
  EvalErrorCtor,
  FunctionPrototype,
  G,
  Int8ArrayCtor,
  IntlObject,
  IteratorCtor,
  MapCtor,
  ObjectPrototype,
  PromiseCtor,
  PromisePrototype,
  ProxyCtor,
  RangeErrorCtor,
  ReferenceErrorCtor,
  RegExpStatics,
  SetCtor,
  SymbolCtor,
  SyntaxErrorCtor,
  TypeErrorCtor,
  URIErrorCtor,
  apply,
  arrayPush,
  arrayValues,
  captureStackTrace,
  construct,
  defineProperty,
  fromCharCode,
  freeze,
  functionBind,
  gopd,
  gopn,
  gpo,
  isArray,
  isFrozen,
  mapGet,
  mapSet,
  ownKeys,
  promiseThen,
  reflectDelete,
  stringIndexOf,
  symbolAsyncDispose,
  symbolIterator,
  symbolSpecies,
} from './primordials.js';
import { wrapLocaleBuiltins } from './locales.js';
import { installNondeterminism } from './nondeterminism.js';
import { adopt, fromBuiltin, handledCapability, isPromise, markHandled, needStack, setOwnPrototype, thenIntrinsic } from './promises.js';

type AnyFn = (...args: any[]) => any;

/** Globals a script never gets. Proxy and Intl are added below for levels whose dialect lacks them. */
const REMOVE = ['eval', 'Function', 'globalThis', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'WeakRef', 'FinalizationRegistry',
  'ArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float16Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'escape', 'unescape', 'console', 'ShadowRealm',
  // Node 24: `dispose()` calls every callback `defer`, `use` and `adopt` collected, in one native step that
  // no guard sees, and wraps each failure in a new SuppressedError. 1e6 deferred builtins that throw (32 MB
  // of stack entries, within STANDARD's 64 MB budget) made 1.2 GB of errors in that one step: the host
  // aborted (heap limit, exit 134) with validate:false. `disposeAsync` also rejects intrinsic promises
  // that nothing has handled. No level's dialect has them; `using` declarations stay (one per statement).
  'DisposableStack', 'AsyncDisposableStack',
  // V8's collector, in every context made while the host runs with --expose-gc: a full collection per call.
  'gc'];

/** The legacy RegExp statics: they hold the last match, which is another run's data. */
const REGEXP_STATICS = ['$1', '$2', '$3', '$4', '$5', '$6', '$7', '$8', '$9', 'input', '$_', 'lastMatch', '$&', 'lastParen', '$+', 'leftContext',
  `$${fromCharCode(96)}`, 'rightContext', "$'"];

/**
 * Intrinsics that are not reachable from the global object by property walks: the prototypes of
 * generators, async functions, iterators and typed arrays, and those that only exist once an object of
 * their kind is made.
 */
/* eslint-disable no-restricted-properties -- install time: makes one object of each kind, before lockdown and before any script */
function hiddenIntrinsics(options: InstallOptions): unknown[] {
  const hidden: unknown[] = [
    gpo(function* () {}), gpo(gpo(function* () {})), gpo(async function () {}), gpo(async function* () {}), gpo(gpo(async function* () {})),
    gpo(apply(arrayValues, [], [])), gpo(gpo(apply(arrayValues, [], []))), gpo(new MapCtor().entries()), gpo(new SetCtor().values()), gpo(''[symbolIterator]()),
    gpo(''.matchAll(/x/g)), gpo((gpo(async function* () {}) as { prototype: object }).prototype), gopd(FunctionPrototype, 'caller')?.get ?? null,
    gpo(Int8ArrayCtor), gpo(Int8ArrayCtor.prototype),
  ];
  try {
    const values = apply(arrayValues, [], []) as { map?: (f: (x: unknown) => unknown) => unknown };
    if (IteratorCtor !== undefined && typeof values.map === 'function') {
      apply(arrayPush, hidden, [gpo(values.map((x) => x))]);
      if (typeof IteratorCtor.from === 'function') apply(arrayPush, hidden, [gpo(IteratorCtor.from({ next() { return { done: true }; } }))]);
    }
  } catch {
    // An older V8 without iterator helpers.
  }
  apply(arrayPush, hidden, errorStackAccessors());
  if (options.intl && IntlObject !== undefined) {
    try {
      const segments = new IntlObject.Segmenter().segment('ab');
      apply(arrayPush, hidden, [gpo(segments), gpo(segments[symbolIterator]())]);
    } catch {
      // no Segmenter
    }
  }
  return hidden;
}
/* eslint-enable no-restricted-properties */

/**
 * The getter and setter of every error's own `stack` (and of what `Error.captureStackTrace` is handed):
 * from Node 22 (V8 12) an accessor whose two functions V8 makes once per context and shares between all
 * errors, where Node 20 has a data property. No walk from the global object reaches them: unfrozen, a
 * run that set `getter.secret` on them was read by the next tenant of the realm (validate:false, both
 * isolations, Node 22 and 24).
 */
function errorStackAccessors(): unknown[] {
  const held = {};
  captureStackTrace(held);
  const own = gopd(new ErrorCtor('x'), 'stack');
  const captured = gopd(held, 'stack');
  return [own?.get, own?.set, captured?.get, captured?.set];
}

/**
 * `Symbol.for` registers its symbol in the isolate, the host's too in `vm` mode, for as long as the
 * process lives: no collection ever frees a registered symbol or its key. 2,000 keys of 10 KB a run
 * kept 20 MB of the host's heap per run after the run had ended, and 25 runs of a validated script at
 * STANDARD aborted a 512 MB host. Each run gets a registry of its own instead, dropped with the run:
 * the same key gives the same symbol within the run, `keyFor` answers for it, and the run's heap checks
 * count what it holds.
 */
function installSymbolRegistry(): void {
  const registry = (run: Run) => (run.symbols ??= { byKey: new MapCtor(), bySymbol: new MapCtor() });
  wrap(SymbolCtor, 'for', (orig) => ({
    for(key: unknown) {
      const run = current;
      if (run === null) return apply(orig, SymbolCtor, [key]);
      // ToString, as the native converts the key (a symbol throws).
      const k = sortKey(key);
      const own = registry(run);
      let sym = apply(mapGet, own.byKey, [k]) as symbol | undefined;
      if (sym === undefined) {
        sym = SymbolCtor(k);
        apply(mapSet, own.byKey, [k, sym]);
        apply(mapSet, own.bySymbol, [sym, k]);
      }
      return sym;
    },
  }));
  wrap(SymbolCtor, 'keyFor', (orig) => ({
    keyFor(sym: unknown) {
      const run = current;
      const key = run === null || run.symbols === null ? undefined : (apply(mapGet, run.symbols.bySymbol, [sym]) as string | undefined);
      return key !== undefined ? key : apply(orig, SymbolCtor, [sym]);
    },
  }));
}

/**
 * V8 keeps, per process, a flag that no object has ever had a `Symbol.isConcatSpreadable` property; the
 * first one set anywhere, in any context, turns off the fast path of every `concat` in the process for
 * good. Found by red-teaming: `const o = {}; o[Symbol.isConcatSpreadable] = true;` (STANDARD, validated)
 * made the host's own `concat` 30 times slower, and every later tenant's. A script has no other way to
 * that symbol than `Symbol.isConcatSpreadable`: the realm's `Symbol` (and `Symbol.prototype.constructor`)
 * is the intrinsic without it. The runtime reads the symbol, from its primordials, only to honour it.
 */
function installSymbol(): void {
  const Safe = function Symbol(this: unknown, description?: unknown) {
    if (new.target !== undefined) throw new TypeErrorCtor('Symbol is not a constructor');
    return apply(SymbolCtor, undefined, [description]) as symbol;
  };
  replaceConstructor(G, 'Symbol', SymbolCtor as unknown as AnyFn, Safe, true, 'isConcatSpreadable');
}

/**
 * A proxy of an array passes Array.isArray while its traps run script code on every read of length,
 * which would defeat the receiver checks of the bulk builtins. Levels whose dialect has no Proxy do not
 * keep it; where it is kept, it refuses array targets.
 */
function installProxy(): void {
  displace(ProxyCtor);
  const revocable = ProxyCtor.revocable;
  // A proxy of a RegExp would pass its target an own `constructor` that no wrapper sees (see speciesHolder);
  // one of an iterator or a String object an own `next` or `valueOf` (see protectorHolder), and a proxy
  // can lie about its target's prototype. A frozen target is seen through (isFrozen cannot be lied to).
  const refuseArray = (target: unknown) => {
    if (isArray(target)) throw new TypeErrorCtor('Proxies of arrays are not available in AgentScript.');
    if (speciesHolder(target)) throw new TypeErrorCtor('Proxies of RegExps are not available in AgentScript.');
    if (target !== null && typeof target === 'object' && (guardedIterator(target) || stringObject(target) || collection(target))) throw new TypeErrorCtor('Proxies of iterators, String objects, Sets and Maps are not available in AgentScript.');
    // Its default traps would write a `then` or a `constructor` to the promise (see ownPrototype in promises.ts).
    if (isPromise(target)) throw new TypeErrorCtor('Proxies of promises are not available in AgentScript.');
  };
  const SafeProxy = function Proxy(target: object, handler: ProxyHandler<object>) {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor Proxy requires 'new'");
    refuseArray(target);
    return scriptProxy(construct(ProxyCtor, [target, handler]) as object, target);
  };
  defineProperty(SafeProxy, 'revocable', {
    value: {
      revocable(target: object, handler: ProxyHandler<object>) {
        refuseArray(target);
        const r = apply(revocable, ProxyCtor, [target, handler]) as { proxy: object; revoke: () => void };
        scriptProxy(r.proxy, target);
        return r;
      },
    }.revocable,
    writable: true,
    configurable: true,
  });
  defineProperty(G, 'Proxy', { value: SafeProxy, writable: true, enumerable: false, configurable: true });
}

const OWN_CONSTRUCTOR = 'An own "constructor" on a promise is not available in AgentScript (it would slow down every promise of the process).';

/** The realm's own `Promise.prototype.then`, which the lint would otherwise read as an accidental thenable. */
// oxlint-disable-next-line unicorn/no-thenable
const THEN = 'then';

/**
 * `then` builds the promise it returns with `this.constructor[Symbol.species]`, and a reaction later
 * hands its outcome to that constructor's resolving functions from a microtask, where nothing of the
 * script is on the stack: one that throws there (a script's class as the species, or a subclass whose
 * constructor wraps them) is reported to the host process as an uncaught exception, which ends a server
 * that has no handler. So the intrinsic `then` only ever makes intrinsic promises here.
 *
 * This realm's own promises (this realm's Promise.prototype, no own `constructor`: both read without
 * running script code; the prototype's `constructor` is frozen) have this realm's Promise as their species, whose
 * promises are marked handled and settled by the runtime: the intrinsic `then` runs as it is. For any
 * other promise, `then` does what the specification says in script-visible steps (the species is read
 * once, the capability comes from the script's constructor), but the reactions are attached with the
 * intrinsic species, and they call the script's resolving functions themselves, where a throw is
 * swallowed instead of reaching the microtask queue.
 */
function ownPromise(p: unknown, proto: object): boolean {
  // isPromise first: the prototype of a promise the runtime handed out is read with no trap to run.
  return isPromise(p) && gpo(p as object) === proto && gopd(p as object, 'constructor') === undefined;
}

/** Calls a script's resolving function from a reaction: whatever it throws stays here. */
function settleQuietly(fn: unknown, value: unknown): void {
  try {
    apply(fn as AnyFn, undefined, [value]);
  } catch {
    // The specification would report this to the host as an uncaught exception.
  }
}

function thenForeign(SafePromise: unknown, p: object, onFulfilled: unknown, onRejected: unknown): unknown {
  let res: unknown;
  let rej: unknown;
  const react = (handler: unknown, rejecting: boolean) => (arg: unknown) => {
    // The script's handler, or its own resolving function, is about to hold what was thrown.
    if (rejecting) refuseForeign(arg);
    if (typeof handler !== 'function') {
      settleQuietly(rejecting ? rej : res, arg);
      return;
    }
    if (rejecting) cleanError(arg);
    let out: unknown;
    try {
      out = apply(handler as AnyFn, undefined, [arg]);
    } catch (e) {
      settleQuietly(rej, e);
      return;
    }
    settleQuietly(res, out);
  };
  // Attached first, so that `then` on something that is not a promise fails before any script code runs;
  // the reactions run from a later microtask, when the capability below exists.
  const derived = thenIntrinsic(p, react(onFulfilled, false), react(onRejected, true));
  if (derived === undefined) throw new TypeErrorCtor('then() cannot be used on this promise: it is frozen and is not one of this sandbox\'s own promises.');
  markHandled(derived);
  const C = (p as { constructor?: unknown }).constructor;
  let S: unknown = SafePromise;
  if (C !== undefined) {
    if (C === null || (typeof C !== 'object' && typeof C !== 'function')) throw new TypeErrorCtor('The promise\'s constructor is not an object.');
    const species = (C as Record<symbol, unknown>)[symbolSpecies];
    if (species !== undefined && species !== null) S = species;
  }
  if (S === SafePromise || S === PromiseCtor) {
    const cap = handledCapability(undefined);
    res = cap.resolve;
    rej = cap.reject;
    return cap.promise;
  }
  const made = construct(S as AnyFn, [(a: unknown, b: unknown) => {
    if (res !== undefined || rej !== undefined) throw new TypeErrorCtor('Promise executor has already been invoked with non-undefined arguments');
    res = a;
    rej = b;
  }]);
  if (typeof res !== 'function' || typeof rej !== 'function') throw new TypeErrorCtor('Promise resolve or reject function is not callable');
  return markHandled(made);
}

/**
 * Iterations an element handed to `Promise.all`, `allSettled`, `any` or `race` is charged past the first
 * few (see chargeWork), besides the one it counts as a step: each becomes a promise of the realm's, a
 * `then` and a reaction, 10 to 30 µs of runtime work that a step does not show. A loop of `Promise.all`
 * over an array subclass of 1e5 elements counted about 2e5 iterations in 4 s (STANDARD, validate:false,
 * Node 24) and ended at the memory limit; charged this way it ends at the budget. Up to 64 elements
 * (a batch of tool calls) nothing more is charged.
 */
const PROMISE_ELEMENT_WORK = 16;

/**
 * The realm's Promise makes every promise handled at birth (see promises.ts), before its executor can
 * settle it: a promise rejected without a handler is reported to the host process by Node, at whatever
 * stack depth the rejection happens. The resolving functions it hands out settle at most once (a second
 * call is a no-op, not a report to Node either).
 */
function installPromise(): void {
  displace(PromiseCtor);
  // %PromisePrototype% keeps its intrinsic `then` and `constructor`, and no script ever holds it (see
  // ownPrototype in promises.ts): the realm's Promise.prototype is another object, with the same
  // properties in the same order and Object.prototype as its prototype, as %PromisePrototype% has.
  displace(PromisePrototype);
  const PP = {} as Record<PropertyKey, unknown>;
  const intrinsicKeys = ownKeys(PromisePrototype);
  for (let i = 0; i < intrinsicKeys.length; i++) {
    const key = intrinsicKeys[i] as PropertyKey;
    defineProperty(PP, key, gopd(PromisePrototype, key) as PropertyDescriptor);
  }
  setOwnPrototype(PP);
  const SafePromise = function Promise(this: unknown, executor: unknown) {
    if (new.target === undefined) throw new TypeErrorCtor("Promise constructor cannot be invoked without 'new'");
    if (typeof executor !== 'function') throw new TypeErrorCtor('Promise resolver is not a function');
    const cap = handledCapability(new.target === SafePromise ? PromiseCtor : new.target);
    let settled = false;
    const resolve = (value: unknown) => {
      if (settled) return;
      settled = true;
      cap.resolve(value);
    };
    const reject = (reason: unknown) => {
      if (settled) return;
      settled = true;
      cap.reject(reason);
    };
    try {
      apply(executor as AnyFn, undefined, [resolve, reject]);
    } catch (e) {
      reject(e);
    }
    return cap.promise;
  };
  // A rejection handler sees a V8 message in the user's words (see cleanError).
  wrap(PP, THEN, (orig) => ({
    [THEN](this: unknown, onFulfilled: unknown, onRejected: unknown) {
      if (!ownPromise(this, PP)) return thenForeign(SafePromise, this as object, onFulfilled, onRejected);
      // Never what another realm threw (see refuseForeign): this handler is also how V8's own reactions
      // (an await's, Promise.allSettled's, Promise.any's) take a rejection of the realm's promises.
      const handler = typeof onRejected === 'function' ? (reason: unknown) => { refuseForeign(reason); cleanError(reason); return apply(onRejected as AnyFn, undefined, [reason]); } : onRejected;
      // The species is this realm's Promise (read from the frozen prototype), which marks what it makes.
      return apply(orig, this, [onFulfilled, handler]);
    },
  }));
  defineProperty(SafePromise, 'prototype', { value: PP, writable: false, enumerable: false, configurable: false });
  const statics = PromiseCtor as unknown as Record<string, unknown>;
  // Called on `this` (this realm's Promise, or a script's subclass of it), so the promise they return
  // comes from the constructor above and is handled before they can reject it.
  const combinators = ['reject', 'resolve', 'all', 'allSettled', 'any', 'race', 'try', 'withResolvers'];
  for (let i = 0; i < combinators.length; i++) {
    const key = combinators[i] as string;
    const orig = statics[key];
    if (typeof orig !== 'function') continue;
    // The combinators make several promises and reactions per element in one native step.
    const bulk = key === 'all' || key === 'allSettled' || key === 'any' || key === 'race';
    defineProperty(SafePromise, key, {
      value: {
        [key](this: unknown, ...args: unknown[]) {
          const arg = args[0];
          if (bulk && plainArray(arg)) {
            // Each element also gets a `then` of the realm's and a reaction: counted like a callback.
            if (arg.length > 1024) chargeElements(arg.length * 32);
            if (current !== null) tickMany(current, arg.length);
            chargeWork(arg.length * PROMISE_ELEMENT_WORK);
          } else if (bulk) {
            // The combinators walk an iterable in one native step (see iterables.ts); a throwing iterator
            // getter still rejects the promise they return, as it would natively.
            try {
              args[0] = bounded(arg, PROMISE_ELEMENT_WORK);
            } catch (e) {
              args[0] = { get [symbolIterator]() { throw e; } };
            }
          }
          return apply(orig as AnyFn, this === undefined ? SafePromise : this, args);
        },
      }[key],
      writable: true,
      enumerable: false,
      configurable: true,
    });
  }
  const species = gopd(PromiseCtor, symbolSpecies);
  if (species) defineProperty(SafePromise, symbolSpecies, species);
  defineProperty(PP, 'constructor', { value: SafePromise, writable: true, enumerable: false, configurable: true });
  defineProperty(G, 'Promise', { value: SafePromise, writable: true, enumerable: false, configurable: true });
  // An async generator's body cannot reject a request synchronously (the rewriter makes it rethrow after
  // a microtask), but `throw` and `return` on one that has not started or has finished settle their
  // request inside the call: they run only with stack to spare.
  const AGP = (gpo(async function* () {}) as { prototype: object }).prototype;
  const steps = ['next', 'return', 'throw'];
  for (let i = 0; i < steps.length; i++) {
    const key = steps[i] as string;
    wrap(AGP, key, (orig) => ({
      [key](this: unknown, v: unknown) {
        if (key !== 'next') needStack();
        return fromBuiltin(orig, this, [v], true);
      },
    }));
  }
  // Node 24: `%AsyncIteratorPrototype%[Symbol.asyncDispose]` (what every async generator inherits) makes
  // an intrinsic promise and rejects it inside the call when the receiver's `return` throws: unhandled, it
  // ended a host run with --unhandled-rejections=strict (PERMISSIVE, validated). Marked like the steps above.
  const AIP = gpo(AGP) as Record<symbol, unknown> | null;
  const asyncDispose = symbolAsyncDispose;
  if (asyncDispose !== undefined && AIP !== null && typeof AIP[asyncDispose] === 'function') {
    wrap(AIP, asyncDispose, (orig) => ({
      [asyncDispose](this: unknown) {
        needStack();
        return fromBuiltin(orig, this, [], true);
      },
    }));
  }
  // Array.fromAsync rejects its own intrinsic promise synchronously for a bad argument: it runs in a
  // microtask, on a short stack, and what it returns is adopted by a handled promise.
  if (typeof (ArrayCtor as { fromAsync?: unknown }).fromAsync === 'function') {
    wrap(ArrayCtor, 'fromAsync', (orig) => ({
      fromAsync(this: unknown, ...args: unknown[]) {
        const cap = handledCapability(undefined);
        cap.resolve(undefined);
        // The species of the realm's promise is the realm's Promise: what `then` returns is marked.
        return apply(promiseThen, cap.promise, [() => {
          if (args.length > 0) args[0] = boundedAsync(args[0]);
          if (args.length > 1) args[1] = chargedEach(args[1]);
          // Marked before the reaction returns it: adopted by the derived promise, it would have its
          // handler only from a later microtask, and a termination may land in between.
          return fromBuiltin(orig, this, args, false);
        }]);
      },
    }));
  }
  // An own `constructor` on a promise would turn off the species flag (see ownPrototype in promises.ts).
  enable(PP, 'constructor', (o) => {
    if (isPromise(o)) throw new TypeErrorCtor(OWN_CONSTRUCTOR);
    refuseProtected('An assignment', o, 'constructor');
  });
}

/**
 * structuredClone is not part of a vm realm; this one is the realm's own codec round trip, so it copies
 * exactly what crosses the bridge (no getters run, functions become undefined) under the run's memory
 * limit.
 */
function installStructuredClone(codec: Codec): void {
  defineProperty(G, 'structuredClone', {
    value: {
      structuredClone(value: unknown) {
        const run = current;
        const text = codec.encode(value, { maxBytes: run === null ? 1_048_576 : run.maxChars, maxDepth: 256, getters: false, useToJSON: false });
        if (typeof text !== 'string') {
          if (run !== null && text.code === TOO_LARGE) fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', 'Memory limit exceeded: structuredClone of a value larger than the memory limit allows.');
          throw new RangeErrorCtor(text.code === TOO_DEEP ? 'structuredClone: the value is nested too deeply.' : `structuredClone: the value could not be read (at value${text.path}).`);
        }
        if (run !== null) chargeChars(text.length);
        // Encoded and decoded by the runtime's codec, in one call: charged as many elements as the text has
        // four characters (about one value each, see chargeWork), so that repeated clones of a large value
        // end at the budget.
        chargeWork(text.length / 4);
        return codec.decode(text);
      },
    }.structuredClone,
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

/**
 * Objects V8 itself hands to scripts without any property walk from the global object reaching them:
 * what every `arguments` object, iterator, generator, async function, RegExp string iterator and strict
 * `callee` accessor carries. Made fresh after the freeze, each must already be frozen with its whole
 * prototype chain; one that is not would be shared, writable state between runs (invariant 7), so the
 * realm refuses to start.
 */
/* eslint-disable no-restricted-properties -- install time: makes one object of each kind, after the freeze and before any script */
function engineHeld(options: InstallOptions): (readonly [string, unknown])[] {
  const args = (function () {
    // oxlint-disable-next-line prefer-rest-params -- the arguments object is what is checked
    return arguments;
  })();
  const held: (readonly [string, unknown])[] = [
    ['arguments[Symbol.iterator] (%Array.prototype.values%)', (args as unknown as Record<symbol, unknown>)[symbolIterator]],
    ['arguments.callee accessor (%ThrowTypeError%)', gopd(args, 'callee')?.get],
    ['arguments', args],
    ['array iterator', apply(arrayValues, [], [])],
    ['map iterator', new MapCtor().entries()],
    ['set iterator', new SetCtor().values()],
    ['string iterator', ''[symbolIterator]()],
    ['RegExp string iterator', ''.matchAll(/x/g)],
    // A generator's own prototype is its function's `prototype`, made per function.
    ['generator', gpo((function* () {})())],
    ['generator function', function* () {}],
    ['async generator', gpo((async function* () {})())],
    ['async generator function', async function* () {}],
    ['async function', async function () {}],
    ['async function promise', adopt((async () => {})())],
    ['arrow function', () => {}],
    ['bound function', apply(functionBind, () => {}, [null])],
    ['Function.prototype.caller accessor (%ThrowTypeError%)', gopd(FunctionPrototype, 'caller')?.get],
    ['template object', ((s: TemplateStringsArray) => s)`x`],
  ];
  const stack = errorStackAccessors();
  const labels = ['error stack getter', 'error stack setter', 'captured stack getter', 'captured stack setter'];
  // Shared when they exist (Node 22 and later): each must then be frozen itself.
  for (let i = 0; i < stack.length; i++) if (stack[i] !== undefined) apply(arrayPush, held, [[`${labels[i] as string} (%ErrorStackAccessor%)`, stack[i]]]);
  try {
    const values = apply(arrayValues, [], []) as { map?: (f: (x: unknown) => unknown) => unknown };
    if (IteratorCtor !== undefined && typeof values.map === 'function') {
      apply(arrayPush, held, [['iterator helper', values.map((x) => x)]]);
      if (typeof IteratorCtor.from === 'function') apply(arrayPush, held, [['Iterator.from wrapper', IteratorCtor.from({ next() { return { done: true }; } })]]);
    }
  } catch {
    // An older V8 without iterator helpers.
  }
  if (options.intl && IntlObject !== undefined) {
    try {
      const segments = new IntlObject.Segmenter().segment('ab');
      apply(arrayPush, held, [['Intl segments', segments], ['Intl segment iterator', segments[symbolIterator]()]]);
    } catch {
      // no Segmenter
    }
  }
  return held;
}
/* eslint-enable no-restricted-properties */

/**
 * Every shared object in `held` is frozen: the prototype chain of each, and the object itself when its
 * label says it is shared (an intrinsic function), not made per use.
 */
function checkEngineHeld(held: readonly (readonly [string, unknown])[]): void {
  for (let i = 0; i < held.length; i++) {
    const entry = held[i] as readonly [string, unknown];
    const shared = apply(stringIndexOf, entry[0], ['%']) !== -1;
    let o: unknown = entry[1] === null || entry[1] === undefined ? null : shared ? entry[1] : gpo(entry[1]);
    if (entry[1] === undefined && shared) throw new TypeErrorCtor(`lockdown could not find ${entry[0]}`);
    while (o !== null && o !== undefined) {
      if (!isFrozen(o)) throw new TypeErrorCtor(`lockdown left an intrinsic that V8 hands to scripts unfrozen: ${entry[0]}`);
      o = gpo(o);
    }
  }
}

/**
 * Freezes the global object and everything reachable from it and from `hidden`. It runs before any
 * script of the realm, so the realm's Array and Set methods are still the intrinsics: the walk calls them
 * directly, as a realm's first build runs this in the interpreter and a call through `apply` with a new
 * arguments array per value was most of its cost (about 40k values).
 */
function freezeAll(hidden: readonly unknown[]): void {
  const seen = new SetCtor<object>();
  const queue: unknown[] = [G];
  for (let i = 0; i < hidden.length; i++) queue[queue.length] = hidden[i];
  let next = 0;
  while (next < queue.length) {
    const o = queue[next++];
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
    seen.add(o);
    // Whatever function of the runtime's a script can reach prints as a builtin (see sources.ts).
    if (typeof o === 'function') asBuiltin(o);
    // Frozen as soon as reached: freezing changes no value the walk reads next.
    freeze(o);
    const ks = ownKeys(o);
    for (let i = 0; i < ks.length; i++) {
      const d = gopd(o, ks[i] as PropertyKey);
      if (d === undefined) continue;
      if ('value' in d) queue[queue.length] = d.value;
      else {
        queue[queue.length] = d.get;
        queue[queue.length] = d.set;
      }
    }
    queue[queue.length] = gpo(o);
  }
  if (!isFrozen(G)) throw new TypeErrorCtor('the global object could not be frozen');
}

/**
 * The setter an enabled key gets defines an own property on whatever it is called on, past the
 * rewriter's guards: `Object.getOwnPropertyDescriptor(Object.prototype, 'constructor').set.call([], 1)`
 * (or Error.prototype's, on a promise) turned off V8's Array and Promise species flags for the whole
 * process (red9, validate:false), as an own `valueOf` on a String object does another. It refuses
 * what an assignment refuses.
 */
function enableAll(proto: object, keys: readonly string[]): void {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    enable(proto, key, (o) => refuseProtected('An assignment', o, key));
  }
}

/**
 * Node 22: `Iterator.prototype.constructor` is an accessor (as the specification words it) whose setter
 * defines an own `constructor` on any receiver but Iterator.prototype itself: called on a promise or an
 * array it turned off PromiseSpeciesLookupChain and ArraySpeciesLookupChain for the whole process (red9,
 * found by inv8-realm-promises' walk, validate:false). It refuses what an assignment refuses first.
 */
function guardIteratorConstructor(): void {
  if (IteratorCtor === undefined) return;
  const IP = (IteratorCtor as unknown as { prototype: object }).prototype;
  const d = gopd(IP, 'constructor');
  if (d === undefined || typeof d.set !== 'function') return;
  const set = d.set;
  const guarded = gopd(
    {
      set constructor(v: unknown) {
        refuseProtected('An assignment', this, 'constructor');
        apply(set, this, [v]);
      },
    },
    'constructor',
  )?.set as (v: unknown) => void;
  defineProperty(IP, 'constructor', { get: d.get, set: guarded, enumerable: d.enumerable ?? false, configurable: d.configurable ?? true });
}

/** Locks this realm. Runs once, before any script; returns the number of global names it left. */
export function lockdown(options: InstallOptions, codec: Codec): number {
  const hidden = hiddenIntrinsics(options);
  wrapBulkBuiltins();
  wrapIterableConsumers();
  wrapLocaleBuiltins(options.intl);
  installNondeterminism(options.intl);
  if (options.proxy) installProxy();
  else {
    displace(ProxyCtor);
    reflectDelete(G, 'Proxy');
  }
  // Levels whose dialect has no Intl do not keep it: less surface (what it leaves is frozen all the same).
  if (!options.intl) {
    displace(IntlObject);
    reflectDelete(G, 'Intl');
  }
  for (let i = 0; i < REMOVE.length; i++) {
    displace((G as unknown as Record<string, unknown>)[REMOVE[i] as string]);
    // V8 makes `gc` non-configurable (but writable): what cannot be deleted is emptied.
    if (!reflectDelete(G, REMOVE[i] as string)) (G as unknown as Record<string, unknown>)[REMOVE[i] as string] = undefined;
  }
  for (let i = 0; i < REGEXP_STATICS.length; i++) reflectDelete(RegExpStatics, REGEXP_STATICS[i] as string);
  installSymbolRegistry();
  installSymbol();
  defineProperty(ErrorCtor, 'prepareStackTrace', { value: prepareStackTrace, writable: false, enumerable: false, configurable: false });
  defineProperty(ErrorCtor, 'stackTraceLimit', { value: STACK_FRAMES, writable: false, enumerable: false, configurable: false });
  installStructuredClone(codec);
  enableAll(ObjectPrototype, ['toString', 'toLocaleString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'constructor']);
  const errors = [ErrorCtor, TypeErrorCtor, RangeErrorCtor, SyntaxErrorCtor, ReferenceErrorCtor, URIErrorCtor, EvalErrorCtor, AggregateErrorCtor];
  for (let i = 0; i < errors.length; i++) enableAll((errors[i] as ErrorConstructor).prototype, ['name', 'message', 'toString', 'constructor']);
  installFunctionToString();
  enableAll(FunctionPrototype, ['toString', 'name']);
  installPromise();
  guardIteratorConstructor();
  installArrayConstructor();
  // After the legacy statics are removed: the new global copies the intrinsic's statics as they are then.
  installRegExpConstructor();
  for (let i = 0; i < displaced.length; i++) apply(arrayPush, hidden, [displaced[i]]);
  freezeAll(hidden);
  checkEngineHeld(engineHeld(options));
  return gopn(G).length;
}
