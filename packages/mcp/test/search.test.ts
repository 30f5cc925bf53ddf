import type { ToolDescription } from '@enclave-kit/engine';
import { describe, expect, it } from 'vitest';
import { searchTools, stem, words } from '../src/search.js';

const tool = (name: string, description?: string, args: string[] = []): ToolDescription => ({
  name,
  ...(description !== undefined ? { description } : {}),
  ...(args.length > 0 ? { inputSchema: { type: 'object', properties: Object.fromEntries(args.map((a) => [a, { type: 'string' }])) } } : {}),
  declaration: '',
});

const CATALOG = [
  tool('orders:list', 'List the orders of the current user.\nPaged, newest first.', ['status', 'cursor']),
  tool('orders:get', 'One order by id.', ['id']),
  tool('orders:refund', 'Refund a paid order, fully or in part.', ['id', 'amount', 'reason']),
  tool('invoices:send', 'Email an invoice PDF to the customer.', ['orderId', 'email']),
  tool('customers:search', 'Find customers by name or email.', ['query']),
  tool('me', 'The current user.'),
];

const names = (query: string, limit?: number) => searchTools(CATALOG, query, limit).matches.map((m) => m.name);

describe('search_tools ranking', () => {
  it('cuts names and text into stemmed words', () => {
    expect(words('orders:listPaid')).toEqual(['order', 'list', 'paid']);
    expect(words('sendHTTPRequest to the API')).toEqual(['send', 'http', 'request', 'api']);
    expect(['orders', 'invoices', 'queries', 'listing', 'refunded', 'boxes', 'status', 'class'].map(stem)).toEqual([
      'order',
      'invoice',
      'query',
      'list',
      'refund',
      'box',
      'statu',
      'class',
    ]);
  });

  it('ranks name words over argument names over description words', () => {
    // "refund": orders:refund by name beats nothing else; "email": invoices:send by argument and description,
    // customers:search by description only.
    expect(names('refund')).toEqual(['orders:refund']);
    expect(names('email')).toEqual(['invoices:send', 'customers:search']);
    expect(names('status')).toEqual(['orders:list']);
  });

  it('prefers tools that match every word, and rare words over common ones', () => {
    expect(names('list paid orders')[0]).toBe('orders:list');
    // "order" is in four tools, "refund" in one: the refund tool wins a query naming both.
    expect(names('order refund')[0]).toBe('orders:refund');
    expect(names('send the invoice for an order')[0]).toBe('invoices:send');
  });

  it('reads enum values and descriptions of arguments', () => {
    const catalog = [
      tool('orders:get', 'One order by id.', ['id']),
      { ...tool('orders:list', 'List orders.'), inputSchema: { type: 'object', properties: { status: { enum: ['open', 'paid'], description: 'Only orders in this state' } } } },
    ];
    expect(searchTools(catalog, 'paid orders').matches[0]?.name).toBe('orders:list');
    expect(searchTools(catalog, 'state').matches.map((m) => m.name)).toEqual(['orders:list']);
  });

  it('matches plurals, word starts and camelCase arguments', () => {
    expect(names('invoice')).toEqual(['invoices:send']);
    // The start of a name word beats the start of a description word ("customer" in the invoice tool's text).
    expect(names('cust')).toEqual(['customers:search', 'invoices:send']);
    expect(names('order id')).toContain('invoices:send');
  });

  it('puts the exact name first, breaks ties by shorter name then alphabetically, and never depends on catalog order', () => {
    expect(names('orders:get')[0]).toBe('orders:get');
    expect(names('orders').slice(0, 3)).toEqual(['orders:get', 'orders:list', 'orders:refund']);
    const reversed = searchTools(CATALOG.toReversed(), 'order').matches;
    expect(reversed).toEqual(searchTools(CATALOG, 'order').matches);
  });

  it('ranks by the first 64 distinct words of a query: a host that passes its users’ text on bounds the work', () => {
    const filler = Array.from({ length: 100_000 }, (_, i) => `zz${i.toString(36)}`);
    expect(names(['refund', ...filler.slice(0, 63), 'invoice'].join(' '))).toEqual(['orders:refund']);
    expect(names(['refund', ...filler.slice(0, 62), 'invoice'].join(' '))).toEqual(['invoices:send', 'orders:refund']);
    expect(names(`${filler.join(' ')} invoice`)).toEqual([]);
  });

  it('an empty query lists the catalog; a query without a match lists nothing; limit cuts the list', () => {
    expect(searchTools(CATALOG, '  ').matched).toBe(6);
    expect(names('')).toEqual(['me', 'orders:get', 'orders:list', 'invoices:send', 'orders:refund', 'customers:search']);
    expect(searchTools(CATALOG, 'weather forecast')).toEqual({ matches: [], matched: 0, total: 6 });
    expect(names('order', 2)).toHaveLength(2);
    expect(searchTools(CATALOG, 'order', 2).matched).toBe(4);
  });

  it('gives one-line descriptions and rounded scores', () => {
    const [hit] = searchTools(CATALOG, 'list').matches;
    expect(hit).toEqual({ name: 'orders:list', description: 'List the orders of the current user.', score: expect.any(Number) });
    expect(Number.isInteger((hit?.score ?? 0) * 100)).toBe(true);
  });
});
