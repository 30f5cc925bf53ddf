/**
 * Invariant 7 across the isolate, for the protectors that inv7-process-protectors.test.ts does not read
 * with natives. V8 turns a protector off for good, for every context of the isolate, when a store or a
 * define only looks up one of a few keys on one of a few receivers, even when the write then fails on a
 * frozen object. Found by red-teaming (Node 20, 22 and 24, every row below before the fix):
 *
 * - `next` on an array, Map, Set or String iterator (or on their prototypes), and `Symbol.iterator` on an
 *   array, a Set or a Map or Set iterator, turn off the iterator fast paths. `const it = [1].values(); try {
 *   it.next = 1 } catch {}` (STANDARD, validated; the write itself throws on the frozen prototype) made the
 *   host's own `[...array]` about 55 times slower and `[...map.values()]`, `[...set]` about 11 times
 *   slower, for the life of the process (`vm`) or of the worker and every later tenant of it.
 * - `valueOf` or `Symbol.toPrimitive` on a String object (Node 22 and 24: StringWrapperToPrimitive).
 * - A delete of any such key, as a write (`delete it.next`, STANDARD, validated).
 * - A write of any such key, or of `Symbol.replace`, `split`, `matchAll`, `toPrimitive`, `valueOf`,
 *   `Symbol.species`, on the realm's frozen intrinsics (String.prototype, Object.prototype,
 *   Set.prototype, `[].constructor`...): the write fails, the flag is off all the same
 *   (NumberStringPrototypeNoReplace on Node 20, NumberStringNotRegexpLike on 22 and 24, the species flags).
 * - A class field of the same names on an instance that a base constructor swapped for an iterator, or on
 *   a subclass of Array (PERMISSIVE, validated).
 *
 * The runtime now refuses each way to write such a key to such a receiver (with a TypeError) before V8
 * sees it: the rewriter's assignment guards (host protection, so written whatever `transform` says), the
 * defining builtins, Object.assign, proxies of such receivers, and a change of the prototype of an
 * iterator or a String object (which would hide it from the check). Both isolations, each layer off.
 *
 * Host-side evidence: V8's own report. Each child runs with `--trace-protector-invalidation`, with which
 * V8 prints every protector it turns off, in the host's isolate and in the workers'. Nothing may be
 * printed, not even for the realm's own build (see REALM_OWN), nor for its promises: a `then` on a promise
 * or on Object.prototype, or a `constructor` on a promise, turns off the Promise `then` or species flag
 * (PromiseThenLookupChain, PromiseSpeciesLookupChain) as a `next` does the iterator ones.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild } from '../helpers.js';

/**
 * What the realm's own build may turn off: nothing. It used to turn off PromiseThenLookupChain and
 * PromiseSpeciesLookupChain, in the host's isolate with the `vm` isolation (in each worker's with
 * `worker_threads`): its `then` wrapper on %PromisePrototype%, its own `Promise.prototype.constructor` and
 * a temporary own `constructor` on each promise it marked. Measured on Node 20, the host's own
 * `Promise.all` over 1,000 resolved promises became 2.2 to 2.9 times slower once a realm was built,
 * `new Promise((r) => r(p))` 1.6 times and `await p` 1.2 times. The realm's Promise.prototype is now an
 * object of its own and %PromisePrototype% is never written (see ownPrototype in promises.ts).
 */
const REALM_OWN = new Set<string>();

