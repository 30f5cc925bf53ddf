/**
 * A seeded generator of escape attempts: it composes the known ways to a powerful reference (a
 * constructor reached through a literal, a tool, a console method, a tool result or error, a caught error
 * of every kind, `arguments`, getters, Reflect, Proxy traps, well-known symbols, thenables, stack-trace
 * hooks, toJSON/valueOf/toString, WeakRef and FinalizationRegistry, iterator helpers, Array.fromAsync,
 * structuredClone, tagged templates, `using` scopes whose disposers throw around a stack read at the
 * stack's edge) with one to four steps (`.constructor` chains spelled in many ways,
 * prototypes, descriptors, calls) and a sink (call it with a payload, return it, pass it to a tool, log
 * it, throw it, stash it on a shared prototype for the next tenant).
 *
 * The same seed always gives the same script. Nothing here judges: the test that runs the scripts does,
 * on the host only.
 */
import { prng } from '../prng.js';

/** What a generated script needs to know about the host: the payload an escaped Function runs, the file it writes. */
export interface FuzzTarget {
  /** The host-side canary payload (a Function body). */
  payload: string;
  /** The canary file, which a script that reached `fs` another way would write. */
  file: string;
}

type Rand = () => number;

/** Whether this Node compiles `using` (Node 24); the scripts stay the same draw for draw either way. */
const USING = (() => {
  try {
    return typeof new Function('{ using x = null; }') === 'function';
  } catch {
    return false;
  }
})();

interface Gen {
  r: Rand;
  /** A fresh name for a local. */
  id(prefix: string): string;
}

const int = (r: Rand, n: number): number => Math.floor(r() * n);
function pick<T>(r: Rand, list: readonly T[]): T {
  return list[int(r, list.length)] as T;
}

// ---- names spelled so that no AST rule sees them ----------------------------------------------------------

/** A string expression whose value is `name`, spelled one of many ways. */
export function spell(r: Rand, name: string): string {
  const codes = [...name].map((c) => c.charCodeAt(0));
  const cut = 1 + int(r, Math.max(1, name.length - 1));
  switch (int(r, 8)) {
    case 0:
      return JSON.stringify(name);
    case 1:
      return `String.fromCharCode(${codes.join(', ')})`;
    case 2:
      // Unicode escapes inside a string literal.
      return `'${codes.map((c) => `\\u${c.toString(16).padStart(4, '0')}`).join('')}'`;
    case 3:
      return `[${JSON.stringify(name.slice(0, cut))}, ${JSON.stringify(name.slice(cut))}].join('')`;
    case 4:
      return `${JSON.stringify([...name].toReversed().join(''))}.split('').reverse().join('')`;
    case 5:
      return `\`${name.slice(0, cut)}\${${JSON.stringify(name.slice(cut))}}\``;
    case 6:
      return `[${codes.join(', ')}].map((c) => String.fromCharCode(c)).join('')`;
    default:
      return `${JSON.stringify(name.slice(0, cut))} + ${JSON.stringify(name.slice(cut))}`;
  }
}

/** `v.name` in one of many spellings (computed, identifier escapes, optional chaining). */
export function member(r: Rand, v: string, name: string): string {
  const identifier = /^[A-Za-z_$][\w$]*$/.test(name);
  switch (identifier ? int(r, 5) : 0) {
    case 1:
      return `${v}.${name}`;
    case 2:
      return `${v}?.${name}`;
    case 3:
      // An identifier escape: the parser reads the same name, the text does not show it.
      return `${v}.\\u{${name.charCodeAt(0).toString(16)}}${name.slice(1)}`;
    case 4:
      return `Reflect.get(Object(${v}), ${spell(r, name)})`;
    default:
      return `${v}[${spell(r, name)}]`;
  }
}

// ---- sources: expressions whose value may be powerful ------------------------------------------------------

/** Calls that make the host or the runtime call back into script code with something of theirs. */
const TRIGGERS: readonly ((h: string) => string)[] = [
  (h) => `await callTool('echo', ${h})`,
  (h) => `await callTool('echo', { h: ${h}, list: [${h}] })`,
  (h) => `await callTool(${h}, {})`,
  (h) => `console.log(${h})`,
  (h) => `console.error('%s %o %j %d', ${h}, ${h}, ${h}, ${h})`,
  (h) => `JSON.stringify(${h})`,
  (h) => `JSON.stringify({ a: [${h}] }, null, 2)`,
  (h) => `String(${h})`,
  (h) => `\`\${${h}}\``,
  (h) => `${h} + ''`,
  (h) => `+${h}`,
  (h) => `await ${h}`,
  (h) => `await Promise.resolve(${h})`,
  (h) => `await Promise.all([${h}])`,
  (h) => `await Promise.race([${h}])`,
  (h) => `structuredClone(${h})`,
  (h) => `[...${h}]`,
  (h) => `Array.from(${h})`,
  (h) => `Object.assign({}, ${h})`,
  (h) => `({ ...${h} })`,
  (h) => `new Map(${h})`,
  (h) => `await Array.fromAsync(${h})`,
  (h) => `(async () => { for await (const x of ${h}) {} })()`,
  (h) => `Object.keys(${h})`,
  (h) => `Object.entries(${h})`,
  (h) => `({}) instanceof ${h}`,
  (h) => `Object.fromEntries([[${h}, 1]])`,
  (h) => `${h}.toString()`,
  (h) => `new Error('m', { cause: ${h} }).stack`,
  (h) => `Promise.reject(${h})`,
  (h) => `await callTool('secret', {}).catch(() => ${h})`,
];

/** A function that records its receiver and arguments into `c`, and what it gives back. */
const recorder = (c: string, ret: string) => `function (...a) { ${c}.push(this, a, arguments); return ${ret}; }`;

