/**
 * Invariant 4: every moment of script execution is under the deadline, also after an `await` and while
 * a tool is pending. After the deadline no script code runs again and no tool call starts; a tool that
 * never settles cannot hang run(). No durations are asserted: only the code, that the host event loop
 * still turns, and (through spy tools) that nothing ran after the deadline.
 *
 * The last block runs in child processes: scripts that would block the whole host synchronously
 * cannot be tried in the test runner's own process.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Attack } from '../helpers.js';
import {
  ADAPTERS,
  LEVEL_ADAPTERS,
  ChildBatch,
  childResult,
  describeChild,
  expectEventLoopAlive,
  isBugRow,
  itBug,
  makeEnclave,
  makeToolKit,
  rowEnclave,
  runAttack,
} from '../helpers.js';
import { ATTACKS, T, deadline } from './deadline-cases.js';

describe.each(ADAPTERS)('invariant 4, everything is under the deadline [$name]', (adapter) => {
  // worker_threads rows: one pool for the attacks without options, one for those with ONLY_DEADLINE.
  const shared = rowEnclave(adapter);
  for (const attack of ATTACKS) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, attack, shared);
    });
  }

  it('many concurrent runs with hanging tools all end as TIMEOUT, and the Enclave still works', async () => {
    const enclave = makeEnclave(adapter);
    try {
      const kit = makeToolKit();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => enclave.run(`await callTool('hang', { i: ${i} }); return 1;`, { tools: kit.tools, timeout: T })));
      kit.settled();
      expect(results.map((r) => r.error?.code)).toEqual(results.map(() => 'TIMEOUT'));
      await expectEventLoopAlive();
      const after = await enclave.run('return 1 + 1;');
      expect(after.value).toBe(2);
      expect(enclave.stats().activeRuns).toBe(0);
      await kit.expectNoLateCalls();
    } finally {
      enclave.dispose();
    }
  });
});

const LEVEL_SUBSET = ATTACKS.filter((a) => /never settles ends|busy loop after an await|ReDoS with a RegExp|microtask flood that never/.test(a.name));

describe.each(LEVEL_ADAPTERS)('invariant 4 at other levels [$name]', (adapter) => {
  for (const attack of LEVEL_SUBSET) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, { ...attack, validation: undefined });
    });
  }
});

/**
 * Without the rewriter's guards (`transform: false`) the design still promises the deadline: V8's
 * watchdog must cut off unguarded loops, also in code the runtime itself triggers (copying out the
 * result runs no script code, but a returned Proxy's traps are script code).
 */
