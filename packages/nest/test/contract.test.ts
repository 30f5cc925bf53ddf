import 'reflect-metadata';
import type { Server } from 'node:http';
import { Controller, ForbiddenException, Get, HttpException, Module, UnauthorizedException } from '@nestjs/common';
import type { CanActivate, ExecutionContext, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { describe, expect, it } from 'vitest';
import { adapterContract, adapterTracingContract, listen } from '../../engine/test/http/contract.js';
import type { AdapterHarness } from '../../engine/test/http/contract.js';
import { adapterParity } from '../../engine/test/http/parity.js';
import { designConformance } from '../../engine/test/http/design-conformance.js';
import { streamingConformance } from '../../engine/test/http/streaming-conformance.js';
import { clientConformance } from '../../client/test/conformance.js';
import { mcpRoute } from '@enclave-kit/mcp';
import { Enclave } from '@enclave-kit/engine';
import { EnclaveClientError, createEnclaveClient } from '../../client/src/index.js';
import type { EnclaveModuleOptions, NestNative } from '../src/index.js';
import { EnclaveModule, ENCLAVE_HANDLER } from '../src/index.js';

@Controller()
class OtherController {
  @Get('other')
  other(): string {
    return 'other';
  }
}

/** A global guard standing in for passport: it sets `req.user` from `x-user`. */
const userGuard: CanActivate = {
  canActivate(context: ExecutionContext) {
    const req = context.switchToHttp().getRequest();
    req.user = req.headers['x-user'];
    return true;
  },
};

const platforms = {
  express: () => new ExpressAdapter(),
  fastify: () => new FastifyAdapter(),
};

/** The app, with `guard` as its global guard (userGuard unless given) and, if given, a global prefix. */
async function start(imports: unknown[], platform: keyof typeof platforms, { guard = userGuard, prefix }: { guard?: CanActivate; prefix?: string } = {}) {
  @Module({ imports: imports as never[], controllers: [OtherController] })
  // oxlint-disable-next-line typescript/no-extraneous-class -- a Nest module is an empty decorated class
  class AppModule {}
  const app: INestApplication = await NestFactory.create(AppModule, platforms[platform](), { logger: false });
  if (prefix !== undefined) app.setGlobalPrefix(prefix);
  app.useGlobalGuards(guard);
  await app.listen(0, '127.0.0.1');
  return listen(app.getHttpServer() as Server, () => {
    app.get(ENCLAVE_HANDLER).dispose();
    void app.close();
  });
}

const harnesses = new Map<string, AdapterHarness>();
for (const platform of ['express', 'fastify'] as const) {
  const harness: AdapterHarness = {
    // Nest parses JSON bodies before the route (body-parser, Fastify's parser).
    frameworkParsesBody: true,
    // Nest on Express reads JSON with body-parser, which answers a charset other than utf-* (us-ascii too) itself.
    parserRefusesNonUtf: platform === 'express',
    userOf: (native) => (native as NestNative).req.user,
    start: (options) => start([EnclaveModule.forRoot(options as EnclaveModuleOptions)], platform),
  };
  harnesses.set(`nest (${platform})`, harness);
  adapterContract(`nest (${platform})`, harness);
  adapterParity(`nest (${platform})`, harness);
  designConformance(`nest (${platform})`, harness);
  streamingConformance(`nest (${platform})`, harness);
  clientConformance(`nest (${platform})`, harness);
}

describe('nest module', () => {
  it('forRootAsync takes the path and tools from a factory', async () => {
    const served = await start(
      [EnclaveModule.forRootAsync({ useFactory: async () => ({ path: '/agents/run', logger: { info() {}, error() {} }, tools: ({ native }) => ({ who: () => native.req.user }) }) })],
      'express',
    );
    const res = await fetch(`${served.url}/agents/run`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'nina' }, body: JSON.stringify({ code: 'return await callTool("who")' }) });
    expect(await res.json()).toMatchObject({ success: true, value: 'nina' });
    await served.close();
  });

  for (const platform of ['express', 'fastify'] as const) {
    it(`createContext(opts, native) is given the platform's own request (${platform}): its headers and method, and req and res by name`, async () => {
      const seen: string[] = [];
      const served = await start(
        [
          EnclaveModule.forRoot({
            logger: { info() {}, error() {} },
            createContext: (opts, native) => {
              seen.push(`${native.method} ${native.headers['x-user']} ${native.req.headers['x-user']} ${opts.native === native} ${typeof native.res}`);
              return { tools: { who: () => native.headers['x-user'] } };
            },
          }),
        ],
        platform,
      );
      const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'omar' }, body: JSON.stringify({ code: 'return await callTool("who")' }) });
      expect(await res.json()).toMatchObject({ success: true, value: 'omar' });
      expect(seen).toEqual(['POST omar omar true object']);
      await served.close();
    });
  }
});

