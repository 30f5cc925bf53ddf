import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { statusTable } from '../../src/http/index.js';
import { ENCLAVE_HTTP_STATUS, EnclaveConfigError, MemoryRateLimitStore, createEnclaveHandler } from '../../src/index.js';
import { handleNodeRequest } from '../../src/node/index.js';
import type { NodeRequest } from '../../src/node/index.js';
import { adapterContract, listen } from './contract.js';

// The Fetch core behind a bare node:http server and the Node bridge: the reference for the adapters.
adapterContract('fetch core + node bridge', {
  passThrough: false,
  userOf: (native) => (native as { req: NodeRequest }).req.headers['x-user'] as string | undefined,
  async start(options) {
    const handler = createEnclaveHandler(options as Parameters<typeof createEnclaveHandler>[0]);
    const server = createServer((req, res) => {
      if (req.url === '/other') return void res.end('other');
      void handleNodeRequest(handler, req, res, { req });
    });
    return listen(server, () => handler.dispose());
  },
});

describe('createEnclaveHandler options', () => {
  it.each([
    [{ tools: () => ({}), createContext: () => ({}) }, /either tools or createContext/],
    [{ maxBodySize: 0 }, /maxBodySize must be a positive integer/],
    [{ rateLimit: { max: 1, windowMs: 1000 } }, /rateLimit\.key must be a function/],
    [{ rateLimit: 'per-user' }, /rateLimit must be \{ max, windowMs, key/],
    [{ rateLimit: { max: 1, windowMs: 1000, key: () => 'u', store: {} } }, /rateLimit\.store must be an object with a hit/],
    [{ statuses: { TIMEOUT: 99 } }, /statuses.TIMEOUT must be an HTTP status/],
    [{ statuses: { TIMEOUTS: 504 } }, /statuses: unknown option "TIMEOUTS"\. Did you mean "TIMEOUT"\?/],
    [{ tool: {} }, /unknown option "tool"\. Did you mean "tools"\?/],
    [{ pth: '/run' }, /unknown option "pth"\. Did you mean "path"\?/],
    [{ onError: 'log' }, /onError must be a function/],
    [{ logger: { info() {} } }, /logger must be an object with info\(\) and error\(\) methods/],
  ])('%o is refused at construction', (options, message) => {
    expect(() => createEnclaveHandler(options as never)).toThrow(EnclaveConfigError);
    expect(() => createEnclaveHandler(options as never)).toThrow(message);
  });

  it('the status table is one frozen constant; overrides apply per handler', async () => {
    expect(Object.isFrozen(ENCLAVE_HTTP_STATUS)).toBe(true);
    expect(statusTable({ TIMEOUT: 504 }).TIMEOUT).toBe(504);
    expect(ENCLAVE_HTTP_STATUS.TIMEOUT).toBe(408);
    // A deadline a busy machine cannot miss for `return 1`, short enough to wait for the tool that never answers.
    const handler = createEnclaveHandler({ enclave: { timeout: 500 }, statuses: { TIMEOUT: 504, SUCCESS: 201 }, tools: { wait: () => new Promise(() => {}) } });
    const run = (code: string) => handler(new Request('http://x/enclave', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) }));
    expect((await run('return await callTool("wait")')).status).toBe(504);
    expect((await run('return 1')).status).toBe(201);
    handler.dispose();
  });

  it('answers other methods with 405 and Allow', async () => {
    const handler = createEnclaveHandler({ catalog: false });
    const res = await handler(new Request('http://x/enclave', { method: 'GET' }));
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    handler.dispose();
  });

  it('createContext builds the run scope from the native object', async () => {
    const handler = createEnclaveHandler<{ tenant: string }>({
      createContext: (_opts, native) => ({ tools: { tenant: (_args, ctx) => (ctx.context as { tenant: string }).tenant }, context: { tenant: native.tenant }, globals: { greeting: 'hi' } }),
    });
    const res = await handler(
      new Request('http://x/enclave', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ code: 'return greeting + " " + (await callTool("tenant"))' }) }),
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
      handler(new Request('http://x/enclave', { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ code: 'return 1' }) }));
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
