// The real server the React tests talk to, in a process of its own: the hook runs under happy-dom, whose
// Response, ReadableStream and fetch replace Node's in the test's process. Serves the engine's Fetch core
// through the Node bridge on a free port of 127.0.0.1, with CORS for the test page's origin (happy-dom's
// page is http://localhost:3000, another origin), and prints {"port": n} once listening.
import { createServer } from 'node:http';
import { ToolError, createEnclaveHandler, defineTool } from '@enclave-kit/engine';
import { handleNodeRequest } from '@enclave-kit/engine/node';

/** Resolves after `ms`, or when the run ends. */
const wait = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

let blockedAborts = 0;
const refunds = [];
const handler = createEnclaveHandler({
  enclave: { timeout: 10_000 },
  logger: { info() {}, error() {} },
  heartbeatMs: 200,
  // The test page is another origin: a browser sends its Origin, which the core refuses unless listed.
  allowedOrigins: ['http://localhost:3000'],
  authenticate: ({ request }) => request.headers.get('x-user') ?? undefined,
  tools: {
    tick: async ({ i, ms }, ctx) => {
      await wait(ms ?? 0, ctx.signal);
      return i;
    },
    fail: () => {
      throw new ToolError('Not in this state.', { code: 'CONFLICT', status: 409 });
    },
    // Needs a person's approval: the hook shows the pending call and approves or denies it.
    refund: defineTool({ name: 'refund', needsApproval: true, handler: ({ amount }) => (refunds.push(amount), amount) }),
    block: async (_args, ctx) => {
      await wait(60_000, ctx.signal);
      if (ctx.signal.aborted) blockedAborts++;
      return null;
    },
  },
});

const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'x-session-id, retry-after' };
const server = createServer((req, res) => {
  if (req.url === '/aborts') return void res.writeHead(200, { ...CORS, 'content-type': 'application/json' }).end(JSON.stringify({ blockedAborts, refunds }));
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { ...CORS, 'access-control-allow-methods': 'GET, POST, DELETE', 'access-control-allow-headers': 'content-type, x-user, last-event-id', 'access-control-max-age': '600' });
    return void res.end();
  }
  for (const [name, value] of Object.entries(CORS)) res.setHeader(name, value);
  void handleNodeRequest(handler, req, res, { req, res });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
