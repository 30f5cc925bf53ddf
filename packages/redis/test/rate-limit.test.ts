import { Enclave, defineTool } from '@enclave-kit/engine';
import { describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { RedisRateLimitStore } from '../src/index.js';
import type { RedisClient } from '../src/index.js';
import { sleep, useRedis } from './redis.js';

const redis = useRedis();

describe('RedisRateLimitStore', () => {
  it('counts every hit exactly once when many instances hit one key at the same moment', async () => {
    const prefix = redis.prefix();
    const stores = [redis.client(), redis.client(), redis.client()].map((c) => new RedisRateLimitStore(c, { prefix }));
    const hits = await Promise.all(Array.from({ length: 300 }, (_, i) => (stores[i % 3] as RedisRateLimitStore).hit('alice', 60_000)));
    expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    for (const h of hits) expect(h.resetInMs).toBeGreaterThan(50_000);
    // Another key has its own window.
    expect((await (stores[0] as RedisRateLimitStore).hit('bob', 60_000)).count).toBe(1);
  });

  it('a window expires in Redis, and the next hit starts a new one', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    const store = new RedisRateLimitStore(c, { prefix });
    // A window long enough that the second hit lands in it on a loaded machine; the wait after it only
    // has to be longer than the window, never shorter.
    expect(await store.hit('k', 1000)).toMatchObject({ count: 1 });
    const second = await store.hit('k', 1000);
    expect(second.count).toBe(2);
    expect(second.resetInMs).toBeGreaterThan(0);
    expect(second.resetInMs).toBeLessThanOrEqual(1000);
    await sleep(1100);
    expect(await c.exists(`${prefix}rl:k`)).toBe(0);
    expect(await store.hit('k', 1000)).toMatchObject({ count: 1 });
  });

  it('a counter left without an expiry gets one instead of counting forever', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    await c.set(`${prefix}rl:k`, '7');
    const hit = await new RedisRateLimitStore(c, { prefix }).hit('k', 5000);
    expect(hit.count).toBe(8);
    expect(hit.resetInMs).toBe(5000);
    expect(await c.pttl(`${prefix}rl:k`)).toBeGreaterThan(4000);
  });

  it('fails closed by default when Redis does not answer in time, and open with onError: "allow"', async () => {
    const c = redis.client();
    const deny = new RedisRateLimitStore(c, { prefix: redis.prefix(), commandTimeoutMs: 200 });
    const allow = new RedisRateLimitStore(c, { prefix: redis.prefix(), commandTimeoutMs: 200, onError: 'allow' });
    const { ended: asleep } = await redis.unresponsive(2000);
    // Refused by the store's own timeout: Redis, paused, has not answered anyone.
    await expect(deny.hit('k', 1000)).rejects.toMatchObject({ name: 'RedisStoreError', code: 'TIMEOUT' });
    expect(await allow.hit('k', 1000)).toEqual({ count: 0, resetInMs: 0 });
    await asleep;
    expect(await deny.hit('k2', 1000)).toMatchObject({ count: 1 });
  });

  it('a key a Redis writer left that is not a counter, or whose window is longer than the window, refuses nobody beyond one window', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    const store = new RedisRateLimitStore(c, { prefix });
    const key = (k: string) => `${prefix}rl:${k}`;
    // Each written once, without an expiry: before, every hit of its user was refused (an INCR error
    // or a count out of range: 503) for as long as the key lived, the writer long gone.
    await c.set(key('text'), 'not a number');
    await c.set(key('overflow'), '9223372036854775807');
    await c.set(key('negative'), '-5');
    await c.set(key('fraction'), '1.5');
    await c.set(key('long'), '1'.repeat(100_000));
    await c.hset(key('hash'), 'count', '1');
    await c.zadd(key('zset'), 1, 'a');
    for (const k of ['text', 'overflow', 'negative', 'fraction', 'long', 'hash', 'zset']) {
      expect(await store.hit(k, 5000), k).toEqual({ count: 1, resetInMs: 5000 });
      const life = await c.pttl(key(k));
      expect(life, k).toBeGreaterThan(0);
      expect(life, k).toBeLessThanOrEqual(5000);
    }
    // A count far over any limit, kept for a year: it counts on, but its window is cut to this one.
    await c.set(key('year'), '1000000', 'PX', 365 * 86_400_000);
    expect(await store.hit('year', 5000)).toEqual({ count: 1_000_001, resetInMs: 5000 });
    expect(await c.pttl(key('year'))).toBeLessThanOrEqual(5000);
  });

  it('is the Enclave’s rateLimitStore: a tool’s limit holds across two Enclaves (two app instances)', async () => {
    const prefix = redis.prefix();
    const quote = defineTool({ name: 'quote', rateLimit: { limit: 2, windowMs: 60_000 }, handler: async () => 42 });
    const a = new Enclave({ tools: [quote], rateLimitStore: new RedisRateLimitStore(redis.client(), { prefix }) });
    const b = new Enclave({ tools: [quote], rateLimitStore: new RedisRateLimitStore(redis.client(), { prefix }) });
    const code = 'try { return await callTool("quote", {}); } catch (e) { return e.code; }';
    const results = [await a.run(code), await b.run(code), await a.run(code), await b.run(code)];
    expect(results.map((r) => (r.success ? r.value : r.error.code))).toEqual([42, 42, 'RATE_LIMITED', 'RATE_LIMITED']);
    a.dispose();
    b.dispose();
  });

  it('checks its options', () => {
    const c = redis.client();
    expect(() => new RedisRateLimitStore(c, { onError: 'ignore' as never })).toThrow(/onError must be "deny" \(the default\) or "allow"/);
    expect(() => new RedisRateLimitStore(c, { prefix: '{x}' })).toThrow(/prefix must not contain/);
    expect(() => new RedisRateLimitStore(c, { commandTimeout: 5 } as never)).toThrow(/unknown option "commandTimeout"\. Did you mean "commandTimeoutMs"/);
    expect(() => new RedisRateLimitStore({} as never)).toThrow(/client must be an object with the methods of an ioredis client/);
  });
});

describe('the client the stores take', () => {
  it('is what ioredis gives: a Redis connection or a Cluster (checked by the type checker)', () => {
    const fromRedis: RedisClient = redis.client();
    const fromCluster = (cluster: Cluster): RedisClient => cluster;
    expect(typeof fromRedis.call).toBe('function');
    expect(typeof fromCluster).toBe('function');
  });
});
