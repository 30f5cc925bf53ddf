import { describe, expect, it } from 'vitest';
import type { SecurityLevel } from '../levels.js';
import { LEVEL_CONFIGS } from '../levels.js';
import { parseAgentScript } from '../ast/parse.js';
import type { Issue } from '../source.js';
import { validateAst } from './index.js';

function validate(code: string, level: SecurityLevel): Issue[] {
  const parsed = parseAgentScript(code);
  if (parsed.syntaxErrors.length > 0) throw new Error(parsed.syntaxErrors.map((e) => e.message).join('; '));
  return validateAst(parsed, { dialect: LEVEL_CONFIGS[level].dialect, extraGlobals: ['callTool', 'input'] });
}

/** Distinct rule ids reported, sorted: what an agent would have to fix. */
function firedRules(code: string, level: SecurityLevel): string[] {
  return [...new Set(validate(code, level).map((i) => i.ruleId))].sort();
}

/** Programs in the style LLM agents write; all must pass at STANDARD untouched. */
const PROGRAMS: Record<string, string> = {
  'parallel tool calls with Promise.all': `
const userIds = input.userIds ?? [];
const users = await Promise.all(userIds.map((id) => callTool('users:get', { id })));
const active = users.filter((u) => u && u.active);
return { count: active.length, names: active.map((u) => u.name) };
`,
  'allSettled with error partitioning': `
const results = await Promise.allSettled(
  input.urls.map((url) => callTool('http:get', { url }))
);
const ok = [];
const failed = [];
results.forEach((r, i) => {
  if (r.status === 'fulfilled') ok.push(r.value);
  else failed.push({ url: input.urls[i], reason: String(r.reason?.message ?? r.reason) });
});
return { ok: ok.length, failed };
`,
  'paginate with while loop': `
const all = [];
let cursor = null;
let pages = 0;
while (pages < 20) {
  const page = await callTool('orders:list', { cursor, limit: 100 });
  all.push(...page.items);
  if (!page.nextCursor) break;
  cursor = page.nextCursor;
  pages++;
}
return all;
`,
  'do-while retry loop': `
let attempt = 0;
let result;
do {
  attempt++;
  try {
    result = await callTool('jobs:status', { id: input.jobId });
  } catch (err) {
    console.log('attempt ' + attempt + ' failed: ' + err.message);
  }
} while ((!result || result.state === 'pending') && attempt < 5);
return result ?? { state: 'unknown' };
`,
  'group by with Map': `
const orders = await callTool('orders:list', { status: 'open' });
const byCustomer = new Map();
for (const order of orders) {
  const list = byCustomer.get(order.customerId) ?? [];
  list.push(order);
  byCustomer.set(order.customerId, list);
}
return Array.from(byCustomer.entries()).map(([customerId, list]) => ({
  customerId,
  total: list.reduce((sum, o) => sum + o.amount, 0),
}));
`,
  'dedupe with Set': `
const tags = new Set();
const posts = await callTool('posts:search', { query: input.query });
for (const post of posts) {
  for (const tag of post.tags ?? []) tags.add(tag.toLowerCase().trim());
}
return [...tags].sort();
`,
  'validation with throw new Error': `
if (!input || typeof input.email !== 'string') {
  throw new Error('input.email is required');
}
if (!input.email.includes('@')) {
  throw new TypeError(\`Invalid email: \${input.email}\`);
}
const user = await callTool('users:findByEmail', { email: input.email });
if (!user) throw new Error('User not found');
return user;
`,
  'regex parsing of text': `
const doc = await callTool('docs:get', { id: input.docId });
const emailPattern = /[\\w.+-]+@[\\w-]+\\.[\\w.]+/g;
const emails = doc.text.match(emailPattern) ?? [];
const dates = [];
for (const m of doc.text.matchAll(/(\\d{4})-(\\d{2})-(\\d{2})/g)) {
  dates.push({ year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) });
}
return { emails: [...new Set(emails)], dates };
`,
  'async arrow helper with retries': `
const withRetry = async (name, args, retries = 3) => {
  let lastError;
  for (let i = 0; i < retries; i++) {
    try {
      return await callTool(name, args);
    } catch (e) {
      lastError = e;
      console.log(\`retry \${i + 1} for \${name}\`);
    }
  }
  throw lastError;
};
const weather = await withRetry('weather:current', { city: input.city });
return { city: input.city, tempC: Math.round(weather.temp) };
`,
  'helper function declarations': `
function formatMoney(cents, currency = 'USD') {
  return (cents / 100).toFixed(2) + ' ' + currency;
}
function summarize(invoices) {
  const total = invoices.reduce((s, inv) => s + inv.amountCents, 0);
  return { count: invoices.length, total: formatMoney(total) };
}
const invoices = await callTool('billing:invoices', { month: input.month });
return summarize(invoices.filter((i) => !i.voided));
`,
  'async function declaration used later': `
async function loadProfile(id) {
  const [user, prefs] = await Promise.all([
    callTool('users:get', { id }),
    callTool('prefs:get', { userId: id }),
  ]);
  return { ...user, prefs };
}
const profiles = [];
for (const id of input.ids.slice(0, 10)) profiles.push(await loadProfile(id));
return profiles;
`,
  'nested destructuring and defaults': `
const { data: { items = [], meta: { total = 0 } = {} } = {}, error } = await callTool('search:query', {
  q: input.q,
});
if (error) return { error };
const [first, second, ...others] = items;
return { total, first, second, otherCount: others.length };
`,
  'spread and object merging': `
const defaults = { pageSize: 20, sort: 'createdAt', order: 'desc' };
const options = { ...defaults, ...(input.options ?? {}) };
const merged = Object.assign({}, options, { pageSize: Math.min(options.pageSize, 100) });
const res = await callTool('records:list', merged);
return { ...res, options: merged };
`,
  'optional chaining and nullish coalescing': `
const account = await callTool('accounts:get', { id: input.accountId });
const city = account?.address?.city ?? 'unknown';
const firstPhone = account?.contacts?.[0]?.phone ?? null;
const plan = account.subscription?.plan?.toUpperCase?.() ?? 'FREE';
return { city, firstPhone, plan };
`,
  'template literals and string methods': `
const user = await callTool('users:get', { id: input.id });
const initials = user.name
  .split(' ')
  .filter(Boolean)
  .map((p) => p[0].toUpperCase())
  .join('');
const slug = user.name.toLowerCase().trim().replaceAll(' ', '-');
const greeting = \`Hello, \${user.name.padEnd(10, '.')}! You have \${user.unread} new messages.\`;
return { initials, slug, greeting, short: greeting.slice(0, 20), starts: slug.startsWith('a') };
`,
  'try/catch/finally bookkeeping': `
const log = [];
let status = 'started';
try {
  const r = await callTool('deploy:start', { service: input.service });
  log.push('deploy id ' + r.id);
  status = 'ok';
} catch (error) {
  log.push('failed: ' + (error instanceof Error ? error.message : String(error)));
  status = 'failed';
} finally {
  log.push('done');
}
return { status, log };
`,
  'JSON stringify and parse': `
const raw = await callTool('files:read', { path: input.path });
let parsed;
try {
  parsed = JSON.parse(raw);
} catch {
  parsed = null;
}
console.log(JSON.stringify(parsed, null, 2));
return JSON.stringify({ ok: parsed !== null, keys: parsed ? Object.keys(parsed) : [] }, null, 2);
`,
  'Object keys/values/entries/fromEntries': `
const stats = await callTool('metrics:get', { range: '7d' });
const keys = Object.keys(stats);
const values = Object.values(stats);
const doubled = Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, v * 2]));
const max = Math.max(...values);
return { keys, max, doubled };
`,
  'Date arithmetic': `
const now = new Date();
const weekAgo = new Date(now.getTime() - 7 * 24 * 60 * 60 * 1000);
const events = await callTool('calendar:events', { from: weekAgo.toISOString(), to: now.toISOString() });
const byDay = {};
for (const e of events) {
  const day = new Date(e.start).toISOString().slice(0, 10);
  byDay[day] = (byDay[day] ?? 0) + 1;
}
return { since: weekAgo.toISOString(), byDay, parsed: Date.parse('2024-01-01') };
`,
  'Math statistics': `
const samples = (await callTool('sensors:read', { id: input.sensor })).map(Number).filter((n) => !Number.isNaN(n));
const mean = samples.reduce((a, b) => a + b, 0) / (samples.length || 1);
const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples.length || 1);
const sorted = [...samples].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
return { mean: Number(mean.toFixed(3)), std: Math.sqrt(variance), median, min: sorted[0], max: sorted.at(-1) };
`,
  'for-in over a record': `
const config = await callTool('config:get', {});
const flat = [];
for (const key in config) {
  flat.push(key + '=' + String(config[key]));
}
return flat.join('&');
`,
  'labeled break out of nested loops': `
let found = null;
outer: for (const row of input.grid) {
  for (const cell of row) {
    if (cell.value === input.target) {
      found = cell;
      break outer;
    }
  }
}
return found;
`,
  'sequential tool chain with early return': `
const customer = await callTool('crm:findCustomer', { email: input.email });
if (!customer) return { error: 'no customer' };
const tickets = await callTool('support:tickets', { customerId: customer.id, status: 'open' });
if (tickets.length === 0) return { customer: customer.name, tickets: [] };
const urgent = tickets.filter((t) => t.priority === 'high').sort((a, b) => b.createdAt - a.createdAt);
await callTool('support:notify', { ticketIds: urgent.map((t) => t.id) });
return { customer: customer.name, notified: urgent.length };
`,
  'reduce into an index and switch': `
const items = await callTool('inventory:list', {});
const index = items.reduce((acc, item) => {
  acc[item.sku] = item;
  return acc;
}, {});
const summary = { low: 0, ok: 0, high: 0 };
for (const item of Object.values(index)) {
  switch (true) {
    case item.qty < 5:
      summary.low++;
      break;
    case item.qty > 100:
      summary.high++;
      break;
    default:
      summary.ok++;
  }
}
return summary;
`,
  'batching with chunks': `
const chunk = (arr, size) => {
  const out = [];
  for (let i = 0; i < arr.length; i += size) out.push(arr.slice(i, i + size));
  return out;
};
const results = [];
for (const batch of chunk(input.ids, 5)) {
  const part = await Promise.all(batch.map((id) => callTool('items:get', { id })));
  results.push(...part);
}
return results.filter(Boolean).length;
`,
  'parse numbers and URLs': `
const qs = input.query ?? '';
const params = Object.fromEntries(
  qs.split('&').filter(Boolean).map((pair) => pair.split('=').map((s) => decodeURIComponent(s)))
);
const page = parseInt(params.page ?? '1', 10);
const ratio = parseFloat(params.ratio ?? '0.5');
return {
  page: isNaN(page) ? 1 : page,
  ratio: isFinite(ratio) ? ratio : 0,
  link: 'https://example.com/?q=' + encodeURIComponent(params.q ?? ''),
};
`,
  'array utilities': `
const rows = await callTool('sheet:rows', { sheet: input.sheet });
const header = rows[0] ?? [];
const records = rows.slice(1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
const unique = Array.from(new Set(records.map((r) => r.region)));
const hasEmpty = records.some((r) => !r.name);
const allValid = records.every((r) => r.amount >= 0);
const firstBig = records.find((r) => Number(r.amount) > 1000);
const flat = [[1, 2], [3]].flat();
return { count: records.length, unique, hasEmpty, allValid, firstBig, flat, isArr: Array.isArray(records) };
`,
  'console logging and typeof checks': `
const value = input.value;
console.log('type', typeof value);
console.warn('debug', { value });
console.error('sample error line');
if (typeof value === 'number') return value * 2;
if (Array.isArray(value)) return value.length;
if (value && typeof value === 'object') return Object.keys(value).length;
return String(value);
`,
  'regex replace and test': `
const text = input.text ?? '';
const cleaned = text.replace(/\\s+/g, ' ').trim();
const isCode = /^[A-Z]{3}-\\d{4}$/.test(input.code ?? '');
const re = new RegExp('^' + 'item', 'i');
return { cleaned, isCode, matches: re.test(cleaned) };
`,
  'weakmap cache and symbols': `
const cache = new WeakMap();
const key = {};
cache.set(key, await callTool('expensive:compute', { n: 10 }));
const tag = Symbol('tag');
const box = { [tag]: 1, value: cache.get(key) };
return box.value;
`,
  'bigint totals': `
const balances = await callTool('ledger:balances', {});
let total = 0n;
for (const b of balances) total += BigInt(b.cents);
return { total: total.toString(), overLimit: total > 10_000_000n };
`,
  'closures and higher-order helpers': `
const makeCounter = () => {
  let n = 0;
  return { inc: () => ++n, get: () => n };
};
const counter = makeCounter();
const compose = (...fns) => (x) => fns.reduceRight((acc, f) => f(acc), x);
const addOne = (x) => x + 1;
const double = (x) => x * 2;
counter.inc();
counter.inc();
return { count: counter.get(), composed: compose(addOne, double)(5) };
`,
};