/** Objects that host or runtime code may call back into, each recording what it was handed into `c`. */
function hook(g: Gen, c: string): string {
  const { r } = g;
  const rec = (ret: string) => recorder(c, ret);
  const forms = [
    () => `{ toJSON: ${rec("'j'")} }`,
    () => `{ toString: ${rec("'s'")}, valueOf: ${rec('1')} }`,
    () => `{ [Symbol.toPrimitive]: ${rec('1')} }`,
    () => `{ then: function (res, rej) { ${c}.push(this, res, rej, arguments); res(1); } }`,
    () => `{ then: function (res, rej) { ${c}.push(this, res, rej); rej(new Error('thenable')); } }`,
    () => `{ get x() { ${c}.push(this, arguments); return 1; }, y: 1 }`,
    () => `{ [Symbol.iterator]: function () { ${c}.push(this, arguments); let n = 0; return { next: function () { ${c}.push(this, arguments); return { done: n++ > 1, value: n }; }, return: ${rec('{ done: true }')} }; } }`,
    () => `{ [Symbol.asyncIterator]: function () { ${c}.push(this, arguments); let n = 0; return { next: async function () { ${c}.push(this, arguments); return { done: n++ > 1, value: n }; } }; } }`,
    () => `{ [Symbol.hasInstance]: ${rec('false')} }`,
    () =>
      `new Proxy({ a: 1, b: [2] }, { get(t, k, rcv) { ${c}.push(t, k, rcv, arguments); return Reflect.get(t, k, rcv); }, getPrototypeOf(t) { ${c}.push(t, arguments); return Reflect.getPrototypeOf(t); }, ownKeys(t) { ${c}.push(t); return Reflect.ownKeys(t); }, getOwnPropertyDescriptor(t, k) { ${c}.push(t, k); return Reflect.getOwnPropertyDescriptor(t, k); }, has(t, k) { ${c}.push(t, k); return Reflect.has(t, k); } })`,
    () => `new Proxy(function () {}, { apply(t, th, a) { ${c}.push(t, th, a, arguments); return 1; }, construct(t, a, nt) { ${c}.push(t, a, nt); return {}; }, get(t, k) { ${c}.push(t, k); return Reflect.get(t, k); } })`,
    () => `new Proxy([1, 2], { get(t, k, rcv) { ${c}.push(k, rcv); return Reflect.get(t, k, rcv); } })`,
    () => `(() => { const e = new Error('m'); try { Object.defineProperty(e, 'message', { get() { ${c}.push(this, arguments); return 'm'; } }); Object.defineProperty(e, 'name', { get() { ${c}.push(this); return 'E'; } }); } catch (x) { ${c}.push(x); } return e; })()`,
    () => `(() => { const o = Object.create(new Proxy({}, { get(t, k, rcv) { ${c}.push(t, k, rcv); return undefined; } })); o.z = 1; return o; })()`,
    () => `Object.defineProperty({ v: 1 }, 'constructor', { get() { ${c}.push(this, arguments); return undefined; }, enumerable: true })`,
  ];
  return pick(r, forms)();
}

/** Things a callback given to a builtin or a tool promise receives. */
const CALLBACK_SINKS: readonly ((f: string) => string)[] = [
  (f) => `[1, 2].map(${f})`,
  (f) => `[2, 1].sort(${f})`,
  (f) => `JSON.parse('{"a":{"b":1}}', ${f})`,
  (f) => `JSON.stringify({ a: 1 }, ${f})`,
  (f) => `await Promise.race([new Promise(${f}), 1])`,
  (f) => `await Promise.resolve(1).then(${f})`,
  (f) => `await callTool('echo', { a: 1 }).then(${f}, ${f})`,
  (f) => `await callTool('secret', {}).then(${f}, ${f})`,
  (f) => `await callTool('nope', {}).catch(${f})`,
  (f) => `await Promise.reject(new Error('x')).catch(${f})`,
  (f) => `await Promise.any([]).catch(${f})`,
  (f) => `'xax'.replace(/a/, ${f})`,
  (f) => `Array.from([1], ${f})`,
  (f) => `Iterator.from([1, 2].values()).map(${f}).toArray()`,
  (f) => `[1, 2].values().filter(${f}).toArray()`,
  (f) => `await Array.fromAsync([1, Promise.resolve(2)], ${f})`,
  (f) => `(${f})\`a\${1}b\${callTool}\``,
  (f) => `new FinalizationRegistry(${f}).register({}, 1)`,
  (f) => `[1].reduce(${f}, 0)`,
  (f) => `new Map([[1, 2]]).forEach(${f})`,
  (f) => `Reflect.apply(${f}, G, [callTool, console])`,
  (f) => `Object.defineProperty({}, 'x', { get: ${f} }).x`,
  (f) => `Array.prototype.map.call({ length: 1, 0: 1 }, ${f})`,
  (f) => `console.log({ toString: ${f} } + '')`,
];

/** The globals a script may name (and some it should not have). */
const GLOBAL_NAMES = ['process', 'require', 'module', 'Buffer', 'global', 'constructor', 'callTool', 'console', 'WebAssembly', 'SharedArrayBuffer', 'Atomics', 'Function', 'eval', 'Iterator', 'Error', 'Proxy', 'Reflect', 'WeakRef', 'FinalizationRegistry', 'structuredClone', 'queueMicrotask', 'setTimeout', 'fetch', 'performance', 'input', 'AsyncFunction', '__proto__', 'Intl', 'AggregateError', 'Promise'];

/** The keys a sink stashes a reached thing under on shared objects, and every script's prelude reads. */
const STASH_KEYS = ['polluted', 'then', 'toJSON', 'map', 'join', 'log', 'stringify', 'max', 'toUpperCase'];

/** Property names worth reading on anything. */
const PROPS = ['constructor', '__proto__', 'caller', 'arguments', 'callee', 'stack', 'cause', 'errors', 'then', 'prototype', 'message', 'name', 'process', 'value', 'get', 'set', 'reason', 'next', 'return', 'throw', 'toJSON', 'global', 'mainModule', 'require', 'host', 'target', 'handler', 'deref', 'description', 'raw'];

