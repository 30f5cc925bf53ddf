/**
 * Invariants 4, 5 and 8 against RegExp.prototype's `Symbol.match`, `Symbol.replace` and `Symbol.split`
 * on a receiver that is not a plain RegExp. V8 then runs the generic algorithm: a native loop that calls
 * the `exec` it reads from `this` until that returns null, then reads every capture of every result up
 * to the `length` the result claims. The script supplies both, and neither needs to be script code, so
 * no checkpoint ran between two steps. Found by red-teaming (STANDARD, validated too):
 *
 * - `RegExp.prototype[Symbol.match].call({ exec: Object, global: true }, 'ab')` never ends (`Object`
 *   returns a match of 'a' every time) and aborted a 256 MB vm host out of memory within 4 s;
 * - `replace` with the same receiver: the same;
 * - `split` of a regexp whose species constructor returns `{ exec: Object }`: a capture list as long as
 *   the string at every position (the same abort);
 * - an `exec` result claiming a length of 2^32 - 1: V8 allocated a capture vector of that length outside
 *   its heap (the host reached 23 GB and ran 90 s past a 2 s deadline). 10,000,000 (used below) ran to OK
 *   after allocating 80 MB no budget saw.
 *
 * Host-side evidence: the vm shapes run in child processes with a 256 MB heap, which must exit cleanly
 * with nothing on stderr; the in-process rows judge by the outcome code, and the worker row by the
 * outcome its worker reports (before the fix: its heap cap, not the iteration budget).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Adapter, Attack } from '../helpers.js';
import { ChildBatch, childResult, describeChild, rowEnclave, runAttack, scriptsChild } from '../helpers.js';

/** Receivers whose `exec` is a builtin (or whose splitter's is): each step runs no script code. */
const LOOPS: Record<string, string> = {
  'match, exec: Object': "return RegExp.prototype[Symbol.match].call({ exec: Object, global: true, flags: 'g' }, 'ab').length;",
  'replace, exec: Object': "return RegExp.prototype[Symbol.replace].call({ exec: Object, global: true, flags: 'g' }, 'ab', 'x').length;",
  'String.prototype.match of a regexp-like': "return 'ab'.match({ exec: Object, global: true, flags: 'g', [Symbol.match]: RegExp.prototype[Symbol.match] }).length;",
  'a RegExp with an own exec: Object': "const r = new RegExp('a', 'g'); Object.defineProperty(r, 'exec', { value: Object }); return 'ab'.replace(r, 'x').length;",
  'a function as the receiver': "const f = function () {}; f.exec = Object; f.global = true; f.flags = 'g'; return RegExp.prototype[Symbol.match].call(f, 'ab').length;",
  'split, a species whose splitter has exec: Object': "class C { constructor() { return { exec: Object, lastIndex: 0 }; } } const r = new RegExp('a'); Object.defineProperty(r, 'constructor', { value: { [Symbol.species]: C } }); return 'a'.repeat(20000).split(r).length;",
};

const CHILD_MODES = [
  { label: 'STANDARD, validate:false, transform:false', options: '{ validate: false, transform: false }' },
  { label: 'STANDARD validated', options: '{}' },
] as const;

const HEAP = { nodeArgs: ['--max-old-space-size=256'], killAfterMs: 120_000 };
const children = new ChildBatch(2);
const rows = CHILD_MODES.map((mode) => ({ ...mode, key: children.add(mode.label, scriptsChild(mode.options, LOOPS, { timeout: 20_000 }), HEAP) }));
beforeAll(() => children.start(), 120_000);

describe('invariant 8: a RegExp protocol loop over a builtin exec does not outgrow a 256 MB vm host (child processes)', () => {
  describe.each(rows)('$label', ({ key, options }) => {
    it('every loop ends at a budget, the host survives and writes nothing', async () => {
      const child = await children.result(key);
      expect(child.code, describeChild(child)).toBe(0);
      expect(child.signal, describeChild(child)).toBeNull();
      expect(child.stderr, 'the host process wrote to stderr').toBe('');
      const got = childResult(child) as { out: Record<string, string> };
      // Validation may refuse a shape (Object.defineProperty, say); what it lets run must end bounded.
      const allowed = options === '{}' ? ['MAX_ITERATIONS', 'MEMORY_LIMIT_EXCEEDED', 'VALIDATION_ERROR'] : ['MAX_ITERATIONS', 'MEMORY_LIMIT_EXCEEDED'];
      for (const name of Object.keys(LOOPS)) expect(allowed, `${name}: ${JSON.stringify(got)}`).toContain(got.out[name]);
    }, 130_000);
  });
});

const ROWS: readonly Adapter[] = [
  { name: 'vm, validate:false transform:false', options: { validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'vm STRICT, validate:false transform:false', options: { securityLevel: 'STRICT', validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'vm PERMISSIVE, validate:false', options: { securityLevel: 'PERMISSIVE', validate: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'worker_threads, validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 2 } }, validates: false },
];

/** What the generic algorithms answer for ordinary regexp-likes, subclasses and species: the host's own answers. */
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
const r3 = new RegExp(','); Object.defineProperty(r3, 'constructor', { value: { [Symbol.species]: function (rx, f) { log.push('species:' + (rx === r3) + f); return new RegExp(rx, f); } } });
out.push('1,2,3'.split(r3));
const r4 = new RegExp('x'); r4.foo = 1; out.push('axbxc'.split(r4));
const r5 = { exec: null, get global() { log.push('getG:' + (this === r5)); return false; } };
try { RegExp.prototype[Symbol.match].call(r5, 'a'); } catch (e) { out.push(e.name); }
out.push(RegExp.prototype[Symbol.search].call({ exec: () => ({ index: 7 }), lastIndex: 0 }, 'abc'));
out.push([...'a1b2'.matchAll(new RegExp('[0-9]', 'g'))].map((m) => m[0]));
try { RegExp.prototype[Symbol.match].call({ exec: () => 5 }, 'a'); } catch (e) { out.push(e.name); }
const fn = function () {}; fn.exec = () => null; out.push(RegExp.prototype[Symbol.match].call(fn, 'a'));
return [out, log];`;

function hostAnswer(code: string): unknown {
  // oxlint-disable-next-line no-new-func -- test-only: the host's own answers for the realm's text
  return JSON.parse(JSON.stringify(new Function(code)()));
}

const ATTACKS: readonly Attack[] = [
  {
    name: 'match over exec: Object stops at the iteration budget',
    code: LOOPS['match, exec: Object'] as string,
    enclave: { maxIterations: 20_000 },
    expect: ['MAX_ITERATIONS'],
  },
  {
    name: 'split over a species splitter with exec: Object stops at the iteration budget',
    code: LOOPS['split, a species whose splitter has exec: Object'] as string,
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
];

describe.each(ROWS)('invariants 4, 5 and 8: the RegExp protocol over a script\'s exec [$name]', (adapter) => {
  const shared = rowEnclave(adapter);
  for (const attack of ATTACKS) {
    it(attack.name, async () => {
      await runAttack(adapter, attack, shared);
    }, 60_000);
  }
});
