/**
 * Invariants 4, 5 and 8 against native builtins whose cost is in the strings they are handed, not in the
 * array's length: a concatenation (`p + i`) of a long prefix costs a few bytes until V8 flattens it into a
 * copy of its whole length, which a comparison does without any charge, inside one native step that
 * ignores termination. A red-team pass found:
 *
 * - a default-order sort of at most 4,096 elements ran as V8's native sort: 1,024 such strings of 1e6
 *   characters blocked the vm host for 6 s past a 300 ms deadline, and 4,096 of 1.2e6 characters
 *   aborted the host process (FATAL OOM in String::SlowFlatten, memory limit 64 MB);
 * - Array `indexOf`, `includes` and `lastIndexOf` of a long string compared it with every element in one
 *   native loop (2e5 references to a 1e6-character string: 5 s past the deadline), flattening every
 *   concatenation of the needle's length;
 * - Array `toLocaleString` of at most 8,192 elements was charged nothing: 17 references to a string of
 *   3e7 characters made one of 5.1e8 (memory limit 64 MB) and the run succeeded; 14 such calls in one
 *   expression aborted the vm host;
 * - `join` read the array's length before converting the separator, script code that may grow the
 *   array: the native then joined the grown array in one step, uncharged and unsliced. (V8 itself reads
 *   the length first and joins that many elements; handed the converted separator, it reads the length
 *   again, so an array whose length the separator changed is now joined by slices of the first length.)
 *
 * Host-side evidence only: the outcome code. Each attack ran to OK (or, for join, to V8's own
 * "Invalid string length" after building half a gigabyte) before the fix. The runtime must hold alone:
 * every row runs with `validate: false` and `transform: false`, in both isolations, plus a validated one.
 */
import { describe, expect, it } from 'vitest';
import type { Adapter, Attack } from '../helpers.js';
import { rowEnclave, runAttack } from '../helpers.js';

