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
