// Fake tools for the demo: deterministic in-memory data behind async functions, shaped like the tools
// a host would expose to an agent (a user directory and an order service).
//
// A tool receives a copy of the script's arguments and a context ({ signal, runId, callIndex, tool,
// context }); what it returns is copied into the sandbox. Throwing fails the call: the script sees a
// redacted ToolError it can catch.

const USERS = [
  { id: 1, name: 'Ada Lovelace', email: 'ada@example.com', active: true, country: 'GB' },
  { id: 2, name: 'Alan Turing', email: 'alan@example.com', active: true, country: 'GB' },
  { id: 3, name: 'Grace Hopper', email: 'grace@example.com', active: true, country: 'US' },
  { id: 4, name: 'Edsger Dijkstra', email: 'edsger@example.com', active: false, country: 'NL' },
  { id: 5, name: 'Barbara Liskov', email: 'barbara@example.com', active: true, country: 'US' },
];

// Amounts in cents, so sums are exact.
const ORDERS = [
  { id: 'o-1001', userId: 1, amount: 12_500, status: 'paid', createdAt: '2024-03-02T10:15:00.000Z' },
  { id: 'o-1002', userId: 1, amount: 4_999, status: 'refunded', createdAt: '2024-03-09T08:00:00.000Z' },
  { id: 'o-1003', userId: 2, amount: 30_000, status: 'paid', createdAt: '2024-04-11T16:45:00.000Z' },
  { id: 'o-1004', userId: 3, amount: 7_250, status: 'paid', createdAt: '2024-02-20T12:30:00.000Z' },
  { id: 'o-1005', userId: 3, amount: 18_000, status: 'paid', createdAt: '2024-05-01T09:05:00.000Z' },
  { id: 'o-1006', userId: 3, amount: 2_100, status: 'pending', createdAt: '2024-05-03T14:20:00.000Z' },
  { id: 'o-1007', userId: 4, amount: 9_900, status: 'paid', createdAt: '2023-11-30T18:00:00.000Z' },
  { id: 'o-1008', userId: 5, amount: 15_400, status: 'paid', createdAt: '2024-04-28T11:10:00.000Z' },
];

/** Stands in for network latency; fixed, so output and ordering never vary. */
const latency = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function requireUserId(userId) {
  if (!Number.isInteger(userId)) throw new TypeError(`userId must be an integer, got ${typeof userId}`);
  return userId;
}

export default {
  /** Users, optionally only the active ones: `{ active?: boolean }`. */
  'users:list': async ({ active } = {}) => {
    await latency(2);
    return USERS.filter((u) => active === undefined || u.active === active).map((u) => ({ ...u }));
  },

  /** One user by id: `{ id }`. */
  'users:get': async ({ id }) => {
    await latency(1);
    const user = USERS.find((u) => u.id === requireUserId(id));
    return user ? { ...user } : null;
  },

  /** Orders of one user, newest first: `{ userId, status? }`. */
  'orders:list': async ({ userId, status }) => {
    await latency(2);
    requireUserId(userId);
    return ORDERS.filter((o) => o.userId === userId && (status === undefined || o.status === status))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((o) => ({ ...o }));
  },

  /** Sum of order amounts for some users: `{ userIds: number[], status? }` -> `{ total, count, currency }`. */
  'orders:total': async ({ userIds, status }) => {
    await latency(1);
    if (!Array.isArray(userIds)) throw new TypeError('userIds must be an array');
    const ids = new Set(userIds.map(requireUserId));
    const picked = ORDERS.filter((o) => ids.has(o.userId) && (status === undefined || o.status === status));
    return { total: picked.reduce((sum, o) => sum + o.amount, 0), count: picked.length, currency: 'EUR' };
  },
};
