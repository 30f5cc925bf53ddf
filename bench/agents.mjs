// Twenty agent scripts of the kind LLMs write for a tool-calling route: several tools, loops, string
// work, grouping and sorting, a returned summary. The benchmarks run them round-robin, each with a
// unique trailing comment, so every run is text the engine has never seen (as in real traffic).

const REGIONS = ['eu-west', 'us-east', 'ap-south'];
const USERS = Array.from({ length: 40 }, (_, i) => ({
  id: i,
  name: `User ${i}`,
  email: `user${i}@example.com`,
  active: i % 3 !== 0,
  region: REGIONS[i % 3],
  signedUp: `2026-0${(i % 9) + 1}-1${i % 10}`,
}));
const PRODUCTS = Array.from({ length: 30 }, (_, i) => ({ sku: `SKU-${100 + i}`, title: `Product ${i} ${i % 2 ? 'pro' : 'lite'}`, price: 5 + ((i * 7) % 90), stock: (i * 13) % 40, tags: i % 2 ? ['pro', 'hw'] : ['lite'] }));
const TICKETS = Array.from({ length: 25 }, (_, i) => ({ id: `T-${i}`, userId: i % 40, priority: ['low', 'normal', 'high', 'urgent'][i % 4], subject: `Cannot ${i % 2 ? 'log in' : 'export report'} on ${REGIONS[i % 3]}`, open: i % 5 !== 0, ageHours: (i * 17) % 200 }));
const DOCS = Array.from({ length: 12 }, (_, i) => ({ id: `doc-${i}`, title: `How to ${['reset a password', 'export data', 'invite a team', 'rotate keys'][i % 4]} (${i})`, body: `Step one. Open settings. Step two: choose option ${i}. Contact support if it fails. `.repeat(3) }));

/** The tools the twenty scripts call: plain async functions over small in-memory data. */
export const agentTools = {
  'users:list': async ({ limit = 20, region } = {}) => USERS.filter((u) => !region || u.region === region).slice(0, limit),
  'users:get': async ({ id }) => USERS.find((u) => u.id === id) ?? null,
  'orders:list': async ({ userIds = [] }) => userIds.flatMap((id) => [{ id: `o${id}a`, userId: id, total: id * 10 + 3, status: 'paid' }, { id: `o${id}b`, userId: id, total: 5 + (id % 4), status: id % 4 ? 'paid' : 'refunded' }]),
  'products:search': async ({ query = '', limit = 10 }) => PRODUCTS.filter((p) => p.title.toLowerCase().includes(String(query).toLowerCase())).slice(0, limit),
  'inventory:get': async ({ skus = [] }) => skus.map((sku) => ({ sku, warehouse: sku.endsWith('1') ? 'north' : 'south', reserved: sku.length % 3 })),
  'tickets:list': async ({ open } = {}) => TICKETS.filter((t) => open === undefined || t.open === open),
  'docs:search': async ({ query = '' }) => DOCS.filter((d) => d.title.includes(query.split(' ')[0] ?? '')).slice(0, 5),
  'stats:get': async () => ({ region: 'eu-west', uptime: 99.9, requests: 123456 }),
  'weather:get': async ({ city }) => ({ city, tempC: 10 + (city.length % 15), wind: city.length % 7 }),
  'fx:rates': async () => ({ EUR: 1, USD: 1.09, GBP: 0.86, JPY: 162.4 }),
  'email:draft': async ({ to, subject, body }) => ({ id: `draft-${String(to).length}-${String(subject).length}`, bytes: String(body).length }),
};

