/**
 * Errors as the script and the host see them: stack traces that show only the user's own frames (never
 * a host path), the first user frame of an error remembered as its location, and an error's name and
 * message read without running any of the script's code.
 */
import { SCRIPT_FILENAME } from '../realm-abi.js';
import { current, fatal } from './budgets.js';
import { isScriptProxy } from './builtins.js';
import { displace } from './displaced.js';
import {
  ObjectPrototype,
  StringCtor,
  TypeErrorCtor,
  WeakMapCtor,
  WeakSetCtor,
  apply,
  arrayJoin,
  arrayPush,
  captureStackTrace,
  defineProperty,
  gopd,
  gpo,
  objectKeys,
  stringCharCodeAt,
  stringIndexOf,
  stringSlice,
  weakMapGet,
  weakMapSet,
  weakSetAdd,
  weakSetHas,
} from './primordials.js';
import { FRAMED, GUARD_LOCALS, RESERVED_PREFIX } from '../realm-abi.js';
import type { CodeAt, PositionMap } from '../../positions.js';
import { decodeNumbers, positionMap, userPosition } from '../../positions.js';
import { hostPositions } from './host.js';

/** The first user frame of an error, as [line, column] in the rewritten script. */
const errorLocations = new WeakMapCtor<object, [number, number]>();
/** Where the script called a tool: an unhandled tool failure points at the user's own line. */
const errorSites = new WeakMapCtor<object, object>();
/** The same, in the user's own coordinates, where the rewriter gave the call's place (see Guards.cs). */
const errorPlaces = new WeakMapCtor<object, [number, number]>();
/** Accessors installed by `enable()`: they return a frozen prototype's original value. */
const enablementGetters = new WeakSetCtor<object>();

export function isEnablementGetter(getter: unknown): boolean {
  return typeof getter === 'function' && (apply(weakSetHas, enablementGetters, [getter]) as boolean);
}

interface CallSite {
  getFileName(): unknown;
  getLineNumber(): unknown;
  getColumnNumber(): unknown;
  getFunctionName(): unknown;
}

/**
 * Frames one stack shows: V8 hands at most `Error.stackTraceLimit` of them, which lockdown freezes at
 * this; a script that calls `Error.prepareStackTrace` itself may hand any number.
 */
export const STACK_FRAMES = 16;

/**
 * Characters of a function's name in a frame line. A name is the script's to choose, up to a string of
 * 16 MB (`Object.defineProperty(f, 'name', ...)`, a computed method key), and the lines are joined in one
 * native step that no charge sees: a stack of 16 such frames was a string of 256 MB built past the
 * memory budget, twelve of them read in one expression held 3 GB and a 2 GB vm host aborted out of
 * memory (STANDARD, validated). Bounded, a stack is at most a few tens of KB whoever formats it.
 */
const MAX_FRAME_NAME = 256;

/** A frame's function name as its line shows it: the script's own, at most MAX_FRAME_NAME characters, or `<anonymous>`. */
function frameName(fn: unknown): string {
  if (typeof fn !== 'string' || fn === '') return '<anonymous>';
  // A guard's own name (the rewriter's prefix) is no name of the user's.
  if (apply(stringSlice, fn, [0, RESERVED_PREFIX.length]) === RESERVED_PREFIX) return '<anonymous>';
  return fn.length > MAX_FRAME_NAME ? `${apply(stringSlice, fn, [0, MAX_FRAME_NAME]) as string}...` : fn;
}

