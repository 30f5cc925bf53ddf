// Demo data and user-scoped tools shared by the example servers. Every tool closes over the user of
// the request: a script can only ever see that user's orders.
import { ToolError, defineTool } from '@enclave-kit/engine';

export const USERS = {
  alice: { id: 'u1', name: 'Alice' },
  bob: { id: 'u2', name: 'Bob' },
};

const ORDERS = [
  { id: 'o1', owner: 'u1', status: 'paid', total: 120 },
  { id: 'o2', owner: 'u1', status: 'open', total: 35 },
  { id: 'o3', owner: 'u1', status: 'paid', total: 80 },
  { id: 'o4', owner: 'u2', status: 'paid', total: 999 },
];

/** Orders refunded by this process (a real app writes this to its database). */
const REFUNDED = new Set();

/** Whether `user` may have order `id` refunded: their own, paid, not refunded yet. */
const refundable = (user, id) => ORDERS.some((o) => o.id === id && o.owner === user.id && o.status === 'paid') && !REFUNDED.has(id);

/** Stub login: the `x-user` header names the user. Use your real auth (sessions, JWT, passport) instead. */
export const userFromHeader = (value) => (typeof value === 'string' && Object.hasOwn(USERS, value) ? USERS[value] : undefined);

/** Resolves after `ms`, or at once when the run ends (`ctx.signal`): a slow tool must not outlive its run. */
/**
 * How long reports:build takes: 1.5 s. The README's session walk-through is tested with more
 * (EXAMPLE_REPORT_MS): on a loaded machine its commands, each a new curl, took longer than 1.5 s between
 * the start and the "still running" check.
 */
const REPORT_MS = Number(process.env.EXAMPLE_REPORT_MS) > 0 ? Number(process.env.EXAMPLE_REPORT_MS) : 1500;

function wait(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

export function toolsFor(user) {
  return {
    me: async () => ({ id: user.id, name: user.name }),
    'orders:list': async ({ status } = {}) => ORDERS.filter((o) => o.owner === user.id && (status === undefined || o.status === status)),
    'orders:get': async ({ id }) => {
      const order = ORDERS.find((o) => o.id === id);
      if (!order) throw new ToolError(`No order ${id}.`, { code: 'NOT_FOUND', status: 404 });
      if (order.owner !== user.id) throw new ToolError('Not your order.', { code: 'FORBIDDEN', status: 403 });
      return order;
    },
    // Money leaves: a person approves each refund first (README, "Approvals"). Only a refund that could
    // happen is put to them; anything else fails at once, as if the order did not exist.
    'orders:refund': defineTool({
      name: 'orders:refund',
      description: 'Refunds one of your paid orders in full. A person approves each refund before it happens.',
      sideEffect: true,
      needsApproval: ({ id }) => refundable(user, id),
      handler: async ({ id }) => {
        if (!refundable(user, id)) throw new ToolError(`No refundable order ${id}.`, { code: 'NOT_FOUND', status: 404 });
        REFUNDED.add(id);
        const order = ORDERS.find((o) => o.id === id);
        return { id, refunded: order.total };
      },
    }),
    // A slow report (a warehouse query, say): long enough to watch a session stream, drop it and cancel it.
    'reports:build': async ({ days = 30 } = {}, ctx) => {
      await wait(REPORT_MS, ctx.signal);
      const mine = ORDERS.filter((o) => o.owner === user.id);
      return { days, orders: mine.length, revenue: mine.filter((o) => o.status === 'paid').reduce((s, o) => s + o.total, 0) };
    },
  };
}

export const SAMPLE_SCRIPT =
  'const me = await callTool("me"); const paid = await callTool("orders:list", { status: "paid" }); return { user: me.name, paid: paid.length, total: paid.reduce((s, o) => s + o.total, 0) };';

export function banner(framework, port) {
  return [
    `enclave-kit ${framework} example on http://localhost:${port}/enclave`,
    'Try:',
    `  curl -s localhost:${port}/enclave -H 'x-user: alice' -H 'content-type: application/json' \\`,
    `    -d '{"code":"const paid = await callTool(\\"orders:list\\", { status: \\"paid\\" }); return paid.reduce((s, o) => s + o.total, 0);"}'`,
    `  curl -s localhost:${port}/enclave -H 'x-user: bob'          # the catalog of bob's tools`,
    'Stream the run as Server-Sent Events:',
    `  curl -N localhost:${port}/enclave -H 'x-user: alice' -H 'content-type: application/json' -H 'accept: text/event-stream' \\`,
    `    -d '{"code":"const paid = await callTool(\\"orders:list\\", { status: \\"paid\\" }); console.log(\\"paid orders:\\", paid.length); return paid.length;"}'`,
    `Code mode over MCP (search_tools, describe_tools, execute) for the same users: http://localhost:${port}/enclave/mcp`,
    `The playground, to write and run scripts in a browser: http://localhost:${port}/enclave/playground (headers box: x-user: alice)`,
  ].join('\n');
}
