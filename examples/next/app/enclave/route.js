// POST /enclave runs a script with the tools of the user in `x-user`; GET /enclave lists them.
import { toNextHandler } from '@enclave-kit/next';
import { toolsFor, userFromHeader } from '@enclave-kit/example-shared/orders';

export const runtime = 'nodejs'; // the engine needs node:vm; must be a literal in this file
export const maxDuration = 30;

export const { GET, POST } = toNextHandler({
  enclave: { securityLevel: 'SECURE', timeout: 5_000 },
  // Your auth goes here (Auth.js `auth()`, a session cookie, ...); this stub reads the `x-user` header.
  authenticate: ({ request }) => userFromHeader(request.headers.get('x-user')), // no user -> 401
  tools: ({ user }) => toolsFor(user),
});
