/**
 * Invariants 4, 5 and 8 against natives that loop over what the script hands them, where every step can
 * be a builtin (so no checkpoint runs between two steps) or where the native reads again what the
 * runtime checked. Found by red-teaming (STANDARD, validated too):
 *
 * - RegExp.prototype's `Symbol.match`, `Symbol.replace` and `Symbol.split` on a receiver that is not a
 *   plain RegExp run V8's generic algorithm: a native loop that calls the `exec` it reads from `this`
 *   until that returns null, then reads every capture of every result up to the `length` the result
 *   claims. `RegExp.prototype[Symbol.match].call({ exec: Object, global: true }, 'ab')` never ends
 *   (`Object` returns a match of 'a' every time) and aborted a 256 MB vm host within 4 s; `replace` the
 *   same; `split` of a regexp whose species returns `{ exec: Object }` read a capture list as long as the
 *   string at every position (the same abort); an `exec` result claiming a length of 2^32 - 1 made V8
 *   allocate a capture vector of that length outside its heap (the host reached 23 GB and ran 90 s past
 *   a 2 s deadline; 10,000,000, used below, ran to OK after 80 MB no budget saw).
 * - `flat` counted what it would produce in a walk of its own and then let V8 flatten, which read every
 *   element again: an element getter that showed the walk 1 and V8 a DAG of 2^27 leaves aborted the
 *   host. `flatMap` with a builtin callback (`Object.bind(null, big)`) copied the same array of 1e6
 *   elements 2,000 times in one native step, uncharged (the same abort).
 * - `concat` charged the items' lengths before the call, and V8 then ran script code between the items
 *   it copied (element getters, the species, a `Symbol.isConcatSpreadable` getter): a getter that grew
 *   a later item had it copied uncharged, 16 times (the same abort).
 *
 * Host-side evidence: the vm shapes run in child processes with a 256 MB heap, which must exit cleanly
 * with nothing on stderr; the in-process rows judge by the outcome code and value (the flat getter's
 * value is what V8 read), and the worker row by the outcome its worker reports.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Adapter, Attack } from '../helpers.js';
import { ChildBatch, childResult, describeChild, hostsRuns, rowEnclave, runAttack, scriptsChild } from '../helpers.js';

/**
 * The loops over `exec` and `flatMap` (`limits` below) run to a budget of 100,000 iterations and 8 MB:
 * STANDARD's million iterations and 64 MB took them 1 to 5 s each on an idle machine (`a function as the
 * receiver` 3.4 s, `flatMap` of 1e6 elements 1.9 s), which a loaded one stretched past the 20 s deadline
 * (TIMEOUT). A loop the runtime does not count, or a copy it does not charge, never reaches either budget,
 * whatever its size (2,000 uncharged copies of 1e5 elements are 1.6 GB), so these still abort or hang a
 * broken host; both ends are still reached (`replace`, the regexp-like `match` and `flatMap` end by
 * memory, the others by iterations). `flatMap` writes the leaves one by one, so its work is its memory
 * budget: it gets 4 MB. `concat` is sized against STANDARD's 64 MB and keeps it.
 */
const LOOP_LIMITS = { maxIterations: 100_000, memoryLimit: 8 * 1024 * 1024 };
/**
 * For the shapes that must end at the memory budget although they also walk millions of elements in
 * natives, each charged to the iteration budget (see chargeWork): a budget that leaves the memory to end them.
 */
const WORK_BUDGET = 100_000_000;

