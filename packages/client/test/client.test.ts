import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnclaveClientError, createEnclaveClient } from '../src/index.js';
import type { EnclaveClient, EnclaveEvent, EnclaveEventStream } from '../src/index.js';
import type { Cut, TestServer } from './server.js';
import { rejection, startCuttingProxy, startServer } from './server.js';

/** A script whose events arrive over a while: a log and a tool call (with a wait) per step. */
const STEPS = `let sum = 0; for (let i = 1; i <= 4; i++) { console.log('step', i); sum += await callTool('tick', { i, ms: 5 }); } return sum;`;
const STEP_TYPES = ['session_init', ...Array.from({ length: 4 }, () => ['log', 'tool_call', 'tool_result']).flat(), 'final'];

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const clientFor = (user: string | undefined, extra: Partial<Parameters<typeof createEnclaveClient>[0]> = {}) =>
  createEnclaveClient({ url: server.url, ...(user !== undefined && { headers: { 'x-user': user } }), retry: { initialDelayMs: 5 }, ...extra });


async function collect(stream: EnclaveEventStream): Promise<EnclaveEvent[]> {
  const events: EnclaveEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

const seqs = (events: EnclaveEvent[]) => events.map((e) => e.seq);
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('run(): the JSON route', () => {
  it('returns the result of a run, with input and lowered limits', async () => {
    const client = clientFor('alice');
    expect(await client.run('return await callTool("whoami")')).toMatchObject({ success: true, value: 'alice' });
    const result = await client.run<number>('return input.a + input.b', { input: { a: 2, b: 3 }, limits: { timeout: 2000 } });
    expect(result.success && result.value).toBe(5);
  });

  it('returns a failed run as a result, whatever its status: it is not an exception', async () => {
    const client = clientFor('alice');
    const tool = await client.run('return await callTool("fail")'); // 409, the ToolError's status
    expect(tool).toMatchObject({ success: false, error: { code: 'TOOL_ERROR' } });
    expect(await client.run('return eval("1")')).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } }); // 422
    expect(await client.run('return await callTool("block")', { limits: { timeout: 100 } })).toMatchObject({ success: false, error: { code: 'TIMEOUT' } }); // 408
  });

  it('throws EnclaveClientError with status and code for a refused request', async () => {
    expect(await rejection(clientFor(undefined).run('return 1'))).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    expect(await rejection(clientFor('mallory').run('return 1'))).toMatchObject({ code: 'FORBIDDEN', status: 403, message: 'mallory may not run scripts' });
    expect(await rejection(clientFor('alice').run(`return "${'x'.repeat(20_000)}"`))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413 });
    expect(await rejection(clientFor('alice').run('return 1', { limits: { timeout: 'soon' as unknown as number } }))).toMatchObject({ code: 'BAD_REQUEST', status: 400 });
    const limited = clientFor('limited');
    await limited.run('return 1');
    const tooMany = await rejection(limited.run('return 1'));
    expect(tooMany).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(tooMany.retryAfter).toBeGreaterThan(0);
  });

  it('throws QUEUE_FULL with Retry-After when the route’s concurrency cap is full', async () => {
    const busy = await startServer({ handler: { maxConcurrentRuns: 1, retryAfter: 3 } });
    try {
      const client = createEnclaveClient({ url: busy.url, headers: { 'x-user': 'alice' } });
      // The first run holds the only slot until the test ends it: a deadline of its own would have to
      // outlast its start and the refused request, which a loaded machine need not do in time.
      const ac = new AbortController();
      const first = client.run('return await callTool("block")', { signal: ac.signal });
      await expect.poll(() => busy.blocked.pending).toBe(1);
      expect(await rejection(client.run('return 1'))).toMatchObject({ code: 'QUEUE_FULL', status: 503, retryAfter: 3 });
      ac.abort();
      expect(await rejection(first)).toMatchObject({ code: 'ABORTED' });
    } finally {
      await busy.close();
    }
  });

  it('aborting the signal rejects with ABORTED and aborts the run on the server', async () => {
    const client = clientFor('alice');
    const ac = new AbortController();
    const before = server.blocked.aborted;
    const run = client.run('return await callTool("block")', { signal: ac.signal });
    await expect.poll(() => server.blocked.pending).toBeGreaterThan(0);
    ac.abort();
    expect(await rejection(run)).toMatchObject({ code: 'ABORTED' });
    await expect.poll(() => server.blocked.aborted).toBe(before + 1);
    expect(await rejection(client.run('return 1', { signal: AbortSignal.abort() }))).toMatchObject({ code: 'ABORTED' });
  });

  it('NETWORK_ERROR when nothing answers, BAD_RESPONSE when something else does', async () => {
    const other = createServer((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const port = (other.address() as AddressInfo).port;
    try {
      expect(await rejection(createEnclaveClient({ url: `http://127.0.0.1:${port}/enclave` }).run('return 1'))).toMatchObject({ code: 'BAD_RESPONSE', status: 502 });
    } finally {
      await new Promise((r) => other.close(r));
    }
    expect(await rejection(createEnclaveClient({ url: `http://127.0.0.1:${port}/enclave` }).run('return 1'))).toMatchObject({ code: 'NETWORK_ERROR', status: undefined });
  });

  it('a wrong option of a call is CONFIG_ERROR naming it, as the client’s own are, and nothing is sent', async () => {
    let sent = 0;
    const client = clientFor('alice', { fetch: (...args: Parameters<typeof fetch>) => (sent++, fetch(...args)) });
    const calls: [() => unknown, string][] = [
      [() => client.run('return 1', { bogus: 1 } as never), 'client.run(code, options): unknown option "bogus"; expected signal, headers, input, limits.'],
      [() => client.run('return 1', { signal: 5 } as never), 'client.run(code, options): signal must be an AbortSignal.'],
      [() => client.start('return 1', { headers: 'x-user: bob' } as never), 'client.start(code, options): headers must be an object of header names and values.'],
      [() => client.stream('return 1', { format: 'xml' } as never).result, 'client.stream(code, options): format must be "sse" or "ndjson".'],
      [() => client.stream('return 1', { idleTimeoutMs: -1 }).result, 'client.stream(code, options): idleTimeoutMs must be a non-negative number of ms (0: off).'],
      [() => client.stream('return 1', { onEvent: 'log' } as never).result, 'client.stream(code, options): onEvent must be a function.'],
      [() => client.stream('return 1', { fromSeq: 3 } as never).result, 'client.stream(code, options): unknown option "fromSeq"'],
      [() => client.session('ses_abc', { cancelOnAbort: 'yes' } as never).result, 'client.session(sessionId, options): cancelOnAbort must be a boolean.'],
      [() => client.getSession('ses_abc', { timeout: 5 } as never), 'client.getSession(sessionId, options): unknown option "timeout"; expected signal, headers.'],
      [() => client.cancel('ses_abc', 5 as never), 'client.cancel(sessionId, options): options must be an object.'],
      [() => client.approve('ses_abc', 1, { reason: 'ok' } as never), 'client.approve(sessionId, call, options): unknown option "reason"'],
      [() => client.catalog({ signal: {} } as never), 'client.catalog(options): signal must be an AbortSignal.'],
    ];
    for (const [call, message] of calls) {
      const error = await Promise.resolve().then(call).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(EnclaveClientError);
      expect(error).toMatchObject({ code: 'CONFIG_ERROR' });
      expect((error as Error).message.startsWith(message)).toBe(true);
    }
    expect(sent).toBe(0);
    expect(await client.run('return 1', null)).toMatchObject({ success: true, value: 1 });
  });

  it('an input JSON cannot carry (a BigInt, a cycle) is an EnclaveClientError BAD_REQUEST, and nothing is sent', async () => {
    let sent = 0;
    const client = clientFor('alice', { fetch: (...args: Parameters<typeof fetch>) => (sent++, fetch(...args)) });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const input of [{ big: 2n ** 64n }, cycle]) {
      for (const call of [() => client.run('return input', { input }), () => client.start('return input', { input }), () => client.stream('return input', { input }).result]) {
        const error = await rejection(call());
        expect(error).toBeInstanceOf(EnclaveClientError);
        expect(error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^The request cannot be sent as JSON: /) });
      }
    }
    expect(sent).toBe(0);
    expect(await client.run('return input.n', { input: { n: 2 } })).toMatchObject({ success: true, value: 2 });
  });

  it('a reconnection answered with any 5xx (a CDN’s 520-524 too), 408, 425 or 429 is retried; 400, 401, 403, 404 are not', async () => {
    let status = 500;
    let requests = 0;
    const gateway = createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(status, { 'content-type': 'text/html' }).end('<h1>Gateway</h1>');
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    try {
      const client = createEnclaveClient({ url: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/enclave`, retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 2 } });
      for (const [code, retried] of [[500, true], [501, true], [507, true], [522, true], [524, true], [408, true], [425, true], [429, true], [400, false], [401, false], [403, false], [404, false]] as const) {
        status = code;
        requests = 0;
        const error = await rejection(client.session('ses_behind_a_gateway').result);
        expect([code, error.code, error.status, requests]).toEqual(retried ? [code, 'RETRIES_EXHAUSTED', code, 3] : [code, 'BAD_RESPONSE', code, 1]);
      }
    } finally {
      gateway.closeAllConnections();
      await new Promise((r) => gateway.close(r));
    }
  });

  it('BAD_RESPONSE, not retried, when a stream or a session is answered 200 with a page instead of events', async () => {
    let requests = 0;
    const page = createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-session-id': 'ses_page' }).end('<html><body>Sign in</body></html>');
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(page.address() as AddressInfo).port}/enclave`;
      for (const format of ['sse', 'ndjson'] as const) {
        const client = createEnclaveClient({ url, format, retry: { initialDelayMs: 1, maxRetries: 3 } });
        for (const open of [() => client.stream('return 1'), () => client.session('ses_page')]) {
          const before = requests;
          expect(await rejection(open().result)).toMatchObject({ code: 'BAD_RESPONSE', status: 200 });
          expect(requests - before).toBe(1);
        }
      }
    } finally {
      page.closeAllConnections();
      await new Promise((r) => page.close(r));
    }
  });

  it('asks a headers function before every request, and serves the catalog', async () => {
    let calls = 0;
    const client = createEnclaveClient({ url: server.url, headers: async () => ({ 'x-user': `user-${++calls}` }) });
    expect(await client.run('return await callTool("whoami")')).toMatchObject({ value: 'user-1' });
    expect(await client.run('return await callTool("whoami")')).toMatchObject({ value: 'user-2' });
    const catalog = await clientFor('alice').catalog();
    expect(catalog.tools.map((t) => t.name).sort()).toEqual(['block', 'fail', 'refund', 'tick', 'whoami']);
    expect(catalog.prompt).toContain('callTool');
  });
});