/** [name, code] pairs: each returns a small object and calls two to four tools. */
export const AGENT_SCRIPTS = [
  ['revenue-by-user', `const users = await callTool('users:list', { limit: 20 });
const active = users.filter((u) => u.active);
const orders = await callTool('orders:list', { userIds: active.map((u) => u.id) });
const byUser = {};
for (const o of orders) byUser[o.userId] = (byUser[o.userId] || 0) + o.total;
const top = Object.entries(byUser).sort((a, b) => b[1] - a[1]).slice(0, 3);
return { active: active.length, top: top.map(([id, total]) => ({ id: Number(id), total })) };`],
  ['region-report', `const stats = await callTool('stats:get', {});
const users = await callTool('users:list', { limit: 40, region: stats.region });
const names = users.map((u) => u.name.toUpperCase()).join(', ');
return { region: stats.region, count: users.length, names: names.slice(0, 80) };`],
  ['refund-rate', `const users = await callTool('users:list', { limit: 40 });
const orders = await callTool('orders:list', { userIds: users.map((u) => u.id) });
let refunded = 0;
let paid = 0;
for (let i = 0; i < orders.length; i++) {
  if (orders[i].status === 'refunded') refunded += orders[i].total;
  else paid += orders[i].total;
}
return { refunded, paid, rate: Math.round((refunded / (paid + refunded)) * 1000) / 10 };`],
  ['low-stock', `const products = await callTool('products:search', { query: 'pro', limit: 20 });
const low = products.filter((p) => p.stock < 15);
const inv = await callTool('inventory:get', { skus: low.map((p) => p.sku) });
const where = new Map(inv.map((i) => [i.sku, i.warehouse]));
return low.map((p) => ({ sku: p.sku, stock: p.stock, warehouse: where.get(p.sku) ?? 'unknown' }));`],
  ['ticket-triage', `const tickets = await callTool('tickets:list', { open: true });
const order = { urgent: 0, high: 1, normal: 2, low: 3 };
const sorted = [...tickets].sort((a, b) => order[a.priority] - order[b.priority] || b.ageHours - a.ageHours);
const users = await Promise.all(sorted.slice(0, 3).map((t) => callTool('users:get', { id: t.userId })));
return sorted.slice(0, 3).map((t, i) => ({ id: t.id, priority: t.priority, who: users[i] ? users[i].email : null }));`],
  ['docs-answer', `const hits = await callTool('docs:search', { query: 'How to export' });
const snippets = [];
for (const d of hits) {
  const sentences = d.body.split('. ').filter((s) => s.includes('option'));
  snippets.push(d.title + ': ' + (sentences[0] || '').trim());
}
return { found: hits.length, answer: snippets.join('\\n').slice(0, 300) };`],
  ['weather-digest', `const cities = ['Berlin', 'Paris', 'Lisbon', 'Oslo', 'Rome'];
const reports = await Promise.all(cities.map((city) => callTool('weather:get', { city })));
const warmest = reports.reduce((best, r) => (r.tempC > best.tempC ? r : best), reports[0]);
const lines = reports.map((r) => \`\${r.city.padEnd(8)} \${String(r.tempC).padStart(3)}C wind \${r.wind}\`);
return { warmest: warmest.city, table: lines.join('\\n') };`],
  ['fx-convert', `const rates = await callTool('fx:rates', {});
const orders = await callTool('orders:list', { userIds: [1, 2, 3, 4, 5, 6] });
const totalEur = orders.reduce((s, o) => s + o.total, 0);
const out = {};
for (const [cur, rate] of Object.entries(rates)) out[cur] = Math.round(totalEur * rate * 100) / 100;
return out;`],
  ['email-drafts', `const tickets = await callTool('tickets:list', { open: true });
const urgent = tickets.filter((t) => t.priority === 'urgent').slice(0, 3);
const drafts = [];
for (const t of urgent) {
  const user = await callTool('users:get', { id: t.userId });
  const body = \`Hello \${user.name},\\n\\nWe are looking into "\${t.subject}". Ticket \${t.id}.\\n\`;
  drafts.push(await callTool('email:draft', { to: user.email, subject: 'Re: ' + t.subject, body }));
}
return { drafts: drafts.map((d) => d.id), bytes: drafts.reduce((s, d) => s + d.bytes, 0) };`],
  ['signup-cohorts', `const users = await callTool('users:list', { limit: 40 });
const cohorts = {};
for (const u of users) {
  const month = u.signedUp.slice(0, 7);
  cohorts[month] = cohorts[month] || { total: 0, active: 0 };
  cohorts[month].total++;
  if (u.active) cohorts[month].active++;
}
const stats = await callTool('stats:get', {});
return { months: Object.keys(cohorts).sort(), cohorts, uptime: stats.uptime };`],
  ['search-catalog', `const terms = ['lite', 'pro', 'Product 1'];
const seen = new Set();
const results = [];
for (const q of terms) {
  const hits = await callTool('products:search', { query: q, limit: 5 });
  for (const p of hits) if (!seen.has(p.sku)) { seen.add(p.sku); results.push({ sku: p.sku, title: p.title, price: p.price }); }
}
results.sort((a, b) => a.price - b.price);
return { count: results.length, cheapest: results.slice(0, 4) };`],
  ['price-histogram', `const products = await callTool('products:search', { query: '', limit: 30 });
const buckets = Array.from({ length: 5 }, () => 0);
for (const p of products) buckets[Math.min(4, Math.floor(p.price / 20))]++;
const bars = buckets.map((n, i) => \`\${i * 20}-\${i * 20 + 19}: \${'#'.repeat(n)}\`);
const rates = await callTool('fx:rates', {});
return { bars, usdMax: Math.round(Math.max(...products.map((p) => p.price)) * rates.USD) };`],
  ['tag-counts', `const products = await callTool('products:search', { query: 'product', limit: 30 });
const counts = new Map();
for (const p of products) for (const t of p.tags) counts.set(t, (counts.get(t) || 0) + 1);
const inv = await callTool('inventory:get', { skus: products.slice(0, 5).map((p) => p.sku) });
return { tags: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])), reserved: inv.reduce((s, i) => s + i.reserved, 0) };`],
  ['slug-titles', `const hits = await callTool('docs:search', { query: 'How' });
const slugs = hits.map((d) => d.title.toLowerCase().split('').map((c) => ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-')).join('').split('-').filter(Boolean).join('-'));
const stats = await callTool('stats:get', {});
return { slugs, region: stats.region };`],
  ['stale-tickets', `const tickets = await callTool('tickets:list', {});
const stale = [];
for (let i = 0; i < tickets.length; i++) {
  const t = tickets[i];
  if (!t.open || t.ageHours < 48) continue;
  stale.push({ id: t.id, days: Math.floor(t.ageHours / 24), subject: t.subject.length > 24 ? t.subject.slice(0, 24) + '...' : t.subject });
}
const users = await callTool('users:list', { limit: 40 });
const byId = new Map(users.map((u) => [u.id, u]));
return { stale: stale.length, first: stale.slice(0, 3), regions: [...new Set(tickets.map((t) => byId.get(t.userId)?.region))] };`],
  ['word-frequency', `const hits = await callTool('docs:search', { query: 'How to' });
const freq = {};
for (const d of hits) {
  for (const w of d.body.toLowerCase().split(/[^a-z]+/)) {
    if (w.length < 4) continue;
    freq[w] = (freq[w] || 0) + 1;
  }
}
const top = Object.entries(freq).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
return top.map(([word, n]) => word + ':' + n).join(' ');`],
  ['user-lookup', `const ids = [3, 7, 11, 19];
const users = [];
for (const id of ids) {
  try {
    const u = await callTool('users:get', { id });
    if (u) users.push(u);
  } catch (err) {
    console.warn('lookup failed', id);
  }
}
const orders = await callTool('orders:list', { userIds: users.map((u) => u.id) });
return users.map((u) => ({ email: u.email, orders: orders.filter((o) => o.userId === u.id).length }));`],
  ['csv-export', `const users = await callTool('users:list', { limit: 15 });
const orders = await callTool('orders:list', { userIds: users.map((u) => u.id) });
const rows = ['id,name,region,total'];
for (const u of users) {
  const total = orders.filter((o) => o.userId === u.id).reduce((s, o) => s + o.total, 0);
  rows.push([u.id, JSON.stringify(u.name), u.region, total.toFixed(2)].join(','));
}
const csv = rows.join('\\n');
return { lines: rows.length, bytes: csv.length, head: csv.slice(0, 60) };`],
  ['moving-average', `const stats = await callTool('stats:get', {});
const series = [];
for (let day = 0; day < 60; day++) series.push(Math.round(stats.requests / 60 + Math.sin(day / 5) * 100));
const window = 7;
const avg = [];
for (let i = window - 1; i < series.length; i++) {
  let s = 0;
  for (let j = i - window + 1; j <= i; j++) s += series[j];
  avg.push(Math.round(s / window));
}
const rates = await callTool('fx:rates', {});
return { points: avg.length, last: avg[avg.length - 1], peak: Math.max(...avg), usd: rates.USD };`],
  ['dedupe-emails', `const a = await callTool('users:list', { limit: 25 });
const b = await callTool('users:list', { limit: 40, region: 'us-east' });
const seen = new Set();
const merged = [];
for (const u of [...a, ...b]) {
  const key = u.email.trim().toLowerCase();
  if (seen.has(key)) continue;
  seen.add(key);
  merged.push({ email: key, domain: key.slice(key.indexOf('@') + 1) });
}
const domains = merged.reduce((acc, m) => { acc[m.domain] = (acc[m.domain] || 0) + 1; return acc; }, {});
return { unique: merged.length, duplicates: a.length + b.length - merged.length, domains };`],
].map(([name, code]) => ({ name, code }));