/** Loops whose every step is a builtin, and natives that read again; each with the outcomes that bound it. */
const LOOPS: Record<string, { code: string; ends: readonly string[]; limits?: { maxIterations: number; memoryLimit: number } }> = {
  'match, exec: Object': { code: "return RegExp.prototype[Symbol.match].call({ exec: Object, global: true, flags: 'g' }, 'ab').length;", ends: ['MAX_ITERATIONS', 'MEMORY_LIMIT_EXCEEDED'], limits: LOOP_LIMITS },
  'replace, exec: Object': { code: "return RegExp.prototype[Symbol.replace].call({ exec: Object, global: true, flags: 'g' }, 'ab', 'x').length;", ends: ['MAX_ITERATIONS', 'MEMORY_LIMIT_EXCEEDED'], limits: LOOP_LIMITS },
  'String.prototype.match of a regexp-like': { code: "return 'ab'.match({ exec: Object, global: true, flags: 'g', [Symbol.match]: RegExp.prototype[Symbol.match] }).length;", ends: ['MAX_ITERATIONS', 'MEMORY_LIMIT_EXCEEDED'], limits: LOOP_LIMITS },
  'a RegExp with an own exec: Object': { code: "const r = new RegExp('a', 'g'); Object.defineProperty(r, 'exec', { value: Object }); return 'ab'.replace(r, 'x').length;", ends: ['MAX_ITERATIONS', 'MEMORY_LIMIT_EXCEEDED'], limits: LOOP_LIMITS },
  'a function as the receiver': { code: "const f = function () {}; f.exec = Object; f.global = true; f.flags = 'g'; return RegExp.prototype[Symbol.match].call(f, 'ab').length;", ends: ['MAX_ITERATIONS', 'MEMORY_LIMIT_EXCEEDED'], limits: LOOP_LIMITS },
  'split, a species whose splitter has exec: Object': { code: "class C { constructor() { return { exec: Object, lastIndex: 0 }; } } const r = new RegExp('a'); Object.defineProperty(Object.getPrototypeOf(Object.setPrototypeOf(r, Object.create(Object.getPrototypeOf(r)))), 'constructor', { value: { [Symbol.species]: C } }); return 'a'.repeat(20000).split(r).length;", ends: ['MAX_ITERATIONS', 'MEMORY_LIMIT_EXCEEDED'], limits: LOOP_LIMITS },
  // Read once, the getter answers 1: the result is [1].
  'flat, an element getter that shows V8 a DAG of 2^27 leaves': { code: "let big = [1]; for (let i = 0; i < 27; i++) big = [big, big]; const a = []; let c = 0; Object.defineProperty(a, 0, { get() { return c++ ? big : 1; }, enumerable: true }); return a.flat(Infinity).length;", ends: ['OK'] },
  'concat, an element getter that grows the later items after the charge': { code: `const chunk = new Array(65536).fill(0); const b = []; const a = []; Object.defineProperty(a, 0, { get() { for (let i = 0; i < 31; i++) b.push.apply(b, chunk); return 1; }, enumerable: true }); return [].concat(a${', b'.repeat(16)}).length;`, ends: ['MEMORY_LIMIT_EXCEEDED'], limits: { ...LOOP_LIMITS, maxIterations: WORK_BUDGET } },
  // Node 24: dispose() calls every deferred callback in one native step and wraps each failure in a new
  // SuppressedError, about 1.2 KB per entry that no budget sees (1.2 GB for 1e6): the host aborted. No
  // level's dialect has DisposableStack, and the realm no longer does either (older Nodes never had it).
  'DisposableStack.dispose of 900,000 deferred builtins that throw': { code: 'const s = new DisposableStack(); for (let i = 0; i < 900000; i++) s.defer(Symbol.prototype.valueOf); try { s.dispose(); } catch (e) { return e.name; }', ends: ['RUNTIME_ERROR'] },
  'flatMap, a builtin callback that returns one array of 1e5 elements 2,000 times': { code: 'const h = new Array(1e5).fill(0); const a = new Array(2000).fill(0); return a.flatMap(Object.bind(null, h)).length;', ends: ['MEMORY_LIMIT_EXCEEDED'], limits: { ...LOOP_LIMITS, memoryLimit: 4 * 1024 * 1024, maxIterations: WORK_BUDGET } },
};

// A run's limits only lower the instance's: the instance allows WORK_BUDGET, and each shape's limits
// (LOOP_LIMITS for most) bring it down.
const CHILD_MODES = [
  { label: 'STANDARD, validate:false, transform:false', options: `{ validate: false, transform: false, maxIterations: ${WORK_BUDGET} }` },
  { label: 'STANDARD validated', options: `{ maxIterations: ${WORK_BUDGET} }` },
] as const;

const LIMITS = Object.fromEntries(Object.entries(LOOPS).flatMap(([name, { limits }]) => (limits ? [[name, limits]] : [])));
const RUN_MS = 20_000;
const HEAP = { nodeArgs: ['--max-old-space-size=256'], killAfterMs: hostsRuns(Object.keys(LOOPS).length, RUN_MS) };
const children = new ChildBatch(2);
const rows = CHILD_MODES.map((mode) => ({ ...mode, key: children.add(mode.label, scriptsChild(mode.options, Object.fromEntries(Object.entries(LOOPS).map(([name, { code }]) => [name, code])), { timeout: RUN_MS, limits: LIMITS }), HEAP) }));
beforeAll(() => children.start(), 120_000);

