/**
 * Realistic fake tools for the ordinary-programs suite: a small shop (users, orders, products,
 * inventory), a help desk (tickets), a document store, metrics, a paginated feed, an outbox and a few
 * flaky or failing services. The data is fixed and every tool is deterministic, so every program has
 * one exact expected result. Tools return fresh copies, so no run can change what the next one sees.
 */
import { ToolError } from '../../src/index.js';
import type { ToolContext, ToolSet } from '../../src/index.js';

export interface User {
  id: string;
  name: string;
  email: string;
  role: 'admin' | 'member' | 'viewer';
  active: boolean;
  teamId: string | null;
  createdAt: string;
  managerId?: string;
}

export interface OrderItem {
  sku: string;
  qty: number;
  price: number;
}

export interface Order {
  id: string;
  userId: string;
  status: 'pending' | 'paid' | 'shipped' | 'cancelled';
  createdAt: string;
  items: OrderItem[];
  coupon?: string;
}

export interface Product {
  sku: string;
  name: string;
  category: string;
  price: number;
  tags: string[];
}

export interface Ticket {
  id: number;
  title: string;
  status: 'open' | 'pending' | 'closed';
  priority: 'low' | 'medium' | 'high' | 'urgent';
  assignee: string | null;
  createdAt: string;
  closedAt: string | null;
  tags: string[];
}

export interface Doc {
  id: string;
  title: string;
  authorId: string;
  updatedAt: string;
  body: string;
}

export const USERS: readonly User[] = [
  { id: 'u1', name: 'Ada Lovelace', email: 'ada@example.com', role: 'admin', active: true, teamId: 't1', createdAt: '2023-01-15T09:00:00.000Z' },
  { id: 'u2', name: 'Grace Hopper', email: 'grace@example.com', role: 'member', active: true, teamId: 't1', createdAt: '2023-03-02T12:30:00.000Z', managerId: 'u1' },
  { id: 'u3', name: 'Alan Turing', email: 'alan@example.com', role: 'member', active: false, teamId: 't2', createdAt: '2023-05-20T08:15:00.000Z', managerId: 'u1' },
  { id: 'u4', name: 'Linus Torvalds', email: 'linus@example.org', role: 'member', active: true, teamId: 't2', createdAt: '2024-02-10T17:45:00.000Z', managerId: 'u2' },
  { id: 'u5', name: 'Barbara Liskov', email: 'barbara@example.org', role: 'viewer', active: true, teamId: null, createdAt: '2024-06-01T10:00:00.000Z', managerId: 'u2' },
  { id: 'u6', name: 'Ken Thompson', email: 'ken@example.com', role: 'viewer', active: false, teamId: 't1', createdAt: '2024-07-04T00:00:00.000Z', managerId: 'u4' },
];

export const TEAMS: Readonly<Record<string, { id: string; name: string; budget: number }>> = {
  t1: { id: 't1', name: 'Platform', budget: 12000 },
  t2: { id: 't2', name: 'Research', budget: 8000 },
};

export const PRODUCTS: readonly Product[] = [
  { sku: 'KB-01', name: 'Mechanical Keyboard', category: 'peripherals', price: 89.99, tags: ['usb', 'rgb'] },
  { sku: 'MS-02', name: 'Wireless Mouse', category: 'peripherals', price: 24.5, tags: ['wireless', 'usb'] },
  { sku: 'MN-27', name: '27" Monitor', category: 'displays', price: 249, tags: ['4k', 'hdmi'] },
  { sku: 'CB-10', name: 'USB-C Cable', category: 'accessories', price: 9.99, tags: ['usb'] },
  { sku: 'DK-05', name: 'Docking Station', category: 'accessories', price: 129, tags: ['usb', 'hdmi', 'ethernet'] },
  { sku: 'HS-07', name: 'Headset', category: 'audio', price: 59.95, tags: ['wireless', 'mic'] },
];

