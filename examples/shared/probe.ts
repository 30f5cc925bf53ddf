/**
 * A server started the way its user starts it (`node` on a free port), with a host-side canary preloaded,
 * and the probes of an enclave route shared by the README quick starts and the Next.js example: valid,
 * malformed and hostile requests over fetch, each held to the README's HTTP contract.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The official MCP clients (both protocol eras), as @enclave-kit/mcp's own tests drive them.
import { ERAS, connectMcp, textOf } from '../../packages/mcp/test/clients.js';

const canaryModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'canary.mjs');

/** What canary.mjs reports from inside the server process. */
export interface Canary {
  pid: number;
  pwned: unknown;
  polluted: unknown;
}

export interface Started {
  /** `http://127.0.0.1:{port}/enclave` (or the `path` it was started with) */
  url: string;
  child: ChildProcess;
  canary(): Promise<Canary>;
  /** What the server wrote to stderr so far (warnings, errors). */
  stderr(): string;
  stop(): void;
}

/** A port that was free a moment ago, for servers that take a port number rather than listening on 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs `node args` in `cwd` with `PORT` set and the canary preloaded; resolves once the port answers HTTP
 * at `path` (default `/enclave`), the route the probes then use.
 */
export async function startNode(args: string[], options: { cwd: string; port: number; env?: Record<string, string>; path?: string }): Promise<Started> {
  const env = { ...process.env, ...options.env, PORT: String(options.port) };
  const child = spawn(process.execPath, ['--import', canaryModule, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  let stderr = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
  });
  const url = `http://127.0.0.1:${options.port}${options.path ?? '/enclave'}`;
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`))));
  exited.catch(() => {});
  // No output line to wait for (the README's servers print nothing): ask until the port answers. The
  // probe's connection is closed after its answer: left in fetch's pool, it would sit idle while a test
  // blocks in spawnSync (curl lines), and once the server had dropped it at its keep-alive timeout (5 s)
  // the test's next POST went out on it and failed with "other side closed" (seen on a loaded machine).
  for (;;) {
    const answered = await Promise.race([
      exited,
      fetch(url, { headers: { connection: 'close' } }).then(
        (res) => res.body?.cancel().then(() => true),
        () => new Promise<false>((r) => setTimeout(() => r(false), 100)),
      ),
    ]);
    if (answered) break;
  }
  return {
    url,
    child,
    canary: () =>
      new Promise<Canary>((resolve, reject) => {
        const onMessage = (message: { canary?: Canary }) => {
          if (!message?.canary) return;
          child.off('message', onMessage);
          resolve(message.canary);
        };
        child.on('message', onMessage);
        child.send('canary?', (error) => error && reject(error));
      }),
    stderr: () => stderr,
    stop: () => void child.kill(),
  };
}

/** The response's JSON body, after checking its status and that it is JSON (never an HTML error page). */
async function jsonOf(res: Response, status: number): Promise<Record<string, any>> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Record<string, any>;
}

/** A refusal in the route's shape: the status and `error.code` (one of `codes`). */
async function expectRefusal(res: Response, status: number, codes: string | readonly string[]): Promise<void> {
  const body = await jsonOf(res, status);
  expect(body.success).toBe(false);
  expect([codes].flat()).toContain(body.error?.code);
}

/** A refusal by the framework's own body parser before the route (Nest): the status, in its own JSON shape. */
async function expectParserRefusal(res: Response, status: number): Promise<void> {
  expect(await jsonOf(res, status)).toMatchObject({ statusCode: status });
}

/** Each tries to reach the host's `Function` and set a host global; the canary tells whether one did. */
const ESCAPES = [
  'this.constructor.constructor("globalThis.pwned = process.pid")(); return 1;',
  '({}).constructor.constructor("globalThis.pwned = process.pid")(); return 1;',
  // Names built at run time get past the static checks and must be stopped while the script runs.
  'const k = "constr" + "uctor"; ({})[k][k]("globalThis.pwned = process.pid")(); return 1;',
  'const k = ["constr", "uctor"].join(""); const [order] = await callTool("orders:list", {}); order[k][k]("globalThis.pwned = process.pid")(); return 1;',
  'const k = "constr" + "uctor"; try { null.x; } catch (e) { e[k][k]("globalThis.pwned = process.pid")(); } return 1;',
];

/**
 * Code mode over MCP at `{url}/mcp`, tried as a new user would with each official client: the three
 * tools, `describe_tools` of `orders:list`, and the README's script run as alice (200) and bob (999).
 */
export function itServesMcp(url: () => string): void {
  it.each(ERAS)('serves code mode over MCP at /enclave/mcp to the official %s client', async (era) => {
    const [alice, bob] = await Promise.all([connectMcp(`${url()}/mcp`, era, { 'x-user': 'alice' }), connectMcp(`${url()}/mcp`, era, { 'x-user': 'bob' })]);
    try {
      expect((await alice.listTools()).map((t) => t.name)).toEqual(['search_tools', 'describe_tools', 'execute']);
      const described = await alice.callTool('describe_tools', { names: ['orders:list'] });
      expect(described.structuredContent.tools.map((t: { name: string }) => t.name)).toEqual(['orders:list']);
      expect(textOf(described)).toContain('declare function callTool(name: "orders:list"');
      const code = 'const paid = await callTool("orders:list", { status: "paid" }); return paid.reduce((s, o) => s + o.total, 0);';
      const [a, b] = await Promise.all([alice.callTool('execute', { code }), bob.callTool('execute', { code })]);
      expect(a.structuredContent).toMatchObject({ success: true, value: 200 });
      expect(b.structuredContent).toMatchObject({ success: true, value: 999 });
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });
}

/**
 * The playground the examples turn on: the page at `{url}/playground` under its policy, and the check
 * route behind its editor, as alice (a mistyped tool gets her closest tool as a suggestion).
 */
export function itServesThePlayground(url: () => string): void {
  it('serves the playground page and the check route behind its editor', async () => {
    const page = await fetch(`${url()}/playground`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await page.text();
    expect(html).toContain('<title>enclave-kit playground</title>');
    // Its script and styles come from below the same route, also through the framework's routing.
    const assets = [...html.matchAll(/(?:src|href)="(playground\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets).toHaveLength(2);
    for (const asset of assets) {
      const res = await fetch(`${url()}/${asset}`);
      expect(res.status, asset).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/(javascript|css); charset=utf-8$/);
      expect((await res.text()).length).toBeGreaterThan(1000);
    }
    const check = await fetch(`${url()}/check`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice' }, body: JSON.stringify({ code: 'return await callTool("orders:lst", {});' }) });
    const report = await jsonOf(check, 200);
    expect(report).toMatchObject({ ok: true, issues: [{ ruleId: 'unknown-tool', severity: 'warning', line: 1 }] });
    // The closest of her tools first; others that are near enough may follow.
    expect(report.issues[0].suggestions[0]).toBe('orders:list');
  });
}

/** Events of an SSE response, parsed as they arrive, until `final` or `stopAfter` of them. */
export async function sseEvents(res: Response, stopAfter = Infinity): Promise<{ id: string; event: string; data: any }[]> {
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { id: string; event: string; data: any }[] = [];
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return events;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const fields = Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]));
        if (fields.data === undefined) continue;
        events.push({ id: fields.id ?? '', event: fields.event ?? '', data: JSON.parse(fields.data) });
        if (fields.event === 'final' || events.length >= stopAfter) return events;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * The README's streaming and session flows against a route serving `orders:list` (and, with `slowTool`,
 * a tool that takes a while): an SSE run, then a session started, cut, resumed and cancelled; with
 * `approvals`, a session that pauses for `orders:refund` and is approved.
 */
export function probeStreaming(url: () => string, options: { slowTool?: string; approvals?: boolean } = {}): void {
  const alice = { 'x-user': 'alice', 'content-type': 'application/json' };
  const code = 'const paid = await callTool("orders:list", { status: "paid" }); console.log("paid orders:", paid.length); return paid.length;';

  it('streams a run as Server-Sent Events: session_init, tool_call, tool_result, log, final', async () => {
    const res = await fetch(url(), { method: 'POST', headers: { ...alice, accept: 'text/event-stream' }, body: JSON.stringify({ code }) });
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events.map((e) => e.event)).toEqual(['session_init', 'tool_call', 'tool_result', 'log', 'final']);
    expect(events.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5']);
    expect(events[3]?.data.payload.message).toBe('paid orders: 2');
    expect(events[4]?.data.payload).toMatchObject({ success: true, value: 2 });
  });

  it('a session can be started, cut, resumed with Last-Event-ID, and read by its owner only', async () => {
    const res = await fetch(`${url()}/sessions`, { method: 'POST', headers: { ...alice, accept: 'text/event-stream' }, body: JSON.stringify({ code }) });
    const sessionId = res.headers.get('x-session-id');
    expect(sessionId).toBeTruthy();
    const head = await sseEvents(res, 2);
    expect(head.map((e) => e.id)).toEqual(['1', '2']);
    const rest = await sseEvents(await fetch(`${url()}/sessions/${sessionId}/events`, { headers: { 'x-user': 'alice', 'last-event-id': '2' } }));
    expect(rest.map((e) => e.id)).toEqual(['3', '4', '5']);
    const state = await fetch(`${url()}/sessions/${sessionId}`, { headers: { 'x-user': 'alice' } });
    expect(await state.json()).toMatchObject({ sessionId, state: 'completed', result: { success: true, value: 2 } });
    const foreign = await fetch(`${url()}/sessions/${sessionId}`, { headers: { 'x-user': 'bob' } });
    expect(foreign.status).toBe(404);
    await foreign.body?.cancel();
  });

  // Only the example apps have orders:refund; the README's quick starts do not.
  if (options.approvals === true) it('a refund waits for approval: approval_required, the session waits, the approval resumes it to final, and only the refund runs then', async () => {
    const refund = 'const paid = await callTool("orders:list", { status: "paid" }); const r = await callTool("orders:refund", { id: paid[0].id }); console.log("refunded", r.refunded); return r;';
    const res = await fetch(`${url()}/sessions`, { method: 'POST', headers: { ...alice, accept: 'text/event-stream' }, body: JSON.stringify({ code: refund }) });
    const sessionId = res.headers.get('x-session-id');
    const head = await sseEvents(res);
    expect(head.map((e) => e.event)).toEqual(['session_init', 'tool_call', 'tool_result', 'tool_call', 'approval_required']);
    const pending = head.at(-1)?.data.payload;
    expect(pending).toMatchObject({ callId: 2, tool: 'orders:refund', args: { id: expect.stringMatching(/^o\d$/) } });
    const state = await fetch(`${url()}/sessions/${sessionId}`, { headers: { 'x-user': 'alice' } });
    expect(await state.json()).toMatchObject({ state: 'waiting_for_approval', pendingApproval: { callId: 2 } });
    const foreign = await fetch(`${url()}/sessions/${sessionId}/approvals/2`, { method: 'POST', headers: { ...alice, 'x-user': 'bob' }, body: '{"approved":true}' });
    expect(foreign.status).toBe(404);
    await foreign.body?.cancel();
    const approved = await fetch(`${url()}/sessions/${sessionId}/approvals/2`, { method: 'POST', headers: { ...alice, accept: 'text/event-stream' }, body: '{"approved":true}' });
    expect(approved.status).toBe(200);
    const rest = await sseEvents(approved);
    expect(rest.map((e) => e.event)).toEqual(['tool_call', 'tool_result', 'log', 'final']);
    expect(rest.map((e) => e.id)).toEqual(['6', '7', '8', '9']);
    expect(rest[0]?.data.payload.tool).toBe('orders:refund');
    expect(rest[3]?.data.payload).toMatchObject({ success: true, value: { id: pending.args.id } });
  });

  const slowTool = options.slowTool;
  if (slowTool === undefined) return;
  it('a running session is cancelled with DELETE and ends as ABORTED', async () => {
    const start = await fetch(`${url()}/sessions`, { method: 'POST', headers: alice, body: JSON.stringify({ code: `return await callTool(${JSON.stringify(slowTool)}, { days: 7 });` }) });
    expect(start.status).toBe(201);
    const { sessionId, cancelUrl, eventsUrl } = (await start.json()) as { sessionId: string; cancelUrl: string; eventsUrl: string };
    const origin = new URL(url()).origin;
    const cancelled = await fetch(`${origin}${cancelUrl}`, { method: 'DELETE', headers: { 'x-user': 'alice' } });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ sessionId, state: 'cancelled', result: { error: { code: 'ABORTED' } } });
    const events = await sseEvents(await fetch(`${origin}${eventsUrl}`, { headers: { 'x-user': 'alice' } }));
    expect(events.at(-1)?.data.payload.error.code).toBe('ABORTED');
  });
}

/**
 * The request of issue 13's report: a clean 422, but each one made V8 print "Exception in
 * PromiseRejectCallback" blocks with the rewritten script to the server's stderr (1,450 lines for six).
 */
export const STACK_OVERFLOW_SCRIPT = 'async function f(n) { return f(n + 1); } return await f(0);';

/**
 * A promise chain that grows until its memory budget ends it: about 2 s of work on an idle machine,
 * against the examples' 10 s deadline, which a loaded one reached first (408, TIMEOUT). Either end is
 * the run's documented one (the deadline or the budget, whichever comes first); what is judged here is
 * that neither writes to the host's stderr.
 */
const RACES_THE_DEADLINE = 'function chain(n) { return Promise.resolve(n).then((v) => chain(v + 1)); } return await chain(0);';

/** More scripts that overflow the stack where promises settle, or return what a host cannot serialize. */
const NOISY_SCRIPTS = [
  'return await Promise.resolve().then(function r() { return r(); });',
  RACES_THE_DEADLINE,
  'const o = { get x() { return this.x; } }; return o.x;',
  'const o = { toJSON() { return JSON.stringify(this); } }; return JSON.stringify(o);',
  'Promise.reject(new Error("left behind")); return 1;',
  'return { big: 2n ** 70n, when: new Date(0), m: new Map([["k", 1]]) };',
  'const a = { name: "a" }; a.self = a; return a;',
  'let a = ["x"]; for (let i = 0; i < 60; i++) a = [a, a]; return a;',
];

/**
 * A quiet host: the report's script sent 20 times (ten at a time), then the others, leave the server's
 * stderr exactly as it was, and every answer is JSON with a documented status. (Each of the report's
 * requests printed its blocks; 100 requests, as here before, cost nine servers about a minute of CPU a CI
 * and showed nothing 20 do not: two rounds keep ten at once, the second on a server that ran the first.)
 */
export function itStaysQuiet(server: () => Started | undefined, run: (code: string) => Promise<Response>): void {
  it('writes nothing to stderr, whatever the scripts do (the report’s script 20 times, and more)', async () => {
    const stderr = server()?.child.stderr;
    if (!stderr) throw new Error('no server');
    let written = '';
    const listen = (d: Buffer) => {
      written += d.toString();
    };
    stderr.on('data', listen);
    try {
      for (let round = 0; round < 2; round++) {
        const answers = await Promise.all(Array.from({ length: 10 }, () => run(STACK_OVERFLOW_SCRIPT)));
        for (const res of answers) expect((await jsonOf(res, 422)).error.code).toBe('RUNTIME_ERROR');
      }
      for (const code of NOISY_SCRIPTS) {
        const res = await run(code);
        expect(code === RACES_THE_DEADLINE ? [422, 408] : [200, 422], code).toContain(res.status);
        await res.json();
      }
      // Late output (a rejection reported after a few turns of the event loop) would land by now.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      stderr.off('data', listen);
    }
    expect(written, 'the server wrote to stderr').toBe('');
  }, 120_000);
}

export interface ProbeOptions {
  /** The framework's body parser reads JSON before the route and answers malformed or big bodies itself (Nest). */
  parserAnswersFirst?: boolean;
  /** The route also serves code mode over MCP at `{path}/mcp`. */
  mcp?: boolean;
  /** The route serves the playground (and the check route). */
  playground?: boolean;
  skip?: boolean;
}

/**
 * Probes a route serving the README's quick-start tools: `orders:list` over alice's orders (paid: 120 + 80)
 * and bob's (paid: 999), the user named by the `x-user` header, default limits.
 */
export function probeQuickStart(name: string, start: () => Promise<Started>, options: ProbeOptions = {}): void {
  describe.skipIf(options.skip === true)(name, () => {
    let server: Started | undefined;
    let url = '';
    beforeAll(async () => {
      server = await start();
      url = server.url;
    });
    afterAll(() => server?.stop());

    const send = (body: string, headers: Record<string, string>) => fetch(url, { method: 'POST', headers, body });
    const json = { 'content-type': 'application/json' };
    const run = (code: string, user = 'alice', extra: Record<string, unknown> = {}) => send(JSON.stringify({ code, ...extra }), { ...json, 'x-user': user });

    it('runs the same script with each user’s own tools and catalog', async () => {
      const code = 'const paid = await callTool("orders:list", { status: "paid" }); return paid.reduce((s, o) => s + o.total, 0);';
      const [alice, bob] = await Promise.all([run(code, 'alice'), run(code, 'bob')]);
      expect(await jsonOf(alice, 200)).toMatchObject({ success: true, value: 200 });
      expect(await jsonOf(bob, 200)).toMatchObject({ success: true, value: 999 });
      const catalog = await jsonOf(await fetch(url, { headers: { 'x-user': 'bob' } }), 200);
      expect(catalog.tools.map((t: { name: string }) => t.name)).toEqual(['orders:list']);
    });

    probeStreaming(() => url);

    it('answers malformed requests with the documented status and code, in JSON', async () => {
      const alice = { ...json, 'x-user': 'alice' };
      const huge = JSON.stringify({ code: 'return 1', input: 'x'.repeat(1024 * 1024) });
      if (options.parserAnswersFirst) {
        await expectParserRefusal(await send('{"code": ', alice), 400);
        await expectParserRefusal(await send(huge, alice), 413);
      } else {
        await expectRefusal(await send('{"code": ', alice), 400, 'BAD_REQUEST');
        await expectRefusal(await send(huge, alice), 413, 'PAYLOAD_TOO_LARGE');
      }
      await expectRefusal(await send('{"input": 1}', alice), 400, 'BAD_REQUEST');
      await expectRefusal(await send('{"code": 42}', alice), 400, 'BAD_REQUEST');
      await expectRefusal(await send('{"code": "return 1", "__proto__": {"polluted": true}}', alice), 400, 'BAD_REQUEST');
      await expectRefusal(await send('return 1', { 'content-type': 'text/plain', 'x-user': 'alice' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
      await expectRefusal(await send('{"code": "return 1"}', json), 401, 'UNAUTHORIZED');
    });

    it('refuses constructor-chain escapes (422) and the host process stays untouched', async () => {
      // Refused before running (VALIDATION_ERROR) or when the name is looked up (RUNTIME_ERROR).
      for (const code of ESCAPES) await expectRefusal(await run(code), 422, ['VALIDATION_ERROR', 'RUNTIME_ERROR']);
      expect(await server?.canary()).toEqual({ pid: server?.child.pid, pwned: null, polluted: null });
    });

    it('stops an unending loop: up front when provable (422), else at the client’s deadline (408)', async () => {
      await expectRefusal(await run('while (true) {}'), 422, 'VALIDATION_ERROR');
      // No iteration budget runs out first: the first turn never ends. Its regular expression, built at run
      // time (a literal like it is refused up front), backtracks exponentially over 33 characters, and its
      // back-reference keeps V8's linear-time engine out: only the deadline stops it. (A search of a million
      // characters a turn did this until searches were charged what they read: then the budget ran out first.)
      const spin = "const re = new RegExp('^(a|a)+' + '\\\\1$'); const s = 'a'.repeat(32) + '!'; let n = 0; while (n >= 0) { n += re.test(s) ? 2 : 1; } return n;";
      await expectRefusal(await run(spin, 'alice', { limits: { timeout: 300 } }), 408, 'TIMEOUT');
      expect(await jsonOf(await run('return 1 + 1'), 200)).toMatchObject({ success: true, value: 2 });
    });

    if (options.mcp) itServesMcp(() => url);
    if (options.playground) itServesThePlayground(() => url);

    itStaysQuiet(() => server, (code) => run(code));

    it('is still up at the end, and answers as before', async () => {
      expect(server?.child.exitCode).toBeNull();
      expect(await server?.canary()).toEqual({ pid: server?.child.pid, pwned: null, polluted: null });
      expect(await jsonOf(await run('return (await callTool("orders:list", {})).length', 'bob'), 200)).toMatchObject({ value: 1 });
    });
  });
}
