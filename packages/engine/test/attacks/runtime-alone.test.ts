/**
 * What the runtime guarantees without the AST layers, one test per guarantee the README's security
 * model lists under "Without validation or rewriting". Each runs with `validate: false`, with
 * `transform: false`, and with both, in both isolations, under every host-side canary of runAttack.
 */
import { describe, expect, it } from 'vitest';
import type { CreateEnclaveOptions } from '../../src/index.js';
import type { Adapter, Attack } from '../helpers.js';
import { ONE_WORKER, PWN_LIT, REUSE_ONE_REALM, rowEnclave, runAttack } from '../helpers.js';
import { BUILTIN_NEXT, REST_PATTERN_SOURCES } from './budget-cases.js';

const MODES = [
  { label: 'validate:false', options: { validate: false }, guards: true },
  { label: 'transform:false', options: { transform: false }, guards: false },
  { label: 'validate:false transform:false', options: { validate: false, transform: false }, guards: false },
] as const;
const ISOLATIONS = [
  { label: 'vm', options: { realmPool: REUSE_ONE_REALM } },
  { label: 'worker_threads', options: { adapter: 'worker_threads', workerPoolConfig: ONE_WORKER } },
] as const;

/** Every guarantee that holds whatever `validate` and `transform` say. */
const ALWAYS: readonly Attack[] = [
  {
    name: 'no host object or function: a bare `constructor` chain runs no host code',
    code: `try { return constructor.constructor(${PWN_LIT})(); } catch (e) { return 'blocked:' + e.name; }`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r) => expect(r.value).toBe('blocked:EvalError'),
  },
  {
    name: 'the realm is locked: intrinsics and the global object are frozen, strings do not compile',
    code: `const out = [];
for (const f of [() => { Array.prototype.map = () => 1; }, () => { Object.prototype.x = 1; }, () => { JSON.parse = () => 1; }, () => { leaked = 1; }, () => (() => 1).constructor('return 1')()]) {
  try { f(); out.push('done'); } catch (e) { out.push(e.name); }
}
return out;`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r) => expect(r.value).toEqual(['TypeError', 'TypeError', 'TypeError', 'ReferenceError', 'EvalError']),
  },
  {
    name: 'the deadline holds after an await, and no tool starts after it',
    code: `await callTool('echo', {}); while (true) {}`,
    expect: ['TIMEOUT', 'MAX_ITERATIONS', 'VALIDATION_ERROR'],
    // The deadline is the run's, not the instance's: the tenant that runs next (in a worker started
    // afresh after the attack's was stopped) must not inherit 300 ms on a loaded machine.
    enclave: { maxIterations: 1e9 },
    run: (kit) => ({ tools: kit.tools, timeout: 300 }),
    check: async (r, { kit }) => {
      expect(r.error?.code).toBe('TIMEOUT');
      await kit.expectNoLateCalls(50);
    },
  },
  {
    name: 'the tool-call budget ends the run even when the script catches',
    code: `let n = 0; for (let i = 0; i < 10; i++) { try { await callTool('echo', {}); n++; } catch (e) {} } return n;`,
    expect: ['MAX_TOOL_CALLS'],
    enclave: { maxToolCalls: 3 },
    check: (_r, { kit }) => expect(kit.calls).toHaveLength(3),
  },
  {
    name: 'bulk allocations are charged before they happen',
    code: `return 'x'.repeat(1e9).length;`,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
  },
  {
    name: 'a structure that keeps growing in a loop is stopped at a heap checkpoint (host-protection guards)',
    code: 'const m = new Map(); for (let i = 0; ; i++) m.set(i, { i });',
    expect: ['MEMORY_LIMIT_EXCEEDED'],
    enclave: { memoryLimit: 8 * 1024 * 1024, maxIterations: 1e12 },
  },
  {
    name: 'a string that keeps doubling is stopped before it exhausts the heap (host-protection guards)',
    code: `let s = 'xy'; for (let i = 0; ; i++) s += s; return s.length;`,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
    enclave: { memoryLimit: 8 * 1024 * 1024, maxIterations: 1e12 },
  },
  {
    name: 'an array that keeps doubling through spreads is stopped before it exhausts the heap (host-protection guards)',
    code: `let a = [1, 2]; for (let i = 0; ; i++) a = [...a, ...a]; return a.length;`,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
    enclave: { memoryLimit: 8 * 1024 * 1024, maxIterations: 1e12 },
  },
  ...REST_PATTERN_SOURCES.filter(([where]) => /^(a declaration|inside an assignment pattern)$/.test(where)).map(([where, code]): Attack => ({
    name: `an array rest pattern over an iterator whose next is a builtin is stopped before it exhausts the heap: ${where} (host-protection guards)`,
    code: `${BUILTIN_NEXT} ${code}`,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
    enclave: { memoryLimit: 8 * 1024 * 1024, maxIterations: 1e12 },
  })),
  {
    name: 'a spread of an array subclass whose iterator\'s next is a builtin is stopped before it exhausts the heap (host-protection guards)',
    code: 'class X extends Array { [Symbol.iterator]() { return { next: Object }; } } return [...new X()].length;',
    expect: ['MEMORY_LIMIT_EXCEEDED', 'VALIDATION_ERROR'],
    enclave: { memoryLimit: 8 * 1024 * 1024, maxIterations: 1e12 },
  },
  {
    name: 'logs and tool arguments are copies: what the script changes afterwards, and its getters, never reach the host',
    code: `const o = { n: 1, list: [1], get g() { return 'read'; } };
console.log('logged', o);
const p = callTool('echo', o);
o.n = 2; o.list.push(2);
await p;
return 'done';`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r, { kit }) => {
      const args = kit.calls[0]?.args as Record<string, unknown>;
      // Data as it was at the call; an accessor is not copied (no getter of the script runs on the way out).
      expect(args).toEqual({ n: 1, list: [1] });
      expect(Object.getOwnPropertyDescriptor(args, 'g')).toBeUndefined();
      // Host data: the host's own prototypes.
      expect(Object.getPrototypeOf(args)).toBe(Object.prototype);
      expect(Object.getPrototypeOf(args.list)).toBe(Array.prototype);
      const line = r.logs?.[0]?.message;
      expect(typeof line).toBe('string');
      expect(line).toContain('"n":1');
      expect(line).not.toContain('"n":2');
    },
  },
  {
    name: 'results are copies: functions and host-shaped values come back as data',
    code: `return { f: () => 1, d: new Date(0), nested: { list: [1, 2] } };`,
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual({ d: '1970-01-01T00:00:00.000Z', nested: { list: [1, 2] } }),
  },
  {
    name: 'nothing of the host leaks: stacks show only the script’s own frames',
    code: `try { null.x; } catch (e) { return e.stack; }`,
    expect: ['OK'],
    check: (r) => expect(String(r.value)).toMatch(/^TypeError: [^\n]+\n {4}at <anonymous> \(agentscript\.js:1:\d+\)$/),
  },
  {
    name: 'runs are independent: what a run tries to leave behind, the next one does not see',
    code: `for (const f of [() => { leaked = 1; }, () => { __proto__.leaked = 1; }, () => { Object.prototype.leaked = 1; }]) { try { f(); } catch {} }
return typeof leaked;`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: (r) => expect(r.value).toBe('undefined'),
  },
];