export const STOCK: Readonly<Record<string, number>> = { 'KB-01': 12, 'MS-02': 0, 'MN-27': 3, 'CB-10': 140, 'DK-05': 0, 'HS-07': 7 };

export const ORDERS: readonly Order[] = [
  { id: 'o-1001', userId: 'u1', status: 'paid', createdAt: '2024-03-01T10:00:00.000Z', items: [{ sku: 'KB-01', qty: 1, price: 89.99 }, { sku: 'CB-10', qty: 2, price: 9.99 }] },
  { id: 'o-1002', userId: 'u2', status: 'shipped', createdAt: '2024-03-03T14:20:00.000Z', items: [{ sku: 'MN-27', qty: 2, price: 249 }] },
  { id: 'o-1003', userId: 'u1', status: 'pending', createdAt: '2024-03-05T09:10:00.000Z', items: [{ sku: 'MS-02', qty: 1, price: 24.5 }], coupon: 'SPRING10' },
  { id: 'o-1004', userId: 'u4', status: 'paid', createdAt: '2024-03-07T16:45:00.000Z', items: [{ sku: 'DK-05', qty: 1, price: 129 }, { sku: 'CB-10', qty: 3, price: 9.99 }] },
  { id: 'o-1005', userId: 'u5', status: 'cancelled', createdAt: '2024-03-08T11:00:00.000Z', items: [{ sku: 'HS-07', qty: 1, price: 59.95 }] },
  { id: 'o-1006', userId: 'u2', status: 'paid', createdAt: '2024-03-10T08:30:00.000Z', items: [{ sku: 'HS-07', qty: 2, price: 59.95 }, { sku: 'MS-02', qty: 1, price: 24.5 }] },
  { id: 'o-1007', userId: 'u4', status: 'shipped', createdAt: '2024-03-12T19:05:00.000Z', items: [{ sku: 'KB-01', qty: 1, price: 89.99 }] },
  { id: 'o-1008', userId: 'u1', status: 'paid', createdAt: '2024-03-15T13:00:00.000Z', items: [{ sku: 'MN-27', qty: 1, price: 249 }, { sku: 'DK-05', qty: 1, price: 129 }] },
];

export const TICKETS: readonly Ticket[] = [
  { id: 101, title: 'Login page returns 500', status: 'open', priority: 'urgent', assignee: 'u2', createdAt: '2024-04-01T08:00:00.000Z', closedAt: null, tags: ['auth', 'bug'] },
  { id: 102, title: 'Export to CSV is slow', status: 'pending', priority: 'medium', assignee: 'u4', createdAt: '2024-04-02T09:30:00.000Z', closedAt: null, tags: ['performance'] },
  { id: 103, title: 'Typo on pricing page', status: 'closed', priority: 'low', assignee: 'u2', createdAt: '2024-04-02T10:00:00.000Z', closedAt: '2024-04-02T15:00:00.000Z', tags: ['content'] },
  { id: 104, title: 'Password reset email not sent', status: 'open', priority: 'high', assignee: null, createdAt: '2024-04-03T07:45:00.000Z', closedAt: null, tags: ['auth', 'email', 'bug'] },
  { id: 105, title: 'Dark mode contrast', status: 'closed', priority: 'medium', assignee: 'u4', createdAt: '2024-04-04T12:00:00.000Z', closedAt: '2024-04-06T12:00:00.000Z', tags: ['ui'] },
  { id: 106, title: 'API rate limit too low', status: 'open', priority: 'high', assignee: 'u1', createdAt: '2024-04-05T16:20:00.000Z', closedAt: null, tags: ['api'] },
  { id: 107, title: 'Invoice PDF missing logo', status: 'closed', priority: 'low', assignee: 'u1', createdAt: '2024-04-06T09:00:00.000Z', closedAt: '2024-04-09T09:00:00.000Z', tags: ['billing', 'bug'] },
];

