/**
 * DESIGN.md section 1: "Adapters only translate framework I/O to the http/ core". So the same request
 * gets the same answer from every adapter: status, the headers the core sets, and body. This sends one
 * list of requests (every route the core serves, refusals, streams, sessions, the playground) to an
 * adapter and to the bare core behind node:http, both with the contract's options, and compares the
 * answers after evening out what differs by nature (ids, times, nonces, the framework's own headers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractOptions, fetchCoreHarness } from './contract.js';
import type { AdapterHarness, Observed, Served } from './contract.js';

interface Probe {
  name: string;
  method: string;
  /** Below `/enclave`; `{id}` is a session of the user's own, finished; `{wait}` one that waits for an approval of call 1. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** A request a body parser before the adapter (express.json(), Nest's) may answer first. */
  parsed?: boolean;
}

const json = { 'content-type': 'application/json' };
const run = (code: string, extra: Record<string, string> = {}) => ({ method: 'POST', headers: { ...json, ...extra }, body: JSON.stringify({ code }) });

/** A JSON-RPC message as a 2025 MCP client posts it. */
const mcp = (body: string) => ({ method: 'POST', headers: { ...json, accept: 'application/json, text/event-stream' }, body });

const PROBES: Probe[] = [
  { name: 'a run', path: '', ...run('return await callTool("whoami")') },
  { name: 'a run at the path with a trailing slash', path: '/', ...run('return 2') },
  { name: 'a check with a trailing slash', path: '/check/', method: 'POST', headers: json, body: '{"code":"return 1"}' },
  { name: 'a session’s state with a trailing slash', path: '/sessions/{id}/', method: 'GET' },
  { name: 'a run that throws', path: '', ...run('const o = null; return o.x;') },
  { name: 'a tool error with its status', path: '', ...run('return await callTool("forbid")') },
  { name: 'a run streamed as SSE', path: '', ...run('console.log("hi"); return await callTool("whoami")', { accept: 'text/event-stream' }) },
  { name: 'a run streamed as NDJSON', path: '', ...run('console.log("hi"); return 1', { accept: 'application/x-ndjson' }) },
  { name: 'no user', path: '', method: 'POST', headers: { ...json, 'x-user': '' }, body: '{"code":"return 1"}' },
  { name: 'a user the auth hook refuses', path: '', method: 'POST', headers: { ...json, 'x-user': 'mallory' }, body: '{"code":"return 1"}' },
  { name: 'a page of another origin', path: '', method: 'POST', headers: { ...json, origin: 'http://evil.example' }, body: '{"code":"return 1"}' },
  { name: 'a page of another origin, MCP', path: '/mcp', method: 'POST', headers: { ...json, accept: 'application/json, text/event-stream', origin: 'http://evil.example' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' },
  { name: 'a page of another origin, a session', path: '/sessions/{id}', method: 'GET', headers: { origin: 'http://evil.example' } },
  { name: 'not JSON', path: '', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'return 1' },
  { name: 'an unknown field', path: '', method: 'POST', headers: json, body: '{"code":"return 1","tools":{}}', parsed: true },
  // The contract's rate limit: 2 requests a minute for users named limited*; the third is 429 + Retry-After.
  { name: 'a rate-limited user’s first request', path: '', method: 'POST', headers: { ...json, 'x-user': 'limited-parity' }, body: '{"code":"return 1"}' },
  { name: 'a rate-limited user’s second request', path: '/check', method: 'POST', headers: { ...json, 'x-user': 'limited-parity' }, body: '{"code":"return 1"}' },
  { name: 'a rate-limited user’s third request', path: '/sessions', method: 'POST', headers: { ...json, 'x-user': 'limited-parity' }, body: '{"code":"return 1"}' },
  { name: 'a rate-limited user’s catalog', path: '', method: 'GET', headers: { 'x-user': 'limited-parity' } },
  { name: 'the catalog', path: '', method: 'GET' },
  { name: 'the catalog, HEAD', path: '', method: 'HEAD' },
  { name: 'a check', path: '/check', method: 'POST', headers: json, body: '{"code":"return eval(1)"}' },
  { name: 'a check without a user', path: '/check', method: 'POST', headers: { ...json, 'x-user': '' }, body: '{"code":"return 1"}' },
  { name: 'a session started as JSON', path: '/sessions', ...run('return 1') },
  { name: 'a session started as SSE', path: '/sessions', ...run('console.log("x"); return 2', { accept: 'text/event-stream' }) },
  { name: 'a session started without a user', path: '/sessions', method: 'POST', headers: { ...json, 'x-user': '' }, body: '{"code":"return 1"}' },
  { name: 'a session’s state', path: '/sessions/{id}', method: 'GET' },
  { name: 'a session’s state, HEAD', path: '/sessions/{id}', method: 'HEAD' },
  { name: 'a session’s state for another user', path: '/sessions/{id}', method: 'GET', headers: { 'x-user': 'bob' } },
  { name: 'a session’s events', path: '/sessions/{id}/events', method: 'GET' },
  { name: 'a session’s events after Last-Event-ID', path: '/sessions/{id}/events', method: 'GET', headers: { 'last-event-id': '1' } },
  { name: 'a session’s events as NDJSON from ?fromSeq', path: '/sessions/{id}/events?fromSeq=1', method: 'GET', headers: { accept: 'application/x-ndjson' } },
  { name: 'a session’s events from a bad fromSeq', path: '/sessions/{id}/events?fromSeq=x', method: 'GET' },
  { name: 'a session’s events, HEAD', path: '/sessions/{id}/events', method: 'HEAD' },
  { name: 'a cancel of a finished session', path: '/sessions/{id}', method: 'DELETE' },
  { name: 'a decision on a session that does not wait', path: '/sessions/{id}/approvals/1', method: 'POST', headers: json, body: '{"approved":true}' },
  { name: 'a decision on a call id that is not one', path: '/sessions/{id}/approvals/x', method: 'POST', headers: json, body: '{"approved":true}' },
  { name: 'a session id that is not one', path: '/sessions/not!an!id', method: 'GET' },
  { name: 'a session that does not exist', path: '/sessions/ses_AAAAAAAAAAAAAAAAAAAAAA', method: 'GET' },
  { name: 'a cancel of a session that does not exist', path: '/sessions/ses_AAAAAAAAAAAAAAAAAAAAAA', method: 'DELETE' },
  { name: 'the playground', path: '/playground', method: 'GET', headers: { 'x-user': '' } },
  { name: 'a playground asset that is not one', path: '/playground/assets/nope.js', method: 'GET', headers: { 'x-user': '' } },
  { name: 'a waiting session’s state', path: '/sessions/{wait}', method: 'GET' },
  { name: 'a waiting session’s events', path: '/sessions/{wait}/events', method: 'GET' },
  { name: 'a decision that is not one', path: '/sessions/{wait}/approvals/1', method: 'POST', headers: json, body: '{"approved":"yes"}', parsed: true },
  { name: 'a decision on a call it does not wait on', path: '/sessions/{wait}/approvals/2', method: 'POST', headers: json, body: '{"approved":true}' },
  { name: 'a decision with the digest of another call', path: '/sessions/{wait}/approvals/1', method: 'POST', headers: json, body: `{"approved":true,"digest":"${'A'.repeat(43)}"}` },
  { name: 'a decision from another user', path: '/sessions/{wait}/approvals/1', method: 'POST', headers: { ...json, 'x-user': 'bob' }, body: '{"approved":true}' },
  { name: 'a denial, streamed', path: '/sessions/{wait}/approvals/1', method: 'POST', headers: { ...json, accept: 'text/event-stream' }, body: '{"approved":false,"reason":"No."}' },
  { name: 'a second decision', path: '/sessions/{wait}/approvals/1', method: 'POST', headers: json, body: '{"approved":true}' },
  { name: 'the denied session’s state', path: '/sessions/{wait}', method: 'GET' },
  { name: 'MCP tools/list (a 2025 client)', path: '/mcp', ...mcp('{"jsonrpc":"2.0","id":1,"method":"tools/list"}') },
  { name: 'MCP execute', path: '/mcp', ...mcp('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"execute","arguments":{"code":"console.log(1); return await callTool(\\"whoami\\")"}}}') },
  { name: 'MCP execute of a failing script', path: '/mcp', ...mcp('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"execute","arguments":{"code":"return null.x"}}}') },
  { name: 'MCP search_tools', path: '/mcp', ...mcp('{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"search_tools","arguments":{"query":"who"}}}') },
  { name: 'MCP an unknown method', path: '/mcp', ...mcp('{"jsonrpc":"2.0","id":5,"method":"nope/nope"}') },
  { name: 'MCP subscriptions/listen', path: '/mcp', ...mcp('{"jsonrpc":"2.0","id":6,"method":"subscriptions/listen","params":{}}') },
  { name: 'MCP not JSON-RPC', path: '/mcp', ...mcp('{"hello":1}') },
  { name: 'MCP GET', path: '/mcp', method: 'GET', headers: { accept: 'text/event-stream' } },
  { name: 'MCP DELETE', path: '/mcp', method: 'DELETE' },
  { name: 'MCP without a user', path: '/mcp', method: 'POST', headers: { ...json, accept: 'application/json, text/event-stream', 'x-user': '' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' },
];

/** Headers a framework or server adds of its own, or that follow from how it frames the body. */
const FRAMEWORK_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'x-powered-by']);

/** Ids, times, durations and nonces evened out: they differ from one answer to the next by nature. */
function even(text: string): string {
  return text
    .replace(/ses_[A-Za-z0-9_-]{22}/g, 'ses_ID')
    .replace(/"(time|duration|durationMs|expiresAt|elapsedMs|startedAt)":[0-9.e+-]+/g, '"$1":0')
    .replace(/\((\d+) ms, /g, '(N ms, ')
    .replace(/nonce-[A-Za-z0-9+/=_-]+/g, 'nonce-N')
    .replace(/nonce="[^"]*"/g, 'nonce="N"');
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function ask(served: Served, probe: Probe, [sessionId, waiting]: [string, string], isolation: boolean): Promise<Answer> {
  const headers: Record<string, string> = { 'x-user': 'alice', ...probe.headers };
  if (headers['x-user'] === '') delete headers['x-user'];
  const res = await fetch(`${served.url}/enclave${probe.path.replace('{id}', sessionId).replace('{wait}', waiting)}`, {
    method: probe.method,
    headers,
    ...(probe.body !== undefined && { body: probe.body }),
  });
  const body = await res.text();
  const kept: Record<string, string> = {};
  // A window's remaining seconds depend on when the request came: only that there is one is compared.
  for (const [name, value] of res.headers) if (!FRAMEWORK_HEADERS.has(name)) kept[name] = name === 'retry-after' ? 'N' : even(value);
  const evened = even(body);
  return { status: res.status, headers: kept, body: isolation ? evened : evened.replaceAll('"isolation":"worker_threads"', '"isolation":"vm"') };
}

/** Starts a finished session of alice's on `served`, for the probes that read one. */
async function finishedSession(served: Served): Promise<string> {
  const res = await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers: { ...json, 'x-user': 'alice' }, body: JSON.stringify({ code: 'console.log("one"); await callTool("whoami"); return 3' }) });
  const { sessionId } = (await res.json()) as { sessionId: string };
  // Its events to the end: the session has finished when the stream does.
  expect(await (await fetch(`${served.url}/enclave/sessions/${sessionId}/events`, { headers: { 'x-user': 'alice' } })).text()).toContain('event: final');
  return sessionId;
}

/** Starts a session of alice's on `served` whose first call waits for an approval. */
async function waitingSession(served: Served): Promise<string> {
  const res = await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers: { ...json, 'x-user': 'alice', accept: 'text/event-stream' }, body: JSON.stringify({ code: 'try { return await callTool("refund", { amount: 5 }); } catch (e) { return e.code + ": " + e.message; }' }) });
  // The stream ends at the pause.
  expect(await res.text()).toContain('event: approval_required');
  const id = res.headers.get('x-session-id') ?? '';
  expect(id).toMatch(/^ses_/);
  return id;
}

