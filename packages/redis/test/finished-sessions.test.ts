/**
 * What the Redis session store keeps of finished sessions is bounded per owner and in bytes, `final`
 * included, in each of its 16 buckets: one user who starts session after session with large results
 * pushes out their own oldest results, never fills Redis, and leaves other users' results alone.
 */
import type { ExecutionResult } from '@enclave-kit/engine';
import { createEnclaveHandler } from '@enclave-kit/engine';
import { describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../src/index.js';
import { useRedis } from './redis.js';

const redis = useRedis();

const ok = (value: unknown): ExecutionResult => ({ success: true, value, stats: { duration: 1, toolCallCount: 0, iterationCount: 0 } });

/** The store's bucket of a session id (FNV-1a mod 16, as the store computes it), to put sessions side by side. */
function bucketOf(sessionId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) h = Math.imul(h ^ sessionId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 16;
}

let n = 0;
/** Fresh session ids that all fall in bucket `bucket`. */
function idsIn(bucket: number, count: number): string[] {
  const ids: string[] = [];
  while (ids.length < count) {
    const id = `ses_bucket${++n}_${Math.random().toString(36).slice(2, 8)}`;
    if (bucketOf(id) === bucket) ids.push(id);
  }
  return ids;
}

async function finish(store: RedisSessionStore, sessionId: string, owner: string, value: unknown = 1): Promise<string> {
  expect(await store.create({ sessionId, owner, createdAt: 1 })).toBe(true);
  await store.append(sessionId, [{ sessionId, seq: 1, type: 'log', time: 1, payload: { level: 'log', message: 'hi', time: 1 } }]);
  expect(await store.finish(sessionId, 'completed', ok(value), 60_000)).toBe(true);
  return sessionId;
}

async function kept(store: RedisSessionStore, ids: readonly string[]): Promise<boolean[]> {
  return Promise.all(ids.map(async (id) => (await store.get(id)) !== undefined && (await store.read(id, 0, 10)).length > 0));
}

/** Keys of the store's sessions left in Redis (a session's hash or its stream). */
async function sessionKeys(prefix: string): Promise<string[]> {
  return (await redis.client().keys(`${prefix}*`)).filter((k) => /:[se]:ses_/.test(k));
}

describe('RedisSessionStore: finished sessions are bounded', () => {
  it('keeps at most maxFinishedPerOwner finished sessions per owner in a bucket, forgetting the oldest with its keys, and tells its readers', async () => {
    const prefix = redis.prefix();
    const store = new RedisSessionStore(redis.client(), { prefix, maxFinishedPerOwner: 2 });
    try {
      const [bob = '', ...alice] = idsIn(3, 5);
      await finish(store, bob, 'bob');
      for (const id of alice.slice(0, 2)) await finish(store, id, 'alice');
      let told = 0;
      const stop = store.subscribe(alice[0] as string, () => told++);
      // A running session neither counts nor is forgotten.
      const [running = ''] = idsIn(3, 1);
      expect(await store.create({ sessionId: running, owner: 'alice', createdAt: 1 })).toBe(true);
      for (const id of alice.slice(2)) await finish(store, id, 'alice');
      expect(await kept(store, alice)).toEqual([false, false, true, true]);
      expect(await kept(store, [bob])).toEqual([true]);
      expect((await store.get(running))?.state).toBe('running');
      expect((await sessionKeys(prefix)).filter((k) => k.endsWith(alice[0] as string) || k.endsWith(alice[1] as string))).toEqual([]);
      await expect.poll(() => told, { timeout: 5_000 }).toBeGreaterThan(0);
      stop();
      // Another bucket counts on its own: alice's newest sessions there are kept too.
      const elsewhere = idsIn(4, 2);
      for (const id of elsewhere) await finish(store, id, 'alice');
      expect(await kept(store, [...elsewhere, ...alice.slice(2)])).toEqual([true, true, true, true]);
    } finally {
      store.dispose();
    }
  });

  it('beyond its share of maxFinishedBytes, a bucket forgets the oldest finished session of the owner holding the most there', async () => {
    const prefix = redis.prefix();
    // 100,000 bytes a bucket. A result counts twice (the record and the final event) plus 1 KiB.
    const store = new RedisSessionStore(redis.client(), { prefix, maxFinishedBytes: 16 * 100_000 });
    try {
      const [bobFirst = '', bobSecond = '', ...alice] = idsIn(7, 6);
      const big = 'x'.repeat(12_000);
      await finish(store, bobFirst, 'bob', 'y'.repeat(10_000));
      for (const id of alice.slice(0, 3)) await finish(store, id, 'alice', big);
      expect(await kept(store, [bobFirst, ...alice.slice(0, 3)])).toEqual([true, true, true, true]);
      await finish(store, alice[3] as string, 'alice', big);
      expect(await kept(store, alice)).toEqual([false, true, true, true]);
      // Bob finishing takes the bucket over again: alice, who holds the most there, gives way.
      await finish(store, bobSecond, 'bob', 'y'.repeat(12_000));
      expect(await kept(store, alice)).toEqual([false, false, true, true]);
      expect(await kept(store, [bobFirst, bobSecond])).toEqual([true, true]);
    } finally {
      store.dispose();
    }
  });

  it('keeps the session that finishes even when it alone is over its bucket’s share, until the next one there finishes', async () => {
    const prefix = redis.prefix();
    const store = new RedisSessionStore(redis.client(), { prefix, maxFinishedBytes: 16 * 10_000 });
    try {
      const [carol = '', dave = ''] = idsIn(9, 2);
      await finish(store, carol, 'carol', 'z'.repeat(50_000));
      expect((await store.read(carol, 0, 10)).at(-1)?.type).toBe('final');
      await finish(store, dave, 'dave');
      expect(await kept(store, [carol, dave])).toEqual([false, true]);
    } finally {
      store.dispose();
    }
  });

  it('sessions that expired leave the counts at the bucket’s next finish', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const store = new RedisSessionStore(c, { prefix, maxFinishedPerOwner: 2 });
    const tag = `${prefix}{sessions:5}`;
    try {
      const [a = '', b = '', fresh = ''] = idsIn(5, 3);
      for (const id of [a, b]) {
        expect(await store.create({ sessionId: id, owner: 'erin', createdAt: 1 })).toBe(true);
        expect(await store.finish(id, 'completed', ok('v'.repeat(1000)), 50)).toBe(true);
      }
      expect(Number(await c.get(`${tag}:finishedBytes`))).toBeGreaterThan(2 * 2 * 1000);
      await expect.poll(() => store.get(b), { timeout: 5_000 }).toBeUndefined();
      await finish(store, fresh, 'frank', 'w');
      // Only frank's session is counted now: erin's expired ones left the bucket's counts and her index.
      expect(await c.hkeys(`${tag}:held`)).toEqual([fresh]);
      expect(await c.zrange(`${tag}:heaviest`, 0, -1)).toEqual(['frank']);
      expect(await c.exists(`${tag}:o:erin`)).toBe(0);
      const [bytes] = ((await c.hget(`${tag}:held`, fresh)) ?? '').split(' ');
      expect(await c.get(`${tag}:finishedBytes`)).toBe(bytes);
    } finally {
      store.dispose();
    }
  });

  it('an owner’s list that a Redis writer retyped is started again: the bounds go on holding for every owner of the bucket', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const store = new RedisSessionStore(c, { prefix, maxFinishedPerOwner: 1 });
    try {
      const [first = '', second = '', bob = ''] = idsIn(5, 3);
      // Once, never again. Before: every finish of alice's here failed its count, which then started
      // again empty for the whole bucket; nothing was ever forgotten to keep the bounds.
      await c.set(`${prefix}{sessions:5}:o:alice`, 'x');
      await finish(store, first, 'alice');
      await finish(store, second, 'alice');
      await finish(store, bob, 'bob');
      expect(await kept(store, [first, second, bob])).toEqual([false, true, true]);
      expect(await c.type(`${prefix}{sessions:5}:o:alice`)).toBe('zset');
    } finally {
      store.dispose();
    }
  });

  it('an owner’s list a Redis writer filled is trimmed 1000 at a finish, not all in one script that holds Redis for every instance', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const store = new RedisSessionStore(c, { prefix, maxFinishedPerOwner: 10 });
    try {
      const list = `${prefix}{sessions:6}:o:alice`;
      for (let i = 0; i < 5000; i += 1000) await c.zadd(list, ...Array.from({ length: 1000 }, (_, k) => [i + k - 5000, `ses_junk${i + k}`]).flat());
      const [first = '', second = ''] = idsIn(6, 2);
      // Before: the first finish forgot all 4,991 in one script (300,000 held Redis for a second).
      await finish(store, first, 'alice');
      expect(await c.zcard(list)).toBe(5001 - 1000);
      await finish(store, second, 'alice');
      expect(await c.zcard(list)).toBe(5002 - 2000);
      expect(await kept(store, [first, second])).toEqual([true, true]);
    } finally {
      store.dispose();
    }
  });

  it('refuses limits that are not positive integers, naming them', () => {
    expect(() => new RedisSessionStore(redis.client(), { maxFinishedPerOwner: 0 })).toThrow(/maxFinishedPerOwner must be a positive integer/);
    expect(() => new RedisSessionStore(redis.client(), { maxFinishedBytes: -1 })).toThrow(/maxFinishedBytes must be a positive integer/);
  });
});

