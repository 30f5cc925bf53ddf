/**
 * OpenTelemetry spans of runs and tool calls, following the GenAI conventions for tool execution, with
 * the SDK's in-memory exporter. The HTTP adapters' rows are in test/http/contract.ts.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, propagation, trace } from '@opentelemetry/api';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Enclave, ToolError, createEnclaveHandler, defineTool } from '../src/index.js';
import type { CreateEnclaveOptions } from '../src/index.js';
import { approvalsTracingCase, sharedMemoryStores } from './http/approvals.js';
import { newTraceparent, parentOf, registerTestTracing, spansOf } from './otel.js';

const exporter = registerTestTracing();
beforeEach(() => exporter.reset());
const enclaves: Enclave[] = [];
afterAll(() => enclaves.forEach((e) => e.dispose()));
const make = (options: CreateEnclaveOptions = {}) => {
  const e = new Enclave(options);
  enclaves.push(e);
  return e;
};

const tools = {
  'orders:list': async ({ status }: { status: string }) => {
    // A tool's own spans nest under its execute_tool span.
    const span = trace.getTracer('app').startSpan('db.query');
    span.end();
    return [{ id: 1, status }];
  },
  'orders:refund': async () => {
    throw new ToolError('Not allowed.', { code: 'FORBIDDEN' });
  },
};

/** Runs under a parent span context, as the HTTP core does with an incoming traceparent. */
function underParent<T>(fn: (parent: unknown) => Promise<T>): { ids: ReturnType<typeof newTraceparent>; done: Promise<T> } {
  const ids = newTraceparent();
  const parent = propagation.extract(context.active(), { traceparent: ids.header });
  return { ids, done: fn(parent) };
}

