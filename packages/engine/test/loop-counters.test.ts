/**
 * Light loops that never suspend count their turns in locals of their own and settle with the runtime
 * now and then (see LOOP_FREE in realm-abi.ts); every other loop counts on the factory's shared counter.
 * The counts a run reports must not depend on which a loop got: each program here runs twice, once as
 * written (its loops light) and once with a dead branch of sixteen allocations in every loop body, which
 * makes each loop heavy and gives it the shared counter, and the two runs must agree on value and count.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../src/index.js';
import { ADAPTERS } from './helpers.js';

/** Sixteen allocating expressions: a loop body holding them is heavy (see bodyWeights in ast/facts.ts). */
const HEAVY = `if (Math.random() < 0) { ${'[];'.repeat(16)} } `;

/** `H` marks the start of every loop body. The validator refuses generators at STANDARD: they run unvalidated only. */
const PROGRAMS: readonly [string, string][] = [
  ['a for loop', 'let s = 0; for (let i = 0; i < 37; i++) {H s += i } s'],
  ['loops of 0, 1, 16, 17 and 600 turns', 'let s = 0; for (const n of [0, 1, 16, 17, 600]) {H for (let i = 0; i < n; i++) {H s++ } } s'],
  ['nested loops and a labelled continue', 'let s = 0; a: for (let i = 0; i < 30; i++) {H for (let j = 0; j < 40; j++) {H if (j === 25) continue a; s++ } } s'],
  ['a return from inside a loop', 'function f(n) { for (let i = 0; ; i++) {H if (i === n) return i } } let s = 0; for (let j = 0; j < 50; j++) {H s += f(j) } s'],
  ['a throw out of a loop', 'let s = 0; for (let j = 0; j < 30; j++) {H try { for (let i = 0; ; i++) {H if (i === j * 3) throw i } } catch (e) { s += e } } s'],
  ['while, do-while, for-in and for-of', 'let s = 0, i = 0; while (i < 100) {H i++ } do {H i-- } while (i > 20); for (const k in { a: 1, b: 2, c: 3 }) {H s += k.length } for (const v of [1, 2, 3, 4]) {H s += v } s + i'],
  ['loops in builtin callbacks', '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((x) => { let t = 0; for (let i = 0; i < x * 50; i++) {H t += i } return t })'],
  ['a generator (unvalidated)', 'function* g(n) { for (let i = 0; i < n; i++) {H yield i } } let s = 0; for (const x of g(40)) {H for (let j = 0; j < x; j++) {H s++ } } s'],
  ['recursion from inside loops', 'function w(d) { let s = 0; for (let i = 0; i < 30; i++) {H if (i === 15 && d < 20) s += w(d + 1); s++ } return s } w(0)'],
  ['async functions, loops around awaits', 'async function f(x) { let t = 0; for (let i = 0; i < x; i++) {H t += i } await null; for (let i = 0; i < x; i++) {H t += await i } return t } (await Promise.all([f(10), f(200), f(300)])).reduce((a, b) => a + b)'],
  ['a long loop', 'let s = 0; for (let i = 0; i < 200000; i++) {H s = (s + i) % 1000 } s'],
];

const ROWS = [...ADAPTERS, { name: 'vm, no validation, no transform', options: { validate: false, transform: false }, validates: false }];

describe.each(ROWS)('loop counters [$name]', (row) => {
  const enclave = new Enclave({ ...row.options, maxIterations: 10_000_000 });
  afterAll(() => enclave.dispose());

  const programs = PROGRAMS.filter(([name]) => !row.validates || !name.endsWith('(unvalidated)'));
  it.each(programs)('%s: the same value and count with either counter', async (_name, program) => {
    const light = await enclave.run(program.replaceAll('H', ''));
    const heavy = await enclave.run(program.replaceAll('H', HEAVY));
    expect(light.error).toBeUndefined();
    expect(heavy.error).toBeUndefined();
    expect(light.value).toEqual(heavy.value);
    expect(light.stats.iterationCount).toBe(heavy.stats.iterationCount);
    expect(light.stats.iterationCount).toBeGreaterThan(0);
  });
});

