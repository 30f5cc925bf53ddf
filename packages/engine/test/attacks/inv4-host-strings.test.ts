/**
 * Invariant 4 against strings the host hands in. No realm string may be longer than 2^24 characters
 * (MAX_STRING_CHARS, realm-abi.ts), since V8 reads a whole string in steps that ignore termination (see
 * inv4-string-passes). The realm refuses to build one; this file checks that no host value brings one
 * in either, whatever the byte caps allow: at PERMISSIVE a tool's result may be 64 MB, and a tool may
 * pass on attacker-influenced data (a web page, a file). Before the fix a tool's result of 2^24 + 1
 * characters reached the script whole.
 *
 * A tool's result with a longer string (a value, a key, deep inside) fails the call with a catchable
 * `ToolError` of code RESULT_TOO_LARGE, as a result over `maxToolResultBytes` does: the host's data is
 * too big, not the script wrong, and the script may ask for less. `input` and globals with one are
 * refused before the run (VALIDATION_ERROR, RangeError), as input over `maxInputBytes` is.
 *
 * Canaries are host-side: a `seen` tool records the length of every string the script got and the code
 * of every failure it caught; nothing the script returns is trusted.
 */
import { describe, expect, it } from 'vitest';
import { ToolError } from '../../src/index.js';
import type { CreateEnclaveOptions, ExecutionResult, RunOptions, ToolSet } from '../../src/index.js';
import type { Adapter } from '../helpers.js';
import { expectWellFormed, makeEnclave, ONE_WORKER, REUSE_ONE_REALM } from '../helpers.js';

const ROWS: readonly Adapter[] = [
  { name: 'vm PERMISSIVE', options: { securityLevel: 'PERMISSIVE', realmPool: REUSE_ONE_REALM }, validates: true },
  { name: 'vm PERMISSIVE validate:false transform:false', options: { securityLevel: 'PERMISSIVE', validate: false, transform: false, realmPool: REUSE_ONE_REALM }, validates: false },
  { name: 'worker_threads PERMISSIVE validate:false transform:false', options: { securityLevel: 'PERMISSIVE', adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: ONE_WORKER }, validates: false },
];

/** MAX_STRING_CHARS. */
const MOST = 2 ** 24;
const LONG = 'a'.repeat(MOST + 1);
const LONGEST = 'a'.repeat(MOST);

/** A script that calls `big` and tells `seen` what it got: the longest string in it, or the code it caught. */
const CALL_BIG = `
  const longest = (v) => typeof v === 'string' ? v.length : v && typeof v === 'object' ? Math.max(0, ...Object.keys(v).map((k) => Math.max(k.length, longest(v[k])))) : 0;
  try {
    const v = await callTool('big', {});
    await callTool('seen', { got: longest(v) });
  } catch (e) {
    await callTool('seen', { caught: e.code, message: e.message });
  }
  return 1;`;

function spy(big: () => unknown): { tools: ToolSet; seen: Record<string, unknown>[] } {
  const seen: Record<string, unknown>[] = [];
  return {
    seen,
    tools: {
      big,
      seen: (args: Record<string, unknown>) => {
        seen.push(args);
        return null;
      },
    },
  };
}

/** Runs `code` on a fresh Enclave of the row with the spy tools over `big`; what `seen` recorded, and the result. */
async function runWith(adapter: Adapter, code: string, big: () => unknown, options: RunOptions = {}, enclaveOptions: CreateEnclaveOptions = {}): Promise<{ r: ExecutionResult; seen: Record<string, unknown>[] }> {
  const enclave = makeEnclave(adapter, enclaveOptions);
  try {
    const { tools, seen } = spy(big);
    const r = await enclave.run(code, { tools, ...options });
    expectWellFormed(r);
    return { r, seen };
  } finally {
    enclave.dispose();
  }
}

const RESULTS: readonly (readonly [string, () => unknown, RegExp])[] = [
  ['a string of 2^24 + 1 characters', () => LONG, /^Tool "big" returned a value that could not be copied: result is a string of 16777217 characters, longer than the 16777216/],
  ['one inside an object in an array', () => ({ items: [{ id: 1 }, { id: 2, body: LONG }] }), /result\.items\[1\]\.body is a string of 16777217 characters/],
  ['a key of 2^24 + 1 characters', () => ({ [LONG]: 1 }), /a key of result is a string of 16777217 characters/],
  ['one in a Map', () => new Map([['k', LONG]]), /result\.get\("k"\) is a string of 16777217 characters/],
];

describe.each(ROWS)('invariant 4: no host value brings in a string past the realm limit [$name]', (adapter) => {
  for (const [what, big, message] of RESULTS) {
    it(`a tool's result with ${what} fails the call with RESULT_TOO_LARGE, which the script catches`, async () => {
      const { r, seen } = await runWith(adapter, CALL_BIG, big);
      expect(r.success, JSON.stringify(r.error)).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.caught).toBe('RESULT_TOO_LARGE');
      expect(seen[0]?.message).toMatch(message);
    }, 120_000);
  }

  it("a tool's result with a string of exactly 2^24 characters still arrives whole", async () => {
    const { seen } = await runWith(adapter, CALL_BIG, () => ({ body: LONGEST }));
    expect(seen).toEqual([{ got: MOST }]);
  }, 120_000);

  it("a ToolError's code set after construction is checked as the constructor checks it", async () => {
    const { seen } = await runWith(adapter, CALL_BIG, () => {
      const e = new ToolError('no', { code: 'NOT_FOUND' });
      (e as { code: string }).code = LONG;
      throw e;
    });
    expect(seen).toEqual([{ caught: 'TOOL_ERROR', message: 'no' }]);
  }, 120_000);

  const HANDED_IN: readonly (readonly [string, string, RunOptions])[] = [
    ['input', 'input.doc', { input: { doc: LONG } }],
    ['globals', 'doc', { globals: { doc: LONG } }],
  ];
  for (const [what, read, options] of HANDED_IN) {
    it(`${what} with a string of 2^24 + 1 characters is refused, whatever maxInputBytes allows`, async () => {
      const { r, seen } = await runWith(adapter, `await callTool('seen', { got: ${read}.length }); return 1;`, () => null, options, { maxInputBytes: 64 * 2 ** 20 });
      expect(r.error?.code).toBe('VALIDATION_ERROR');
      expect(r.error?.name).toBe('RangeError');
      expect(r.error?.message).toMatch(new RegExp(`^${what}\\.doc is a string of 16777217 characters`));
      expect(seen).toEqual([]);
    }, 120_000);
  }
});
