import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { enclave } from '@enclave-kit/hono';
import { mcpRoute } from '@enclave-kit/mcp';
import { banner, toolsFor, userFromHeader } from '@enclave-kit/example-shared/orders';
import { scaleOutFromEnv } from '@enclave-kit/example-shared/scale-out';

export function createApp() {
  // REDIS_URL, RATE_LIMIT_PER_MINUTE: shared stores and a per-user limit (README, Scaling out).
  const scaleOut = scaleOutFromEnv();
  const app = new Hono();
  // Your auth goes here; this stub sets c.get('user') from the `x-user` header.
  app.use(async (c, next) => {
    c.set('user', userFromHeader(c.req.header('x-user')));
    await next();
  });
  app.use(
    enclave({
      path: '/enclave',
      ...scaleOut,
      enclave: { securityLevel: 'STANDARD', timeout: 10_000, ...scaleOut.enclave },
      authenticate: ({ native }) => native.get('user'), // no user -> 401
      tools: ({ user }) => toolsFor(user),
      routes: { '/mcp': mcpRoute() }, // code mode over MCP at /enclave/mcp, same user and tools
    }),
  );
  app.get('/', (c) => c.json({ ok: true, route: 'POST /enclave', mcp: '/enclave/mcp' }));
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3000);
  const server = serve({ fetch: createApp().fetch, port }, () => console.log(banner('Hono', server.address().port)));
}
