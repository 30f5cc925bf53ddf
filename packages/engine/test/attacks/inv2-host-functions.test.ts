/**
 * Invariant 2: no host function is reachable from script code. Every value a script can touch leads,
 * through any chain of constructors, prototypes, stack-trace hooks or errors, only to realm functions,
 * and the realm's `Function` cannot compile strings. The canary is a host global that only a HOST
 * `Function` running the payload could set.
 */
import { describe, expect } from 'vitest';
import type { Attack } from '../helpers.js';
import { ADAPTERS, LEVEL_ADAPTERS, PWN_LIT, isBugRow, itBug, runAttack } from '../helpers.js';

const BLOCKED = ['RUNTIME_ERROR', 'VALIDATION_ERROR'] as const;

/** Tries `value.constructor.constructor(PWN)()` and returns what happened, never throwing. */
const tryChain = (expr: string) => `let out;
try { const v = ${expr}; out = v.constructor.constructor(${PWN_LIT})(); } catch (e) { out = 'blocked:' + e.name; }
return out;`;

/** Every error a script can catch is tried against the payload. */
const TRY_ERRORS = `const results = errors.map((e) => { try { return String(e.constructor.constructor(${PWN_LIT})()); } catch (x) { return 'blocked:' + x.name; } });
return results;`;

const chainFrom = (label: string, expr: string, extra: Partial<Attack> = {}): Attack => ({
  name: `constructor chain from ${label}`,
  code: tryChain(expr),
  expect: ['OK', ...BLOCKED],
  check: (r) => {
    if (r.success) expect(String(r.value)).toMatch(/^blocked:/);
  },
  ...extra,
});

