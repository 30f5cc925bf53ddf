import type { Server, ServerResponse } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { adapterContract, adapterTracingContract, listen } from '../../engine/test/http/contract.js';
import type { AdapterHarness } from '../../engine/test/http/contract.js';
import { adapterParity } from '../../engine/test/http/parity.js';
import { designConformance } from '../../engine/test/http/design-conformance.js';
import { streamingConformance } from '../../engine/test/http/streaming-conformance.js';
import { clientConformance } from '../../client/test/conformance.js';
import { readEvents, recordFlushes } from '../../engine/test/http/event-stream.js';
import type { HonoEnclaveOptions } from '../src/index.js';
import { enclave } from '../src/index.js';

type Env = { Variables: { user: string | undefined } };

const serve = (honoApp: Hono<Env>, dispose: () => void) => listen(createAdaptorServer({ fetch: honoApp.fetch }) as Server, dispose);

/** An app whose auth middleware sets `c.set('user', ...)` from `x-user`, before the enclave middleware. */
function app(mount: (app: Hono<Env>) => void, readsBody = false) {
  const a = new Hono<Env>();
  a.use(async (c, next) => {
    c.set('user', c.req.header('x-user'));
    // Like a logging or signature middleware that reads the body first.
    if (readsBody && c.req.header('content-type')?.startsWith('application/json')) await c.req.text();
    await next();
  });
  mount(a);
  a.get('/other', (c) => c.text('other'));
  return a;
}

const userOf = (native: unknown) => (native as Context<Env>).get('user');

const plain: AdapterHarness = {
  userOf,
  async start(options) {
    const mw = enclave(options as HonoEnclaveOptions);
    return serve(app((a) => a.use(mw)), () => mw.handler.dispose());
  },
};

adapterContract('hono', plain);
adapterParity('hono', plain);
designConformance('hono', plain);
streamingConformance('hono', plain);
clientConformance('hono', plain);

describe('hono mounting', () => {
  it('works under app.route(prefix, sub) and after a middleware that read the body, routes below the path too', async () => {
    const mw = enclave({
      path: '/run',
      tools: ({ native }) => ({ who: () => native.get('user') }),
      routes: { '/echo': { serve: async ({ rest, ctx }) => Response.json({ rest, user: ctx.native.get('user') }) } },
    });
    const served = await serve(
      app((a) => {
        const sub = new Hono<Env>();
        sub.use(mw);
        a.route('/api', sub);
      }, true),
      () => mw.handler.dispose(),
    );
    const res = await fetch(`${served.url}/api/run`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'zoe' }, body: JSON.stringify({ code: 'return await callTool("who")' }) });
    expect(await res.json()).toMatchObject({ success: true, value: 'zoe' });
    const echo = await fetch(`${served.url}/api/run/echo/x`, { headers: { 'x-user': 'zoe' } });
    expect(await echo.json()).toEqual({ rest: '/x', user: 'zoe' });
    expect((await fetch(`${served.url}/api/run/echoes`)).status).toBe(404);
    await served.close();
  });
});

describe('hono createContext', () => {
  it('headers earlier middleware set with c.header() go out with the answers, as on the other adapters, except those that frame another body', async () => {
    const mw = enclave({ logger: { info() {}, error() {} } });
    const a = new Hono();
    a.use(async (c, next) => {
      c.header('X-Request-Id', 'r1');
      c.header('Content-Encoding', 'gzip');
      c.header('Content-Length', '1');
      await next();
    });
    a.use(mw);
    const served = await listen(createAdaptorServer({ fetch: a.fetch }) as Server, () => mw.handler.dispose());
    const post = (path: string, accept: string) => fetch(`${served.url}/enclave${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ code: 'console.log("hi"); return 42' }) });
    const json = await post('', 'application/json');
    expect([json.headers.get('x-request-id'), json.headers.get('content-encoding'), await json.json()]).toEqual(['r1', null, expect.objectContaining({ success: true, value: 42 })]);
    const streamed = await post('', 'text/event-stream');
    expect([streamed.headers.get('x-request-id'), streamed.headers.get('content-type')]).toEqual(['r1', 'text/event-stream; charset=utf-8']);
    expect(await streamed.text()).toMatch(/event: final\ndata: .*"value":42/);
    const started = await post('/sessions', 'application/json');
    expect([started.status, started.headers.get('x-request-id'), started.headers.get('location')]).toEqual([201, 'r1', expect.stringMatching(/^\/enclave\/sessions\/ses_/)]);
    await started.body?.cancel();
    await served.close();
  });

  it('createContext(opts, native) gets Hono’s own Context, once per request, and scopes the run: tools, globals, context', async () => {
    const seen: string[] = [];
    const mw = enclave({
      createContext: (opts, native) => {
        seen.push(`${native.req.method} ${native.req.path} ${opts.native === native}`);
        return { tools: { tenant: (_args, ctx) => (ctx.context as { tenant: string }).tenant }, globals: { greeting: 'hi' }, context: { tenant: native.get('user') } };
      },
    });
    const served = await serve(app((a) => a.use(mw)), () => mw.handler.dispose());
    const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'acme' }, body: JSON.stringify({ code: 'return greeting + " " + (await callTool("tenant"))' }) });
    expect(await res.json()).toMatchObject({ success: true, value: 'hi acme' });
    expect(seen).toEqual(['POST /enclave true']);
    await served.close();
  });
});

describe('hono on @hono/node-server: an event stream’s headers', () => {
  /** The app with a first middleware that records what the socket flushes, one entry per write. */
  async function served(mw: ReturnType<typeof enclave>) {
    const record: { flushes: string[] } = { flushes: [] };
    const a = new Hono<Env>();
    a.use(async (c, next) => {
      record.flushes = recordFlushes((c.env as { outgoing: ServerResponse }).outgoing);
      await next();
    });
    a.use(mw);
    return { record, ...(await serve(a, () => mw.handler.dispose())) };
  }

  it('go out in the same write as the run’s first events (the server would flush them alone)', async () => {
    // A tool that answers later: the response is still open when the turn ends.
    const s = await served(enclave({ tools: { later: () => new Promise((resolve) => setTimeout(resolve, 20, 1)) } }));
    try {
      const res = await fetch(`${s.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ code: 'return await callTool("later")' }) });
      const events = await readEvents(res);
      expect(events.map((e) => e.event)).toEqual(['session_init', 'tool_call', 'tool_result', 'final']);
      expect(s.record.flushes[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n[0-9a-f]+\r\nretry: 1000\nid: 1\nevent: session_init\n/);
      expect(s.record.flushes.filter((f) => f === '')).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('go out alone at the end of the turn when the stream has nothing yet: a reader does not wait for its first event to see them', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const body = () =>
      new ReadableStream<Uint8Array>({
        async start(c) {
          await released;
          c.enqueue(new TextEncoder().encode('{"seq":1}\n'));
          c.close();
        },
      });
    const s = await served(enclave({ routes: { '/wait': { serve: async () => new Response(body(), { headers: { 'content-type': 'application/x-ndjson' } }) } } }));
    try {
      const res = await fetch(`${s.url}/enclave/wait`);
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      expect(s.record.flushes).toHaveLength(1);
      expect(s.record.flushes[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n$/);
      release();
      expect(await res.text()).toBe('{"seq":1}\n');
    } finally {
      await s.close();
    }
  });
});

adapterTracingContract('hono', plain);
