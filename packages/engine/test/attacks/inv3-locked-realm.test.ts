/**
 * Invariant 3: the realm is locked before user code runs. Intrinsics are frozen, code generation and
 * shared memory are gone, and nothing the runtime relies on (JSON, Promise, Map, Array methods,
 * iterators, Object.defineProperty) can be redefined: tools, console and the result still work after
 * every tampering attempt, and the next tenant (same realm) sees pristine intrinsics.
 */
import { describe, expect } from 'vitest';
import type { Attack } from '../helpers.js';
import { ADAPTERS, LEVEL_ADAPTERS, isBugRow, itBug, runAttack } from '../helpers.js';

const TAMPER = ['RUNTIME_ERROR', 'VALIDATION_ERROR'] as const;

/** Tampers, swallowing the TypeError, then checks that the runtime's own paths still work. */
const tamperThenUse = (label: string, tamper: string): Attack => ({
  name: `tamper with ${label}, then call tools, log and return`,
  code: `let blocked = false;
try { ${tamper} } catch (e) { blocked = e instanceof TypeError; }
const r = await callTool('echo', { list: [1, 2], m: 'x' });
console.log('after', r.list.length);
return { blocked, echoed: r, arr: [1, 2, 3].map((x) => x + 1), json: JSON.stringify({ a: 1 }) };`,
  expect: ['OK', ...TAMPER],
  check: (r, { kit }) => {
    if (!r.success) return;
    expect(r.value).toEqual({ blocked: true, echoed: { list: [1, 2], m: 'x' }, arr: [2, 3, 4], json: '{"a":1}' });
    expect(r.logs?.map((l) => l.message)).toEqual(['after 2']);
    expect(kit.calls.map((c) => c.name)).toEqual(['echo']);
  },
});

const absent = (names: readonly string[]): Attack => ({
  name: `dangerous globals are absent: ${names.join(', ')}`,
  code: `return [${names.map((n) => `typeof ${n}`).join(', ')}];`,
  expect: ['OK', 'VALIDATION_ERROR'],
  check: (r) => {
    if (r.success) expect(r.value).toEqual(names.map(() => 'undefined'));
  },
});

