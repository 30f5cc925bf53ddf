// An AgentScript as an LLM agent would write it: the body of an async function. It can call the
// host's tools with `callTool(name, args)`, read `input`, log with `console`, and `return` a result.
// Try `enclave check examples/demo/agent.js --level STRICT`: the stricter dialects have no Promise,
// Set, console or throw, and check lists each use with a code frame.

const status = input?.status ?? 'paid';
const users = await callTool('users:list', { active: true });

// Fetch every user's orders concurrently.
const ordersByUser = await Promise.all(users.map((user) => callTool('orders:list', { userId: user.id, status })));

const customers = users
  .map((user, i) => {
    const orders = ordersByUser[i];
    const spent = orders.reduce((sum, order) => sum + order.amount, 0);
    return { name: user.name, country: user.country, orders: orders.length, spent, lastOrder: orders[0]?.createdAt ?? null };
  })
  .filter((c) => c.orders > 0)
  .sort((a, b) => b.spent - a.spent);

// Cross-check our own sum against the order service.
const totals = await callTool('orders:total', { userIds: users.map((u) => u.id), status });
const ourTotal = customers.reduce((sum, c) => sum + c.spent, 0);
if (ourTotal !== totals.total) throw new Error(`Totals disagree: ${ourTotal} vs ${totals.total}`);

const countries = new Set(customers.map((c) => c.country));
const latest = customers.map((c) => c.lastOrder).sort().at(-1);
console.log(`${customers.length} of ${users.length} active users have ${status} orders, ${totals.count} in all`);

return {
  status,
  revenue: `${(totals.total / 100).toFixed(2)} ${totals.currency}`,
  averageOrder: Math.round(totals.total / totals.count),
  countries,
  latestOrder: new Date(latest),
  topCustomers: customers.slice(0, 3).map(({ name, spent }) => ({ name, spent })),
};