export const DOCUMENTS: readonly Doc[] = [
  {
    id: 'd1',
    title: 'Onboarding Guide',
    authorId: 'u1',
    updatedAt: '2024-02-01T00:00:00.000Z',
    body: 'Welcome to the team! Read the security policy first. Then set up your laptop and join the chat.',
  },
  {
    id: 'd2',
    title: 'Security Policy',
    authorId: 'u2',
    updatedAt: '2024-01-10T00:00:00.000Z',
    body: 'Rotate your keys every 90 days. Report incidents to security@example.com within 24 hours.',
  },
  {
    id: 'd3',
    title: 'Release Checklist',
    authorId: 'u4',
    updatedAt: '2024-03-20T00:00:00.000Z',
    body: 'Run the tests. Update the changelog. Tag the release v2.4.1 and deploy to staging, then production.',
  },
  {
    id: 'd4',
    title: 'Incident Report 2024-03-14',
    authorId: 'u2',
    updatedAt: '2024-03-15T00:00:00.000Z',
    body: 'Outage of 42 minutes. Root cause: expired TLS certificate. Contact ops@example.com for details.',
  },
];

/** Daily active users and error counts for the first week of March 2024. */
export const METRICS: Readonly<Record<string, readonly { date: string; value: number }[]>> = {
  dau: [
    { date: '2024-03-01', value: 1200 },
    { date: '2024-03-02', value: 1350 },
    { date: '2024-03-03', value: 980 },
    { date: '2024-03-04', value: 1420 },
    { date: '2024-03-05', value: 1510 },
    { date: '2024-03-06', value: 1490 },
    { date: '2024-03-07', value: 1600 },
  ],
  errors: [
    { date: '2024-03-01', value: 12 },
    { date: '2024-03-02', value: 7 },
    { date: '2024-03-03', value: 31 },
    { date: '2024-03-04', value: 9 },
    { date: '2024-03-05', value: 4 },
    { date: '2024-03-06', value: 18 },
    { date: '2024-03-07', value: 5 },
  ],
};

/** A feed of 23 items served 10 per page behind an opaque cursor. */
export const FEED = Array.from({ length: 23 }, (_, i) => ({
  id: `item-${String(i + 1).padStart(2, '0')}`,
  kind: i % 3 === 0 ? 'video' : i % 3 === 1 ? 'article' : 'podcast',
  likes: (i * 37) % 50,
}));

export const RATES: Readonly<Record<string, number>> = { USD: 1, EUR: 0.92, GBP: 0.79, JPY: 151.2 };

/** Call-center records: `caller` and `callee` are ordinary data fields here. */
export const CALLS = [
  { id: 'c1', caller: '+49 30 1234', callee: 'support', seconds: 312, at: '2024-05-02T09:12:00.000Z' },
  { id: 'c2', caller: '+44 20 9876', callee: 'sales', seconds: 45, at: '2024-05-02T10:40:00.000Z' },
  { id: 'c3', caller: '+49 30 1234', callee: 'support', seconds: 128, at: '2024-05-03T14:05:00.000Z' },
];