/** `Error.prepareStackTrace` of the realm: the head line and the user's own frames only, each bounded (see MAX_FRAME_NAME). */
export function prepareStackTrace(err: unknown, frames: readonly CallSite[]): string {
  let head: string;
  try {
    head = errorHead(err);
  } catch {
    head = 'Error';
  }
  const lines = [head];
  let first: [number, number] | null = null;
  for (let i = 0; i < frames.length && i < STACK_FRAMES; i++) {
    const f = frames[i] as CallSite;
    let file: unknown, line: unknown, col: unknown, fn: unknown;
    try {
      file = f.getFileName();
      line = f.getLineNumber();
      col = f.getColumnNumber();
      fn = f.getFunctionName();
    } catch {
      continue;
    }
    if (file !== SCRIPT_FILENAME || typeof line !== 'number' || typeof col !== 'number') continue;
    // The location stays in the rewritten script's coordinates: the host maps it the same way.
    if (first === null) first = [line, col];
    const at = framePosition(line, col);
    apply(arrayPush, lines, [`    at ${frameName(fn)} (${SCRIPT_FILENAME}:${at[0] as number}:${at[1] as number})`]);
  }
  if (first !== null && err !== null && (typeof err === 'object' || typeof err === 'function')) {
    try {
      if (apply(weakMapGet, errorLocations, [err]) === undefined) apply(weakMapSet, errorLocations, [err, first]);
    } catch {
      // A value that cannot be a WeakMap key has no location.
    }
  }
  return apply(arrayJoin, lines, ['\n']) as string;
}

const codeAt: CodeAt = (text, index) => apply(stringCharCodeAt, text, [index]) as number;

/**
 * The current run's position map, asked of the host and built on the first stack the run formats (see
 * positions.ts); null outside a run or when the host has none, and then frames keep V8's columns.
 */
function positions(): PositionMap | null {
  const run = current;
  if (run === null) return null;
  if (run.positions !== undefined) return run.positions;
  // A stack formatted on a stack nearly out of room may fail to ask or to build: this one keeps V8's
  // columns, and the next asks again. An answer the host gave is final.
  try {
    const text = hostPositions(run.id);
    if (typeof text !== 'string') return null;
    let map: PositionMap | null = null;
    const nl = apply(stringIndexOf, text, [FRAMED]) as number;
    const head = nl < 0 ? [] : decodeNumbers(apply(stringSlice, text, [0, nl]) as string, codeAt);
    const userEnd = head.length < 2 ? -1 : nl + 1 + (head[1] as number);
    if (userEnd > 0 && userEnd <= text.length) {
      const anchors: number[] = [];
      for (let i = 2; i < head.length; i++) anchors[anchors.length] = head[i] as number;
      map = positionMap(anchors, apply(stringSlice, text, [userEnd]) as string, apply(stringSlice, text, [nl + 1, userEnd]) as string, head[0] as number, codeAt);
      if (map.anchors.length === 0) map = null;
    }
    run.positions = map;
    return map;
  } catch {
    return null;
  }
}

/** A frame's (line, column) in the user's source, or V8's where there is no map. */
function framePosition(line: number, col: number): readonly [number, number] {
  const map = positions();
  if (map === null) return [line, col];
  try {
    return userPosition(map, line, col);
  } catch {
    return [line, col];
  }
}

function errorHead(err: unknown): string {
  const name = readErrorField(err, 'name');
  const message = readMessage(err);
  const n = name === undefined ? 'Error' : name;
  return message === undefined || message === '' ? n : `${n}: ${message}`;
}

/** Longest name or message kept when an error is described. */
const MAX_FIELD = 4000;

/**
 * An error field read by descriptor along the prototype chain: data properties and the realm's own
 * enablement getters only, so no accessor of the script runs.
 */
