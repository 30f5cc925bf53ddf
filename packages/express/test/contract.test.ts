import { IncomingMessage, createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import express from 'express';
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { EnclaveConfigError } from '@enclave-kit/engine';
import { adapterContract, adapterTracingContract, listen } from '../../engine/test/http/contract.js';
import type { AdapterHarness } from '../../engine/test/http/contract.js';
import { adapterParity } from '../../engine/test/http/parity.js';
import { designConformance } from '../../engine/test/http/design-conformance.js';
import { streamingConformance } from '../../engine/test/http/streaming-conformance.js';
import { clientConformance } from '../../client/test/conformance.js';
import type { ExpressEnclaveOptions, ExpressNative } from '../src/index.js';
import { enclave } from '../src/index.js';

type Authed = Request & { user?: string };

const serve = (expressApp: express.Express, dispose: () => void) => listen(createServer(expressApp), dispose);

/** An app whose own auth middleware sets `req.user` from `x-user`, as passport would. */
function app(mount: (app: express.Express) => void, withJson: boolean) {
  const a = express();
  a.use((req: Authed, _res, next) => {
    req.user = req.get('x-user');
    next();
  });
  // With the contract's 8 KiB maxBodySize; express.json()'s own limit applies to bodies it parses.
  if (withJson) a.use(express.json({ limit: '8kb' }));
  mount(a);
  a.get('/other', (_req, res) => void res.send('other'));
  return a;
}

const userOf = (native: unknown) => ((native as ExpressNative).req as Authed).user;

const plain: AdapterHarness = {
  userOf,
  async start(options) {
    const mw = enclave(options as ExpressEnclaveOptions);
    return serve(app((a) => a.use(mw), false), () => mw.handler.dispose());
  },
};

adapterContract('express', plain);
adapterParity('express', plain);
designConformance('express', plain);
streamingConformance('express', plain);
clientConformance('express', plain);

// Mounted under a prefix (app.use('/api', ...)): the URLs a session hands out, and the client, work under it.
const underPrefix: AdapterHarness = {
  userOf,
  async start(options) {
    const mw = enclave(options as ExpressEnclaveOptions);
    const served = await serve(app((a) => a.use('/api', mw), false), () => mw.handler.dispose());
    return { ...served, url: `${served.url}/api` };
  },
};
streamingConformance('express under app.use("/api")', underPrefix);
clientConformance('express under app.use("/api")', underPrefix);

const afterJson: AdapterHarness = {
  userOf,
  frameworkParsesBody: true,
  // express.json() refuses charset=us-ascii before the route: its 415 stands (see the gate test below).
  parserRefusesNonUtf: true,
  async start(options) {
    const mw = enclave(options as ExpressEnclaveOptions);
    return serve(app((a) => a.use(mw), true), () => mw.handler.dispose());
  },
};
adapterContract('express after express.json()', afterJson);
adapterParity('express after express.json()', afterJson);

describe('express mounting', () => {
  it('works under app.use(prefix, ...) and sees the full URL', async () => {
    let seen = '';
    const mw = enclave({
      path: '/run',
      tools: ({ request }) => {
        seen = request.url;
        return { ping: () => 'pong' };
      },
    });
    const served = await serve(app((a) => a.use('/api/v1', mw), false), () => mw.handler.dispose());
    const res = await fetch(`${served.url}/api/v1/run?x=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return await callTool("ping")' }) });
    expect(await res.json()).toMatchObject({ success: true, value: 'pong' });
    expect(new URL(seen).pathname).toBe('/api/v1/run');
    expect((await fetch(`${served.url}/run`, { method: 'POST' })).status).toBe(404);
    await served.close();
  });

  it('serves routes below the path under a prefix, and body-parser errors there in the route’s shape', async () => {
    const mw = enclave({
      path: '/run',
      routes: { '/echo': { serve: async ({ rest, ctx }) => Response.json({ rest, url: new URL(ctx.request.url).pathname }), refuse: (e) => Response.json({ refused: e.code }, { status: e.status }) } },
    });
    const served = await serve(app((a) => a.use('/api', mw), true), () => mw.handler.dispose());
    expect(await (await fetch(`${served.url}/api/run/echo/x`)).json()).toEqual({ rest: '/x', url: '/api/run/echo/x' });
    const malformed = await fetch(`${served.url}/api/run/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect([malformed.status, await malformed.json()]).toEqual([400, { refused: 'BAD_REQUEST' }]);
    expect((await fetch(`${served.url}/api/run/echoes`)).status).toBe(404);
    await served.close();
  });

  it('after express.json(): a body it refuses unread (a charset or a coding it does not take) is refused in the route’s shape, naming what was not read; one it inflates is run', async () => {
    const mw = enclave({ logger: { info() {}, error() {} } });
    const served = await serve(app((a) => a.use(mw), true), () => mw.handler.dispose());
    const post = (headers: Record<string, string>, body: string | Uint8Array) => fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const code = JSON.stringify({ code: 'return 1' });
    const answers = [
      await post({ 'content-type': 'application/json; charset=us-ascii' }, code),
      await post({ 'content-encoding': 'compress' }, code),
      await post({ 'content-type': 'application/json; charset=utf-16le' }, new Uint8Array(Buffer.from(code, 'utf16le'))),
      await post({ 'content-encoding': 'gzip' }, new Uint8Array(gzipSync(code))),
    ];
    expect(await Promise.all(answers.map(async (r) => [r.status, ((await r.json()) as any).error?.message ?? 'ran']))).toEqual([
      [415, 'Send the request as JSON in UTF-8 (Content-Type: application/json): charset=us-ascii is not read (JSON is UTF-8).'],
      [415, 'Send the request body uncompressed: Content-Encoding: compress is not read.'],
      [415, 'Send the request as JSON in UTF-8 (Content-Type: application/json): charset=utf-16le is not read (JSON is UTF-8).'],
      [200, 'ran'],
    ]);
    await served.close();
  });

  it('after express.json(): what it refuses unread is named in the core’s words, as the core names it with no parser (a list of codings, a long charset)', async () => {
    const longCharset = `x-${'a'.repeat(50)}`;
    const requests: Record<string, string>[] = [{ 'content-encoding': 'gzip, br' }, { 'content-encoding': 'Identity, X-Compress' }, { 'content-type': `application/json; charset=${longCharset}` }];
    const answersOf = async (withJson: boolean) => {
      const mw = enclave({ logger: { info() {}, error() {} } });
      const served = await serve(app((a) => a.use(mw), withJson), () => mw.handler.dispose());
      const answers = [];
      for (const headers of requests) {
        const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"code":"return 1"}' });
        answers.push([res.status, ((await res.json()) as any).error?.message]);
      }
      await served.close();
      return answers;
    };
    const parsed = await answersOf(true);
    expect(parsed).toEqual([
      [415, 'Send the request body uncompressed: Content-Encoding: gzip is not read.'],
      [415, 'Send the request body uncompressed: Content-Encoding: x-compress is not read.'],
      [415, `Send the request as JSON in UTF-8 (Content-Type: application/json): charset=${longCharset.slice(0, 40)} is not read (JSON is UTF-8).`],
    ]);
    expect(parsed).toEqual(await answersOf(false));
  });

  it('after express.json(): a body it refuses unread still meets the middleware between it and the route (here a gate), so it is refused, never run', async () => {
    // Express skips every middleware after a parser's error and goes to the error handlers: the route's
    // parser-error handler must not serve what the app's gate (auth, CSRF, a rate limit) never saw.
    let ran = 0;
    const mw = enclave({ logger: { info() {}, error() {} }, tools: () => ({ mark: () => ++ran }) });
    const a = express();
    a.use(express.json());
    a.use((req, res, next) => (req.get('x-pass') === 'yes' ? next() : void res.status(403).json({ gate: 'closed' })));
    a.use(mw);
    const served = await serve(a, () => mw.handler.dispose());
    const post = (headers: Record<string, string>) => fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ code: 'return await callTool("mark")' }) });
    expect((await post({})).status).toBe(403);
    const answers = [await post({ 'content-type': 'application/json; charset=us-ascii' }), await post({ 'content-encoding': 'compress' })];
    expect(await Promise.all(answers.map(async (r) => [r.status, ((await r.json()) as any).error?.message ?? 'ran']))).toEqual([
      [415, 'Send the request as JSON in UTF-8 (Content-Type: application/json): charset=us-ascii is not read (JSON is UTF-8).'],
      [415, 'Send the request body uncompressed: Content-Encoding: compress is not read.'],
    ]);
    expect(ran).toBe(0);
    // Through the gate, the same request runs.
    expect([(await post({ 'x-pass': 'yes' })).status, ran]).toEqual([200, 1]);
    await served.close();
  });

  it('headers a middleware set before the route go out with its answers, except those that frame another body (a length, a coding)', async () => {
    const mw = enclave({ logger: { info() {}, error() {} } });
    const a = express();
    a.use((_req, res, next) => {
      res.set({ 'x-request-id': 'r1', 'content-length': '1', 'content-encoding': 'gzip' });
      next();
    });
    a.use(mw);
    const served = await serve(a, () => mw.handler.dispose());
    const post = (accept: string) => fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ code: 'console.log("hi"); return 42' }) });
    const json = await post('application/json');
    expect([json.headers.get('x-request-id'), json.headers.get('content-encoding'), await json.json()]).toEqual(['r1', null, expect.objectContaining({ success: true, value: 42 })]);
    const streamed = await post('text/event-stream');
    expect([streamed.headers.get('x-request-id'), streamed.headers.get('content-length')]).toEqual(['r1', null]);
    expect(await streamed.text()).toMatch(/event: final\ndata: .*"value":42/);
    await served.close();
  });

  it('createContext(opts, native) gets Express’s own req and res, once per request, and scopes the run: tools, globals, context', async () => {
    const seen: string[] = [];
    const mw = enclave({
      createContext: (opts, native) => {
        seen.push(`${native.req.method} ${native.req.originalUrl} ${opts.native === native} ${typeof native.res.locals}`);
        // DESIGN.md: the hook is given the framework's own request: it reads as Express's request itself.
        seen.push(`${native.method} ${native.originalUrl} ${native.headers['x-user']} ${native.get('x-user')} ${native.res === native.req.res} ${native instanceof IncomingMessage}`);
        return { tools: { tenant: (_args, ctx) => (ctx.context as { tenant: string }).tenant }, globals: { greeting: 'hi' }, context: { tenant: (native.req as Authed).user } };
      },
    });
    const served = await serve(app((a) => a.use(mw), false), () => mw.handler.dispose());
    const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'acme' }, body: JSON.stringify({ code: 'return greeting + " " + (await callTool("tenant"))' }) });
    expect(await res.json()).toMatchObject({ success: true, value: 'hi acme' });
    expect(seen).toEqual(['POST /enclave true object', 'POST /enclave acme acme true true']);
    await served.close();
  });

  it('refuses bad options at construction, naming them', () => {
    expect(() => enclave({ path: 'run' })).toThrow(EnclaveConfigError);
    expect(() => enclave({ path: 'run' })).toThrow(/path must be a literal path/);
    expect(() => enclave({ tools: 5 } as never)).toThrow(/tools must be a function/);
  });
});

adapterTracingContract('express', plain);
adapterTracingContract('express after express.json()', afterJson);
