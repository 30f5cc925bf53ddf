/**
 * The realm runtime wraps many Array and String builtins to bound and charge their work. Each wrapper
 * must keep the native's observable behaviour for ordinary scripts: results, errors, and how often and
 * in what order script code (valueOf, toString, getters, callbacks) runs. A differential pass against
 * Node's own builtins found wrappers that:
 *
 * - copied an array-like receiver without ToObject (`Array.prototype.map.call('abc', f)` threw "Cannot
 *   use 'in' operator"), read `length` of null (another TypeError message), handed callbacks the
 *   runtime's copy as their last argument, and made `concat` spread an array-like receiver;
 * - converted join's separator before reading the length (the native reads it first: a separator whose
 *   toString grows the array joins the elements there were);
 * - converted strings with String(), which accepts a symbol and null (`String.prototype.trim.call(null)`
 *   returned "null", `[1, 2].join(Symbol())` returned "1Symbol()2");
 * - converted a count or a form twice (padStart, repeat, normalize, flat, concat's receiver), or a
 *   replacement before its pattern; `'ab'.repeat(Infinity)` ended the run as a memory limit, not the
 *   native's RangeError.
 *
 * Each case runs natively in a fresh context and in the sandbox; the summaries must be equal.
 */
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../src/index.js';

const PRELUDE = `const __log = []; const log = (x) => { __log.push(String(x)); };
const __run = (f) => { try { return { ok: f(), log: __log }; } catch (e) { return { err: e.name + ': ' + e.message, log: __log }; } };`;
const script = (body: string) => `${PRELUDE}\nreturn __run(() => { ${body} });`;

const CASES: Record<string, string> = {
  'map over a string': "return Array.prototype.map.call('abc', (c) => c.toUpperCase());",
  'join, slice, indexOf, filter, reduce over a string': "return [Array.prototype.join.call('abc', '-'), Array.prototype.slice.call('abc', 1), Array.prototype.indexOf.call('abc', 'b'), Array.prototype.filter.call('hello', (c) => c !== 'l'), Array.prototype.reduce.call('abc', (a, c, i, o) => a + c + i + typeof o, '')];",
  'toSorted and with over a string': "return [Array.prototype.toSorted.call('cab'), Array.prototype.with.call('abc', 1, 'X')];",
  'a callback is handed the array-like itself': "const o = { length: 2, 0: 'a', 1: 'b' }; const r = []; Array.prototype.forEach.call(o, (v, i, a) => r.push(a === o)); return [r, Array.prototype.find.call(o, (v, i, a) => a === o), Array.prototype.reduce.call(o, (acc, v, i, a) => acc && a === o, true)];",
  'a thisArg is kept': "const t = {}; return Array.prototype.every.call({ length: 2, 0: 1, 1: 1 }, function () { return this === t; }, t);",
  'concat of an array-like receiver is one element': "const o = { length: 2, 0: 'a' }; const r = Array.prototype.concat.call(o, 1); return [r.length, r[0] === o, r[1]];",
  'null receivers throw the native TypeError': "const r = []; for (const f of [() => Array.prototype.map.call(null, (x) => x), () => Array.prototype.join.call(undefined), () => Array.prototype.toSorted.call(null), () => Array.prototype.includes.call(null, 1), () => Array.prototype.flat.call(null)]) { try { f(); } catch (e) { r.push(e.name + ': ' + e.message); } } return r;",
  'includes on a proxy reads with get alone': "const p = new Proxy({ length: 2, 1: 'b' }, { get(o, k) { log('get ' + String(k)); return o[k]; }, has(o, k) { log('has ' + String(k)); return k in o; } }); return [Array.prototype.includes.call(p, 'b'), Array.prototype.join.call(p, '+')];",
  "join's separator is converted after the length": "const a = [1, 2]; const b = [1, 2, 3]; return [a.join({ toString() { a.push(3); return '-'; } }), a.length, b.join({ toString() { b.length = 1; return '-'; } })];",
  'a symbol separator throws': 'return [1, 2].join(Symbol());',
  'string methods on null throw': "const r = []; for (const f of [() => String.prototype.trim.call(null), () => String.prototype.toUpperCase.call(undefined), () => String.prototype.includes.call(null, 'u'), () => String.prototype.concat.call(null, 'a'), () => String.prototype.padStart.call(null, 3), () => String.prototype.repeat.call(undefined, 2), () => String.prototype.replace.call(null, 'a', 'b'), () => String.prototype.normalize.call(null), () => [...String.prototype[Symbol.iterator].call(null)]]) { try { r.push(f()); } catch (e) { r.push(e.name + ': ' + e.message); } } return r;",
  'symbols are not converted to strings': "const r = []; for (const f of [() => 'a'.concat(Symbol()), () => 'abc'.replace('b', Symbol()), () => 'aa'.replaceAll('a', () => Symbol()), () => encodeURIComponent(Symbol()), () => JSON.parse(Symbol()), () => new Intl.Collator().compare(Symbol(), 'a'), () => String.prototype.lastIndexOf.call(Symbol(), 'a')]) { try { r.push(f()); } catch (e) { r.push(e.name + ': ' + e.message); } } return r;",
  'counts and forms are converted once, in order': "const n = (v) => ({ valueOf() { log('n' + v); return v; } }); const s = (v) => ({ toString() { log('s' + v); return v; } }); return ['abc'.padStart(n(6), s('*')), 'ab'.padEnd(n(3)), 'ab'.repeat(n(2)), 'e\\u0301'.normalize(s('NFC')).length, [[1, [2]]].flat(n(2)), String.prototype.concat.call(s('T'), s('x'))];",
  'a pattern is converted before its replacement': "'abc'.replace({ toString() { log('pat'); return 'b'; } }, { toString() { log('rep'); return 'x'; } }); return ['abc'.replace({ [Symbol.replace](x, r) { return typeof x + r; } }, 'R'), 'a-b'.replace(/-/g, '+')];",
  'repeat(Infinity) is a RangeError': "const r = []; for (const f of [() => 'ab'.repeat(Infinity), () => ''.repeat(Infinity), () => 'ab'.repeat(-1)]) { try { f(); } catch (e) { r.push(e.name + ': ' + e.message); } } return r;",
};

const native = (body: string): unknown => JSON.parse(JSON.stringify(vm.runInContext(`(function () { ${script(body)} })`, vm.createContext({}))()));

const LEVELS = [
  { name: 'PERMISSIVE, validate:false', enclave: new Enclave({ securityLevel: 'PERMISSIVE', validate: false, realmPool: { maxIdle: 1, prewarm: 0 } }) },
  { name: 'STANDARD, validated', enclave: new Enclave({ realmPool: { maxIdle: 1, prewarm: 0 } }) },
];
afterAll(() => {
  for (const l of LEVELS) l.enclave.dispose();
});

describe('wrapped builtins behave as the native ones', () => {
  for (const level of LEVELS) {
    for (const [name, body] of Object.entries(CASES)) {
      // Proxy, Intl and `this` are PERMISSIVE-only.
      if (level.name.startsWith('STANDARD') && /Proxy|Intl|this/.test(body)) continue;
      it(`${level.name}: ${name}`, async () => {
        const r = await level.enclave.run(script(body));
        expect(r.success ? r.value : r.error).toEqual(native(body));
      });
    }
  }
});
