import { describe, expect, it } from 'vitest';
import { RedisLeaseStore, RedisStoreError } from '../src/index.js';
import { sleep, useRedis } from './redis.js';

const redis = useRedis();

describe('RedisLeaseStore', () => {
  it('hands out exactly max slots when many instances ask at the same moment', async () => {
    const prefix = redis.prefix();
    const stores = [redis.client(), redis.client(), redis.client()].map((c) => new RedisLeaseStore(c, { prefix }));
    const leases = await Promise.all(Array.from({ length: 60 }, (_, i) => (stores[i % 3] as RedisLeaseStore).acquire('alice', 5, 10_000)));
    const held = leases.filter((l): l is string => l !== null);
    expect(held).toHaveLength(5);
    expect(new Set(held).size).toBe(5);
    // Another key has its own slots; a released slot can be taken again, once.
    expect(await (stores[0] as RedisLeaseStore).acquire('bob', 5, 10_000)).not.toBeNull();
    await (stores[1] as RedisLeaseStore).release('alice', held[0] as string);
    const again = await Promise.all(Array.from({ length: 10 }, () => (stores[2] as RedisLeaseStore).acquire('alice', 5, 10_000)));
    expect(again.filter((l) => l !== null)).toHaveLength(1);
  });

  it('a lease nobody renews (a crashed instance) expires and frees its slot; a renewed one holds', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    const store = new RedisLeaseStore(c, { prefix });
    const crashed = await store.acquire('k', 1, 300);
    expect(crashed).not.toBeNull();
    expect(await store.acquire('k', 1, 300)).toBeNull();
    await sleep(350);
    const live = await store.acquire('k', 1, 600);
    expect(live).not.toBeNull();
    // The crashed holder's renewal comes too late: its slot is someone else's now.
    expect(await store.renew('k', crashed as string, 300)).toBe(false);
    for (let i = 0; i < 4; i++) {
      await sleep(200);
      expect(await store.renew('k', live as string, 600)).toBe(true);
    }
    expect(await store.acquire('k', 1, 600)).toBeNull();
    // The set lives as long as its longest lease, then disappears with it.
    expect(await c.pttl(`${prefix}lease:k`)).toBeGreaterThan(0);
    await sleep(650);
    expect(await c.exists(`${prefix}lease:k`)).toBe(0);
  });

  it('rejects within its command timeout while Redis sleeps, and works again after', async () => {
    const store = new RedisLeaseStore(redis.client(), { prefix: redis.prefix(), commandTimeoutMs: 200 });
    const asleep = redis.client().call('DEBUG', 'SLEEP', '1');
    await sleep(50);
    const started = performance.now();
    const err = await store.acquire('k', 1, 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisStoreError);
    expect((err as RedisStoreError).code).toBe('TIMEOUT');
    expect(performance.now() - started).toBeLessThan(900);
    await asleep;
    // The timed-out acquire ran once Redis woke up: its slot is taken until it expires, like a crashed holder's.
    expect(await store.acquire('k', 1, 1000)).toBeNull();
    expect(await store.acquire('k', 2, 1000)).not.toBeNull();
  });
});
