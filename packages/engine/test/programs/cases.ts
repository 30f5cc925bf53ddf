/**
 * Ordinary AgentScript programs, the kind an LLM agent writes against the tools in `fixtures.ts`, each
 * with its exact expected result. They all run at the default level (STANDARD) on one shared Enclave.
 *
 * Program text is written with the `js` tag: backslashes are kept as written (regexes read as in a
 * source file); only "\`" and "\${" are escapes, for a backtick and for a template's "\${".
 */

/** Program source: raw text, where only \` and \${ are escapes (see above). */
export function js(strings: TemplateStringsArray): string {
  return (strings.raw[0] ?? '').replace(/\\([`$])/g, '$1').replace(/^\n/, '');
}

export interface ProgramCase {
  name: string;
  code: string;
  input?: unknown;
  /** The exact value the run returns. */
  value: unknown;
  toolCalls: number;
  /** `[level, message]` of every captured console entry, in order. */
  logs?: [string, string][];
  /**
   * Set when the engine currently gets this valid program wrong: the test asserts the correct result
   * and is expected to fail (`it.fails`) until the engine is fixed. Names the cause.
   */
  knownIssue?: string;
}


export const STANDARD_PROGRAMS: ProgramCase[] = [
  // ---- sequential tool calls feeding each other -------------------------------------------------
  {
    name: 'user, then their orders, then total spend',
    input: { userId: 'u1' },
    code: js`
const user = await callTool('users:get', { id: input.userId });
const orders = await callTool('orders:list', { userId: user.id });
const kept = orders.filter((o) => o.status !== 'cancelled');
const total = kept.reduce((sum, o) => sum + o.items.reduce((s, i) => s + i.qty * i.price, 0), 0);
return { name: user.name, orderCount: kept.length, total: Math.round(total * 100) / 100 };
`,
    value: { name: 'Ada Lovelace', orderCount: 3, total: 512.47 },
    toolCalls: 2,
  },
  {
    name: 'user, then team, then active teammates',
    code: js`
const user = await callTool('users:get', { id: 'u2' });
const team = await callTool('teams:get', { id: user.teamId });
const teammates = await callTool('users:list', { teamId: team.id, active: true });
const others = teammates.filter((u) => u.id !== user.id).map((u) => u.name);
return \`\${user.name} works in \${team.name} with \${others.join(', ') || 'nobody'}\`;
`,
    value: 'Grace Hopper works in Platform with Ada Lovelace',
    toolCalls: 3,
  },
  {
    name: 'order lines enriched one product at a time (await in for-of)',
    code: js`
const order = await callTool('orders:get', { id: 'o-1004' });
const lines = [];
for (const item of order.items) {
  const product = await callTool('products:get', { sku: item.sku });
  lines.push({ name: product.name, qty: item.qty, subtotal: +(item.qty * item.price).toFixed(2) });
}
return lines;
`,
    value: [
      { name: 'Docking Station', qty: 1, subtotal: 129 },
      { name: 'USB-C Cable', qty: 3, subtotal: 29.97 },
    ],
    toolCalls: 3,
  },
  {
    name: 'manager chain walked with a bounded while loop',
    code: js`
let user = await callTool('users:get', { id: 'u6' });
const chain = [user.name];
let hops = 0;
while (user.managerId && hops < 10) {
  user = await callTool('users:get', { id: user.managerId });
  chain.push(user.name);
  hops++;
}
return chain.join(' -> ');
`,
    value: 'Ken Thompson -> Linus Torvalds -> Grace Hopper -> Ada Lovelace',
    toolCalls: 4,
  },
  {
    name: 'search documents, load them, e-mail addresses of their authors',
    code: js`
const hits = await callTool('documents:search', { query: 'security' });
const docs = await Promise.all(hits.map((h) => callTool('documents:get', { id: h.id })));
const authorIds = [...new Set(docs.map((d) => d.authorId))];
const authors = await Promise.all(authorIds.map((id) => callTool('users:get', { id })));
return authors.map((a) => a.email);
`,
    value: ['ada@example.com', 'grace@example.com'],
    toolCalls: 5,
  },
  {
    name: 'tool name chosen at run time from data',
    code: js`
const refs = [{ type: 'users', id: 'u1' }, { type: 'orders', id: 'o-1002' }, { type: 'tickets', id: 103 }];
const resolved = [];
for (const ref of refs) {
  const entity = await callTool(\`\${ref.type}:get\`, { id: ref.id });
  resolved.push(entity.name ?? entity.title ?? entity.status);
}
return resolved;
`,
    value: ['Ada Lovelace', 'shipped', 'Typo on pricing page'],
    toolCalls: 3,
  },

  // ---- parallel tool calls ---------------------------------------------------------------------
  {
    name: 'Promise.all over ids from input keeps the order',
    input: { ids: ['u3', 'u1', 'u5'] },
    code: js`
const users = await Promise.all(input.ids.map((id) => callTool('users:get', { id })));
return users.map(({ name, role }) => \`\${name} (\${role})\`);
`,
    value: ['Alan Turing (member)', 'Ada Lovelace (admin)', 'Barbara Liskov (viewer)'],
    toolCalls: 3,
  },
  {
    name: 'Promise.all over three different tools, destructured',
    code: js`
const [users, orders, products] = await Promise.all([
  callTool('users:list', {}),
  callTool('orders:list', {}),
  callTool('products:list', {}),
]);
return { users: users.length, orders: orders.length, products: products.length };
`,
    value: { users: 6, orders: 8, products: 6 },
    toolCalls: 3,
  },
  {
    name: 'Promise.allSettled separates found and missing products',
    code: js`
const skus = ['KB-01', 'XX-99', 'HS-07'];
const results = await Promise.allSettled(skus.map((sku) => callTool('products:get', { sku })));
const found = [];
const missing = [];
results.forEach((r, i) => {
  if (r.status === 'fulfilled') found.push(r.value.name);
  else missing.push({ sku: skus[i], code: r.reason.code, message: r.reason.message });
});
return { found, missing };
`,
    value: {
      found: ['Mechanical Keyboard', 'Headset'],
      missing: [{ sku: 'XX-99', code: 'NOT_FOUND', message: 'Product XX-99 not found' }],
    },
    toolCalls: 3,
  },
  {
    name: 'inventory of every product checked in parallel',
    code: js`
const products = await callTool('products:list');
const stock = await Promise.all(products.map((p) => callTool('inventory:check', { sku: p.sku })));
const outOfStock = products.filter((p, i) => stock[i].available === 0).map((p) => p.sku);
const low = stock.filter((s) => s.available > 0 && s.available < 10).map((s) => \`\${s.sku}:\${s.available}\`);
return { outOfStock, low };
`,
    value: { outOfStock: ['MS-02', 'DK-05'], low: ['MN-27:3', 'HS-07:7'] },
    toolCalls: 7,
  },
  {
    name: 'chunks of three fetched in parallel, chunk after chunk',
    input: { ticketIds: [101, 102, 103, 104, 105, 106, 107] },
    code: js`
const ids = input.ticketIds;
const chunks = [];
for (let i = 0; i < ids.length; i += 3) chunks.push(ids.slice(i, i + 3));
const results = [];
for (const chunk of chunks) {
  const batch = await Promise.all(chunk.map((id) => callTool('tickets:get', { id })));
  results.push(batch.map((t) => t.priority));
}
return { chunks: chunks.length, results };
`,
    value: { chunks: 3, results: [['urgent', 'medium', 'low'], ['high', 'medium', 'high'], ['low']] },
    toolCalls: 7,
  },
  {
    name: 'Promise.any takes the first service that answers',
    code: js`
const weather = await Promise.any([
  callTool('weather:get', { city: 'Atlantis' }),
  callTool('weather:get', { city: 'Lisbon' }),
]);
return \`\${weather.city}: \${weather.tempC}°C, \${weather.condition}\`;
`,
    value: 'Lisbon: 21°C, sunny',
    toolCalls: 2,
  },
  {
    name: 'two metric series loaded by an async arrow helper and merged by date',
    code: js`
const load = async (name) => ({ name, points: await callTool('metrics:query', { name, from: '2024-03-05' }) });
const series = await Promise.all(['dau', 'errors'].map(load));
const byDate = {};
for (const s of series) {
  for (const p of s.points) (byDate[p.date] ??= {})[s.name] = p.value;
}
return byDate;
`,
    value: {
      '2024-03-05': { dau: 1510, errors: 4 },
      '2024-03-06': { dau: 1490, errors: 18 },
      '2024-03-07': { dau: 1600, errors: 5 },
    },
    toolCalls: 2,
  },
  {
    name: 'bulk ticket update with allSettled reports each outcome',
    code: js`
const updates = [
  { id: 101, status: 'pending' },
  { id: 999, status: 'closed' },
  { id: 102, status: 'done' },
];
const results = await Promise.allSettled(updates.map((u) => callTool('tickets:update', u)));
return results.map((r, i) =>
  r.status === 'fulfilled' ? \`\${updates[i].id}: ok (\${r.value.status})\` : \`\${updates[i].id}: \${r.reason.code}\`,
);
`,
    value: ['101: ok (pending)', '999: NOT_FOUND', '102: INVALID_ARGUMENT'],
    toolCalls: 3,
  },

  // ---- array methods -----------------------------------------------------------------------------
  {
    name: 'top three products by price (sort a copy, slice, map)',
    code: js`
const products = await callTool('products:list', {});
return products.slice().sort((a, b) => b.price - a.price).slice(0, 3).map((p) => p.sku);
`,
    value: ['MN-27', 'DK-05', 'KB-01'],
    toolCalls: 1,
  },
  {
    name: 'find, some and every with optional chaining',
    code: js`
const users = await callTool('users:list', {});
const firstInactive = users.find((u) => !u.active);
return {
  firstInactive: firstInactive?.name,
  anyAdmin: users.some((u) => u.role === 'admin'),
  allHaveEmail: users.every((u) => u.email.includes('@')),
  allActive: users.every((u) => u.active),
  owner: users.find((u) => u.role === 'owner')?.name ?? 'none',
};
`,
    value: { firstInactive: 'Alan Turing', anyAdmin: true, allHaveEmail: true, allActive: false, owner: 'none' },
    toolCalls: 1,
  },
  {
    name: 'flatMap every ordered SKU, de-duplicate with a Set, sort',
    code: js`
const orders = await callTool('orders:list', {});
const skus = orders.flatMap((o) => o.items.map((i) => i.sku));
return [...new Set(skus)].sort();
`,
    value: ['CB-10', 'DK-05', 'HS-07', 'KB-01', 'MN-27', 'MS-02'],
    toolCalls: 1,
  },
  {
    name: 'count tickets per status into a plain object',
    code: js`
const tickets = await callTool('tickets:list', {});
const byStatus = {};
for (const t of tickets) {
  byStatus[t.status] = (byStatus[t.status] || 0) + 1;
}
return byStatus;
`,
    value: { open: 3, pending: 1, closed: 3 },
    toolCalls: 1,
  },
  {
    name: 'group product names by category with reduce and ??=',
    code: js`
const products = await callTool('products:list', {});
const byCategory = products.reduce((acc, p) => {
  (acc[p.category] ??= []).push(p.name);
  return acc;
}, {});
return byCategory;
`,
    value: {
      peripherals: ['Mechanical Keyboard', 'Wireless Mouse'],
      displays: ['27" Monitor'],
      accessories: ['USB-C Cable', 'Docking Station'],
      audio: ['Headset'],
    },
    toolCalls: 1,
  },
  {
    name: 'revenue per customer with a Map, sorted descending',
    code: js`
const orders = await callTool('orders:list', { status: 'paid' });
const revenue = new Map();
for (const order of orders) {
  const amount = order.items.reduce((s, { qty, price }) => s + qty * price, 0);
  revenue.set(order.userId, (revenue.get(order.userId) ?? 0) + amount);
}
return [...revenue.entries()]
  .map(([userId, total]) => ({ userId, total: Math.round(total * 100) / 100 }))
  .sort((a, b) => b.total - a.total);
`,
    value: [
      { userId: 'u1', total: 487.97 },
      { userId: 'u4', total: 158.97 },
      { userId: 'u2', total: 144.4 },
    ],
    toolCalls: 1,
  },
  {
    name: 'top two customers by order count, then their names',
    code: js`
const orders = await callTool('orders:list', {});
const counts = {};
orders.filter((o) => o.status !== 'cancelled').forEach((o) => {
  counts[o.userId] = (counts[o.userId] ?? 0) + 1;
});
const top = Object.entries(counts).sort(([, a], [, b]) => b - a).slice(0, 2);
const users = await Promise.all(top.map(([id]) => callTool('users:get', { id })));
return users.map((u, i) => \`\${i + 1}. \${u.name} - \${top[i][1]} orders\`);
`,
    value: ['1. Ada Lovelace - 3 orders', '2. Grace Hopper - 2 orders'],
    toolCalls: 3,
  },
  {
    name: 'de-duplicate users from two queries by id',
    code: js`
const members = await callTool('users:list', { role: 'member' });
const active = await callTool('users:list', { active: true });
const seen = new Set();
const merged = [];
for (const u of [...members, ...active]) {
  if (seen.has(u.id)) continue;
  seen.add(u.id);
  merged.push(u.id);
}
return merged;
`,
    value: ['u2', 'u3', 'u4', 'u1', 'u5'],
    toolCalls: 2,
  },
  {
    name: 'indexOf, findLast, findIndex, at and includes',
    code: js`
const tickets = await callTool('tickets:list', {});
const ids = tickets.map((t) => t.id);
return {
  idxOf104: ids.indexOf(104),
  lastBug: tickets.findLast((t) => t.tags.includes('bug'))?.id,
  firstHighIdx: tickets.findIndex((t) => t.priority === 'high'),
  last: ids.at(-1),
  hasClosed: tickets.map((t) => t.status).includes('closed'),
};
`,
    value: { idxOf104: 3, lastBug: 107, firstHighIdx: 3, last: 107, hasClosed: true },
    toolCalls: 1,
  },
  {
    name: 'toSorted by role, then newest first',
    code: js`
const users = await callTool('users:list', {});
const sorted = users.toSorted((a, b) => a.role.localeCompare(b.role) || b.createdAt.localeCompare(a.createdAt));
return sorted.map((u) => \`\${u.role}/\${u.id}\`);
`,
    value: ['admin/u1', 'member/u4', 'member/u3', 'member/u2', 'viewer/u6', 'viewer/u5'],
    toolCalls: 1,
  },
  {
    name: 'histogram buckets built with Array.from',
    code: js`
const points = await callTool('metrics:query', { name: 'errors' });
const buckets = Array.from({ length: 4 }, (_, i) => ({ from: i * 10, to: i * 10 + 9, count: 0 }));
for (const { value } of points) {
  const idx = Math.min(Math.floor(value / 10), buckets.length - 1);
  buckets[idx].count++;
}
return buckets.map((b) => \`\${b.from}-\${b.to}: \${'#'.repeat(b.count)}\`);
`,
    value: ['0-9: ####', '10-19: ##', '20-29: ', '30-39: #'],
    toolCalls: 1,
  },
  {
    name: 'Object.fromEntries, keys, values and assign',
    code: js`
const products = await callTool('products:list', {});
const priceBySku = Object.fromEntries(products.map((p) => [p.sku, p.price]));
const cheap = Object.keys(priceBySku).filter((sku) => priceBySku[sku] < 30);
const total = Object.values(priceBySku).reduce((a, b) => a + b, 0);
return Object.assign({}, { count: products.length }, { cheap, total: Math.round(total) });
`,
    value: { count: 6, cheap: ['MS-02', 'CB-10'], total: 562 },
    toolCalls: 1,
  },
  {
    name: 'tag sets: intersection, difference, union',
    code: js`
const [dock, keyboard] = await Promise.all([
  callTool('products:get', { sku: 'DK-05' }),
  callTool('products:get', { sku: 'KB-01' }),
]);
const a = new Set(dock.tags);
const b = new Set(keyboard.tags);
return {
  both: [...a].filter((t) => b.has(t)),
  onlyDock: [...a].filter((t) => !b.has(t)),
  union: [...new Set([...a, ...b])].sort(),
  size: a.size,
};
`,
    value: { both: ['usb'], onlyDock: ['hdmi', 'ethernet'], union: ['ethernet', 'hdmi', 'rgb', 'usb'], size: 3 },
    toolCalls: 2,
  },

  // ---- destructuring, spread, rest, defaults, optional chaining -----------------------------------
  {
    name: 'object destructuring with rename, default and rest; array rest',
    code: js`
const { name, email: contact, teamId = 'none', ...rest } = await callTool('users:get', { id: 'u5' });
const [first, ...others] = name.split(' ');
return { first, others, contact, teamId, restKeys: Object.keys(rest).sort() };
`,
    value: {
      first: 'Barbara',
      others: ['Liskov'],
      contact: 'barbara@example.org',
      teamId: null,
      restKeys: ['active', 'createdAt', 'id', 'managerId', 'role'],
    },
    toolCalls: 1,
  },
  {
    name: 'helper functions with default and rest parameters',
    code: js`
function formatPrice(amount, currency = 'USD', digits = 2) {
  return \`\${amount.toFixed(digits)} \${currency}\`;
}
function sum(...values) {
  return values.reduce((a, b) => a + b, 0);
}
const product = await callTool('products:get', { sku: 'HS-07' });
return [formatPrice(product.price), formatPrice(product.price, 'EUR', 0), sum(1, 2, 3, 4), sum()];
`,
    value: ['59.95 USD', '60 EUR', 10, 0],
    toolCalls: 1,
  },
  {
    name: 'spread merges options from input over defaults',
    input: { options: { limit: 5, sort: 'priority' }, tags: ['bug', 'auth'] },
    code: js`
const defaults = { limit: 10, sort: 'createdAt', order: 'desc' };
const options = { ...defaults, ...input.options, order: input.options.order ?? defaults.order };
const tags = [...new Set([...input.tags, 'triage', ...input.tags])];
return { options, tags };
`,
    value: { options: { limit: 5, sort: 'priority', order: 'desc' }, tags: ['bug', 'auth', 'triage'] },
    toolCalls: 0,
  },
  {
    name: 'destructured input with defaults drives a filter',
    input: { minPriority: 'high', limit: 5 },
    code: js`
const { status = 'open', minPriority = 'low', limit = 10 } = input ?? {};
const rank = { low: 0, medium: 1, high: 2, urgent: 3 };
const tickets = await callTool('tickets:list', { status });
return tickets
  .filter((t) => rank[t.priority] >= rank[minPriority])
  .sort((a, b) => rank[b.priority] - rank[a.priority] || a.id - b.id)
  .slice(0, limit)
  .map((t) => t.id);
`,
    value: [101, 104, 106],
    toolCalls: 1,
  },
  {
    name: 'optional chaining and ?? over sparse fields',
    code: js`
const users = await callTool('users:list', {});
return users.map((u) => ({
  id: u.id,
  manager: u.managerId ?? null,
  team: u.teamId?.toUpperCase() ?? 'UNASSIGNED',
  domain: u.email.split('@')[1]?.split('.')[0],
  city: u.profile?.address?.city ?? 'n/a',
}));
`,
    value: [
      { id: 'u1', manager: null, team: 'T1', domain: 'example', city: 'n/a' },
      { id: 'u2', manager: 'u1', team: 'T1', domain: 'example', city: 'n/a' },
      { id: 'u3', manager: 'u1', team: 'T2', domain: 'example', city: 'n/a' },
      { id: 'u4', manager: 'u2', team: 'T2', domain: 'example', city: 'n/a' },
      { id: 'u5', manager: 'u2', team: 'UNASSIGNED', domain: 'example', city: 'n/a' },
      { id: 'u6', manager: 'u4', team: 'T1', domain: 'example', city: 'n/a' },
    ],
    toolCalls: 1,
  },
  {
    name: 'omit private fields with rest in the map callback',
    code: js`
const users = await callTool('users:list', { active: true });
return users.map(({ email, createdAt, managerId, ...pub }) => ({ ...pub, joined: createdAt.slice(0, 4) }));
`,
    value: [
      { id: 'u1', name: 'Ada Lovelace', role: 'admin', active: true, teamId: 't1', joined: '2023' },
      { id: 'u2', name: 'Grace Hopper', role: 'member', active: true, teamId: 't1', joined: '2023' },
      { id: 'u4', name: 'Linus Torvalds', role: 'member', active: true, teamId: 't2', joined: '2024' },
      { id: 'u5', name: 'Barbara Liskov', role: 'viewer', active: true, teamId: null, joined: '2024' },
    ],
    toolCalls: 1,
  },

  // ---- strings, templates, regexes ---------------------------------------------------------------
  {
    name: 'multi-line template literal with nested template',
    code: js`
const t = await callTool('tickets:get', { id: 104 });
const msg = \`Ticket #\${t.id}: \${t.title}
Priority: \${t.priority.toUpperCase()}
Assignee: \${t.assignee ?? 'unassigned'}
Tags: \${t.tags.map((tag) => \`#\${tag}\`).join(' ')}\`;
return msg;
`,
    value: 'Ticket #104: Password reset email not sent\nPriority: HIGH\nAssignee: unassigned\nTags: #auth #email #bug',
    toolCalls: 1,
  },
  {
    name: 'slugify titles with regex replace',
    code: js`
const docs = await callTool('documents:search', { query: 'e' });
return docs.map((d) => d.title.toLowerCase().trim().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''));
`,
    value: ['onboarding-guide', 'security-policy', 'release-checklist', 'incident-report-2024-03-14'],
    toolCalls: 1,
  },
  {
    name: 'version number parsed with regex groups and bumped',
    code: js`
const doc = await callTool('documents:get', { id: 'd3' });
const m = doc.body.match(/v(\d+)\.(\d+)\.(\d+)/);
const [, major, minor, patch] = m;
return { current: m[0], next: \`v\${major}.\${minor}.\${Number(patch) + 1}\`, index: m.index };
`,
    value: { current: 'v2.4.1', next: 'v2.4.2', index: 53 },
    toolCalls: 1,
  },
  {
    name: 'e-mail addresses extracted with named groups and matchAll',
    code: js`
const docs = await Promise.all(['d1', 'd2', 'd3', 'd4'].map((id) => callTool('documents:get', { id })));
const emails = [];
for (const doc of docs) {
  for (const match of doc.body.matchAll(/(?<user>[\w.+-]+)@(?<domain>[\w-]+\.[a-z]{2,})/g)) {
    emails.push({ doc: doc.id, user: match.groups.user, domain: match.groups.domain });
  }
}
return emails;
`,
    value: [
      { doc: 'd2', user: 'security', domain: 'example.com' },
      { doc: 'd4', user: 'ops', domain: 'example.com' },
    ],
    toolCalls: 4,
  },
  {
    name: 'redact e-mails with a replacer function; exec and test',
    code: js`
const doc = await callTool('documents:get', { id: 'd4' });
const redacted = doc.body.replace(/([\w.]+)@([\w.]+)/g, (_, user, domain) => \`\${user[0]}***@\${domain}\`);
const minutes = Number(/(\d+) minutes/.exec(doc.body)[1]);
return { redacted, minutes, hasTls: /tls/i.test(doc.body) };
`,
    value: {
      redacted: 'Outage of 42 minutes. Root cause: expired TLS certificate. Contact o***@example.com for details.',
      minutes: 42,
      hasTls: true,
    },
    toolCalls: 1,
  },
  {
    name: 'RegExp built from user input with the MDN escape helper',
    input: { term: 'the' },
    code: js`
const escapeRe = (s) => s.replace(/[.*+?^\${}()|[\]\\]/g, '\\\$&');
const re = new RegExp(\`\\b\${escapeRe(input.term)}\\b\`, 'gi');
const docs = await Promise.all(['d1', 'd2', 'd3', 'd4'].map((id) => callTool('documents:get', { id })));
return docs.map((d) => ({ id: d.id, hits: (d.body.match(re) || []).length })).filter((d) => d.hits > 0);
`,
    value: [
      { id: 'd1', hits: 3 },
      { id: 'd3', hits: 3 },
    ],
    toolCalls: 4,
  },
  {
    name: 'padStart, padEnd, slice, includes, startsWith, toUpperCase',
    code: js`
const tickets = await callTool('tickets:list', {});
return tickets
  .filter((t) => t.title.includes('page') || t.title.startsWith('API'))
  .map((t) => \`\${String(t.id).padStart(6, '0')} | \${t.title.slice(0, 12).padEnd(12, '.')} | \${t.priority.toUpperCase()}\`);
`,
    value: ['000101 | Login page r | URGENT', '000103 | Typo on pric | LOW', '000106 | API rate lim | HIGH'],
    toolCalls: 1,
  },
  {
    name: 'clean up pasted text: split, trim, filter, replace with string and regex',
    input: { text: '  # header\n  TODO:   write   tests \n\n  ship   it  \n# end' },
    code: js`
return input.text
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line.length > 0 && !line.startsWith('#'))
  .map((line) => line.replace('TODO', 'DONE').replace(/\s+/g, ' '));
`,
    value: ['DONE: write tests', 'ship it'],
    toolCalls: 0,
  },
  {
    name: 'word count with a plain object',
    code: js`
const doc = await callTool('documents:get', { id: 'd3' });
const counts = {};
for (const word of doc.body.toLowerCase().match(/[a-z]+/g)) {
  counts[word] = (counts[word] || 0) + 1;
}
return Object.entries(counts)
  .filter(([, n]) => n > 1)
  .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
`,
    value: [['the', 3]],
    toolCalls: 1,
  },
  {
    name: 'word frequency across documents with a Map and a stop-word Set',
    code: js`
const hits = await callTool('documents:search', { query: 'e' });
const docs = await Promise.all(hits.map((h) => callTool('documents:get', { id: h.id })));
const stop = new Set(['the', 'to', 'and', 'of', 'your', 'for', 'then', 'with']);
const freq = new Map();
for (const doc of docs) {
  for (const w of doc.body.toLowerCase().split(/\W+/)) {
    if (!w || stop.has(w) || w.length < 4) continue;
    freq.set(w, (freq.get(w) ?? 0) + 1);
  }
}
const top = [...freq].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 4);
return top.map(([word, count]) => ({ word, count }));
`,
    value: [
      { word: 'example', count: 2 },
      { word: 'security', count: 2 },
      { word: 'cause', count: 1 },
      { word: 'certificate', count: 1 },
    ],
    toolCalls: 5,
  },
  {
    name: 'aligned price table with padEnd and padStart',
    code: js`
const products = await callTool('products:list', { category: 'peripherals' });
const width = Math.max(...products.map((p) => p.name.length));
return products.map((p) => \`\${p.name.padEnd(width)}  \${p.price.toFixed(2).padStart(8)}\`).join('\n');
`,
    value: 'Mechanical Keyboard     89.99\nWireless Mouse          24.50',
    toolCalls: 1,
  },
  {
    name: 'query string built with encodeURIComponent',
    input: { query: 'café & bar', tags: ['a b', 'c'] },
    code: js`
const params = { q: input.query, tags: input.tags.join(','), page: 2 };
const qs = Object.entries(params)
  .map(([k, v]) => \`\${encodeURIComponent(k)}=\${encodeURIComponent(v)}\`)
  .join('&');
return \`https://api.example.com/search?\${qs}\`;
`,
    value: 'https://api.example.com/search?q=caf%C3%A9%20%26%20bar&tags=a%20b%2Cc&page=2',
    toolCalls: 0,
  },
  {
    name: 'numbers parsed from messy strings',
    input: { rows: ['  42 ', '3.5kg', 'n/a', '1e3', '0x1F'] },
    code: js`
return input.rows.map((r) => ({
  raw: r,
  int: parseInt(r, 10),
  float: parseFloat(r),
  num: Number(r),
  valid: !Number.isNaN(Number(r)),
}));
`,
    value: [
      { raw: '  42 ', int: 42, float: 42, num: 42, valid: true },
      // NaN is null in a result, as JSON.stringify writes it.
      { raw: '3.5kg', int: 3, float: 3.5, num: null, valid: false },
      { raw: 'n/a', int: null, float: null, num: null, valid: false },
      { raw: '1e3', int: 1, float: 1000, num: 1000, valid: true },
      { raw: '0x1F', int: 0, float: 0, num: 31, valid: true },
    ],
    toolCalls: 0,
  },

  // ---- JSON -------------------------------------------------------------------------------------
  {
    name: 'JSON.stringify(x, null, 2) and JSON.parse round trip',
    code: js`
const team = await callTool('teams:get', { id: 't2' });
const pretty = JSON.stringify(team, null, 2);
const parsed = JSON.parse(pretty);
return { pretty, same: parsed.budget === team.budget, lines: pretty.split('\n').length };
`,
    value: { pretty: '{\n  "id": "t2",\n  "name": "Research",\n  "budget": 8000\n}', same: true, lines: 5 },
    toolCalls: 1,
  },
  {
    name: 'JSON payload from input parsed and summarised',
    input: { payload: '{"items":[{"id":1,"qty":2},{"id":2,"qty":5}]}' },
    code: js`
const data = JSON.parse(input.payload);
const totalQty = data.items.reduce((n, it) => n + it.qty, 0);
return JSON.stringify({ count: data.items.length, totalQty });
`,
    value: '{"count":2,"totalQty":7}',
    toolCalls: 0,
  },
  {
    name: 'JSON.stringify with a key allow-list and a replacer function',
    code: js`
const user = await callTool('users:get', { id: 'u3' });
const safe = JSON.stringify(user, ['id', 'name', 'role']);
const noEmail = JSON.stringify(user, (key, value) => (key === 'email' ? undefined : value));
return { safe, hasEmail: noEmail.includes('@'), keys: Object.keys(JSON.parse(noEmail)).length };
`,
    value: { safe: '{"id":"u3","name":"Alan Turing","role":"member"}', hasEmail: false, keys: 7 },
    toolCalls: 1,
  },

  // ---- dates and Math -----------------------------------------------------------------------------
  {
    name: 'ticket resolution time in hours from Date subtraction',
    code: js`
const closed = await callTool('tickets:list', { status: 'closed' });
const hours = closed.map((t) => ({ id: t.id, hours: (new Date(t.closedAt) - new Date(t.createdAt)) / 36e5 }));
const avg = hours.reduce((s, h) => s + h.hours, 0) / hours.length;
return { hours, avg: Math.round(avg * 10) / 10 };
`,
    value: {
      hours: [
        { id: 103, hours: 5 },
        { id: 105, hours: 48 },
        { id: 107, hours: 72 },
      ],
      avg: 41.7,
    },
    toolCalls: 1,
  },
  {
    name: 'due date fourteen days after an order, weekday and month',
    code: js`
const order = await callTool('orders:get', { id: 'o-1002' });
const created = new Date(order.createdAt);
const due = new Date(created.getTime() + 14 * 24 * 60 * 60 * 1000);
const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][due.getUTCDay()];
return { due: due.toISOString(), weekday, month: due.getUTCMonth() + 1, sameYear: due.getUTCFullYear() === created.getUTCFullYear() };
`,
    value: { due: '2024-03-17T14:20:00.000Z', weekday: 'Sun', month: 3, sameYear: true },
    toolCalls: 1,
  },
  {
    name: 'tenure in days as of a reference date from input',
    input: { asOf: '2024-12-31T00:00:00.000Z' },
    code: js`
const asOf = new Date(input.asOf);
const users = await callTool('users:list', {});
return users
  .filter((u) => new Date(u.createdAt).getUTCFullYear() === 2024)
  .map((u) => ({ id: u.id, days: Math.floor((asOf - new Date(u.createdAt)) / 86400000) }));
`,
    value: [
      { id: 'u4', days: 324 },
      { id: 'u5', days: 212 },
      { id: 'u6', days: 180 },
    ],
    toolCalls: 1,
  },
  {
    name: 'calendar days across a leap day, formatted by hand',
    code: js`
const fmt = (d) => \`\${d.getUTCFullYear()}-\${String(d.getUTCMonth() + 1).padStart(2, '0')}-\${String(d.getUTCDate()).padStart(2, '0')}\`;
const start = new Date('2024-02-26T00:00:00Z');
const days = [];
for (let i = 0; i < 5; i++) {
  const d = new Date(start);
  d.setUTCDate(start.getUTCDate() + i);
  days.push(fmt(d));
}
return days;
`,
    value: ['2024-02-26', '2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01'],
    toolCalls: 0,
  },
  {
    name: 'recent documents with Date.UTC, Date.parse and a date sort',
    code: js`
const docs = await Promise.all(['d1', 'd2', 'd3', 'd4'].map((id) => callTool('documents:get', { id })));
const cutoff = Date.UTC(2024, 1, 15);
const recent = docs
  .filter((d) => Date.parse(d.updatedAt) >= cutoff)
  .sort((a, b) => new Date(b.updatedAt) - new Date(a.updatedAt));
return recent.map((d) => d.title);
`,
    value: ['Release Checklist', 'Incident Report 2024-03-14'],
    toolCalls: 4,
  },
  {
    name: 'SLA deadlines with a switch in an arrow helper',
    code: js`
const tickets = await callTool('tickets:list', {});
const sla = (t) => {
  switch (t.priority) {
    case 'urgent':
      return 4;
    case 'high':
      return 24;
    case 'medium':
      return 72;
    default:
      return 168;
  }
};
return tickets
  .filter((t) => t.status !== 'closed')
  .map((t) => ({ id: t.id, slaHours: sla(t), due: new Date(new Date(t.createdAt).getTime() + sla(t) * 3600000).toISOString() }));
`,
    value: [
      { id: 101, slaHours: 4, due: '2024-04-01T12:00:00.000Z' },
      { id: 102, slaHours: 72, due: '2024-04-05T09:30:00.000Z' },
      { id: 104, slaHours: 24, due: '2024-04-04T07:45:00.000Z' },
      { id: 106, slaHours: 24, due: '2024-04-06T16:20:00.000Z' },
    ],
    toolCalls: 1,
  },
  {
    name: 'min, max, mean and median of a metric',
    code: js`
const points = await callTool('metrics:query', { name: 'dau' });
const values = points.map((p) => p.value);
const sorted = [...values].sort((a, b) => a - b);
const mid = Math.floor(sorted.length / 2);
return {
  min: Math.min(...values),
  max: Math.max(...values),
  mean: Math.round(values.reduce((a, b) => a + b, 0) / values.length),
  median: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
  peakDay: points.find((p) => p.value === Math.max(...values)).date,
};
`,
    value: { min: 980, max: 1600, mean: 1364, median: 1420, peakDay: '2024-03-07' },
    toolCalls: 1,
  },
  {
    name: 'day-over-day change with toFixed and a sign',
    code: js`
const points = await callTool('metrics:query', { name: 'errors', from: '2024-03-02', to: '2024-03-05' });
const changes = [];
for (let i = 1; i < points.length; i++) {
  const prev = points[i - 1].value;
  const pct = ((points[i].value - prev) / prev) * 100;
  changes.push(\`\${points[i].date}: \${pct >= 0 ? '+' : ''}\${pct.toFixed(1)}%\`);
}
return changes;
`,
    value: ['2024-03-03: +342.9%', '2024-03-04: -71.0%', '2024-03-05: -55.6%'],
    toolCalls: 1,
  },
  {
    name: 'Math.round, ceil, floor and a clamp helper over order totals',
    code: js`
const orders = await callTool('orders:list', {});
const totals = orders.map((o) => o.items.reduce((s, i) => s + i.qty * i.price, 0));
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
return {
  rounded: totals.map((t) => Math.round(t)),
  ceil: Math.ceil(totals[0]),
  floor: Math.floor(totals[0]),
  clamped: totals.map((t) => Math.round(clamp(t, 50, 300))),
  pctOfMax: totals.map((t) => Math.round((t / Math.max(...totals)) * 100)),
};
`,
    value: {
      rounded: [110, 498, 25, 159, 60, 144, 90, 378],
      ceil: 110,
      floor: 109,
      clamped: [110, 300, 50, 159, 60, 144, 90, 300],
      pctOfMax: [22, 100, 5, 32, 12, 29, 18, 76],
    },
    toolCalls: 1,
  },
  {
    name: 'price in the configured currency with VAT (fx tool chained)',
    code: js`
const order = await callTool('orders:get', { id: 'o-1002' });
const net = order.items.reduce((s, i) => s + i.qty * i.price, 0);
const fx = await callTool('fx:rate', { from: 'USD', to: 'EUR' });
const gross = net * 1.19 * fx.rate;
return \`\${order.id}: \${gross.toFixed(2)} EUR (rate \${fx.rate})\`;
`,
    value: 'o-1002: 545.21 EUR (rate 0.92)',
    toolCalls: 2,
  },
  {
    name: 'ASCII bar chart with repeat and padEnd (non-ASCII block character)',
    code: js`
const points = await callTool('metrics:query', { name: 'dau', to: '2024-03-04' });
const max = Math.max(...points.map((p) => p.value));
return points.map((p) => \`\${p.date.slice(5)} \${'█'.repeat(Math.round((p.value / max) * 10)).padEnd(10)} \${p.value}\`).join('\n');
`,
    value: '03-01 ████████   1200\n03-02 ██████████ 1350\n03-03 ███████    980\n03-04 ██████████ 1420',
    toolCalls: 1,
  },
  {
    name: 'sieve of Eratosthenes (nested loops, continue)',
    code: js`
const n = 10000;
const sieve = new Array(n + 1).fill(true);
sieve[0] = sieve[1] = false;
for (let i = 2; i * i <= n; i++) {
  if (!sieve[i]) continue;
  for (let j = i * i; j <= n; j += i) sieve[j] = false;
}
let count = 0;
let sum = 0;
for (let i = 2; i <= n; i++) {
  if (sieve[i]) {
    count++;
    sum += i;
  }
}
return { count, sum };
`,
    value: { count: 1229, sum: 5736396 },
    toolCalls: 0,
  },

  // ---- control flow -----------------------------------------------------------------------------
  {
    name: 'pagination with do-while until there is no next cursor',
    code: js`
const all = [];
let cursor = null;
let page;
do {
  page = await callTool('items:list', { cursor });
  all.push(...page.items);
  cursor = page.next;
} while (page.next);
return { count: all.length, first: all[0].id, last: all.at(-1).id };
`,
    value: { count: 23, first: 'item-01', last: 'item-23' },
    toolCalls: 3,
  },
  {
    name: 'pagination with a bounded while loop, break, destructuring',
    code: js`
const videos = [];
let cursor;
let pages = 0;
while (pages < 10) {
  const { items, next } = await callTool('items:list', { cursor, limit: 8 });
  pages++;
  videos.push(...items.filter((it) => it.kind === 'video' && it.likes >= 10).map((it) => it.id));
  if (!next) break;
  cursor = next;
}
return { pages, videos };
`,
    value: { pages: 3, videos: ['item-04', 'item-07', 'item-10', 'item-13', 'item-19', 'item-22'] },
    toolCalls: 3,
  },
  {
    name: 'for...of over Object.entries of input',
    input: { teams: { platform: { budget: 12000, spent: 11500 }, research: { budget: 8000, spent: 2000 } } },
    code: js`
const budgets = {};
for (const [id, team] of Object.entries(input.teams)) {
  budgets[id] = team.spent / team.budget;
}
const lines = [];
for (const [id, ratio] of Object.entries(budgets)) {
  lines.push(\`\${id}: \${(ratio * 100).toFixed(0)}%\${ratio > 0.9 ? ' (!)' : ''}\`);
}
return lines;
`,
    value: ['platform: 96% (!)', 'research: 25%'],
    toolCalls: 0,
  },
  {
    name: 'for...in over an object built from tool results',
    code: js`
const stock = {};
for (const sku of ['KB-01', 'MS-02', 'CB-10']) stock[sku] = (await callTool('inventory:check', { sku })).available;
const empty = [];
for (const sku in stock) {
  if (stock[sku] === 0) empty.push(sku);
}
return { stock, empty };
`,
    value: { stock: { 'KB-01': 12, 'MS-02': 0, 'CB-10': 140 }, empty: ['MS-02'] },
    toolCalls: 3,
  },
  {
    name: 'labeled break out of nested loops',
    code: js`
const orders = await callTool('orders:list', {});
let firstBig = null;
outer: for (const o of orders) {
  for (const item of o.items) {
    if (item.price * item.qty > 200) {
      firstBig = { order: o.id, sku: item.sku };
      break outer;
    }
  }
}
return firstBig;
`,
    value: { order: 'o-1002', sku: 'MN-27' },
    toolCalls: 1,
  },

  // ---- helpers and recursion --------------------------------------------------------------------
  {
    name: 'recursive tree walk: count, depth and an indented outline',
    code: js`
const org = await callTool('org:chart', {});
function countAll(node) {
  return 1 + node.reports.reduce((n, r) => n + countAll(r), 0);
}
function depth(node) {
  return node.reports.length === 0 ? 1 : 1 + Math.max(...node.reports.map(depth));
}
function outline(node, prefix = '') {
  return [prefix + node.name, ...node.reports.flatMap((r) => outline(r, prefix + '  '))];
}
return { total: countAll(org), depth: depth(org), outline: outline(org).join('\n') };
`,
    value: { total: 7, depth: 4, outline: 'Dana\n  Eli\n    Fay\n    Gus\n      Hal\n  Ivy\n    Jon' },
    toolCalls: 1,
  },
  {
    name: 'recursive arrow finds the path to a node',
    code: js`
const org = await callTool('org:chart', {});
const findPath = (node, id, path = []) => {
  const here = [...path, node.name];
  if (node.id === id) return here;
  for (const r of node.reports) {
    const found = findPath(r, id, here);
    if (found) return found;
  }
  return null;
};
return [findPath(org, 'intern')?.join(' > '), findPath(org, 'nobody')];
`,
    value: ['Dana > Eli > Gus > Hal', null],
    toolCalls: 1,
  },
  {
    name: 'async arrow helper memoises lookups in a Map',
    code: js`
const cache = new Map();
const getUser = async (id) => {
  if (!cache.has(id)) cache.set(id, await callTool('users:get', { id }));
  return cache.get(id);
};
const tickets = await callTool('tickets:list', {});
const rows = [];
for (const t of tickets) {
  if (!t.assignee) continue;
  const u = await getUser(t.assignee);
  rows.push(\`\${t.id}:\${u.name.split(' ')[0]}\`);
}
return { rows, lookups: cache.size };
`,
    value: { rows: ['101:Grace', '102:Linus', '103:Grace', '105:Linus', '106:Ada', '107:Ada'], lookups: 3 },
    toolCalls: 4,
  },
  {
    name: 'CSV export with a quoting helper',
    code: js`
const orders = await callTool('orders:list', { userId: 'u2' });
const quote = (v) => {
  const s = String(v);
  return /[",\n]/.test(s) ? \`"\${s.replace(/"/g, '""')}"\` : s;
};
const header = ['id', 'status', 'items', 'total'];
const lines = orders.map((o) =>
  [o.id, o.status, o.items.map((i) => \`\${i.qty}x \${i.sku}\`).join(', '), o.items.reduce((s, i) => s + i.qty * i.price, 0).toFixed(2)]
    .map(quote)
    .join(','),
);
return [header.join(','), ...lines].join('\n');
`,
    value: 'id,status,items,total\no-1002,shipped,2x MN-27,498.00\no-1006,paid,"2x HS-07, 1x MS-02",144.40',
    toolCalls: 1,
  },
  {
    name: 'markdown report of open tickets',
    code: js`
const tickets = await callTool('tickets:list', { status: 'open' });
const rows = tickets.map((t) => \`| \${t.id} | \${t.title} | \${t.priority} | \${t.assignee ?? '-'} |\`);
return [
  '## Open tickets',
  '',
  '| ID | Title | Priority | Assignee |',
  '|---|---|---|---|',
  ...rows,
  '',
  \`_\${tickets.length} open_\`,
].join('\n');
`,
    value: [
      '## Open tickets',
      '',
      '| ID | Title | Priority | Assignee |',
      '|---|---|---|---|',
      '| 101 | Login page returns 500 | urgent | u2 |',
      '| 104 | Password reset email not sent | high | - |',
      '| 106 | API rate limit too low | high | u1 |',
      '',
      '_3 open_',
    ].join('\n'),
    toolCalls: 1,
  },

  // ---- errors handled inside the script -----------------------------------------------------------
  {
    name: 'try/catch around a missing user falls back to a guest',
    code: js`
async function getUserOrGuest(id) {
  try {
    return await callTool('users:get', { id });
  } catch (err) {
    if (err.code === 'NOT_FOUND') return { id, name: 'Guest', role: 'viewer' };
    throw err;
  }
}
const people = [];
for (const id of ['u2', 'u99']) people.push(await getUserOrGuest(id));
return people.map((p) => \`\${p.id}:\${p.name}:\${p.role}\`);
`,
    value: ['u2:Grace Hopper:member', 'u99:Guest:viewer'],
    toolCalls: 2,
  },
  {
    name: 'a caught ToolError exposes name, message, code and tool',
    code: js`
try {
  await callTool('orders:get', { id: 'o-9999' });
  return 'unreachable';
} catch (e) {
  return { name: e.name, message: e.message, code: e.code, tool: e.tool, isError: e instanceof Error };
}
`,
    value: { name: 'ToolError', message: 'Order o-9999 not found', code: 'NOT_FOUND', tool: 'orders:get', isError: true },
    toolCalls: 1,
  },
  {
    name: 'a failing city does not stop the loop',
    code: js`
const report = {};
for (const city of ['Berlin', 'Atlantis', 'Oslo']) {
  try {
    const w = await callTool('weather:get', { city });
    report[city] = \`\${w.tempC}°C \${w.condition}\`;
  } catch (err) {
    report[city] = \`unavailable (\${err.code})\`;
  }
}
return report;
`,
    value: { Berlin: '11°C cloudy', Atlantis: 'unavailable (UNAVAILABLE)', Oslo: '-2°C snow' },
    toolCalls: 3,
  },
  {
    name: 'optional catch binding with a default value',
    input: { teamId: 't9' },
    code: js`
let team;
try {
  team = await callTool('teams:get', { id: input.teamId });
} catch {
  team = { id: input.teamId, name: 'Unknown team', budget: 0 };
}
team
`,
    value: { id: 't9', name: 'Unknown team', budget: 0 },
    toolCalls: 1,
  },
  {
    name: 'step helper with try/catch/finally records a log',
    code: js`
const log = [];
async function step(name, fn) {
  log.push(\`start \${name}\`);
  try {
    return await fn();
  } catch (e) {
    log.push(\`fail \${name}: \${e.message}\`);
    return null;
  } finally {
    log.push(\`end \${name}\`);
  }
}
const team = await step('load', () => callTool('teams:get', { id: 't1' }));
const valid = await step('validate', async () => {
  if (team.budget > 10000) throw new Error('budget too high');
  return true;
});
return { team: team?.name, valid, log };
`,
    value: {
      team: 'Platform',
      valid: null,
      log: ['start load', 'end load', 'start validate', 'fail validate: budget too high', 'end validate'],
    },
    toolCalls: 1,
  },
  {
    name: 'a host failure reaches the script only as a redacted ToolError',
    code: js`
try {
  await callTool('legacy:report', {});
  return 'ok';
} catch (e) {
  return { code: e.code, message: e.message };
}
`,
    value: { code: 'TOOL_FAILED', message: 'Tool "legacy:report" failed.' },
    toolCalls: 1,
  },

  // ---- trailing expressions and special values ------------------------------------------------------
  {
    name: 'a trailing object literal is the result',
    code: js`
const team = await callTool('teams:get', { id: 't1' });
const members = await callTool('users:list', { teamId: team.id });
({ team: team.name, size: members.length, active: members.filter((m) => m.active).length })
`,
    value: { team: 'Platform', size: 3, active: 2 },
    toolCalls: 2,
  },
  {
    name: 'a trailing method chain is the result',
    code: js`
const orders = await callTool('orders:list', { status: 'shipped' });
orders.map((o) => o.id).join(', ')
`,
    value: 'o-1002, o-1007',
    toolCalls: 1,
  },
  {
    name: 'nested result with null, undefined, empty arrays and booleans',
    code: js`
const order = await callTool('orders:get', { id: 'o-1003' });
return {
  id: order.id,
  coupon: order.coupon,
  discount: order.coupon?.startsWith('SPRING') ? 0.1 : 0,
  shipping: { method: 'standard', address: null, eta: undefined },
  lines: order.items.map(({ sku, qty }) => [sku, qty]),
  meta: { source: 'agent', tags: [], reviewed: false },
};
`,
    value: {
      id: 'o-1003',
      coupon: 'SPRING10',
      discount: 0.1,
      shipping: { method: 'standard', address: null, eta: undefined },
      lines: [['MS-02', 1]],
      meta: { source: 'agent', tags: [], reviewed: false },
    },
    toolCalls: 1,
  },

  {
    name: 'numbered list built with entries() and += on a string, trailing identifier',
    code: js`
const tickets = await callTool('tickets:list', { status: 'open' });
let out = '';
for (const [i, t] of tickets.entries()) {
  out += \`\${i + 1}. \${t.title}\`;
  if (i < tickets.length - 1) out += '\n';
}
out
`,
    value: '1. Login page returns 500\n2. Password reset email not sent\n3. API rate limit too low',
    toolCalls: 1,
  },
  {
    name: 'currency, number and date formatting with toLocaleString',
    code: js`
const orders = await callTool('orders:list', { status: 'paid' });
const total = orders.reduce((s, o) => s + o.items.reduce((t, i) => t + i.qty * i.price, 0), 0);
const last = new Date(orders.at(-1).createdAt);
return {
  total: total.toLocaleString('en-US', { style: 'currency', currency: 'USD' }),
  count: (1234567).toLocaleString('en-US'),
  last: last.toLocaleDateString('en-US', { timeZone: 'UTC', year: 'numeric', month: 'long', day: 'numeric' }),
};
`,
    value: { total: '$791.34', count: '1,234,567', last: 'March 15, 2024' },
    toolCalls: 1,
  },
  {
    name: 'trailing expression followed by a comment',
    code: js`
const product = await callTool('products:get', { sku: 'CB-10' });
const stock = await callTool('inventory:check', { sku: product.sku });
Math.round(product.price * stock.available * 100) / 100 // value of the stock on hand
`,
    value: 1398.6,
    toolCalls: 2,
  },
  {
    name: 'async IIFE resolving a new Promise',
    code: js`
const half = await (async () => {
  const t = await callTool('teams:get', { id: 't2' });
  return new Promise((resolve) => resolve(t.budget / 2));
})();
return half;
`,
    value: 4000,
    toolCalls: 1,
  },
  {
    name: 'closure-based id generator',
    code: js`
function makeIdGenerator(prefix) {
  let n = 0;
  return () => \`\${prefix}-\${String(++n).padStart(3, '0')}\`;
}
const nextId = makeIdGenerator('task');
const tickets = await callTool('tickets:list', { status: 'open' });
return tickets.map((t) => ({ task: nextId(), ticket: t.id }));
`,
    value: [
      { task: 'task-001', ticket: 101 },
      { task: 'task-002', ticket: 104 },
      { task: 'task-003', ticket: 106 },
    ],
    toolCalls: 1,
  },
  {
    name: 'delete, in and typeof on a tool result',
    code: js`
const user = await callTool('users:get', { id: 'u2' });
delete user.email;
return { hasEmail: 'email' in user, hasManager: 'managerId' in user, type: typeof user.active, keys: Object.keys(user).length };
`,
    value: { hasEmail: false, hasManager: true, type: 'boolean', keys: 7 },
    toolCalls: 1,
  },

  // ---- valid programs the engine currently gets wrong (each names its cause) -----------------------
  {
    name: 'index records by id with reduce, spread and a computed key',
    code: js`
const products = await callTool('products:list', { category: 'accessories' });
const bySku = products.reduce((acc, p) => ({ ...acc, [p.sku]: p.price }), {});
return bySku;
`,
    value: { 'CB-10': 9.99, 'DK-05': 129 },
    toolCalls: 1,
  },
  {
    name: 'moving average with a local variable named `window`',
    code: js`
const points = await callTool('metrics:query', { name: 'errors' });
const window = 3;
const averages = [];
for (let i = window - 1; i < points.length; i++) {
  const slice = points.slice(i - window + 1, i + 1);
  averages.push({ date: points[i].date, avg: Math.round((slice.reduce((s, p) => s + p.value, 0) / window) * 10) / 10 });
}
return averages;
`,
    value: [
      { date: '2024-03-03', avg: 16.7 },
      { date: '2024-03-04', avg: 15.7 },
      { date: '2024-03-05', avg: 14.7 },
      { date: '2024-03-06', avg: 10.3 },
      { date: '2024-03-07', avg: 9 },
    ],
    toolCalls: 1,
  },
  {
    name: 'call-center records with `caller` and `callee` fields',
    code: js`
const calls = await callTool('calls:list', {});
const byCaller = new Map();
for (const call of calls) {
  byCaller.set(call.caller, (byCaller.get(call.caller) ?? 0) + call.seconds);
}
return { byCaller: Object.fromEntries(byCaller), queues: [...new Set(calls.map((c) => c.callee))] };
`,
    value: { byCaller: { '+49 30 1234': 440, '+44 20 9876': 45 }, queues: ['support', 'sales'] },
    toolCalls: 1,
  },
  {
    name: 'own-property check with Object.prototype.hasOwnProperty.call',
    input: { patch: { name: 'Ada L.', role: 'member' } },
    code: js`
const user = await callTool('users:get', { id: 'u1' });
const changed = [];
for (const key of Object.keys(input.patch)) {
  if (Object.prototype.hasOwnProperty.call(user, key) && user[key] !== input.patch[key]) changed.push(key);
}
return changed;
`,
    value: ['name', 'role'],
    toolCalls: 1,
  },
  {
    name: 'word count over a text that contains the word "prototype"',
    input: { text: 'the prototype works and the prototype ships' },
    code: js`
const counts = {};
for (const word of input.text.split(' ')) {
  counts[word] = (counts[word] || 0) + 1;
}
return counts;
`,
    value: { the: 2, prototype: 2, works: 1, and: 1, ships: 1 },
    toolCalls: 0,
  },
];
