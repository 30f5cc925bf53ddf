import { describe, expect, it } from 'vitest';
import { createEnclaveHandler } from '@enclave-kit/engine';
import { RedisLeaseStore, RedisStoreError, redisStores } from '../src/index.js';
import { eventually, useRedis } from './redis.js';

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
    // One after the other, on Redis's clock: live's first expiry comes no later than crashed's, so once
    // crashed's slot is free, live's first TTL has passed too and only its renewal holds it. The waits
    // are for those events, not for durations; TTL is only what one command after another must take.
    const TTL = 1000;
    const live = await store.acquire('k', 2, TTL);
    expect(live).not.toBeNull();
    expect(await store.renew('k', live as string, 60_000)).toBe(true);
    const crashed = await store.acquire('k', 2, TTL);
    expect(crashed).not.toBeNull();
    expect(await store.acquire('k', 2, TTL)).toBeNull();
    const next = await eventually(async () => (await store.acquire('k', 2, 60_000)) ?? Promise.reject(new Error('no slot yet')));
    expect(next).not.toBeNull();
    // The crashed holder's renewal comes too late: its slot is someone else's now.
    expect(await store.renew('k', crashed as string, TTL)).toBe(false);
    expect(await store.renew('k', live as string, 60_000)).toBe(true);
    expect(await store.acquire('k', 2, TTL)).toBeNull();
    // The set lives as long as its longest lease (the renewed one), then disappears with it.
    expect(await c.pttl(`${prefix}lease:k`)).toBeGreaterThan(TTL);
    expect(await store.acquire('j', 1, 300)).not.toBeNull();
    await eventually(async () => expect(await c.exists(`${prefix}lease:j`)).toBe(0));
  });

  it('rejects within its command timeout while Redis does not answer, and works again after', async () => {
    const store = new RedisLeaseStore(redis.client(), { prefix: redis.prefix(), commandTimeoutMs: 200 });
    const { ended: asleep } = await redis.unresponsive(2000);
    // Refused by the store's own timeout: Redis, paused, has not answered anyone.
    const err = await store.acquire('k', 1, 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisStoreError);
    expect((err as RedisStoreError).code).toBe('TIMEOUT');
    await asleep;
    // The timed-out acquire ran once Redis woke up: its slot is taken until it expires, like a crashed holder's.
    expect(await store.acquire('k', 1, 1000)).toBeNull();
    expect(await store.acquire('k', 2, 1000)).not.toBeNull();
  });
});

describe('RedisLeaseStore: Redis stopped', () => {
  it('fails closed by default; with onError: "allow" it lets holders through uncounted, and nothing stays counted once Redis is back', async () => {
    const prefix = redis.prefix();
    // Queues commands while Redis is away and never gives up on them: an acquire that timed out reaches
    // Redis once it is back, the way a short outage plays out.
    const c = redis.client({ maxRetriesPerRequest: null });
    const deny = new RedisLeaseStore(c, { prefix, commandTimeoutMs: 200 });
    const allow = new RedisLeaseStore(c, { prefix, commandTimeoutMs: 200, onError: 'allow' });
    await c.ping();
    await redis.server.halt();
    let leases: (string | null)[];
    try {
      await expect(deny.acquire('closed', 1, 60_000)).rejects.toBeInstanceOf(Error);
      // A cap of one lets both through: neither is counted.
      leases = [await allow.acquire('k', 1, 60_000), await allow.acquire('k', 1, 60_000)];
      expect(leases).toEqual([expect.any(String), expect.any(String)]);
      expect(leases[0]).not.toBe(leases[1]);
      // Renewing and releasing them need no Redis: they resolve while it is still down.
      expect(await allow.renew('k', leases[0] as string, 60_000)).toBe(true);
      await allow.release('k', leases[0] as string);
      await allow.release('k', leases[1] as string);
    } finally {
      await redis.server.start();
    }
    // Sent after the queued acquires: they have reached Redis (one took the slot of 'k') by its answer.
    await c.ping();
    // The releases gave that slot back: the cap of one is free again, then held, and counts only what holds it.
    const held = await eventually(async () => {
      const lease = await deny.acquire('k', 1, 60_000);
      if (lease === null) throw new Error('the slot of an uncounted lease is still taken');
      return lease;
    });
    expect(await allow.acquire('k', 1, 60_000)).toBeNull();
    expect(await c.zrange(`${prefix}lease:k`, 0, -1)).toEqual([held]);
    expect(() => new RedisLeaseStore(c, { onError: 'ignore' as never })).toThrow(/onError must be "deny" \(the default\) or "allow"/);
  });

  it('redisStores(client, { onError: "allow" }) reaches the leases: a run under maxRunsPerUser goes ahead while Redis is stopped (503 by default)', async () => {
    const prefix = redis.prefix();
    // Fails a command at once while Redis is away; connected first, since before that it fails them too.
    const c = redis.client({ enableOfflineQueue: false });
    await eventually(() => c.ping());
    const run = () => new Request('http://localhost/enclave', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return 1 + 1' }) });
    const setups = (['deny', 'allow'] as const).map((onError) => {
      const stores = redisStores(c, { prefix, onError, commandTimeoutMs: 200 });
      return { stores, handler: createEnclaveHandler({ maxRunsPerUser: 1, leases: stores.leases, sessions: false, logger: { info() {}, error() {} } }) };
    });
    const [closed, open] = setups as [(typeof setups)[number], (typeof setups)[number]];
    await redis.server.halt();
    try {
      const refused = await closed.handler(run());
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).not.toBeNull();
      expect(await refused.json()).toMatchObject({ success: false, error: { code: 'SERVICE_UNAVAILABLE' } });
      for (let i = 0; i < 2; i++) {
        const ran = await open.handler(run());
        expect(ran.status).toBe(200);
        expect(await ran.json()).toMatchObject({ success: true, value: 2 });
      }
    } finally {
      await redis.server.start();
      for (const { stores, handler } of setups) {
        handler.dispose();
        stores.dispose();
      }
    }
  });
});

