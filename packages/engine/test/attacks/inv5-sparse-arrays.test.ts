/**
 * Invariants 4, 5 and 8 against a write that turns a long array's elements into a dictionary. V8 keeps
 * an array's elements in a fast backing store until a store lands more than 1,024 past its end, its
 * `length` is set that far out, or an element is defined as an accessor or with attributes of its own;
 * then it converts every element into a dictionary entry (about 42 bytes each) in one native step that
 * ignores termination. No builtin runs and no loop: no charge and no checkpoint saw it. Found by
 * red-teaming (Node 20, 22 and 24, validated and with both layers off, both isolations): `a[2 ** 31] = 1`
 * on an array of 4e6 elements (32 MB, within STANDARD's budget) took 2 s and 169 MB in that step and
 * answered OK; at PERMISSIVE one such store on an array of 3e7 elements aborted a vm host with a 2 GB heap.
 *
 * Now each way to make such a write (a computed or literal key, a key object, a compound or destructuring
 * target, `length`, Object.assign, Reflect.set, the defining builtins and legacy accessors, the fields of
 * a derived class whose base returned the array) charges the conversion first and refuses it past 2^20
 * elements.
 *
 * Host-side evidence: the vm host survives in a child process with a 512 MB heap (at PERMISSIVE, an
 * array of 3e7 elements); in process, the runs end as RUNTIME_ERROR where a regression answers OK.
 */
import { expect } from 'vitest';
import type { Attack } from '../helpers.js';
import { describeOnStandardRows, describeVmHostSurvives } from './host-survival.js';

/** 2e6 elements (16 MB): a regression converts them in about a second and 85 MB, which a test runner survives. */
const LONG = 'const a = new Array(2e6).fill(0);';
/** `fill` of 2e6 is charged as many iterations, past STANDARD's 1e6: the budget these runs meet is memory's. */
const ROOMY = { maxIterations: 1e8 };
const REFUSED = /^A write that makes an array of 2000000 elements sparse is not available in AgentScript/;

/** Each way to write far past the end of `a` (or define an element of it): `validated` says whether the dialect lets it through. */
const WRITES: readonly (readonly [string, string, boolean])[] = [
  ['a computed key', 'a[2 ** 31] = 1;', true],
  ['a numeric literal key', 'a[2147483648] = 1;', true],
  ['a string literal key', "a['4294967294'] = 1;", true],
  ['a key object', "a[{ toString: () => '3000000000' }] = 1;", true],
  ['just past the gap V8 allows', 'a[a.length + 2000] = 1;', true],
  ['a compound assignment', 'a[2 ** 31] += 1;', true],
  ['a destructuring target', '[a[2 ** 31]] = [1];', true],
  ['a for-of target', 'for (a[2 ** 31] of [1]);', true],
  ['the length', 'a.length = 1e9;', true],
  ['Object.assign', 'Object.assign(a, { 3000000000: 1 });', true],
  ['Reflect.set', 'Reflect.set(a, 2 ** 31, 1);', false],
  ['Object.defineProperty of an accessor', 'Object.defineProperty(a, 5, { get() { return 1; } });', false],
  ['Object.defineProperties', 'Object.defineProperties(a, { 5: { value: 1, writable: false } });', false],
  ['__defineGetter__', 'a.__defineGetter__(5, () => 1);', false],
  // A derived class defines its fields on whatever its base returned.
  ['a computed field of a class whose base returns the array', 'class B { constructor() { return a; } } class X extends B { [2 ** 31] = 1; } new X();', false],
  ['a literal field of a class whose base returns the array', 'class B { constructor() { return a; } } class X extends B { 2147483648 = 1; } new X();', false],
];

const ATTACKS: readonly Attack[] = WRITES.map(([how, write, validated]) => ({
  name: `a long array made sparse through ${how}`,
  code: `${LONG} ${write} return a.length;`,
  expect: validated ? ['RUNTIME_ERROR'] : ['RUNTIME_ERROR', 'VALIDATION_ERROR'],
  ...(validated ? { validation: 'accept' as const } : {}),
  enclave: ROOMY,
  check: (r) => {
    if (r.error?.code === 'RUNTIME_ERROR') expect(r.error.message).toMatch(REFUSED);
  },
}));

/** What the charge must not change: sparse arrays, stores in order, and writes near the end. */
const KEPT: Attack = {
  name: 'sparse arrays, writes in order and near the end of a long array answer as before',
  code: `const s = []; s[1e9] = 1; s[5] = 2; s[1e6] = 3;
const t = []; t[1e6] = 1; t[2e6] = 2;
const b = []; for (let i = 0; i < 70000; i++) b[i] = i; b[b.length] = 1; b[70500] = 2; b.length = 70600;
${LONG} a[a.length] = 1; a[2000500] = 2; a[0] = 3; a.length = 2e6 + 1000; a.length = 5;
return [s.length, [s[5], s[1e6], s[1e9]], t.length, b.length, b[70500], a.length, a[0]];`,
  expect: ['OK'],
  validation: 'accept',
  enclave: ROOMY,
  check: (r) => expect(r.value).toEqual([1e9 + 1, [2, 3, 1], 2e6 + 1, 70600, 2, 5, 3]),
};

describeOnStandardRows('invariants 4, 5 and 8 against a long array made sparse', [...ATTACKS, KEPT]);

describeVmHostSurvives(
  'invariant 8: one store far past the end of an array of 3e7 elements does not exhaust a vm host',
  { store: 'const a = new Array(3e7).fill(0); a[2 ** 31] = 1; return a.length;' },
  { store: 'RUNTIME_ERROR' },
  'PERMISSIVE',
  // `fill` of 3e7 is charged as many iterations: the budget the run meets is the write's refusal.
  1e9,
);