describe('invariant 8: native loops over builtins and re-reads do not outgrow a 256 MB vm host (child processes)', () => {
  describe.each(rows)('$label', ({ key, options }) => {
    it('every shape ends bounded, the host survives and writes nothing', async () => {
      const child = await children.result(key);
      expect(child.code, describeChild(child)).toBe(0);
      expect(child.signal, describeChild(child)).toBeNull();
      expect(child.stderr, 'the host process wrote to stderr').toBe('');
      const got = childResult(child) as { out: Record<string, string> };
      for (const [name, { ends }] of Object.entries(LOOPS)) {
        // Validation may refuse a shape (Object.defineProperty, say); what it lets run must end bounded.
        const allowed = options === CHILD_MODES[1].options ? [...ends, 'VALIDATION_ERROR'] : ends;
        expect(allowed, `${name}: ${JSON.stringify(got)}`).toContain(got.out[name]);
      }
    }, HEAP.killAfterMs + 10_000);
  });
});

// The attacks that must end by memory get a deadline of 30 s: STRICT's 5 s can pass first on a loaded machine.
const ROWS: readonly Adapter[] = [
  { name: 'vm, validate:false transform:false', options: { validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'vm STRICT, validate:false transform:false', options: { securityLevel: 'STRICT', validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'vm PERMISSIVE, validate:false', options: { securityLevel: 'PERMISSIVE', validate: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'worker_threads, validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 2 } }, validates: false },
];

/** What the generic algorithms answer for ordinary regexp-likes, subclasses and species: the host's own answers.
 * A species comes from a `constructor` on a prototype put between the array or RegExp and its own: the
 * realm refuses an own `constructor` on them (it turns off V8's species fast paths for the process).
 */
const SEMANTICS = `
const out = [];
const log = [];
let n = 0;
const fake = { lastIndex: 0, global: true, flags: 'g', exec(s) { log.push('exec:' + this.lastIndex); if (n++ > 2) return null; this.lastIndex++; return { 0: 'q' + n, 1: 'c', index: n, length: 2 }; } };
out.push(RegExp.prototype[Symbol.match].call(fake, 'abcdef'));
n = 0; out.push(RegExp.prototype[Symbol.replace].call(fake, 'abcdef', '[$&|$1]'));
n = 0; out.push(RegExp.prototype[Symbol.replace].call(fake, 'abcdef', (...a) => a.join('/')));
const own = { 0: 'z', index: 0, length: 1 };
out.push(RegExp.prototype[Symbol.match].call({ exec() { return own; } }, 'abc') === own);
class R extends RegExp { exec(s) { log.push('sub'); return super.exec(s); } }
out.push('a-b-c'.split(new R('-')), 'a-b-c'.replace(new R('-', 'g'), '+'), 'a-b-c'.match(new R('-', 'g')));
const r2 = new RegExp('b', 'g'); Object.defineProperty(r2, 'exec', { value: function (s) { log.push('own'); return RegExp.prototype.exec.call(this, s); } });
out.push('abcb'.replace(r2, 'X'));
out.push(RegExp.prototype[Symbol.match].call(Object.freeze({ exec: () => null, global: false }), 'x'));
const r3 = new RegExp(','); Object.defineProperty(Object.getPrototypeOf(Object.setPrototypeOf(r3, Object.create(Object.getPrototypeOf(r3)))), 'constructor', { value: { [Symbol.species]: function (rx, f) { log.push('species:' + (rx === r3) + f); return new RegExp(rx, f); } } });
out.push('1,2,3'.split(r3));
const r4 = new RegExp('x'); r4.foo = 1; out.push('axbxc'.split(r4));
const r5 = { exec: null, get global() { log.push('getG:' + (this === r5)); return false; } };
try { RegExp.prototype[Symbol.match].call(r5, 'a'); } catch (e) { out.push(e.name); }
out.push(RegExp.prototype[Symbol.search].call({ exec: () => ({ index: 7 }), lastIndex: 0 }, 'abc'));
out.push([...'a1b2'.matchAll(new RegExp('[0-9]', 'g'))].map((m) => m[0]));
try { RegExp.prototype[Symbol.match].call({ exec: () => 5 }, 'a'); } catch (e) { out.push(e.name); }
const fn = function () {}; fn.exec = () => null; out.push(RegExp.prototype[Symbol.match].call(fn, 'a'));
return [out, log];`;

/** What `flat` and `flatMap` answer (depths, holes, array-likes, species, callbacks): the host's own answers. */
const FLAT_SEMANTICS = `
const out = [];
const t = (f) => { try { const v = f(); out.push(Array.isArray(v) ? [Object.getPrototypeOf(v) === Array.prototype, v.length, JSON.stringify(v), Object.keys(v).join()] : v); } catch (e) { out.push(e.name); } };
for (const d of [undefined, Infinity, 0, -1, '2', NaN]) t(() => [1, [2, [3, [4]]]].flat(d));
t(() => [1, , 3, [4, , 6]].flat());
t(() => Array.prototype.flat.call({ length: 3, 0: [1, 2], 2: 'x' }));
t(() => Array.prototype.flat.call('ab'));
t(() => Array.prototype.flat.call(null));
class A extends Array {}
t(() => { const r = A.from([1, [2]]).flat(); return [r instanceof A, r.length]; });
t(() => { const a = [1, [2]]; Object.defineProperty(Object.getPrototypeOf(Object.setPrototypeOf(a, Object.create(Object.getPrototypeOf(a)))), 'constructor', { value: { [Symbol.species]: function (n) { this.made = n; } } }); const r = a.flat(); return [r.made, r[0], r[1], r.length, Array.isArray(r)]; });
for (const c of [{ [Symbol.species]: 5 }, 7, { [Symbol.species]: null }]) t(() => { const a = [1]; Object.defineProperty(Object.getPrototypeOf(Object.setPrototypeOf(a, Object.create(Object.getPrototypeOf(a)))), 'constructor', { value: c }); return a.flat(); });
t(() => [1, 2, 3].flatMap((x) => [x, [x * 2]]));
t(() => [1, 2, 3].flatMap((x, i, arr) => [i, Array.isArray(arr)]));
t(() => [1, 2].flatMap(function (x) { return [this.k + x]; }, { k: 10 }));
t(() => [1, 2].flatMap(5));
t(() => Array.prototype.flatMap.call({ length: 2, 0: 'a', 1: 'b' }, (x, i, o) => [x, typeof o, o.length]));
t(() => Array.prototype.flatMap.call('xy', (c, i, o) => [c, typeof o]));
t(() => [[1], [2]].flatMap(Object));
t(() => { const a = [1, 2]; return a.flatMap((x) => { a.push(9); return x; }); });
t(() => { const r = []; r.length = 3; return [r, [r]].flat(2); });
return out;`;

/** What `concat` answers (holes, receivers, spreadable flags, species, getters and their order): the host's own answers. */
const CONCAT_SEMANTICS = `
const out = [];
const t = (f) => { try { const v = f(); out.push(Array.isArray(v) ? [Object.getPrototypeOf(v) === Array.prototype, v.length, JSON.stringify(v), Object.keys(v).join()] : v); } catch (e) { out.push(e.name); } };
t(() => [1, 2].concat(3, [4, [5]], 'ab', null, undefined));
t(() => [1, , 3].concat([, 5], []));
t(() => [].concat());
t(() => Array.prototype.concat.call('ab', 1).map((x) => typeof x));
t(() => Array.prototype.concat.call(null, 1));
t(() => { const o = { length: 2, 0: 'a' }; const r = Array.prototype.concat.call(o, 1); return [r.length, r[0] === o, r[1]]; });
class A extends Array {}
t(() => { const r = A.from([1]).concat([2], 3); return [r instanceof A, r.length, r[0], r[1], r[2]]; });
t(() => { const a = [1, [2]]; Object.defineProperty(Object.getPrototypeOf(Object.setPrototypeOf(a, Object.create(Object.getPrototypeOf(a)))), 'constructor', { value: { [Symbol.species]: function (n) { this.made = n; } } }); const r = a.concat(3); return [r.made, r[0], r[1], r.length, Array.isArray(r)]; });
t(() => { const a = [1]; Object.defineProperty(Object.getPrototypeOf(Object.setPrototypeOf(a, Object.create(Object.getPrototypeOf(a)))), 'constructor', { value: { [Symbol.species]: 5 } }); return a.concat(2); });
const log = [];
t(() => { const a = []; const b = [2, 3]; Object.defineProperty(a, 0, { get() { log.push('a0'); return 1; }, enumerable: true }); Object.defineProperty(b, 0, { get() { log.push('b0'); return 7; }, enumerable: true }); return [0].concat(a, b); });
t(() => { const a = [1]; let c = 0; Object.defineProperty(a, 0, { get() { return ++c; }, enumerable: true }); return [a.concat(a), c]; });
t(() => { const b = new A(); b.push(1, 2); return [0].concat(b); });
t(() => [0].concat(new Set([1])).length);
out.push(log);
return out;`;

function hostAnswer(code: string): unknown {
  // oxlint-disable-next-line no-new-func -- test-only: the host's own answers for the realm's text
  return JSON.parse(JSON.stringify(new Function(code)()));
}

const ATTACKS: readonly Attack[] = [
  {
    name: 'match over exec: Object stops at the iteration budget',
    code: LOOPS['match, exec: Object']?.code as string,
    enclave: { maxIterations: 20_000 },
    expect: ['MAX_ITERATIONS'],
  },
  {
    name: 'split over a species splitter with exec: Object stops at the iteration budget',
    code: LOOPS['split, a species whose splitter has exec: Object']?.code as string,
    enclave: { maxIterations: 20_000 },
    expect: ['MAX_ITERATIONS'],
  },
  {
    name: 'an exec result claiming 10,000,000 captures is refused before V8 allocates for them',
    code: 'return RegExp.prototype[Symbol.replace].call({ exec: () => ({ length: 1e7, 0: "a", index: 0 }) }, "ab", "x");',
    expect: ['RUNTIME_ERROR'],
    check: (r) => expect(r.error?.message).toMatch(/^A match result of length 10000000 is not available in AgentScript/),
  },
  {
    name: 'the generic algorithms keep the native answers (regexp-likes, subclasses, species, frozen receivers)',
    code: SEMANTICS,
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual(hostAnswer(SEMANTICS)),
  },
  {
    name: 'flat reads an element once: a getter that would show V8 a DAG of 2^20 leaves is read as 1',
    code: "let big = [1]; for (let i = 0; i < 20; i++) big = [big, big]; const a = []; let c = 0; Object.defineProperty(a, 0, { get() { return c++ ? big : 1; }, enumerable: true }); return a.flat(Infinity).length;",
    enclave: { memoryLimit: 16 * 1024 * 1024, timeout: 30_000 },
    expect: ['OK'],
    check: (r) => expect(r.value).toBe(1),
  },
  {
    name: 'flatMap with a builtin callback that returns one array of 1e5 elements 300 times is charged what it writes',
    code: 'const h = new Array(1e5).fill(0); const a = new Array(300).fill(0); return a.flatMap(Object.bind(null, h)).length;',
    // The leaves are written one by one, so the work is the budget's: 16 MB reached the 30 s deadline
    // at a load average of 20. 300 uncharged copies are 240 MB.
    enclave: { memoryLimit: 4 * 1024 * 1024, timeout: 30_000, maxIterations: WORK_BUDGET },
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    name: 'concat charges each item when it reads it: a getter that grows the later items after the charge',
    // The getter grows b to 7.9 MB and eight copies of it are 63 MB, twice the budget. At 128 MB (b of
    // 32 MB) this took 5 to 13 s at a load average of 20, and reached its 30 s deadline.
    code: `const chunk = new Array(65536).fill(0); const b = []; const a = []; Object.defineProperty(a, 0, { get() { for (let i = 0; i < 15; i++) b.push.apply(b, chunk); return 1; }, enumerable: true }); return [].concat(a${', b'.repeat(8)}).length;`,
    enclave: { memoryLimit: 32 * 1024 * 1024, timeout: 30_000, maxIterations: WORK_BUDGET },
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    name: 'concat keeps the native answers',
    code: CONCAT_SEMANTICS,
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual(hostAnswer(CONCAT_SEMANTICS)),
  },
  {
    name: 'flat and flatMap keep the native answers',
    code: FLAT_SEMANTICS,
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual(hostAnswer(FLAT_SEMANTICS)),
  },
];

describe.each(ROWS)('invariants 4, 5 and 8: native loops over what the script hands them [$name]', (adapter) => {
  const shared = rowEnclave(adapter);
  for (const attack of ATTACKS) {
    it(attack.name, async () => {
      await runAttack(adapter, attack, shared);
    }, 60_000);
  }
});
