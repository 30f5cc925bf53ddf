// The Next.js example: the same users, tools and options as the Express, Hono and Nest examples. The
// README's Next.js quick start, which has one tool of its own, is app/quickstart/enclave/[[...route]]/route.ts.
import { mcpRoute } from '@enclave-kit/mcp';
import { toNextHandler } from '@enclave-kit/next';
import { toolsFor, userFromHeader } from '@enclave-kit/example-shared/orders';
import { scaleOutFromEnv } from '@enclave-kit/example-shared/scale-out';

export const runtime = 'nodejs'; // the engine needs node:vm; must be a literal in this file
export const dynamic = 'force-dynamic'; // runs and event streams are never cached
export const maxDuration = 30;

// REDIS_URL, RATE_LIMIT_PER_MINUTE, ENCLAVE_RUNTIME: shared stores, a per-user limit, runtime nodes (README, Scaling out).
const scaleOut = scaleOutFromEnv();

export const { GET, POST, DELETE } = toNextHandler({
  ...scaleOut,
  enclave: { securityLevel: 'STANDARD', timeout: 10_000, ...scaleOut.enclave },
  // Your auth goes here (Auth.js `auth()`, a session cookie); this stub reads the user from the `x-user` header.
  authenticate: ({ request }) => userFromHeader(request.headers.get('x-user')), // no user -> 401
  tools: ({ user }) => toolsFor(user),
  // The optional catch-all folder [[...route]] brings the paths below /enclave here too: the sessions,
  // /enclave/check, the playground, and /enclave/mcp, code mode over MCP with the same user and tools.
  routes: { '/mcp': mcpRoute() },
  playground: true, // the playground page at /enclave/playground, also under NODE_ENV=production (next start)
});
