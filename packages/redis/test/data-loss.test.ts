/**
 * A Redis that loses its data while sessions run (restarted without persistence, FLUSHALL, keys
 * evicted): the instance running a session still holds what it needs to end it, so it writes the
 * record again and readers on every instance get `final`, as if nothing was lost. A record deleted for
 * a reason of the store's own (expired, forgotten, ended by another instance) is never written again.
 */
import { createEnclaveHandler } from '@enclave-kit/engine';
import type { EnclaveEvent, EnclaveFetchHandler } from '@enclave-kit/engine';
import { describe, expect, it } from 'vitest';
import { readEvents } from '../../engine/test/http/event-stream.js';
import type { StreamedEvent } from '../../engine/test/http/event-stream.js';
import { ping } from '../../../scripts/redis-server.mjs';
import { RedisLeaseStore, RedisSessionStore } from '../src/index.js';
import type { Redis } from 'ioredis';
import { eventually, gate, sleep, useRedis } from './redis.js';

const redis = useRedis();
const silent = { info() {}, error() {} };

const CODE = 'console.log("before"); const r = await callTool("gate"); console.log("after", r); return r;';

interface Instance {
  handler: EnclaveFetchHandler;
  store: RedisSessionStore;
  client: Redis;
  prefix: string;
  /** What its store logged. */
  logged: string[];
  close(): void;
}

/** One app instance: a handler on its own client and store, users from `x-user`. */
function instance(prefix: string, tool: ReturnType<typeof gate>['tool']): Instance {
  const client = redis.client();
  const logged: string[] = [];
  // 2 s: long enough for a loaded CI (500 ms timed out a first read of the events there: a 503 before any
  // loss of data), short against the tests' 30 s.
  const store = new RedisSessionStore(client, { prefix, commandTimeoutMs: 2000, logger: { error: (message: string) => logged.push(message) } });
  const handler = createEnclaveHandler({ logger: silent, authenticate: ({ request }) => request.headers.get('x-user'), tools: { gate: tool }, sessions: { store, livenessMs: 1000 } });
  return {
    handler,
    store,
    client,
    prefix,
    logged,
    close() {
      handler.dispose();
      store.dispose();
    },
  };
}