/** Writes through syntax: guarded by the rewriter, whatever `transform` says. */
const BY_SYNTAX: Record<string, string> = {
  'next on an array iterator (fails on the frozen prototype, after the lookup)': 'const it = [1].values(); it.next = 1;',
  'next on a Map iterator': 'const it = new Map().entries(); it.next = () => 1;',
  'next on a Set iterator': 'const it = new Set([1]).values(); it.next = 1;',
  'next on a String iterator': 'const it = "ab"[Symbol.iterator](); it.next = 1;',
  'next, compound': 'const it = [1].keys(); it.next += 1;',
  'next, update': 'const it = [1].entries(); it.next++;',
  'next, destructuring targets': 'const it = [1].values(); ({ a: it.next } = { a: 1 }); [it.next] = [1];',
  'next, a for-of target': 'const it = new Set([1]).values(); for (it.next of [1]);',
  // An update expression stores as an assignment does: its member took no guard at all (red9, every row).
  'next, update with a computed key': 'const it = [1].values(); const k = "ne" + "xt"; it[k]++;',
  'next, prefix update with a key whose toString changes': 'const it = [1].values(); let n = 0; const k = { toString: () => (n++ ? "next" : "x") }; --it[k];',
  'Symbol.iterator on an array, update': 'const a = [1]; a[Symbol.iterator]++;',
  'constructor on an array, update with a computed key': 'const a = [1]; const k = "constructor"; a[k]--;',
  'then on a promise, update with a computed key': 'const p = Promise.resolve(1); const k = "then"; p[k]++;',
  'next on this through super, update': 'const o = { __proto__: Object.getPrototypeOf([].values()), m(k) { super.next++; super[k]--; } }; o.m.call([1].values(), "next");',
  'next, computed': 'const it = [1].values(); const k = "ne" + "xt"; it[k] = 1;',
  'Symbol.iterator on an array': 'const a = [1, 2]; a[Symbol.iterator] = () => [].values(); return [...a].length;',
  'Symbol.iterator on a Map iterator': 'const it = new Map().values(); it[Symbol.iterator] = 1;',
  'Symbol.iterator on a Set': 'const s = new Set([1]); s[Symbol.iterator] = () => [].values();',
  'valueOf on a String object': 'const s = new String("a"); s.valueOf = () => "b";',
  'Symbol.toPrimitive on a String object': 'const s = new String("a"); s[Symbol.toPrimitive] = () => "b";',
  'Object.assign of next onto an iterator': 'Object.assign([1].values(), { next: 1 });',
  'Object.assign of Symbol.iterator onto an array': 'Object.assign([1], { [Symbol.iterator]: 1 });',
  'Object.assign of valueOf onto a String object': 'Object.assign(new String("a"), { valueOf: 1 });',
  'Object.assign of Symbol.iterator onto a Set': 'Object.assign(new Set(), { [Symbol.iterator]: 1 });',
  // A delete looks the key up as a write does.
  'delete next on an array iterator': 'const it = [1].values(); delete it.next;',
  'delete next on a Map iterator, computed': 'const it = new Map().keys(); const k = "next"; delete it[k];',
  'delete Symbol.iterator on an array': 'const a = [1]; delete a[Symbol.iterator];',
  'delete valueOf on a String object': 'const s = new String("a"); delete s.valueOf;',
  'delete through an optional chain': 'const it = [1].values(); delete it?.next;',
  'then on a promise': 'const p = Promise.resolve(1); p.then = () => 2;',
  'then on an async function\'s promise, computed': 'const p = (async () => 1)(); const k = "th" + "en"; p[k] = 1;',
  'then on a promise, compound': 'const p = Promise.resolve(1); p.then += 1;',
  'then on a promise, destructuring target': 'const p = Promise.resolve(1); ({ a: p.then } = { a: 1 });',
  'delete then on a promise': 'const p = Promise.resolve(1); delete p.then;',
  'Object.assign of then onto a promise': 'Object.assign(Promise.resolve(1), { then: 1 });',
  'Object.assign of then onto Object.prototype (frozen)': 'Object.assign(Object.getPrototypeOf({}), { then: 1 });',
};