/** Expressions (valid in the async body) whose value is a candidate powerful reference. */
function source(g: Gen, depth = 0): string {
  const { r } = g;
  const tool = () => pick(r, ['echo', 'hostObject', 'cyclic', 'thenable', 'deep', 'count', 'slow']);
  const badTool = () => pick(r, ["'secret', {}", "'secretSync', {}", "'secretString', {}", "'secretObject', {}", "'secretCause', {}", "'publicError', {}", "'nope', {}", '1', "Symbol('s')", "'echo', { f() {} }", "'echo', { b: 1n }", "'echo', (() => { const a = {}; a.a = a; return a; })()", "'echo', 1n"]);
  const guardError = () =>
    pick(r, [
      'null.x',
      'undefined()',
      "(() => 1).constructor('return 1')",
      'new Array(-1)',
      "Object.defineProperty(Object.prototype, 'x', { value: 1 })",
      'Array.prototype.x = 1',
      "JSON.parse('{')",
      'structuredClone(() => 1)',
      "Symbol() + ''",
      'BigInt(1.5)',
      "'x'.repeat(-1)",
      'callTool.x = 1',
      'console.x = 1',
      'Object.prototype.__proto__ = {}',
      "(function () { 'use strict'; return arguments.callee; })()",
      "Reflect.construct(() => 1, [])",
      'new (async () => 1)()',
      "Object.setPrototypeOf(Object.prototype, {})",
      "Error.prepareStackTrace = () => 1",
      "Error.stackTraceLimit = Infinity",
      'globalThis.x = 1',
      "(0, eval)('1')",
      "new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))",
      "new SharedArrayBuffer(8)",
      "Atomics.wait(new Int32Array(4), 0, 0, 1)",
      "[].reduce((a, b) => a)",
      "new Intl.DateTimeFormat('xx-invalid-@@')",
      "new Proxy({}, { get() { throw new TypeError('t'); } }).x",
    ]);
  const forms: (() => string)[] = [
    // literals and their constructors
    () => pick(r, ['(() => 1)', '(async () => 1)', '(function* () {})', '(async function* () {})', '(class {})', '({})', '[]', '/x/g', "'s'", '1', 'true', '1n', "Symbol('q')", 'new Date(0)', 'new Map()', 'Promise.resolve(1)', '(function () {})', '(async function () {})']),
    // the bridge and what it hands out
    () => pick(r, ['callTool', 'console', 'console.log', 'console.error', 'console.table', 'G', 'input', 'callTool.bind(null)', 'console.log.bind(console)']),
    () => `await callTool('${tool()}', { a: [1, { b: 2 }] })`,
    () => `(await callTool('${tool()}', {}))?.${pick(r, ['fn', 'widget', 'err', 'map', 'promise', 'proxy', 'getterBox', 'shared', 'buf', 'when', 'regex', 'sym', 'big', 'a', 'self', 'list'])}`,
    () => `callTool('${tool()}', {})`,
    () => `await grabA(() => callTool(${badTool()}))`,
    () => `grab(() => callTool(${badTool()}))`,
    () => `grab(() => ${guardError()})`,
    // stack overflows, plain or at a random depth, inside the bridge or a builtin
    () => `grab(() => { const s = (d) => s(d + 1) + 1; return s(0); })`,
    () => `atDepth(${int(r, 6000)}, () => ${pick(r, ["callTool('echo', { a: [1] })", "console.log('x', { a: 1 })", 'JSON.stringify({ a: [1] })', 'structuredClone({ a: 1 })', "callTool('nope')", 'new Error("e").stack', '[1, 2].map((x) => x)', "String(Symbol('x'))", 'Object.keys({ a: 1 })', guardError()])})`,
    () => `atEdge(() => ${pick(r, ["callTool('echo', { a: [1] })", "console.log('x', { a: 1 })", 'JSON.stringify({ a: [[1]] })', 'structuredClone([1])', "callTool(Symbol())", 'new Error("e").stack', "'a'.localeCompare('b')", 'new Intl.NumberFormat().format(1)', '[3, 1].sort()', guardError()])})`,
    // rejections
    () => `await grabA(() => ${pick(r, ["Promise.reject(new TypeError('x'))", 'Promise.any([])', "Promise.any([Promise.reject(1), callTool('secret', {})])", "Promise.all([callTool('nope')])", 'new Promise(() => { null.x; })', "(async () => { throw new RangeError('r'); })()", "Promise.allSettled([callTool('secret', {})]).then((l) => Promise.reject(l[0].reason))", "import('node:fs')", "Array.fromAsync({ length: 1, 0: Promise.reject(new Error('f')) })", "Promise.reject(new AggregateError([new Error('a'), callTool], 'agg'))", '(async function* () { throw new Error("g"); })().next()'])})`,
    // arguments
    () => `(function () { return arguments; })(callTool, console, ${depth < 2 ? source(g, depth + 1) : '1'})`,
    () => `grab(() => (function () { return arguments.callee; })())`,
    // getters and descriptors
    () =>
      pick(r, [
        "Object.getOwnPropertyDescriptor(Object.prototype, '__proto__').get",
        "({}).__lookupGetter__('__proto__')",
        "({}).__lookupSetter__('__proto__')",
        "Object.getOwnPropertyDescriptor(Function.prototype, 'caller')",
        "Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')",
        "Object.getOwnPropertyDescriptor(new Error('x'), 'stack')",
        "Object.getOwnPropertyDescriptor(Error.prototype, 'stack')",
        "Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace')",
        "Object.getOwnPropertyDescriptor(Error, 'captureStackTrace')",
        'Object.values(Object.getOwnPropertyDescriptors(G))',
        "Object.getOwnPropertyDescriptor(RegExp, '$1')",
        "Object.getOwnPropertyDescriptor(Symbol.prototype, 'description').get",
        "Object.getOwnPropertyDescriptor(Map.prototype, 'size').get",
        'Object.getOwnPropertyDescriptors(console)',
        "Object.getOwnPropertyDescriptor(G, 'callTool')",
        'Object.getOwnPropertyDescriptors(callTool)',
        "Object.getOwnPropertyDescriptor(Iterator.prototype, Symbol.toStringTag)",
        "Object.getOwnPropertyDescriptor(Iterator.prototype, 'constructor')",
        "Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Int8Array.prototype), Symbol.toStringTag).get",
      ]),
    // Reflect and the global object
    () => `Reflect.get(G, ${spell(r, pick(r, GLOBAL_NAMES))})`,
    () => `Reflect.getPrototypeOf(${pick(r, ['callTool', 'console.log', 'console', 'G', 'input', '(async () => 1)'])})`,
    () => `Reflect.ownKeys(G).map((k) => grab(() => G[k]))`,
    () => `grab(() => ${spell(r, pick(r, GLOBAL_NAMES))} in G ? G[${spell(r, pick(r, GLOBAL_NAMES))}] : undefined)`,
    // hooks the host or the runtime may call into
    () => {
      const c = g.id('c');
      return `await (async () => { const ${c} = []; const h = ${hook(g, c)}; await grabA(async () => ${pick(r, TRIGGERS)('h')}); ${c}.push(h); return ${c}; })()`;
    },
    () => {
      const c = g.id('c');
      return `await (async () => { const ${c} = []; await grabA(async () => ${pick(r, CALLBACK_SINKS)(recorder(c, pick(r, ['1', 'undefined', 'callTool', "{ then: (res) => res(1) }"])))}); return ${c}; })()`;
    },
    // species: a derived constructor whose species records what the builtin passes it
    () => {
      const c = g.id('c');
      const base = pick(r, ['Array', 'Promise', 'RegExp', 'Uint8Array', 'ArrayBuffer', 'Map']);
      const use = { Array: "x.map((v) => v).concat([1]).slice(0).filter(Boolean)", Promise: "x.then(() => 1).finally(() => 1)", RegExp: "'a-b'.split(x)", Uint8Array: 'x.map((v) => v).subarray(0).slice(0)', ArrayBuffer: 'x.slice(0)', Map: 'x.get(1)' }[base];
      const make = { Array: 'X.from([1, 2])', Promise: 'new X((res) => res(1))', RegExp: "new X('-')", Uint8Array: 'new X(4)', ArrayBuffer: 'new X(8)', Map: 'new X([[1, 2]])' }[base];
      return `await grabA(async () => { const ${c} = []; class X extends ${base} { static get [Symbol.species]() { return function (...a) { ${c}.push(this, a); return ${base === 'Promise' ? 'new Promise(a[0])' : `new ${base}(${base === 'RegExp' ? "'-'" : ''})`}; }; } } const x = ${make}; await grabA(async () => ${use}); return ${c}; })`;
    },
    // stack-trace hooks: what V8 hands prepareStackTrace, on errors the runtime and the bridge throw
    () => {
      const c = g.id('c');
      return `await (async () => { const ${c} = []; try { Error.prepareStackTrace = (e, frames) => { ${c}.push(e, frames); for (const f of frames) { try { ${c}.push(f.getThis(), f.getFunction(), f.getTypeName(), f.getFileName()); } catch (x) { ${c}.push(x); } } return 'st'; }; } catch (x) { ${c}.push(x); } try { Error.stackTraceLimit = ${pick(r, ['Infinity', '1000', '0', "{ valueOf() { return 50; } }"])}; } catch (x) { ${c}.push(x); } const e = ${pick(r, ["await grabA(() => callTool('nope'))", 'grab(() => null.x)', "new Error('s')", "grab(() => { const s = (d) => s(d + 1); s(0); })", "await grabA(() => callTool('secret', {}))"])}; ${c}.push(grab(() => e.stack)); const o = {}; grab(() => Error.captureStackTrace(o, ${pick(r, ['callTool', 'undefined', 'console.log'])})); ${c}.push(o, grab(() => o.stack)); return ${c}; })()`;
    },
    // WeakRef, iterator helpers, structuredClone, tagged templates
    () => `new WeakRef(${pick(r, ['callTool', 'console', 'G', '({})'])}).deref()`,
    () => `grab(() => ${pick(r, ['Iterator.prototype', 'Iterator.from({ next() { return { done: true }; } })', "Object.getPrototypeOf([].values())", "Object.getPrototypeOf(Object.getPrototypeOf((function* () {})()))", '[1].values().map((x) => x)', "Object.getPrototypeOf((async function* () {})())"])})`,
    () => `grab(() => structuredClone(${pick(r, ["new Error('x', { cause: { a: 1 } })", '{ a: new Map([[1, 2]]) }', 'new AggregateError([1])', "[new Date(0), /x/, new Set([1])]", "{ toJSON() { return 1; } }"])}))`,
    // values whose keys a naive host merge would follow into a prototype
    () => pick(r, [`JSON.parse('{"__proto__": {"polluted": 1}, "a": [{"__proto__": {"then": 1}}]}')`, "({ ['__proto__']: { polluted: 1 } })", `({ [${spell(r, 'constructor')}]: { prototype: { polluted: 1 } } })`, "Object.assign(Object.create(null), JSON.parse('{\"__proto__\": {\"polluted\": 1}}'))", `new Map([[${spell(r, '__proto__')}, { polluted: 1 }]])`, "Object.assign(new Error('d'), { data: JSON.parse('{\"__proto__\": {\"polluted\": 1}}'), cause: { constructor: { prototype: { polluted: 1 } } } })"]),
    () => `((s, ...v) => ${pick(r, ['s', 's.raw', 'v', 'Object.getPrototypeOf(s)'])})\`a\${callTool}b\${console}\``,
    () => `grab(() => String.raw({ raw: ${hook(g, '[]')} }, 1, 2))`,
    // disposal scopes (Node 24): what leaves a `using` scope comes out under one SuppressedError per
    // disposer that threw; both ends of the chain are kept (before red9, a host error six down got past)
    () => {
      const names = Array.from({ length: 1 + int(r, 8) }, (_, i) => `u${i} = D`).join(', ');
      const thrown = pick(r, ['0', "new Error('d')", 'callTool', "new Error('e').stack"]);
      const inner = pick(r, ["new Error('e').stack", "callTool('echo', { a: [1] })", "console.log('x', { a: 1 })", 'JSON.stringify({ a: [[1]] })', guardError()]);
      const body = USING
        ? `{ const D = { [Symbol.dispose]: () => { throw ${thrown}; } }; try { using ${names}; ${inner}; } catch (x) { let y = x; for (let i = 0; i < 64 && y !== null && typeof y === 'object' && 'suppressed' in y; i++) y = y.suppressed; return [x, y]; } }`
        : `{ return ${inner}; }`;
      // At each of the 40 depths above the stack's edge (measured again before each: what V8 compiled
      // meanwhile changes a frame's size), not only at the first depth where the scope itself fits.
      return `(() => { const hits = []; const f = (d, target) => { if (target < 0) { try { return f(d + 1, target); } catch { return d; } } if (d < target) return f(d + 1, target); hits.push(grab(() => ${body})); return 0; }; for (let k = 0; k < 40; k++) { const max = f(0, -1); grab(() => f(0, max - k)); } return hits; })()`;
    },
  ];
  return pick(r, forms)();
}