export const ATTACKS: readonly Attack[] = [
  chainFrom('a plain object `({})`', '({})'),
  chainFrom('an array method `[].map`', '[].map'),
  chainFrom('an arrow function', '(() => 1)'),
  chainFrom('an async arrow (AsyncFunction)', '(async () => 1)'),
  chainFrom('a regular function expression', '(function () {})'),
  chainFrom('a generator function (GeneratorFunction)', '(function* () {})'),
  chainFrom('an async generator function', '(async function* () {})'),
  chainFrom('a class', '(class {})'),
  chainFrom('a promise from callTool', "callTool('echo', {})"),
  chainFrom('callTool itself', 'callTool'),
  chainFrom('console.log', 'console.log'),
  chainFrom('Math.max (a builtin)', 'Math.max'),
  chainFrom('a bound function', '((x) => x).bind(null)'),
  chainFrom('a Symbol wrapper', 'Object(Symbol())'),
  chainFrom('a BigInt wrapper', 'Object(1n)'),
  chainFrom('a RegExp', '/x/'),
  chainFrom('a Date', 'new Date(0)'),
  chainFrom('an iterator', '[][Symbol.iterator]()'),
  chainFrom('the input value', 'input', { run: () => ({ input: { a: 1 } }) }),
  {
    name: '`(() => {}).constructor("return this")()` (global object through Function)',
    code: `const G = (() => {}).constructor('return this')(); G.__pwned = 1; return typeof G;`,
    expect: BLOCKED,
    validation: 'reject',
  },
  {
    name: 'AsyncFunction via Object.getPrototypeOf(async function () {}).constructor',
    code: `const AF = Object.getPrototypeOf(async function () {}).constructor; return await AF(${PWN_LIT})();`,
    expect: BLOCKED,
    validation: 'reject',
  },
  {
    name: 'GeneratorFunction via Object.getPrototypeOf(function* () {}).constructor',
    code: `const GF = Object.getPrototypeOf(function* () {}).constructor; return GF(${PWN_LIT})().next().value;`,
    expect: BLOCKED,
    validation: 'reject',
  },
  {
    name: 'Function through a property descriptor (no property read named constructor)',
    code: `const d = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(() => 1), 'constructor'); return d.value(${PWN_LIT})();`,
    expect: BLOCKED,
    validation: 'reject',
  },
  {
    name: 'Function through Object.entries of prototype descriptors',
    code: `const ds = Object.getOwnPropertyDescriptors(Object.getPrototypeOf(() => 1)); const F = Object.values(ds).map((d) => d.value).find((f) => typeof f === 'function' && f.name === 'Function'); return F(${PWN_LIT})();`,
    expect: BLOCKED,
    validation: 'reject',
  },
  {
    name: 'Function through destructuring `const { constructor: C } = () => 1`',
    code: `const { constructor: C } = () => 1; return C(${PWN_LIT})();`,
    expect: BLOCKED,
    validation: 'reject',
  },
  {
    name: 'Function through a computed key assembled from char codes',
    code: `const k = String.fromCharCode(99, 111, 110, 115, 116, 114, 117, 99, 116, 111, 114); const F = (() => 1)[k]; return F(${PWN_LIT})();`,
    expect: ['RUNTIME_ERROR'],
    validation: 'accept',
  },
  {
    name: 'Function through a computed key with unicode escapes in the string',
    code: `const F = (() => 1)['\\u0063onstructor']; return F(${PWN_LIT})();`,
    expect: BLOCKED,
  },
  {
    name: 'Function through an optional-chained computed key',
    code: `const k = 'constr' + 'uctor'; const F = (() => 1)?.[k]; return F(${PWN_LIT})();`,
    expect: ['RUNTIME_ERROR'],
    validation: 'accept',
  },
  {
    name: 'Function through computed destructuring `const { [k]: F } = fn`',
    code: `const k = 'constr' + 'uctor'; const { [k]: F } = () => 1; return F(${PWN_LIT})();`,
    expect: BLOCKED,
  },
  {
    name: 'computed key object whose toString changes between conversions (TOCTOU)',
    code: `let n = 0; const key = { toString: () => (n++ === 0 ? 'length' : 'constructor') }; const v = (() => 1)[key]; return [n, typeof v, v];`,
    expect: ['OK', ...BLOCKED],
    check: (r) => {
      if (r.success) expect(r.value).toEqual([1, 'number', 0]);
    },
  },
  {
    name: 'computed key via Symbol.toPrimitive and via a one-element array',
    code: `const k1 = { [Symbol.toPrimitive]: () => 'constructor' }; const k2 = ['constructor']; const out = []; for (const k of [k1, k2]) { try { out.push(typeof (() => 1)[k]); } catch (e) { out.push('blocked'); } } return out;`,
    expect: ['OK', ...BLOCKED],
    check: (r) => {
      if (r.success) expect(r.value).toEqual(['blocked', 'blocked']);
    },
  },
  {
    name: '`eval` in every spelling',
    code: `const out = [];
try { out.push(eval(${PWN_LIT})); } catch (e) { out.push(e.name); }
try { out.push((0, eval)(${PWN_LIT})); } catch (e) { out.push(e.name); }
try { out.push(\\u0065val(${PWN_LIT})); } catch (e) { out.push(e.name); }
return out;`,
    expect: ['OK', ...BLOCKED],
    validation: 'reject',
    check: (r) => {
      if (r.success) expect(r.value).toEqual(['ReferenceError', 'ReferenceError', 'ReferenceError']);
    },
  },
  {
    name: '`Function` and `new Function` globals',
    code: `const out = [];
try { out.push(Function(${PWN_LIT})()); } catch (e) { out.push(e.name); }
try { out.push(new Function(${PWN_LIT})()); } catch (e) { out.push(e.name); }
return out;`,
    expect: ['OK', ...BLOCKED],
    validation: 'reject',
    check: (r) => {
      if (r.success) expect(r.value).toEqual(['ReferenceError', 'ReferenceError']);
    },
  },
  {
    name: 'class extends the Function constructor',
    code: `const F = (() => 1).constructor; class X extends F {} return new X(${PWN_LIT})();`,
    expect: BLOCKED,
    validation: 'reject',
  },
  {
    name: 'Reflect.construct / Reflect.apply on the Function constructor',
    code: `const F = Reflect.getPrototypeOf(() => 1).constructor; return Reflect.construct(F, [${PWN_LIT}])();`,
    expect: BLOCKED,
    validation: 'reject',
  },
  {
    name: 'setTimeout / queueMicrotask / setImmediate with string bodies',
    code: `const out = [];
try { setTimeout(${PWN_LIT}, 0); out.push('ran'); } catch (e) { out.push(e.name); }
try { queueMicrotask(() => 1); out.push('ran'); } catch (e) { out.push(e.name); }
try { setImmediate(() => 1); out.push('ran'); } catch (e) { out.push(e.name); }
return out;`,
    expect: ['OK', ...BLOCKED],
    validation: 'reject',
    check: (r) => {
      if (r.success) expect(r.value).toEqual(['ReferenceError', 'ReferenceError', 'ReferenceError']);
    },
  },
  {
    name: 'dynamic import() of a host module',
    code: `const fs = await import('node:fs'); fs.writeFileSync('/tmp/ek-pwned', '1'); return 1;`,
    expect: ['VALIDATION_ERROR'],
  },
  {
    name: 'import() hidden behind comments and whitespace',
    code: `const m = await import /* x */ (\n'node:child_process'\n); return typeof m;`,
    expect: ['VALIDATION_ERROR'],
  },
  {
    name: 'import.meta',
    code: `return import.meta.url;`,
    expect: ['VALIDATION_ERROR'],
  },
  {
    name: '`with` statement scope injection',
    code: `with ({ x: 1 }) { return constructor; }`,
    expect: ['VALIDATION_ERROR'],
  },
  {
    name: 'arguments.callee.caller walk to the runtime',
    code: `function f() { return arguments.callee.caller; } const c = f(); return typeof c;`,
    expect: BLOCKED,
  },
  {
    name: 'Function.prototype.caller and .arguments of a user function',
    code: `function f() { return [f.caller, f.arguments]; } return f();`,
    expect: BLOCKED,
  },
  {
    name: 'caller of a runtime-provided function (callTool, console.log) from inside a callback',
    code: `const out = []; for (const fn of [callTool, console.log, Math.max]) { try { out.push(typeof fn.caller); } catch (e) { out.push('blocked'); } } return out;`,
    expect: ['OK', ...BLOCKED],
    check: (r) => {
      if (r.success) for (const v of r.value as string[]) expect(['blocked', 'object', 'undefined']).toContain(v);
    },
  },
  {
    name: 'Error.prepareStackTrace override to collect call sites (getThis / getFunction)',
    code: `let sites = null;
try { Error.prepareStackTrace = (e, s) => { sites = s; return 'x'; }; } catch (e) {}
const err = new Error('probe'); void err.stack;
if (sites === null) return 'no-sites';
const fns = sites.map((s) => { try { return s.getFunction(); } catch (e) { return null; } }).filter(Boolean);
const thises = sites.map((s) => { try { return s.getThis(); } catch (e) { return null; } }).filter(Boolean);
for (const f of fns.concat(thises)) { try { f.constructor.constructor(${PWN_LIT})(); } catch (e) {} }
return fns.length + thises.length;`,
    expect: ['OK', ...BLOCKED],
    validation: 'reject',
    check: (r) => {
      if (r.success) expect(r.value).toBe('no-sites');
    },
  },
  {
    name: 'Error.prepareStackTrace via Object.defineProperty / Reflect.set',
    code: `const out = [];
try { Object.defineProperty(Error, 'prepareStackTrace', { value: (e, s) => s }); out.push('defined'); } catch (e) { out.push(e.name); }
try { out.push(Reflect.set(Error, 'prepareStackTrace', (e, s) => s)); } catch (e) { out.push(e.name); }
return out;`,
    expect: ['OK', ...BLOCKED],
    validation: 'reject',
    check: (r) => {
      if (r.success) expect(r.value).toEqual(['TypeError', false]);
    },
  },
  {
    name: 'Error.captureStackTrace onto an object, then walking what it produced',
    code: `const o = {}; Error.captureStackTrace(o); const s = o.stack; return [typeof s, s.split('\\n').length];`,
    expect: ['OK', ...BLOCKED],
    check: (r) => {
      if (r.success) expect((r.value as unknown[])[0]).toBe('string');
    },
  },
  {
    name: 'Error.captureStackTrace with a Proxy target (traps run only realm code)',
    code: `const p = new Proxy({}, { defineProperty(t, k, d) { if (typeof d.value === 'object') { try { d.value.constructor.constructor(${PWN_LIT})(); } catch (e) {} } return Reflect.defineProperty(t, k, d); } }); Error.captureStackTrace(p); return typeof p.stack;`,
    expect: ['OK', ...BLOCKED],
  },
  {
    name: 'Error.stackTraceLimit tampering to hide or grow frames',
    code: `try { Error.stackTraceLimit = Infinity; } catch (e) { return 'frozen'; } return String(Error.stackTraceLimit);`,
    expect: ['OK', ...BLOCKED],
    validation: 'reject',
    check: (r) => {
      if (r.success) expect(r.value).toBe('frozen');
    },
  },
  {
    name: 'errors from tool failures, unknown tools and bad callTool arguments: constructor chains',
    code: `const errors = [];
try { await callTool('secret', {}); } catch (e) { errors.push(e); }
try { await callTool('no_such_tool', {}); } catch (e) { errors.push(e); }
const name = [1][0];
try { await callTool(name, {}); } catch (e) { errors.push(e); }
const cyc = {}; cyc.self = cyc;
try { await callTool('echo', { deep: JSON.parse('['.repeat(100) + ']'.repeat(100)) }); } catch (e) { errors.push(e); }
${TRY_ERRORS}`,
    expect: ['OK', ...BLOCKED],
    check: (r) => {
      if (r.success) for (const v of r.value as string[]) expect(v).toMatch(/^blocked:/);
    },
  },
  {
    name: 'TypeErrors and RangeErrors thrown by the runtime and the engine: constructor chains',
    code: `const errors = [];
try { null.x; } catch (e) { errors.push(e); }
try { const k = 'proto' + 'type'; ({})[k]; } catch (e) { errors.push(e); }
try { JSON.parse('{'); } catch (e) { errors.push(e); }
try { new Array(-1); } catch (e) { errors.push(e); }
try { 'x'.repeat(-1); } catch (e) { errors.push(e); }
try { Object.freeze([]).push(1); } catch (e) { errors.push(e); }
try { BigInt(1.5); } catch (e) { errors.push(e); }
${TRY_ERRORS}`,
    expect: ['OK', ...BLOCKED],
    check: (r) => {
      if (r.success) for (const v of r.value as string[]) expect(v).toMatch(/^blocked:/);
    },
  },
  {
    name: 'limit errors observed through Promise.allSettled: constructor chain',
    code: `const settled = await Promise.allSettled(Array.from({ length: 5 }, () => callTool('echo', {})));
const errors = settled.filter((s) => s.status === 'rejected').map((s) => s.reason);
${TRY_ERRORS}`,
    expect: ['MAX_TOOL_CALLS'],
    enclave: { maxToolCalls: 2 },
  },
  {
    name: 'stack overflow then callTool at the edge: every error caught is a realm error',
    code: `const errors = [];
function down(n) {
  try { return down(n + 1); } catch (e) {
    try { callTool('echo', { n }).catch((x) => errors.push(x)); } catch (x) { errors.push(x); }
    try { console.log('edge', n); } catch (x) { errors.push(x); }
    errors.push(e);
    return n;
  }
}
down(0);
await Promise.resolve();
${TRY_ERRORS}`,
    expect: ['OK', 'RUNTIME_ERROR', 'VALIDATION_ERROR', 'MAX_TOOL_CALLS'],
    enclave: { maxCallDepth: 1_000_000, maxToolCalls: 1_000_000, maxLogEntries: 1_000_000 },
    check: (r) => {
      if (r.success) for (const v of r.value as string[]) expect(v).toMatch(/^blocked:/);
    },
  },
  {
    name: 'stack exhausted by unguarded class-field recursion, then callTool / console at the very edge',
    code: `let depth = 0; let target = Infinity; const errors = [];
const edge = () => { try { callTool('echo', {}).catch((e) => errors.push(e)); } catch (e) { errors.push(e); } try { console.log('edge'); } catch (e) { errors.push(e); } return 0; };
class A { x = ++depth; y = depth < target ? new A() : edge(); }
try { new A(); } catch (e) { errors.push(e); }
const max = depth;
for (let k = 0; k < 12; k++) { depth = 0; target = max - k; try { new A(); } catch (e) { errors.push(e); } }
await Promise.resolve();
${TRY_ERRORS}`,
    expect: ['OK', 'RUNTIME_ERROR', 'VALIDATION_ERROR'],
    check: (r, { kit }) => {
      if (r.success) for (const v of r.value as string[]) expect(v).toMatch(/^blocked:/);
      expect(kit.calls.length).toBeLessThanOrEqual(12);
    },
  },
  {
    name: 'stack overflow inside JSON.stringify of a deep structure: constructor chain',
    code: `let v = []; for (let i = 0; i < 20000; i++) v = [v];
const errors = [];
try { JSON.stringify(v); } catch (e) { errors.push(e); }
try { String(v); } catch (e) { errors.push(e); }
${TRY_ERRORS}`,
    expect: ['OK', ...BLOCKED, 'MEMORY_LIMIT_EXCEEDED', 'MAX_ITERATIONS'],
  },
  {
    name: 'promise resolving functions and thenable job arguments: constructor chain',
    code: `const got = [];
await new Promise((res, rej) => { got.push(res, rej); res(1); });
await { then(r) { got.push(r); r(1); } };
return got.map((f) => { try { return String(f.constructor.constructor(${PWN_LIT})()); } catch (e) { return 'blocked:' + e.name; } });`,
    expect: ['OK', ...BLOCKED],
    check: (r) => {
      if (r.success) for (const v of r.value as string[]) expect(v).toMatch(/^blocked:/);
    },
  },
  {
    name: 'tool args with getters, toJSON, valueOf and Symbol.toPrimitive: none of them runs',
    code: `let ran = 0;
const args = { get g() { ran++; return 1; }, toJSON() { ran++; return {}; }, valueOf() { ran++; return 1; }, [Symbol.toPrimitive]() { ran++; return 1; }, plain: 1 };
await callTool('echo', args);
return ran;`,
    expect: ['OK', ...BLOCKED],
    check: (r, { kit }) => {
      if (!r.success) return;
      expect(r.value).toBe(0);
      const received = kit.calls[0]?.args as Record<string, unknown>;
      expect(received.plain).toBe(1);
      expect(typeof received.toJSON).not.toBe('function');
      expect(typeof received.g).not.toBe('function');
    },
  },
  {
    name: 'a thenable and a function as tool args arrive as data, never callable on the host',
    code: `await callTool('echo', { then(r) { r(1); }, fn: () => 1, list: [() => 2] }); return 1;`,
    expect: ['OK', ...BLOCKED],
    check: (r, { kit }) => {
      if (!r.success) return;
      const received = kit.calls[0]?.args as Record<string, unknown>;
      expect(typeof received.then).not.toBe('function');
      expect(typeof received.fn).not.toBe('function');
      expect((received.list as unknown[])[0]).toBeNull(); // JSON: a function in an array is null
    },
  },
  {
    name: 'a Proxy as tool args: traps run as realm code, the host gets a plain copy',
    code: `let traps = 0; const p = new Proxy({ a: 1 }, { ownKeys(t) { traps++; return ['a', 'z']; }, getOwnPropertyDescriptor(t, k) { traps++; return { value: k === 'z' ? 'fake' : 1, enumerable: true, configurable: true }; }, get(t, k) { traps++; return 'viaGet'; } });
await callTool('echo', p); return traps;`,
    expect: ['OK', ...BLOCKED],
    check: (_r, { kit }) => {
      const received = kit.calls[0]?.args;
      if (received === undefined) return;
      expect(Object.getPrototypeOf(received)).toBe(Object.prototype);
      for (const v of Object.values(received as object)) expect(typeof v).not.toBe('function');
    },
  },
  {
    name: 'a revoked Proxy as tool args and as the return value',
    code: `const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); try { await callTool('echo', proxy); } catch (e) { } return proxy;`,
    expect: ['OK', ...BLOCKED, 'TOOL_ERROR'],
  },
];

describe.each(ADAPTERS)('invariant 2, no host function is reachable [$name]', (adapter) => {
  for (const attack of ATTACKS) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, attack);
    });
  }
});

const LEVEL_SUBSET = ATTACKS.filter((a) =>
  /plain object|descriptor \(no|prepareStackTrace override|tool failures, unknown tools|Proxy as tool args/.test(a.name),
);

describe.each(LEVEL_ADAPTERS)('invariant 2 at other levels [$name]', (adapter) => {
  for (const attack of LEVEL_SUBSET) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, { ...attack, validation: undefined });
    });
  }
});