/** Class fields defined on what a base constructor returned, or on a subclass of Array (PERMISSIVE allows classes). */
const BY_CLASS_FIELD: Record<string, string> = {
  'a field next on an iterator a base returned': 'class B { constructor(o) { return o; } } class C extends B { next = 1; } new C([1].values());',
  'a field valueOf on a String object a base returned': 'class B { constructor(o) { return o; } } class C extends B { valueOf = 1; } new C(new String("a"));',
  'a computed field Symbol.iterator on a subclass of Array': 'class C extends Array { [Symbol.iterator] = 1; } new C();',
  'a computed field next, key made at run time': 'class B { constructor(o) { return o; } } const k = "ne" + "xt"; class C extends B { [k] = 1; } new C(new Map().keys());',
  'Symbol.iterator on an instance of a subclass of Set': 'class S extends Set {} const s = new S(); s[Symbol.iterator] = 1;',
  'a field then on a subclass of Promise': 'class P extends Promise { then = 1; } new P(() => {});',
  'a field then on a promise a base returned': 'class B { constructor(o) { return o; } } class C extends B { then = 1; } new C(Promise.resolve(1));',
  'a computed field then, key made at run time': 'class B { constructor(o) { return o; } } const k = "th" + "en"; class C extends B { [k] = 1; } new C(Promise.resolve(1));',
  'constructor on an instance of a subclass of Promise': 'class P extends Promise {} const p = new P(() => {}); p.constructor = 1;',
};