describe('RedisLeaseStore: what a Redis writer leaves in a lease key', () => {
  it('refuses no user beyond that key’s own moment: a key of another type, a set with no expiry or a longer one than any lease, members that outlive their set', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    const store = new RedisLeaseStore(c, { prefix });
    const key = (k: string) => `${prefix}lease:${k}`;
    // Each written once, without an expiry or with one of a year: before, every acquire of its user
    // failed (WRONGTYPE: 503) or found every slot taken, for as long as the key lived (forever).
    await c.set(key('string'), 'x');
    await c.hset(key('hash'), 'a', '1');
    await c.zadd(key('forever'), 'inf', 'w1', 'inf', 'w2');
    await c.zadd(key('far'), '1e300', 'w1', '1e300', 'w2');
    await c.zadd(key('year'), String(Date.now() + 365 * 86_400_000), 'w1', String(Date.now() + 365 * 86_400_000), 'w2');
    await c.pexpire(key('year'), 365 * 86_400_000);
    for (const k of ['string', 'hash', 'forever', 'far', 'year']) {
      const lease = await store.acquire(k, 2, 10_000);
      expect(lease, k).not.toBeNull();
      expect(await c.zrange(key(k), 0, -1), k).toEqual([lease]);
      const life = await c.pttl(key(k));
      expect(life, k).toBeGreaterThan(0);
      expect(life, k).toBeLessThanOrEqual(10_000);
      expect(await store.renew(k, lease as string, 10_000), k).toBe(true);
    }
    // Members that end after their set does: dropped; the live lease beside them is kept, and counted.
    const live = await store.acquire('mixed', 2, 60_000);
    await c.zadd(key('mixed'), 'inf', 'w1', String(Date.now() + 3_600_000), 'w2');
    expect(await store.acquire('mixed', 2, 60_000)).not.toBeNull();
    expect(await store.acquire('mixed', 2, 60_000)).toBeNull();
    expect(await c.zscore(key('mixed'), live as string)).not.toBeNull();
    expect(await c.zscore(key('mixed'), 'w1')).toBeNull();
    expect(await c.zscore(key('mixed'), 'w2')).toBeNull();
    // A lease longer than any the store keeps apart from forged ones is refused, not written.
    await expect(store.acquire('long', 1, 2 ** 31)).rejects.toThrow(RangeError);
  });

  it('a forged lease set does not lock a user out of the handler’s maxRunsPerUser (503 or 429 before)', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    const stores = redisStores(c, { prefix });
    const handler = createEnclaveHandler({ maxRunsPerUser: 1, leases: stores.leases, sessions: false, logger: { info() {}, error() {} } });
    const run = () => new Request('http://localhost/enclave', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return 1 + 1' }) });
    try {
      // The key of everyone's runs without authenticate: what a Redis writer can read off the keys.
      const runs = `${prefix}lease:\u0000runs\u0000`;
      for (const forge of [() => c.set(runs, 'x'), () => c.zadd(runs, 'inf', 'forged')]) {
        await c.del(runs);
        await forge();
        const ran = await handler(run());
        expect(ran.status).toBe(200);
        expect(await ran.json()).toMatchObject({ success: true, value: 2 });
      }
    } finally {
      handler.dispose();
      stores.dispose();
    }
  });
});