describe.each(ADAPTERS)('the iteration limit with light loops [$name]', (row) => {
  const limited = new Enclave({ ...row.options, maxIterations: 1000 });
  afterAll(() => limited.dispose());

  it('holds exactly for one loop', async () => {
    for (const [turns, ok] of [[999, true], [1000, true], [1001, false], [1e9, false]] as const) {
      const r = await limited.run(`let s = 0; for (let i = 0; i < ${turns}; i++) s++; s`);
      expect(r.success).toBe(ok);
      if (!ok) {
        expect(r.error?.code).toBe('MAX_ITERATIONS');
        expect(r.stats.iterationCount).toBe(1001);
      }
    }
  });

  it('ends a run whose short loops took it past the limit, even when no checkpoint follows them', async () => {
    // 10 + 10 * 100 turns: every inner loop settles when it ends, and one that starts within its free
    // turns of the checkpoint the limit placed calls the runtime from its first turn, which ends the
    // script at the first turn past the limit.
    const r = await limited.run('let s = 0; for (let i = 0; i < 10; i++) for (let j = 0; j < 100; j++) s++; s');
    expect(r.error?.code).toBe('MAX_ITERATIONS');
    expect(r.stats.iterationCount).toBe(1001);
    const within = await limited.run('let s = 0; for (let i = 0; i < 10; i++) for (let j = 0; j < 99; j++) s++; s');
    expect(within.value).toBe(990);
    expect(within.stats.iterationCount).toBe(1000);
  });

  it('stops endless short loops and endless calls soon after the limit', async () => {
    for (const program of [
      'for (let i = 0; i < 1e9; i++) { for (let j = 0; j < 10; j++) {} }',
      'let s = 0; for (let i = 0; i < 1e9; i++) { for (let j = 0; j < 15; j++) { s++ } for (let j = 0; j < 15; j++) { s-- } }',
      'function f() { for (let j = 0; j < 3; j++) {} } for (let i = 0; i < 1e9; i++) f()',
      'function f(d) { for (let j = 0; j < 3; j++) { if (j === 1) f(d + 1) } } f(0)',
    ]) {
      const r = await limited.run(program);
      expect(r.error?.code, `${program}: ${r.error?.message}`).toMatch(/^(MAX_ITERATIONS|RUNTIME_ERROR)$/);
      // Seen at the next checkpoint: within a short loop's free turns, or a grant, of the limit.
      expect(r.stats.iterationCount).toBeLessThanOrEqual(1000 + 16 + 256);
    }
  });
});

describe.each(ADAPTERS)('turns charged ahead do not starve deep recursion [$name]', (row) => {
  const enclave = new Enclave({ ...row.options, maxIterations: 100_000 });
  afterAll(() => enclave.dispose());

  it('runs a recursion 60 deep whose every level is inside a long loop, well within the budget', async () => {
    // 61 levels of 800 turns and a call: 48,861 iterations; each level holds a grant while it recurses.
    const r = await enclave.run('function w(d) { let s = 0; for (let i = 0; i < 800; i++) { if (i === 400 && d < 60) s += w(d + 1); s++ } return s } w(0)');
    expect(r.error).toBeUndefined();
    expect(r.value).toBe(61 * 800);
    expect(r.stats.iterationCount).toBe(61 * 801);
  });
});

describe.each(ADAPTERS)('statements with nothing between them [$name]', (row) => {
  const enclave = new Enclave(row.options);
  afterAll(() => enclave.dispose());

  it('runs as written when a loop ends where the next statement starts', async () => {
    const r = await enclave.run("let y='';for(let i=0;i<2;i++)y;y+='a';for(;;){break}for(const c of 'bc')y+=c;do y+='d';while(y.length<5)y");
    expect(r.error).toBeUndefined();
    expect(r.value).toBe('abcdd');
  });
});
