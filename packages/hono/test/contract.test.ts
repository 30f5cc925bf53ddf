import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { adapterContract, listen } from '../../engine/test/http/contract.js';
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

adapterContract('hono', {
  userOf,
  async start(options) {
    const mw = enclave(options as HonoEnclaveOptions);
    return serve(app((a) => a.use(mw)), () => mw.handler.dispose());
  },
});

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
