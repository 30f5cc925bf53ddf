import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { handleNodeRequest } from '@enclave-kit/engine/node';
import { adapterContract, adapterTracingContract, listen } from '../../engine/test/http/contract.js';
import type { AdapterHarness } from '../../engine/test/http/contract.js';
import { adapterParity } from '../../engine/test/http/parity.js';
import { designConformance } from '../../engine/test/http/design-conformance.js';
import { streamingConformance } from '../../engine/test/http/streaming-conformance.js';
import { clientConformance } from '../../client/test/conformance.js';
import { readEvents } from '../../engine/test/http/event-stream.js';
import type { NextEnclaveOptions } from '../src/index.js';
import { toNextHandler } from '../src/index.js';

// The exported route handlers called with real Fetch Requests, made from real sockets by the Node
// bridge (the way Next's own server hands a Request to a route). next.test.ts runs a built Next app.
const exported: AdapterHarness = {
  passThrough: false,
  userOf: (native) => (native as Request).headers.get('x-user') ?? undefined,
  async start(options) {
    const { GET, POST, DELETE, handler } = toNextHandler(options as NextEnclaveOptions);
    const methods: Record<string, typeof POST> = { GET, POST, DELETE };
    const server = createServer((req, res) => {
      if (req.url === '/other') return void res.end('other');
      // As Next serves app/enclave/[[...route]]/route.ts: the segments below /enclave arrive as params.
      const below = new URL(req.url ?? '/', 'http://localhost').pathname.split('/').filter(Boolean).slice(1);
      const params = Promise.resolve(below.length > 0 ? { route: below } : {});
      // Next answers HEAD with the GET export when a route has no HEAD of its own (autoImplementMethods).
      const route = Object.assign((request: Request) => (methods[request.method === 'HEAD' ? 'GET' : request.method] ?? POST)(request, { params }), {
        enclave: handler.enclave,
        maxBodySize: handler.maxBodySize,
        accepts: handler.accepts,
        refuse: handler.refuse,
        dispose: handler.dispose,
      });
      void handleNodeRequest(route, req, res, undefined);
    });
    return listen(server, () => handler.dispose());
  },
};

adapterContract('next (exported handlers)', exported);
adapterParity('next (exported handlers)', exported);
designConformance('next (exported handlers)', exported);
streamingConformance('next (exported handlers)', exported);
clientConformance('next (exported handlers)', exported);

describe('the exported handlers called directly, without Next’s context (as a test calls them)', () => {
  it('route by the URL: the run, a session’s start, events, state and cancel, the check route', async () => {
    let release = () => {};
    let entered = 0;
    const held = new Promise<string>((resolve) => (release = () => resolve('released')));
    const { GET, POST, DELETE, handler } = toNextHandler({ logger: { info() {}, error() {} }, tools: { hold: () => (entered++, held) } });
    const base = 'http://localhost/api/enclave';
    const json = (body: unknown, accept = 'application/json') => ({ method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body) });
    try {
      expect(await (await POST(new Request(base, json({ code: 'return 6 * 7' })))).json()).toMatchObject({ success: true, value: 42 });
      expect(((await (await GET(new Request(base))).json()) as { tools: { name: string }[] }).tools.map((t: { name: string }) => t.name)).toEqual(['hold']);
      expect(await (await POST(new Request(`${base}/check`, json({ code: 'return eval("1")' })))).json()).toMatchObject({ ok: false });
      const started = await POST(new Request(`${base}/sessions`, json({ code: 'return await callTool("hold")' })));
      expect(started.status).toBe(201);
      const { sessionId, statusUrl, eventsUrl, cancelUrl } = (await started.json()) as { sessionId: string; statusUrl: string; eventsUrl: string; cancelUrl: string };
      await expect.poll(() => entered).toBe(1);
      expect(await (await GET(new Request(new URL(statusUrl, base)))).json()).toEqual({ sessionId, state: 'running' });
      const cancelled = await DELETE(new Request(new URL(cancelUrl, base), { method: 'DELETE' }));
      expect(await cancelled.json()).toMatchObject({ sessionId, state: 'cancelled', result: { error: { code: 'ABORTED' } } });
      const events = await readEvents(await GET(new Request(new URL(eventsUrl, base), { headers: { 'last-event-id': '1' } })));
      expect(events.map((e) => e.data.type)).toEqual(['tool_call', 'final']);
      expect(events.at(-1)?.data.payload.error.code).toBe('ABORTED');
    } finally {
      release();
      handler.dispose();
    }
  });
});

adapterTracingContract('next (exported handlers)', exported);
