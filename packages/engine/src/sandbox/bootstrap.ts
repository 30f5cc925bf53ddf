import { BLOCKED_PROPERTIES } from '../levels.js';
import { CODEC_SOURCE } from '../sanitize/codec.js';

/**
 * The realm's own runtime, as source text evaluated once in every new realm before any script runs.
 *
 * It declares three script-scope bindings, `__ek_register` (the rewritten script hands its factory to
 * it), `__ek_start` and `__ek_pump`, which the host's start and pump scripts call; user code cannot name
 * them (the rewriter refuses the reserved prefix). Its completion value is `install(bridge, options)`,
 * which the host calls once with the bridge and the level's options: plain host functions
 * that take and return primitives only and never throw on purpose. Every call to a bridge function goes
 * through `host()`, which swallows whatever the call throws without binding it: the one error a host
 * function can still throw is a stack overflow on entry, and that error belongs to the host realm.
 *
 * Lockdown, in order: capture every intrinsic the runtime uses; remove globals that reach code
 * generation, shared or off-heap memory, weak references and the legacy RegExp statics (which hold the
 * last match, i.e. another run's data); pin stack traces to the user's own frames; wrap the builtins
 * that allocate in bulk with memory checks; turn the data properties that ordinary code overrides on
 * instances (`err.name = ...`, `obj.toString = ...`) into accessors so that freezing does not break
 * them; freeze the global object (an ordinary one: the host creates the context without contextifying
 * it) and everything reachable from it and from the hidden intrinsics. After that nothing shared between
 * runs can hold state.
 */
