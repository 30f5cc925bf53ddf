import { describe, expect, it } from 'vitest';
import { Enclave, ToolError } from '../src/index.js';

const enclave = new Enclave();
const tools = {
  'users:get': async ({ id }: { id: string }) => {
    if (id !== 'u1') throw new ToolError(`No user ${id}`, { code: 'NOT_FOUND' });
    return { id, name: 'Ada' };
  },
};

describe('runtime behaviour an LLM relies on', () => {
  it('points an unhandled tool failure at the line that called the tool', async () => {
    const r = await enclave.run(`const a = 1;\nconst u = await callTool('users:get', { id: 'nobody' });\nreturn u;`, { tools });
    expect(r.error).toMatchObject({ code: 'TOOL_ERROR', name: 'ToolError', message: 'No user nobody', location: { line: 2 } });
    expect(r.error?.data).toEqual({ toolErrorCode: 'NOT_FOUND', tool: 'users:get' });
  });

  it('captures console.table, dir, trace and failed asserts', async () => {
    const r = await enclave.run(`console.table([{ a: 1 }]); console.dir({ b: 2 }); console.trace('t'); console.assert(1 === 2, 'math', 3); console.assert(true, 'never');`);
    expect(r.success).toBe(true);
    expect(r.logs?.map((l) => [l.level, l.message])).toEqual([
      ['log', '[{"a":1}]'],
      ['log', '{"b":2}'],
      ['debug', 't'],
      ['error', 'Assertion failed: math 3'],
    ]);
  });
});

describe('realm entries due in the same tick share one watchdog', () => {
  const slow = { echo: async (args: { n: number }) => { await new Promise((r) => setImmediate(r)); return args.n; } };

  it('runs many concurrent runs to their own results', async () => {
    const code = `const a = await callTool('echo', { n: input.n }); const b = await callTool('echo', { n: a * 2 }); return [a, b];`;
    const results = await Promise.all(Array.from({ length: 40 }, (_, n) => enclave.run(code, { tools: slow, input: { n } })));
    results.forEach((r, n) => expect(r).toMatchObject({ success: true, value: [n, n * 2] }));
  });

  it('stops a run that spins after an await without harming the runs entered with it', async () => {
    const spinner = new Enclave({ maxIterations: 1e12, validate: false });
    const spin = spinner.run(`await callTool('echo', { n: 1 }); let i = 0; while (true) { i++ }`, { tools: slow, timeout: 300 });
    const others = Array.from({ length: 10 }, (_, n) => spinner.run(`const v = await callTool('echo', { n: ${n} }); return v + 1;`, { tools: slow, timeout: 10_000 }));
    const [spun, ...rest] = await Promise.all([spin, ...others]);
    expect(spun.error?.code).toBe('TIMEOUT');
    rest.forEach((r, n) => expect(r).toMatchObject({ success: true, value: n + 1 }));
    // The event loop is alive and the next run on the same Enclave works.
    await new Promise((r) => setImmediate(r));
    expect((await spinner.run('return 42')).value).toBe(42);
  });
});

describe('copying values whose keys shadow Object.prototype', () => {
  it('keeps keys like __proto__, constructor and __defineGetter__ as plain data, both ways', async () => {
    const e = new Enclave({ validate: false });
    const data = JSON.parse('{"__proto__": 1, "constructor": 2, "__defineGetter__": 3, "toString": 4, "hasOwnProperty": 5}');
    const r = await e.run(`const o = await callTool('echo', {}); return [o, Object.keys(o)];`, { tools: { echo: async () => data } });
    expect(r.success).toBe(true);
    const [o, keys] = r.value as [Record<string, unknown>, string[]];
    expect(keys.sort()).toEqual(['__defineGetter__', '__proto__', 'constructor', 'hasOwnProperty', 'toString']);
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(o, '__defineGetter__')?.value).toBe(3);
  });
});

describe('memory that accumulates between checkpoints', () => {
  it('stops many flattened copies of a large string built with +', async () => {
    const e = new Enclave({ validate: false });
    const r = await e.run(`const s = 'y'.repeat(2e7); const parts = []; for (let i = 0; i < 200; i++) { const t = s + i; t.indexOf('q'); parts.push(t); } return parts.length`, { timeout: 20_000 });
    expect(r.error?.code).toBe('MEMORY_LIMIT_EXCEEDED');
  });
});

describe('Intl', () => {
  it('is only a global at PERMISSIVE, while locale methods work at every level', async () => {
    const code = `return [typeof Intl, (1234.5).toLocaleString('en-US'), new Date(0).toLocaleDateString('en-US', { timeZone: 'UTC' }), 'a'.localeCompare('b')]`;
    expect((await new Enclave({ validate: false }).run(code)).value).toEqual(['undefined', '1,234.5', '1/1/1970', -1]);
    expect((await new Enclave({ securityLevel: 'PERMISSIVE' }).run(code)).value).toEqual(['object', '1,234.5', '1/1/1970', -1]);
  });
});