const as = (user: string, init: RequestInit = {}) => ({ ...init, headers: { 'x-user': user, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });

async function start(handler: EnclaveFetchHandler, user: string): Promise<string> {
  const res = await handler(new Request('http://localhost/enclave/sessions', as(user, { method: 'POST', body: JSON.stringify({ code: CODE }) })));
  expect(res.status).toBe(201);
  return ((await res.json()) as { sessionId: string }).sessionId;
}

/**
 * Follows a session's events from the start until `final` or the end of the stream. `heard` resolves
 * once the reader has the run's tool_call, the last event the run writes before it waits in its tool:
 * a loss of data must come after that for the reader to have had every event before it (a 100 ms
 * sleep raced the reader's first read on a loaded machine).
 */
function follow(handler: EnclaveFetchHandler, user: string, sessionId: string): { events: Promise<StreamedEvent[]>; heard: Promise<void> } {
  let heard!: () => void;
  const toolCall = new Promise<void>((resolve) => (heard = resolve));
  const events = (async () => {
    const res = await handler(new Request(`http://localhost/enclave/sessions/${sessionId}/events`, as(user, { headers: { accept: 'text/event-stream' } })));
    expect(res.status).toBe(200);
    return readEvents(res, { onEvent: (e) => e.data?.type === 'tool_call' && heard() });
  })();
  // A stream that ends (or fails) without one still lets the test go on to its checks.
  return { events, heard: Promise.race([toolCall, events.then(() => undefined)]) };
}

async function view(handler: EnclaveFetchHandler, user: string, sessionId: string): Promise<{ status: number; body: any }> {
  const res = await handler(new Request(`http://localhost/enclave/sessions/${sessionId}`, as(user)));
  return { status: res.status, body: await res.json() };
}

/** What a reader got: every event once and in order (the run's own, its log after the loss too), and final last with the run's result. */
function expectEndedWith(events: StreamedEvent[], value: unknown): void {
  expect(events.map((e) => e.data.seq)).toEqual(events.map((_, i) => i + 1));
  expect(events.filter((e) => e.data.type === 'log').map((e) => e.data.payload.message)).toEqual(['before', `after ${String(value)}`]);
  expect(events.filter((e) => e.data.type === 'final')).toHaveLength(1);
  expect(events.at(-1)?.data).toMatchObject({ type: 'final', payload: { success: true, value } });
}

/** The keys of one session (its record and its stream), as an eviction would take them. */
async function sessionKeys(sessionId: string): Promise<string[]> {
  return redis.client().keys(`*:[se]:${sessionId}`);
}

/**
 * Two instances on one prefix, and a session of alice's started on `a` whose run waits in its tool
 * until the test releases it; both are closed after `test`.
 */
async function withSession(test: (s: { a: Instance; b: Instance; g: ReturnType<typeof gate>; id: string }) => Promise<void>): Promise<void> {
  const prefix = redis.prefix();
  const g = gate();
  const a = instance(prefix, g.tool);
  const b = instance(prefix, g.tool);
  try {
    // Connected first: the stores' command timeout also counts a new connection's handshake,
    // which a loaded machine (CI, after the previous test restarted Redis) took longer than that for.
    await Promise.all([a.client.ping(), b.client.ping()]);
    const id = await start(a.handler, 'alice');
    await g.called;
    await test({ a, b, g, id });
  } finally {
    a.close();
    b.close();
  }
}

/** Session ids of one bucket (FNV-1a of the id mod 16, as the store computes it). */
function idsInOneBucket(count: number): string[] {
  const bucket = (id: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    return (h >>> 0) % 16;
  };
  const ids: string[] = [];
  for (let n = 0; ids.length < count; n++) if (bucket(`ses_same${n}`) === 0) ids.push(`ses_same${n}`);
  return ids;
}

/** Redis restarted without its data, as `redis-cli shutdown nosave` and a start do. */
async function restartEmpty(): Promise<void> {
  await redis
    .client()
    .call('SHUTDOWN', 'NOSAVE')
    .catch(() => {});
  await eventually(async () => ((await ping(redis.server.port)) ? Promise.reject(new Error('still up')) : undefined));
  await redis.server.start();
}

describe('Redis loses its data while a session runs', () => {
  it('restarted without its data: the instance running the session writes it again; its reader gets final and a GET the result', async () => {
    const prefix = redis.prefix();
    const g = gate();
    const a = instance(prefix, g.tool);
    try {
      await a.client.ping();
      const id = await start(a.handler, 'alice');
      const following = follow(a.handler, 'alice', id);
      await following.heard;
      await restartEmpty();
      // Nothing of it is left in Redis; the instance says it runs the session, and so writes it again.
      await eventually(async () => expect(await a.store.get(id)).toMatchObject({ owner: 'alice', state: 'running' }));
      g.release('done');
      expectEndedWith(await following.events, 'done');
      expect(await view(a.handler, 'alice', id)).toMatchObject({ status: 200, body: { state: 'completed', result: { success: true, value: 'done' } } });
      // Still its owner's alone.
      expect((await view(a.handler, 'mallory', id)).status).toBe(404);
    } finally {
      a.close();
    }
  }, 30_000);

  it('two instances: a reader on the other one gets final, and a GET there the result', () =>
    withSession(async ({ b, g, id }) => {
      const following = follow(b.handler, 'alice', id);
      await following.heard;
      await restartEmpty();
      // Released at once: the run's next events meet the missing record first.
      g.release('two');
      expectEndedWith(await following.events, 'two');
      expect(await view(b.handler, 'alice', id)).toMatchObject({ status: 200, body: { state: 'completed', result: { value: 'two' } } });
    }), 30_000);

  it('the run ends while Redis is down, and Redis comes back empty: its end is written once Redis answers', () =>
    withSession(async ({ b, g, id }) => {
      const following = follow(b.handler, 'alice', id);
      await following.heard;
      await redis.server.halt();
      g.release('meanwhile');
      await sleep(300);
      await redis.server.start();
      expectEndedWith(await following.events, 'meanwhile');
      expect(await view(b.handler, 'alice', id)).toMatchObject({ status: 200, body: { state: 'completed', result: { value: 'meanwhile' } } });
    }), 30_000);

  it('FLUSHALL mid-run: readers on both instances get final', () =>
    withSession(async ({ a, b, g, id }) => {
      const onA = follow(a.handler, 'alice', id);
      const onB = follow(b.handler, 'alice', id);
      await Promise.all([onA.heard, onB.heard]);
      await redis.client().flushall();
      g.release('flushed');
      expectEndedWith(await onA.events, 'flushed');
      expectEndedWith(await onB.events, 'flushed');
      expect(await view(b.handler, 'alice', id)).toMatchObject({ status: 200, body: { state: 'completed' } });
    }), 30_000);
});

describe('what the instance running a session writes back', () => {
  const ok = { success: true as const, value: 1, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } };
  const log = (sessionId: string, seq: number): EnclaveEvent => ({ sessionId, seq, type: 'log', time: seq, payload: { level: 'log', message: `line ${seq}`, time: seq } });

  it('its owner and createdAt, and final after every seq it handed over: a reader from the start learns what was lost', async () => {
    const prefix = redis.prefix();
    const a = new RedisSessionStore(redis.client(), { prefix, logger: { error() {} } });
    const b = new RedisSessionStore(redis.client(), { prefix });
    try {
      expect(await a.create({ sessionId: 'ses_back1', owner: 'alice', createdAt: 1234 })).toBe(true);
      await a.append('ses_back1', [log('ses_back1', 1), log('ses_back1', 2), log('ses_back1', 3)]);
      await redis.client().flushall();
      expect(await a.finish('ses_back1', 'completed', ok, 60_000)).toBe(true);
      expect(await b.get('ses_back1')).toEqual({ sessionId: 'ses_back1', owner: 'alice', state: 'completed', createdAt: 1234, result: ok });
      const events = await b.read('ses_back1', 0, 10);
      expect(events.map((e) => [e.type, e.seq])).toEqual([['events_dropped', 3], ['final', 4]]);
      expect(events[0]?.payload).toEqual({ fromSeq: 1, toSeq: 3, count: 3 });
      // Exactly once: a second end finds it ended.
      expect(await b.finish('ses_back1', 'failed', ok, 60_000)).toBe(false);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('every session of a bucket, when the instance that gave the bucket its epoch is the first to write one back', async () => {
    const prefix = redis.prefix();
    const a = new RedisSessionStore(redis.client(), { prefix, logger: { error() {} } });
    const b = new RedisSessionStore(redis.client(), { prefix });
    const [first, second] = idsInOneBucket(2) as [string, string];
    try {
      for (const id of [first, second]) expect(await a.create({ sessionId: id, owner: 'alice', createdAt: 1 })).toBe(true);
      await redis.client().flushall();
      expect(await a.finish(first, 'completed', ok, 60_000)).toBe(true);
      expect(await a.finish(second, 'completed', ok, 60_000)).toBe(true);
      for (const id of [first, second]) expect(await b.get(id)).toMatchObject({ owner: 'alice', state: 'completed' });
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('a run resumed after an approval on another instance: that instance writes it back, with the owner it read at the resume', async () => {
    const prefix = redis.prefix();
    const a = new RedisSessionStore(redis.client(), { prefix });
    const b = new RedisSessionStore(redis.client(), { prefix, logger: { error() {} } });
    try {
      await a.create({ sessionId: 'ses_back2', owner: 'bob', createdAt: 99 });
      await a.append('ses_back2', [log('ses_back2', 1)]);
      expect(await a.pause('ses_back2', { approval: { callId: 1, tool: 't', args: {}, expiresAt: Date.now() + 60_000 }, state: '{}' }, 60_000)).toBe(true);
      expect(await b.resume('ses_back2', 1, 1000)).toEqual({ state: '{}', lastSeq: 2 });
      await redis.client().flushall();
      await b.append('ses_back2', [log('ses_back2', 3)]);
      expect(await a.get('ses_back2')).toEqual({ sessionId: 'ses_back2', owner: 'bob', state: 'running', createdAt: 99 });
      expect(await b.finish('ses_back2', 'completed', ok, 60_000)).toBe(true);
      expect((await a.read('ses_back2', 2, 10)).map((e) => [e.type, e.seq])).toEqual([['log', 3], ['final', 4]]);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('a record deleted by the store itself is never written again', () => {
  it('evicted while Redis keeps its other data: the owner logs it once, with no text of the script; the reader gets SESSION_LOST, not a silent end', () =>
    withSession(async ({ a, b, g, id }) => {
      const following = follow(b.handler, 'alice', id);
      await following.heard;
      const keys = await sessionKeys(id);
      expect(keys).toHaveLength(2);
      await redis.client().del(...keys);
      // Its owner's keepAlive meets the missing record under the same epoch: a deletion it cannot tell from the store's own.
      await eventually(async () => expect(a.logged).toHaveLength(1));
      g.release('<script text>');
      const events = await following.events;
      expect(events.at(-1)?.data).toMatchObject({ sessionId: id, type: 'final', payload: { success: false, error: { code: 'SESSION_LOST' } } });
      expect(events.filter((e) => e.data.type === 'final')).toHaveLength(1);
      // The run's end found nothing to write: no record again, a GET is 404, and the log said it once.
      await sleep(300);
      expect(await a.store.get(id)).toBeUndefined();
      expect((await view(b.handler, 'alice', id)).status).toBe(404);
      expect(a.logged).toHaveLength(1);
      expect(a.logged[0]).toContain(id);
      expect(a.logged[0]).not.toContain('script text');
      expect(b.logged).toEqual([]);
    }), 30_000);

  it('ended by another instance and deleted after (expired) before its owner heard of it: the owner finishes into nothing', async () => {
    const prefix = redis.prefix();
    const a = new RedisSessionStore(redis.client(), { prefix, logger: { error() {} } });
    const b = new RedisSessionStore(redis.client(), { prefix });
    const id = 'ses_lost1';
    const lost = { success: false as const, error: { name: 'RunLostError', message: 'lost', code: 'RUN_LOST' as const }, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } };
    try {
      expect(await a.create({ sessionId: id, owner: 'alice', createdAt: 1 })).toBe(true);
      expect(await b.finish(id, 'failed', lost, 50)).toBe(true);
      await eventually(async () => expect(await b.get(id)).toBeUndefined());
      await a.keepAlive(id, 1000);
      await a.append(id, [{ sessionId: id, seq: 1, type: 'log', time: 1, payload: { level: 'log', message: 'late', time: 1 } }]);
      expect(await a.finish(id, 'completed', { success: true, value: 1, stats: lost.stats }, 60_000)).toBe(false);
      expect(await b.get(id)).toBeUndefined();
      expect(await sessionKeys(id)).toEqual([]);
      // And after a FLUSHALL too: the owner heard it ended (keepAlive found it finished), so it never comes back.
      const c = 'ses_lost2';
      await a.create({ sessionId: c, owner: 'alice', createdAt: 1 });
      await b.finish(c, 'failed', lost, 60_000);
      await a.keepAlive(c, 1000);
      await redis.client().flushall();
      expect(await a.finish(c, 'completed', { success: true, value: 1, stats: lost.stats }, 60_000)).toBe(false);
      expect(await b.get(c)).toBeUndefined();
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('past maxRunningMs (its record expired as meant): not written again, even after Redis lost everything', async () => {
    const prefix = redis.prefix();
    const a = new RedisSessionStore(redis.client(), { prefix, maxRunningMs: 200 });
    const id = 'ses_long1';
    try {
      expect(await a.create({ sessionId: id, owner: 'alice', createdAt: 1 })).toBe(true);
      await eventually(async () => expect(await a.get(id)).toBeUndefined());
      await sleep(50);
      await redis.client().flushall();
      await a.keepAlive(id, 1000);
      expect(await a.finish(id, 'completed', { success: true, value: 1, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } }, 60_000)).toBe(false);
      expect(await a.get(id)).toBeUndefined();
    } finally {
      a.dispose();
    }
  });
});

describe('a session written again is an ordinary running session', () => {
  it('a cancel through another instance reaches its run; if its instance then dies, another ends it as RUN_LOST', () =>
    withSession(async ({ b, id: cancelled }) => {
      await redis.client().flushall();
      await eventually(async () => expect(await b.store.get(cancelled)).toMatchObject({ state: 'running' }));
      const res = await b.handler(new Request(`http://localhost/enclave/sessions/${cancelled}`, as('alice', { method: 'DELETE' })));
      expect(await res.json()).toMatchObject({ state: 'cancelled', result: { error: { code: 'ABORTED' } } });

      const g2 = gate();
      const c = instance(b.prefix, g2.tool);
      const orphan = await start(c.handler, 'bob');
      await g2.called;
      await redis.client().flushall();
      await eventually(async () => expect(await b.store.get(orphan)).toMatchObject({ owner: 'bob', state: 'running' }));
      // c loses Redis for good, as a process killed with kill -9 does: b's sweep ends its session.
      c.client.disconnect();
      const events = await follow(b.handler, 'bob', orphan).events;
      expect(events.at(-1)?.data.payload).toMatchObject({ success: false, error: { code: 'RUN_LOST' } });
      c.close();
    }), 30_000);
});

describe('per-user caps across a loss', () => {
  it('sessions.maxPerUser: a session still running when Redis lost its lease takes its slot again, and one more is refused', async () => {
    const prefix = redis.prefix();
    const g = gate();
    const store = new RedisSessionStore(redis.client(), { prefix, logger: { error() {} } });
    const leases = new RedisLeaseStore(redis.client(), { prefix });
    const handler = createEnclaveHandler({ logger: silent, authenticate: ({ request }) => request.headers.get('x-user'), tools: { gate: g.tool }, leases, sessions: { store, livenessMs: 600, maxPerUser: 1 } });
    const post = () => handler(new Request('http://localhost/enclave/sessions', as('alice', { method: 'POST', body: JSON.stringify({ code: CODE }) })));
    try {
      expect((await post()).status).toBe(201);
      await g.called;
      expect((await post()).status).toBe(429);
      await redis.client().flushall();
      // The run's renewal finds its lease gone and takes it again.
      await eventually(async () => expect(await redis.client().keys(`${prefix}lease:*`)).toHaveLength(1));
      expect((await post()).status).toBe(429);
      g.release('done');
    } finally {
      handler.dispose();
      store.dispose();
    }
  }, 30_000);
});