export function readErrorField(err: unknown, key: string): string | undefined {
  let o: unknown = err;
  for (let hops = 0; o !== null && (typeof o === 'object' || typeof o === 'function') && hops < 32; hops++) {
    let d: PropertyDescriptor | undefined;
    try {
      d = gopd(o as object, key);
    } catch {
      return undefined;
    }
    if (d) {
      let v: unknown;
      if ('value' in d) v = d.value;
      else if (d.get !== undefined && isEnablementGetter(d.get)) v = apply(d.get, o, []);
      else return undefined;
      if (typeof v === 'string') return v.length > MAX_FIELD ? `${apply(stringSlice, v, [0, MAX_FIELD]) as string}...` : v;
      return v === undefined ? undefined : safeString(v);
    }
    try {
      o = gpo(o);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** A description of any value that runs none of its code. */
export function safeString(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return StringCtor(v);
    case 'symbol':
      return 'Symbol()';
    default:
      return v === null ? 'null' : typeof v === 'function' ? '[function]' : '[object]';
  }
}

/**
 * Freezing a prototype makes its data properties read-only, and then ordinary code that overrides one
 * on an instance (`err.name = 'X'`, `obj.toString = ...`) throws. Such properties become accessors: the
 * getter returns the original value, the setter defines an own property on the instance (after
 * `refuse`, which may throw for an instance that must not get one).
 */
export function enable(proto: object, key: string, refuse?: (o: unknown) => void): void {
  const d = gopd(proto, key);
  if (!d || !('value' in d)) return;
  const value: unknown = d.value;
  displace(value);
  const get = gopd({ get [key]() { return value; } }, key)?.get as () => unknown;
  const set = gopd(
    {
      set [key](v: unknown) {
        if (this === proto) throw new TypeErrorCtor(`Cannot assign to read-only property ${StringCtor(key)} of a shared prototype`);
        if (refuse !== undefined) refuse(this);
        defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
    },
    key,
  )?.set as (v: unknown) => void;
  apply(weakSetAdd, enablementGetters, [get]);
  defineProperty(proto, key, { get, set, enumerable: d.enumerable ?? false, configurable: false });
}

/** The frames of a tool call, captured cheaply; formatted only if its failure goes unhandled. */
export function callSite(): object | null {
  const holder = {};
  try {
    captureStackTrace(holder);
    return holder;
  } catch {
    return null;
  }
}

export function withSite<E extends object>(err: E, site: object | null, at: [line: number, column: number] | null = null): E {
  if (site !== null || at !== null) {
    try {
      if (at !== null) apply(weakMapSet, errorPlaces, [err, at]);
      else apply(weakMapSet, errorSites, [err, site]);
    } catch {
      // as above
    }
  }
  return err;
}

/** The user-source place of a failed tool call the rewriter placed (see withSite), or null. */
export function placeOf(value: object): [number, number] | null {
  try {
    return (apply(weakMapGet, errorPlaces, [value]) as [number, number] | undefined) ?? null;
  } catch {
    return null;
  }
}

/** The user-source position of a thrown value: its tool call's site, or its own first user frame. */
export function locationOf(value: object): [number, number] | null {
  let loc: [number, number] | null = null;
  try {
    const site = apply(weakMapGet, errorSites, [value]) as { stack?: unknown } | undefined;
    if (site !== undefined) {
      void site.stack;
      loc = (apply(weakMapGet, errorLocations, [site]) as [number, number] | undefined) ?? null;
    }
  } catch {
    // no site
  }
  if (loc !== null) return loc;
  // Reading the stack formats it through prepareStackTrace, which records the first user frame.
  try {
    void (value as { stack?: unknown }).stack;
  } catch {
    // a getter of the script's own threw
  }
  try {
    return (apply(weakMapGet, errorLocations, [value]) as [number, number] | undefined) ?? null;
  } catch {
    return null;
  }
}

/** How V8 quotes a call it abbreviates: `f(...)`. */
const CALL_ARGS = '(...)';
/** What V8 itself prints for an expression it does not quote. */
const INTERMEDIATE = '(intermediate value)';
/**
 * What V8 prints for a conditional it does not quote, one per part: the inline string growth check
 * around `a + b` is a conditional, so `(a + b)()` would read as three of them.
 */
const INTERMEDIATE_RUN = INTERMEDIATE + INTERMEDIATE;
const MC_CALL = `${GUARD_LOCALS.mc}${CALL_ARGS}`;

/** Whether a message quotes rewritten code (a guard, or the parts of an inline check). */
function quotesRewrite(message: string): boolean {
  return apply(stringIndexOf, message, [RESERVED_PREFIX]) !== -1 || apply(stringIndexOf, message, [INTERMEDIATE_RUN]) !== -1;
}

/** Runs of V8's "(intermediate value)" as one: the user wrote one expression there. */
function collapseIntermediate(message: string): string {
  let at = apply(stringIndexOf, message, [INTERMEDIATE_RUN]) as number;
  if (at === -1) return message;
  const parts: string[] = [];
  let from = 0;
  while (at !== -1) {
    let end = at + INTERMEDIATE.length;
    while (apply(stringSlice, message, [end, end + INTERMEDIATE.length]) === INTERMEDIATE) end += INTERMEDIATE.length;
    apply(arrayPush, parts, [apply(stringSlice, message, [from, at]), INTERMEDIATE]);
    from = end;
    at = apply(stringIndexOf, message, [INTERMEDIATE_RUN, from]) as number;
  }
  apply(arrayPush, parts, [apply(stringSlice, message, [from])]);
  return apply(arrayJoin, parts, ['']) as string;
}

function isIdentifierChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24;
}

/** The rewriter's own names, which V8 may quote in a message; nothing else is rewritten. */
const GUARD_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  const keys = objectKeys(GUARD_LOCALS) as (keyof typeof GUARD_LOCALS)[];
  for (let i = 0; i < keys.length; i++) names[names.length] = GUARD_LOCALS[keys[i] as keyof typeof GUARD_LOCALS];
  return names;
})();