// ---- steps: from a value to something more powerful ---------------------------------------------------------

function step(g: Gen, v: string): string {
  const { r } = g;
  const forms: (() => string)[] = [
    () => member(r, v, 'constructor'),
    () => member(r, member(r, v, 'constructor'), 'constructor'),
    () => `Object.getPrototypeOf(${v})`,
    () => `Reflect.getPrototypeOf(Object(${v}))`,
    () => member(r, v, '__proto__'),
    () => `Object.getOwnPropertyDescriptor(Object(${v}), ${spell(r, pick(r, PROPS))})?.${pick(r, ['get', 'value', 'set'])}`,
    () => `${v}.__lookupGetter__(${spell(r, pick(r, PROPS))})`,
    () => member(r, v, pick(r, PROPS)),
    () => `${v}()`,
    () => `${v}.call(G, callTool)`,
    () => `Reflect.apply(${v}, undefined, [])`,
    () => `new ${v}()`,
    () => `Reflect.construct(${v}, [])`,
    () => `${v}.bind(null)`,
    () => `${v}[${int(r, 3)}]`,
    () => `Object.values(${v})[${int(r, 4)}]`,
    () => `[...${v}].at(${-1 - int(r, 2)})`,
    () => `${v}.errors[0]`,
    () => `new Proxy(${v}, {})`,
    () => `Object(${v})`,
    () => `${v}.next()`,
    () => `Object.getOwnPropertyDescriptors(${v})`,
    () => `Object.getOwnPropertyNames(${v}).map((k) => grab(() => ${v}[k]))`,
  ];
  return pick(r, forms)();
}

