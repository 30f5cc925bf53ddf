import type { EnclaveEvent, ExecutionResult } from '@enclave-kit/engine';
import { createEnclaveHandler } from '@enclave-kit/engine';
import { format } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RedisLeaseStore, RedisRateLimitStore, RedisSessionStore } from '../src/index.js';
import { storeFailure } from '../src/client.js';
import { sessionStoreContract } from '../../engine/test/http/session-store-contract.js';
import { eventually, largestReply, sleep, useRedis } from './redis.js';

const redis = useRedis();

sessionStoreContract('RedisSessionStore', () => new RedisSessionStore(redis.client(), { prefix: redis.prefix(), maxEvents: 8 }));

let n = 0;
const newId = () => `ses_test${++n}_${Math.random().toString(36).slice(2, 10)}`;
const ok = (value: unknown): ExecutionResult => ({ success: true, value, stats: { duration: 1, toolCallCount: 0, iterationCount: 0 } });
const log = (sessionId: string, seq: number, message = `line ${seq}`): EnclaveEvent => ({ sessionId, seq, type: 'log', time: 1000 + seq, payload: { level: 'log', message, time: 1000 + seq } });
const logs = (sessionId: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => log(sessionId, from + i));

/** A store on its own client, as one app instance has. */
function instance(prefix: string, options: ConstructorParameters<typeof RedisSessionStore>[1] = {}): RedisSessionStore {
  return new RedisSessionStore(redis.client(), { prefix, ...options });
}

async function started(store: RedisSessionStore, owner = 'alice'): Promise<string> {
  const sessionId = newId();
  expect(await store.create({ sessionId, owner, createdAt: 1234 })).toBe(true);
  return sessionId;
}

