/**
 * Events of a run (`onEvent`, `enclave.stream()`): numbered from 1 without gaps, the same in both
 * isolations, bounded by the run's budgets, and unable to break or stall the run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave, ToolError } from '../src/index.js';
import type { CreateEnclaveOptions, EnclaveEvent, ToolSet } from '../src/index.js';
import { untilReached } from './helpers.js';

const tools: ToolSet = {
  'orders:list': async ({ status }: { status: string }) => [{ id: 1, status, total: 120 }],
  'orders:get': async ({ id }: { id: number }) => {
    throw new ToolError(`No order ${id}`, { code: 'NOT_FOUND', status: 404 });
  },
  slow: () => new Promise((resolve) => setTimeout(() => resolve('late'), 120)),
};

const SCRIPT = `console.log('start');
const paid = await callTool('orders:list', { status: 'paid' });
let missing;
try { await callTool('orders:get', { id: 9 }); } catch (e) { missing = e.code; }
console.warn('done', paid.length);
return { total: paid[0].total, missing };`;

const enclaves: Enclave[] = [];
afterAll(() => enclaves.forEach((e) => e.dispose()));
const make = (options: CreateEnclaveOptions) => {
  const e = new Enclave(options);
  enclaves.push(e);
  return e;
};

const ISOLATIONS: { name: string; options: CreateEnclaveOptions }[] = [
  { name: 'vm', options: {} },
  { name: 'worker_threads', options: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 2 } } },
];

describe.each(ISOLATIONS)('run events [$name]', ({ options }) => {
  it('reports session_init, logs, tool calls and results, and final, numbered from 1 without gaps', async () => {
    const enclave = make(options);
    const events: EnclaveEvent[] = [];
    const result = await enclave.run(SCRIPT, { tools, onEvent: (e) => events.push(e), sessionId: 'ses_test1' });
    expect(result).toMatchObject({ success: true, value: { total: 120, missing: 'NOT_FOUND' } });
    expect(events.map((e) => e.type)).toEqual(['session_init', 'log', 'tool_call', 'tool_result', 'tool_call', 'tool_result', 'log', 'final']);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const e of events) {
      expect(e.sessionId).toBe('ses_test1');
      expect(Number.isInteger(e.time)).toBe(true);
      // Plain JSON: what a transport writes is what a listener got.
      expect(JSON.parse(JSON.stringify(e))).toEqual(e);
    }
    const [init, log1, call1, result1, call2, result2, log2, final] = events;
    expect(init?.payload).toMatchObject({ level: 'STANDARD', isolation: enclave.stats().workers ? 'worker_threads' : 'vm', limits: enclave.limits });
    expect((init as EnclaveEvent<'session_init'>).payload.expiresAt).toBeGreaterThan(Date.now());
    expect(log1?.payload).toMatchObject({ level: 'log', message: 'start' });
    expect(log2?.payload).toMatchObject({ level: 'warn', message: 'done 1' });
    expect(call1?.payload).toEqual({ callId: 1, tool: 'orders:list' });
    expect(result1?.payload).toMatchObject({ callId: 1, tool: 'orders:list', ok: true });
    expect(call2?.payload).toEqual({ callId: 2, tool: 'orders:get' });
    expect(result2?.payload).toMatchObject({ callId: 2, tool: 'orders:get', ok: false, error: { code: 'NOT_FOUND', message: 'No order 9' } });
    expect(final?.payload).toEqual(result);
  });

  it('puts the arguments into tool_call only when the host opts in', async () => {
    const enclave = make(options);
    const events: EnclaveEvent[] = [];
    await enclave.run(`return await callTool('orders:list', { status: 'open' });`, { tools, includeToolArgs: true, onEvent: (e) => events.push(e) });
    expect(events.find((e) => e.type === 'tool_call')?.payload).toEqual({ callId: 1, tool: 'orders:list', args: { status: 'open' } });
  });

  it('leaves out arguments over the value cap: decoding them for the event would hold the host as the call would', async () => {
    const enclave = make(options);
    const events: EnclaveEvent[] = [];
    const r = await enclave.run(`const a = []; for (let i = 0; i < 10000; i++) a.push(i); try { await callTool('orders:list', { ids: a }); } catch (e) { return e.code; }`, { tools, includeToolArgs: true, onEvent: (e) => events.push(e) });
    expect(r.value).toBe('INVALID_ARGUMENTS');
    expect(events.find((e) => e.type === 'tool_call')?.payload).toEqual({ callId: 1, tool: 'orders:list', args: undefined });
  });

  it('a listener that throws, or returns a promise that rejects or never settles, does not change the run', async () => {
    const enclave = make(options);
    const plain = await enclave.run(SCRIPT, { tools });
    for (const onEvent of [
      () => {
        throw new Error('listener bug');
      },
      () => Promise.reject(new Error('async listener bug')),
      () => new Promise(() => {}),
    ]) {
      const r = await enclave.run(SCRIPT, { tools, onEvent });
      expect(r).toMatchObject({ success: true, value: plain.success ? plain.value : undefined });
    }
  });

  it('a run refused before it runs still reports session_init and final', async () => {
    const enclave = make(options);
    const events: EnclaveEvent[] = [];
    const r = await enclave.run('return eval("1")', { onEvent: (e) => events.push(e) });
    expect(r.success).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['session_init', 'final']);
    expect(events[1]?.payload).toEqual(r);
  });

  it('heartbeats while a tool is pending, and nothing after final', async () => {
    const enclave = make(options);
    const events: EnclaveEvent[] = [];
    const r = await enclave.run(`return await callTool('slow', {});`, { tools, heartbeatMs: 20, onEvent: (e) => events.push(e) });
    expect(r).toMatchObject({ success: true, value: 'late' });
    expect(events.filter((e) => e.type === 'heartbeat').length).toBeGreaterThan(0);
    const count = events.length;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(events.length).toBe(count);
    expect(events.at(-1)?.type).toBe('final');
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  });

  it('a run that ends at its deadline while a tool is pending reports final TIMEOUT and no late tool_result', async () => {
    const enclave = make(options);
    // The tool answers when the test says so, after the run has ended: its reply has nowhere to go.
    let release = (_value: string) => {};
    const { result, events, entered } = await untilReached(
      async (timeout) => {
        const seen: EnclaveEvent[] = [];
        let toolEntered = false;
        const pending: ToolSet = {
          pending: () => {
            toolEntered = true;
            return new Promise<string>((resolve) => (release = resolve));
          },
        };
        const r = await enclave.run(`return await callTool('pending', {});`, { tools: pending, timeout, onEvent: (e) => seen.push(e) });
        return { result: r, events: seen, entered: toolEntered };
      },
      (a) => a.entered,
      250,
    );
    expect(entered).toBe(true);
    expect(result.success || result.error.code).toBe('TIMEOUT');
    release('too late');
    // Time for a late reply to turn into an event, were the engine to let it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events.map((e) => e.type)).toEqual(['session_init', 'tool_call', 'final']);
  });

  it('stream() iterates the events and resolves the result', async () => {
    const enclave = make(options);
    const run = enclave.stream(SCRIPT, { tools });
    const seen: string[] = [];
    for await (const event of run) {
      seen.push(event.type);
      expect(event.sessionId).toBe(run.sessionId);
    }
    expect(seen.at(0)).toBe('session_init');
    expect(seen.at(-1)).toBe('final');
    expect(await run.result).toMatchObject({ success: true });
  });

  it('refuses a malformed sessionId, heartbeatMs or onEvent as bad run options', async () => {
    const enclave = make(options);
    for (const bad of [{ onEvent: 'x' }, { onEvent: () => {}, sessionId: 'a b' }, { onEvent: () => {}, heartbeatMs: -1 }, { includeToolArgs: 'yes' }]) {
      const r = await enclave.run('return 1', bad as never);
      expect(r.success || r.error.code).toBe('VALIDATION_ERROR');
    }
  });
});