// ---- sinks: what to do with the reached thing ---------------------------------------------------------------

function sink(g: Gen, v: string, t: FuzzTarget): string {
  const { r } = g;
  const P = JSON.stringify(t.payload);
  const payload = () => pick(r, [P, P, "'return process'", "'return this'", "'return globalThis.constructor.constructor(\"return process\")()'", "'return globalThis'"]);
  const forms: (() => string)[] = [
    () => `poke(grab(() => ${v}(${payload()})()));`,
    () => `poke(grab(() => new ${v}(${payload()})()));`,
    () => `poke(grab(() => Reflect.construct(${v}, [${payload()}])()));`,
    () => `poke(grab(() => ${member(r, v, 'constructor')}(${payload()})()));`,
    () => `poke(grab(() => ${member(r, member(r, v, 'constructor'), 'constructor')}(${payload()})()));`,
    () => `poke(await grabA(async () => (await ${member(r, v, 'constructor')}(${payload()}))()));`,
    () => `poke(grab(() => [${payload()}].map(${v})[0]()));`,
    () => `poke(grab(() => Reflect.apply(${v}, callTool, [${payload()}])()));`,
    () => `poke(grab(() => ${v}.call(console, ${payload()}).call(callTool)));`,
    () => `esc(${v});`,
    () => `for (const x of [${v}].flat(2)) esc(x);`,
    () => `await grabA(() => callTool('echo', { v: ${v}, list: [${v}] }));`,
    () => `await grabA(() => callTool('echo', ${v}));`,
    () => `await grabA(() => callTool(${v}, {}));`,
    () => `grab(() => console.log(${v}));`,
    () => `grab(() => console.error('%o %s', ${v}, ${v}));`,
    () => `await grabA(async () => await ${v});`,
    // Raced with a value: a reached function that never settles the thenable must not hold the run.
    () => `await grabA(async () => await Promise.race([{ then: ${v} }, 1]));`,
    () => `grab(() => ${v}.then(esc, esc));`,
    // state left for the next tenant
    () => `grab(() => { ${pick(r, ['Object.prototype', 'Array.prototype', 'Function.prototype', 'Promise.prototype', 'Error.prototype', 'G', 'callTool', 'console', 'Object.getPrototypeOf(callTool)', `Object.getPrototypeOf(${v})`, v])}[${spell(r, pick(r, [...STASH_KEYS, 'constructor']))}] = ${v}; });`,
    () => `grab(() => Object.defineProperty(${pick(r, ['Object.prototype', 'Array.prototype', 'JSON', 'Math', 'String.prototype'])}, ${spell(r, pick(r, ['polluted', 'then', 'max', 'toUpperCase', 'stringify']))}, { get() { return ${v}; }, configurable: true }));`,
  ];
  return pick(r, forms)();
}