const ROWS: readonly Adapter[] = [
  { name: 'vm STANDARD validated', options: { realmPool: { maxIdle: 1, prewarm: 0 } }, validates: true },
  { name: 'vm, validate:false transform:false', options: { validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'vm PERMISSIVE, validate:false', options: { securityLevel: 'PERMISSIVE', validate: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'worker_threads, validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 2 } }, validates: false },
];

/** 16 MB: 8 M characters a string, and heap checks against 16 MB. */
const SMALL_BUDGET = { memoryLimit: 16 * 1024 * 1024, timeout: 30_000 };

/** 200 concatenations of one prefix of 1e6 characters, each as long as `p + 'z'` (~32 bytes each until flattened). */
const CONS = "const p = 'a'.repeat(1e6); const a = []; for (let i = 0; i < 200; i++) a.push(p + String.fromCharCode(65 + (i % 26)));";

/** RegExp test and search as scripts call them: evaluated in the realm and, for the expected answers, in the host. */
const REGEXP_CASES = `(() => { const long = 'ab'.repeat(2e4) + 'c'; const g = /b/g; const y = /a/y; const out = [/a/.test('xa'), g.test('abab'), g.lastIndex, g.test('abab'), g.lastIndex, g.test('abab'), g.lastIndex, y.test('ba'), y.lastIndex, 'abc'.search(/c/), 'abc'.search('z'), 'a.c'.search('.'), long.search(/c/), /c/.test(long), /d/.test(long), /(?:)/[Symbol.search]('x'), /u/.test(), RegExp.prototype.test.call({ exec: () => ({}) }, 'q'), RegExp.prototype[Symbol.search].call({ lastIndex: 0, exec: () => ({ index: 7 }) }, 'q')];
  for (const f of [() => RegExp.prototype.test.call(1, { toString() { throw new Error('converted'); } }), () => /a/.test(Symbol('s')), () => RegExp.prototype[Symbol.search].call(null, 'x'), () => RegExp.prototype.test.call({ exec: () => 1 }, 'q')]) { try { out.push(f()); } catch (e) { out.push(e.name + ': ' + e.message); } }
  return out; })()`;

const ATTACKS: readonly Attack[] = [
  {
    name: 'a default-order sort of 200 long concatenations flattens 200 MB: charged, it ends at the memory limit',
    code: `${CONS} a.sort(); return a.length;`,
    enclave: SMALL_BUDGET,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    name: 'toSorted of the same strings, default order',
    code: `${CONS} return a.toSorted().length;`,
    enclave: SMALL_BUDGET,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  ...(['indexOf', 'includes', 'lastIndexOf'] as const).map((m): Attack => ({
    name: `Array ${m} of a needle as long as 200 concatenations flattens each: charged, it ends at the memory limit`,
    code: `${CONS} return a.${m}(p + 'z');`,
    enclave: SMALL_BUDGET,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  })),
  {
    name: 'Array toLocaleString of three strings of 8e6 characters is charged its output',
    code: "const s = 'x'.repeat(8e6); return [s, s, s].toLocaleString().length;",
    enclave: SMALL_BUDGET,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    // V8 reads the length before it converts the separator and joins that many elements: the array the
    // separator grew to 1e6 holes joins as its one element, by slices of the length read, not natively.
    name: 'join joins the length read before the separator: a separator that grows the array to 1e6 holes',
    code: "const a = [1]; const sep = { toString() { a.length = 1e6; return 'x'.repeat(1000); } }; return [a.join(sep), a.length];",
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual(['1', 1e6]),
  },
  // Natives that join strings the script supplied (found by red-teaming): V8 joins long parts as a rope,
  // a few bytes, so no heap check saw them, and the charges made before the call could not see every
  // part. Each made a string of 5e8 characters under a 64 MB budget and answered OK (at STRICT too,
  // validated); its first use as a property key was one allocation of 1 GB, which aborted a 512 MB host
  // and blocked a 4 GB one for 7 s in one uninterruptible step.
  {
    name: 'a replacement that repeats the text before the match (`$``) 500 times',
    code: "const s = 'a'.repeat(1e6) + 'b'; return s.replace('b', '$`'.repeat(500)).length;",
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    name: 'replaceAll with a replacement that repeats the match (`$&`) of a long string pattern',
    code: "const p = 'a'.repeat(1e6); return (p + 'b').replaceAll(p, '$&'.repeat(500)).length;",
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    name: "RegExp.prototype[Symbol.replace] on an object whose exec returns a long capture, repeated by `$1`",
    code: "const big = 'x'.repeat(1e6); let n = 0; const fake = { lastIndex: 0, flags: 'g', global: true, exec() { return n++ < 1 ? { 0: 'a', 1: big, index: 0, length: 2 } : null; } }; return RegExp.prototype[Symbol.replace].call(fake, 'aaaa', '$1'.repeat(500)).length;",
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    name: 'String.raw with 500 substitutions of a 1e6-character string',
    code: "const big = 'x'.repeat(1e6); return String.raw({ raw: Array(501).fill('') }, ...Array(500).fill(big)).length;",
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    name: 'Error.prototype.toString and RegExp.prototype.toString, joined and set back, double in every turn',
    code: "let s = 'ab'.repeat(5e5); const e = new Error('x'); for (let i = 0; i < 9; i++) { e.name = s; e.message = s; s = e.toString(); } const f = { source: s, flags: s }; return [s.length, RegExp.prototype.toString.call(f).length];",
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    name: 'the natives charged their output keep their answers',
    code: "const e = new TypeError('m'); const f = new Error('n'); f.name = ''; return ['abcb'.replace('b', '[$&$`$\\'$$]'), 'abcb'.replaceAll('b', '<$&>'), 'a1b2'.replace(/(\\d)/g, '{$1}'), String.raw({ raw: ['x', 'y', 'z'] }, 1, 2, 3), String(e), String(f), String(/a+/gi), RegExp.prototype.toString.call({ source: 's', flags: 'f' })];",
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual(['a[bacb$]cb', 'a<b>c<b>', 'a{1}b{2}', 'x1y2z', 'TypeError: m', 'n', '/a+/gi', '/s/f']),
  },
  // What the fix must not change: the same answers as V8's own.
  {
    name: 'searches of a long string keep the native answers (fromIndex, holes, array-likes)',
    code: "const L = 'q'.repeat(100); const a = []; for (let i = 0; i < 400000; i++) a.push(i % 1000 === 7 ? L : 'x'); delete a[5]; const al = { length: 400000, 399000: L }; return [a.indexOf(L), a.indexOf(L, 8), a.indexOf(L, -1000), a.indexOf(L, Infinity), a.lastIndexOf(L), a.lastIndexOf(L, 6), a.lastIndexOf(L, -1), a.lastIndexOf(L, undefined), a.includes(L), a.includes(L, 399999), a.includes('z'.repeat(100)), Array.prototype.indexOf.call(al, L), Array.prototype.lastIndexOf.call(al, L)];",
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual([7, 1007, 399007, -1, 399007, -1, 399007, -1, true, false, false, 399000, 399000]),
    // Thirteen searches of 400,000 elements, each charged its length (see chargeWork).
    enclave: { maxIterations: 10_000_000 },
  },
  {
    // Charged what they read (see inv5-native-bulk-work); the answers, errors and lastIndex are the native's.
    name: 'RegExp test and search keep the native answers',
    code: `return ${REGEXP_CASES};`,
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual(JSON.parse(JSON.stringify(new Function(`return ${REGEXP_CASES};`)()))),
  },
  {
    name: 'a short default-order sort keeps the native order',
    code: "const s = []; for (let i = 0; i < 3000; i++) s.push((i * 7919) % 3001); s.push(undefined, 'b', 'a', 10, -1, null, true, [1, 2]); s.length += 2; s.sort(); return [s.slice(0, 4).join('|'), s.slice(-10, -3).map(String).join('|'), s.length, 3009 in s];",
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual(['-1|0|1|1,2', '997|998|999|a|b|null|true', 3010, false]),
  },
];

describe.each(ROWS)('invariants 4, 5 and 8 against native work on long strings [$name]', (adapter) => {
  // Worker rows: the attacks share one pool per option set, each meeting the worker the previous tenant
  // left (or its replacement), instead of starting one of their own (about 100 ms of CPU each); each is
  // still followed by a tenant that must find a clean world. vm rows keep an Enclave per attack.
  const shared = rowEnclave(adapter);
  for (const attack of ATTACKS) {
    it(attack.name, async () => {
      await runAttack(adapter, attack, shared);
    }, 120_000);
  }
});
