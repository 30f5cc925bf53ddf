/** The deadline attacks (invariant 4), shared by the suite here and by other isolations' suites (remote runtime nodes). */
import { expect } from 'vitest';
import type { Attack } from '../helpers.js';
import { sleep } from '../helpers.js';

export const T = 60;
/** Budgets so large that only the deadline can end the run. */
const ONLY_DEADLINE = { maxIterations: 1e15, maxCallDepth: 100_000 };
export const deadline = () => ({ timeout: T });

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