/** Work left running when the script ends: it must not call a tool, touch the host or reach the next tenant. */
function detached(g: Gen, v: string): string {
  const { r } = g;
  const act = pick(r, [`callTool('echo', { late: 1 })`, `esc(${v})`, `poke(${v})`, `grab(() => { Object.prototype.polluted = ${v}; })`, `console.log('late', ${v})`]);
  return pick(r, [
    `callTool('slow', { ms: ${int(r, 40)} }).then(() => ${act}, () => ${act});`,
    `Promise.resolve().then(() => ${act});`,
    `(async () => { for (let i = 0; i < ${1 + int(r, 50)}; i++) await null; ${act}; })();`,
    `grab(() => new FinalizationRegistry(() => ${act}).register({}, 1));`,
    `grab(() => { const fr = new FinalizationRegistry(() => ${act}); for (let i = 0; i < 200; i++) fr.register({ i }, i); });`,
    `callTool('hang', {}).then(() => ${act});`,
    `(async () => { try { await callTool('secret', {}); } catch (e) { ${act}; esc(e); } })();`,
  ]);
}

/** How the script ends: its last statement. Returning or throwing the reached thing tests the copy-out. */
function ending(g: Gen, last: string, all: string): string {
  const { r } = g;
  return pick(r, [
    `return ${last};`,
    `return { v: ${last}, all: ${all} };`,
    `return [${last}, ${last}];`,
    `throw ${last};`,
    `return ${all};`,
    `return 1;`,
    `return ${hook(g, 'late')};`,
    `return { toJSON() { esc(this); return ${last}; } };`,
    `return { get x() { callTool('echo', { late: 1 }); esc(this); return ${last}; } };`,
    `throw ${hook(g, 'late')};`,
    `throw Object.assign(new Error('e'), { data: { v: ${last}, p: JSON.parse('{"__proto__": {"polluted": 1}}') }, cause: ${last} });`,
    `throw Object.assign(Object.create(${last} ?? null), { message: 'm', data: ${last} });`,
    `return new Proxy({ a: 1 }, { get(t, k) { callTool('echo', { late: k }); return ${last}; }, ownKeys() { esc(${last}); return ['a']; } });`,
  ]);
}

// ---- the full flavour's helpers ----------------------------------------------------------------------------

/** Helpers every generated script starts with. */
export function prelude(t: FuzzTarget): string {
  const P = JSON.stringify(t.payload);
  const F = JSON.stringify(t.file);
  return `const grab = (f) => { try { return f(); } catch (e) { return e; } };
const grabA = async (f) => { try { return await f(); } catch (e) { return e; } };
const late = [];
const G = (() => { try { return globalThis; } catch {} try { return (0, eval)('this'); } catch {} try { return (function () { return this; }).call(); } catch {} return {}; })();
const poke = (x) => {
  if (x === null || x === undefined) return;
  for (const t of [() => { x.__pwned = 1; }, () => { x.env.EK_ATTACK_PWNED = '1'; }, () => x.getBuiltinModule('fs').writeFileSync(${F}, 'x'), () => x.process.getBuiltinModule('fs').writeFileSync(${F}, 'x'), () => { x.process.env.EK_ATTACK_PWNED = '1'; }, () => x.mainModule.require('fs').writeFileSync(${F}, 'x')]) { try { t(); } catch {} }
};
const esc = (v) => {
  if (v === null || v === undefined) return;
  for (const t of [() => v.constructor.constructor(${P})(), () => v.constructor(${P})(), () => Object.getPrototypeOf(v).constructor.constructor(${P})(), () => (typeof v === 'function' && v !== callTool ? v(${P})() : undefined), () => poke(v), () => poke(v.constructor.constructor('return this')())]) { try { poke(t()); } catch {} }
};
const atDepth = (n, f) => { const d = (k) => (k >= n ? f() : d(k + 1)); return grab(() => d(0)); };
// What an earlier tenant may have left on a shared object, tried like everything else.
for (const o of [({}), [], () => 1, Promise.resolve(), new Error('p'), 's', JSON, Math, console]) for (const k of ${JSON.stringify(STASH_KEYS)}) { const x = grab(() => o[k]); if (typeof x === 'function' || (typeof x === 'object' && x !== null)) esc(x); }
const atEdge = (f) => { let out; const d = (k) => { try { d(k + 1); } catch {} if (out === undefined) out = grab(f); }; grab(() => d(0)); return out; };
`;
}

// ---- the AgentScript-shaped flavour -------------------------------------------------------------------------

/*
 * Scripts a validating row lets through: no `this`, `arguments`, reflection, classes, getters or stored
 * `callTool`, every dangerous name built at run time (`K([...])`), so that the attempts reach the
 * rewriter's guards and the runtime behind them on every row, not only on those without validation.
 */

/** `K([codes])`: the name built from its character codes at run time. */
const built = (name: string): string => `K([${[...name].map((c) => c.charCodeAt(0)).join(', ')}])`;

function plainPrelude(t: FuzzTarget): string {
  const P = JSON.stringify(t.payload);
  const F = JSON.stringify(t.file);
  return `const K = (codes) => codes.map((c) => String.fromCharCode(c)).join('');
const grab = (f) => { try { return f(); } catch (e) { return e; } };
const grabA = async (f) => { try { return await f(); } catch (e) { return e; } };
const C = ${built('constructor')};
const PR = ${built('__proto__')};
const poke = (x) => {
  if (x === null || x === undefined) return;
  grab(() => { x[${built('__pwned')}] = 1; });
  grab(() => { x[${built('env')}][${built('EK_ATTACK_PWNED')}] = '1'; });
  grab(() => x[${built('getBuiltinModule')}](${built('fs')})[${built('writeFileSync')}](${F}, 'x'));
  grab(() => x[${built('process')}][${built('getBuiltinModule')}](${built('fs')})[${built('writeFileSync')}](${F}, 'x'));
};
const esc = (v) => {
  if (v === null || v === undefined) return;
  poke(grab(() => v[C][C](${P})()));
  poke(grab(() => v[C](${P})()));
  poke(grab(() => v[PR][C][C](${P})()));
  poke(grab(() => v(${P})()));
  poke(v);
};
const atDepth = (n, f) => { const d = (k) => (k >= n ? f() : d(k + 1)); return grab(() => d(0)); };
for (const o of [({}), [], 's', JSON, Math]) for (const k of [${STASH_KEYS.map(built).join(', ')}]) { const x = grab(() => o[k]); if (typeof x === 'function' || (typeof x === 'object' && x !== null)) esc(x); }
`;
}