/**
 * The same requests to `harness` and to the bare core: the same answers. `isolation: false` compares a
 * harness whose runs go elsewhere (worker_threads) with the core's on `vm`: alike but for the name.
 */
export function adapterParity(name: string, harness: AdapterHarness, { isolation = true } = {}): void {
  describe(`${name}: answers as the bare core does`, () => {
    const observed = (): Observed => ({ aborts: [], ends: [], errors: [], toolUsers: [], release() {}, pending: 0, streamsCancelled: 0, toolsAsked: [], starts: [] });
    let adapter: Served;
    let core: Served;
    let ids: [[string, string], [string, string]];
    beforeAll(async () => {
      [adapter, core] = await Promise.all([harness.start(contractOptions(harness, observed())), fetchCoreHarness.start(contractOptions(fetchCoreHarness, observed()))]);
      const [finished, waiting] = [await Promise.all([finishedSession(adapter), finishedSession(core)]), await Promise.all([waitingSession(adapter), waitingSession(core)])];
      ids = [
        [finished[0], waiting[0]],
        [finished[1], waiting[1]],
      ];
    });
    afterAll(async () => {
      await Promise.all([adapter?.close(), core?.close()]);
    });

    const probes = PROBES.filter((p) => !(p.parsed === true && harness.frameworkParsesBody === true));
    it.each(probes)('$name', async (probe) => {
      const [mine, reference] = [await ask(adapter, probe, ids[0], isolation), await ask(core, probe, ids[1], isolation)];
      expect(mine).toEqual(reference);
    });
  });
}