describe('RedisSessionStore: the record and the events', () => {
  it('creates a session once, replays its events from any seq, and ends it with final and its state', async () => {
    const a = instance(redis.prefix());
    const id = await started(a);
    expect(await a.create({ sessionId: id, owner: 'mallory', createdAt: 1 })).toBe(false);
    expect(await a.get(id)).toEqual({ sessionId: id, owner: 'alice', state: 'running', createdAt: 1234 });
    await a.append(id, logs(id, 1, 3));
    await a.append(id, logs(id, 4, 5));
    expect((await a.read(id, 0, 100)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(await a.read(id, 2, 2)).toEqual([log(id, 3), log(id, 4)]);
    expect(await a.finish(id, 'completed', ok(7), 60_000)).toBe(true);
    const tail = await a.read(id, 5, 100);
    expect(tail).toHaveLength(1);
    expect(tail[0]).toMatchObject({ sessionId: id, seq: 6, type: 'final', payload: ok(7) });
    expect(await a.get(id)).toEqual({ sessionId: id, owner: 'alice', state: 'completed', createdAt: 1234, result: ok(7) });
    // Nothing more after the end: not an append, not a second end.
    await a.append(id, logs(id, 6, 7));
    expect(await a.finish(id, 'failed', ok(0), 60_000)).toBe(false);
    expect((await a.read(id, 0, 100)).map((e) => e.type)).toEqual(['log', 'log', 'log', 'log', 'log', 'final']);
    expect(await a.get(newId())).toBeUndefined();
    expect(await a.read(newId(), 0, 10)).toEqual([]);
  });

  it('a batch sent again after a lost reply adds nothing twice', async () => {
    const a = instance(redis.prefix());
    const id = await started(a);
    await a.append(id, logs(id, 1, 3));
    await a.append(id, logs(id, 1, 4));
    await a.append(id, logs(id, 3, 5));
    expect((await a.read(id, 0, 100)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps maxEvents per session; a reader behind the oldest kept event gets one events_dropped first, and final is kept', async () => {
    const a = instance(redis.prefix(), { maxEvents: 5 });
    const id = await started(a);
    await a.append(id, logs(id, 1, 12));
    const events = await a.read(id, 0, 100);
    expect(events[0]).toEqual({ sessionId: id, seq: 7, type: 'events_dropped', time: 1008, payload: { fromSeq: 1, toSeq: 7, count: 7 } });
    expect(events.slice(1).map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
    // The marker's id is where a reader resumes: after the gap, with nothing twice.
    expect((await a.read(id, 7, 100)).map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
    expect((await a.read(id, 3, 100))[0]?.payload).toEqual({ fromSeq: 4, toSeq: 7, count: 4 });
    expect(await a.read(id, 0, 3)).toHaveLength(3);
    await a.finish(id, 'completed', ok(1), 60_000);
    expect((await a.read(id, 10, 100)).map((e) => e.type)).toEqual(['log', 'log', 'final']);
    expect((await a.read(id, 0, 100)).at(-1)?.type).toBe('final');
  });

  it('a finished session expires ttlMs after it ended; a running one after maxRunningMs', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    // Long enough that "still running" is read before it expires on a loaded machine; the wait for
    // the expiry only has to be longer.
    const a = new RedisSessionStore(c, { prefix, maxRunningMs: 3000 });
    const done = await started(a);
    await a.append(done, logs(done, 1, 2));
    await a.finish(done, 'completed', ok(1), 200);
    const forgotten = await started(a);
    const t0 = performance.now();
    await a.append(forgotten, logs(forgotten, 1, 2));
    await sleep(300);
    expect(await a.get(done)).toBeUndefined();
    expect(await a.read(done, 0, 10)).toEqual([]);
    expect(await a.get(forgotten)).toMatchObject({ state: 'running' });
    await sleep(3100 - (performance.now() - t0));
    expect(await a.get(forgotten)).toBeUndefined();
    expect(await a.read(forgotten, 0, 10)).toEqual([]);
    // Nothing of either is left in Redis.
    expect((await c.keys(`${prefix}*`)).filter((k) => k.includes(done) || k.includes(forgotten))).toEqual([]);
  });
});

describe('RedisSessionStore: across instances', () => {
  it('finish is exactly once when instances race to end the same session', async () => {
    const prefix = redis.prefix();
    const stores = [instance(prefix), instance(prefix), instance(prefix)];
    for (let round = 0; round < 5; round++) {
      const id = await started(stores[0] as RedisSessionStore);
      await (stores[0] as RedisSessionStore).append(id, logs(id, 1, 3));
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (stores[i % 3] as RedisSessionStore).finish(id, i % 2 ? 'failed' : 'completed', ok(i), 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      const events = await (stores[1] as RedisSessionStore).read(id, 0, 100);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(events.filter((e) => e.type === 'final')).toHaveLength(1);
      expect(events[3]?.payload).toEqual(ok(winner));
      expect(await (stores[2] as RedisSessionStore).get(id)).toMatchObject({ state: winner % 2 ? 'failed' : 'completed', result: ok(winner) });
    }
  });

  it('a reader on another instance hears appends and the end; a channel is dropped with its last listener', async () => {
    const prefix = redis.prefix();
    const owner = instance(prefix);
    const reader = instance(prefix);
    const id = await started(owner);
    let heard = 0;
    const stopA = reader.subscribe(id, () => heard++);
    const stopB = reader.subscribe(id, () => heard++);
    const watcher = redis.client();
    const channel = `${prefix}session:${id}:events`;
    // One subscription for both listeners, on one connection; once it is up, both are told to read.
    await eventually(async () => expect(await watcher.call('PUBSUB', 'NUMSUB', channel)).toEqual([channel, 1]));
    await eventually(async () => expect(heard).toBe(2));
    await owner.append(id, logs(id, 1, 1));
    await eventually(async () => expect(heard).toBe(4));
    await owner.finish(id, 'completed', ok(1), 60_000);
    await eventually(async () => expect(heard).toBe(6));
    await sleep(100);
    expect(heard).toBe(6);
    stopA();
    await sleep(50);
    expect(await watcher.call('PUBSUB', 'NUMSUB', channel)).toEqual([channel, 1]);
    stopB();
    await eventually(async () => expect(await watcher.call('PUBSUB', 'NUMSUB', channel)).toEqual([channel, 0]));
    reader.dispose();
    owner.dispose();
  });

  it('a cancel asked through one instance reaches the one running the session', async () => {
    const prefix = redis.prefix();
    const owner = instance(prefix);
    const other = instance(prefix);
    const id = await started(owner);
    let cancelled = 0;
    const stop = owner.onCancel(id, () => cancelled++);
    const watcher = redis.client();
    const channel = `${prefix}session:${id}:cancel`;
    await eventually(async () => expect(await watcher.call('PUBSUB', 'NUMSUB', channel)).toEqual([channel, 1]));
    expect(await other.requestCancel(id)).toBe(true);
    await eventually(async () => expect(cancelled).toBe(1));
    stop();
    await owner.finish(id, 'cancelled', ok(null), 60_000);
    expect(await other.requestCancel(id)).toBe(false);
    expect(await other.requestCancel(newId())).toBe(false);
    owner.dispose();
  });

  it('a cancel whose message the owner missed is found as it starts listening, and by its next keepAlive', async () => {
    const prefix = redis.prefix();
    const owner = instance(prefix);
    const other = instance(prefix);
    const id = await started(owner);
    // Asked before the owner listens (as while a decision sets the run going again): the message is
    // gone, the flag stays, and the owner reads it as it subscribes.
    expect(await other.requestCancel(id)).toBe(true);
    let cancelled = 0;
    owner.onCancel(id, () => cancelled++);
    await expect.poll(() => cancelled).toBe(1);
    // A message missed while listening (the pub/sub connection down): the next keepAlive finds the flag.
    await owner.keepAlive(id, 10_000);
    expect(cancelled).toBe(2);
    owner.dispose();
  });

  it('keepAlive keeps a session off the stale list; one whose instance stops renewing is listed by every instance', async () => {
    const prefix = redis.prefix();
    const [a, b] = [instance(prefix), instance(prefix)];
    const alive = await started(a);
    const lost = await started(a);
    const ended = await started(a);
    // A new session counts as alive until its first keepAlive is due.
    expect(await b.stale()).toEqual([]);
    // One after the other, on Redis's clock: alive's first keepAlive is due no later than lost's, so
    // once lost is listed alive's has lapsed too, and only its renewal keeps it off the list. No wait
    // of this test has to be shorter than anything, however loaded the machine.
    await a.keepAlive(alive, 300);
    await a.keepAlive(ended, 300);
    await a.finish(ended, 'completed', ok(1), 60_000);
    await a.keepAlive(alive, 60_000);
    await a.keepAlive(lost, 300);
    await eventually(async () => expect(await b.stale()).toContain(lost));
    expect(await b.stale()).toEqual([lost]);
    expect(await a.stale()).toEqual([lost]);
    // A keepAlive after the end does not bring a session back.
    await a.keepAlive(ended, 1);
    await sleep(20);
    expect(await b.stale()).toEqual([lost]);
    expect(await b.finish(lost, 'failed', ok('lost'), 60_000)).toBe(true);
    expect(await a.stale()).toEqual([]);
  });
});

describe('RedisSessionStore: what Redis says is checked', () => {
  it('reads stream entries it did not write as a gap, and a record of the wrong shape as ended (STATE_REJECTED), or as nobody’s without an owner it wrote', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    const a = new RedisSessionStore(c, { prefix });
    const id = await started(a);
    await a.append(id, logs(id, 1, 1));
    const [events] = (await c.keys(`${prefix}*:e:${id}`)) as [string];
    const [meta] = (await c.keys(`${prefix}*:s:${id}`)) as [string];
    await c.xadd(events, '0-2', 'e', 'not json');
    await c.xadd(events, '0-3', 'e', JSON.stringify({ ...log(id, 3), seq: 4 }));
    await c.xadd(events, '0-4', 'e', JSON.stringify({ ...log('ses_other', 4) }));
    await c.xadd(events, '0-5', 'e', JSON.stringify({ ...log(id, 5), type: 'pwned' }));
    await c.xadd(events, '0-6', 'x', JSON.stringify(log(id, 6)));
    await c.xadd(events, '0-7', 'e', JSON.stringify({ ...log(id, 7), type: 'final', payload: { value: 1 } }));
    await c.xadd(events, '0-8', 'e', JSON.stringify(log(id, 8)));
    // One gap for the run of entries it cannot read, so that a reader goes on past them.
    const read = await a.read(id, 0, 100);
    expect(read.map((e) => [e.seq, e.type])).toEqual([
      [1, 'log'],
      [7, 'events_dropped'],
      [8, 'log'],
    ]);
    expect(read[1]?.payload).toEqual({ fromSeq: 2, toSeq: 7, count: 6 });
    await c.hset(meta, 'state', 'exploded');
    expect(await a.get(id)).toMatchObject({ state: 'failed', owner: 'alice', result: { success: false, error: { code: 'STATE_REJECTED', message: expect.stringMatching(/a record that this app did not write/) } } });
    // A result it did not write ends the session for its readers, as a state that does not verify does.
    await c.hset(meta, 'state', 'completed', 'result', '{"value":1}');
    expect((await a.get(id))?.result).toMatchObject({ success: false, error: { code: 'STATE_REJECTED', message: expect.stringMatching(/a result that this app did not write/) } });
    await c.hset(meta, 'result', JSON.stringify(ok(1)), 'createdAt', 'yesterday');
    expect(await a.get(id)).toMatchObject({ state: 'failed', result: { error: { code: 'STATE_REJECTED' } } });
    // No owner this app wrote: nobody's session.
    await c.hset(meta, 'createdAt', '1234', 'owner', '\uffff"not json');
    expect(await a.get(id)).toBeUndefined();
    await c.hdel(meta, 'owner');
    expect(await a.get(id)).toBeUndefined();
  });

  it('an events_dropped entry in the stream is a Redis writer’s: it reads as a gap, so its numbers hide no later gap from a session’s readers', async () => {
    const c = redis.client();
    const store = new RedisSessionStore(c, { prefix: redis.prefix() });
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, authenticate: () => 'alice', sessions: { store, owner: () => 'alice' } });
    try {
      const id = await started(store);
      await store.append(id, logs(id, 1, 1));
      const [events] = (await c.keys(`*:e:${id}`)) as [string];
      // A marker no run appends, told the readers had been shown every seq up to 1e308; then an entry
      // nobody can read, whose gap the store tells of itself.
      await c.xadd(events, '0-2', 'e', JSON.stringify({ sessionId: id, seq: 2, type: 'events_dropped', time: 1, payload: { fromSeq: 2, toSeq: 1e308, count: -1 } }));
      await c.xadd(events, '0-3', 'e', 'not json');
      await store.append(id, logs(id, 4, 4));
      expect(await store.finish(id, 'completed', ok(1), 60_000)).toBe(true);
      const res = await handler(new Request(`http://localhost/enclave/sessions/${id}/events`, { headers: { accept: 'application/x-ndjson' } }));
      const read = (await res.text()).trim().split('\n').map((line) => JSON.parse(line) as EnclaveEvent);
      expect(read.map((e) => [e.seq, e.type, e.type === 'events_dropped' ? e.payload : null])).toEqual([
        [1, 'log', null],
        [3, 'events_dropped', { fromSeq: 2, toSeq: 3, count: 2 }],
        [4, 'log', null],
        [5, 'final', null],
      ]);
    } finally {
      handler.dispose();
      store.dispose();
    }
  });

  it('a record whose state or creation time a Redis writer changed ends for its owner as STATE_REJECTED; it is not 503 at every request', async () => {
    const store = new RedisSessionStore(redis.client(), { prefix: redis.prefix() });
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, authenticate: ({ request }) => request.headers.get('x-user'), sessions: { store } });
    const as = (user: string, url: string, init: RequestInit = {}) => handler(new Request(`http://localhost/enclave${url}`, { ...init, headers: { accept: 'application/json', 'x-user': user } }));
    try {
      const c = redis.client();
      for (const [field, value] of [['state', 'exploded'], ['state', '__proto__'], ['createdAt', '1e308'], ['createdAt', '-0']]) {
        const id = await started(store);
        const [meta] = (await c.keys(`*:s:${id}`)) as [string];
        await c.hset(meta, field as string, value as string);
        const read = await as('alice', `/sessions/${id}`);
        expect(read.status, `${field} ${value}`).toBe(200);
        expect(await read.json()).toMatchObject({ state: 'failed', result: { success: false, error: { code: 'STATE_REJECTED' } } });
        expect((await as('mallory', `/sessions/${id}`)).status).toBe(404);
        // Ended: nothing waits to be cancelled or decided.
        expect((await as('alice', `/sessions/${id}`, { method: 'DELETE' })).status).toBe(200);
      }
    } finally {
      handler.dispose();
      store.dispose();
    }
  });

  it('a session whose record or events a Redis writer retyped is no session or has no events: 404, or its result as the end, never 503 at every request', async () => {
    const store = new RedisSessionStore(redis.client(), { prefix: redis.prefix() });
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, authenticate: () => 'alice', sessions: { store, owner: () => 'alice' } });
    const get = (url: string, init: RequestInit = {}) => handler(new Request(`http://localhost/enclave${url}`, { ...init, headers: { accept: 'application/x-ndjson' } }));
    try {
      const c = redis.client();
      const ended = async () => {
        const id = await started(store);
        await store.append(id, logs(id, 1, 2));
        expect(await store.finish(id, 'completed', ok('done'), 60_000)).toBe(true);
        return { id, meta: ((await c.keys(`*:s:${id}`)) as [string])[0], events: ((await c.keys(`*:e:${id}`)) as [string])[0] };
      };
      const a = await ended();
      await c.multi().del(a.events).set(a.events, 'x').exec();
      const lines = (await (await get(`/sessions/${a.id}/events`)).text()).trim().split('\n');
      expect(lines.map((line) => JSON.parse(line) as EnclaveEvent).map((e) => [e.type, e.payload])).toEqual([['final', ok('done')]]);
      const b = await ended();
      await c.multi().del(b.meta).sadd(b.meta, 'x').exec();
      for (const [url, method] of [[`/sessions/${b.id}`, 'GET'], [`/sessions/${b.id}`, 'DELETE'], [`/sessions/${b.id}/approvals/1`, 'POST']] as const) {
        expect((await get(url, { method })).status, `${method} ${url}`).toBe(404);
      }
      // A running one's instance finds it gone, as if deleted: its keepAlive does not fail, it says so
      // (false: the run stops, as its readers were told the session is lost).
      const running = await started(store);
      const [meta] = (await c.keys(`*:s:${running}`)) as [string];
      await c.multi().del(meta).lpush(meta, 'x').exec();
      await expect(store.keepAlive(running, 10_000)).resolves.toBe(false);
      await expect(store.append(running, logs(running, 1, 1))).resolves.toBeUndefined();
      expect(await store.cancelAsked(running)).toBe(false);
    } finally {
      handler.dispose();
      store.dispose();
    }
  });

  it('what a Redis writer leaves in a session’s stream and record (an id 1-0 past every seq, a lastSeq or byte count no instance writes) refuses no event: the run’s events, its pause and its end are written', async () => {
    const c = redis.client();
    const store = instance(redis.prefix());
    const junk = async (id: string) => c.xadd(((await c.keys(`*:e:${id}`)) as [string])[0], '1-0', 'e', 'junk');
    // Before: every append and the finish failed (the id is below the stream's top), so the session
    // stayed running after its run had ended and its readers waited for a final for maxRunningMs.
    const id = await started(store);
    await store.append(id, logs(id, 1, 2));
    await junk(id);
    await store.append(id, logs(id, 3, 3));
    expect(await store.finish(id, 'completed', ok(3), 60_000)).toBe(true);
    expect((await store.read(id, 0, 100)).map((e) => [e.seq, e.type])).toEqual([
      [2, 'events_dropped'],
      [3, 'log'],
      [4, 'final'],
    ]);
    // A lastSeq no instance writes (past what a stream id here holds, or not a number): the events go on
    // after what the stream holds. Before: 99999999999999999 made every id invalid, the same end.
    for (const lastSeq of ['99999999999999999', '1e5', 'x']) {
      const other = await started(store);
      await store.append(other, logs(other, 1, 2));
      await c.hset(((await c.keys(`*:s:${other}`)) as [string])[0], 'lastSeq', lastSeq);
      await store.append(other, logs(other, 3, 3));
      expect(await store.finish(other, 'completed', ok(3), 60_000), lastSeq).toBe(true);
      expect((await store.read(other, 0, 100)).map((e) => [e.seq, e.type]), lastSeq).toEqual([
        [1, 'log'],
        [2, 'log'],
        [3, 'log'],
        [4, 'final'],
      ]);
    }
    // A count of bytes that is not one HINCRBY can add to: before, every append and every pause failed.
    for (const bytes of ['x', '9223372036854775807']) {
      const other = await started(store);
      await c.hset(((await c.keys(`*:s:${other}`)) as [string])[0], 'bytes', bytes);
      await store.append(other, logs(other, 1, 1));
      expect(await store.pause(other, { approval: { callId: 1, tool: 't', expiresAt: Date.now() + 60_000 }, state: 's' }, 60_000), bytes).toBe(true);
      expect((await store.read(other, 0, 100)).map((e) => [e.seq, e.type]), bytes).toEqual([
        [1, 'log'],
        [2, 'approval_required'],
      ]);
    }
    // A pause, and the resume that hands its state out once.
    const paused = await started(store);
    await junk(paused);
    const approval = { callId: 1, tool: 't', expiresAt: Date.now() + 60_000 };
    expect(await store.pause(paused, { approval, state: 'state' }, 60_000)).toBe(true);
    expect(await store.resume(paused, 1, 10_000)).toEqual({ state: 'state', lastSeq: 1 });
  });

  it('no value longer than maxValueBytes leaves Redis: an event is a gap, a final, result or paused state is refused', async () => {
    const c = redis.client();
    const received = largestReply(c);
    const prefix = redis.prefix();
    const a = new RedisSessionStore(c, { prefix, maxValueBytes: 64 * 1024 });
    const id = await started(a);
    const big = 'x'.repeat(100 * 1024);
    await a.append(id, [log(id, 1), log(id, 2, big), log(id, 3)]);
    expect((await a.read(id, 0, 100)).map((e) => [e.seq, e.type])).toEqual([
      [1, 'log'],
      [2, 'events_dropped'],
      [3, 'log'],
    ]);
    expect(await a.finish(id, 'completed', ok(big), 60_000)).toBe(true);
    const [final] = await a.read(id, 3, 10);
    expect(final).toMatchObject({ seq: 4, type: 'final', payload: { success: false, error: { code: 'STATE_REJECTED' } } });
    expect(await a.get(id)).toMatchObject({ state: 'completed', result: { success: false, error: { code: 'STATE_REJECTED' } } });
    // A read hands over at most maxValueBytes in all (one event at least), whatever `limit` says.
    const many = await started(a);
    const half = 'y'.repeat(40 * 1024);
    await a.append(many, [1, 2, 3].map((seq) => log(many, seq, half)));
    expect((await a.read(many, 0, 100)).map((e) => e.seq)).toEqual([1]);
    expect((await a.read(many, 1, 100)).map((e) => e.seq)).toEqual([2]);
    // A paused run's state over the cap comes back empty: the HTTP core refuses it (STATE_REJECTED).
    const paused = await started(a);
    expect(await a.pause(paused, { approval: { callId: 1, tool: 't', expiresAt: Date.now() + 60_000 }, state: big }, 60_000)).toBe(true);
    expect((await a.resume(paused, 1, 10_000))?.state).toBe('');
    expect(received()).toBeLessThanOrEqual(64 * 1024);
  });

  it('by default a result of more than 64 MiB in Redis never reaches the process, and reads as STATE_REJECTED', async () => {
    const c = redis.client();
    const received = largestReply(c);
    const prefix = redis.prefix();
    // 64 MiB through Redis on a busy machine: the command timeout is not what this test is about.
    const a = new RedisSessionStore(c, { prefix, commandTimeoutMs: 10_000 });
    const id = await started(a);
    expect(await a.finish(id, 'completed', ok(1), 60_000)).toBe(true);
    const [meta] = (await c.keys(`${prefix}*:s:${id}`)) as [string];
    await c.hset(meta, 'result', `{"success":true,"value":"${'z'.repeat(64 * 1024 * 1024)}"}`);
    expect(await a.get(id)).toMatchObject({ state: 'completed', result: { success: false, error: { code: 'STATE_REJECTED' } } });
    expect(received()).toBeLessThan(1024 * 1024);
  });

  it('a __proto__ key in what it reads back never reaches the host as an own key', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    const a = new RedisSessionStore(c, { prefix });
    const id = await started(a);
    const poisoned = JSON.parse('{"__proto__":{"polluted":true},"kept":1}') as Record<string, unknown>;
    await a.append(id, [{ sessionId: id, seq: 1, type: 'tool_call', time: 1, payload: { callId: 1, tool: 't', args: poisoned } }]);
    expect(await a.finish(id, 'completed', ok(poisoned), 60_000)).toBe(true);
    const [meta] = (await c.keys(`${prefix}*:s:${id}`)) as [string];
    const value = (await a.get(id))?.result as { value: object };
    expect(value.value).toEqual({ kept: 1 });
    const [first, final] = await a.read(id, 0, 10);
    expect(JSON.stringify(first)).not.toMatch(/__proto__/);
    const finalValue = (final?.payload as { value?: object } | undefined)?.value;
    expect(finalValue).toEqual({ kept: 1 });
    expect(Object.hasOwn(finalValue ?? {}, '__proto__')).toBe(false);
    // Spelled with an escape, as JSON allows.
    await c.hset(meta, 'result', '{"success":true,"value":{"\\u005f_proto__":{"polluted":true}},"stats":{}}');
    const escaped = (await a.get(id))?.result as { value: object };
    expect(Object.hasOwn(escaped.value, '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('what a Redis writer leaves in a bucket’s shared keys costs nothing beyond those keys: sweeps, creates and finishes go on', async () => {
    const c = redis.client();
    const prefix = redis.prefix();
    // Its log line (the record of a session it runs is gone) is the store's word on the forged record below.
    const a = new RedisSessionStore(c, { prefix, logger: { error() {} } });
    const stale = await started(a);
    await a.keepAlive(stale, 1);
    const [meta] = (await c.keys(`${prefix}*:s:${stale}`)) as [string];
    const tag = meta.slice(0, meta.indexOf('}') + 1);
    // 150 members that are no session ids, due before the real one: old code listed the same 100 every sweep.
    await c.zadd(`${tag}:running`, ...Array.from({ length: 150 }, (_, i) => [0, `not a session ${i}`]).flat());
    // Another bucket's index of the wrong type: old code failed every sweep, for all buckets.
    const other = tag === `${prefix}{sessions:0}` ? 1 : 0;
    await c.set(`${prefix}{sessions:${other}}:running`, 'forged');
    await c.set(`${prefix}{sessions:${other}}:waiting`, 'forged');
    await sleep(5);
    expect(await a.stale()).toEqual([stale]);
    expect(await a.expired()).toEqual([]);
    expect(await c.zcard(`${tag}:running`)).toBe(1);
    // The bucket's epoch and counts of other types: creates and finishes in it still work.
    await c.del(`${tag}:epoch`);
    await c.hset(`${tag}:epoch`, 'forged', '1');
    await c.set(`${tag}:heaviest`, 'forged');
    await c.set(`${tag}:finishedBytes`, 'not a number');
    let next = await started(a);
    while (!(await c.exists(`${tag}:s:${next}`))) next = await started(a);
    expect(await a.finish(next, 'completed', ok(1), 60_000)).toBe(true);
    expect(await a.get(next)).toMatchObject({ state: 'completed', result: ok(1) });
    expect(await a.finish(stale, 'failed', ok(0), 60_000)).toBe(true);
    // A listed session whose record is of another type has none: its finish says so, and it leaves the index.
    const forged = await started(a);
    await a.keepAlive(forged, 1);
    const [forgedMeta] = (await c.keys(`${prefix}*:s:${forged}`)) as [string];
    await c.del(forgedMeta);
    await c.rpush(forgedMeta, 'forged');
    await sleep(5);
    expect(await a.stale()).toEqual([forged]);
    expect(await a.finish(forged, 'failed', ok(0), 60_000)).toBe(false);
    expect(await a.stale()).toEqual([]);
  });

  it('a record or event nested deeper than any this app writes is refused unread: the session reads as STATE_REJECTED, not 503 at every read', async () => {
    const prefix = redis.prefix();
    const store = instance(prefix);
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, authenticate: () => 'alice', sessions: { store } });
    const get = (url: string) => handler(new Request(`http://localhost/enclave${url}`, { headers: { accept: 'application/json' } }));
    try {
      const created = await handler(new Request('http://localhost/enclave/sessions', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ code: 'return 1' }) }));
      const { sessionId } = (await created.json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).toBe('completed');
      const c = redis.client();
      const [meta] = await c.keys(`${prefix}*:s:${sessionId}`);
      const [events] = await c.keys(`${prefix}*:e:${sessionId}`);
      const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
      // 100,000 levels: JSON.stringify of the session's view overflowed the stack.
      await c.hset(meta as string, 'result', `{"success":true,"value":${deep(100_000)},"stats":{}}`);
      await c.xadd(events as string, '0-9', 'e', JSON.stringify({ sessionId, seq: 9, type: 'log', time: 1, payload: { message: 'x' } }).replace('"x"', deep(100_000)));
      const res = await get(`/sessions/${sessionId}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ state: 'completed', result: { success: false, error: { code: 'STATE_REJECTED' } } });
      const read = await store.read(sessionId, 2, 10);
      expect(read.at(-1)).toMatchObject({ seq: 9, type: 'events_dropped' });
      expect(() => JSON.stringify(read)).not.toThrow();
      // A value as deep as the realm writes still reads.
      await c.hset(meta as string, 'result', `{"success":true,"value":${deep(300)},"stats":{}}`);
      expect((await store.get(sessionId))?.result).toMatchObject({ success: true });
    } finally {
      handler.dispose();
      store.dispose();
    }
  });

  it('ids that are not session ids never reach a key', async () => {
    const a = instance(redis.prefix());
    expect(await a.get('../x')).toBeUndefined();
    expect(await a.read('a b', 0, 10)).toEqual([]);
    expect(await a.finish('{tag}', 'completed', ok(1), 1000)).toBe(false);
    expect(await a.finish('{tag}', 'completed', ok(1), 1000, { waitEndsBy: Infinity })).toBe(false);
    expect(await a.holdWait('alice', '{tag}', 1, Date.now() + 1000)).toBe(false);
    await a.releaseWait('alice', '{tag}');
    await expect(a.create({ sessionId: 'x:y', owner: 'a', createdAt: 1 })).rejects.toThrow(TypeError);
  });

  it('checks its options', () => {
    const c = redis.client();
    expect(() => new RedisSessionStore(c, { maxEvents: 0 })).toThrow(/maxEvents must be a positive integer/);
    expect(() => new RedisSessionStore(c, { maxEvent: 5 } as never)).toThrow(/unknown option "maxEvent"\. Did you mean "maxEvents"/);
  });
});

describe('RedisSessionStore: Redis trouble', () => {
  it('every method rejects within the command timeout while Redis does not answer, then answers again', async () => {
    const prefix = redis.prefix();
    const a = new RedisSessionStore(redis.client(), { prefix, commandTimeoutMs: 200 });
    const id = await started(a);
    const { ended: asleep } = await redis.unresponsive(2000);
    const calls = [
      a.get(id),
      a.read(id, 0, 10),
      a.append(id, logs(id, 1, 1)),
      a.keepAlive(id, 1000),
      a.stale(),
      a.requestCancel(id),
      a.create({ sessionId: newId(), owner: 'a', createdAt: 1 }),
      a.finish(id, 'cancelled', ok(1), 1000, { waitEndsBy: Infinity }),
      a.holdWait('alice', id, 1, Date.now() + 1000),
      a.releaseWait('alice', id),
    ];
    const outcomes = await Promise.allSettled(calls);
    // A TIMEOUT rejection is the proof that no call waited for Redis: one that did would have got its
    // answer when Redis woke. No clock: a loaded machine only makes the wait longer for both.
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toMatchObject({ name: 'RedisStoreError', code: 'TIMEOUT' });
    }
    await asleep;
    // The append that timed out ran once Redis answered again; sent again, it adds nothing twice.
    await a.append(id, logs(id, 1, 2));
    expect((await a.read(id, 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('what a store rejects with when Redis refuses a command carries none of its arguments: no result, log line, user id or script text reaches whoever logs it', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const a = new RedisSessionStore(c, { prefix });
    const id = await started(a);
    const paused = await started(a);
    const marker = 'SCRIPT-TEXT \u001b[2J\nenclave: forged log line';
    // Every write refused, as a Redis at its maxmemory under noeviction refuses them (OOM).
    await c.call('CONFIG', 'SET', 'maxmemory', '1');
    try {
      const calls = [
        a.append(id, [log(id, 1, marker)]),
        a.finish(id, 'completed', ok(marker), 1000),
        a.pause(paused, { approval: { callId: 1, tool: 'send', args: { marker }, expiresAt: Date.now() + 60_000 }, state: marker }, 1000),
        a.create({ sessionId: newId(), owner: marker, createdAt: 1 }),
        new RedisRateLimitStore(c, { prefix }).hit(marker, 1000),
      ];
      for (const o of await Promise.allSettled(calls)) {
        expect(o.status).toBe('rejected');
        const reason = (o as PromiseRejectedResult).reason as Error;
        expect(reason).toMatchObject({ name: 'RedisStoreError', code: 'REDIS_ERROR', message: expect.stringMatching(/^OOM command not allowed/) });
        // As the HTTP core's logger line reads on a console: nothing of the call but Redis's words.
        const line = format('enclave: the session store failed', reason);
        expect(line).not.toMatch(/SCRIPT-TEXT|forged|redis\.call/);
        expect(line).not.toContain('\u001b');
      }
    } finally {
      await c.call('CONFIG', 'SET', 'maxmemory', '0');
    }
    // Redis's own words are kept on one line, its control characters escaped.
    const quoted = storeFailure(new Error(`ERR unknown command 'X', with args beginning with: '\u001b[2J\r\nenclave: forged' ${'x'.repeat(1000)}`), 'a test');
    expect(quoted.message).toMatch(/^ERR unknown command 'X', with args beginning with: '\\u001b\[2J\\u000d\\u000aenclave: forged' x+\.\.\. \(a test\)$/);
    expect(quoted.message.length).toBeLessThan(600);
  });

  it('survives a Redis restart: calls fail fast while it is down, then work again, and readers hear events again', async () => {
    const prefix = redis.prefix();
    const a = new RedisSessionStore(redis.client(), { prefix, commandTimeoutMs: 300 });
    // One client queues commands while disconnected (the default), the other fails them at once.
    const b = new RedisSessionStore(redis.client({ enableOfflineQueue: false }), { prefix, commandTimeoutMs: 300 });
    let heard = 0;
    // A reader from before the restart, on a session created after it (the restart forgot everything).
    const id = newId();
    b.subscribe(id, () => heard++);
    await sleep(100);
    await redis.server.halt();
    // Rejected, not left waiting for Redis: it comes back only after both have settled.
    await expect(a.get(id)).rejects.toBeInstanceOf(Error);
    await expect(b.stale()).rejects.toBeInstanceOf(Error);
    await redis.server.start();
    await eventually(() => a.create({ sessionId: id, owner: 'alice', createdAt: 1 }));
    // Resubscribed after the reconnect (its listeners were told to re-read), and it hears new events.
    await eventually(async () => expect(heard).toBeGreaterThan(0));
    const before = heard;
    await a.append(id, logs(id, 1, 1));
    await eventually(async () => expect(heard).toBeGreaterThan(before));
    expect(await b.read(id, 0, 10)).toEqual([log(id, 1)]);
    a.dispose();
    b.dispose();
  });
});

/**
 * A session is its owner's: 404 for anyone else. The owner is a field in Redis, and anyone who can write
 * there can change it. With the store's `secret`, the owner is kept with a MAC over the session id and
 * the owner, and a record whose owner does not verify reads as missing.
 */
describe('user keys that are not well-formed UTF-16', () => {
  // Redis keeps UTF-8, where every lone surrogate becomes U+FFFD: these three were one user there.
  const USERS: Record<string, string> = { a: 'user\ud800', b: 'user\udfff', c: 'user\ufffd' };

  it.each([
    ['without a secret', undefined],
    ['with a secret', 'a store secret of thirty-two bytes or more'],
  ])('%s: a session is its owner’s alone, and only its owner reads it', async (_name, secret) => {
    const store = instance(redis.prefix(), secret === undefined ? {} : { secret });
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, authenticate: ({ request }) => USERS[request.headers.get('x-user') ?? ''], sessions: { store } });
    const as = (user: string, url: string, init: RequestInit = {}) => handler(new Request(`http://localhost/enclave${url}`, { ...init, headers: { 'content-type': 'application/json', 'x-user': user } }));
    try {
      const created = await as('a', '/sessions', { method: 'POST', body: JSON.stringify({ code: 'return "a’s statement"' }) });
      expect(created.status).toBe(201);
      const { sessionId } = (await created.json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).toBe('completed');
      // Before, c read it (and a, whose it is, got 404).
      for (const other of ['c', 'b']) {
        const theirs = await as(other, `/sessions/${sessionId}`);
        expect(theirs.status, other).toBe(404);
        expect(await theirs.text()).not.toContain('a’s statement');
      }
      expect((await store.get(sessionId))?.owner).toBe(USERS.a);
      const own = await as('a', `/sessions/${sessionId}`);
      expect(own.status).toBe(200);
      expect(await own.text()).toContain('a’s statement');
    } finally {
      handler.dispose();
      store.dispose();
    }
  });

  it('leases, rate limits and waiting places count each of them apart', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const leases = new RedisLeaseStore(c, { prefix });
    const limits = new RedisRateLimitStore(c, { prefix });
    const store = instance(prefix);
    const id = await started(store);
    for (const user of Object.values(USERS)) {
      expect(await leases.acquire(user, 1, 10_000), user).not.toBeNull();
      expect((await limits.hit(user, 10_000)).count, user).toBe(1);
      expect(await store.holdWait(user, id, 1, Date.now() + 10_000), user).toBe(true);
    }
    // Each one's own count still holds.
    expect(await leases.acquire(USERS.a as string, 1, 10_000)).toBeNull();
    expect((await limits.hit(USERS.a as string, 10_000)).count).toBe(2);
  });
});