function plainSource(g: Gen): string {
  const { r } = g;
  const c = g.id('c');
  const rec = (ret: string) => `(...a) => { ${c}.push(...a); return ${ret}; }`;
  const hookObj = () =>
    pick(r, [`{ toJSON: ${rec("'j'")} }`, `{ toString: ${rec("'s'")}, valueOf: ${rec('1')} }`, `{ [Symbol.toPrimitive]: ${rec('1')} }`, `{ then: (...a) => { ${c}.push(...a); a[0](1); } }`, `{ [Symbol.iterator]: ${rec('[].values()')} }`, `{ a: [{ toJSON: ${rec('1')} }] }`]);
  const trigger = (h: string) =>
    pick(r, [`await callTool('echo', ${h})`, `await callTool('echo', { h: ${h} })`, `console.log(${h})`, `JSON.stringify(${h})`, `String(${h})`, `\`\${${h}}\``, `${h} + ''`, `await ${h}`, `[...${h}]`, `Object.keys(${h})`, `({ ...${h} })`, `await Promise.all([${h}])`]);
  const forms: (() => string)[] = [
    () => pick(r, ['(() => 1)', '(async () => 1)', "'s'", '[]', '({})', '1', '/x/', 'new Date(0)', 'new Map()', 'Promise.resolve(1)', "Symbol('q')", '1n', 'input', 'Math', 'JSON', 'Object', 'Array', 'String']),
    () => `await callTool('${pick(r, ['echo', 'cyclic', 'thenable', 'deep', 'count', 'slow'])}', { a: [1, { b: 2 }] })`,
    () => `(await callTool('hostObject', {}))[${built(pick(r, ['fn', 'map', 'promise', 'proxy', 'getterBox', 'shared', 'buf', 'when', 'regex', 'sym', 'big']))}]`,
    () => `await grabA(() => callTool(${pick(r, ["'secret', {}", "'secretSync', {}", "'secretString', {}", "'secretObject', {}", "'secretCause', {}", "'publicError', {}", "'nope', {}", "'echo', { f: () => 1 }", "'echo', { b: 1n }"])}))`,
    () => `grab(() => ${pick(r, ['null.x', 'undefined()', 'new Array(-1)', "JSON.parse('{')", "'x'.repeat(-1)", "Symbol() + ''", '({})[C]', '[][PR]', '(() => 1)[C]', "''[C][C]", '(1)[C]', 'Math[C]', 'JSON[PR]'])})`,
    () => `grab(() => { const s = (d) => s(d + 1) + 1; return s(0); })`,
    () => `atDepth(${int(r, 400)}, () => ${pick(r, ["callTool('echo', { a: [1] })", "console.log('x', { a: 1 })", 'JSON.stringify({ a: [1] })', '[1, 2].map((x) => x)', 'null.x'])})`,
    () => `await grabA(() => ${pick(r, ["Promise.reject(new TypeError('x'))", 'Promise.any([])', "Promise.all([callTool('nope', {})])", "Promise.any([Promise.reject(1), callTool('secret', {})])", "new Promise((res, rej) => rej(new RangeError('r')))"])})`,
    () => `await (async () => { const ${c} = []; const h = ${hookObj()}; await grabA(async () => ${trigger('h')}); return ${c}; })()`,
    () =>
      `await (async () => { const ${c} = []; await grabA(async () => ${pick(r, [`[1, 2].map(${rec('1')})`, `[2, 1].sort(${rec('0')})`, `JSON.parse('{"a":{"b":1}}', ${rec('1')})`, `'xax'.replace(/a/, ${rec("'b'")})`, `await Promise.race([new Promise(${rec('1')}), 1])`, `await callTool('secret', {}).catch(${rec('1')})`, `await callTool('echo', {}).then(${rec('1')})`, `(${rec('1')})\`a\${1}\``, `Array.from([1], ${rec('1')})`, `[1].reduce(${rec('0')}, 0)`])}); return ${c}; })()`,
    () => pick(r, [`JSON.parse('{"__proto__": {"polluted": 1}, "a": [{"__proto__": {"then": 1}}]}')`, `({ [C]: { prototype: { polluted: 1 } } })`, `({ [PR]: { polluted: 1 } })`, `new Map([[PR, { polluted: 1 }]])`]),
  ];
  return pick(r, forms)();
}

function plainStep(g: Gen, v: string): string {
  const { r } = g;
  return pick(r, [
    `${v}[C]`,
    `${v}[C][C]`,
    `${v}[PR]`,
    `${v}[PR][C]`,
    `${v}[${built(pick(r, PROPS))}]`,
    `${v}()`,
    `new ${v}()`,
    `${v}[${int(r, 3)}]`,
    `Object.values(${v})[${int(r, 4)}]`,
    `[...${v}].at(-1)`,
    `${v}.cause`,
    `${v}.errors[0]`,
    `${v}[${built('call')}](null, ${v})`,
    `${v}[${built('apply')}](null, [${v}])`,
    `${v}[${built('bind')}](null)()`,
    `Object.entries(${v})[0]`,
  ]);
}

function plainSink(g: Gen, v: string, t: FuzzTarget): string {
  const { r } = g;
  const P = JSON.stringify(t.payload);
  const payload = () => pick(r, [P, P, `${built('return process')}`, `${built('return this')}`]);
  return pick(r, [
    `poke(grab(() => ${v}(${payload()})()));`,
    `poke(grab(() => ${v}[C](${payload()})()));`,
    `poke(grab(() => ${v}[C][C](${payload()})()));`,
    `poke(grab(() => [${payload()}].map(${v}[C])[0]()));`,
    `poke(grab(() => ${v}[C][C][${built('call')}](null, ${payload()})()));`,
    `poke(await grabA(async () => (await ${v}[C](${payload()}))()));`,
    `esc(${v});`,
    `await grabA(() => callTool('echo', { v: ${v}, list: [${v}] }));`,
    `await grabA(() => callTool('echo', ${v}));`,
    `grab(() => console.log(${v}));`,
    `await grabA(async () => await ${v});`,
    `grab(() => { ({})[PR][${built(pick(r, ['polluted', 'then', 'toJSON']))}] = ${v}; });`,
    `grab(() => { [][PR][${built(pick(r, ['polluted', 'map', 'join']))}] = ${v}; });`,
    `grab(() => { ${v}[PR][${built('polluted')}] = ${v}; });`,
  ]);
}

// ---- the script ------------------------------------------------------------------------------------------

/**
 * The script for `seed`: one to three chains, each a source, one to four steps and a sink, then what is
 * left running and how the script ends. About a third are AgentScript-shaped (see plainPrelude), the rest
 * use everything the language has.
 */
export function generate(seed: number, t: FuzzTarget): string {
  const r = prng(seed);
  let n = 0;
  const g: Gen = { r, id: (prefix) => `${prefix}${n++}` };
  const plain = r() < 0.35;
  const lines: string[] = [plain ? plainPrelude(t) : prelude(t), 'const all = [];'];
  const chains = 1 + int(r, 3);
  let last = 'undefined';
  for (let c = 0; c < chains; c++) {
    const v0 = g.id('v');
    lines.push(`const ${v0} = await grabA(async () => ${plain ? plainSource(g) : source(g)});`, `all.push(${v0});`);
    let v = v0;
    const steps = 1 + int(r, 4);
    for (let s = 0; s < steps; s++) {
      const next = g.id('v');
      lines.push(`const ${next} = grab(() => ${plain ? plainStep(g, v) : step(g, v)});`, `all.push(${next});`);
      v = next;
    }
    const sinkOf = plain ? plainSink : sink;
    lines.push(sinkOf(g, v, t));
    if (r() < 0.5) lines.push(sinkOf(g, pick(r, [v0, v]), t));
    last = v;
  }
  if (plain) {
    if (r() < 0.4) lines.push('for (const x of all) esc(x);');
    lines.push(pick(r, [`return ${last};`, 'return all;', `throw ${last};`, `return { v: ${last}, n: all.length };`]));
    return lines.join('\n');
  }
  if (r() < 0.3) lines.push(detached(g, last));
  // Every value reached on the way, tried once more with the whole battery.
  if (r() < 0.4) lines.push('for (const x of all.flat(2)) esc(x);');
  lines.push(ending(g, last, 'all'));
  return lines.join('\n');
}

/** The script without the prelude it starts with: what a failure report shows. */
export function scriptBody(code: string, t: FuzzTarget): string {
  for (const p of [prelude(t), plainPrelude(t)]) if (code.startsWith(p)) return code.slice(p.length);
  return code;
}

/**
 * A tenant's view of the realm's shared state, as one line: every object reachable from the globals a
 * script names and from the intrinsics only a literal reaches, with each own key, its kind, the type of
 * its value (and short primitives themselves), frozen-ness and prototype links, hashed. A run that left
 * anything on a shared object (a key, a replaced value, an unfrozen object) changes it for the next tenant.
 */
export const REALM_FINGERPRINT = `const roots = [];
const add = (f) => { try { const v = f(); if ((typeof v === 'object' && v !== null) || typeof v === 'function') roots.push(v); } catch {} };
for (const f of [() => Object, () => Array, () => Promise, () => Error, () => TypeError, () => RangeError, () => SyntaxError, () => EvalError, () => ReferenceError, () => URIError, () => AggregateError, () => String, () => Number, () => Boolean, () => Symbol, () => BigInt, () => Map, () => Set, () => WeakMap, () => WeakSet, () => JSON, () => Math, () => Reflect, () => Proxy, () => Date, () => RegExp, () => Intl, () => Iterator, () => callTool, () => console, () => input, () => structuredClone, () => queueMicrotask, () => parseInt, () => encodeURIComponent,
  () => (() => 1), () => (async () => 1), () => (function* () {})(), () => (async function* () {})(), () => [].values(), () => new Map().entries(), () => new Set().values(), () => ''[Symbol.iterator](), () => 'a'.matchAll(/a/g), () => [].values().map((x) => x), () => new Error('e'), () => Object.getOwnPropertyDescriptor(new Error('e'), 'stack'), () => Object.getOwnPropertyDescriptor(Function.prototype, 'caller')]) add(f);