/** An app's own controller under the route's path, in a module imported after EnclaveModule. */
@Controller('enclave')
class AppRoutesBelow {
  @Get('health')
  health(): { ok: boolean } {
    return { ok: true };
  }
}
@Module({ controllers: [AppRoutesBelow] })
// oxlint-disable-next-line typescript/no-extraneous-class -- a Nest module is an empty decorated class
class AppRoutesModule {}

/**
 * The README: what the core does not serve below the path, adapters pass on (Express's next(), Hono's).
 * In Nest the route's wildcard would otherwise answer it, shadowing the app's own routes there on the
 * Express platform, where routes match in the order modules registered them.
 */
describe('what the route does not serve below its path goes on to the app', () => {
  for (const platform of ['express', 'fastify'] as const) {
    it(`the app's own routes below the path, and the platform's 404 for the rest (${platform})`, async () => {
      const served = await start([EnclaveModule.forRoot({ logger: { info() {}, error() {} }, catalog: false, tools: { a: () => 1 } }), AppRoutesModule], platform);
      try {
        const ask = async (method: string, path: string) => {
          const res = await fetch(`${served.url}/enclave${path}`, { method, headers: { 'x-user': 'alice' } });
          return [res.status, (await res.json()) as any];
        };
        expect(await ask('GET', '/health')).toEqual([200, { ok: true }]);
        // Not served by the core: Nest's own 404, as for any path of the app no route serves.
        for (const [method, path] of [['PUT', '/sessions/ses_AAAAAAAAAAAAAAAAAAAAAA'], ['GET', '/nothing'], ['GET', ''], ['OPTIONS', '/sessions']] as const) {
          expect(await ask(method, path), `${method} ${path}`).toEqual([404, expect.objectContaining({ statusCode: 404, message: `Cannot ${method} /enclave${path}` })]);
        }
        // What it serves, it still does.
        expect(await ask('GET', '/sessions/ses_AAAAAAAAAAAAAAAAAAAAAA')).toEqual([404, expect.objectContaining({ success: false, error: expect.objectContaining({ code: 'NOT_FOUND' }) })]);
        const run = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice' }, body: '{"code":"return 1"}' });
        expect(await run.json()).toMatchObject({ success: true, value: 1 });
      } finally {
        await served.close();
      }
    });
  }
});

/**
 * A global guard runs once per request, as Nest runs it for any route: a request the route passes on
 * (the app's own route below the path) is not guarded by the route first and again by the app's route.
 * A guard that counts (a rate limit's hit, an audit line) would count it twice.
 */
