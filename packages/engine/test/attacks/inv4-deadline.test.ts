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
import { ADAPTERS, ChildBatch, childResult, describeChild, expectEventLoopAlive, isBugRow, itBug, LEVEL_ADAPTERS, makeEnclave, makeToolKit, rowEnclave, runAttack, sleep } from '../helpers.js';

const T = 60;
/** Budgets so large that only the deadline can end the run. */
const ONLY_DEADLINE = { maxIterations: 1e15, maxCallDepth: 100_000 };
const deadline = () => ({ timeout: T });

export const ATTACKS: readonly Attack[] = [
  {
    name: 'a tool that never settles ends as TIMEOUT and its signal is aborted',
    code: `await callTool('hang', {}); return 'unreachable';`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    run: deadline,
    check: (r, { kit }) => {
      expect(r.error?.message).toContain(String(T));
      // Every tool call that started (a cold first run may not even get that far) had its signal aborted.
      expect(kit.aborted.length).toBe(kit.calls.length);
    },
  },
  {
    name: 'several tools that never settle, awaited together',
    code: `await Promise.all([callTool('hang', {}), callTool('hang', {}), callTool('hang', {})]); return 1;`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    run: deadline,
    check: (_r, { kit }) => expect(kit.aborted.length).toBe(kit.calls.length),
  },
  {
    name: 'a busy loop before any await',
    code: `let i = 0; for (; i < 1e15; i++) {} return i;`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'a busy loop after an await (continuation under the deadline)',
    code: `await callTool('echo', {}); let i = 0; for (; i < 1e15; i++) {} return i;`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'a busy loop after several awaits and a resolved promise',
    code: `await callTool('echo', {}); await null; await Promise.resolve(1); await callTool('echo', {}); for (let i = 0; i < 1e15; i++) {} return 1;`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'a busy loop in a callback (forEach / sort comparator / JSON.parse reviver)',
    code: `[1].forEach(() => { for (let i = 0; i < 1e15; i++) {} }); return 1;`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'a busy sort comparator',
    code: `const a = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 3001); a.sort((x, y) => { let s = 0; for (let i = 0; i < 1e6; i++) s += i; return x - y; }); return a[0];`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'deep recursion with work at each level',
    code: `function f(n) { let s = 0; for (let i = 0; i < 1e5; i++) s += i; return n === 0 ? s : f(n - 1) + f(n - 1); } return f(40);`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'ReDoS with a RegExp built at run time',
    code: `const re = new RegExp(['(a', '+)+', '$'].join('')); return re.test('a'.repeat(34) + 'b');`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    run: deadline,
  },
  {
    name: 'ReDoS literal (refused by the pre-scan at every setting)',
    code: `return /(a+)+$/.test('a'.repeat(34) + 'b');`,
    expect: ['VALIDATION_ERROR'],
    run: deadline,
  },
  {
    name: 'ReDoS through String.prototype.replace / split with a run-time RegExp',
    code: `const re = new RegExp('(x+x+)+y'); return 'x'.repeat(40).replace(re, '') + 'x'.repeat(40).split(re).length;`,
    expect: ['TIMEOUT'],
    run: deadline,
  },
  {
    name: 'microtask flood that never yields: `const f = () => Promise.resolve().then(f)`',
    code: `const f = () => Promise.resolve().then(f); f(); await new Promise(() => {}); return 1;`,
    expect: ['TIMEOUT', 'MEMORY_LIMIT_EXCEEDED'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'microtask flood with a returned value (the run settles, the flood must not outlive it)',
    code: `let n = 0; const f = () => { n++; return Promise.resolve().then(f); }; f(); return 'done';`,
    expect: ['OK', 'TIMEOUT', 'MEMORY_LIMIT_EXCEEDED'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'an unawaited async infinite loop while awaiting a hanging tool',
    code: `(async () => { for (let i = 0; i < 1e15; i++) { await null; } })(); await callTool('hang', {}); return 1;`,
    expect: ['TIMEOUT', 'MEMORY_LIMIT_EXCEEDED'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'a self-resolving thenable chain: `const t = { then(r) { r(t) } }; await t`',
    code: `const t = { then(r) { r(t); } }; await t; return 1;`,
    expect: ['TIMEOUT', 'MEMORY_LIMIT_EXCEEDED'],
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'a returned thenable whose then never calls back',
    code: `return { then() {} };`,
    expect: ['TIMEOUT'],
    run: deadline,
  },
  {
    name: 'a returned thenable whose then loops',
    code: `return { then(r) { for (let i = 0; i < 1e15; i++) {} r(1); } };`,
    expect: ['TIMEOUT'],
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'after the deadline, the continuation of a slow tool never runs and never calls another tool',
    code: `await callTool('slow', { ms: ${T * 3} }); await callTool('echo', { after: 'deadline' }); return 'late';`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    run: deadline,
    check: async (_r, { kit }) => {
      await sleep(T * 3);
      expect(kit.calls.filter((c) => c.name !== 'slow')).toEqual([]);
    },
  },
  {
    name: 'a finally block after a hanging await never runs after the deadline',
    code: `try { await callTool('hang', {}); } finally { await callTool('echo', { from: 'finally' }); }`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    run: deadline,
    check: async (_r, { kit }) => {
      await sleep(50);
      expect(kit.calls.filter((c) => c.name !== 'hang')).toEqual([]);
    },
  },
  {
    name: 'Promise.race between a hanging tool and a busy loop',
    code: `await Promise.race([callTool('hang', {}), (async () => { await null; for (let i = 0; i < 1e15; i++) {} })()]); return 1;`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'a per-run timeout cannot raise the instance timeout',
    code: `await callTool('hang', {}); return 1;`,
    expect: ['TIMEOUT'],
    validation: 'accept',
    // The instance's deadline is also the next tenant's: 60 ms did not always cover a harmless run
    // (in a realm built for it) on a machine loaded past 6 runnable processes per core.
    enclave: { timeout: 500 },
    run: () => ({ timeout: 600_000 }),
    check: (r) => expect(r.error?.message).toContain('500 ms'),
  },
  {
    name: 'a busy loop inside a getter the script reads (accessor dialects)',
    code: `const o = { get x() { for (let i = 0; i < 1e15; i++) {} return 1; } }; return o.x;`,
    expect: ['TIMEOUT'],
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
  {
    name: 'a native call without any loop: Array.prototype.includes over a long dense array, repeatedly',
    code: `const a = new Array(1e6).fill(0); let hits = 0; for (let i = 0; i < 1e15; i++) { if (a.includes(1)) hits++; } return hits;`,
    expect: ['TIMEOUT', 'MEMORY_LIMIT_EXCEEDED'],
    validation: 'accept',
    enclave: ONLY_DEADLINE,
    run: deadline,
  },
];

describe.each(ADAPTERS)('invariant 4, everything is under the deadline [$name]', (adapter) => {
  const shared = rowEnclave(adapter);
  for (const attack of ATTACKS) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, attack, shared());
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
 * runtime now bounds these (regression tests); `ownChild` marks the ones checked in a child of their own.
 */
const UNINTERRUPTIBLE: readonly { name: string; code: string; ownChild?: boolean; level?: string }[] = [
  { name: 'indexOf on a sparse array of length 2^32-1', code: 'const a = []; a.length = 2 ** 32 - 1; return a.indexOf(1);' },
  { name: 'lastIndexOf on a sparse array of length 2^32-1', code: 'const a = []; a.length = 2 ** 32 - 1; return a.lastIndexOf(1);' },
  { name: 'every() on a sparse array (the callback never runs, so no budget is charged)', code: 'const a = []; a.length = 2 ** 32 - 1; return a.every((x) => x);' },
  { name: 'reverse() on a sparse array', code: 'const a = []; a.length = 2 ** 32 - 1; a.reverse(); return 1;' },
  { name: 'slice() of a sparse array', code: 'const a = []; a.length = 2 ** 32 - 1; return a.slice(0).length;' },
  { name: 'sort() of a sparse array', code: 'const a = []; a.length = 2 ** 32 - 1; a.sort(); return 1;' },
  { name: 'Array.prototype.includes.call on an array-like of length 2^53-1', code: 'return [].includes.call({ length: 2 ** 53 - 1 }, 1);' },
  { name: 'String.raw with raw.length 2^28', code: 'return String.raw({ raw: { length: 2 ** 28 } }).length;' },
  // CreateListFromArrayLike copies 1e8 holes into an argument list in C++: ~9 s of blocked event loop
  // (and ~800 MB) per run, whatever the deadline.
  { name: 'Function.prototype.apply with a sparse array of length 1e8', code: 'const a = []; a.length = 1e8; return Math.max.apply(null, a);', ownChild: true },
  { name: 'String.fromCharCode.apply with a sparse array of length 1e8', code: 'const a = []; a.length = 1e8; return String.fromCharCode.apply(null, a).length;', ownChild: true },
  // ICU normalization runs uninterrupted: U+FDFA expands 18x, 2e7 of them take ~5-7 s (and ~700 MB)
  // inside one call, whatever the deadline. The receiver is within the STANDARD string budget.
  { name: "String.prototype.normalize('NFKD') of 2e7 U+FDFA (18x expansion)", code: "const s = '\\uFDFA'.repeat(2e7); return s.normalize('NFKD').length;", ownChild: true, level: 'STANDARD' },
];

/**
 * The ownChild cases each get a child of their own (three runs, each timed in the child); the rest share
 * one. `ms` is a run's wall time up to the next turn of the child's event loop.
 */
const childSource = (cases: readonly { key: string; code: string; level: string }[]) => `
for (const c of ${JSON.stringify(cases)}) {
  const enclave = new Enclave({ securityLevel: c.level, maxIterations: 1e15 });
  const started = performance.now();
  const r = await enclave.run(c.code, { timeout: 300 });
  await new Promise((resolve) => setImmediate(resolve));
  const ms = Math.round(performance.now() - started);
  console.log('RESULT:' + c.key + ' ' + JSON.stringify({ code: r.success ? 'OK' : r.error.code, ms }));
  enclave.dispose();
}
`;

const CONTROL = { key: 'control', code: 'let i = 0; for (;;) { i++; if (i < 0) break; } return i;', level: 'STANDARD' };
const children = new ChildBatch(4);
const SHARED = children.add('shared', childSource([CONTROL, ...UNINTERRUPTIBLE.filter((c) => !c.ownChild).map((c, i) => ({ key: `case${i}`, code: c.code, level: c.level ?? 'STRICT' }))]), { killAfterMs: 30_000 });
// Three runs in a row, timed inside the child: the bug blocked the event loop for 5-9 s per run, three
// fixed runs take about a second together. 4 s for the three shows the bug even on a machine several
// times faster than this one; timing the runs instead of the whole child (start-up and loading the
// engine included, as a kill after 4 s did) keeps a busy machine from failing the test.
UNINTERRUPTIBLE.filter((c) => c.ownChild).forEach((c) =>
  children.add(c.name, childSource([0, 1, 2].map((n) => ({ key: `bug${n}`, code: c.code, level: c.level ?? 'STRICT' }))), { killAfterMs: 60_000 }),
);
const BLOCKED_MS = 4_000;
beforeAll(() => children.start(), 120_000);

describe('invariant 4 in a child process: builtins that ignore the watchdog', () => {
  it('control: an interruptible busy loop in the child ends as TIMEOUT and the child exits cleanly', async () => {
    const child = await children.result(SHARED);
    expect(childResult(child, CONTROL.key), describeChild(child)).toMatchObject({ code: 'TIMEOUT' });
  }, 60_000);

  describe('validated (STRICT unless noted), timeout 300 ms', () => {
    UNINTERRUPTIBLE.filter((c) => !c.ownChild).forEach((c, i) => {
      it(c.name, async () => {
        const child = await children.result(SHARED);
        // Any budget code is a correct answer (the runtime may also refuse the huge length up front).
        const got = childResult(child, `case${i}`) as { code: string } | undefined;
        expect(['TIMEOUT', 'MEMORY_LIMIT_EXCEEDED', 'MAX_ITERATIONS', 'RUNTIME_ERROR'], describeChild(child)).toContain(got?.code);
      }, 60_000);
    });
    for (const c of UNINTERRUPTIBLE.filter((x) => x.ownChild)) {
      // Found as a bug (the child's event loop stayed blocked for seconds); now three 300 ms runs must end
      // within BLOCKED_MS together.
      it(c.name, async () => {
        const child = await children.result(c.name);
        expect(child.timedOut, describeChild(child)).toBe(false);
        expect(child.code, describeChild(child)).toBe(0);
        let ms = 0;
        for (const n of [0, 1, 2]) {
          const got = childResult(child, `bug${n}`) as { code: string; ms: number } | undefined;
          expect(['TIMEOUT', 'MEMORY_LIMIT_EXCEEDED', 'MAX_ITERATIONS', 'RUNTIME_ERROR'], describeChild(child)).toContain(got?.code);
          ms += got?.ms ?? Infinity;
        }
        expect(ms, 'the three runs held the child\'s event loop').toBeLessThan(BLOCKED_MS);
      }, 120_000);
    }
  });
});