const seen = new Map();
const lines = [];
const queue = [...roots];
const name = (o) => { if (!seen.has(o)) { seen.set(o, seen.size); queue.push(o); } return seen.get(o); };
for (const r of roots) name(r);
for (let i = 0; i < queue.length && lines.length < 60000; i++) {
  const o = queue[i];
  if (seen.get(o) === undefined) name(o);
  let line = '#' + seen.get(o) + (Object.isFrozen(o) ? 'F' : Object.isExtensible(o) ? 'E' : 'S');
  let p = null; try { p = Object.getPrototypeOf(o); } catch {}
  line += '<' + (p === null ? 'null' : name(p));
  let keys = []; try { keys = Reflect.ownKeys(o); } catch {}
  for (const k of keys) {
    let d; try { d = Object.getOwnPropertyDescriptor(o, k); } catch { continue; }
    if (d === undefined) continue;
    line += ' ' + String(k) + (d.writable ? 'w' : '') + (d.configurable ? 'c' : '') + ':';
    for (const v of 'value' in d ? [d.value] : [d.get, d.set]) {
      const t = typeof v;
      if ((t === 'object' && v !== null) || t === 'function') line += '@' + name(v);
      else if (t === 'symbol') line += 'sym';
      else line += t + (t === 'string' ? v.length : String(v).slice(0, 24));
    }
  }
  lines.push(line);
}
let h = 0;
const text = lines.join('\\n');
for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
return [lines.length, h];`;
