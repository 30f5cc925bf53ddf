import { pathToFileURL } from 'node:url';
import express from 'express';
import { enclave } from '@enclave-kit/express';
import { mcpRoute } from '@enclave-kit/mcp';
import { banner, toolsFor, userFromHeader } from '@enclave-kit/example-shared/orders';
import { scaleOutFromEnv } from '@enclave-kit/example-shared/scale-out';

export function createApp() {
  // REDIS_URL, RATE_LIMIT_PER_MINUTE: shared stores and a per-user limit (README, Scaling out).
  const scaleOut = scaleOutFromEnv();
  const app = express();
  // Your auth goes here; this stub sets req.user from the `x-user` header.
  app.use((req, _res, next) => {
    req.user = userFromHeader(req.get('x-user'));
    next();
  });
  app.use(
    enclave({
      path: '/enclave',
      ...scaleOut,
      enclave: { securityLevel: 'STANDARD', timeout: 10_000, ...scaleOut.enclave },
      authenticate: ({ native }) => native.req.user, // no user -> 401
      tools: ({ user }) => toolsFor(user),
      routes: { '/mcp': mcpRoute() }, // code mode over MCP at /enclave/mcp, same user and tools
    }),
  );
  app.get('/', (_req, res) => void res.json({ ok: true, route: 'POST /enclave', mcp: '/enclave/mcp' }));
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3000);
  const server = createApp().listen(port, () => console.log(banner('Express', server.address().port)));
}