/** Writes through builtins (validation refuses them; the runtime must hold with both layers off). */
const BY_BUILTIN: Record<string, string> = {
  'Reflect.set next on the array iterator prototype (frozen)': 'Reflect.set(Object.getPrototypeOf([].values()), "next", 1);',
  'Reflect.set Symbol.replace on String.prototype (frozen)': 'Reflect.set(String.prototype, Symbol.replace, 1);',
  'Reflect.set Symbol.split on Object.prototype (frozen)': 'Reflect.set(Object.prototype, Symbol.split, 1);',
  'Reflect.set Symbol.matchAll on Number.prototype (frozen)': 'Reflect.set(Number.prototype, Symbol.matchAll, 1);',
  'Reflect.set Symbol.replace on Boolean.prototype (frozen)': 'Reflect.set(Boolean.prototype, Symbol.replace, 1);',
  'Reflect.set Symbol.toPrimitive on Object.prototype (frozen)': 'Reflect.set(Object.prototype, Symbol.toPrimitive, 1);',
  'Reflect.set valueOf on String.prototype (frozen)': 'Reflect.set(String.prototype, "valueOf", 1);',
  'Reflect.set Symbol.iterator on Set.prototype (frozen)': 'Reflect.set(Set.prototype, Symbol.iterator, 1);',
  'Reflect.set Symbol.iterator on String.prototype (frozen)': 'Reflect.set(String.prototype, Symbol.iterator, 1);',
  'Reflect.set Symbol.iterator on %IteratorPrototype% (frozen)': 'Reflect.set(Object.getPrototypeOf(Object.getPrototypeOf([].values())), Symbol.iterator, 1);',
  'Reflect.set Symbol.species on [].constructor (frozen)': 'Reflect.set([].constructor, Symbol.species, 1);',
  'Reflect.set Symbol.species on /x/.constructor (frozen)': 'Reflect.set(/x/.constructor, Symbol.species, 1);',
  'Reflect.set with an iterator as the receiver': 'Reflect.set({}, "next", 1, [].values());',
  'Reflect.set Symbol.iterator on a Set': 'Reflect.set(new Set(), Symbol.iterator, 1);',
  'Reflect.deleteProperty next on the array iterator prototype (frozen)': 'Reflect.deleteProperty(Object.getPrototypeOf([].values()), "next");',
  'Reflect.deleteProperty Symbol.replace on String.prototype (frozen)': 'Reflect.deleteProperty(String.prototype, Symbol.replace);',
  'Reflect.deleteProperty Symbol.iterator on Set.prototype (frozen)': 'Reflect.deleteProperty(Set.prototype, Symbol.iterator);',
  'a String object moved to another prototype first': 'const s = new String("a"); Object.setPrototypeOf(s, Object.prototype); Object.defineProperty(s, "valueOf", { value: 1 });',
  'a Set moved to Object.prototype first, then Object.assign': 'const s = new Set(); Object.setPrototypeOf(s, Object.prototype); Object.assign(s, { [Symbol.iterator]: 1 });',
  'Reflect.defineProperty Symbol.toPrimitive on a String object': 'Reflect.defineProperty(Object("a"), Symbol.toPrimitive, { value: 1 });',
  'Object.defineProperty next on a String iterator': 'Object.defineProperty("ab"[Symbol.iterator](), "next", { value: 1 });',
  'Object.defineProperties Symbol.iterator on a Set iterator': 'Object.defineProperties(new Set().values(), { [Symbol.iterator]: { value: 1 } });',
  '__defineGetter__ next on a Map iterator': 'new Map().values().__defineGetter__("next", () => 1);',
  'Object.assign onto String.prototype (frozen)': 'Object.assign(String.prototype, { [Symbol.replace]: 1 });',
  'an iterator moved to another prototype first (Object.setPrototypeOf)': 'const it = [].values(); Object.setPrototypeOf(it, Object.prototype); Object.defineProperty(it, "next", { value: 1 });',
  'an iterator moved to another prototype first (Reflect.setPrototypeOf)': 'const it = new Map().keys(); Reflect.setPrototypeOf(it, null); Reflect.set(it, "next", 1);',
  'Reflect.set then on a promise': 'Reflect.set(Promise.resolve(1), "then", 1);',
  'Reflect.set then on Object.prototype (frozen)': 'Reflect.set(Object.prototype, "then", 1);',
  'Reflect.set with a promise as the receiver': 'Reflect.set({}, "then", 1, Promise.resolve(1));',
  'Reflect.defineProperty constructor on a promise': 'Reflect.defineProperty(Promise.resolve(1), "constructor", { value: undefined });',
  'Object.defineProperty constructor on an async function\'s promise': 'Object.defineProperty((async () => 1)(), "constructor", { value: Promise });',
  // The setters that keep a frozen prototype's keys overridable define an own property on any receiver (red9).
  'the constructor setter of Object.prototype, on an array': 'Object.getOwnPropertyDescriptor(Object.prototype, "constructor").set.call([1], 1);',
  'the constructor setter of Error.prototype, on a promise': 'Object.getOwnPropertyDescriptor(Error.prototype, "constructor").set.call(Promise.resolve(1), 1);',
  'the constructor setter of TypeError.prototype, on a RegExp': 'Object.getOwnPropertyDescriptor(TypeError.prototype, "constructor").set.call(/x/, 1);',
  'the valueOf setter of Object.prototype, on a String object': 'Object.getOwnPropertyDescriptor(Object.prototype, "valueOf").set.call(Object("a"), 1);',
  // Node 22 and 24: V8's own setter of Iterator.prototype.constructor defines it on any other receiver (red9).
  'the constructor setter of Iterator.prototype, on a promise': 'Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Object.getPrototypeOf([].values())), "constructor").set.call(Promise.resolve(1), 1);',
  'the constructor setter of Iterator.prototype, on an array': 'Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Object.getPrototypeOf([].values())), "constructor").set.call([1], 1);',
  'the constructor setter of Promise.prototype, on a promise': 'Object.getOwnPropertyDescriptor(Promise.prototype, "constructor").set.call(Promise.resolve(1), 1);',
  'Reflect.deleteProperty then on a promise': 'Reflect.deleteProperty(Promise.resolve(1), "then");',
  'a promise moved to another prototype first': 'const p = Promise.resolve(1); Object.setPrototypeOf(p, null); Reflect.set(p, "then", 1);',
  '__defineGetter__ then on a promise': 'Promise.resolve(1).__defineGetter__("then", () => 1);',
  'an iterator moved to another prototype first (__proto__ setter)': 'const it = new Set().keys(); const set = Object.getOwnPropertyDescriptor(Object.prototype, "__proto__").set; set.call(it, {}); Object.defineProperty(it, "next", { value: 1 });',
};