/** A small org chart for the tree-walk programs. */
export const ORG = {
  id: 'ceo',
  name: 'Dana',
  reports: [
    { id: 'cto', name: 'Eli', reports: [{ id: 'eng1', name: 'Fay', reports: [] }, { id: 'eng2', name: 'Gus', reports: [{ id: 'intern', name: 'Hal', reports: [] }] }] },
    { id: 'cfo', name: 'Ivy', reports: [{ id: 'acct', name: 'Jon', reports: [] }] },
  ],
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const copy = <T>(value: T): T => structuredClone(value);

function notFound(kind: string, id: unknown): never {
  throw new ToolError(`${kind} ${String(id)} not found`, { code: 'NOT_FOUND', status: 404 });
}

/** What the outbox and the ticket updater recorded, so tests can assert the side effects too. */
export interface Recorder {
  sent: { to: string; subject: string; body: string }[];
  updates: { id: number; status: string }[];
  calls: { tool: string; args: unknown; context: unknown }[];
}

export function makeRecorder(): Recorder {
  return { sent: [], updates: [], calls: [] };
}

/** The shop, help desk, documents and metrics tools. A recorder captures side effects. */
export function makeTools(rec: Recorder = makeRecorder()): ToolSet {
  const record = (tool: string, args: unknown, ctx: ToolContext) => {
    rec.calls.push({ tool, args, context: ctx.context });
  };
  return {
    'users:get': async (args: { id: string }, ctx) => {
      record('users:get', args, ctx);
      await sleep(2);
      const user = USERS.find((u) => u.id === args.id);
      return user ? copy(user) : notFound('User', args.id);
    },
    'users:list': async (args: { role?: string; active?: boolean; teamId?: string } = {}, ctx) => {
      record('users:list', args, ctx);
      await sleep(1);
      return copy(
        USERS.filter(
          (u) =>
            (args.role === undefined || u.role === args.role) &&
            (args.active === undefined || u.active === args.active) &&
            (args.teamId === undefined || u.teamId === args.teamId),
        ),
      );
    },
    'users:search': (args: { query: string }, ctx) => {
      record('users:search', args, ctx);
      const q = String(args.query).toLowerCase();
      return copy(USERS.filter((u) => u.name.toLowerCase().includes(q) || u.email.includes(q)));
    },
    'teams:get': async (args: { id: string }, ctx) => {
      record('teams:get', args, ctx);
      await sleep(1);
      const team = TEAMS[args.id];
      return team ? copy(team) : notFound('Team', args.id);
    },
    'orders:list': async (args: { userId?: string; status?: string } = {}, ctx) => {
      record('orders:list', args, ctx);
      await sleep(3);
      return copy(
        ORDERS.filter((o) => (args.userId === undefined || o.userId === args.userId) && (args.status === undefined || o.status === args.status)),
      );
    },
    'orders:get': async (args: { id: string }, ctx) => {
      record('orders:get', args, ctx);
      await sleep(1);
      const order = ORDERS.find((o) => o.id === args.id);
      return order ? copy(order) : notFound('Order', args.id);
    },
    'products:list': async (args: { category?: string } = {}, ctx) => {
      record('products:list', args, ctx);
      return copy(PRODUCTS.filter((p) => args.category === undefined || p.category === args.category));
    },
    'products:get': async (args: { sku: string }, ctx) => {
      record('products:get', args, ctx);
      await sleep(1);
      const product = PRODUCTS.find((p) => p.sku === args.sku);
      return product ? copy(product) : notFound('Product', args.sku);
    },
    'inventory:check': async (args: { sku: string }, ctx) => {
      record('inventory:check', args, ctx);
      await sleep(2);
      if (!(args.sku in STOCK)) notFound('SKU', args.sku);
      return { sku: args.sku, available: STOCK[args.sku], warehouse: 'FRA-1' };
    },
    'tickets:list': async (args: { status?: string; assignee?: string } = {}, ctx) => {
      record('tickets:list', args, ctx);
      await sleep(1);
      return copy(TICKETS.filter((t) => (args.status === undefined || t.status === args.status) && (args.assignee === undefined || t.assignee === args.assignee)));
    },
    'tickets:get': async (args: { id: number }, ctx) => {
      record('tickets:get', args, ctx);
      const ticket = TICKETS.find((t) => t.id === args.id);
      return ticket ? copy(ticket) : notFound('Ticket', args.id);
    },
    'tickets:update': async (args: { id: number; status: string }, ctx) => {
      record('tickets:update', args, ctx);
      await sleep(1);
      const ticket = TICKETS.find((t) => t.id === args.id);
      if (!ticket) notFound('Ticket', args.id);
      if (!['open', 'pending', 'closed'].includes(args.status)) {
        throw new ToolError(`Invalid status "${args.status}"`, { code: 'INVALID_ARGUMENT', status: 400 });
      }
      rec.updates.push({ id: args.id, status: args.status });
      return { ...copy(ticket), status: args.status };
    },
    'documents:search': async (args: { query: string }, ctx) => {
      record('documents:search', args, ctx);
      await sleep(2);
      const q = String(args.query).toLowerCase();
      return DOCUMENTS.filter((d) => d.title.toLowerCase().includes(q) || d.body.toLowerCase().includes(q)).map((d) => ({
        id: d.id,
        title: d.title,
        score: Math.round((d.body.toLowerCase().split(q).length - 1 + (d.title.toLowerCase().includes(q) ? 2 : 0)) * 100) / 100,
      }));
    },
    'documents:get': async (args: { id: string }, ctx) => {
      record('documents:get', args, ctx);
      await sleep(1);
      const doc = DOCUMENTS.find((d) => d.id === args.id);
      return doc ? copy(doc) : notFound('Document', args.id);
    },
    'metrics:query': async (args: { name: string; from?: string; to?: string }, ctx) => {
      record('metrics:query', args, ctx);
      await sleep(2);
      const series = METRICS[args.name];
      if (!series) throw new ToolError(`Unknown metric "${args.name}"`, { code: 'UNKNOWN_METRIC', status: 400 });
      return copy(series.filter((p) => (args.from === undefined || p.date >= args.from) && (args.to === undefined || p.date <= args.to)));
    },
    'items:list': async (args: { cursor?: string | null; limit?: number }, ctx) => {
      record('items:list', args, ctx);
      await sleep(1);
      const start = args.cursor ? Number(args.cursor.replace('c_', '')) : 0;
      const limit = args.limit ?? 10;
      const items = FEED.slice(start, start + limit);
      const end = start + items.length;
      return { items: copy(items), next: end < FEED.length ? `c_${end}` : null, total: FEED.length };
    },
    'org:chart': async (_args: unknown, ctx) => {
      record('org:chart', _args, ctx);
      return copy(ORG);
    },
    'calls:list': async (_args: unknown, ctx) => {
      record('calls:list', _args, ctx);
      await sleep(1);
      return copy(CALLS);
    },
    'fx:rate': async (args: { from: string; to: string }, ctx) => {
      record('fx:rate', args, ctx);
      const from = RATES[args.from];
      const to = RATES[args.to];
      if (from === undefined || to === undefined) throw new ToolError(`No rate for ${args.from}->${args.to}`, { code: 'NO_RATE' });
      return { from: args.from, to: args.to, rate: Math.round((to / from) * 10000) / 10000 };
    },
    'email:send': async (args: { to: string; subject: string; body: string }, ctx) => {
      record('email:send', args, ctx);
      await sleep(1);
      if (!/^[^@\s]+@[^@\s]+$/.test(args.to)) throw new ToolError(`Invalid recipient "${args.to}"`, { code: 'INVALID_ARGUMENT', status: 400 });
      rec.sent.push({ to: args.to, subject: args.subject, body: args.body });
      return { id: `msg_${rec.sent.length}`, queued: true };
    },
    'weather:get': async (args: { city: string }, ctx) => {
      record('weather:get', args, ctx);
      await sleep(3);
      const table: Record<string, { tempC: number; condition: string }> = {
        Berlin: { tempC: 11, condition: 'cloudy' },
        Lisbon: { tempC: 21, condition: 'sunny' },
        Oslo: { tempC: -2, condition: 'snow' },
      };
      const w = table[args.city];
      if (!w) throw new ToolError(`Weather service unavailable for ${args.city}`, { code: 'UNAVAILABLE', status: 503 });
      return { city: args.city, ...w };
    },
    /** A tool with a host bug: its error text must not reach the script. */
    'legacy:report': async (_args: unknown, ctx) => {
      record('legacy:report', _args, ctx);
      throw new Error('ECONNREFUSED 10.0.0.7:5432 at /srv/app/db/pool.js:88 password=hunter2');
    },
  };
}