export const BOOTSTRAP_SOURCE = String.raw`'use strict';
let __ek_start, __ek_pump, __ek_register;
(function install(bridge, options) {
  const codec = (__EK_CODEC__)();
  const G = globalThis;
  const O = Object, R = Reflect, A = Array, S = String;
  const apply = R.apply, construct = R.construct, ownKeys = R.ownKeys, defineProperty = O.defineProperty;
  const gopd = O.getOwnPropertyDescriptor, gopn = O.getOwnPropertyNames, gpo = O.getPrototypeOf, freeze = O.freeze;
  const isArray = A.isArray, jsonParse = JSON.parse, jsonStringify = JSON.stringify;
  const ErrorC = Error, TypeErrorC = TypeError, RangeErrorC = RangeError, FunctionProto = gpo(function () {});
  const captureStackTrace = Error.captureStackTrace;
  const promiseThen = Promise.prototype.then, PromiseC = Promise, promiseReject = Promise.reject;
  const WeakSetC = WeakSet, wsAdd = WeakSet.prototype.add, wsHas = WeakSet.prototype.has;
  const WeakMapC = WeakMap, wmGet = WeakMap.prototype.get, wmSet = WeakMap.prototype.set;
  const MapC = Map, mapGet = Map.prototype.get, mapSet = Map.prototype.set, mapDelete = Map.prototype.delete;
  const SetC = Set, setHas = Set.prototype.has;
  const strSlice = S.prototype.slice, strIndexOf = S.prototype.indexOf;
  const arrayPush = A.prototype.push, arrayJoin = A.prototype.join, arrayIncludes = A.prototype.includes;
  const symIterator = Symbol.iterator;
  const b = bridge;

  function host(fn, x, y, z) {
    try { return fn(x, y, z); } catch { return undefined; }
  }
  // Node reports a realm promise rejected without a handler to the host process, and with
  // --unhandled-rejections=strict it crashes before any listener can intervene. Every promise the
  // realm hands out is therefore marked handled at birth; awaiting or catching it still works.
  const noop = () => {};
  const reflectDefine = R.defineProperty, reflectDelete = R.deleteProperty;
  const UNDEFINED_CONSTRUCTOR = { value: undefined, writable: true, enumerable: false, configurable: true };
  // then() looks up p.constructor[Symbol.species], which can be a script's getter (a subclass) or the
  // marking Promise below. A temporary own constructor of undefined makes it use the intrinsic Promise:
  // no script code runs while marking, and marking never recurses. A promise that is already
  // non-extensible at this point was made elsewhere and marked when it was made.
  function markHandled(p) {
    try {
      if (reflectDefine(p, 'constructor', UNDEFINED_CONSTRUCTOR)) {
        try { apply(promiseThen, p, [undefined, noop]); } finally { reflectDelete(p, 'constructor'); }
      }
    } catch {}
    return p;
  }

  // ---- per-run state -------------------------------------------------------------------------
  let cur = null;
  const CHECK_EVERY = 16384;
  const BLOCKED_KEYS = new SetC(__EK_BLOCKED_KEYS__);
  const toolErrors = new WeakSetC();
  // Public data the host attached to a tool error (HTTP status, retry delay, schema issues), kept as
  // the text the host sent, so what the script does to err.data never reaches the result.
  const toolErrorData = new WeakMapC();
  const errorLocations = new WeakMapC();

  function limitError(name, message) {
    const e = new ErrorC(message);
    defineProperty(e, 'name', { value: name, writable: false, enumerable: false, configurable: false });
    return freeze(e);
  }
  function fatal(run, code, name, message) {
    if (run.fatal === null) {
      run.fatal = { code, message, error: limitError(name, message) };
      if (run.setL) run.setL(-1);
      host(b.fatal, run.id, jsonStringify([code, message, (run.getN ? run.getN() : 0) + run.bulk, run.toolCalls]));
    }
    throw run.fatal.error;
  }
  function checkAlive(run) {
    if (run.fatal !== null) throw run.fatal.error;
    if (run.over) {
      if (run.setL) run.setL(-1);
      if (run.overError === null) run.overError = limitError('RunEndedError', 'The run has ended; detached work does not continue.');
      throw run.overError;
    }
  }
  function checkMemory(run) {
    if (host(b.heap, run.id) === 1) fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', 'Memory limit exceeded: the script allocated more than ' + run.memoryLimit + ' bytes.');
  }
  // Bulk allocations are checked before they happen; 'units' are elements (8 bytes) or characters (2 bytes).
  function chargeElements(count) {
    const run = cur;
    if (run === null) return;
    checkAlive(run);
    if (!(count <= run.maxElements)) fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', 'Memory limit exceeded: this operation needs about ' + count * 8 + ' bytes (' + count + ' elements), more than the ' + run.memoryLimit + '-byte limit.');
    if (count > 65536) checkMemory(run);
  }
  function chargeChars(count) {
    const run = cur;
    if (run === null) return;
    checkAlive(run);
    if (!(count <= run.maxChars)) fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', 'Memory limit exceeded: this operation builds a string of about ' + count + ' characters (' + count * 2 + ' bytes), more than the ' + run.memoryLimit + '-byte limit.');
    if (count > 65536) checkMemory(run);
  }
  function tick(run) {
    if (run !== null) { run.bulk++; if (run.bulk > run.maxIterations) fatal(run, 'MAX_ITERATIONS', 'IterationLimitError', 'Iteration limit of ' + run.maxIterations + ' exceeded.'); }
  }

  // ---- stack traces: only the user's own frames, never a host path -------------------------------
  function prepareStackTrace(err, frames) {
    let head;
    try { head = codecErrorHead(err); } catch { head = 'Error'; }
    const lines = [head];
    let first = null;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      let file, line, col, fn;
      try { file = f.getFileName(); line = f.getLineNumber(); col = f.getColumnNumber(); fn = f.getFunctionName(); } catch { continue; }
      if (file !== 'agentscript.js') continue;
      if (first === null) first = [line, col];
      apply(arrayPush, lines, ['    at ' + (typeof fn === 'string' && fn !== '' && apply(strIndexOf, fn, ['__ek']) !== 0 ? fn : '<anonymous>') + ' (agentscript.js:' + line + ':' + col + ')']);
    }
    if (first !== null && err !== null && (typeof err === 'object' || typeof err === 'function')) {
      try { if (apply(wmGet, errorLocations, [err]) === undefined) apply(wmSet, errorLocations, [err, first]); } catch {}
    }
    return apply(arrayJoin, lines, ['\n']);
  }
  function codecErrorHead(err) {
    const name = readErrorField(err, 'name');
    const message = readErrorField(err, 'message');
    const n = name === undefined ? 'Error' : name;
    return message === undefined || message === '' ? n : n + ': ' + message;
  }

  // ---- override-friendly frozen prototypes --------------------------------------------------------
  const enablementGetters = new WeakSetC();
  codec.setSafeGetter((g) => apply(wsHas, enablementGetters, [g]));
  function enable(proto, key) {
    const d = gopd(proto, key);
    if (!d || !('value' in d)) return;
    const value = d.value;
    const getter = { get [key]() { return value; } };
    const get = gopd(getter, key).get;
    const setter = { set [key](v) {
      if (this === proto) throw new TypeErrorC('Cannot assign to read-only property ' + S(key) + ' of a shared prototype');
      defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
    } };
    const set = gopd(setter, key).set;
    apply(wsAdd, enablementGetters, [get]);
    defineProperty(proto, key, { get, set, enumerable: d.enumerable, configurable: false });
  }
  function readErrorField(err, key) {
    let o = err;
    for (let hops = 0; o !== null && (typeof o === 'object' || typeof o === 'function') && hops < 32; hops++) {
      let d;
      try { d = gopd(o, key); } catch { return undefined; }
      if (d) {
        let v;
        if ('value' in d) v = d.value;
        else if (d.get && apply(wsHas, enablementGetters, [d.get])) v = apply(d.get, o, []);
        else return undefined;
        return typeof v === 'string' ? (v.length > 4000 ? apply(strSlice, v, [0, 4000]) + '...' : v) : v === undefined ? undefined : safeString(v);
      }
      try { o = gpo(o); } catch { return undefined; }
    }
    return undefined;
  }
  function safeString(v) {
    switch (typeof v) {
      case 'string': return v;
      case 'number': case 'boolean': case 'bigint': case 'undefined': return S(v);
      case 'symbol': return 'Symbol()';
      default: return v === null ? 'null' : typeof v === 'function' ? '[function]' : '[object]';
    }
  }

  // ---- memory-checked builtins ---------------------------------------------------------------
  function wrap(obj, key, make) {
    const d = gopd(obj, key);
    if (!d || typeof d.value !== 'function') return;
    const original = d.value;
    const replacement = make(original);
    defineProperty(replacement, 'name', { value: original.name });
    defineProperty(replacement, 'length', { value: original.length });
    defineProperty(obj, key, { value: replacement, writable: d.writable, enumerable: d.enumerable, configurable: d.configurable });
  }
  const SP = S.prototype, AP = A.prototype;
  function toLen(v) { const n = +v; return n > 0 ? (n === Infinity ? Infinity : n - (n % 1)) : 0; }
  wrap(SP, 'repeat', (orig) => ({ repeat(count) { const s = S(this); chargeChars(s.length * toLen(count)); return apply(orig, s, [count]); } }).repeat);
  wrap(SP, 'padStart', (orig) => ({ padStart(n, f) { chargeChars(toLen(n)); return apply(orig, this, [n, f]); } }).padStart);
  wrap(SP, 'padEnd', (orig) => ({ padEnd(n, f) { chargeChars(toLen(n)); return apply(orig, this, [n, f]); } }).padEnd);
  wrap(SP, 'concat', (orig) => ({ concat(...parts) { let n = S(this).length; for (let i = 0; i < parts.length; i++) { parts[i] = S(parts[i]); n += parts[i].length; } chargeChars(n); return apply(orig, this, parts); } }).concat);
  function replacementBound(s, replacement) {
    if (typeof replacement !== 'string') return s.length;
    const quadratic = apply(strIndexOf, replacement, ['$' + String.fromCharCode(96)]) !== -1 || apply(strIndexOf, replacement, ["$'"]) !== -1;
    return s.length + (s.length + 1) * replacement.length * (quadratic ? s.length + 1 : 1);
  }
  function wrapReplacer(fn) {
    if (typeof fn !== 'function') return fn;
    let total = 0;
    return function (...args) { const r = S(apply(fn, undefined, args)); total += r.length; chargeChars(total); return r; };
  }
  // Output of a string replacement, charged before it is built: exact for string patterns (occurrences
  // counted first), pessimistic for regex patterns (every position may match). One native call builds
  // the whole output, so a post-check would come after the host heap was already spent.
  function chargeReplacement(str, pattern, r, all) {
    const run = cur;
    if (run === null) return;
    let bound = replacementBound(str, r);
    if (bound <= 65536) return;
    if (typeof pattern === 'string') {
      let count = 0;
      if (pattern.length > 0) { for (let i = apply(strIndexOf, str, [pattern]); i !== -1; i = apply(strIndexOf, str, [pattern, i + pattern.length])) { count++; if (!all) break; } }
      else count = all ? str.length + 1 : 1;
      bound = str.length + count * (r.length + pattern.length);
    }
    chargeChars(bound);
  }
  for (const key of ['replace', 'replaceAll']) {
    wrap(SP, key, (orig) => ({ [key](pattern, replacement) {
      const s = S(this);
      if (typeof replacement === 'function') return apply(orig, s, [pattern, wrapReplacer(replacement)]);
      const r = S(replacement);
      chargeReplacement(s, pattern, r, key === 'replaceAll');
      return apply(orig, s, [pattern, r]);
    } })[key]);
  }
  wrap(SP, 'split', (orig) => ({ split(sep, limit) { const s = S(this); if (typeof sep === 'string' && sep !== '') chargeElements(s.length / sep.length + 1); else chargeElements(s.length); return apply(orig, s, [sep, limit]); } }).split);
  // The receiver a native array method may use. A real array's length is managed by the engine (no
  // script code runs when it is read; proxies of arrays do not exist, see Proxy below), so it is checked
  // in place. Anything else (an array-like, a string) could report one length to the check and another
  // to the native, so read-only methods run on a bounded snapshot and mutating ones are refused.
  function receiver(self, mutating) {
    if (isArray(self)) { const len = self.length; if (len > 65536) chargeElements(len); return self; }
    if (mutating) throw new TypeErrorC('This array method is not available on array-like objects in AgentScript; copy it with Array.from(x) first.');
    const len = toLen(self.length);
    if (len > 65536) chargeElements(len);
    const copy = [];
    copy.length = len;
    for (let i = 0; i < len; i++) if (i in self) copy[i] = self[i];
    return copy;
  }
  wrap(AP, 'join', (orig) => ({ join(sep) {
    const run = cur;
    tick(run);
    const self = run === null ? this : receiver(this, false);
    const len = toLen(self.length);
    const sepLen = sep === undefined ? 1 : S(sep).length;
    if (run !== null) {
      chargeChars(len > 0 ? (len - 1) * sepLen : 0);
      const out = apply(orig, self, [sep]);
      chargeChars(out.length);
      return out;
    }
    return apply(orig, this, [sep]);
  } }).join);
  wrap(AP, 'fill', (orig) => ({ fill(value, start, end) { const self = receiver(this, true); chargeElements(self.length); return apply(orig, self, [value, start, end]); } }).fill);
  const symSpreadable = Symbol.isConcatSpreadable;
  wrap(AP, 'concat', (orig) => ({ concat(...items) {
    const self = receiver(this, false);
    let n = self.length;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (isArray(it)) n += it.length;
      else if (it !== null && typeof it === 'object' && it[symSpreadable]) throw new TypeErrorC('concat of spreadable array-likes is not available in AgentScript; copy them with Array.from(x) first.');
      else n += 1;
    }
    chargeElements(n);
    return apply(orig, self, items);
  } }).concat);
  for (const key of ['toSorted', 'toReversed', 'toSpliced', 'with', 'keys', 'values', 'entries']) {
    wrap(AP, key, (orig) => ({ [key]() { const self = receiver(this, false); chargeElements(self.length); return apply(orig, self, arguments); } })[key]);
  }
  // Array methods that walk 0..length. On a sparse array or an array-like with a huge length, V8 runs
  // some of them as C++ loops that do not honour termination, so not even the watchdog stops them:
  // they refuse lengths past the run's element budget, and large inputs trigger a heap check (copies
  // such as slice or map in a short loop can outgrow the heap between checkpoints).
  for (const key of ['copyWithin', 'every', 'filter', 'find', 'findIndex', 'findLast', 'findLastIndex', 'flatMap', 'forEach', 'includes',
    'indexOf', 'lastIndexOf', 'map', 'reduce', 'reduceRight', 'reverse', 'shift', 'slice', 'some', 'sort', 'splice', 'toLocaleString', 'unshift']) {
    const mutating = key === 'copyWithin' || key === 'reverse' || key === 'shift' || key === 'sort' || key === 'splice' || key === 'unshift';
    wrap(AP, key, (orig) => ({ [key]() { return apply(orig, isArray(this) && this.length <= 65536 ? this : receiver(this, mutating), arguments); } })[key]);
  }
  // String methods that copy (or flatten) their receiver: a large receiver triggers a heap check.
  for (const key of ['trim', 'trimStart', 'trimEnd',
    'indexOf', 'lastIndexOf', 'includes', 'startsWith', 'endsWith', 'localeCompare', 'toWellFormed', 'isWellFormed', 'at', 'charAt', 'charCodeAt', 'codePointAt', 'slice', 'substring', 'substr']) {
    wrap(SP, key, (orig) => ({ [key]() { if (typeof this === 'string' ? this.length > 65536 : true) { const str = S(this); if (str.length > 65536) chargeChars(str.length); return apply(orig, str, arguments); } return apply(orig, this, arguments); } })[key]);
  }
  const stringRaw = S.raw;
  wrap(S, 'raw', () => ({ raw(template, ...subs) {
    // The raw strings are read once, into a bounded copy, so a getter cannot change their count.
    const raw = receiver(template.raw, false);
    chargeElements(raw.length);
    return apply(stringRaw, S, [{ raw }, ...subs]);
  } }).raw);
  // Object helpers copy every index of a string or array source.
  const sourceLength = (v) => (typeof v === 'string' || isArray(v) ? v.length : 0);
  for (const key of ['keys', 'values', 'entries', 'getOwnPropertyNames']) {
    wrap(O, key, (orig) => ({ [key](o) { const n = sourceLength(o); if (n > 65536) chargeElements(n); return apply(orig, O, [o]); } })[key]);
  }
  wrap(O, 'assign', (orig) => ({ assign(target, ...sources) { let n = 0; for (let i = 0; i < sources.length; i++) n += sourceLength(sources[i]); if (n > 65536) chargeElements(n); return apply(orig, O, [target, ...sources]); } }).assign);
  // Single natives that allocate far more than their input in one step, before any checkpoint can run:
  // each is charged an estimate of its output first (per-element overheads of promises (see the realm's
  // Promise below), parsed JSON nodes, match arrays; worst-case expansion of Unicode normalization and
  // case mapping).
  const jsonParse2 = JSON.parse;
  wrap(JSON, 'parse', () => ({ parse(text, reviver) { const t = S(text); if (t.length > 65536) chargeElements(t.length * 2); return apply(jsonParse2, JSON, reviver === undefined ? [t] : [t, reviver]); } }).parse);
  const NORMALIZE_EXPANSION = { NFC: 3, NFD: 4, NFKC: 18, NFKD: 18 };
  wrap(SP, 'normalize', (orig) => ({ normalize(form) { const str = S(this); const f = form === undefined ? 'NFC' : S(form); if (str.length > 4096) chargeChars(str.length * (NORMALIZE_EXPANSION[f] || 18)); return apply(orig, str, form === undefined ? [] : [form]); } }).normalize);
  for (const key of ['toUpperCase', 'toLowerCase', 'toLocaleUpperCase', 'toLocaleLowerCase']) {
    wrap(SP, key, (orig) => ({ [key]() { const str = S(this); if (str.length > 65536) chargeChars(str.length * 3); return apply(orig, str, arguments); } })[key]);
  }
  for (const key of ['encodeURIComponent', 'encodeURI', 'decodeURIComponent', 'decodeURI']) {
    const orig = G[key];
    if (typeof orig !== 'function') continue;
    const factor = key[0] === 'e' ? 9 : 1;
    G[key] = { [key](v) { const str = S(v); if (str.length > 16384) chargeChars(str.length * factor); return apply(orig, undefined, [str]); } }[key];
  }
  // RegExp methods behind match, matchAll, replace, search and split: also reachable directly.
  const RP = RegExp.prototype;
  for (const sym of [Symbol.match, Symbol.matchAll, Symbol.split]) {
    wrap(RP, sym, (orig) => function (string, limit) { const str = S(string); if (str.length > 65536) chargeElements(str.length); return apply(orig, this, arguments.length > 1 ? [str, limit] : [str]); });
  }
  wrap(RP, Symbol.replace, (orig) => function (string, replacement) {
    const str = S(string);
    if (typeof replacement === 'function') return apply(orig, this, [str, wrapReplacer(replacement)]);
    const r = S(replacement);
    chargeReplacement(str, this, r, true);
    return apply(orig, this, [str, r]);
  });
  // Strings iterate by code point through this: spreads, for-of, destructuring with a rest element.
  wrap(SP, symIterator, (orig) => function () { const str = S(this); if (str.length > 65536) chargeElements(str.length); return apply(orig, str, []); });
  // Arguments lists are built in one uninterruptible step from an array-like of any length.
  const fnApply = FunctionProto.apply, reflectApply = R.apply, reflectConstruct = R.construct;
  const MAX_ARGUMENTS = 65536;
  function checkArgs(args) {
    if (args === null || args === undefined) return;
    const len = toLen(args.length);
    if (len > MAX_ARGUMENTS) throw new RangeErrorC('Too many arguments (' + len + '): AgentScript allows at most ' + MAX_ARGUMENTS + ' in one call.');
  }
  wrap(FunctionProto, 'apply', () => ({ apply(thisArg, args) { checkArgs(args); return apply(fnApply, this, [thisArg, args]); } }).apply);
  wrap(R, 'apply', () => ({ apply(target, thisArg, args) { checkArgs(args); return apply(reflectApply, R, [target, thisArg, args]); } }).apply);
  wrap(R, 'construct', () => ({ construct(target, args, newTarget) { checkArgs(args); return apply(reflectConstruct, R, arguments.length > 2 ? [target, args, newTarget] : [target, args]); } }).construct);
  const arrayValues = AP.values;
  defineProperty(AP, symIterator, { value: arrayValues, writable: true, enumerable: false, configurable: true });
  wrap(AP, 'flat', (orig) => ({ flat(depth) {
    const run = cur;
    if (run !== null) {
      // Count what flattening would produce, ticking per array visited: a DAG of shared arrays would
      // otherwise expand exponentially inside one native call.
      const d = depth === undefined ? 1 : toLen(depth);
      let total = 0;
      const walk = (arr, level) => { tick(run); const n = toLen(arr.length); for (let i = 0; i < n; i++) { const x = arr[i]; if (level < d && isArray(x)) walk(x, level + 1); else { total++; if (total > run.maxElements) chargeElements(total); } } };
      const self = receiver(this, false);
      walk(self, 0);
      return apply(orig, self, [depth]);
    }
    return apply(orig, this, [depth]);
  } }).flat);
  const arrayFrom = A.from;
  wrap(A, 'from', () => ({ from(items, mapFn, thisArg) {
    if (items !== null && items !== undefined && typeof items[symIterator] !== 'function') items = receiver(items, false);
    else if (items !== null && items !== undefined && !isArray(items) && typeof items !== 'string') items = counted(items);
    else if (items !== null && items !== undefined) chargeElements(toLen(items.length));
    return mapFn === undefined ? apply(arrayFrom, this, [items]) : apply(arrayFrom, this, [items, mapFn, thisArg]);
  } }).from);
  function counted(iterable) {
    const run = cur;
    return { *[symIterator]() { let n = 0; for (const v of iterable) { n++; if (run !== null && n > run.maxElements) chargeElements(n); tick(run); yield v; } } };
  }
  const stringify = JSON.stringify;
  wrap(JSON, 'stringify', () => ({ stringify(value, replacer, space) {
    const run = cur;
    if (run !== null && value !== null && typeof value === 'object') {
      // Estimate the output before producing it: repeated references to one big value multiply.
      let size = 0;
      const seen = [];
      const walk = (v, depth) => {
        tick(run);
        if (typeof v === 'string') { size += v.length + 2; }
        else if (v === null || typeof v !== 'object') { size += 8; }
        else {
          if (depth > 512) return;
          for (let i = 0; i < seen.length; i++) if (seen[i] === v) return;
          apply(arrayPush, seen, [v]);
          const ks = isArray(v) ? null : O.keys(v);
          if (ks === null) { const n = toLen(v.length); size += n; for (let i = 0; i < n; i++) walk(v[i], depth + 1); }
          else { for (let i = 0; i < ks.length; i++) { size += ks[i].length + 4; const d = gopd(v, ks[i]); if (d && 'value' in d) walk(d.value, depth + 1); } }
          seen.length--;
        }
        if (size > run.maxChars) chargeChars(size);
      };
      walk(value, 0);
    }
    const out = apply(stringify, JSON, [value, replacer, space]);
    if (typeof out === 'string') chargeChars(out.length);
    return out;
  } }).stringify);

  // ---- locking --------------------------------------------------------------------------------
  const REMOVE = ['eval', 'Function', 'globalThis', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'WeakRef', 'FinalizationRegistry',
    'ArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
    'Float16Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'escape', 'unescape', 'console', 'ShadowRealm'];
  const hidden = [
    gpo(function* () {}), gpo(gpo(function* () {})), gpo(async function () {}), gpo(async function* () {}), gpo(gpo(async function* () {})),
    gpo([][symIterator]()), gpo(gpo([][symIterator]())), gpo(new MapC().entries()), gpo(new SetC().values()), gpo(''[symIterator]()),
    gpo(''.matchAll(/x/g)), gpo(gpo(async function* () {}).prototype), gopd(FunctionProto, 'caller') ? gopd(FunctionProto, 'caller').get : null,
    gpo(Int8Array), gpo(Int8Array.prototype),
  ];
  // Prototypes that only exist once an object of their kind is made are not reachable from the global
  // object: freeze them explicitly.
  try { if (typeof Iterator === 'function' && typeof AP.values.call([]).map === 'function') {
    apply(arrayPush, hidden, [gpo([].values().map((x) => x))]);
    if (typeof Iterator.from === 'function') apply(arrayPush, hidden, [gpo(Iterator.from({ next() { return { done: true }; } }))]);
  } } catch {}
  if (options.intl) {
    try {
      const segments = new Intl.Segmenter().segment('ab');
      apply(arrayPush, hidden, [gpo(segments), gpo(segments[symIterator]())]);
    } catch {}
  }
  // A proxy of an array passes Array.isArray while its traps run script code on every read of length,
  // which would defeat the receiver checks above. Levels whose dialect has no Proxy do not keep it; where
  // it is kept, it refuses array targets.
  if (!options.proxy) apply(arrayPush, REMOVE, ['Proxy']);
  else {
    const ProxyC = Proxy, revocable = Proxy.revocable;
    const refuseArray = (target) => { if (isArray(target)) throw new TypeErrorC('Proxies of arrays are not available in AgentScript.'); };
    const SafeProxy = function Proxy(target, handler) {
      if (new.target === undefined) throw new TypeErrorC("Constructor Proxy requires 'new'");
      refuseArray(target);
      return construct(ProxyC, [target, handler]);
    };
    defineProperty(SafeProxy, 'revocable', { value: { revocable(target, handler) { refuseArray(target); return apply(revocable, ProxyC, [target, handler]); } }.revocable, writable: true, configurable: true });
    defineProperty(G, 'Proxy', { value: SafeProxy, writable: true, enumerable: false, configurable: true });
  }
  // Levels whose dialect has no Intl do not keep it: one less graph to freeze, and less surface.
  if (!options.intl) apply(arrayPush, REMOVE, ['Intl']);
  for (const k of REMOVE) { try { delete G[k]; } catch {} }
  for (const k of ['$1', '$2', '$3', '$4', '$5', '$6', '$7', '$8', '$9', 'input', '$_', 'lastMatch', '$&', 'lastParen', '$+', 'leftContext', '$' + String.fromCharCode(96), 'rightContext', "$'"]) {
    try { delete RegExp[k]; } catch {}
  }
  defineProperty(ErrorC, 'prepareStackTrace', { value: prepareStackTrace, writable: false, enumerable: false, configurable: false });
  defineProperty(ErrorC, 'stackTraceLimit', { value: 16, writable: false, enumerable: false, configurable: false });

  // structuredClone is not part of a vm realm; this one is the realm's own codec round trip, so it
  // copies exactly what crosses the bridge (no getters run, functions become undefined) under the
  // run's memory limit.
  defineProperty(G, 'structuredClone', { value: { structuredClone(value) {
    const run = cur;
    const text = codec.encode(value, { maxBytes: run === null ? 1048576 : run.maxChars, maxDepth: 256, getters: false, toJSON: false });
    if (typeof text !== 'string') {
      if (run !== null && text === -1) fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', 'Memory limit exceeded: structuredClone of a value larger than the memory limit allows.');
      throw new RangeErrorC('structuredClone: the value is nested too deeply.');
    }
    if (run !== null) chargeChars(text.length);
    return codec.decode(text);
  } }.structuredClone, writable: true, enumerable: false, configurable: true });

  const OP = O.prototype;
  for (const k of ['toString', 'toLocaleString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'constructor']) enable(OP, k);
  for (const E of [ErrorC, TypeErrorC, RangeErrorC, SyntaxError, ReferenceError, URIError, EvalError, AggregateError]) {
    for (const k of ['name', 'message', 'toString', 'constructor']) enable(E.prototype, k);
  }
  for (const k of ['toString', 'name']) enable(FunctionProto, k);
  {
    const PP = PromiseC.prototype;
    wrap(PP, 'then', (orig) => ({ then(onFulfilled, onRejected) { return markHandled(apply(orig, this, [onFulfilled, onRejected])); } }).then);
    const SafePromise = function Promise(executor) {
      if (new.target === undefined) throw new TypeErrorC("Promise constructor cannot be invoked without 'new'");
      return markHandled(construct(PromiseC, [executor], new.target === SafePromise ? PromiseC : new.target));
    };
    defineProperty(SafePromise, 'prototype', { value: PP, writable: false, enumerable: false, configurable: false });
    for (const key of ['reject', 'resolve', 'all', 'allSettled', 'any', 'race']) {
      const orig = PromiseC[key];
      if (typeof orig !== 'function') continue;
      // The combinators make several promises and reactions per element in one native step.
      const combinator = key !== 'reject' && key !== 'resolve';
      defineProperty(SafePromise, key, { value: { [key](arg) {
        if (combinator && isArray(arg) && arg.length > 1024) chargeElements(arg.length * 32);
        return markHandled(apply(orig, PromiseC, [arg]));
      } }[key], writable: true, enumerable: false, configurable: true });
    }
    if (typeof PromiseC.withResolvers === 'function') {
      const withResolvers = PromiseC.withResolvers;
      defineProperty(SafePromise, 'withResolvers', { value: { withResolvers() { const r = apply(withResolvers, PromiseC, []); markHandled(r.promise); return r; } }.withResolvers, writable: true, enumerable: false, configurable: true });
    }
    const species = gopd(PromiseC, Symbol.species);
    if (species) defineProperty(SafePromise, Symbol.species, species);
    defineProperty(PP, 'constructor', { value: SafePromise, writable: true, enumerable: false, configurable: true });
    defineProperty(G, 'Promise', { value: SafePromise, writable: true, enumerable: false, configurable: true });
    const AGP = gpo(async function* () {}).prototype;
    for (const key of ['next', 'return', 'throw']) {
      wrap(AGP, key, (orig) => ({ [key](v) { return markHandled(apply(orig, this, [v])); } })[key]);
    }
    if (typeof A.fromAsync === 'function') wrap(A, 'fromAsync', (orig) => ({ fromAsync() { return markHandled(apply(orig, this, arguments)); } }).fromAsync);
  }
  enable(Promise.prototype, 'constructor');

  const seen = new SetC();
  const queue = [G, ...hidden];
  while (queue.length > 0) {
    const o = queue.pop();
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || apply(setHas, seen, [o])) continue;
    seen.add(o);
    const ks = ownKeys(o);
    for (let i = 0; i < ks.length; i++) {
      const d = gopd(o, ks[i]);
      if (!d) continue;
      if ('value' in d) apply(arrayPush, queue, [d.value]);
      else { apply(arrayPush, queue, [d.get]); apply(arrayPush, queue, [d.set]); }
    }
    apply(arrayPush, queue, [gpo(o)]);
  }
  // The global object is an ordinary realm object (the host creates the context without
  // contextifying it), so it is frozen like everything else: no run can add, change or delete a global.
  for (const o of seen) freeze(o);
  if (!O.isFrozen(G)) throw new TypeErrorC('the global object could not be frozen');
  const globalCount = gopn(G).length;

  // ---- runs -----------------------------------------------------------------------------------
  function makeToolError(name, message, code, tool, data) {
    const e = new ErrorC(message);
    defineProperty(e, 'name', { value: name, writable: true, enumerable: false, configurable: true });
    defineProperty(e, 'code', { value: code, writable: true, enumerable: true, configurable: true });
    if (tool !== undefined) defineProperty(e, 'tool', { value: tool, writable: true, enumerable: true, configurable: true });
    if (data !== null && typeof data === 'object') {
      apply(wmSet, toolErrorData, [e, jsonStringify(data)]);
      defineProperty(e, 'data', { value: data, writable: true, enumerable: true, configurable: true });
    }
    apply(wsAdd, toolErrors, [e]);
    return e;
  }

  function newRun(cfg) {
    const run = {
      id: cfg.id, maxIterations: cfg.maxIterations, maxCallDepth: cfg.maxCallDepth, maxToolCalls: cfg.maxToolCalls,
      memoryLimit: cfg.memoryLimit, maxChars: cfg.memoryLimit / 2, maxElements: cfg.memoryLimit / 8,
      maxOutputBytes: cfg.maxOutputBytes, maxToolArgsBytes: cfg.maxToolArgsBytes, maxLogBytes: cfg.maxLogBytes, maxLogEntries: cfg.maxLogEntries,
      toolCalls: 0, bulk: 0, logBytes: 0, logEntries: 0, fatal: null, over: false, finished: false,
      overError: null,
      getN: null, setL: null, getD: null, pending: new MapC(), nextId: 0,
    };
    return run;
  }

  function finish(run, kind, value) {
    if (run.finished) return;
    run.finished = true;
    run.over = true;
    if (run.setL) run.setL(-1);
    const stats = (run.getN ? run.getN() : 0) + run.bulk;
    if (run.fatal !== null) { host(b.done, run.id, 'fatal', jsonStringify([run.fatal.code, run.fatal.message, stats, run.toolCalls])); return; }
    if (kind === 'ok') {
      const text = codec.encode(value, { maxBytes: run.maxOutputBytes, maxDepth: 256, getters: false, toJSON: false });
      if (typeof text !== 'string') {
        host(b.done, run.id, 'fatal', jsonStringify([text === -1 ? 'OUTPUT_LIMIT_EXCEEDED' : 'RUNTIME_ERROR', text === -1 ? 'The result is larger than ' + run.maxOutputBytes + ' bytes.' : 'The result is nested too deeply to copy out.', stats, run.toolCalls]));
        return;
      }
      host(b.done, run.id, 'ok', jsonStringify([text, stats, run.toolCalls]));
      return;
    }
    // The script threw: describe the thrown value without running any of its code.
    let name, message, code = null, loc = null, tool = null, data = null;
    if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
      name = readErrorField(value, 'name');
      message = readErrorField(value, 'message');
      if (apply(wsHas, toolErrors, [value])) { code = readErrorField(value, 'code'); tool = readErrorField(value, 'tool'); data = apply(wmGet, toolErrorData, [value]) ?? null; }
      loc = locationOf(value);
      if (name === undefined && message === undefined) {
        const t = codec.encode(value, { maxBytes: 400, maxDepth: 4, getters: false, toJSON: false });
        message = typeof t === 'string' ? 'Uncaught ' + t : 'Uncaught non-error value';
        name = 'Error';
      }
    } else {
      name = 'Error';
      message = 'Uncaught ' + (typeof value === 'string' ? JSON_quote(value) : safeString(value));
    }
    host(b.done, run.id, 'error', jsonStringify([S(name === undefined ? 'Error' : name), S(message === undefined ? '' : message), code, tool, loc, stats, run.toolCalls, data]));
  }
  function JSON_quote(s) { return jsonStringify(s.length > 2000 ? apply(strSlice, s, [0, 2000]) + '...' : s); }

  // Where the script called a tool, so an unhandled tool failure points at the user's own line. The
  // frames are captured at the call (cheap); they are formatted only if the failure goes unhandled.
  const errorSites = new WeakMapC();
  function callSite() {
    const holder = {};
    try { captureStackTrace(holder); return holder; } catch { return null; }
  }
  function withSite(err, site) {
    if (site !== null) { try { apply(wmSet, errorSites, [err, site]); } catch {} }
    return err;
  }
  function locationOf(value) {
    let loc = null;
    try {
      const site = apply(wmGet, errorSites, [value]);
      if (site !== undefined) { void site.stack; loc = apply(wmGet, errorLocations, [site]) || null; }
    } catch {}
    if (loc !== null) return loc;
    // Reading the stack formats it through prepareStackTrace, which records the first user frame.
    try { void value.stack; } catch {}
    try { return apply(wmGet, errorLocations, [value]) || null; } catch { return null; }
  }

  function rejected(err) { return markHandled(apply(promiseReject, PromiseC, [err])); }

  function makeCallTool(run) {
    return function callTool(name, args) {
      checkAlive(run);
      if (typeof name !== 'string') return rejected(makeToolError('ToolError', 'callTool(name, args): name must be a string, got ' + typeof name + '.', 'INVALID_TOOL_CALL'));
      if (name.length > 256) return rejected(makeToolError('ToolError', 'callTool(name, args): a tool name is at most 256 characters.', 'INVALID_TOOL_CALL'));
      run.toolCalls++;
      if (run.toolCalls > run.maxToolCalls) fatal(run, 'MAX_TOOL_CALLS', 'ToolCallLimitError', 'Tool-call limit of ' + run.maxToolCalls + ' exceeded.');
      const argsText = codec.encode(args === undefined ? {} : args, { maxBytes: run.maxToolArgsBytes, maxDepth: 64, getters: false, toJSON: false });
      if (typeof argsText !== 'string') {
        return rejected(makeToolError('ToolError', argsText === -1 ? 'Arguments of "' + name + '" are larger than ' + run.maxToolArgsBytes + ' bytes.' : 'Arguments of "' + name + '" are nested too deeply.', 'INVALID_ARGUMENTS', name));
      }
      const id = ++run.nextId;
      let resolveFn, rejectFn;
      const p = markHandled(new PromiseC((res, rej) => { resolveFn = res; rejectFn = rej; }));
      apply(mapSet, run.pending, [id, { resolve: resolveFn, reject: rejectFn, name, site: callSite() }]);
      const accepted = host(b.call, run.id, id, jsonStringify([name, argsText]));
      if (accepted !== 1) {
        apply(mapDelete, run.pending, [id]);
        checkAlive(run);
        return rejected(makeToolError('ToolError', 'Tool call "' + name + '" could not be started.', 'TOOL_ERROR', name));
      }
      return p;
    };
  }

  function makeConsole(run) {
    const out = {};
    const methods = [['log', 'log'], ['info', 'info'], ['warn', 'warn'], ['error', 'error'], ['debug', 'debug'], ['trace', 'debug'], ['table', 'log'], ['dir', 'log']];
    for (let m = 0; m < methods.length; m++) {
      const method = methods[m][0], level = methods[m][1];
      out[method] = function (...args) {
        checkAlive(run);
        const parts = [];
        for (let i = 0; i < args.length; i++) {
          const a = args[i];
          if (typeof a === 'string') apply(arrayPush, parts, [a]);
          else if (a === null || (typeof a !== 'object' && typeof a !== 'function')) apply(arrayPush, parts, [safeString(a)]);
          else { const t = codec.encode(a, { maxBytes: run.maxLogBytes, maxDepth: 16, getters: false, toJSON: false }); apply(arrayPush, parts, [typeof t === 'string' ? t : '[value too large]']); }
        }
        const line = apply(arrayJoin, parts, [' ']);
        run.logBytes += line.length;
        run.logEntries++;
        if (run.logBytes > run.maxLogBytes || run.logEntries > run.maxLogEntries) {
          fatal(run, 'OUTPUT_LIMIT_EXCEEDED', 'LogLimitError', 'Console output exceeded its cap of ' + run.maxLogEntries + ' entries or ' + run.maxLogBytes + ' bytes.');
        }
        host(b.log, run.id, level, line);
      };
    }
    const error = out.error;
    out.assert = function (condition, ...args) {
      checkAlive(run);
      if (!condition) apply(error, undefined, ['Assertion failed' + (args.length > 0 ? ':' : ''), ...args]);
    };
    return freeze(out);
  }

  function makeRt(run) {
    const rt = {
      L: run.maxIterations < CHECK_EVERY ? run.maxIterations : CHECK_EVERY,
      D: run.maxCallDepth,
      f() {
        checkAlive(run);
        const n = run.getN() + run.bulk;
        if (n > run.maxIterations) fatal(run, 'MAX_ITERATIONS', 'IterationLimitError', 'Iteration limit of ' + run.maxIterations + ' exceeded (loops and function calls count).');
        if (run.getD() > run.maxCallDepth) fatal(run, 'RUNTIME_ERROR', 'CallDepthError', 'Maximum call depth of ' + run.maxCallDepth + ' exceeded.');
        checkMemory(run);
        const next = run.getN() + CHECK_EVERY;
        run.setL(next < run.maxIterations - run.bulk ? next : run.maxIterations - run.bulk);
      },
      c() { checkAlive(run); },
      m(k) {
        if (typeof k === 'number' || typeof k === 'symbol') return k;
        if (typeof k !== 'string') {
          const box = {};
          defineProperty(box, k, { value: 0, enumerable: true, configurable: true });
          k = ownKeys(box)[0];
          if (typeof k === 'symbol') return k;
        }
        if (apply(setHas, BLOCKED_KEYS, [k])) throw new TypeErrorC('Access to the property "' + k + '" is not allowed in AgentScript. Use a Map for arbitrary keys.');
        return k;
      },
      sp(x) {
        if (isArray(x) || typeof x === 'string') { chargeElements(x.length); return x; }
        if (x === null || x === undefined) return x;
        return counted(x);
      },
      big(length, value) { chargeChars(length); return value; },
      am(p) { return markHandled(p); },
      os(x) { if (typeof x === 'string' && x.length > 65536) chargeElements(x.length); return x; },
      bind(getN, setL, getD) { run.getN = getN; run.setL = setL; run.getD = getD; },
    };
    return freeze(rt);
  }

  const factories = new MapC();
  let factorySeq = 0;
  __ek_register = function (factory) {
    if (typeof factory !== 'function') return -1;
    const id = ++factorySeq;
    apply(mapSet, factories, [id, factory]);
    return id;
  };

  __ek_start = function () {
    if (cur !== null) return;
    const cfgText = host(b.begin);
    if (typeof cfgText !== 'string') return;
    const cfg = jsonParse(cfgText);
    const factory = apply(mapGet, factories, [cfg.factory]);
    if (typeof factory !== 'function') return;
    const run = newRun(cfg);
    cur = run;
    let main;
    try {
      const args = [makeRt(run), makeCallTool(run), makeConsole(run), cfg.input === null ? undefined : codec.decode(cfg.input)];
      const globals = cfg.globals === null ? {} : codec.decode(cfg.globals);
      const callTool = args[1];
      for (let i = 0; i < cfg.names.length; i++) {
        const name = cfg.names[i];
        let value = globals[name];
        if (apply(arrayIncludes, cfg.fnNames, [name])) value = { [name]: (...fnArgs) => callTool(name, fnArgs) }[name];
        apply(arrayPush, args, [value]);
      }
      main = apply(factory, undefined, args);
      if (typeof run.getN !== 'function') throw new TypeErrorC('runtime not bound');
    } catch (e) { finish(run, 'error', e); return; }
    let p;
    try { p = main(); } catch (e) { finish(run, 'error', e); return; }
    apply(promiseThen, p, [(v) => finish(run, 'ok', v), (e) => finish(run, 'error', e)]);
  };

  __ek_pump = function () {
    const run = cur;
    if (run === null) return;
    const text = host(b.take, run.id);
    if (typeof text !== 'string' || text === '') return;
    const batch = jsonParse(text);
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i];
      const entry = apply(mapGet, run.pending, [item[0]]);
      if (entry === undefined) continue;
      apply(mapDelete, run.pending, [item[0]]);
      if (item[1] === 1) {
        let v;
        try { v = codec.decode(item[2]); } catch { entry.reject(withSite(makeToolError('ToolError', 'Tool "' + entry.name + '" returned a value that could not be copied.', 'TOOL_ERROR', entry.name), entry.site)); continue; }
        entry.resolve(v);
      } else {
        const info = jsonParse(item[2]);
        entry.reject(withSite(makeToolError(info[0], info[1], info[2], entry.name, info[3]), entry.site));
      }
    }
  };

  // The host ends a run (deadline, abort, fatal) by calling this between turns, never while script
  // code runs; it also verifies that no run left a global behind before the realm is reused.
  return {
    end() { const run = cur; if (run !== null) { run.over = true; if (run.setL) run.setL(-1); } cur = null; },
    forget(id) { apply(mapDelete, factories, [id]); },
    clean() { return gopn(G).length === globalCount; },
  };
})`.replace('__EK_CODEC__', CODEC_SOURCE)
  .replace('__EK_BLOCKED_KEYS__', JSON.stringify(BLOCKED_PROPERTIES));