describe('stream(): a session, followed', () => {
  it('delivers the run’s events in order, the result, and the session id (SSE and NDJSON alike)', async () => {
    for (const format of ['sse', 'ndjson'] as const) {
      const seen: EnclaveEvent[] = [];
      const stream = clientFor('alice', { format }).stream<number>(STEPS, { onEvent: (e) => seen.push(e) });
      const events = await collect(stream);
      expect(events.map((e) => e.type), format).toEqual(STEP_TYPES);
      expect(seqs(events)).toEqual(oneToN(events.length));
      expect(seen).toEqual(events);
      const result = await stream.result;
      expect(result).toMatchObject({ success: true, value: 10 });
      expect(events.at(-1)?.payload).toEqual(result);
      const id = await stream.sessionId;
      expect(events.every((e) => e.sessionId === id)).toBe(true);
      expect(stream.lastSeq).toBe(events.length);
      // The server kept the session: same events, completed.
      expect(await clientFor('alice').getSession(id)).toMatchObject({ sessionId: id, state: 'completed', result: { value: 10 } });
    }
  });

  it('a run that fails is a result: iteration ends normally with final', async () => {
    const stream = clientFor('alice').stream('console.warn("about to fail"); return await callTool("fail")');
    const events = await collect(stream);
    expect(events.map((e) => e.type)).toEqual(['session_init', 'log', 'tool_call', 'tool_result', 'final']);
    expect(events[3]?.payload).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(await stream.result).toMatchObject({ success: false, error: { code: 'TOOL_ERROR' } });
  });

  it('a refused start throws from the iterator and rejects result and sessionId, without retrying', async () => {
    for (const [user, code, status] of [[undefined, 'UNAUTHORIZED', 401], ['mallory', 'FORBIDDEN', 403]] as const) {
      const stream = clientFor(user).stream('return 1');
      expect(await rejection(collect(stream))).toMatchObject({ code, status });
      expect(await rejection(stream.result)).toMatchObject({ code });
      expect(await rejection(stream.sessionId)).toMatchObject({ code });
    }
    const invalid = clientFor('alice').stream('return 1', { limits: { timeout: -1 } });
    expect(await rejection(invalid.result)).toMatchObject({ code: 'BAD_REQUEST', status: 400 });
  });

  it('can be iterated once; a second iterator is a TypeError', async () => {
    const stream = clientFor('alice').stream('return 1');
    await collect(stream);
    expect(() => stream[Symbol.asyncIterator]()).toThrow(TypeError);
  });

  it('aborting the signal stops reading and leaves the session running; iteration throws ABORTED', async () => {
    const ac = new AbortController();
    const stream = clientFor('alice').stream('console.log("a"); await callTool("tick", { i: 1, ms: 300 }); return "done"', { signal: ac.signal });
    const events: EnclaveEvent[] = [];
    const error = rejection(
      (async () => {
        for await (const event of stream) {
          events.push(event);
          if (event.type === 'tool_call') ac.abort();
        }
      })(),
    );
    expect(await error).toMatchObject({ code: 'ABORTED' });
    expect(events.at(-1)?.type).toBe('tool_call');
    expect(await rejection(stream.result)).toMatchObject({ code: 'ABORTED' });
    const id = await stream.sessionId;
    // Still running there; attach again and read the rest.
    const rest = await collect(clientFor('alice').session(id, { fromSeq: stream.lastSeq }));
    expect(rest.map((e) => e.type)).toEqual(['tool_result', 'final']);
    expect(rest.at(-1)?.payload).toMatchObject({ success: true, value: 'done' });
  });

  it('a signal aborted before the start sends nothing', async () => {
    const proxy = await startCuttingProxy(server.url, () => undefined);
    try {
      const client = createEnclaveClient({ url: proxy.url, headers: { 'x-user': 'alice' } });
      const stream = client.stream('return 1', { signal: AbortSignal.abort() });
      expect(await rejection(collect(stream))).toMatchObject({ code: 'ABORTED' });
      expect(await rejection(stream.result)).toMatchObject({ code: 'ABORTED' });
      expect(await rejection(client.session('ses_x', { signal: AbortSignal.abort() }).result)).toMatchObject({ code: 'ABORTED' });
      expect(proxy.stats.requests).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('break ends iteration quietly; with cancelOnAbort the session is cancelled too', async () => {
    for (const cancelOnAbort of [false, true]) {
      const stream = clientFor('alice').stream('await callTool("tick", { i: 1, ms: 400 }); return "done"', { cancelOnAbort });
      for await (const event of stream) if (event.type === 'tool_call') break;
      expect(await rejection(stream.result)).toMatchObject({ code: 'ABORTED' });
      const id = await stream.sessionId;
      const final = (await collect(clientFor('alice').session(id))).at(-1);
      expect(final?.payload, `cancelOnAbort: ${cancelOnAbort}`).toMatchObject(cancelOnAbort ? { success: false, error: { code: 'ABORTED' } } : { success: true, value: 'done' });
    }
  });

  it('cancel() ends the run as ABORTED; the stream reads on to that final event', async () => {
    const before = server.blocked.aborted;
    const stream = clientFor('alice').stream('return await callTool("block")');
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'tool_call') expect(await stream.cancel()).toMatchObject({ state: 'cancelled', result: { error: { code: 'ABORTED' } } });
    }
    // The call the cancel cut short reports no tool_result: the run ended while it was pending.
    expect(types).toEqual(['session_init', 'tool_call', 'final']);
    expect(await stream.result).toMatchObject({ success: false, error: { code: 'ABORTED' } });
    expect(server.blocked.aborted).toBe(before + 1);
  });
});

describe('sessions: start, attach, state, cancel', () => {
  it('start() answers the session and its routes; session() follows it from any seq', async () => {
    const client = clientFor('alice');
    const started = await client.start(STEPS);
    expect(started.eventsUrl).toBe(`/enclave/sessions/${started.sessionId}/events`);
    const all = await collect(client.session(started.sessionId));
    expect(all.map((e) => e.type)).toEqual(STEP_TYPES);
    const tail = await collect(client.session(started.sessionId, { fromSeq: 5, format: 'ndjson' }));
    expect(tail).toEqual(all.slice(5));
    expect(await client.session(started.sessionId).result).toMatchObject({ value: 10 });
  });

  it('another user’s or an unknown session is NOT_FOUND everywhere, never retried', async () => {
    const started = await clientFor('alice').start('return await callTool("block")');
    const retries: unknown[] = [];
    const bob = clientFor('bob');
    for (const id of [started.sessionId, 'ses_nope']) {
      expect(await rejection(bob.session(id, { onRetry: (i) => retries.push(i) }).result)).toMatchObject({ code: 'NOT_FOUND', status: 404 });
      expect(await rejection(bob.getSession(id))).toMatchObject({ code: 'NOT_FOUND', status: 404 });
      expect(await rejection(bob.cancel(id))).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    }
    expect(retries).toEqual([]);
    expect(await clientFor('alice').cancel(started.sessionId)).toMatchObject({ state: 'cancelled' });
  });

  it('getSession() and cancel() report state; cancelling a finished session changes nothing', async () => {
    const client = clientFor('alice');
    const { sessionId } = await client.start('return await callTool("block")');
    await expect.poll(() => server.blocked.pending).toBeGreaterThan(0);
    expect(await client.getSession(sessionId)).toEqual({ sessionId, state: 'running' });
    expect(await client.cancel(sessionId)).toMatchObject({ sessionId, state: 'cancelled', result: { success: false, error: { code: 'ABORTED' } } });
    expect(await client.cancel(sessionId)).toMatchObject({ state: 'cancelled' });
    const done = await client.start('return 7');
    await client.session(done.sessionId).result;
    expect(await client.cancel(done.sessionId)).toMatchObject({ state: 'completed', result: { value: 7 } });
  });

  it('session() refuses a fromSeq that is not a non-negative integer', () => {
    expect(() => clientFor('alice').session('ses_x', { fromSeq: -1 })).toThrow(EnclaveClientError);
  });
});

describe('resuming after a cut connection', () => {
  /** A proxy that cuts the responses whose request matches, at the positions given in order. */
  async function proxyCutting(cuts: Cut[]) {
    const plan = [...cuts];
    return startCuttingProxy(server.url, () => plan.shift());
  }

  it('reconnects with Last-Event-ID after a cut mid-event and delivers every event once', async () => {
    const proxy = await proxyCutting([{ afterBytes: 700 }, { afterBytes: 300 }, { beforeHead: true }]);
    try {
      const retries: { attempt: number; lastSeq: number }[] = [];
      const client = createEnclaveClient({ url: proxy.url, headers: { 'x-user': 'alice' }, retry: { initialDelayMs: 5 } });
      const stream = client.stream<number>(STEPS, { onRetry: ({ attempt, lastSeq }) => retries.push({ attempt, lastSeq }) });
      const events = await collect(stream);
      expect(events.map((e) => e.type)).toEqual(STEP_TYPES);
      expect(seqs(events)).toEqual(oneToN(events.length));
      expect(await stream.result).toMatchObject({ value: 10 });
      expect(proxy.stats.cuts).toBe(3);
      // Each attempt after a cut asked for the events after the last one delivered.
      expect(retries.length).toBe(3);
      expect(retries[0]?.lastSeq).toBeGreaterThan(0);
      expect(retries.map((r) => r.lastSeq)).toEqual(retries.map((r) => r.lastSeq).sort((a, b) => a - b));
    } finally {
      await proxy.close();
    }
  });

  it('fails with RETRIES_EXHAUSTED after maxRetries attempts in a row that bring nothing', async () => {
    const proxy = await startCuttingProxy(server.url, (req) => (req.method === 'GET' ? { beforeHead: true } : { afterBytes: 40 }));
    try {
      const client = createEnclaveClient({ url: proxy.url, headers: { 'x-user': 'alice' }, retry: { maxRetries: 3, initialDelayMs: 1 } });
      const error = await rejection(client.stream(STEPS).result);
      expect(error.code).toBe('RETRIES_EXHAUSTED');
      expect((error.cause as EnclaveClientError).code).toBe('NETWORK_ERROR');
      // The POST, then 3 attempts.
      expect(proxy.stats.requests).toBe(4);
    } finally {
      await proxy.close();
    }
  });

  it('retry: false never resumes', async () => {
    const proxy = await proxyCutting([{ afterBytes: 400 }]);
    try {
      const client = createEnclaveClient({ url: proxy.url, headers: { 'x-user': 'alice' }, retry: false });
      expect(await rejection(client.stream(STEPS).result)).toMatchObject({ code: 'RETRIES_EXHAUSTED' });
      expect(proxy.stats.requests).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('a stream silent for idleTimeoutMs counts as dropped and is resumed', async () => {
    // A session that is quiet (no heartbeat on this server) until the client has counted the silence as
    // a drop: the tool answers at the first retry, so the silence needs no length of its own. The idle
    // time is armed before the starting POST's answer, which a loaded machine took over 150 ms to send.
    const client = clientFor('alice', { idleTimeoutMs: 1000 });
    const retries: string[] = [];
    const stream = client.stream('await callTool("block"); return 1', {
      onRetry: (i) => {
        retries.push(i.error.message);
        server.blocked.release();
      },
    });
    const events = await collect(stream);
    expect(events.map((e) => e.type)).toEqual(['session_init', 'tool_call', 'tool_result', 'final']);
    expect(retries.length).toBeGreaterThan(0);
    expect(retries[0]).toMatch(/No data for 1000 ms/);
  });

  it('stays on a cut POST’s session: the id comes from X-Session-Id, the events after the cut from /events', async () => {
    // Cut right after the head: no event arrived, but the header did.
    const proxy = await proxyCutting([{ afterBytes: 0 }]);
    try {
      const client = createEnclaveClient({ url: proxy.url, headers: { 'x-user': 'alice' }, retry: { initialDelayMs: 5 } });
      const stream = client.stream<number>(STEPS);
      expect(seqs(await collect(stream))).toEqual(oneToN(STEP_TYPES.length));
      expect(proxy.stats.requests).toBe(2);
    } finally {
      await proxy.close();
    }
  });
});

describe('events the server dropped', () => {
  it('passes the server’s events_dropped marker on, and fills a gap with a marker of its own', async () => {
    // A tiny event budget: older logs give way to one marker as the run goes on.
    const small = await startServer({ store: { maxEventBytes: 2_000 } });
    try {
      const client: EnclaveClient = createEnclaveClient({ url: small.url, headers: { 'x-user': 'alice' } });
      const { sessionId } = await client.start('for (let i = 0; i < 60; i++) console.log("line", i); await callTool("tick", { i: 1 }); return 1');
      await client.session(sessionId).result;
      const events = await collect(client.session(sessionId));
      const marker = events.find((e) => e.type === 'events_dropped');
      expect(marker).toMatchObject({ seq: 2, payload: { fromSeq: 2 } });
      // Every seq is delivered or covered by the marker, once, in order.
      const covered = events.flatMap((e) => (e.type === 'events_dropped' ? oneToN(e.payload.toSeq).slice(e.seq - 1) : [e.seq]));
      expect(covered).toEqual(oneToN(events.at(-1)?.seq ?? 0));
      // Resuming inside the dropped range: the server's marker is behind the resume point, so the client reports the gap itself.
      const toSeq = marker?.type === 'events_dropped' ? marker.payload.toSeq : 0;
      const tail = await collect(client.session(sessionId, { fromSeq: 10 }));
      expect(tail[0]).toMatchObject({ type: 'events_dropped', seq: 11, payload: { fromSeq: 11, toSeq, count: toSeq - 10 } });
      expect(tail.slice(1)).toEqual(events.filter((e) => e.seq > toSeq));
    } finally {
      await small.close();
    }
  });
});

describe('createEnclaveClient options', () => {
  it('throws CONFIG_ERROR naming the option', () => {
    const bad: [unknown, RegExp][] = [
      [{}, /url is required/],
      [{ url: 'not a url' }, /not an absolute URL/],
      [{ url: server.url, retries: 3 }, /unknown option "retries"/],
      [{ url: server.url, retry: { maxRetries: -1 } }, /retry.maxRetries must be a non-negative integer/],
      [{ url: server.url, retry: { tries: 1 } }, /retry.tries is not an option/],
      [{ url: server.url, headers: 'x' }, /headers must be an object/],
      [{ url: server.url, format: 'xml' }, /format must be "sse" or "ndjson"/],
      [{ url: server.url, idleTimeoutMs: -5 }, /idleTimeoutMs/],
    ];
    for (const [options, message] of bad) {
      let error: unknown;
      try {
        createEnclaveClient(options as Parameters<typeof createEnclaveClient>[0]);
      } catch (err) {
        error = err;
      }
      expect(error, message.source).toBeInstanceOf(EnclaveClientError);
      expect((error as EnclaveClientError).code).toBe('CONFIG_ERROR');
      expect((error as Error).message).toMatch(message);
    }
  });

  it('a path outside a browser page: the client is made (a server render sends nothing), each request fails with CONFIG_ERROR', async () => {
    const client = createEnclaveClient({ url: '/api/enclave' });
    const refused = { name: 'EnclaveClientError', code: 'CONFIG_ERROR', message: expect.stringMatching(/"\/api\/enclave" is a path, and there is no browser page/) };
    await expect(client.run('return 1')).rejects.toMatchObject(refused);
    await expect(client.catalog()).rejects.toMatchObject(refused);
    await expect(client.getSession('s1')).rejects.toMatchObject(refused);
    await expect(client.stream('return 1').result).rejects.toMatchObject(refused);
    // Not a path: refused at once, as before.
    expect(() => createEnclaveClient({ url: '//host/enclave' })).toThrow(/not an absolute URL/);
  });

  it('keeps the base URL’s query and trailing slash out of the way', async () => {
    const client = createEnclaveClient({ url: `${server.url}/?tenant=a`, headers: { 'x-user': 'alice' } });
    const started = await client.start('return 1');
    expect(await client.session(started.sessionId).result).toMatchObject({ value: 1 });
  });
});

describe('options are optional: null is no options, as undefined is (as for the engine’s run, stream and check)', () => {
  it('run, start, stream, session, getSession, catalog and cancel take null', async () => {
    const client = clientFor('alice');
    expect(await client.run('return 1', null)).toMatchObject({ success: true, value: 1 });
    expect((await collect(client.stream('return 2', null))).at(-1)).toMatchObject({ type: 'final', payload: { value: 2 } });
    const { sessionId } = await client.start('return 3', null);
    expect((await collect(client.session(sessionId, null))).at(-1)).toMatchObject({ type: 'final', payload: { value: 3 } });
    expect(await client.getSession(sessionId, null)).toMatchObject({ sessionId, state: 'completed' });
    expect(await client.cancel(sessionId, null)).toMatchObject({ sessionId, state: 'completed' });
    expect((await client.catalog(null)).tools.length).toBeGreaterThan(0);
  });
});