describe('global guards run once for a request the route passes on', () => {
  for (const platform of ['express', 'fastify'] as const) {
    it(`once for the app's own route below the path, once for what the route serves, never for the platform's 404 (${platform})`, async () => {
      const guarded: string[] = [];
      const counting: CanActivate = {
        canActivate(context: ExecutionContext) {
          const req = context.switchToHttp().getRequest();
          guarded.push(`${req.method} ${String(req.url).split('?', 1)[0]}`);
          req.user = req.headers['x-user'];
          return true;
        },
      };
      const served = await start([EnclaveModule.forRoot({ logger: { info() {}, error() {} }, catalog: false, tools: { a: () => 1 } }), AppRoutesModule], platform, { guard: counting });
      try {
        const ask = async (method: string, path: string, body?: string) => {
          const res = await fetch(`${served.url}/enclave${path}`, { method, headers: { 'content-type': 'application/json', 'x-user': 'alice' }, ...(body !== undefined && { body }) });
          return [res.status, (await res.json()) as any];
        };
        expect(await ask('GET', '/health')).toEqual([200, { ok: true }]);
        expect(guarded).toEqual(['GET /enclave/health']);
        guarded.length = 0;
        expect(await ask('POST', '', '{"code":"return 1"}')).toEqual([200, expect.objectContaining({ success: true, value: 1 })]);
        expect(await ask('POST', '/check', '{"code":"return 1"}')).toEqual([200, expect.objectContaining({ ok: true })]);
        expect(guarded).toEqual(['POST /enclave', 'POST /enclave/check']);
        guarded.length = 0;
        // The route serves neither (the catalog is off): the platform's 404, which no guard is asked about, as for any path no route has.
        if (platform === 'express') {
          expect((await ask('GET', ''))[0]).toBe(404);
          expect((await ask('GET', '/nothing'))[0]).toBe(404);
          expect(guarded).toEqual([]);
        }
      } finally {
        await served.close();
      }
    });
  }

  it('each mount passes on what its own core does not serve, under a global prefix (express)', async () => {
    const guarded: string[] = [];
    const counting: CanActivate = {
      canActivate(context: ExecutionContext) {
        guarded.push(String(context.switchToHttp().getRequest().url));
        return true;
      },
    };
    const enclave = new Enclave();
    const quiet = { logger: { info() {}, error() {} }, tools: { a: () => 1 }, enclave };
    // The second mount's path ends in the first's: each still finds its own routes only.
    const mounts = [EnclaveModule.forRoot({ ...quiet, path: '/x/enclave', catalog: false }), EnclaveModule.forRoot({ ...quiet, routes: { '/mcp': mcpRoute() } })];
    const served = await start([...mounts, AppRoutesModule], 'express', { guard: counting, prefix: 'api' });
    try {
      const status = async (method: string, path: string) => (await fetch(`${served.url}/api${path}`, { method, headers: { 'content-type': 'application/json' }, ...(method === 'POST' && { body: '{"code":"return 1"}' }) })).status;
      expect([await status('GET', '/enclave/health'), await status('GET', '/enclave'), await status('GET', '/x/enclave'), await status('POST', '/x/enclave'), await status('POST', '/x/enclave/mcp')]).toEqual([200, 200, 404, 200, 404]);
      expect(guarded).toEqual(['/api/enclave/health', '/api/enclave', '/api/x/enclave']);
    } finally {
      await served.close();
      enclave.dispose();
    }
  });
});

/**
 * The README (NestJS): Nest's body parser answers malformed JSON and bodies over its limit itself, in
 * Nest's shape. @enclave-kit/client reads those as the refusals they are (PAYLOAD_TOO_LARGE, ...), with
 * Nest's message, as it reads the route's own: not as a BAD_RESPONSE of a proxy.
 */
describe('@enclave-kit/client against the answers of Nest’s body parser', () => {
  for (const platform of ['express', 'fastify'] as const) {
    it(`a body over the parser's limit is PAYLOAD_TOO_LARGE, for a run and a session's start (${platform})`, async () => {
      const served = await start([EnclaveModule.forRoot({ logger: { info() {}, error() {} }, maxBodySize: 4 * 1024 * 1024, tools: { a: () => 1 } })], platform);
      try {
        const client = createEnclaveClient({ url: `${served.url}/enclave`, headers: { 'x-user': 'alice' } });
        // Over Nest's limit (100 KB on Express, 1 MiB on Fastify), under the route's maxBodySize: the parser answers, not the route.
        const input = 'x'.repeat(2_000_000);
        for (const call of [() => client.run('return 1', { input }), () => client.start('return 1', { input }), () => client.stream('return 1', { input }).result]) {
          const err = await call().then(() => undefined, (e: unknown) => e);
          expect(err).toBeInstanceOf(EnclaveClientError);
          expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413, message: expect.stringMatching(/too large/i) });
        }
        expect(await client.run('return 1')).toMatchObject({ success: true, value: 1 });
      } finally {
        await served.close();
      }
    });
  }
});

/**
 * The README (NestJS): guards' UnauthorizedException / ForbiddenException on this route are answered in
 * the route's JSON shape, as `authenticate` refusing is; on the MCP route in its JSON-RPC shape.
 */