function isGuardName(name: string): boolean {
  for (let i = 0; i < GUARD_NAMES.length; i++) if (GUARD_NAMES[i] === name) return true;
  return false;
}

/**
 * A V8 message in the user's words. V8 quotes the failing expression of a call ("o[k] is not a
 * function"), and that expression is the rewritten one, so it can name a guard: `o[__ek_mc(...)]`. Each
 * quoted key guard is put back as the key's source text (the guard remembered the texts of the keys on
 * callee paths, in evaluation order, which is the order V8 quotes them in), any other guard as V8's own
 * "(intermediate value)", and a run of those (the parts of an inline check) as one. Any other message
 * is returned as it is.
 */
export function cleanMessage(message: string, calleeTexts: readonly string[] | null): string {
  if (apply(stringIndexOf, message, [RESERVED_PREFIX]) === -1) return collapseIntermediate(message);
  // How many key guards the message quotes: they are the last ones evaluated.
  let keys = 0;
  for (let at = apply(stringIndexOf, message, [MC_CALL]) as number; at !== -1; at = apply(stringIndexOf, message, [MC_CALL, at + 1]) as number) keys++;
  const texts = calleeTexts ?? [];
  let nextText = texts.length - keys;
  const parts: string[] = [];
  let from = 0;
  for (let at = apply(stringIndexOf, message, [RESERVED_PREFIX]) as number; at !== -1; at = apply(stringIndexOf, message, [RESERVED_PREFIX, from]) as number) {
    let end = at + RESERVED_PREFIX.length;
    while (end < message.length && isIdentifierChar(apply(stringCharCodeAt, message, [end]) as number)) end++;
    const name = apply(stringSlice, message, [at, end]) as string;
    if (!isGuardName(name)) {
      apply(arrayPush, parts, [apply(stringSlice, message, [from, end])]);
      from = end;
      continue;
    }
    apply(arrayPush, parts, [apply(stringSlice, message, [from, at])]);
    const called = apply(stringSlice, message, [end, end + CALL_ARGS.length]) === CALL_ARGS;
    if (called) end += CALL_ARGS.length;
    if (called && name === GUARD_LOCALS.mc) {
      const text = nextText >= 0 && nextText < texts.length ? texts[nextText] : undefined;
      nextText++;
      apply(arrayPush, parts, [text === undefined ? '...' : text]);
    } else apply(arrayPush, parts, [INTERMEDIATE]);
    from = end;
  }
  apply(arrayPush, parts, [apply(stringSlice, message, [from])]);
  return collapseIntermediate(apply(arrayJoin, parts, ['']) as string);
}

/** An error's message (see readErrorField) in the user's words (see cleanMessage). */
export function readMessage(err: unknown): string | undefined {
  const message = readErrorField(err, 'message');
  return message === undefined ? undefined : cleanMessage(message, current === null ? null : current.calleeTexts);
}

/**
 * Puts an error's own message into the user's words before the script reads it: at the start of a
 * catch block, in a rejection handler, and when an async function rethrows. Only an own data property
 * that names a guard is replaced; anything else is left as it is.
 */