export const ATTACKS: readonly Attack[] = [
  tamperThenUse('Object.prototype (pollution)', 'Object.prototype.polluted = 1;'),
  tamperThenUse('Object.prototype through __proto__', '({}).__proto__.polluted = 1;'),
  tamperThenUse('Object.prototype through a computed __proto__ key', "const k = '__pro' + 'to__'; ({})[k].polluted = 1;"),
  tamperThenUse('Object.prototype through Object.getPrototypeOf', 'Object.getPrototypeOf({}).polluted = 1;'),
  tamperThenUse('Object.prototype.then (make every object a thenable)', "Object.defineProperty(Object.prototype, 'then', { get() { callTool('echo', { hijack: 1 }); return undefined; } });"),
  tamperThenUse('Array.prototype.push', "Array.prototype.push = function () { callTool('echo', { hijack: 1 }); return 0; };"),
  tamperThenUse('Array.prototype.map and join', 'Array.prototype.map = () => []; Array.prototype.join = () => "";'),
  tamperThenUse('Array.prototype[Symbol.iterator]', "Array.prototype[Symbol.iterator] = function* () { yield 'evil'; };"),
  tamperThenUse('JSON.parse', 'JSON.parse = () => ({ hijacked: true });'),
  tamperThenUse('JSON.stringify', "JSON.stringify = () => '\"hijacked\"';"),
  tamperThenUse('Promise.prototype.then', 'Promise.prototype.then = function () { return 42; };'),
  tamperThenUse('Promise.resolve and the Promise species', 'Promise.resolve = () => 42; Object.defineProperty(Promise, Symbol.species, { value: function () {} });'),
  tamperThenUse('Map.prototype.get / set', 'Map.prototype.get = () => undefined; Map.prototype.set = function () { return this; };'),
  tamperThenUse('WeakMap / WeakSet prototypes', 'WeakMap.prototype.get = () => 1; WeakSet.prototype.has = () => true;'),
  tamperThenUse('Object.defineProperty itself', 'Object.defineProperty = () => { throw new Error("hijacked"); };'),
  tamperThenUse('Reflect.apply', 'Reflect.apply = () => 42;'),
  tamperThenUse('Function.prototype.call / apply / bind', 'const FP = Object.getPrototypeOf(() => 1); FP.call = () => 42; FP.apply = () => 42; FP.bind = () => 42;'),
  tamperThenUse('Symbol.iterator (the well-known symbol)', "Symbol.iterator = Symbol('fake');"),
  tamperThenUse('String.prototype.repeat / slice', "String.prototype.repeat = () => 'x'; String.prototype.slice = () => '';"),
  tamperThenUse('Error.prototype.toString and name', "Error.prototype.toString = () => 'hijacked'; Error.prototype.name = 'Hijacked';"),
  tamperThenUse('Object.prototype.toString / valueOf', "Object.prototype.toString = () => 'hijacked';"),
  tamperThenUse('deleting Array.prototype.map', 'delete Array.prototype.map; if (typeof [].map !== "function") throw new TypeError("gone");'),
  tamperThenUse('Object.setPrototypeOf(Object.prototype, ...)', 'Object.setPrototypeOf(Array.prototype, { polluted: 1 });'),
  tamperThenUse('Reflect.setPrototypeOf / Reflect.set on intrinsics (returns false)', 'if (!Reflect.set(Object.prototype, "polluted", 1) || !Reflect.setPrototypeOf(Array.prototype, null)) throw new TypeError("refused");'),
  tamperThenUse('Date.prototype.toJSON and Date.now', 'Date.prototype.toJSON = () => "x"; Date.now = () => 0;'),
  tamperThenUse('Math (a namespace object)', 'Math.max = () => 0; Math.random = () => 0;'),
  tamperThenUse('the array iterator prototype (%ArrayIteratorPrototype%.next)', 'Object.getPrototypeOf([][Symbol.iterator]()).next = () => ({ done: true });'),
  tamperThenUse('%IteratorPrototype%', 'Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())).polluted = 1;'),
  tamperThenUse('the generator prototype', 'Object.getPrototypeOf(Object.getPrototypeOf((function* () {})())).next = () => ({ done: true });'),
  tamperThenUse('the async generator prototype', 'Object.getPrototypeOf(Object.getPrototypeOf((async function* () {})())).next = () => 1;'),
  tamperThenUse('the Map / Set / String / RegExp-string iterator prototypes', "Object.getPrototypeOf(new Map().entries()).next = () => 1; Object.getPrototypeOf(new Set().values()).next = () => 1; Object.getPrototypeOf(''[Symbol.iterator]()).next = () => 1; Object.getPrototypeOf('a'.matchAll(/a/g)).next = () => 1;"),
  tamperThenUse('the AsyncFunction prototype', 'Object.getPrototypeOf(async () => 1).polluted = 1;'),
  tamperThenUse('console (the runtime-provided object)', "console.log = () => callTool('echo', { hijack: 1 });"),
  tamperThenUse('Error.captureStackTrace and Error.stackTraceLimit', 'Error.captureStackTrace = () => 1; Error.stackTraceLimit = 0;'),
  {
    name: 'rebinding global names (Math, JSON, Object) fails',
    code: `const out = [];
try { Math = null; out.push('rebound'); } catch (e) { out.push(e.name); }
try { JSON = null; out.push('rebound'); } catch (e) { out.push(e.name); }
try { Object = null; out.push('rebound'); } catch (e) { out.push(e.name); }
return [out, typeof Math.max, JSON.stringify([1])];`,
    expect: ['OK', ...TAMPER],
    validation: 'reject',
    check: (r) => {
      if (r.success) expect(r.value).toEqual([['TypeError', 'TypeError', 'TypeError'], 'function', '[1]']);
    },
  },
  {
    name: 'shadowing JSON / Object / Promise locally does not change how the runtime copies the result',
    code: `var JSON = { stringify: () => 'fake', parse: () => 'fake' }; var Promise = function () {}; var Object = { keys: () => [] };
const r = await callTool('echo', { a: 1 }); return { r, n: [1, 2] };`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r) => {
      if (r.success) expect(r.value).toEqual({ r: { a: 1 }, n: [1, 2] });
    },
  },
  {
    name: 'reassigning callTool / console inside the run only affects that run',
    code: `callTool = async () => 'fake'; console = { log: () => 1 }; return await callTool('echo', { a: 1 });`,
    expect: ['OK', 'VALIDATION_ERROR', 'RUNTIME_ERROR'],
    validation: 'reject',
  },
  absent(['eval', 'Function', 'globalThis', 'WebAssembly', 'SharedArrayBuffer', 'Atomics']),
  absent(['WeakRef', 'FinalizationRegistry', 'ArrayBuffer', 'DataView', 'Uint8Array', 'Float64Array']),
  absent(['process', 'require', 'module', 'Buffer', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'fetch', 'escape', 'ShadowRealm']),
  {
    name: 'no way to the global object: sloppy `this`, indirect calls, getters',
    code: `const a = (function () { return this; })(); const b = (0, function () { return this; })(); const c = (() => this)(); const d = { get g() { return this; } }.g;
return [typeof a, typeof b, typeof c, d === undefined ? 'u' : Object.keys(d).join(',')];`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r) => {
      if (r.success) expect(r.value).toEqual(['undefined', 'undefined', 'undefined', 'g']);
    },
  },
  {
    name: 'RegExp legacy statics ($1, lastMatch, input, $&) do not exist',
    code: `/(secret)-(\\d+)/.exec('my secret-42');
return [RegExp.$1, RegExp.lastMatch, RegExp.input, RegExp['$' + '&'], RegExp.leftContext, RegExp.lastParen].map((v) => typeof v);`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r) => {
      if (r.success) expect(r.value).toEqual(Array(6).fill('undefined'));
    },
  },
  {
    name: 'every intrinsic reachable from the global names is frozen',
    code: `const maybe = (read) => { try { return read(); } catch (e) { return null; } };
const roots = [Object, Array, String, Number, Boolean, Symbol, BigInt, Math, JSON, Date, RegExp, Map, Set, WeakMap, WeakSet, Promise, Error, TypeError, RangeError, SyntaxError, ReferenceError, URIError, EvalError, AggregateError, maybe(() => Reflect), maybe(() => Proxy), maybe(() => Intl), parseInt, encodeURIComponent,
  Object.getPrototypeOf(function* () {}), Object.getPrototypeOf(async function () {}), Object.getPrototypeOf(async function* () {}), Object.getPrototypeOf([][Symbol.iterator]()), Object.getPrototypeOf(new Map().entries()), Object.getPrototypeOf(new Set().values()), Object.getPrototypeOf(''[Symbol.iterator]()), Object.getPrototypeOf('a'.matchAll(/a/g))];
const seen = new Set(); const queue = roots.slice(); const open = [];
while (queue.length > 0 && seen.size < 20000) {
  const o = queue.pop();
  if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
  seen.add(o);
  if (!Object.isFrozen(o)) open.push(Object.prototype.toString.call(o) + ' ' + String(o.name ?? ''));
  for (const k of Reflect.ownKeys(o)) { const d = Object.getOwnPropertyDescriptor(o, k); if (d) queue.push(d.value, d.get, d.set); }
  queue.push(Object.getPrototypeOf(o));
}
return [seen.size > 100, open];`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r) => {
      if (r.success) expect(r.value).toEqual([true, []]);
    },
  },
  {
    name: 'hidden intrinsics created on demand (Intl.Segmenter %Segments% / %SegmentIterator% prototypes) are frozen',
    code: `if (typeof Intl === 'undefined') return 'no Intl at this level';
const segs = new Intl.Segmenter().segment('ab');
const protos = [Reflect.getPrototypeOf(segs), Reflect.getPrototypeOf(segs[Symbol.iterator]())];
return protos.map((p) => Object.isFrozen(p));`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r) => {
      if (r.success && r.value !== 'no Intl at this level') expect(r.value).toEqual([true, true]);
    },
  },
  {
    name: 'code generation stays off even through the realm Function reached by descriptor',
    code: `const F = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(() => 1), 'constructor').value;
const out = [];
for (const src of ['return 1', '', 'globalThis.x = 1']) { try { F(src); out.push('compiled'); } catch (e) { out.push(e.name); } }
return out;`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r) => {
      if (r.success) expect(r.value).toEqual(['EvalError', 'EvalError', 'EvalError']);
    },
  },
  {
    name: 'an instance may override toString / name (override-friendly freeze) without touching the prototype',
    code: `const e = new Error('m'); e.name = 'Custom'; const o = { a: 1 }; o.toString = () => 'mine';
return [String(e), String(o), String(new Error('z')), String({})];`,
    expect: ['OK', 'VALIDATION_ERROR'],
    validation: 'accept',
    check: (r) => {
      if (r.success) expect(r.value).toEqual(['Custom: m', 'mine', 'Error: z', '[object Object]']);
    },
  },
];

describe.each(ADAPTERS)('invariant 3, the realm is locked [$name]', (adapter) => {
  for (const attack of ATTACKS) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, attack);
    });
  }
});

const LEVEL_SUBSET = ATTACKS.filter((a) => /Object\.prototype \(pollution\)|Promise\.prototype\.then|JSON\.parse|intrinsic reachable|Intl\.Segmenter|dangerous globals are absent: eval/.test(a.name));

describe.each(LEVEL_ADAPTERS)('invariant 3 at other levels [$name]', (adapter) => {
  for (const attack of LEVEL_SUBSET) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, { ...attack, validation: undefined });
    });
  }
});
