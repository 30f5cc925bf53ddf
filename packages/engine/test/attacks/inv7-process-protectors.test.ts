/**
 * Invariant 7 across the process: V8 keeps per-process flags ("protectors") that guard its fast paths,
 * and a script in any context can turn one off for good, for the host and for every later tenant of the
 * `vm` adapter. Found by red-teaming: `const o = {}; o[Symbol.isConcatSpreadable] = true;` (STANDARD,
 * validated) turned off the fast path of every `concat` in the process (the host's own `concat` of a
 * 100-element array became 30 times slower). The realm's `Symbol` no longer has `isConcatSpreadable`.
 *
 * Host-side evidence: V8's own flag, read by the host with `%IsConcatSpreadableProtector()` in a child
 * process started with `--allow-natives-syntax`, after each script ran (validated and with both layers
 * off).
 *
 * An own `constructor` on any array or RegExp turns off V8's species fast paths (`map`, `slice`, `split`)
 * in the same way: `Object.defineProperty([], 'constructor', { value: 1 })` with validation off made the
 * host's `map` and `slice` about 100 times slower. V8 drops the flag when it looks the key up, so even a
 * write that fails (`[].constructor = 1` meets the frozen prototype's read-only `constructor`) turns it
 * off. The runtime refuses every builtin way to define or set it (SPECIES_BY_BUILTIN, held with both
 * layers off); the rewriter refuses the syntax that writes it (SPECIES_BY_SYNTAX), with both layers off
 * too (it was open there until the guard became one of those written whatever `transform` says).
 * The other protectors of the isolate: inv7-isolate-protectors.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild } from '../helpers.js';

const SCRIPTS: Record<string, string> = {
  'the symbol as a computed key': 'const o = {}; o[Symbol.isConcatSpreadable] = true; return 1;',
  'an array literal with the symbol': 'const a = []; a[Symbol.isConcatSpreadable] = false; return [0].concat(a).length;',
  'the symbol through Symbol.prototype.constructor': 'const S = Object(Symbol()).constructor; const o = {}; o[S.isConcatSpreadable] = true; return 1;',
  'every static of Symbol': 'const o = {}; for (const k of Object.getOwnPropertyNames(Symbol)) { const v = Symbol[k]; if (typeof v === "symbol") o[v] = true; } return 1;',
  // The realm's own wrappers must not turn the iterator protectors off either: it used to redefine
  // Array.prototype[Symbol.iterator] and String.prototype[Symbol.iterator] (to charge what they walk), which
  // made the host's own spreads of arrays about 11 times slower once the first realm was built.
  'iterating arrays, strings, maps and sets': 'const a = [1, 2, 3]; const s = "abc"; let n = 0; for (const x of a) n += x; for (const c of s) n += c.length; const [h, ...t] = a; const [c0, ...cs] = s; n += [...a, ...s].length + Array.from(s).length + new Set(a).size + [...new Map([[1, 2]])].length + [...new Set(a)].length + t.length + cs.length; return n + h + c0.length;',
};

/** Ways a builtin gives an array or a RegExp an own `constructor`; each must throw before the native sees the key. */
const SPECIES_BY_BUILTIN: Record<string, string> = {
  'Object.defineProperty on an array': 'Object.defineProperty([], "constructor", { value: 1 });',
  'Reflect.defineProperty on a RegExp': 'Reflect.defineProperty(/x/, "constructor", { value: 1 });',
  'Object.defineProperties on an array': 'Object.defineProperties([1], { constructor: { value: 1 } });',
  'Object.defineProperties on a RegExp, key converted': 'Object.defineProperties(/x/, { ["constr" + "uctor"]: { value: 1 } });',
  'Object.defineProperty with a key object': 'Object.defineProperty([], { toString() { return "constructor"; } }, { value: 1 });',
  'Object.assign onto an array (fails on the read-only inherited constructor, after the lookup)': 'Object.assign([], { constructor: 1 });',
  'Object.assign onto a RegExp': 'Object.assign(/x/, { constructor: 1 });',
  'Reflect.set with an array receiver': 'Reflect.set({ constructor: 0 }, "constructor", 1, []);',
  'Reflect.set on a RegExp': 'Reflect.set(/x/, "constructor", 1);',
  '__defineGetter__ on an array': '[].__defineGetter__("constructor", () => 1);',
  '__defineSetter__ on a RegExp': '/x/.__defineSetter__("constructor", () => 1);',
  'Array.prototype.constructor itself (frozen)': 'Object.defineProperty(Array.prototype, "constructor", { value: 1 });',
  'an array with another prototype': 'const a = []; Object.setPrototypeOf(a, { constructor: 0 }); Object.assign(a, { constructor: 1 });',
  'Reflect.set on RegExp.prototype itself (frozen: the set fails, after the lookup)': 'Reflect.set(RegExp.prototype, "constructor", 1);',
  'Reflect.deleteProperty on an array (a delete looks the key up too)': 'Reflect.deleteProperty([], "constructor");',
  'Reflect.deleteProperty on RegExp.prototype (frozen)': 'Reflect.deleteProperty(RegExp.prototype, "constructor");',
  // The runtime tells RegExps apart by their own `lastIndex` first: not by their prototype or their tag.
  'a RegExp dressed as an object': 'const r = /x/; Object.setPrototypeOf(r, Object.prototype); Object.defineProperty(r, Symbol.toStringTag, { value: "Object" }); Object.assign(r, { constructor: 1 });',
};