const UNGUARDED = { name: 'vm STANDARD, validate:false + transform:false', options: { validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false } as const;

describe('invariant 4 without the rewriter (transform: false)', () => {
  const cases: Attack[] = [
    { name: 'unguarded while(true)', code: 'while (true) {}', expect: ['TIMEOUT'], run: deadline },
    { name: 'unguarded loop after an await', code: "await callTool('echo', {}); while (true) {}", expect: ['TIMEOUT'], run: deadline },
    { name: 'unguarded microtask flood', code: 'const f = () => Promise.resolve().then(f); f(); await new Promise(() => {});', expect: ['TIMEOUT', 'MEMORY_LIMIT_EXCEEDED'], run: deadline },
    {
      name: 'unguarded detached loop that outlives the returned value',
      code: "(async () => { await null; while (true) {} })(); return 'early';",
      expect: ['OK', 'TIMEOUT'],
      run: deadline,
    },
    {
      name: 'a returned Proxy whose traps loop while the runtime copies the result',
      code: 'return new Proxy({}, { ownKeys() { while (true) {} }, getPrototypeOf() { while (true) {} } });',
      expect: ['TIMEOUT', 'RUNTIME_ERROR', 'OK'],
      run: deadline,
    },
    {
      name: 'a thrown object with a looping getter on name/message',
      code: "throw { get name() { while (true) {} }, get message() { while (true) {} } };",
      expect: ['TIMEOUT', 'RUNTIME_ERROR'],
      run: deadline,
    },
  ];
  for (const attack of cases) {
    it(attack.name, async () => {
      await runAttack(UNGUARDED, attack);
    });
  }
});

/**
 * V8 builtins that loop over an attacker-chosen `length` in C++ without checking for interrupts: the
 * watchdog's TerminateExecution is not honoured until they return, which for 2^32 or 2^53 elements is
 * never. They pass validation even at STRICT and would block the host's event loop forever. The
 * runtime bounds them by refusing, before the native runs, any length past the run's budgets: each case
 * must end with that refusal (its code and message), which proves without a clock that the native never
 * started. A TIMEOUT would mean the native ran and the deadline (or a kill) stopped it: a regression,
 * even when a fast machine gets through in time.
 */
const TOO_LONG = { code: 'MEMORY_LIMIT_EXCEEDED', message: /^Memory limit exceeded: this operation (needs|builds)/ } as const;
const TOO_MANY_ARGS = { code: 'RUNTIME_ERROR', message: /^Too many arguments \(100000000\): AgentScript allows at most \d+ in one call\.$/ } as const;
const UNINTERRUPTIBLE: readonly { name: string; code: string; level?: string; refused: { code: string; message: RegExp } }[] = [
  { name: 'indexOf on a sparse array of length 2^32-1', code: 'const a = []; a.length = 2 ** 32 - 1; return a.indexOf(1);', refused: TOO_LONG },
  { name: 'lastIndexOf on a sparse array of length 2^32-1', code: 'const a = []; a.length = 2 ** 32 - 1; return a.lastIndexOf(1);', refused: TOO_LONG },
  { name: 'every() on a sparse array (the callback never runs, so no budget is charged)', code: 'const a = []; a.length = 2 ** 32 - 1; return a.every((x) => x);', refused: TOO_LONG },
  { name: 'reverse() on a sparse array', code: 'const a = []; a.length = 2 ** 32 - 1; a.reverse(); return 1;', refused: TOO_LONG },
  { name: 'slice() of a sparse array', code: 'const a = []; a.length = 2 ** 32 - 1; return a.slice(0).length;', refused: TOO_LONG },
  { name: 'sort() of a sparse array', code: 'const a = []; a.length = 2 ** 32 - 1; a.sort(); return 1;', refused: TOO_LONG },
  { name: 'Array.prototype.includes.call on an array-like of length 2^53-1', code: 'return [].includes.call({ length: 2 ** 53 - 1 }, 1);', refused: TOO_LONG },
  { name: 'String.raw with raw.length 2^28', code: 'return String.raw({ raw: { length: 2 ** 28 } }).length;', refused: TOO_LONG },
  // CreateListFromArrayLike copies 1e8 holes into an argument list in C++: ~9 s of blocked event loop
  // (and ~800 MB) per run, whatever the deadline.
  { name: 'Function.prototype.apply with a sparse array of length 1e8', code: 'const a = []; a.length = 1e8; return Math.max.apply(null, a);', refused: TOO_MANY_ARGS },
  { name: 'String.fromCharCode.apply with a sparse array of length 1e8', code: 'const a = []; a.length = 1e8; return String.fromCharCode.apply(null, a).length;', refused: TOO_MANY_ARGS },
  // ICU normalization runs uninterrupted: U+FDFA expands 18x, 2e7 of them took ~5-7 s (and ~700 MB)
  // inside one call, whatever the deadline. The receiver is within the string limit (2^24).
  { name: "String.prototype.normalize('NFKD') of 1.6e7 U+FDFA (18x expansion)", code: "const s = '\\uFDFA'.repeat(1.6e7); return s.normalize('NFKD').length;", level: 'STANDARD', refused: TOO_LONG },
];

/**
 * Every case in one child, one after the other; each prints its outcome. The cases get a deadline no
 * busy machine misses, so that only the refusal can end them; the control's must fire.
 */
const childSource = (cases: readonly { key: string; code: string; level: string; timeout: number }[]) => `
for (const c of ${JSON.stringify(cases)}) {
  const enclave = new Enclave({ securityLevel: c.level, maxIterations: 1e15, timeout: c.timeout });
  const r = await enclave.run(c.code);
  console.log('RESULT:' + c.key + ' ' + JSON.stringify(r.success ? { code: 'OK' } : { code: r.error.code, message: r.error.message }));
  enclave.dispose();
}
`;

const CONTROL = { key: 'control', code: 'let i = 0; for (;;) { i++; if (i < 0) break; } return i;', level: 'STANDARD', timeout: 300 };
const children = new ChildBatch(1);
// The kill is only there to report a hang (a regression blocks the child for seconds or forever per
// case), never to judge speed: it is far above what any machine needs.
const SHARED = children.add('shared', childSource([CONTROL, ...UNINTERRUPTIBLE.map((c, i) => ({ key: `case${i}`, code: c.code, level: c.level ?? 'STRICT', timeout: 30_000 }))]), { killAfterMs: 90_000 });
beforeAll(() => children.start(), 120_000);

describe('invariant 4 in a child process: builtins that ignore the watchdog', () => {
  it('control: an interruptible busy loop in the child ends as TIMEOUT and the child exits cleanly', async () => {
    const child = await children.result(SHARED);
    expect(childResult(child, CONTROL.key), describeChild(child)).toMatchObject({ code: 'TIMEOUT' });
    expect(child.timedOut, describeChild(child)).toBe(false);
    expect(child.code, describeChild(child)).toBe(0);
  }, 120_000);

  describe('validated (STRICT unless noted): refused before the native runs', () => {
    UNINTERRUPTIBLE.forEach((c, i) => {
      it(c.name, async () => {
        const child = await children.result(SHARED);
        const got = childResult(child, `case${i}`) as { code: string; message?: string } | undefined;
        expect(got?.code, describeChild(child)).toBe(c.refused.code);
        expect(got?.message).toMatch(c.refused.message);
      }, 120_000);
    });
  });
});
