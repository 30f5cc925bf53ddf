/**
 * DESIGN.md section 5 as a peer team's black-box suite reads it, run against every adapter over a real
 * socket: the adapter mounted the plain way (no authenticate, `createContext` for the run scope and
 * `statuses` overriding two rows), and the odd but legal requests such a suite sends: every JSON type
 * of `input`, empty and log-only scripts, unicode, limits that are no limits, HEAD where GET answers,
 * Accept lists with weights, a trailing slash, many requests at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolError, defineTool } from '../../src/index.js';
import type { EnclaveRequestContext, ToolContext } from '../../src/index.js';
import type { AdapterHarness, Served } from './contract.js';

const silent = { info() {}, error() {} };

/** One JSON request to the run route (or `path` below the mount point). */
function post(served: Served, body: unknown, headers: Record<string, string> = {}, path = '/enclave'): Promise<Response> {
  return fetch(`${served.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice', ...headers }, body: JSON.stringify(body) });
}

/** Status, content type and parsed JSON body: what each assertion below looks at. */
async function answer(res: Response): Promise<{ status: number; type: string | null; body: any }> {
  return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
}

export function designConformance(name: string, harness: AdapterHarness): void {
  /** One call a minute across every request of this server: the second call of a run is over it. */
  const onceAMinute = defineTool({ name: 'once', rateLimit: { limit: 1, windowMs: 60_000 }, handler: async () => 'ok' });
  describe(`${name}: DESIGN.md section 5, as a peer's suite reads it`, () => {
    let served: Served;
    /** Who each `createContext` call was for, in order, read from the framework's own request. */
    const contexts: (string | undefined)[] = [];

    beforeAll(async () => {
      served = await harness.start({
        logger: silent,
        heartbeatMs: 60_000,
        statuses: { TIMEOUT: 504, TOOL_ERROR: 424 },
        createContext: (_ctx: EnclaveRequestContext, native: unknown) => {
          const user = harness.userOf(native);
          contexts.push(user);
          return {
            tools: {
              whoami: async () => user,
              hang: (_args: unknown, ctx: ToolContext) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)),
              once: onceAMinute,
              busy: async () => {
                throw new ToolError('The upstream is busy.', { code: 'UPSTREAM_BUSY', status: 503, data: { retryAfterMs: 2_500 } });
              },
            },
            globals: { tenant: `${user}-tenant` },
          };
        },
      });
    });
    afterAll(() => served.close());

    it('statuses given to the adapter override their rows only: TIMEOUT 504, TOOL_ERROR 424, the rest as the table says', async () => {
      const timedOut = await answer(await post(served, { code: 'await callTool("hang"); return 1', limits: { timeout: 100 } }));
      expect([timedOut.status, timedOut.body.error.code]).toEqual([504, 'TIMEOUT']);
      const failed = await answer(await post(served, { code: 'return await callTool("nope")' }));
      expect([failed.status, failed.body.error.code]).toEqual([424, 'TOOL_ERROR']);
      const threw = await answer(await post(served, { code: 'throw new Error("x")' }));
      expect([threw.status, threw.body.error.code]).toEqual([422, 'RUNTIME_ERROR']);
    });

    it('TOOL_ERROR that carries retryAfterMs (a tool’s rate limit, a public ToolError) answers with Retry-After in seconds beside its status', async () => {
      const limited = await post(served, { code: 'await callTool("once"); return await callTool("once")' });
      const body = (await limited.json()) as { error: { code: string; data: { toolErrorCode: string; retryAfterMs: number } } };
      expect([limited.status, body.error.code, body.error.data.toolErrorCode]).toEqual([429, 'TOOL_ERROR', 'RATE_LIMITED']);
      expect(limited.headers.get('retry-after')).toBe(String(Math.ceil(body.error.data.retryAfterMs / 1000)));
      const busy = await post(served, { code: 'return await callTool("busy")' });
      expect([busy.status, busy.headers.get('retry-after')]).toEqual([503, '3']);
      // Without it, no Retry-After.
      const unknown = await post(served, { code: 'return await callTool("nope")' });
      expect([unknown.status, unknown.headers.get('retry-after')]).toEqual([424, null]);
    });

    it('createContext(opts, native) is called once per request with the framework’s request: its tools and globals are that user’s', async () => {
      contexts.length = 0;
      const [a, b] = await Promise.all(
        ['ann', 'bob'].map(async (user) => answer(await post(served, { code: 'return [await callTool("whoami"), tenant]' }, { 'x-user': user }))),
      );
      expect([a?.status, a?.body.value, b?.status, b?.body.value]).toEqual([200, ['ann', 'ann-tenant'], 200, ['bob', 'bob-tenant']]);
      expect(contexts.sort()).toEqual(['ann', 'bob']);
    });

    it('every JSON type of input comes back as it went in, with the ExecutionResult as the body', async () => {
      for (const input of [null, 0, -2.5, '', 'text', true, false, [], {}, [1, ['two', { three: 3 }]], { nested: { list: [null] } }]) {
        const res = await answer(await post(served, { code: 'return input', input }));
        expect(res.status).toBe(200);
        expect(res.type).toMatch(/^application\/json/);
        expect(res.body).toMatchObject({ success: true, value: input, stats: { duration: expect.any(Number), toolCallCount: 0, iterationCount: 0 } });
      }
    });

    it('an empty script, and one that only logs, are successes with no value', async () => {
      const empty = await answer(await post(served, { code: '' }));
      expect([empty.status, empty.body.success, 'value' in empty.body]).toEqual([200, true, false]);
      const logs = await answer(await post(served, { code: 'console.log("only", 1)' }));
      expect([logs.status, logs.body.success, logs.body.logs]).toEqual([200, true, [{ level: 'log', message: 'only 1', time: expect.any(Number) }]]);
    });

    it('unicode in the code, the input and the result comes back unchanged', async () => {
      const text = 'grüße, 日本語, 🌍👩‍💻, \u2028 and \u2029';
      const res = await answer(await post(served, { code: 'const café = "☕"; return { café, echo: input }', input: text }));
      expect([res.status, res.body.value]).toEqual([200, { café: '☕', echo: text }]);
    });

    it('client limits that are no positive integer are 400; a huge one is capped by the server’s and runs', async () => {
      for (const limits of [{ timeout: 0 }, { maxToolCalls: -1 }, { maxIterations: 1.5 }, { timeout: '100' }, { timeout: null }, []]) {
        const res = await answer(await post(served, { code: 'return 1', limits }));
        expect([res.status, res.body.error.code]).toEqual([400, 'BAD_REQUEST']);
      }
      const huge = await answer(await post(served, { code: 'return 1', limits: { timeout: 1e15, maxToolCalls: Number.MAX_SAFE_INTEGER, maxIterations: 1e12 } }));
      expect([huge.status, huge.body.value]).toEqual([200, 1]);
      // Integers past what a double counts exactly are integers all the same (JSON's 1e20): capped, not refused.
      const huger = await answer(await post(served, { code: 'return 1', limits: { timeout: 1e20, maxToolCalls: 2 ** 60, maxIterations: 1e300 } }));
      expect([huger.status, huger.body.value]).toEqual([200, 1]);
    });

    it('a result nested deeper than can be copied out is 422 OUTPUT_LIMIT_EXCEEDED', async () => {
      const res = await answer(await post(served, { code: 'let v = 0; for (let i = 0; i < 10000; i++) v = [v]; return v;' }));
      expect([res.status, res.body.error.code]).toEqual([422, 'OUTPUT_LIMIT_EXCEEDED']);
    });

    it('the run path with a trailing slash or a query string runs the same', async () => {
      for (const path of ['/enclave/', '/enclave?trace=1']) {
        const res = await answer(await post(served, { code: 'return 6 * 7' }, {}, path));
        expect([res.status, res.body.value]).toEqual([200, 42]);
      }
    });

    it('Accept lists with weights: JSON unless a stream type is named and rated no lower than JSON', async () => {
      const typeFor = async (accept: string) => {
        const res = await post(served, { code: 'return 1' }, { accept });
        await res.body?.cancel();
        return res.headers.get('content-type')?.split(';')[0];
      };
      expect(await typeFor('application/json')).toBe('application/json');
      expect(await typeFor('*/*')).toBe('application/json');
      expect(await typeFor('text/event-stream;q=0.1, application/json')).toBe('application/json');
      expect(await typeFor('text/event-stream;q=0')).toBe('application/json');
      expect(await typeFor('application/json;q=0.5, application/x-ndjson')).toBe('application/x-ndjson');
      expect(await typeFor('application/json, text/event-stream')).toBe('text/event-stream');
    });

    it('POST {path}/sessions: 201 { sessionId, eventsUrl, cancelUrl } carries X-Session-Id, as the streamed start does', async () => {
      const started = await post(served, { code: 'return 1' }, {}, '/enclave/sessions');
      const body = (await started.json()) as { sessionId: string; eventsUrl: string; cancelUrl: string };
      expect(started.status).toBe(201);
      expect(body).toMatchObject({ sessionId: expect.stringMatching(/^ses_/), eventsUrl: `/enclave/sessions/${body.sessionId}/events`, cancelUrl: `/enclave/sessions/${body.sessionId}` });
      expect(started.headers.get('x-session-id')).toBe(body.sessionId);
      const streamed = await post(served, { code: 'return 1' }, { accept: 'text/event-stream' }, '/enclave/sessions');
      const id = streamed.headers.get('x-session-id');
      expect([streamed.status, id]).toEqual([200, expect.stringMatching(/^ses_/)]);
      expect(await streamed.text()).toContain(`"sessionId":"${id}"`);
    });

    it('HEAD is GET without a body: the catalog, a session’s state and its events answer with GET’s status and type', async () => {
      const started = (await answer(await post(served, { code: 'return 1' }, {}, '/enclave/sessions'))).body as { sessionId: string; statusUrl: string; eventsUrl: string };
      for (const path of ['/enclave', started.statusUrl, started.eventsUrl]) {
        const get = await fetch(`${served.url}${path}`, { headers: { 'x-user': 'alice' } });
        await get.body?.cancel();
        const head = await fetch(`${served.url}${path}`, { method: 'HEAD', headers: { 'x-user': 'alice' } });
        expect([path, head.status, head.headers.get('content-type'), await head.text()]).toEqual([path, get.status, get.headers.get('content-type'), '']);
        expect(head.status).toBe(200);
      }
      const missing = await fetch(`${served.url}/enclave/sessions/ses_none`, { method: 'HEAD' });
      expect([missing.status, await missing.text()]).toEqual([404, '']);
    });

    it('an auth hook that refuses in its framework’s own way (a thrown status 401 or 403) gets that status; any other throw is a bare 500', async () => {
      const errors: unknown[] = [];
      const guarded = await harness.start({
        logger: silent,
        onError: ({ error }: { error: unknown }) => errors.push(error),
        authenticate: ({ native }: EnclaveRequestContext) => {
          const user = harness.userOf(native);
          // As http-errors, Nest's HttpException and Hono's HTTPException carry them.
          if (user === undefined) throw Object.assign(new Error('no session cookie'), { status: 401 });
          if (user === 'mallory') throw Object.assign(new Error('mallory is banned: ticket 4711'), { statusCode: 403 });
          if (user === 'broken') throw Object.assign(new Error('auth db at 10.0.0.7 is down'), { status: 500 });
          return user;
        },
      });
      try {
        const as = async (user?: string) => answer(await fetch(`${guarded.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', ...(user && { 'x-user': user }) }, body: JSON.stringify({ code: 'return 1' }) }));
        const [anonymous, banned, broken, alice] = [await as(), await as('mallory'), await as('broken'), await as('alice')];
        expect([anonymous.status, anonymous.body.error.code, banned.status, banned.body.error.code, broken.status, broken.body.error.code, alice.status]).toEqual([401, 'UNAUTHORIZED', 403, 'FORBIDDEN', 500, 'INTERNAL_ERROR', 200]);
        expect(JSON.stringify([anonymous.body, banned.body, broken.body])).not.toMatch(/cookie|4711|10\.0\.0\.7/);
        expect(errors).toHaveLength(1);
      } finally {
        await guarded.close();
      }
    });

    it('many requests at once: each gets the result of its own input', async () => {
      const results = await Promise.all(Array.from({ length: 40 }, async (_, i) => answer(await post(served, { code: 'return input * 2', input: i }, { 'x-user': `u${i % 4}` }))));
      expect(results.map((r) => [r.status, r.body.value])).toEqual(Array.from({ length: 40 }, (_, i) => [200, i * 2]));
    });
  });

  it(`${name}: null options are no options, as in run(code, null): the route at /enclave with every default`, async () => {
    const served = await harness.start(null as never);
    try {
      const ran = await answer(await post(served, { code: 'return input + 1', input: 41 }));
      expect([ran.status, ran.body.success, ran.body.value]).toEqual([200, true, 42]);
    } finally {
      await served.close();
    }
  });
}