describe.each([
  { name: 'vm', options: {} },
  { name: 'worker_threads', options: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } as CreateEnclaveOptions },
])('tracing [$name]', ({ options }) => {
  it('a run is a span under the given context, each tool call an execute_tool child, the tool’s own spans under it', async () => {
    const enclave = make(options);
    const { ids, done } = underParent((traceContext) =>
      enclave.run(`const a = await callTool('orders:list', { status: 'paid' }); try { await callTool('orders:refund', {}); } catch (e) {} return a.length;`, { tools, traceContext }),
    );
    expect((await done).success).toBe(true);
    const spans = spansOf(exporter, ids.traceId);
    const run = spans.find((s) => s.name === 'enclave.run');
    expect(run, spans.map((s) => s.name).join()).toBeDefined();
    expect(parentOf(run!)).toBe(ids.spanId);
    expect(run!.attributes).toMatchObject({ 'enclave.level': 'STANDARD', 'enclave.outcome': 'SUCCESS', 'enclave.tool_calls': 2 });
    // Where the run ran: a vm Enclave's runs go to workers while the host tracks async context, as the
    // tracer's AsyncLocalStorage makes it do on Node 20 and 22 (Node 24's needs no async hooks).
    const vmRunsOn = Number(process.versions.node.split('.')[0]) >= 24 ? 'vm' : 'worker_threads';
    expect(run!.attributes['enclave.isolation']).toBe(options.adapter ?? vmRunsOn);
    const list = spans.find((s) => s.name === 'execute_tool orders:list');
    const refund = spans.find((s) => s.name === 'execute_tool orders:refund');
    expect(list?.attributes).toEqual({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'orders:list', 'gen_ai.tool.call.id': '1', 'gen_ai.tool.type': 'function' });
    expect(parentOf(list!)).toBe(run!.spanContext().spanId);
    expect(refund?.attributes).toMatchObject({ 'gen_ai.tool.name': 'orders:refund', 'gen_ai.tool.call.id': '2', 'error.type': 'FORBIDDEN' });
    expect(refund?.status.code).toBe(2);
    const query = spans.find((s) => s.name === 'db.query');
    expect(parentOf(query!)).toBe(list!.spanContext().spanId);
  });

  it('a failed run’s span carries its code as error.type and an error status', async () => {
    const enclave = make(options);
    const { ids, done } = underParent((traceContext) => enclave.run('return null.x', { traceContext }));
    expect((await done).success).toBe(false);
    const run = spansOf(exporter, ids.traceId).find((s) => s.name === 'enclave.run');
    expect(run?.attributes).toMatchObject({ 'enclave.outcome': 'RUNTIME_ERROR', 'error.type': 'RUNTIME_ERROR' });
    expect(run?.status.code).toBe(2);
  });

  it('no span carries text the script chose: a thrown message or a tool error that echoes arguments', async () => {
    const enclave = make(options);
    const echo = {
      'orders:find': async ({ q }: { q: string }) => {
        throw new ToolError(`no order ${q}`, { code: 'NOT_FOUND' });
      },
    };
    const { ids, done } = underParent((traceContext) =>
      enclave.run(`try { await callTool('orders:find', { q: 'CANARY-ARG-7f3' }); } catch (e) {} throw new Error('CANARY-THROWN-7f3');`, { tools: echo, traceContext }),
    );
    expect((await done).success).toBe(false);
    const spans = spansOf(exporter, ids.traceId);
    expect(spans.map((s) => s.name)).toEqual(expect.arrayContaining(['enclave.run', 'execute_tool orders:find']));
    const seen = JSON.stringify(spans.map((s) => ({ attributes: s.attributes, status: s.status, events: s.events })));
    expect(seen).not.toContain('CANARY');
  });

  it('a name the run has no tool for is the script’s text: no span is named after it or carries it', async () => {
    const enclave = make(options);
    // Distinct names per call would make as many span names: a backend's span metrics grow a series each.
    const { ids, done } = underParent((traceContext) =>
      enclave.run(`for (const n of ['CANARY-NAME-1', 'CANARY-NAME-2\\u202e\\u001b[31m']) { try { await callTool(n, {}); } catch (e) {} } return await callTool('orders:list', { status: 'paid' });`, { tools, traceContext }),
    );
    const result = await done;
    expect(result.success, JSON.stringify(result)).toBe(true);
    const spans = spansOf(exporter, ids.traceId);
    expect(JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })))).not.toContain('CANARY');
    const unknown = spans.filter((s) => s.name === 'execute_tool');
    expect(unknown.map((s) => s.attributes)).toEqual([1, 2].map((id) => expect.objectContaining({ 'gen_ai.tool.call.id': String(id), 'error.type': 'UNKNOWN_TOOL' })));
    expect(unknown.every((s) => !('gen_ai.tool.name' in s.attributes))).toBe(true);
    expect(spans.find((s) => s.name === 'execute_tool orders:list')?.attributes['gen_ai.tool.name']).toBe('orders:list');
  });

  it('a toolHandler serves any name: the names it gets are the script’s text, so no span is named after them or carries them', async () => {
    const enclave = make(options);
    const served: string[] = [];
    // The host's handler answers some names and refuses the rest: either way the name came from the script.
    const toolHandler = async (name: string) => {
      served.push(name);
      if (name.startsWith('CANARY-REFUSED')) throw new ToolError('No such tool.', { code: 'NOT_FOUND' });
      return 1;
    };
    const { ids, done } = underParent((traceContext) =>
      enclave.run(
        `let n = 0; for (const name of ['CANARY-SERVED-1', 'CANARY-SERVED-2\\u202e\\u001b[31m', 'CANARY-REFUSED-3']) { try { n += await callTool(name, {}); } catch (e) {} } return n;`,
        { toolHandler, traceContext },
      ),
    );
    const result = await done;
    expect(result, JSON.stringify(result)).toMatchObject({ success: true, value: 2 });
    // The host's handler did get the three names: the spans were made for real calls.
    expect(served).toEqual(['CANARY-SERVED-1', 'CANARY-SERVED-2\u202e\u001b[31m', 'CANARY-REFUSED-3']);
    const spans = spansOf(exporter, ids.traceId);
    expect(JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })))).not.toContain('CANARY');
    const calls = spans.filter((s) => s.name === 'execute_tool');
    expect(calls.map((s) => s.attributes['gen_ai.tool.call.id'])).toEqual(['1', '2', '3']);
    expect(calls.every((s) => !('gen_ai.tool.name' in s.attributes))).toBe(true);
    expect(calls[2]?.attributes['error.type']).toBe('NOT_FOUND');
  });

  it('tool arguments and results go on the spans only when the host opts in', async () => {
    const code = `return await callTool('orders:list', { status: 'open' });`;
    const plain = make(options);
    const withPayloads = make({ ...options, tracing: { toolPayloads: true } });
    const a = underParent((traceContext) => plain.run(code, { tools, traceContext }));
    await a.done;
    expect(spansOf(exporter, a.ids.traceId).find((s) => s.name === 'execute_tool orders:list')?.attributes).not.toHaveProperty('gen_ai.tool.call.arguments');
    const b = underParent((traceContext) => withPayloads.run(code, { tools, traceContext }));
    await b.done;
    expect(spansOf(exporter, b.ids.traceId).find((s) => s.name === 'execute_tool orders:list')?.attributes).toMatchObject({
      'gen_ai.tool.call.arguments': '{"status":"open"}',
      'gen_ai.tool.call.result': '[{"id":1,"status":"open"}]',
    });
  });
});

