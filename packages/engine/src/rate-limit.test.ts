import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Enclave, MemoryRateLimitStore, defineTool } from './index.js';
import type { RateLimitStore } from './index.js';

/** A clock the test moves by hand: no sleeps, no timing in assertions. */
function manualClock(start = 1_000_000) {
  const clock = { now: start, advance: (ms: number) => void (clock.now += ms) };
  return clock;
}

const CALL = `try { return await callTool('quote', {}); } catch (e) { return { code: e.code, data: e.data, message: e.message }; }`;

describe('rate limits', () => {
  it('answers RATE_LIMITED after the limit, with retry information, and recovers after the window', async () => {
    const clock = manualClock();
    const quote = defineTool({ name: 'quote', rateLimit: { limit: 2, windowMs: 60_000 }, handler: () => 'ok' });
    const e = new Enclave({ tools: [quote], rateLimitStore: new MemoryRateLimitStore({ now: () => clock.now }) });
    expect((await e.run(CALL)).value).toBe('ok');
    clock.advance(10_000);
    expect((await e.run(CALL)).value).toBe('ok');
    clock.advance(5_000);
    const limited = (await e.run(CALL)).value as { code: string; data: { status: number; retryAfterMs: number }; message: string };
    expect(limited.code).toBe('RATE_LIMITED');
    expect(limited.data).toEqual({ status: 429, retryAfterMs: 45_000 });
    expect(limited.message).toMatch(/at most 2 calls per 60000 ms\. Retry after 45000 ms/);
    clock.advance(45_000);
    expect((await e.run(CALL)).value).toBe('ok');
  });

  it('ends an unhandled rate limit as TOOL_ERROR with status 429 and retryAfterMs for the adapters', async () => {
    const clock = manualClock();
    const quote = defineTool({ name: 'quote', rateLimit: { limit: 1, windowMs: 1_000 }, handler: () => 'ok' });
    const e = new Enclave({ tools: [quote], rateLimitStore: new MemoryRateLimitStore({ now: () => clock.now }) });
    const r = await e.run(`await callTool('quote', {}); return await callTool('quote', {});`);
    expect(r.error).toMatchObject({ code: 'TOOL_ERROR', data: { toolErrorCode: 'RATE_LIMITED', status: 429, retryAfterMs: 1_000, tool: 'quote' } });
  });

  it('keeps one budget per key: one user hitting the limit does not limit another', async () => {
    const clock = manualClock();
    let served = 0;
    const quote = defineTool({
      name: 'quote',
      rateLimit: { limit: 1, windowMs: 1_000, key: (ctx) => (ctx.context as { user: string }).user },
      handler: () => ++served,
    });
    const e = new Enclave({ tools: [quote], rateLimitStore: new MemoryRateLimitStore({ now: () => clock.now }) });
    expect((await e.run(CALL, { context: { user: 'ada' } })).value).toBe(1);
    expect(((await e.run(CALL, { context: { user: 'ada' } })).value as { code: string }).code).toBe('RATE_LIMITED');
    expect((await e.run(CALL, { context: { user: 'bob' } })).value).toBe(2);
    expect(served).toBe(2);
  });

  it('counts per tool: limits of one tool do not spend another', async () => {
    const clock = manualClock();
    const a = defineTool({ name: 'a', rateLimit: { limit: 1, windowMs: 1_000 }, handler: () => 'a' });
    const b = defineTool({ name: 'b', rateLimit: { limit: 1, windowMs: 1_000 }, handler: () => 'b' });
    const e = new Enclave({ tools: [a, b], rateLimitStore: new MemoryRateLimitStore({ now: () => clock.now }) });
    expect((await e.run(`return [await callTool('a', {}), await callTool('b', {})];`)).value).toEqual(['a', 'b']);
  });

  it('does not spend the budget on calls with invalid arguments', async () => {
    const clock = manualClock();
    const t = defineTool({ name: 't', input: z.object({ n: z.number() }), rateLimit: { limit: 1, windowMs: 1_000 }, handler: ({ n }) => n });
    const e = new Enclave({ tools: [t], rateLimitStore: new MemoryRateLimitStore({ now: () => clock.now }) });
    const r = await e.run(`try { await callTool('t', { n: 'x' }); } catch {} return await callTool('t', { n: 1 });`);
    expect(r.value).toBe(1);
  });

  it('uses a pluggable async store, and fails closed when the store fails', async () => {
    const keys: string[] = [];
    const asyncStore: RateLimitStore = {
      hit: async (key) => {
        keys.push(key);
        return { count: keys.length, resetInMs: 500 };
      },
    };
    const t = defineTool({ name: 't', rateLimit: { limit: 1, windowMs: 1_000, key: () => 'u1' }, handler: () => 'ok' });
    const r = await new Enclave({ tools: [t], rateLimitStore: asyncStore }).run(`const a = await callTool('t', {}); try { await callTool('t', {}); } catch (e) { return [a, e.code, e.data.retryAfterMs]; }`);
    expect(r.value).toEqual(['ok', 'RATE_LIMITED', 500]);
    expect(keys).toEqual(['t\u0000u1', 't\u0000u1']);

    let called = false;
    const broken: RateLimitStore = { hit: async () => { throw new Error('redis://secret-host down'); } };
    const u = defineTool({ name: 'u', rateLimit: { limit: 5, windowMs: 1_000 }, handler: () => { called = true; } });
    const r2 = await new Enclave({ tools: [u], rateLimitStore: broken }).run(`await callTool('u', {});`);
    expect(r2.error?.data).toMatchObject({ toolErrorCode: 'RATE_LIMIT_UNAVAILABLE', status: 503 });
    expect(called).toBe(false);
    expect(JSON.stringify(r2)).not.toContain('secret-host');
  });

  it('rejects a malformed store at construction', () => {
    expect(() => new Enclave({ rateLimitStore: {} as never })).toThrow(/rateLimitStore must be an object with a hit/);
  });
});

describe('MemoryRateLimitStore', () => {
  it('counts fixed windows and starts a new one when the window has passed', () => {
    const clock = manualClock(0);
    const store = new MemoryRateLimitStore({ now: () => clock.now });
    expect(store.hit('k', 100)).toEqual({ count: 1, resetInMs: 100 });
    clock.advance(40);
    expect(store.hit('k', 100)).toEqual({ count: 2, resetInMs: 60 });
    clock.advance(60);
    expect(store.hit('k', 100)).toEqual({ count: 1, resetInMs: 100 });
  });

  it('stays bounded: expired windows are pruned, and the oldest live ones go when full', () => {
    const clock = manualClock(0);
    const store = new MemoryRateLimitStore({ now: () => clock.now, maxKeys: 3 });
    store.hit('a', 10);
    store.hit('b', 10);
    store.hit('c', 1_000);
    clock.advance(20);
    store.hit('d', 1_000);
    expect(store.size).toBe(2); // a and b expired and were pruned
    store.hit('e', 1_000);
    store.hit('f', 1_000);
    expect(store.size).toBe(3);
  });
});
