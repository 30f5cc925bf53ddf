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
  // Array.from maps an array-like element by element, reading each when it comes to it: a map function
  // that throws early ends the walk there (the runtime copied all 5e6 values first, and the length alone
  // ended the run as an iteration limit before the first call), and a getter sees the elements mapped before it.
  'Array.from over an array-like with a map function that throws early': "let n = 0; try { Array.from({ length: 5e6 }, (v, i) => { n++; if (i === 10) throw new Error('stop at ' + i); return i; }); } catch (e) { return [n, e.message]; }",
  'Array.from over an array-like reads each element when it maps it': "const seen = []; const o = { length: 4, 0: 'a', get [2]() { log('get 2 after ' + seen.length); return 'c'; } }; return [Array.from(o, (v, i) => { seen.push(i); return v === undefined ? '-' : v + i; }), Array.from.call(undefined, { length: 2, 1: 'x' }, (v) => v), Array.from('ab', (c, i) => c + i), Array.from(3, (v) => v)];",
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
  'iterable consumers: answers, the order of script code, errors': "const it = (n) => ({ get [Symbol.iterator]() { log('get'); let i = 0; return () => ({ next() { log('next' + i); return i < n ? { value: [i, i++] } : { done: true }; }, return() { log('return'); return {}; } }); } }); const r = [[...new Map(it(2))], [...new Set(it(2))].length, Object.fromEntries(it(2)), new AggregateError(it(1), 'm').errors.length, new WeakSet([{}]) instanceof WeakSet, new WeakMap() instanceof WeakMap, new Map().constructor === Map, Map.name + Map.length + Set.length + AggregateError.length, new (class extends Map { get k() { return 1; } })(it(1)).k]; if (typeof Object.groupBy === 'function') r.push(Object.groupBy(it(3), (e) => (e[0] % 2 ? 'odd' : 'even')), [...Map.groupBy(it(2), (e) => e[0])].length); for (const f of [() => new Map(5), () => new Set({}), () => Map(), () => new Map([1]), () => Object.fromEntries(null), () => new AggregateError(3), () => new Set({ [Symbol.iterator]: 3 }), () => new Map({ [Symbol.iterator]() { return 1; } }), () => new Set({ [Symbol.iterator]() { return {}; } })]) { try { f(); r.push('no error'); } catch (e) { r.push(e.name + ': ' + e.message); } } try { new Map({ [Symbol.iterator]() { return { next() { return { value: 1 }; }, return() { log('closed'); return {}; } }; } }); } catch (e) { r.push(e.name); } return r;",
  'iterator helpers and Set methods: answers, the order of script code, errors': "const r = []; const src = (n) => { let i = 0; return { next() { log('next' + i); return i < n ? { value: i++, done: false } : { done: true }; }, return() { log('return'); return {}; } }; }; const IP = Object.getPrototypeOf(Object.getPrototypeOf([].values())); if (typeof IP.toArray === 'function') { r.push(IP.toArray.call(src(3)), IP.reduce.call(src(3), (a, b) => a + b), IP.some.call(src(5), (v) => v === 1), IP.find.call(src(5), (v) => v > 2), IP.filter.call(src(6), (v) => v % 2).toArray(), IP.drop.call(src(5), 3).toArray(), IP.flatMap.call(src(2), (v) => [v, v]).toArray(), IP.flatMap.call(src(2), (v) => src(v + 1)).toArray(), IP.take.call(src(9), 2).toArray(), Iterator.from(src(2)).map((v) => v * 2).toArray()); const h = IP.filter.call(src(9), (v) => v > 0); h.next(); h.return(); for (const f of [() => IP.toArray.call(1), () => IP.toArray.call({ next: 1 }), () => IP.flatMap.call(src(1), () => 1).toArray(), () => IP.drop.call(src(1), -1), () => IP.forEach.call(src(2), 5), () => IP.flatMap.call(src(1), () => ({ [Symbol.iterator]: 4 })).toArray()]) { try { f(); r.push('no error'); } catch (e) { r.push(e.name + ': ' + e.message.replace(/#<Object>|\\[object Object\\]/, 'an object')); } } } const S = new Set([1, 2, 3]); if (typeof S.union === 'function') { const like = (keys, size) => ({ get size() { log('size'); return size ?? keys.length; }, get has() { log('has'); return (v) => { log('has ' + v); return keys.includes(v); }; }, get keys() { log('keys'); return () => { let i = 0; return { next() { log('k' + i); return i < keys.length ? { value: keys[i++] } : { done: true }; } }; }; } }); r.push([...S.union(like([3, 4]))], [...S.intersection(like([2, 9]))], [...S.difference(like([1], 1))], [...S.symmetricDifference(like([3, 5]))], S.isSubsetOf(like([1, 2, 3, 4])), S.isSupersetOf(like([1, 2])), S.isDisjointFrom(like([7, 8, 9, 10]))); for (const f of [() => S.union({ size: NaN }), () => S.union({ size: -1, has() {}, keys() {} }), () => S.union({ size: 1, has: 1 }), () => S.union({ size: 1, has() {}, keys: 2 }), () => Set.prototype.union.call({}, like([1])), () => S.union(1), () => S.union({ size: 1, has() {}, keys() { return 1; } }), () => S.union({ size: 1, has() {}, keys() { return { next: 1 }; } })]) { try { f(); r.push('no error'); } catch (e) { r.push(e.name + ': ' + e.message.replace(/#<Object>|\\[object Object\\]/, 'an object')); } } } return r;",
  'a promise combinator rejects when the iterable throws, and reads it once': "const r = []; const ps = [Promise.all({ get [Symbol.iterator]() { log('get'); throw new Error('g'); } }), Promise.race(5), Promise.any({ [Symbol.iterator]() { log('it'); return { next() { log('next'); return { done: true }; } }; } })]; for (const p of ps) { p.catch(() => {}); r.push(typeof p.then); } return r;",
  'JSON.stringify with toJSON, replacers and indentation': "const o = { d: new Date(0), t: { toJSON(k) { log('toJSON ' + k); return [k, 1]; } }, u: { toJSON() { return undefined; } }, n: [1, { a: 2, b: 'x' }] }; return [JSON.stringify(o), JSON.stringify(o, null, 3), JSON.stringify(o, null, '--'), JSON.stringify({ b: 1, a: { b: 3, c: 4 }, c: 2, 1: 'one' }, [new String('c'), 'a', 1, 'a', 'b', {}, null]), JSON.stringify(o, (k, v) => { log('r ' + k); return typeof v === 'number' ? v * 10 : v; }), JSON.stringify([new Date(0)], ['x']), JSON.stringify(undefined), JSON.stringify({ toJSON() { return undefined; } }), JSON.stringify(Array.from({ length: 600 }).reduce((v) => [v], 0)).length];",
  // Node 22 and later: raw JSON text is written as it is, through a replacer list too (the runtime's own
  // list filter, behind a toJSON, made `{}` of it).
  'JSON.stringify writes raw JSON text as it is': "if (typeof JSON.rawJSON !== 'function') return 'no rawJSON'; const r = JSON.rawJSON('1e3'); const o = { t: { toJSON: () => 1 }, x: r, y: { z: r, w: 2 } }; return [JSON.stringify(o), JSON.stringify(o, ['t', 'x', 'y', 'z']), JSON.stringify(o, (k, v) => v, 1), JSON.stringify([r, '\\u0001'], null, '-')];",
  'JSON.stringify reads getters once, in order, and hands a replacer its holder': "const o = { get ['a']() { log('get a'); return { toJSON() { log('toJSON'); return 2; } }; }, b: [1], get ['c']() { log('get c'); return 3; } }; return [JSON.stringify(o), JSON.stringify(o, ['c', 'a']), JSON.stringify(o, function (k, v) { log('holder ' + (this === o) + ' ' + k); return v; })];",
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
      // Proxy, Intl and `this` are PERMISSIVE-only; getters and prototype walks are not AgentScript.
      if (level.name.startsWith('STANDARD') && /Proxy|Intl|this|get \[|getPrototypeOf/.test(body)) continue;
      it(`${level.name}: ${name}`, async () => {
        const r = await level.enclave.run(script(body));
        expect(r.success ? r.value : r.error).toEqual(native(body));
      });
    }
  }
});