/** Syntax that writes an own `constructor` on an array or a RegExp: refused by the rewriter's key checks. */
const SPECIES_BY_SYNTAX: Record<string, string> = {
  'plain assignment (fails on the read-only inherited constructor, after the lookup)': '[].constructor = 1;',
  'compound assignment on a RegExp': 'const r = /x/; r.constructor += 1;',
  'update expression': 'const a = []; a.constructor++;',
  'a delete': 'const a = []; delete a.constructor; const r = /x/; delete r["constructor"];',
  'destructuring targets': 'const a = []; ({ x: a.constructor } = { x: 1 }); [a.constructor] = [1]; [...a.constructor] = [1];',
  'a for-of target': 'const a = []; for (a.constructor of [1]);',
  'an array with another prototype': 'const a = []; Object.setPrototypeOf(a, { constructor: 0 }); a.constructor = 1;',
  'a computed class field on a subclass of Array': 'const k = "constructor"; class C extends Array { [k] = 1 } new C();',
  'a computed class field through a base constructor that returns an array': 'class B { constructor(o) { return o; } } const k = "constructor"; class C extends B { [k] = 1 } new C([]);',
};

/** Each attack as a script that reports whether it threw (it must, and leave every flag on). */
const attempts = (set: Record<string, string>) => Object.fromEntries(Object.entries(set).map(([name, code]) => [name, `try { ${code} } catch (e) { return 'threw ' + e.name; } return 'done';`]));

/** V8's per-process flags the host's fast paths depend on, as `%Name()` reads them. */
const PROTECTORS = ['IsConcatSpreadableProtector', 'ArrayIteratorProtector', 'StringIteratorProtector', 'MapIteratorProtector', 'SetIteratorProtector', 'ArraySpeciesProtector', 'RegExpSpeciesProtector'];

const BOTH = { ...SCRIPTS, ...attempts(SPECIES_BY_BUILTIN), ...attempts(prefixed('syntax: ', SPECIES_BY_SYNTAX)) };
function prefixed(prefix: string, set: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(set).map(([name, code]) => [prefix + name, code]));
}

const MODES = [
  { label: 'STANDARD validated', options: '{}', scripts: BOTH },
  { label: 'STANDARD, validate:false', options: '{ validate: false }', scripts: BOTH },
  // The rewriter's guards of `.constructor` writes protect the host: written whatever `transform` says.
  { label: 'STANDARD, validate:false, transform:false', options: '{ validate: false, transform: false }', scripts: BOTH },
  // A proxy of a RegExp would pass an own `constructor` to its target past every wrapper.
  { label: 'PERMISSIVE, validate:false, transform:false', options: "{ securityLevel: 'PERMISSIVE', validate: false, transform: false }", scripts: attempts({ ...SPECIES_BY_BUILTIN, 'a proxy of a RegExp': 'Object.defineProperty(new Proxy(/x/, {}), "constructor", { value: 1 });' }) },
] as const;

const child = (options: string, scripts: Record<string, string>) => `
const enclave = new Enclave(${options});
const out = {};
for (const [name, code] of Object.entries(${JSON.stringify(scripts)})) {
  const r = await enclave.run(code);
  out[name] = [r.success ? 'OK' : r.error.code, { ${PROTECTORS.map((p) => `${p}: %${p}()`).join(', ')} }, r.success ? r.value : undefined];
}
enclave.dispose();
console.log('RESULT ' + JSON.stringify(out));
`;

const children = new ChildBatch(2);
const rows = MODES.map((mode) => ({ ...mode, key: children.add(mode.label, child(mode.options, mode.scripts), { nodeArgs: ['--allow-natives-syntax'], killAfterMs: 60_000 }) }));
beforeAll(() => children.start(), 120_000);

describe('invariant 7: no script turns off a fast path V8 keeps per process (child processes)', () => {
  describe.each(rows)('$label', ({ key, scripts }) => {
    it('V8\'s protectors are intact after every script', async () => {
      const c = await children.result(key);
      expect(c.code, describeChild(c)).toBe(0);
      const got = childResult(c) as Record<string, [string, Record<string, boolean>, unknown?]>;
      const intact = Object.fromEntries(PROTECTORS.map((p) => [p, true]));
      for (const name of Object.keys(scripts)) expect(got[name]?.[1], `${name}: ${JSON.stringify(got[name])}`).toEqual(intact);
    }, 70_000);

    it('every attempt at an own constructor is refused (by validation or with a TypeError)', async () => {
      const got = childResult(await children.result(key)) as Record<string, [string, Record<string, boolean>, unknown?]>;
      for (const name of Object.keys(scripts).filter((n) => !(n in SCRIPTS))) {
        const [code, , value] = got[name] ?? [];
        expect(code === 'VALIDATION_ERROR' || value === 'threw TypeError', `${name}: ${JSON.stringify(got[name])}`).toBe(true);
      }
    }, 70_000);
  });
});
