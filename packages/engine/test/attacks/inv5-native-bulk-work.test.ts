/**
 * Invariant 5 against natives whose work grows with a size the script controls and that run as one call
 * (`join`, `slice`, `indexOf`, `Set.prototype.union`, a key listing, `JSON.parse`, a string search): the
 * iteration budget is "loop iterations and function calls (callbacks included)", and such a call was one
 * turn of the loop around it however much it walked. Found by red-teaming on Node 24 (STANDARD,
 * validated): 3,000 `s.union(new Set())` on a set of 1e5, or 3,000 `a.join()` of an array of 1e5, ran
 * until TIMEOUT with about 1e5 iterations counted, while `new Set(s)` and `sort` ended at MAX_ITERATIONS
 * at once. Now each such call is charged its elements (one iteration each, a string's characters 16 to
 * an iteration) past the first 1,024, so a loop of them ends at the budget.
 *
 * Each case runs twice in every row: over a large input, where 200 calls must end the run with
 * MAX_ITERATIONS (the host's count, which the script cannot touch, past the budget), and over a small one,
 * where the same 200 calls must cost what they did before (no charge beyond the script's own loops). The
 * budget is well above what building the large input costs, so the old runtime finished the large loop
 * with success.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../../src/index.js';
import type { CreateEnclaveOptions } from '../../src/index.js';

const BUDGET = 150_000;
const LARGE = 20_000;
const SMALL = 500;

/** What each case builds from `N`, named by the variable its calls use. */
const INPUTS = {
  a: 'const a = Array.from({ length: N }, (_, i) => i);',
  s: "const s = 'ab,'.repeat(N);",
  o: "const o = Object.fromEntries(Array.from({ length: N }, (_, i) => ['k' + i, i]));",
  t: 'const t = JSON.stringify(Array.from({ length: N }, (_, i) => i));',
  set: 'const set = new Set(Array.from({ length: N }, (_, i) => i)); const empty = new Set();',
} as const;

const CASES: readonly (readonly [keyof typeof INPUTS, string])[] = [
  ['a', 'a.join()'],
  ['a', 'String(a)'],
  ['a', '`${a}`'],
  ['a', 'a.slice()'],
  ['a', 'a.concat([])'],
  ['a', 'a.indexOf(-1)'],
  ['a', 'a.includes(-1)'],
  ['a', 'a.lastIndexOf(-1)'],
  ['a', 'a.fill(0)'],
  ['a', 'a.reverse()'],
  ['a', 'a.copyWithin(0, 1)'],
  ['a', 'a.toReversed()'],
  ['a', 'a.with(0, 1)'],
  ['a', 'a.toSpliced(0, 1)'],
  ['a', 'a.flat()'],
  ['a', 'Array.from(a)'],
  ['a', '[...a]'],
  ['a', 'Math.max(...a)'],
  ['a', 'Math.max.apply(null, a)'],
  ['a', 'new Set(a)'],
  ['a', 'Object.keys(a)'],
  ['a', 'structuredClone(a)'],
  ['s', "s.indexOf('z')"],
  ['s', "s.includes('z')"],
  ['s', "s.lastIndexOf('z')"],
  ['s', "s.split(',')"],
  ['s', 's.toUpperCase()'],
  ['s', "s.normalize('NFD')"],
  ['s', 's.isWellFormed()'],
  ['s', "s.replaceAll('a', 'b')"],
  ['s', "s.replace(/a/g, 'b')"],
  ['s', 's.match(/a/g)'],
  ['s', '/z/.test(s)'],
  ['s', 's.search(/z/)'],
  ['s', "s.search('z')"],
  ['s', 'encodeURIComponent(s)'],
  ['o', 'Object.keys(o)'],
  ['o', 'Object.entries(o)'],
  ['o', 'Object.values(o)'],
  ['o', 'Object.assign({}, o)'],
  ['o', '({ ...o })'],
  ['t', 'JSON.parse(t)'],
  ['set', 'set.union(empty)'],
  ['set', 'set.difference(empty)'],
  ['set', 'set.symmetricDifference(empty)'],
];