export function cleanError(err: unknown): void {
  if (err === null || typeof err !== 'object') return;
  try {
    const d = gopd(err, 'message');
    if (d === undefined || !('value' in d) || typeof d.value !== 'string' || !quotesRewrite(d.value)) return;
    defineProperty(err, 'message', { value: cleanMessage(d.value, current === null ? null : current.calleeTexts), writable: true, enumerable: false, configurable: true });
  } catch {
    // A frozen error, or a proxy: its message stays as it is.
  }
}

/** How far up a prototype chain `foreign` looks. */
const FOREIGN_HOPS = 64;
/**
 * How many objects `foreign` looks at in one thrown value (the value and what its `error` and
 * `suppressed` hold, at any depth). A value that holds more is taken for another realm's: every
 * disposer that throws as a `using` scope exits wraps what was leaving it in one more SuppressedError,
 * so a chain of them is as deep as the script likes, and what V8 wrapped at its bottom was once a host
 * error six levels down, past a look that stopped at four (red9).
 */
const FOREIGN_VISITS = 256;

/** Whether `o`'s prototype chain ends in another realm's Object.prototype (see `foreign`). */
function foreignChain(o: object): boolean {
  const start = o;
  for (let hops = 0; hops < FOREIGN_HOPS; hops++) {
    if (isScriptProxy(o)) return false;
    const p = gpo(o) as object | null;
    if (p === ObjectPrototype) return false;
    if (p === null) {
      if (o === start) return false;
      const d = gopd(o, 'constructor');
      return d !== undefined && 'value' in d && typeof d.value === 'function';
    }
    o = p;
  }
  return false;
}

/**
 * Whether a value thrown into the script comes from another realm: the host's (in a worker, the worker's
 * own). Host code runs on the script's stack in a few places the runtime does not wrap: Node formats
 * every stack trace in a host function before it calls the realm's Error.prepareStackTrace (and runs
 * async hooks on promises), and when the stack runs out inside one of those, the RangeError thrown is
 * the host's, a `.constructor.constructor` away from the host's Function. Told without running any code
 * of the script: a realm object's prototype chain reaches this realm's Object.prototype (or is a
 * script's proxy, or has no prototype at all); the host's reaches another Object.prototype, a root that
 * is not this realm's and has an own `constructor`. A native SuppressedError's `error` and
 * `suppressed` are what was thrown too, and are looked at the same way, however deep they nest; a value
 * that holds more than FOREIGN_VISITS objects that way (a cycle of them included) counts as foreign.
 */
export function foreign(v: unknown): boolean {
  const pending: unknown[] = [v];
  let count = 1;
  let visits = 0;
  while (count > 0) {
    const o = pending[--count];
    if (o === null || (typeof o !== 'object' && typeof o !== 'function')) continue;
    if (++visits > FOREIGN_VISITS || foreignChain(o)) return true;
    if (isScriptProxy(o)) continue;
    pending[count++] = ownValue(o, 'error');
    pending[count++] = ownValue(o, 'suppressed');
  }
  return false;
}

function ownValue(o: object, key: string): unknown {
  const d = gopd(o, key);
  return d !== undefined && 'value' in d ? d.value : undefined;
}

/** How a run that met an exception from outside the sandbox ends (see refuseForeign). */
export const FOREIGN_NAME = 'CallDepthError';
export const FOREIGN_MESSAGE = 'An exception from outside the sandbox reached the script (the call stack ran out inside a host callback, such as the formatting of a stack trace); the run is ended.';

/**
 * Called on every value that is about to reach the script as something thrown (a `catch` block, a
 * rejection handler, an async function's rethrow): one from another realm (see `foreign`) ends the run
 * instead, so the script never holds it. Throws the run's fatal error then.
 */
export function refuseForeign(v: unknown): void {
  if (!foreign(v)) return;
  const run = current;
  if (run !== null) fatal(run, 'RUNTIME_ERROR', FOREIGN_NAME, FOREIGN_MESSAGE);
  throw new TypeErrorCtor(FOREIGN_MESSAGE);
}
