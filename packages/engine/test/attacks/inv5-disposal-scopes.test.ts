/**
 * Invariants 4 and 5 against explicit resource management (`using`, `await using`; Node 24): a scope's
 * disposers run as the scope exits, a budget error included, and when a disposer throws V8 wraps the
 * error that was leaving the scope in a new SuppressedError (`error`: the disposer's, `suppressed`: the
 * budget's). A `catch` around the scope then catches an object that is not the budget error, made by V8
 * itself, and a disposer is script code that runs after the budget has run out (it may call a tool).
 *
 * The host judges: a spy tool counts every call that reached the host, and the result's code is the
 * budget's, not the script's return value. Each row also runs a next tenant on the same Enclave. These
 * attacks held when written (red7); they stay as regression tests of the catch guards, the tool refusal
 * after a budget error and the deadline, which a SuppressedError or a disposer could slip past.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../../src/index.js';
import type { CreateEnclaveOptions } from '../../src/index.js';

/** Whether this Node compiles `using` (Node 24). */
const USING = (() => {
  try {
    return typeof new Function('{ using x = null; }') === 'function';
  } catch {
    return false;
  }
})();

const TOOL_CALLS = 5;

const ATTACKS: Record<string, { code: string; calls: number; ends: string }> = {
  'the tool-call budget leaves an await using scope whose async disposer throws, inside a catch that goes on': {
    code: "let n = 0; for (let i = 0; i < 1e9; i++) { try { await using r = { async [Symbol.asyncDispose]() { throw new Error('d'); } }; await callTool('spy', {}); } catch (e) { n++; if (n > 100) return 'caught ' + String(e); } }",
    calls: TOOL_CALLS,
    ends: 'MAX_TOOL_CALLS',
  },
  'the iteration budget leaves a using scope whose disposer throws, inside a catch that goes on': {
    // A spread of 5,000 elements is charged 5,000 iterations (see chargeWork), with or without the guards.
    code: "let n = 0; const big = new Array(5000).fill(0); for (let i = 0; i < 1e9; i++) { try { using r = { [Symbol.dispose]() { throw new Error('d'); } }; for (let j = 0; j < 1e9; j++) [...big]; } catch (e) { n++; if (n > 100) return 'caught ' + String(e); } }",
    calls: 0,
    ends: 'MAX_ITERATIONS',
  },
  'an async disposer that calls a tool after the iteration budget ran out': {
    code: "try { await using r = { async [Symbol.asyncDispose]() { await callTool('spy', {}); } }; const big = new Array(5000).fill(0); for (let j = 0; j < 1e9; j++) [...big]; } catch (e) { return 'caught ' + String(e); }",
    calls: 0,
    ends: 'MAX_ITERATIONS',
  },
  'a disposer that calls a tool and loops, in a scope the deadline leaves': {
    code: "using r = { [Symbol.dispose]() { callTool('spy', {}); for (let i = 0; i < 1e15; i++); } }; for (let i = 0; i < 1e15; i++);",
    calls: 0,
    // With the guards, the loop ends at the iteration budget first.
    ends: 'TIMEOUT|MAX_ITERATIONS',
  },
};

const ROWS: readonly { name: string; options: CreateEnclaveOptions }[] = [
  { name: 'vm validated', options: {} },
  { name: 'vm validate:false transform:false', options: { validate: false, transform: false } },
  { name: 'worker_threads validate:false', options: { adapter: 'worker_threads', validate: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } },
  { name: 'worker_threads validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } },
];

describe.skipIf(!USING).each(ROWS)('invariants 4 and 5: budgets through disposal scopes [$name]', (row) => {
  let spy = 0;
  const enclave = new Enclave({ ...row.options, timeout: 1500, maxToolCalls: TOOL_CALLS, maxIterations: 100_000, tools: { spy: async () => ++spy } });
  afterAll(() => enclave.dispose());
  for (const [name, attack] of Object.entries(ATTACKS)) {
    it(name, async () => {
      spy = 0;
      const r = await enclave.run(attack.code);
      // A disposer's detached tool call would reach the host after the run: give it the chance.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(attack.ends.split('|'), JSON.stringify(r.success ? r.value : r.error)).toContain(r.error?.code);
      expect(spy).toBe(attack.calls);
      const next = await enclave.run('return [typeof SuppressedError, 1 + 1];');
      expect(next.value).toEqual(['function', 2]);
    });
  }
});