describe('script text on spans (tool payloads, when the host opts in)', () => {
  it('is escaped as the audit log escapes it, and cut at 8 KB without splitting a character', async () => {
    const enclave = make({ tracing: { toolPayloads: true } });
    const echo = { echo: ({ text }: { text: string }) => text };
    // The JSON text of {"text":"..."} is 9 characters before the string: the emoji straddles the cut.
    // (Built from code points: the pre-scan refuses BiDi controls in the source itself.)
    const code = `const c = String.fromCodePoint; return await callTool('echo', { text: 'a'.repeat(8192 - 10) + c(0x1f600) + 'tail ' + c(0x202e, 0x9b) + '31m ' + c(0x2066) + ' end' });`;
    const run = underParent((traceContext) => enclave.run(code, { tools: echo, traceContext }));
    expect((await run.done).success).toBe(true);
    const attributes = spansOf(exporter, run.ids.traceId).find((s) => s.name === 'execute_tool echo')?.attributes ?? {};
    const args = attributes['gen_ai.tool.call.arguments'] as string;
    const result = attributes['gen_ai.tool.call.result'] as string;
    expect(args.length).toBeGreaterThan(8000);
    for (const text of [args, result]) {
      // No lone surrogate (String.prototype.isWellFormed is newer than the lib this project types against).
      expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      expect(text).not.toMatch(/[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/);
    }
    // Short enough to keep whole: the escapes read back as the script's text.
    const short = underParent((traceContext) => enclave.run(`return await callTool('echo', { text: 'x' + String.fromCodePoint(0x202e) + 'y' });`, { tools: echo, traceContext }));
    expect((await short.done).success).toBe(true);
    const kept = spansOf(exporter, short.ids.traceId).find((s) => s.name === 'execute_tool echo')?.attributes['gen_ai.tool.call.arguments'] as string;
    expect(kept).toBe('{"text":"x\\u202ey"}');
    expect(JSON.parse(kept)).toEqual({ text: 'x\u202Ey' });
  });
});

describe('tracing a durable run', () => {
  it('a pause and its resume: each tool that ran has one execute_tool span; a replayed call has none, as it does not run', async () => {
    const enclave = make();
    const ran = { list: 0, refund: 0 };
    const durableTools = {
      'orders:list': defineTool({ name: 'orders:list', handler: async () => (ran.list++, [{ id: 'o1' }]) }),
      'orders:refund': defineTool({ name: 'orders:refund', needsApproval: true, handler: async ({ id }: { id: string }) => (ran.refund++, { id }) }),
    };
    const code = `const l = await callTool('orders:list', {}); return await callTool('orders:refund', { id: l[0].id });`;
    const first = underParent((traceContext) => enclave.run(code, { tools: durableTools, durable: true, traceContext }));
    const paused = await first.done;
    expect(paused.success ? undefined : paused.error.code).toBe('APPROVAL_REQUIRED');
    const before = spansOf(exporter, first.ids.traceId);
    expect(before.map((s) => s.name).sort()).toEqual(['enclave.run', 'execute_tool orders:list', 'execute_tool orders:refund']);
    expect(before.find((s) => s.name === 'enclave.run')?.attributes).toMatchObject({ 'enclave.outcome': 'APPROVAL_REQUIRED' });
    expect(before.find((s) => s.name === 'execute_tool orders:refund')?.attributes).toMatchObject({ 'error.type': 'APPROVAL_REQUIRED' });
    const journal = paused.success ? undefined : paused.paused?.journal;
    // The span that paused goes with the journal (its ids alone)...
    const pausedSpan = before.find((s) => s.name === 'enclave.run')?.spanContext();
    expect(journal?.trace).toEqual([first.ids.traceId, pausedSpan?.spanId]);
    // The decision comes with another request: its trace.
    const second = underParent((traceContext) => enclave.run(code, { tools: durableTools, durable: { resume: { journal, decision: { approved: true } } }, traceContext }));
    expect(await second.done).toMatchObject({ success: true, value: { id: 'o1' } });
    const after = spansOf(exporter, second.ids.traceId);
    const run = after.find((s) => s.name === 'enclave.run');
    // ...and the resumed run's span links to it.
    expect(run?.links.map((l) => [l.context.traceId, l.context.spanId, l.attributes])).toEqual([[first.ids.traceId, pausedSpan?.spanId, { 'enclave.link': 'paused_run' }]]);
    expect(after.filter((s) => s.name.startsWith('execute_tool')).map((s) => [s.name, s.attributes['gen_ai.tool.call.id'], parentOf(s)])).toEqual([['execute_tool orders:refund', '2', run?.spanContext().spanId]]);
    expect(ran).toEqual({ list: 1, refund: 1 });
  });
});

// Through the HTTP core: two instances on one memory store (the Redis stores' case is in packages/redis).
approvalsTracingCase('memory store', sharedMemoryStores());

describe('tracing options', () => {
  it('tracing: false records nothing; the scoring gate’s decision is an event of the run span', async () => {
    const off = make({ tracing: false });
    const a = underParent((traceContext) => off.run('return 1', { traceContext }));
    await a.done;
    expect(spansOf(exporter, a.ids.traceId)).toEqual([]);
    const gated = make({ scoringGate: true });
    const b = underParent((traceContext) => gated.run('return 1', { traceContext }));
    await b.done;
    const run = spansOf(exporter, b.ids.traceId).find((s) => s.name === 'enclave.run');
    expect(run?.events.map((e) => e.name)).toContain('enclave.scoring');
  });
});

describe('tracing through the HTTP core', () => {
  const post = (traceparent: string) =>
    new Request('http://localhost/enclave', { method: 'POST', headers: { 'content-type': 'application/json', traceparent }, body: JSON.stringify({ code: `return await callTool('orders:list', { status: 'paid' });` }) });

  it('under a span already active (auto-instrumentation’s server span for the request), the run is that span’s child', async () => {
    const handler = createEnclaveHandler({ enclave: make(), tools: () => tools });
    const ids = newTraceparent();
    const incoming = propagation.extract(context.active(), { traceparent: ids.header });
    const server = trace.getTracer('http').startSpan('POST /enclave', {}, incoming);
    const res = await context.with(trace.setSpan(incoming, server), () => handler(post(ids.header), {}));
    server.end();
    expect(res.status).toBe(200);
    const spans = spansOf(exporter, ids.traceId);
    const run = spans.find((s) => s.name === 'enclave.run');
    expect(parentOf(run!)).toBe(server.spanContext().spanId);
    expect(parentOf(spans.find((s) => s.name === 'execute_tool orders:list')!)).toBe(run!.spanContext().spanId);
  });

  it('with no span active, the request’s traceparent is the parent', async () => {
    const handler = createEnclaveHandler({ enclave: make(), tools: () => tools });
    const ids = newTraceparent();
    expect((await handler(post(ids.header), {})).status).toBe(200);
    expect(parentOf(spansOf(exporter, ids.traceId).find((s) => s.name === 'enclave.run')!)).toBe(ids.spanId);
  });
});

describe('a host set up as README.md shows, with nothing else in an async context before its first run', () => {
  it('its first traced runs succeed, with their spans: the run’s own tool-call spans do not end it', () => {
    // A process of its own: here the test tracer (test/otel.ts) has entered its context manager already.
    const here = path.dirname(fileURLToPath(import.meta.url));
    const out = spawnSync(process.execPath, [path.join(here, 'fixtures/first-traced-run.mjs'), path.resolve(here, '../dist/bundle/index.js')], { encoding: 'utf8' });
    expect(out.stderr).toBe('');
    const { results, spans } = JSON.parse(out.stdout) as {
      results: { success: boolean; value?: unknown }[];
      spans: { name: string; id: string; trace: string; parent?: string; attributes: Record<string, unknown> }[];
    };
    // Before, on Node 20 and 22 the first run ended as INTERNAL_ERROR after its first tool call.
    expect(results).toEqual([1, 2].map(() => expect.objectContaining({ success: true, value: 4 })));
    const runs = spans.filter((s) => s.name === 'enclave.run');
    expect(runs.map((r) => r.attributes)).toEqual(runs.map(() => expect.objectContaining({ 'enclave.outcome': 'SUCCESS', 'enclave.tool_calls': 2 })));
    expect(runs).toHaveLength(2);
    // Where the runs ran: a vm Enclave's runs go to workers while the host tracks async context (Node 20, 22).
    const vmRunsOn = Number(process.versions.node.split('.')[0]) >= 24 ? 'vm' : 'worker_threads';
    expect(runs.map((r) => r.attributes['enclave.isolation'])).toEqual([vmRunsOn, vmRunsOn]);
    for (const run of runs) {
      const calls = spans.filter((s) => s.parent === run.id);
      expect(calls.map((s) => [s.name, s.trace, s.attributes['gen_ai.tool.call.id']])).toEqual([
        ['execute_tool orders:list', run.trace, '1'],
        ['execute_tool orders:list', run.trace, '2'],
      ]);
    }
  });
});