/** Set methods arrived in Node 22. */
const present = (call: string) => !call.startsWith('set.') || typeof (Set.prototype as { union?: unknown }).union === 'function';

const script = (input: keyof typeof INPUTS, call: string, n: number) =>
  `const N = ${n}; ${INPUTS[input]} let c = 0; for (let k = 0; k < 200; k++) { const r = ${call}; if (r !== undefined) c++; } return c;`;

const ROWS: readonly { name: string; options: CreateEnclaveOptions }[] = [
  { name: 'vm validated', options: {} },
  { name: 'vm validate:false', options: { validate: false } },
  { name: 'vm validate:false transform:false', options: { validate: false, transform: false } },
  { name: 'worker_threads validated', options: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } },
  { name: 'worker_threads validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } },
];

describe.each(ROWS)('invariant 5: natives that walk a large input are charged per element [$name]', (row) => {
  // No case is about what one run leaves for the next: one Enclave serves the row.
  const enclave = new Enclave({ ...row.options, maxIterations: BUDGET, timeout: 60_000 });
  afterAll(() => enclave.dispose());
  for (const [input, call] of CASES) {
    it.skipIf(!present(call))(call, async () => {
      const large = await enclave.run(script(input, call, LARGE));
      expect(large.error?.code, JSON.stringify(large.error)).toBe('MAX_ITERATIONS');
      expect(large.stats.iterationCount).toBeGreaterThan(BUDGET);
      // Ordinary sizes are not charged: 200 calls on 500 elements cost the script's own loops alone.
      const small = await enclave.run(script(input, call, SMALL));
      expect(small.error, JSON.stringify(small.error)).toBeUndefined();
      expect(small.value).toBe(200);
      expect(small.stats.iterationCount).toBeLessThan(2 * SMALL + 400);
    });
  }
});

/**
 * The Promise combinators make a promise, a `then` and a reaction for each element, 10 to 30 µs of
 * runtime work that counted one iteration: a loop of `Promise.all` over an array subclass of 1e5 counted
 * about 2e5 iterations in 4 s (STANDARD, validate:false, Node 24) and ended at the memory limit. Past 64
 * elements each is charged 16 more, whatever walks them (the intrinsic array iterator or a script's).
 */
const PROMISE_BUDGET = 20_000;
const iterable = (n: number) => `{ [Symbol.iterator]() { let i = 0; return { next: () => ({ done: i >= ${n}, value: i++ }) }; } }`;
const PROMISE_CASES: readonly (readonly [string, (n: number) => string])[] = [
  ['Promise.all over an array', (n) => `Array.from({ length: ${n} }, (_, i) => i)`],
  ['Promise.allSettled over a script iterable', iterable],
  ['Promise.race over a script iterable', iterable],
];

describe.each(ROWS)('invariant 5: the Promise combinators are charged their promises [$name]', (row) => {
  const enclave = new Enclave({ ...row.options, maxIterations: PROMISE_BUDGET, timeout: 60_000 });
  afterAll(() => enclave.dispose());
  for (const [name, make] of PROMISE_CASES) {
    const call = name.split(' ')[0] as string;
    it(name, async () => {
      // 2,000 elements counted 2,000 iterations, a tenth of the budget: the old runtime let this run.
      const large = await enclave.run(`const r = await ${call}(${make(2000)}); return r === undefined ? 0 : 1;`);
      expect(large.error?.code, JSON.stringify(large.error)).toBe('MAX_ITERATIONS');
      const small = await enclave.run(`const r = await ${call}(${make(50)}); return r === undefined ? 0 : 1;`);
      expect(small.error, JSON.stringify(small.error)).toBeUndefined();
      expect(small.stats.iterationCount).toBeLessThan(300);
    });
  }
});