/** Proxies of such receivers: their default traps write to the target past every wrapper. */
const BY_PROXY: Record<string, string> = {
  'a proxy of an array iterator': 'Object.defineProperty(new Proxy([].values(), {}), "next", { value: 1 });',
  'a proxy of a String object': 'Reflect.set(new Proxy(Object("a"), {}), "valueOf", 1);',
  'a proxy of String.prototype (frozen)': 'Reflect.set(new Proxy(String.prototype, {}), Symbol.replace, 1);',
  'a proxy of a Set': 'Reflect.set(new Proxy(new Set(), {}), Symbol.iterator, 1);',
  'a proxy of a promise': 'Reflect.set(new Proxy(Promise.resolve(1), {}), "then", 1);',
  'a proxy of an iterator that lies about its prototype': 'Object.defineProperty(new Proxy(new Set().values(), { getPrototypeOf: () => Object.prototype }), "next", { value: 1 });',
};

/** Ordinary scripts that write the same keys elsewhere: they must keep working. */
const ORDINARY: Record<string, [string, unknown]> = {
  'a linked list': ['const head = { v: 1, next: null }; let n = head; for (let i = 2; i <= 5; i++) { n.next = { v: i, next: null }; n = n.next; } let s = 0; for (let m = head; m; m = m.next) s += m.v; return s;', 15],
  'valueOf and Symbol.toPrimitive on plain objects': ['const o = {}; o.valueOf = () => 2; const p = { [Symbol.toPrimitive]: () => 3 }; p[Symbol.toPrimitive] = () => 4; return o * p;', 8],
  'an iterable of its own': ['let i = 0; const it = {}; it.next = () => (i < 3 ? { value: i++, done: false } : { done: true, value: undefined }); it[Symbol.iterator] = () => it; return [...it].join();', '0,1,2'],
  'Object.assign of next and Symbol.iterator onto plain objects': ['const o = Object.assign({}, { next: 1, valueOf: 2, [Symbol.iterator]: 3 }); return o.next + o.valueOf + o[Symbol.iterator];', 6],
  'deletes on plain objects': ['const o = { next: 1, valueOf: 2, a: 3 }; delete o.next; delete o["valueOf"]; const k = "a"; delete o[k]; return Object.keys(o).length;', 0],
  'promises, async functions and thenables': ['const t = { then: (r) => r(4) }; const o = {}; o.then = (r) => r(5); const f = async (x) => x; const all = await Promise.all([f(1), new Promise((r) => r(2)).then((x) => x), Promise.reject(3).catch((x) => x), t, o]); return all.join() + (await Promise.resolve(0).finally(() => 9));', '1,2,3,4,50'],
  'iterating arrays, maps, sets and strings': ['let n = 0; for (const x of [1, 2]) n += x; for (const [k] of new Map([[3, 4]])) n += k; for (const x of new Set([5])) n += x; for (const c of "ab") n += c.length; return n + [...[1].values()].length;', 14],
};

const attempts = (set: Record<string, string>) => Object.fromEntries(Object.entries(set).map(([name, code]) => [name, `try { ${code} } catch (e) { return 'threw ' + e.name; } return 'done';`]));
const ordinary = Object.fromEntries(Object.entries(ORDINARY).map(([name, [code]]) => [name, code]));

const GROUPS = { syntax: attempts(BY_SYNTAX), 'class fields': attempts(BY_CLASS_FIELD), builtins: attempts(BY_BUILTIN), proxies: attempts(BY_PROXY), ordinary } as const;
type Group = keyof typeof GROUPS;

