/**
 * The 28 attack categories vm2 lists against in-process `node:vm` sandboxes (docs/ATTACKS.md of the
 * revived vm2), each written anew against this engine's surface (no `require`, no bridge proxies: the
 * host hands the realm strings only), plus upstream Enclave's last advisory (GHSA-3279: host code
 * through static destructuring keys). Categories that target a vm2 feature we do not have (NodeVM's
 * `require`, its builtin allowlist, `nesting`) are written as the attempt to reach that feature here.
 *
 * Every attack is judged by host-side canaries only (runAttack: a host global and process.env set by an
 * escaped Function, host prototypes and intrinsics, the worker's own globals, leaks of host secrets,
 * late tool calls, the event loop, the next tenant), in both isolations, validated and runtime-only,
 * with and without the budget guards. A script's own return value proves nothing.
 */
import { existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Adapter, Attack } from '../helpers.js';
import { ADAPTERS, ONE_WORKER, PWN_LIT, REUSE_ONE_REALM, rowEnclave, runAttack } from '../helpers.js';

const ROWS: readonly Adapter[] = [
  ...ADAPTERS,
  { name: 'vm runtime-only, transform:false', options: { validate: false, transform: false, realmPool: REUSE_ONE_REALM }, validates: false },
  { name: 'worker_threads runtime-only, transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: ONE_WORKER }, validates: false },
  // Proxy, typed arrays and more exist at PERMISSIVE only.
  { name: 'vm PERMISSIVE runtime-only', options: { securityLevel: 'PERMISSIVE', validate: false, realmPool: REUSE_ONE_REALM }, validates: false },
  { name: 'worker_threads PERMISSIVE runtime-only, transform:false', options: { securityLevel: 'PERMISSIVE', adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: ONE_WORKER }, validates: false },
];

/** Any orderly end is fine: the canaries decide. */
const ANY = ['OK', 'RUNTIME_ERROR', 'VALIDATION_ERROR', 'TOOL_ERROR', 'MEMORY_LIMIT_EXCEEDED', 'MAX_ITERATIONS', 'OUTPUT_LIMIT_EXCEEDED', 'TIMEOUT'] as const;

/** A file an escaped script would create: its existence afterwards is a host-side canary. */
const FILE_CANARY = path.join(os.tmpdir(), `ek-vm2-canary-${process.pid}`);
const FILE_LIT = JSON.stringify(FILE_CANARY);
afterAll(() => rmSync(FILE_CANARY, { force: true }));

/**
 * `esc(F)` tries every way from a function-ish value to host code: its constructor with the payload,
 * and a `process` it might expose. Prepended to every script.
 */
const PRELUDE = `const tries = [];
const FP = Object.getPrototypeOf(() => 1);
const esc = (f) => {
  const attempts = [() => f.constructor(${PWN_LIT})(), () => f.constructor.constructor(${PWN_LIT})(), () => f(${PWN_LIT})(), () => f.process.mainModule.require('fs').writeFileSync(${FILE_LIT}, 'x'), () => f.mainModule.require('fs').writeFileSync(${FILE_LIT}, 'x')];
  for (const a of attempts) { try { a(); tries.push('ran'); } catch (e) { tries.push('blocked'); } }
};
`;

const attack = (name: string, body: string, extra: Partial<Attack> = {}): Attack => ({ name, code: PRELUDE + body + '\nreturn tries.length;', expect: ANY, ...extra });

const ATTACKS: readonly Attack[] = [
  // 1. Constructor chain traversal
  attack('1 constructor chains from every kind of value', `for (const v of [() => 1, async () => 1, function* () {}, async function* () {}, [], {}, '', 1, true, 1n, Symbol('s'), /x/, new Map(), Promise.resolve(), callTool, console.log, input, Math.max, JSON.parse]) { try { esc(v); esc(Object.getPrototypeOf(v)); } catch {} }`),
  attack('1 constructor chain from tool results, input and errors the host produced', `const r = await callTool('hostObject', {}); for (const v of [r, r.widget, r.err, r.when, r.map, r.typed, input]) esc(v); try { await callTool('secret', {}); } catch (e) { esc(e); esc(e.constructor); }`, { run: (kit) => ({ tools: kit.tools, input: { a: [1] } }) }),
  // 2. Prototype chain manipulation
  attack('2 prototype chains walked and swapped', `const r = await callTool('hostObject', {}); let p = r; for (let i = 0; i < 6 && p; i++) { esc(p); p = Object.getPrototypeOf(p); } try { Object.setPrototypeOf(r, callTool); esc(r); } catch {} try { r.__proto__ = console.log; esc(r); } catch {} try { Object.setPrototypeOf(Object.prototype, {}); } catch {}`),
  // 3. Symbol-based attacks
  attack('3 well-known and registered symbols on values that cross', `const v = { [Symbol.toPrimitive]() { esc(this); return 1; }, [Symbol.for('nodejs.util.inspect.custom')](d, o, inspect) { esc(o); esc(inspect); return 'x'; }, [Symbol.toStringTag]: 'Evil', [Symbol.iterator]: function* () { esc(this); yield 1; } };
await callTool('echo', { v }); console.log(v); console.log('%o', v); try { String(v); } catch {}
for (const s of Object.getOwnPropertySymbols(callTool).concat(Object.getOwnPropertySymbols(console), Object.getOwnPropertySymbols(Object.prototype))) { try { esc(callTool[s]); } catch {} }
class H { static [Symbol.hasInstance](x) { esc(x); return true; } } try { ({}) instanceof H; } catch {}`),
  // 4. Error object exploitation
  attack('4 errors made by the engine, and the stack-generation primitive', `const errs = [];
try { null.x; } catch (e) { errs.push(e); }
try { callTool(1); } catch (e) { errs.push(e); }
try { await callTool('nope', {}); } catch (e) { errs.push(e); }
try { await callTool('echo', { c: (() => { const a = {}; a.a = a; return a; })() }); } catch (e) { errs.push(e); }
const g = new Error('x'); try { g.name = Symbol(); g.stack; } catch (e) { errs.push(e); }
try { Error.prepareStackTrace = (e, frames) => { for (const f of frames) { try { esc(f.getThis()); esc(f.getFunction()); } catch {} } return 'x'; }; new Error('y').stack; } catch (e) { errs.push(e); }
try { const o = {}; Error.captureStackTrace(o); o.stack; } catch (e) { errs.push(e); }
for (const e of errs) { esc(e); try { esc(e.constructor); esc(e.cause); esc(e.errors); } catch {} }
// Last: with the budget guards a stack overflow is a depth limit that ends the run.
try { (function f() { f(); })(); } catch (e) { esc(e); }`),
  // 5. Function caller/callee access
  attack('5 caller, callee and arguments of functions the engine calls', `function spy() { try { esc(spy.caller); esc(arguments.callee.caller); } catch {} return 1; }
[1].map(spy); [3, 1].sort(spy); JSON.parse('{"a":1}', spy); 'a'.replace(/a/, spy); new Promise(spy); await Promise.resolve().then(spy);
const o = { toString: spy, valueOf: spy, toJSON: spy }; console.log(o); await callTool('echo', o); String(o);
for (const f of [callTool, console.log]) { try { esc(f.caller); esc(f.arguments); } catch {} }`),
  // 6. Proxy trap exploitation
  attack('6 Proxies handed to every host-facing path: traps see only realm values', `const h = {}; for (const t of ['get', 'set', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'apply', 'construct', 'defineProperty', 'deleteProperty']) h[t] = (...a) => { for (const x of a) { try { esc(x); } catch {} } return Reflect[t](...a); };
const p = new Proxy({ a: 1 }, h); const pf = new Proxy(function () {}, h);
try { await callTool('echo', p); } catch {} try { await callTool(p, p); } catch {} console.log(p, pf); try { throw p; } catch {}
try { await callTool('echo', { p, pf }); } catch {}`),
  attack('6 a Proxy thrown as the run error and returned as the result', `const h = { get: (t, k) => { esc(t); return k === 'message' ? 'm' : undefined; }, getPrototypeOf: (t) => { esc(t); return Error.prototype; } };
if (input.throwIt) throw new Proxy({}, h);
return new Proxy({}, h);`, { run: (kit) => ({ tools: kit.tools, input: { throwIt: true } }) }),
  // 7. Promise and async exploitation
  attack('7 promises the engine returns and resolves with', `const p = callTool('echo', {}); esc(p); esc(p.then); esc(p.constructor); esc(Object.getPrototypeOf(p));
const thenable = { then(res, rej) { esc(res); esc(rej); res(1); } }; await thenable; await callTool('echo', thenable);
try { Promise.prototype.then = function (a, b) { esc(a); esc(b); }; } catch {} await callTool('echo', {});
const af = async () => 1; esc(af().constructor); esc(Object.getPrototypeOf(af));`),
  // 8. Cross-realm symbol extraction from host objects
  attack('8 symbols and keys of everything the host provides', `const r = await callTool('hostObject', {}); for (const v of [callTool, console, console.log, input, r, r.widget, r.map, r.err]) { if (v === undefined || v === null) continue; for (const k of Reflect.ownKeys(v)) { try { esc(v[k]); const d = Object.getOwnPropertyDescriptor(v, k); esc(d.get); esc(d.set); esc(d.value); } catch {} } }`),
  // 9. Proxy handler exposure via util.inspect
  attack('9 inspect hooks never run on the host', `const hook = Symbol.for('nodejs.util.inspect.custom'); let calls = 0;
const v = { [hook](depth, options, inspect) { calls++; esc(options); esc(inspect); esc(options?.stylize); return 'hooked'; } };
const prox = new Proxy({}, { get(t, k) { if (k === hook) return (d, o, i) => { calls++; esc(o); esc(i); return 'x'; }; return undefined; } });
console.log(v, prox); console.dir(v); console.error(prox); await callTool('echo', { v, prox }); tries.push(calls);
return { v, prox };`),
  // 10. Built-in function exploitation
  attack('10 builtins invoked on host-provided functions', `const fns = [callTool, console.log, console.error];
for (const f of fns) { for (const call of [() => Reflect.construct(f, []), () => Reflect.apply(FP.call, f, [null, 'x']), () => f.bind(null)(${PWN_LIT}), () => FP.toString.call(f), () => Array.prototype.map.call([1], f), () => Object.getOwnPropertyDescriptors(f), () => Reflect.getPrototypeOf(f).constructor(${PWN_LIT})()]) { try { esc(call()); } catch {} } }
try { esc(Reflect.construct(Function, [${PWN_LIT}])); } catch {} try { esc(Array.from.call(function () { return this; }, [1])); } catch {}`),
  // 11. Monkey-patching bridge internals
  attack('11 intrinsics the runtime relies on, replaced before calling tools, logging and returning', `for (const [o, k] of [[JSON, 'stringify'], [JSON, 'parse'], [Object, 'keys'], [Object, 'defineProperty'], [Object, 'getOwnPropertyDescriptor'], [Array.prototype, 'push'], [Array.prototype, 'join'], [Map.prototype, 'set'], [Map.prototype, 'get'], [Promise.prototype, 'then'], [Reflect, 'apply'], [FP, 'apply'], [FP, 'call'], [String.prototype, 'slice']]) { try { o[k] = (...a) => { for (const x of a) esc(x); return undefined; }; } catch {} try { Object.defineProperty(o, k, { value: () => { esc(o); } }); } catch {} }
const r = await callTool('echo', { a: 1 }); console.log('after', r); return r;`),
  // 12. Code transformation bypass
  attack('12 spellings that hide a name from a syntactic gate', `const k = 'constr' + 'uctor'; for (const f of [() => ({})[k][k], () => ({})['\\u0063onstructor']['\\u0063onstructor'], () => ({})[\`\${'con'}structor\`].constructor, () => Reflect.get(Reflect.get({}, k), k), () => ({}).constructor?.constructor, () => (0, {}).constructor.constructor, () => ({}) /* c */ .constructor.constructor, () => Object.getOwnPropertyDescriptor(Object.getPrototypeOf(() => 1), k).value]) { try { const F = f(); F(${PWN_LIT})(); tries.push('ran'); } catch { tries.push('blocked'); } }
try { const { [k]: { [k]: F } } = {}; F(${PWN_LIT})(); } catch {}`),
  attack('12 reserved runtime names through unicode escapes', `try { \\u005f_ek_register(() => 1); } catch {} return 1;`, { code: PRELUDE + 'try { \\u005f_ek_register(() => 1); } catch {}\nreturn tries.length;' }),
  // 13. Dynamic import and module loading
  attack('13 import(), require and module objects', `const names = ['require', 'module', 'process', 'Buffer', 'global', 'globalThis', 'import.meta']; for (const n of names) { try { esc(eval(n)); } catch {} }
try { esc(require); esc(module); } catch {}`),
  attack('13 dynamic import of a host module and of a data: URL', `try { const m = await import('node:fs'); m.writeFileSync(${FILE_LIT}, 'x'); } catch {}
try { await import('data:text/javascript,globalThis.__pwned = 1'); } catch {}`),
  // 14. Object.prototype trap pollution via the in operator
  attack('14 trap names planted on Object.prototype before the engine copies values', `for (const t of ['get', 'set', 'has', 'ownKeys', 'apply', 'construct', 'getPrototypeOf', 'getOwnPropertyDescriptor', 'then', 'toJSON', 'value', 'writable', 'enumerable', 'configurable']) { try { Object.prototype[t] = (...a) => { for (const x of a) esc(x); }; } catch {} try { Object.defineProperty(Object.prototype, t, { get() { esc(this); return undefined; }, configurable: true }); } catch {} }
const r = await callTool('echo', { list: [1, { a: 2 }] }); console.log(r); return r;`),
  // 15. Property descriptor value extraction
  attack('15 descriptors of engine-provided values, getters called on foreign receivers', `for (const v of [callTool, console, input, Object.prototype, FP, Error]) { if (v == null) continue; for (const [, d] of Object.entries(Object.getOwnPropertyDescriptors(v))) { for (const f of [d.get, d.set, d.value]) { if (typeof f !== 'function') continue; try { esc(f.call(callTool)); } catch {} esc(f); } } }
try { const lg = ({}).__lookupGetter__('__proto__'); esc(lg.call(callTool)); esc(lg.call(console.log)); } catch {}`),
  // 16. SuppressedError via explicit resource management
  attack('16 SuppressedError and DisposableStack wrap an engine error', `if (typeof DisposableStack === 'function') { const ds = new DisposableStack(); ds.defer(() => { throw null; }); ds.defer(() => { const e = new Error(); e.name = Symbol(); return e.stack; }); try { ds.dispose(); } catch (e) { esc(e); esc(e.error); esc(e.suppressed); } }
if (typeof SuppressedError === 'function') { try { const se = new SuppressedError(new Error('a'), new Error('b')); esc(se.error); esc(se.suppressed); } catch {} }`),
  attack('16 the using declaration', `{ using r = { [Symbol.dispose ?? Symbol.for('dispose')]() { const e = new Error(); e.name = Symbol(); return e.stack; } }; throw null; }`),
  // 17. WebAssembly JSTag
  attack('17 WebAssembly from any path (code generation for wasm is off)', `const raw = [0, 97, 115, 109, 1, 0, 0, 0]; let bytes = raw; try { bytes = new Uint8Array(raw); } catch {} for (const get of [() => WebAssembly, () => globalThis.WebAssembly, () => Object.getPrototypeOf(async () => {}).constructor('return WebAssembly')()]) { try { const W = get(); const m = new W.Module(bytes); const i = new W.Instance(m, { env: { trigger() { const e = new Error(); e.name = Symbol(); return e.stack; } } }); esc(i); esc(W.JSTag); } catch (e) { esc(e); } }`),
  // 18. Array species self-return via constructor manipulation
  attack('18 species constructors on arrays the engine copies', `function X() { return target; } const target = [1, 2]; X[Symbol.species] = X;
const a = [1, 2, 3]; try { Object.defineProperty(a, 'constructor', { value: X }); } catch {} class Sub extends Array { static get [Symbol.species]() { return X; } }
const s = Sub.from([1, 2]); try { a.map((v) => v); s.filter(Boolean); } catch {}
const list = input.list; try { Object.defineProperty(list, 'constructor', { value: X }); } catch {}
await callTool('echo', { a, s, list }); console.log(a, s); return { a, s, list };`, { run: (kit) => ({ tools: kit.tools, input: { list: [1, 2] } }), check: (_r, { kit }) => { for (const c of kit.calls) expect(Object.getPrototypeOf((c.args as { a: unknown }).a)).toBe(Array.prototype); } }),
  // 19. prepareStackTrace through Array.fromAsync
  attack('19 prepareStackTrace from async builtins and engine callbacks', `try { Error.prepareStackTrace = (e, frames) => { for (const f of frames) { try { esc(f.getThis()); esc(f.getFunction()); esc(f.getTypeName()); } catch {} } return 'x'; }; } catch {}
const fire = () => { const e = new Error(); try { e.name = Symbol(); } catch {} return e.stack; };
if (typeof Array.fromAsync === 'function') { try { await Array.fromAsync([0], fire); } catch (e) { esc(e); } }
try { await callTool('echo', {}).then(fire); } catch (e) { esc(e); }
try { await Promise.all([1].map(async () => fire())); } catch (e) { esc(e); }`),
  // 20. Host intrinsic prototype pollution via write traps
  attack('20 writes through every engine-provided value to a prototype', `for (const v of [callTool, console, console.log, input]) { if (v == null) continue; try { Object.getPrototypeOf(v).polluted = 1; } catch {} try { v.__proto__.polluted = 1; } catch {} try { v.constructor.prototype.polluted = 1; } catch {} try { Object.getPrototypeOf(Object.getPrototypeOf(v)).polluted = 1; } catch {} }
const r = await callTool('hostObject', {}); try { r.widget.__proto__.polluted = 1; r.widget.constructor.prototype.polluted = 1; } catch {}`, { run: (kit) => ({ tools: kit.tools, input: { a: 1 } }) }),
  // 21. Builtin allowlist bypass through host-passthrough builtins
  attack('21 host builtins a Node sandbox often passes through', `for (const n of ['Buffer', 'process', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'structuredClone', 'fetch', 'URL', 'TextEncoder', 'atob', 'performance', 'crypto', 'navigator', 'WebSocket']) { try { const v = eval(n); esc(v); } catch {} try { esc(globalThis[n]); } catch {} }
try { structuredClone({ f: callTool }); } catch (e) { esc(e); }`),
  // 22. Promise executor unhandled rejection: host DoS
  attack('22 a flood of rejections nobody handles', `for (let i = 0; i < 2000; i++) { Promise.reject(new Error('r' + i)); new Promise((_, rej) => rej(i)); new Promise(() => { throw i; }); (async () => { throw i; })(); }
const evil = { get message() { esc(this); throw new Error('getter'); } }; Promise.reject(evil);`),
  // 23. Unbounded allocation: host heap
  attack('23 allocations the heap cannot hold', `const tries2 = [() => new ArrayBuffer(2 ** 31), () => new Uint8Array(2 ** 30), () => 'x'.repeat(2 ** 29), () => new Array(2 ** 31 - 1).fill(0), () => Array.from({ length: 2 ** 28 }), () => new Array(1e8).join('xx'), () => [...'x'.repeat(1e8)]];
for (const t of tries2) { try { t(); } catch (e) { if (e && /limit|Memory|memory/i.test(String(e.name) + String(e.message))) { } } }`, { enclave: { memoryLimit: 32 * 1024 * 1024 } }),
  // 24. require.root symlink bypass: the file system
  attack('24 the file system from any path', `for (const get of [() => require('fs'), () => process.mainModule.require('fs'), () => module.require('fs'), () => process.binding('fs')]) { try { get().writeFileSync(${FILE_LIT}, 'x'); } catch {} }`, { check: () => expect(existsSync(FILE_CANARY)).toBe(false) }),
  // 25. nesting and configuration traps: a sandbox inside the sandbox
  attack('25 building another sandbox or engine from inside', `for (const n of ['Enclave', 'vm', 'Worker', 'ShadowRealm', 'Compartment', 'Function', 'eval']) { try { const C = eval(n); esc(C); esc(new C('return 1')); } catch {} }
try { const F = Object.getPrototypeOf(function* () {}).constructor; esc(F); esc(new F(${PWN_LIT})); } catch {}`),
  // 26. Null-prototype objects written through
  attack('26 null-prototype values thrown, resolved and passed, then written with engine functions', `const o = { __proto__: null }; const n = Object.create(null);
try { throw o; } catch (e) { try { e.f = callTool; e.g = console.log; } catch {} }
esc(o.f); esc(o.g);
await Promise.resolve(n).then((e) => { try { e.f = callTool; } catch {} }); esc(n.f);
await callTool('echo', { o: Object.create(null), n }); console.log(Object.create(null)); return { o, n };`, { check: (_r, { kit }) => { for (const c of kit.calls) { const a = c.args as Record<string, unknown>; if (a?.o !== undefined) expect(Object.getPrototypeOf(a.o)).toBe(Object.prototype); } } }),
  // 27. Internal state probe via computed access on the global object
  attack('27 the runtime internals by computed name on the global object', `const g = (() => { try { return globalThis; } catch { return undefined; } })() ?? (function () { return this; })();
const names = []; for (const get of [() => Object.getOwnPropertyNames(g), () => Reflect.ownKeys(g)]) { try { for (const n of get()) names.push(String(n)); } catch {} }
for (const n of names.filter((x) => x.startsWith('__') || x.includes('ek') || x.includes('bridge'))) { try { const v = g[n]; esc(v); if (typeof v === 'function') v(() => 1); } catch {} }
for (const n of ['__ek_register', '__ek_start', '__ek_pump', '__ek_rt', 'bridge', 'options', 'installed']) { try { esc(g[n]); esc(Reflect.get(g, n)); tries.push(n in g ? 'present' : 'absent'); } catch {} }
return names.filter((x) => x.startsWith('__ek'));`, { check: (r) => { if (r.success && Array.isArray(r.value)) expect(r.value).toEqual([]); } }),
  // 28. Internal state leak through an Array.prototype setter
  attack('28 index and key setters planted on prototypes before the engine builds its own arrays and records', `let leaked = 0; const grab = (v) => { leaked++; esc(v); try { for (const k of Object.keys(v)) esc(v[k]); } catch {} };
for (let i = 0; i < 4; i++) { try { Object.defineProperty(Array.prototype, i, { set: grab, configurable: true }); } catch {} }
for (const k of ['resolve', 'reject', 'name', 'site', 'id', 'args', 'value', 'kind', 'code', 'message', 'data', 'tool']) { try { Object.defineProperty(Object.prototype, k, { set: grab, configurable: true }); } catch {} }
const r = await callTool('echo', { list: [1, 2, 3] }); try { await callTool('nope', [1]); } catch (e) { esc(e); } console.log([1, 2], r);
tries.push(leaked); return r;`),
  // GHSA-3279 (upstream Enclave): static destructuring keys
  attack('GHSA-3279 static destructuring of constructor from values', `try { const { constructor: C } = {}; const { constructor: F } = C; F(${PWN_LIT})(); } catch {}
try { const { constructor: { constructor: F } } = () => 1; F(${PWN_LIT})(); } catch {}
try { const [{ constructor: { constructor: F } }] = [[]]; F(${PWN_LIT})(); } catch {}
try { for (const { constructor: { constructor: F } } of [1]) F(${PWN_LIT})(); } catch {}
try { (({ constructor: { constructor: F } }) => F(${PWN_LIT})())(''); } catch {}
try { (({ constructor: { constructor: F } = null }) => F(${PWN_LIT})())(1n); } catch {}
try { throw 1; } catch ({ constructor: { constructor: F } }) { try { F(${PWN_LIT})(); } catch {} }
const r = await callTool('hostObject', {}); try { const { widget: { constructor: { constructor: F } } } = r; F(${PWN_LIT})(); } catch {}
try { const { constructor: { constructor: F } } = callTool; F(${PWN_LIT})(); } catch {}
try { const { log: { constructor: F } } = console; F(${PWN_LIT})(); } catch {}`),
  attack('GHSA-3279 static destructuring of prototype, __proto__ and the legacy accessors', `try { const { prototype: P } = Object; P.polluted = 1; } catch {}
try { const { constructor: { prototype: P } } = {}; P.polluted = 1; } catch {}
try { const { __proto__: P } = {}; P.polluted = 1; P.then = () => 1; } catch {}
try { const { __proto__: { __proto__: N } } = []; esc(N); } catch {}
try { const { __defineGetter__: dg, __defineSetter__: ds, __lookupGetter__: lg, __lookupSetter__: ls } = {}; dg.call(Object.prototype, 'polluted', () => 1); ds.call(Object.prototype, 'then', () => 1); esc(lg.call(callTool, '__proto__')); esc(ls.call({}, '__proto__')); } catch {}
try { const { __lookupGetter__: lg } = {}; const protoGetter = lg.call({}, '__proto__'); esc(protoGetter.call(callTool)); esc(protoGetter.call(console.log)); } catch {}
try { const { call: c, bind: b } = FP; esc(c); esc(b.call(c, callTool)); } catch {}
const r = await callTool('hostObject', {}); try { const { __proto__: { constructor: { prototype: P } } } = r.widget; P.polluted = 1; } catch {}`),
];

describe.each(ROWS)('vm2 attack categories and GHSA-3279 [$name]', (adapter) => {
  const shared = rowEnclave(adapter);
  for (const a of ATTACKS) {
    it(a.name, async () => {
      await runAttack(adapter, a, shared());
      expect(existsSync(FILE_CANARY), 'a script wrote to the host file system: escape').toBe(false);
    }, 60_000);
  }
});
