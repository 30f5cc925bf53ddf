import 'reflect-metadata';
import type { Server } from 'node:http';
import { Controller, Get, Module } from '@nestjs/common';
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

async function start(imports: unknown[], platform: keyof typeof platforms) {
  @Module({ imports: imports as never[], controllers: [OtherController] })
  // oxlint-disable-next-line typescript/no-extraneous-class -- a Nest module is an empty decorated class
  class AppModule {}
  const app: INestApplication = await NestFactory.create(AppModule, platforms[platform](), { logger: false });
  app.useGlobalGuards(userGuard);
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

for (const [name, harness] of harnesses) adapterTracingContract(name, harness);
