/**
 * `createMcpHandler` over a real socket, driven by the official clients of both protocol eras: the three
 * tools as a model uses them, per-user tools, and every kind of bad input answered as MCP says.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EnclaveConfigError, EnclaveHttpError, ToolError, createEnclaveHandler, defineTool } from '@enclave-kit/engine';
import type { EnclaveRequestContext } from '@enclave-kit/engine';
import { handleNodeRequest } from '@enclave-kit/engine/node';
import type { NodeRequest } from '@enclave-kit/engine/node';
import { MCP_PACKAGE_VERSION, createMcpHandler, mcpRoute } from '../src/index.js';
import { ERAS, callBody, connectMcp, rawRpc, textOf } from './clients.js';
import type { McpTestClient } from './clients.js';

const ORDERS = [
  { id: 1, owner: 'alice', status: 'paid', total: 120 },
  { id: 2, owner: 'alice', status: 'open', total: 35 },
  { id: 3, owner: 'alice', status: 'paid', total: 80 },
  { id: 4, owner: 'bob', status: 'paid', total: 999 },
];

function toolsFor(user: string) {
  return [
    defineTool({
      name: 'orders:list',
      description: 'List the orders of the current user.\nNewest first.',
      input: z.object({ status: z.enum(['open', 'paid']).optional().describe('Only orders in this state') }),
      handler: ({ status }) => ORDERS.filter((o) => o.owner === user && (status === undefined || o.status === status)),
    }),
    defineTool({
      name: 'orders:get',
      description: 'One order of the current user, by id.',
      input: z.object({ id: z.number().int() }),
      output: z.object({ id: z.number(), status: z.string(), total: z.number() }),
      handler: ({ id }) => {
        const order = ORDERS.find((o) => o.id === id);
        if (!order || order.owner !== user) throw new ToolError(`No order ${id}.`, { code: 'NOT_FOUND', status: 404 });
        return order;
      },
    }),
    defineTool({ name: 'me', description: 'The current user.', handler: () => ({ name: user }) }),
  ];
}

const SCRIPT = 'const paid = await callTool("orders:list", { status: "paid" }); return paid.reduce((s, o) => s + o.total, 0);';

let url = '';
let close: () => Promise<void> = async () => {};
const errors: unknown[] = [];

beforeAll(async () => {
  const handler = createMcpHandler<{ req: NodeRequest }, string>({
    enclave: { securityLevel: 'SECURE', timeout: 2000 },
    maxBodySize: 16 * 1024,
    maxConcurrentRuns: 2,
    logger: { info() {}, error() {} },
    onError: ({ error }) => errors.push(error),
    rateLimit: { max: 2, windowMs: 60_000, key: ({ user }) => (user.startsWith('limited') ? user : undefined) },
    authenticate: ({ request }: EnclaveRequestContext) => {
      const user = request.headers.get('x-user');
      if (user === 'mallory') throw new EnclaveHttpError(403, 'mallory may not use tools');
      return user;
    },
    tools: ({ user }) => {
      if (user === 'broken') throw new Error('tools factory failed: db password=hunter2');
      return toolsFor(user);
    },
  });
  const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  close = async () => {
    handler.dispose();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
});
afterAll(() => close());

describe.each(ERAS)('code mode over HTTP, %s client', (era) => {
  let alice: McpTestClient;
  beforeAll(async () => {
    alice = await connectMcp(url, era, { 'x-user': 'alice' });
  });
  afterAll(() => alice?.close());

  it('lists the three tools with their input schemas, execute with its output schema', async () => {
    const tools = await alice.listTools();
    expect(tools.map((t) => t.name)).toEqual(['search_tools', 'describe_tools', 'execute']);
    const execute = tools.find((t) => t.name === 'execute');
    expect(execute?.inputSchema).toMatchObject({ type: 'object', required: ['code'], properties: { code: { type: 'string' } } });
    expect(execute?.outputSchema).toMatchObject({ type: 'object', required: ['success', 'stats'] });
  });

  it('search_tools ranks the user’s tools by keywords', async () => {
    const result = await alice.callTool('search_tools', { query: 'paid orders' });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent.tools[0]).toMatchObject({ name: 'orders:list', description: 'List the orders of the current user.' });
    expect(result.structuredContent).toMatchObject({ matched: 2, total: 3 });
    expect(textOf(result)).toContain('- orders:list: List the orders of the current user.');
    const none = await alice.callTool('search_tools', { query: 'weather' });
    expect(textOf(none)).toMatch(/No tool matches "weather" among 3 tools/);
    const all = await alice.callTool('search_tools', { query: '', limit: 2 });
    expect(all.structuredContent.tools.map((t: { name: string }) => t.name)).toEqual(['me', 'orders:get']);
  });

  it('describe_tools gives JSON Schemas, the signatures describe() makes and the dialect; unknown names are named', async () => {
    const result = await alice.callTool('describe_tools', { names: ['orders:list', 'orders:lst'] });
    expect(result.isError).toBeFalsy();
    const { tools, unknown, dialect, securityLevel } = result.structuredContent;
    expect(tools.map((t: { name: string }) => t.name)).toEqual(['orders:list']);
    expect(tools[0].inputSchema).toMatchObject({ properties: { status: { enum: ['open', 'paid'] } } });
    expect(tools[0].declaration).toContain('declare function callTool(name: "orders:list", args: {');
    expect(unknown).toEqual(['orders:lst']);
    expect(securityLevel).toBe('SECURE');
    expect(dialect).toMatch(/^# AgentScript \(security level SECURE\)/);
    const text = textOf(result);
    expect(text).toContain('### orders:list');
    expect(text).toContain('status?: "open" | "paid"');
    expect(text).toContain('"orders:lst" is not a tool of this catalog; did you mean orders:get, orders:list?');
    expect(text).toContain('# AgentScript (security level SECURE)');
    const allUnknown = await alice.callTool('describe_tools', { names: ['nope'] });
    expect(allUnknown.isError).toBe(true);
    expect(allUnknown.structuredContent.unknown).toEqual(['nope']);
  });

  it('execute runs the script with the user’s tools: the result as structuredContent, a summary as text', async () => {
    const result = await alice.callTool('execute', { code: SCRIPT });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ success: true, value: 200, stats: { toolCallCount: 1 } });
    expect(textOf(result)).toMatch(/^OK \(\d+ ms, 1 tool call\)\. Value:\n200$/);
    const withInput = await alice.callTool('execute', { code: 'const o = await callTool("orders:get", { id: input.id }); return o.total;', input: { id: 3 } });
    expect(withInput.structuredContent.value).toBe(80);
  });

  it('execute reports a failure with isError, the code, the message and the line to fix', async () => {
    const result = await alice.callTool('execute', { code: 'const a = 1;\nconst o = await callTool("orders:get", { id: 4 });\nreturn o.total;' });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ success: false, error: { code: 'TOOL_ERROR', message: 'No order 4.', location: { line: 2, column: 17 } } });
    expect(textOf(result)).toMatch(/^TOOL_ERROR at line 2, column 17: No order 4\.\nDetails: \{"status":404,"toolErrorCode":"NOT_FOUND"/);
    expect(textOf(result)).toContain('Fix the script and call execute again');
    const invalid = await alice.callTool('execute', { code: 'return eval("1")' });
    expect(invalid.isError).toBe(true);
    expect(textOf(invalid)).toMatch(/^VALIDATION_ERROR at line 1, column 8: .*\n.*\[no-eval\].*Hint: /);
  });

  it('another user gets their own tools on the same endpoint', async () => {
    const bob = await connectMcp(url, era, { 'x-user': 'bob' });
    expect((await bob.callTool('execute', { code: SCRIPT })).structuredContent.value).toBe(999);
    expect((await alice.callTool('execute', { code: SCRIPT })).structuredContent.value).toBe(200);
    await bob.close();
  });

  it('wrong argument types are a tool error naming the argument; an unknown tool is a JSON-RPC error', async () => {
    const wrong = await alice.callTool('execute', { code: 42 });
    expect(wrong.isError).toBe(true);
    expect(textOf(wrong)).toMatch(/Input validation error: .*code/);
    expect((await alice.callTool('describe_tools', { names: 'orders:list' })).isError).toBe(true);
    expect((await alice.callTool('execute', { code: 'return 1', extra: true })).isError).toBe(true);
    await expect(alice.callTool('run_script', { code: 'return 1' })).rejects.toMatchObject({ code: -32602, message: expect.stringMatching(/Tool run_script not found/) });
  });
});

describe('bad input over HTTP gets JSON-RPC answers, never a crash or an HTML page', () => {
  const rpc = (body: string, headers: Record<string, string> = { 'x-user': 'alice' }) => rawRpc(url, body, headers);

  it('malformed JSON: 400 and a parse error', async () => {
    const res = await rpc('{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(res.status).toBe(400);
    expect(res.message).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
  });

  it('JSON that is not JSON-RPC: 400 and an invalid-request error', async () => {
    for (const body of ['[]', '{"hello": "world"}', '42']) {
      const res = await rpc(body);
      expect(res.status, body).toBe(400);
      expect(res.message.error.code, body).toBeLessThan(-32000);
    }
  });

  it('an unknown method and an unknown tool: JSON-RPC errors', async () => {
    expect((await rpc(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/destroy' }))).message).toMatchObject({ id: 7, error: { code: -32601 } });
    expect((await rpc(callBody('nope', {}))).message).toMatchObject({ id: 1, error: { code: -32602, message: expect.stringMatching(/nope/) } });
  });

  it('wrong argument types: a tool error the model can read', async () => {
    const res = await rpc(callBody('search_tools', { query: ['a'], limit: 'ten' }));
    expect(res.message.result).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/Input validation error/) }] });
  });

  it('a subscriptions/listen is answered at once, in both eras: no stream stays open for it, and no client is told to listen', async () => {
    const envelope = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };
    const listen = (id: string, meta?: object) => JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { ...(meta && { _meta: meta }), notifications: { toolsListChanged: true } } });
    const modern = { 'x-user': 'alice', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' };
    for (const [body, headers] of [
      [listen('l1', envelope), modern],
      [listen('l2'), { 'x-user': 'alice' }],
      [`[${listen('l3')}]`, { 'x-user': 'alice' }],
    ] as const) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body });
      // A JSON answer, read to its end: before, the modern one was a text/event-stream that never ended.
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.status).toBe(404);
      const message = (await res.json()) as { id: unknown };
      expect(message).toMatchObject({ error: { code: -32601, message: expect.stringContaining('nothing to listen for') } });
      expect(message.id).toBe(body.startsWith('[') ? null : JSON.parse(body).id);
    }
    // Neither era's handshake says the tool list may change (a client would open a listen for it).
    const discover = await rawRpc(url, JSON.stringify({ jsonrpc: '2.0', id: 'd', method: 'server/discover', params: { _meta: envelope } }), { 'x-user': 'alice', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' });
    expect(discover.message.result.capabilities.tools).toEqual({ listChanged: false });
    const init = await rawRpc(url, JSON.stringify({ jsonrpc: '2.0', id: 'i', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }), { 'x-user': 'alice' });
    expect(init.message.result.capabilities.tools).toEqual({ listChanged: false });
  });

  it('__proto__ and constructor.prototype anywhere in a call pollute neither the host nor the script, and leave nothing in the result', async () => {
    const hostile = (tag: string) => `"__proto__": { "${tag}1": 1 }, "constructor": { "prototype": { "${tag}2": 1 } }`;
    const code = 'return [input instanceof Object, ({}).polluted1, ({}).polluted2, input.polluted1, input, Object.keys(input)];';
    const input = `{ ${hostile('polluted')}, "ok": 1 }`;
    const args = `{ "code": ${JSON.stringify(code)}, "input": ${input} }`;
    const call = (params: string) => `{ "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": { ${params} } }`;
    // On the envelope, the call's params or the tool's arguments: whether the SDK takes the call or not, a JSON-RPC answer.
    for (const body of [
      `{ "jsonrpc": "2.0", "id": 5, ${hostile('polluted')}, "method": "tools/call", "params": { "name": "execute", "arguments": ${args} } }`,
      call(`${hostile('polluted')}, "name": "execute", "arguments": ${args}`),
      call(`"name": "execute", "arguments": { ${hostile('polluted')}, "code": ${JSON.stringify(code)}, "input": ${input} }`),
    ]) {
      expect((await rpc(body)).message).toMatchObject({ jsonrpc: '2.0', id: 5 });
    }
    const res = await rpc(call(`"name": "execute", "arguments": ${args}`));
    for (const name of ['polluted1', 'polluted2']) expect(Object.prototype, name).not.toHaveProperty(name);
    // The script sees its input's keys as data on a plain object; the result carries neither path out.
    const { structuredContent } = res.message.result;
    expect(structuredContent).toMatchObject({ success: true, value: [true, null, null, null, { ok: 1 }, ['__proto__', 'constructor', 'ok']] });
    expect(Object.hasOwn(structuredContent.value[4], '__proto__')).toBe(false);
    expect(JSON.stringify(res.message)).not.toMatch(/polluted/);
  });

  it('an input nested far deeper than the engine reads is a result with a code, and the server keeps serving', async () => {
    const depth = 7000;
    const res = await rpc(callBody('execute', { code: 'return 1' }).replace('"code":"return 1"', `"code":"return 1","input":${'['.repeat(depth)}${']'.repeat(depth)}`));
    expect(res.status).toBe(200);
    expect(res.message.result).toMatchObject({ isError: true, structuredContent: { success: false, error: { code: 'VALIDATION_ERROR', message: expect.stringMatching(/^input is nested more than 128 levels deep \(at input\[0\]\[0\].*\[0\]\)/) } } });
    expect((await rpc(callBody('execute', { code: 'return "alive"' }))).message.result.structuredContent.value).toBe('alive');
  });

  it('a body over maxBodySize: 413 with a JSON-RPC error, and the server keeps serving', async () => {
    const res = await rpc(callBody('execute', { code: `return "${'x'.repeat(20_000)}"` }));
    expect(res.status).toBe(413);
    expect(res.message).toMatchObject({ error: { code: -32000, data: { status: 413, code: 'PAYLOAD_TOO_LARGE' } } });
    expect((await rpc(callBody('execute', { code: 'return "alive"' }))).message.result.structuredContent.value).toBe('alive');
  });

  it('not JSON: 415', async () => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-user': 'alice' }, body: 'tools/list' });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { data: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
  });

  it('JSON declared in a charset other than UTF-8: 415 saying so (the body is read as UTF-8); UTF-8 declared is served', async () => {
    const body = callBody('search_tools', { query: 'orders' });
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-16le', accept: 'application/json, text/event-stream', 'x-user': 'alice' }, body: new Uint8Array(Buffer.from(body, 'utf16le')) });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { message: expect.stringMatching(/charset=utf-16le is not read/), data: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
    expect((await rpc(body, { 'x-user': 'alice', 'content-type': 'application/json; charset=UTF-8' })).status).toBe(200);
  });

  it('no user: 401; a user the auth hook refuses: 403 with its message', async () => {
    const anonymous = await rpc(callBody('execute', { code: 'return 1' }), {});
    expect([anonymous.status, anonymous.message.error.data]).toEqual([401, { status: 401, code: 'UNAUTHORIZED' }]);
    const mallory = await rpc(callBody('execute', { code: 'return 1' }), { 'x-user': 'mallory' });
    expect([mallory.status, mallory.message.error.message]).toEqual([403, 'mallory may not use tools']);
  });

  it('the per-user rate limit: 429 with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await rpc(callBody('search_tools', { query: 'orders' }), { 'x-user': 'limited-1' })).status);
    expect(statuses).toEqual([200, 200, 429]);
    const limited = await rpc(callBody('search_tools', { query: 'orders' }), { 'x-user': 'limited-1' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.message.error.data.code).toBe('RATE_LIMITED');
  });

  it('a JSON-RPC batch of several tools/call is refused: one rate-limit count cannot start many runs', async () => {
    const batch = [1, 2, 3].map((id) => JSON.parse(callBody('execute', { code: 'return 1' }, id)) as unknown);
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-user': 'limited-batch' }, body: JSON.stringify(batch) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32600 } });
    // The batch counted once, as one request, and started nothing.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await rpc(callBody('search_tools', { query: 'orders' }), { 'x-user': 'limited-batch' })).status);
    expect(statuses).toEqual([200, 429, 429]);
  });

  it('a failing tools factory: an internal error, reported to onError, with nothing of the host in it', async () => {
    const res = await rpc(callBody('execute', { code: 'return 1' }), { 'x-user': 'broken' });
    expect(res.message.result).toMatchObject({ isError: true, content: [{ text: 'INTERNAL_ERROR: An internal error occurred.' }] });
    expect(JSON.stringify(res.message)).not.toMatch(/hunter2|factory/);
    expect(errors.some((e) => e instanceof Error && /tools factory failed/.test(e.message))).toBe(true);
  });

  it('a foreign browser Origin: 403 (DNS rebinding); the same origin passes', async () => {
    const foreign = await rpc(callBody('search_tools', { query: '' }), { 'x-user': 'alice', origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    const same = await rpc(callBody('search_tools', { query: '' }), { 'x-user': 'alice', origin: new URL(url).origin });
    expect(same.status).toBe(200);
  });

  it('the route’s own origin under a DNS name: passes over https: (a rebinding page cannot be that origin), refused over plain http', async () => {
    // As a browser page at that name sends it once the name points here (behind a TLS proxy for https:).
    const { hostname, port, pathname } = new URL(url);
    const fromPage = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const headers = { host: `app.example.test:${port}`, origin, 'x-user': 'alice', 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
        const req = httpRequest({ hostname, port, path: pathname, method: 'POST', headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(callBody('search_tools', { query: '' }));
      });
    expect(await fromPage(`https://app.example.test:${port}`)).toBe(200);
    expect(await fromPage(`http://app.example.test:${port}`)).toBe(403);
  });

  it('GET and DELETE (2025 session operations) on the stateless endpoint: 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(url, { method, headers: { 'x-user': 'alice', accept: 'text/event-stream' } });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('content-type')).toMatch(/json/);
      await res.body?.cancel();
    }
  });
});

describe('options', () => {
  it('refuses bad options at construction, naming them', () => {
    expect(() => mcpRoute({ allowedOrigins: 'evil' } as never)).toThrow(EnclaveConfigError);
    expect(() => mcpRoute({ allowedOrigins: 'evil' } as never)).toThrow(/mcpRoute\(options\): allowedOrigins must be/);
    expect(() => mcpRoute({ nme: 'x' } as never)).toThrow(/unknown option "nme"/);
    expect(() => createMcpHandler({ routes: {} } as never)).toThrow(/"routes" belongs to createEnclaveHandler/);
    expect(() => createMcpHandler({ tools: 5 } as never)).toThrow(/tools must be a function/);
  });

  it('takes the user type from authenticate, not from mcpRoute() (a type error otherwise)', () => {
    const handler = createEnclaveHandler({
      authenticate: () => ({ id: 'ada' }),
      tools: ({ user }) => ({ me: () => user.id }),
      routes: { '/mcp': mcpRoute() },
    });
    expect(handler.accepts('POST', '/mcp')).toBe(true);
    handler.dispose();
  });

  it('reports the package version to clients', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { version: string };
    expect(MCP_PACKAGE_VERSION).toBe(pkg.version);
  });
});

/** Serves `handler` on a free port of 127.0.0.1: its port, the endpoint's URL, and how to stop it. */
async function serveLocally(handler: ReturnType<typeof createMcpHandler>): Promise<{ port: number; url: string; stop(): Promise<void> }> {
  const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    stop: async () => {
      handler.dispose();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('DNS rebinding: a page served under an attacker’s name that resolves to this server', () => {
  // A local server with no authenticate (its network position is its only guard), as a developer runs one.
  const touched: string[] = [];
  let local = '';
  let port = 0;
  let stop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    const served = await serveLocally(createMcpHandler({ logger: { info() {}, error() {} }, allowedOrigins: ['http://tools.example.test:8443'], tools: { 'files:read': () => void touched.push('files:read') } }));
    ({ port, url: local, stop } = served);
  });
  afterAll(() => stop());

  /** What the browser sends for the page's same-origin fetch: its Host and its Origin both name the page's host. */
  const fromPage = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest(local, { method: 'POST', headers: { host, origin: `http://${host}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(callBody('execute', { code: 'return await callTool("files:read", {})' }));
    });

  it('is refused (403) whatever name the page uses, and no tool runs: the Host header is the attacker’s too', async () => {
    for (const name of ['rebind.attacker.test', 'localhost.attacker.test', '127.0.0.1.nip.io', 'xn--80ak6aa92e.com']) {
      expect(await fromPage(`${name}:${port}`), name).toBe(403);
    }
    expect(touched).toEqual([]);
  });

  it('a page on a loopback address or localhost, or an origin the host lists, still passes', async () => {
    const before = touched.length;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'tools.example.test:8443']) expect(await fromPage(host), host).toBe(200);
    expect(touched).toHaveLength(before + 4);
  });
});

describe('search_tools and describe_tools take what a model sends, not a megabyte of words', () => {
  // Ranking is synchronous work per query word, tool and description word: a 1 MB query of distinct
  // words held the event loop for seconds, every user and run of the process waiting.
  let built = 0;
  let local = '';
  let stop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    const handler = createMcpHandler({
      maxBodySize: 4 * 1024 * 1024,
      logger: { info() {}, error() {} },
      tools: () => {
        // Host-side canary: the catalog is built only for a call that gets to the search.
        built++;
        return toolsFor('alice');
      },
    });
    ({ url: local, stop } = await serveLocally(handler));
  });
  afterAll(() => stop());

  const distinctWords = (n: number) => Array.from({ length: n }, (_, i) => `w${i.toString(36)}`).join(' ');

  it('a query or a name longer than the schema allows is an input error; nothing is searched', async () => {
    for (const [tool, args] of [
      ['search_tools', { query: distinctWords(150_000) }],
      ['search_tools', { query: 'x'.repeat(1001) }],
      ['describe_tools', { names: Array.from({ length: 50 }, (_, i) => `${i} ${distinctWords(3000)}`) }],
    ] as const) {
      const res = await rawRpc(local, callBody(tool, args));
      expect(res.message.result, tool).toMatchObject({ isError: true, content: [{ text: expect.stringMatching(/Input validation error/) }] });
    }
    expect(built).toBe(0);
    const ok = await rawRpc(local, callBody('search_tools', { query: `paid orders ${'x'.repeat(900)}` }));
    expect(ok.message.result.isError).toBeUndefined();
    expect(built).toBe(1);
  });
});

describe('search_tools and describe_tools over a catalog of thousands of tools', () => {
  // Ranking used to visit every word of every tool for each query word: one describe_tools call of 50
  // unknown names (64 distinct words each, within the schema) held the event loop for 12 to 19 seconds over
  // 2,000 tools, every user and run of the process waiting. Now each query word goes to the tools that
  // hold it through an index of the catalog's words, built once per call.
  const vocabulary = Array.from({ length: 3000 }, (_, i) => `v${i.toString(36)}word`);
  const phrase = (n: number, seed: number) => Array.from({ length: n }, (_, k) => vocabulary[(seed * 7919 + k * 104_729) % vocabulary.length]).join(' ');
  const catalog = Object.fromEntries(
    Array.from({ length: 3000 }, (_, i) => {
      const toolName = `svc${i}:${phrase(2, i).replace(' ', '_')}`;
      return [toolName, defineTool({ name: toolName, description: phrase(40, i + 1), handler: () => i })];
    }),
  );
  let local = '';
  let stop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    ({ url: local, stop } = await serveLocally(createMcpHandler({ maxBodySize: 1024 * 1024, logger: { info() {}, error() {} }, tools: () => catalog })));
  });
  afterAll(() => stop());

  const name = (k: number) => Array.from({ length: 64 }, (_, i) => `v${(i * 37 + k).toString(36)}`).join(' ').slice(0, 256);

  it('describe_tools with 50 unknown names of 256 characters answers each with its suggestions', async () => {
    const names = Array.from({ length: 50 }, (_, k) => name(k));
    const res = await rawRpc(local, callBody('describe_tools', { names }));
    expect(res.message.result).toMatchObject({ isError: true, structuredContent: { unknown: names } });
    expect(textOf(res.message.result).match(/is not a tool of this catalog; did you mean svc\d+:/g)).toHaveLength(50);
  }, 10_000);

  it('search_tools with 64 words that start catalog words ranks them', async () => {
    const res = await rawRpc(local, callBody('search_tools', { query: name(1), limit: 50 }));
    expect(res.message.result.structuredContent.tools).toHaveLength(50);
    expect(res.message.result.structuredContent.total).toBe(3000);
  }, 10_000);
});