describe('realistic programs at STANDARD', () => {
  it('has at least 25 programs', () => {
    expect(Object.keys(PROGRAMS).length).toBeGreaterThanOrEqual(25);
  });

  for (const [name, code] of Object.entries(PROGRAMS)) {
    it(`passes: ${name}`, () => {
      expect(validate(code, 'STANDARD')).toEqual([]);
    });
  }

  it('all pass at PERMISSIVE too', () => {
    for (const code of Object.values(PROGRAMS)) expect(validate(code, 'PERMISSIVE')).toEqual([]);
  });
});

describe('the same programs at STRICT', () => {
  // What a stricter level asks an agent to change; each entry documents the dialect differences.
  const EXPECTED: Record<string, string[]> = {
    'parallel tool calls with Promise.all': ['unknown-global'],
    'paginate with while loop': ['no-while'],
    'validation with throw new Error': ['no-throw', 'unknown-global'],
    'regex parsing of text': ['no-regex', 'unknown-global'],
    'async arrow helper with retries': ['no-async-function', 'no-throw', 'static-tool-name', 'unknown-global'],
    'helper function declarations': ['no-function-declaration'],
    'bigint totals': ['no-bigint', 'unknown-global'],
    'labeled break out of nested loops': ['no-label'],
    'Object keys/values/entries/fromEntries': [],
    'closures and higher-order helpers': [],
  };

  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: ${expected.length > 0 ? expected.join(', ') : 'passes'}`, () => {
      expect(firedRules(PROGRAMS[name] as string, 'STRICT')).toEqual(expected);
    });
  }

  it('names the STANDARD-only globals missing at STRICT', () => {
    const names = validate(PROGRAMS['parallel tool calls with Promise.all'] as string, 'STRICT')
      .filter((i) => i.ruleId === 'unknown-global')
      .map((i) => i.message);
    expect(names).toEqual([expect.stringContaining('`Promise`')]);
  });
});
