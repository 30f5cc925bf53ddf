// NestJS example as plain JavaScript (Node 20 runs it with no build step): decorators are called as
// functions, so there is no TypeScript or decorator transform to set up.
import 'reflect-metadata';
import { pathToFileURL } from 'node:url';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mcpRoute } from '@enclave-kit/mcp';
import { EnclaveModule } from '@enclave-kit/nest';
import { banner, toolsFor, userFromHeader } from '@enclave-kit/example-shared/orders';
import { scaleOutFromEnv } from '@enclave-kit/example-shared/scale-out';

// oxlint-disable-next-line typescript/no-extraneous-class -- a Nest module is an empty decorated class
class AppModule {}
// REDIS_URL, RATE_LIMIT_PER_MINUTE: shared stores and a per-user limit (README, Scaling out).
const scaleOut = scaleOutFromEnv();
Module({
  imports: [
    EnclaveModule.forRoot({
      path: '/enclave',
      ...scaleOut,
      enclave: { securityLevel: 'STANDARD', timeout: 10_000, ...scaleOut.enclave },
      authenticate: ({ native }) => native.req.user, // no user -> 401
      tools: ({ user }) => toolsFor(user),
      routes: { '/mcp': mcpRoute() }, // code mode over MCP at /enclave/mcp, same user and tools
    }),
  ],
})(AppModule);

/** Your auth goes here (passport's AuthGuard, ...); this stub guard sets req.user from the `x-user` header. */
const stubLogin = {
  canActivate(context) {
    const req = context.switchToHttp().getRequest();
    req.user = userFromHeader(req.headers['x-user']);
    return true;
  },
};

export async function createApp() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.useGlobalGuards(stubLogin);
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const app = await createApp();
  await app.listen(Number(process.env.PORT ?? 3000));
  console.log(banner('NestJS', app.getHttpServer().address().port));
}
