import { mcpRoute } from '@enclave-kit/mcp';
import { toNextHandler } from '@enclave-kit/next';

export const runtime = 'nodejs'; // the engine needs node:vm; must be a literal in this file
export const dynamic = 'force-dynamic'; // runs and event streams are never cached
export const maxDuration = 30;

// Demo data: your database goes here.
const orders = [
  { id: 'o1', owner: 'alice', status: 'paid', total: 120 },
  { id: 'o2', owner: 'alice', status: 'open', total: 35 },
  { id: 'o3', owner: 'alice', status: 'paid', total: 80 },
  { id: 'o4', owner: 'bob', status: 'paid', total: 999 },
];

export const { GET, POST, DELETE } = toNextHandler({
  // Stub login: the `x-user` header names the user. Replace it with your auth (Auth.js `auth()`, a session cookie).
  authenticate: ({ request }) => {
    const id = request.headers.get('x-user');
    return id ? { id } : undefined; // no user -> 401
  },
  tools: ({ user }) => ({
    'orders:list': async ({ status }) => orders.filter((o) => o.owner === user.id && (!status || o.status === status)),
  }),
  // The optional catch-all folder [[...route]] brings the paths below /enclave here too: the sessions,
  // /enclave/check, the playground page at /enclave/playground, and /enclave/mcp, code mode over MCP
  // with the same user and tools.
  routes: { '/mcp': mcpRoute() },
  playground: true, // also under NODE_ENV=production (next start): this is a demo
});
