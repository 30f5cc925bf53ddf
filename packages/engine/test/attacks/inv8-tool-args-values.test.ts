/**
 * Invariant 8, the host never hangs: a tool call's arguments are decoded and checked against the
 * tool's input schema on the host, for every isolation. That work grows with the number of values, not
 * the bytes: zod 4 builds one issue per bad element (100k wrong elements held the host's event loop
 * for 0.4-1.2 s per call at STANDARD, 200k `{}` for 3.7 s at PERMISSIVE, once per call until the
 * deadline), and `JSON.parse` of a few MB of `{}` alone takes most of a second. The host counts the
 * values in the text it received (never the script's word for it) and refuses a call over the level's
 * cap (MAX_TOOL_ARGS_VALUES) with INVALID_ARGUMENTS before anything is decoded or validated.
 *
 * Canaries are host-side: a Standard Schema whose `validate` counts its calls, and a handler that
 * counts its calls. A refused call must reach neither; a call just under the cap must reach both.
 */
import { describe, expect, it } from 'vitest';
import { defineTool } from '../../src/index.js';
import type { CreateEnclaveOptions, ExecutionResult } from '../../src/index.js';
import type { StandardSchemaV1 } from '../../src/standard-schema.js';
import { MAX_TOOL_ARGS_VALUES } from '../../src/levels.js';
import type { Adapter } from '../helpers.js';
import { ADAPTERS, expectWellFormed, makeEnclave, ONE_WORKER, REUSE_ONE_REALM } from '../helpers.js';

const ROWS: readonly Adapter[] = [
  ...ADAPTERS,
  { name: 'vm STANDARD transform:false', options: { transform: false, realmPool: REUSE_ONE_REALM }, validates: true },
  { name: 'worker_threads STANDARD validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: ONE_WORKER }, validates: false },
  { name: 'vm PERMISSIVE validate:false', options: { securityLevel: 'PERMISSIVE', validate: false, realmPool: REUSE_ONE_REALM }, validates: false },
];

/** A schema that accepts anything and counts how often the host asked it. */
function spySchema(): { schema: StandardSchemaV1; calls: () => number } {
  let calls = 0;
  const schema: StandardSchemaV1 = {
    '~standard': {
      version: 1,
      vendor: 'spy',
      validate: (value: unknown) => {
        calls++;
        return { value };
      },
    },
  };
  return { schema, calls: () => calls };
}

/**
 * A script that calls `t` with `{ ids: [...] }` of `n` strings, or `{ items: [{ id }...] }` of `n`
 * objects, without catching: the run's error is the call's. Values: the arguments, the array, and
 * each element (plus each element's one property for objects).
 */
function callWith(n: number, shape: 'strings' | 'objects'): string {
  const element = shape === 'strings' ? "'x'" : "{ id: 'x' }";
  const field = shape === 'strings' ? 'ids' : 'items';
  return `const a = []; for (let i = 0; i < ${n}; i++) a.push(${element}); return await callTool('t', { ${field}: a });`;
}

function expectRefused(r: ExecutionResult, cap: number): void {
  expectWellFormed(r);
  expect(r.success, JSON.stringify(r.error)).toBe(false);
  expect(r.error?.code).toBe('TOOL_ERROR');
  expect(r.error?.data?.toolErrorCode).toBe('INVALID_ARGUMENTS');
  expect(r.error?.message).toContain(`The arguments of "t" hold more than ${cap} values`);
}

for (const row of ROWS) {
  const level = row.options.securityLevel ?? 'STANDARD';
  const cap = MAX_TOOL_ARGS_VALUES[level];
  describe(`tool arguments over the value cap (${row.name})`, () => {
    const run = async (code: string, options: CreateEnclaveOptions) => {
      const enclave = makeEnclave(row, { timeout: 20_000, ...options });
      try {
        return await enclave.run(code);
      } finally {
        enclave.dispose();
      }
    };

    it('a schema tool: one value over the cap reaches neither the schema nor the handler', async () => {
      const spy = spySchema();
      let handled = 0;
      const t = defineTool({ name: 't', input: spy.schema, handler: () => ++handled });
      // The arguments, the array, and cap - 1 strings: cap + 1 values.
      const r = await run(callWith(cap - 1, 'strings'), { tools: [t] });
      expectRefused(r, cap);
      expect(spy.calls(), 'the schema ran on arguments over the cap').toBe(0);
      expect(handled).toBe(0);
    });

    it('properties count: objects of one property each, just over the cap', async () => {
      const spy = spySchema();
      let handled = 0;
      const t = defineTool({ name: 't', input: spy.schema, handler: () => ++handled });
      // 2 + 2n values: n = cap / 2 gives cap + 2.
      const r = await run(callWith(cap / 2, 'objects'), { tools: [t] });
      expectRefused(r, cap);
      expect(spy.calls()).toBe(0);
      expect(handled).toBe(0);
    });

    it('a call at the cap is validated and reaches the tool', async () => {
      const spy = spySchema();
      let received = -1;
      const t = defineTool({
        name: 't',
        input: spy.schema,
        handler: (args) => {
          received = (args as { ids: string[] }).ids.length;
          return received;
        },
      });
      // The arguments, the array, and cap - 2 strings: exactly cap values.
      const r = await run(callWith(cap - 2, 'strings'), { tools: [t] });
      expect(r.success, JSON.stringify(r.error)).toBe(true);
      expect(r.value).toBe(cap - 2);
      expect(spy.calls()).toBe(1);
      expect(received).toBe(cap - 2);
    });

    it('a toolHandler (no schema) is held to the same cap', async () => {
      let handled = 0;
      const r = await run(callWith(cap - 1, 'strings'), {
        toolHandler: () => {
          handled++;
          return 1;
        },
      });
      expectRefused(r, cap);
      expect(handled, 'the handler got arguments over the cap').toBe(0);
    });

    it('the script can catch the refusal and go on with smaller calls', async () => {
      let handled = 0;
      const t = defineTool({ name: 't', handler: (args: { ids: string[] }) => (handled += args.ids.length) });
      const code = `const a = []; for (let i = 0; i < ${cap}; i++) a.push('x');
        let code = null; try { await callTool('t', { ids: a }); } catch (e) { code = e.code; }
        await callTool('t', { ids: a.slice(0, 5000) });
        return code;`;
      const r = await run(code, { tools: [t] });
      expect(r.success, JSON.stringify(r.error)).toBe(true);
      expect(r.value).toBe('INVALID_ARGUMENTS');
      expect(handled).toBe(5000);
    });
  });
}