describe('an owner changed in Redis', () => {
  const SECRET = 'a store secret of thirty-two bytes or more';
  async function tamper(secret: string | undefined, change: (c: ReturnType<typeof redis.client>, key: string, mallorys: string) => Promise<unknown>) {
    const prefix = redis.prefix();
    const errors: string[] = [];
    const store = instance(prefix, { ...(secret === undefined ? {} : { secret }), logger: { error: (m: string) => void errors.push(m) } });
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, authenticate: ({ request }) => request.headers.get('x-user'), sessions: { store } });
    const as = (user: string, url: string, init: RequestInit = {}) => handler(new Request(`http://localhost/enclave${url}`, { ...init, headers: { 'content-type': 'application/json', 'x-user': user } }));
    const start = async (user: string, code: string) => {
      const { sessionId } = (await (await as(user, '/sessions', { method: 'POST', body: JSON.stringify({ code }) })).json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).toBe('completed');
      return sessionId;
    };
    try {
      const alices = await start('alice', 'return "alice’s statement"');
      const mallorys = await start('mallory', 'return 1');
      const c = redis.client();
      const [key] = await c.keys(`${prefix}*:s:${alices}`);
      await change(c, key as string, mallorys);
      const read = async (user: string) => {
        const r = await as(user, `/sessions/${alices}`);
        return [r.status, await r.text()] as const;
      };
      return { mallory: await read('mallory'), alice: await read('alice'), errors };
    } finally {
      handler.dispose();
      store.dispose();
    }
  }
  const toMallory = (c: ReturnType<typeof redis.client>, key: string) => c.hset(key, 'owner', 'mallory');

  it('without a secret: mallory reads alice’s result (the shape of the break)', async () => {
    const { mallory } = await tamper(undefined, toMallory);
    expect(mallory[0]).toBe(200);
    expect(mallory[1]).toContain('alice’s statement');
  });

  it('with a secret: the session reads as missing for both, and the store says why', async () => {
    const { mallory, alice, errors } = await tamper(SECRET, toMallory);
    expect([mallory[0], alice[0]]).toEqual([404, 404]);
    expect(mallory[1]).not.toContain('alice’s statement');
    expect(errors.join('\n')).toMatch(/the owner of session ses_[\w-]+ in Redis is not one this app wrote/);
  });

  it('with a secret: the owner and MAC of mallory’s own session, copied over, do not verify either', async () => {
    const { mallory } = await tamper(SECRET, async (c, key, mallorys) => {
      const [theirs] = await c.keys(`${key.slice(0, key.lastIndexOf(':s:'))}*:s:${mallorys}`.replace(/\{sessions:\d+\}/, '*'));
      const [owner, mac] = await c.hmget(theirs as string, 'owner', 'ownerMac');
      expect(mac).toMatch(/^[\w-]{43}$/);
      return c.hset(key, 'owner', owner as string, 'ownerMac', mac as string);
    });
    expect(mallory[0]).toBe(404);
  });

  it('with a secret, what the store writes verifies: a pause resumes, a record Redis lost is written back with its MAC; an owner changed before the resume stops it', async () => {
    const prefix = redis.prefix();
    const a = instance(prefix, { secret: SECRET, logger: { error() {} } });
    const c = redis.client();
    const wait = { approval: { callId: 1, tool: 't', expiresAt: Date.now() + 60_000 }, state: '{"v":1}' };
    const id = await started(a);
    expect(await a.pause(id, wait, 60_000)).toBe(true);
    expect(await a.resume(id, 1, 10_000)).toEqual({ state: '{"v":1}', lastSeq: 1 });
    expect(await a.get(id)).toMatchObject({ owner: 'alice', state: 'running' });
    // Redis lost the record (its bucket's epoch with it): the instance that runs it writes it again, MAC and all.
    const [key] = await c.keys(`${prefix}*:s:${id}`);
    await c.del(key as string, (key as string).replace(/:s:.*$/, ':epoch'));
    await a.keepAlive(id, 10_000);
    expect(await a.get(id)).toMatchObject({ owner: 'alice', state: 'running' });
    const other = await started(a);
    expect(await a.pause(other, wait, 60_000)).toBe(true);
    await c.hset(((await c.keys(`${prefix}*:s:${other}`))[0]) as string, 'owner', 'mallory');
    await expect(a.resume(other, 1, 10_000)).rejects.toMatchObject({ code: 'BAD_REPLY' });
    a.dispose();
  });

  it('a secret shorter than 32 bytes is refused at construction', () => {
    expect(() => instance(redis.prefix(), { secret: 'short' })).toThrow(/secret must be a secret of at least 32 bytes/);
  });
});