describe('a guard that refuses, on the route and below it', () => {
  const refusing: CanActivate = {
    canActivate(context: ExecutionContext) {
      const who = context.switchToHttp().getRequest().headers['x-user'];
      if (who === undefined) throw new UnauthorizedException('Log in first.');
      if (who === 'banned') throw new ForbiddenException('You are banned.');
      if (who === 'flood') {
        // As @nestjs/throttler does: the header on the platform's response, then the exception.
        context.switchToHttp().getResponse().header('Retry-After', '7');
        throw new HttpException('Slow down.', 429);
      }
      // And one that says what the body is: the route's answer says that itself.
      if (who === 'alice') context.switchToHttp().getResponse().header('X-RateLimit-Remaining', '9').header('Content-Type', 'text/plain').header('Content-Length', '1');
      return who !== 'nobody'; // false: Nest's own ForbiddenException
    },
  };
  for (const platform of ['express', 'fastify'] as const) {
    it(`answers 401 / 403 / 429 in the route's shape, and in JSON-RPC's on the MCP route (${platform})`, async () => {
      @Module({ imports: [EnclaveModule.forRoot({ logger: { info() {}, error() {} }, tools: { a: () => 1 }, routes: { '/mcp': mcpRoute() } })] })
      // oxlint-disable-next-line typescript/no-extraneous-class -- a Nest module is an empty decorated class
      class GuardedModule {}
      const app: INestApplication = await NestFactory.create(GuardedModule, platforms[platform](), { logger: false });
      app.useGlobalGuards(refusing);
      await app.listen(0, '127.0.0.1');
      const served = await listen(app.getHttpServer() as Server, () => {
        app.get(ENCLAVE_HANDLER).dispose();
        void app.close();
      });
      try {
        const ask = async (path: string, user: string | undefined, method = 'POST', body = '{"code":"return 1"}') => {
          const headers: Record<string, string> = { 'content-type': 'application/json', accept: path === '/mcp' ? 'application/json, text/event-stream' : 'application/json' };
          if (user !== undefined) headers['x-user'] = user;
          const res = await fetch(`${served.url}/enclave${path}`, { method, headers, ...(method === 'POST' && { body }) });
          return { status: res.status, retryAfter: res.headers.get('retry-after'), remaining: res.headers.get('x-ratelimit-remaining'), type: res.headers.get('content-type'), json: (await res.json()) as any };
        };
        const rows: [string | undefined, number, string, string][] = [
          [undefined, 401, 'UNAUTHORIZED', 'Log in first.'],
          ['banned', 403, 'FORBIDDEN', 'You are banned.'],
          ['nobody', 403, 'FORBIDDEN', 'Forbidden resource'],
          ['flood', 429, 'RATE_LIMITED', 'Slow down.'],
        ];
        for (const [user, status, code, message] of rows) {
          for (const [path, method] of [['', 'POST'], ['', 'GET'], ['/sessions', 'POST'], ['/sessions/ses_AAAAAAAAAAAAAAAAAAAAAA', 'GET'], ['/check', 'POST']] as const) {
            const answer = await ask(path, user, method);
            expect([answer.status, answer.json], `${user} ${method} ${path}`).toEqual([status, { success: false, error: { name: 'RequestError', code, message }, stats: { duration: expect.any(Number), toolCallCount: 0, iterationCount: 0 } }]);
            // The header the guard set on the platform's response goes out with the answer, on both platforms.
            if (status === 429) expect(answer.retryAfter, `${method} ${path}`).toBe('7');
          }
          const mcp = await ask('/mcp', user, 'POST', '{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
          expect([mcp.status, mcp.json], `${user} MCP`).toEqual([status, { jsonrpc: '2.0', id: null, error: { code: expect.any(Number), message, data: { status, code } } }]);
        }
        // A guard that lets the request through and sets a header on the response (a throttler's count): it is sent.
        const passed = await ask('', 'alice');
        expect([passed.json, passed.remaining, passed.type]).toEqual([expect.objectContaining({ success: true, value: 1 }), '9', 'application/json; charset=utf-8']);
      } finally {
        await served.close();
      }
    });
  }
});

for (const [name, harness] of harnesses) adapterTracingContract(name, harness);