const MODES: { label: string; options: string; groups: Group[] }[] = [
  { label: 'vm STANDARD validated', options: '{}', groups: ['syntax', 'ordinary'] },
  { label: 'vm STANDARD, validate:false', options: '{ validate: false }', groups: ['syntax', 'builtins', 'ordinary'] },
  { label: 'vm PERMISSIVE validated', options: "{ securityLevel: 'PERMISSIVE' }", groups: ['syntax', 'class fields', 'proxies', 'ordinary'] },
  { label: 'vm PERMISSIVE, validate:false', options: "{ securityLevel: 'PERMISSIVE', validate: false }", groups: ['class fields', 'builtins', 'proxies'] },
  // The guards of these writes protect the host: the rewriter writes them whatever `transform` says.
  { label: 'vm PERMISSIVE, validate:false, transform:false', options: "{ securityLevel: 'PERMISSIVE', validate: false, transform: false }", groups: ['syntax', 'class fields', 'builtins', 'proxies', 'ordinary'] },
  { label: 'worker_threads STANDARD validated', options: "{ adapter: 'worker_threads' }", groups: ['syntax', 'ordinary'] },
  // A worker serves tenant after tenant: a protector its isolate lost slowed every later run in it.
  { label: 'worker_threads PERMISSIVE, validate:false, transform:false', options: "{ adapter: 'worker_threads', securityLevel: 'PERMISSIVE', validate: false, transform: false }", groups: ['syntax', 'class fields', 'builtins', 'proxies'] },
];

/**
 * One child a mode, running its groups one after the other on one Enclave, each group's results apart. A
 * child of its own per group (23 of them) cost a Node start and an engine import each, most of the
 * file's CPU. The proof is V8's report of the child: any protector any script turns off is printed and
 * fails the mode's rows (V8 reports a protector once, when it goes off: a later script that would turn
 * off the same one adds nothing a failure does not already say), and the ordinary scripts, which come
 * last, now also run as the tenant after the attempts.
 */
const child = (options: string, groups: readonly Group[]) => `
const enclave = new Enclave({ timeout: 10_000, ...(${options}) });
const out = {};
for (const [group, scripts] of Object.entries(${JSON.stringify(Object.fromEntries(groups.map((g) => [g, GROUPS[g]])))})) {
  out[group] = {};
  for (const [name, code] of Object.entries(scripts)) {
    const r = await enclave.run(code);
    out[group][name] = r.success ? r.value : r.error.code;
  }
}
await enclave.dispose();
console.log('RESULT ' + JSON.stringify(out));
`;

/** What a group's child may take: 60 s a group, as when each had a child of its own. */
const GROUP_MS = 60_000;
const children = new ChildBatch(2);
const rows = MODES.flatMap((mode) => {
  const key = children.add(mode.label, child(mode.options, mode.groups), { nodeArgs: ['--trace-protector-invalidation'], killAfterMs: mode.groups.length * GROUP_MS });
  return mode.groups.map((group) => ({ label: `${mode.label}: ${group}`, group, key }));
});
beforeAll(() => children.start(), 120_000);

describe('invariant 7: no script turns off a protector of the isolate (child processes, V8 reports each one it turns off)', () => {
  describe.each(rows)('$label', ({ key, group }) => {
    it('V8 turned off no protector besides the realm\'s own', async () => {
      const c = await children.result(key);
      expect(c.code, describeChild(c)).toBe(0);
      const off = [...new Set([...c.stdout.matchAll(/Invalidating protector cell (\w+)/g)].map((m) => m[1] as string))];
      expect(off.filter((p) => !REALM_OWN.has(p)), `${JSON.stringify(childResult(c))}`).toEqual([]);
    }, children.worstWaitMs());

    it(group === 'ordinary' ? 'every ordinary script gives its value' : 'every attempt is refused (by validation or with a TypeError)', async () => {
      const c = await children.result(key);
      const got = (childResult(c) as Record<Group, Record<string, unknown>> | undefined)?.[group] ?? {};
      expect(Object.keys(got), describeChild(c)).toEqual(Object.keys(GROUPS[group]));
      for (const [name, code] of Object.entries(GROUPS[group])) {
        if (group === 'ordinary') expect(got[name], name).toEqual((ORDINARY[name] as [string, unknown])[1]);
        else expect(got[name] === 'VALIDATION_ERROR' || got[name] === 'threw TypeError', `${name}: ${JSON.stringify(got[name])} (${code})`).toBe(true);
      }
    }, children.worstWaitMs());
  });
});