/** Guarantees that come from the rewriter's guards: they hold with `validate: false` only. */
const WITH_GUARDS: readonly Attack[] = [
  {
    name: 'the iteration budget is global and uncatchable',
    code: `let n = 0; try { for (let i = 0; i < 1000; i++) n++; } catch (e) {} return n;`,
    expect: ['MAX_ITERATIONS'],
    enclave: { maxIterations: 100 },
  },
  {
    name: 'call depth is bounded before the stack is',
    code: `const f = (n) => f(n + 1); try { return f(0); } catch (e) { return e.name; }`,
    expect: ['RUNTIME_ERROR'],
    check: (r) => expect(r.error?.name).toBe('CallDepthError'),
  },
];

/** What `transform: false` gives up, as the README says: the same scripts, with only V8's own limits. */
const WITHOUT_GUARDS: readonly Attack[] = [
  {
    name: 'without guards the iteration budget is not counted (the deadline still bounds the loop)',
    code: `let n = 0; for (let i = 0; i < 1000; i++) n++; return n;`,
    expect: ['OK'],
    enclave: { maxIterations: 100 },
    check: (r) => expect(r.value).toBe(1000),
  },
  {
    name: 'without guards computed keys are not checked, and still reach only realm objects',
    code: `const k = 'const' + 'ructor'; const C = ({})[k]; try { C[k](${PWN_LIT})(); return 'ran'; } catch (e) { return [C === Object, e.name]; }`,
    expect: ['OK'],
    check: (r) => expect(r.value).toEqual([true, 'EvalError']),
  },
  {
    name: 'without guards deep recursion ends at V8’s own stack limit, as a RUNTIME_ERROR',
    code: `const f = (n) => f(n + 1); return f(0);`,
    expect: ['RUNTIME_ERROR'],
    check: (r) => expect(r.error?.name).toBe('RangeError'),
  },
];

const rows = ISOLATIONS.flatMap((iso) =>
  MODES.map((mode) => ({
    mode,
    row: { name: `${iso.label} ${mode.label}`, options: { ...iso.options, ...mode.options } as CreateEnclaveOptions, validates: !('validate' in mode.options) } satisfies Adapter,
  })),
);

describe.each(rows)('the runtime alone [$row.name]', ({ mode, row }) => {
  const shared = rowEnclave(row);
  for (const attack of [...ALWAYS, ...(mode.guards ? WITH_GUARDS : WITHOUT_GUARDS)]) {
    it(attack.name, async () => {
      const r = await runAttack(row, attack, shared());
      // Validating rows may refuse a script up front; only the runtime-only rows must reach the runtime.
      if (!row.validates) expect(r.error?.code).not.toBe('VALIDATION_ERROR');
    });
  }
});
