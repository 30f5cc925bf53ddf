/**
 * The help the host writes for a script's mistakes costs the host's thread, as often as the script
 * makes them. "Did you mean" hints scan every candidate name per unknown name: the names that get
 * them are bounded per run, per check and per validation, and each comparison by the edit limit, not
 * the names' lengths. A tool's expected argument type is made once, not per invalid call. The host's
 * own events (tool_result), check reports and a counting schema are the evidence, not what the script returns.
 */
import { describe, expect, it } from 'vitest';
import { Enclave, defineTool } from '../src/index.js';
import { MAX_SUGGESTED_NAMES, editDistance } from '../src/suggest.js';

/** Names that look alike: 40 characters, a shared prefix, a varying tail. */
const pad = (s: string) => `${s}${'_'.repeat(40)}`.slice(0, 40);
const TOOLS = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [pad(`svc:orders_list_${i.toString(36)}`), () => i]));
/** Near misses of those tools (an extra character no tool name has): every one is one edit from a tool. */
const nearMisses = (n: number) => Array.from({ length: n }, (_, k) => pad(`svc:orders_list_${k.toString(36)}-`));

describe('unknown tool names a run calls', () => {
  it.each(['vm', 'worker_threads'] as const)('[%s] only the first ones get hints: 1,000 near misses of 3,000 tools end in seconds, not a minute', async (adapter) => {
    const enclave = new Enclave({ securityLevel: 'PERMISSIVE', adapter, ...(adapter === 'worker_threads' && { workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }) });
    try {
      const names = nearMisses(1000);
      const stream = enclave.stream(`let failed = 0; for (const name of input) { try { await callTool(name, {}); } catch (e) { failed++; } } return failed;`, { tools: TOOLS, input: names });
      const messages: string[] = [];
      for await (const event of stream) {
        if (event.type === 'tool_result' && !event.payload.ok) messages.push(event.payload.error?.message ?? '');
      }
      const result = await stream.result;
      expect(result, JSON.stringify(result.error)).toMatchObject({ success: true, value: 1000 });
      expect(messages).toHaveLength(1000);
      const hinted = messages.filter((m) => m.includes('Did you mean'));
      expect(hinted).toHaveLength(MAX_SUGGESTED_NAMES);
      expect(messages.slice(0, MAX_SUGGESTED_NAMES)).toEqual(hinted);
      // Past them, the message still names the call and lists tools.
      expect(messages.at(-1)).toMatch(/^Unknown tool "svc:orders_list_.*"\. Available tools: /);
    } finally {
      enclave.dispose();
    }
  }, 30_000);
});

describe('unknown tool names a check reports', () => {
  it('the first ones carry suggestions; every one is still reported', () => {
    const enclave = new Enclave({ securityLevel: 'PERMISSIVE' });
    try {
      const code = nearMisses(100)
        .map((n) => `await callTool(${JSON.stringify(n)});`)
        .join('\n');
      const { issues } = enclave.check(code, { tools: TOOLS });
      const unknown = issues.filter((i) => i.ruleId === 'unknown-tool');
      expect(unknown).toHaveLength(100);
      expect(unknown.filter((i) => i.suggestions !== undefined)).toHaveLength(MAX_SUGGESTED_NAMES);
      expect(unknown.slice(0, MAX_SUGGESTED_NAMES).every((i) => (i.suggestions?.length ?? 0) > 0)).toBe(true);
    } finally {
      enclave.dispose();
    }
  });
});

describe('unknown globals a validation reports', () => {
  it('the first ones carry suggestions among the script’s many declared names', () => {
    const enclave = new Enclave({ securityLevel: 'PERMISSIVE' });
    try {
      const declared = Array.from({ length: 1000 }, (_, i) => `orderTotalValue${i.toString(36).padStart(4, '0')}`);
      const code = `let ${declared.map((n) => `${n} = 0`).join(', ')};\n${declared
        .slice(0, 60)
        .map((n) => `${n}Q;`)
        .join('\n')}\nreturn 1;`;
      const { issues } = enclave.check(code);
      const unknown = issues.filter((i) => i.ruleId === 'unknown-global');
      expect(unknown).toHaveLength(60);
      expect(unknown.filter((i) => (i.suggestions?.length ?? 0) > 0)).toHaveLength(MAX_SUGGESTED_NAMES);
    } finally {
      enclave.dispose();
    }
  });
});

describe('a tool called with invalid arguments, again and again', () => {
  it.each(['vm', 'worker_threads'] as const)('[%s] its expected type is made once per tool, not once per call', async (adapter) => {
    // A Standard Schema whose JSON Schema conversion the host can count (a zod schema of 400 fields
    // took 17 ms per conversion: 1,000 invalid calls held the host's thread for 17 s).
    let conversions = 0;
    const input = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value: unknown) =>
          value !== null && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'number' ? { value } : { issues: [{ message: 'id must be a number', path: ['id'] }] },
        jsonSchema: {
          input: () => {
            conversions++;
            return { type: 'object', properties: { id: { type: 'number' } }, required: ['id'] };
          },
          output: () => ({}),
        },
      },
    };
    const tool = defineTool({ name: 'orders:get', input: input as never, handler: ({ id }: { id: number }) => id });
    const enclave = new Enclave({ securityLevel: 'PERMISSIVE', adapter, ...(adapter === 'worker_threads' && { workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }) });
    try {
      const stream = enclave.stream(`let failed = 0; for (let i = 0; i < 1000; i++) { try { await callTool('orders:get', { id: String(i) }); } catch (e) { failed++; } } return failed;`, { tools: [tool] });
      const messages: string[] = [];
      for await (const event of stream) if (event.type === 'tool_result' && !event.payload.ok) messages.push(event.payload.error?.message ?? '');
      expect((await stream.result).success).toBe(true);
      expect(messages).toHaveLength(1000);
      // Every message still tells the script what the tool expects.
      expect(messages.every((m) => m.endsWith('Expected arguments: { id: number; }.'))).toBe(true);
      expect(conversions).toBe(1);
    } finally {
      enclave.dispose();
    }
  }, 30_000);
});

describe('editDistance', () => {
  /** The full table, for comparison. */
  function levenshtein(a: string, b: string): number {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    return prev[b.length] as number;
  }

  it('is the Levenshtein distance within the limit, and limit + 1 past it, for many random pairs', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const word = () => Array.from({ length: Math.floor(random() * 12) }, () => 'abc'[Math.floor(random() * 3)]).join('');
    for (let n = 0; n < 5000; n++) {
      const a = word();
      const b = random() < 0.5 ? word() : a.slice(0, Math.floor(random() * (a.length + 1))) + word().slice(0, 2);
      const limit = Math.floor(random() * 5);
      const exact = levenshtein(a, b);
      expect(editDistance(a, b, limit), `${a} ${b} ${limit}`).toBe(exact <= limit ? exact : limit + 1);
    }
  });
});
