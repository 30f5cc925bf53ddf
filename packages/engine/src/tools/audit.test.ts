import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Enclave, ToolError, defineTool, jsonLinesAudit } from '../index.js';
import type { ToolCallEvent } from '../index.js';

describe('audit events (onToolCall)', () => {
  it('emits one structured event per call with size, duration, outcome and error code', async () => {
    const events: ToolCallEvent[] = [];
    const add = defineTool({ name: 'add', sideEffect: true, input: z.object({ a: z.number(), b: z.number() }), handler: ({ a, b }) => a + b });
    const deny = () => {
      throw new ToolError('no', { code: 'DENIED' });
    };
    const e = new Enclave({ tools: { add, deny }, onToolCall: (ev) => void events.push(ev) });
    const r = await e.run(
      `const x = await callTool('add', { a: 1, b: 2 });
       for (const [name, args] of [['add', { a: 'x' }], ['deny', {}], ['nope', {}]]) { try { await callTool(name, args); } catch {} }
       return x;`,
      { context: { user: 'ada' } },
    );
    expect(r.value).toBe(3);
    expect(events.map((ev) => [ev.tool, ev.callIndex, ev.outcome, ev.errorCode])).toEqual([
      ['add', 1, 'ok', undefined],
      ['add', 2, 'error', 'INVALID_ARGUMENTS'],
      ['deny', 3, 'error', 'DENIED'],
      ['nope', 4, 'error', 'UNKNOWN_TOOL'],
    ]);
    const [first] = events as [ToolCallEvent];
    expect(first).toMatchObject({ type: 'tool_call', argsBytes: '{"a":1,"b":2}'.length, resultBytes: 1, sideEffect: true, context: { user: 'ada' } });
    expect(first.runId).toMatch(/^run_/);
    expect(typeof first.durationMs).toBe('number');
    expect(first.durationMs).toBeGreaterThanOrEqual(0);
    expect(first.startedAt).toBeGreaterThan(1_600_000_000_000);
    expect(new Set(events.map((ev) => ev.runId)).size).toBe(1);
  });

  it('records a timed-out call and a call cut off by the run end', async () => {
    const events: ToolCallEvent[] = [];
    const slow = defineTool({ name: 'slow', timeout: 10, handler: () => new Promise(() => {}) });
    const hang = defineTool({ name: 'hang', handler: () => new Promise(() => {}) });
    const e = new Enclave({ tools: [slow, hang], onToolCall: (ev) => void events.push(ev) });
    await e.run('1'); // a warm realm: a cold first run on a busy machine may not reach both calls in time
    await e.run(`try { await callTool('slow', {}); } catch {} await callTool('hang', {});`, { timeout: 500 });
    await new Promise((res) => setTimeout(res, 10)); // the event of the cut-off call follows the run's end
    expect(events.map((ev) => [ev.tool, ev.errorCode])).toEqual([
      ['slow', 'TOOL_TIMEOUT'],
      ['hang', 'ABORTED'],
    ]);
  });

  it('never lets a throwing or rejecting hook break a run', async () => {
    const tools = { t: () => 1 };
    const unhandled: unknown[] = [];
    const listener = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', listener);
    try {
      const throwing = new Enclave({ tools, onToolCall: () => { throw new Error('disk full'); } });
      expect((await throwing.run(`return await callTool('t', {});`)).value).toBe(1);
      const rejecting = new Enclave({ tools, onToolCall: async () => { throw new Error('disk full'); } });
      expect((await rejecting.run(`return await callTool('t', {});`)).value).toBe(1);
      await new Promise((res) => setTimeout(res, 10));
    } finally {
      process.off('unhandledRejection', listener);
    }
    expect(unhandled).toEqual([]);
  });

  it('jsonLinesAudit writes one JSON line per call, context only as picked', async () => {
    const lines: string[] = [];
    const stream = { write: (chunk: string) => lines.push(chunk) };
    const e = new Enclave({ tools: { t: () => 'x' }, onToolCall: jsonLinesAudit(stream, { context: (c: { user: string; token: string }) => ({ user: c.user }) }) });
    await e.run(`await callTool('t', { q: 1 }); await callTool('t', {});`, { context: { user: 'ada', token: 'secret-token' } });
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({ type: 'tool_call', tool: 't', callIndex: 1, outcome: 'ok', argsBytes: 7, context: { user: 'ada' } });
    expect(lines.join('')).not.toContain('secret-token');
    const bare: string[] = [];
    await new Enclave({ tools: { t: () => 'x' }, onToolCall: jsonLinesAudit({ write: (c: string) => bare.push(c) }) }).run(`await callTool('t', {});`, { context: { token: 'secret-token' } });
    expect(JSON.parse(bare[0] as string)).not.toHaveProperty('context');
  });

  it('rejects a hook that is not a function', () => {
    expect(() => new Enclave({ onToolCall: 'log' as never })).toThrow(/onToolCall must be a function/);
  });

  it('jsonLinesAudit writes no raw BiDi or C1 control a script chose: the line shows what it says', async () => {
    const lines: string[] = [];
    const e = new Enclave({ tools: { t: () => 'x' }, onToolCall: jsonLinesAudit({ write: (c: string) => lines.push(c) }) });
    const name = 'admin\u202E\u2066nimda\u0085\u009b31m\u2069\u200f';
    // Built at run time: the pre-scan refuses these characters in the source itself.
    const codes = Array.from(name, (c) => c.charCodeAt(0)).join(', ');
    await e.run(`try { await callTool(String.fromCharCode(${codes}), {}); } catch {}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\u0080-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    expect(JSON.parse(lines[0] as string).tool).toBe(name);
  });
});