describe('one user starting sessions with large results through the handler, on Redis', () => {
  it('Redis holds a bounded number of them, and another user’s result survives', async () => {
    const prefix = redis.prefix();
    // 100,000 bytes a bucket: less than one of mallory's results, so each bucket keeps only her newest.
    const store = new RedisSessionStore(redis.client(), { prefix, maxFinishedBytes: 16 * 100_000 });
    const handler = createEnclaveHandler({ authenticate: ({ request }) => request.headers.get('x-user'), sessions: { store } });
    const post = (user: string, code: string) =>
      new Request('http://localhost/enclave/sessions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ code }) });
    async function run(user: string, code: string): Promise<string> {
      const response = await handler(post(user, code));
      expect(response.status).toBe(201);
      const { sessionId } = (await response.json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).toBe('completed');
      return sessionId;
    }
    try {
      const bob = await run('bob', 'return "b".repeat(1000)');
      const mallory: string[] = [];
      for (let i = 0; i < 40; i++) mallory.push(await run('mallory', 'return "x".repeat(100000)'));
      const held = (await kept(store, mallory)).filter(Boolean).length;
      // 40 results of 100 KB; at most one a bucket is left, and her newest is.
      expect(held).toBeLessThanOrEqual(16);
      expect(await kept(store, [mallory.at(-1) as string, bob])).toEqual([true, true]);
      expect((await sessionKeys(prefix)).length).toBeLessThanOrEqual(2 * 17);
      const read = await handler(new Request(`http://localhost/enclave/sessions/${bob}`, { headers: { 'x-user': 'bob' } }));
      expect(await read.json()).toMatchObject({ state: 'completed', result: { value: 'b'.repeat(1000) } });
    } finally {
      handler.dispose();
      store.dispose();
    }
  });
});
