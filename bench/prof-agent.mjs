import { Enclave } from '@enclave-kit/engine';
const AGENT = `const users = await callTool('users:list', { limit: 20 });
const active = users.filter((u) => u.active);
const orders = await callTool('orders:list', { userIds: active.map((u) => u.id) });
const stats = await callTool('stats:get', {});
const byUser = orders.reduce((acc, o) => { acc[o.userId] = (acc[o.userId] || 0) + o.total; return acc; }, {});
const top = Object.entries(byUser).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([id, total]) => ({ id: Number(id), total }));
return { active: active.length, revenue: Object.values(byUser).reduce((a, b) => a + b, 0), top, region: stats.region };`;
const USERS = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `user${i}`, active: i % 3 !== 0 }));
const tools = {
  'users:list': async ({ limit }) => USERS.slice(0, limit),
  'orders:list': async ({ userIds }) => userIds.flatMap((id) => [{ userId: id, total: id * 10 }, { userId: id, total: 5 }]),
  'stats:get': async () => ({ region: 'eu-west', uptime: 99.9 }),
};
const e = new Enclave();
for (let i = 0; i < 500; i++) await e.run(AGENT, { tools });
const t = [];
for (let i = 0; i < 3000; i++) { const a = performance.now(); const r = await e.run(AGENT, { tools }); t.push(performance.now() - a); if (!r.success) throw new Error(JSON.stringify(r)); }
t.sort((a, b) => a - b); console.log('p50', t[1500]);
