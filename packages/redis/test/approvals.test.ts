/**
 * The approvals contract (engine/test/http/approvals.ts) on a real redis-server: each app instance has
 * its own ioredis client and stores, and the two of a test share one key prefix, as two processes on
 * one Redis do. The store's own guarantees (a decision taken once, a pause kept past its run, expiry
 * by the app's clock) are tested beside it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEnclaveHandler, defineTool } from '@enclave-kit/engine';
import { handleNodeRequest } from '@enclave-kit/engine/node';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approvalsContract, approvalsTracingCase } from '../../engine/test/http/approvals.js';
import { RedisSessionStore, redisStores } from '../src/index.js';
import { useRedis } from './redis.js';

const redis = useRedis();
let prefix = '';
beforeEach(() => {
  prefix = redis.prefix();
});

const approvalStores = () => {
  const stores = redisStores(redis.client(), { prefix });
  return { store: stores.sessions.store, leases: stores.leases, dispose: () => stores.dispose() };
};
approvalsContract('Redis stores', approvalStores);

describe('RedisSessionStore: paused sessions', () => {
  const approval = (callId: number, expiresAt: number) => ({ callId, tool: 'orders:refund', args: { id: 'o1' }, expiresAt });

  it('pause appends approval_required and keeps the state; resume hands it out once, for the pending call only', async () => {
    const a = new RedisSessionStore(redis.client(), { prefix });
    const b = new RedisSessionStore(redis.client(), { prefix });
    try {
      await a.create({ sessionId: 'ses_p1', owner: 'alice', createdAt: 1 });
      await a.append('ses_p1', [{ sessionId: 'ses_p1', seq: 1, type: 'log', time: 1, payload: { level: 'log', message: 'x', time: 0 } }]);
      expect(await a.pause('ses_p1', { approval: approval(3, Date.now() + 60_000), state: '{"v":1}' }, 1000)).toBe(true);
      expect(await a.pause('ses_p1', { approval: approval(3, Date.now() + 60_000), state: '{"v":1}' }, 1000)).toBe(false);
      expect(await b.get('ses_p1')).toMatchObject({ state: 'waiting_for_approval', pendingApproval: { callId: 3, tool: 'orders:refund' } });
      expect((await b.read('ses_p1', 0, 10)).map((e) => [e.seq, e.type])).toEqual([[1, 'log'], [2, 'approval_required']]);
      // Nobody runs it: it is not stale, and no cancel can be asked of it.
      expect(await b.stale()).not.toContain('ses_p1');
      expect(await b.requestCancel('ses_p1')).toBe(false);
      expect(await b.resume('ses_p1', 2, 1000)).toBeUndefined();
      // Read without a decision (the stats of a wait that ends come from it), from any instance.
      expect(await b.pausedState('ses_p1')).toBe('{"v":1}');
      const [r1, r2] = await Promise.all([a.resume('ses_p1', 3, 1000), b.resume('ses_p1', 3, 1000)]);
      expect([r1, r2].filter((r) => r !== undefined)).toEqual([{ state: '{"v":1}', lastSeq: 2 }]);
      expect(await b.pausedState('ses_p1')).toBeUndefined();
      expect(await a.get('ses_p1')).toEqual({ sessionId: 'ses_p1', owner: 'alice', state: 'running', createdAt: 1 });
      expect(await a.finish('ses_p1', 'completed', { success: true, value: 1, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } }, 1000)).toBe(true);
      expect((await a.read('ses_p1', 0, 10)).map((e) => e.type)).toEqual(['log', 'approval_required', 'final']);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('expired() lists paused sessions whose wait ended by the app’s clock; finish ends a paused one and takes it off the list', async () => {
    const store = new RedisSessionStore(redis.client(), { prefix });
    try {
      await store.create({ sessionId: 'ses_e1', owner: 'alice', createdAt: 1 });
      await store.create({ sessionId: 'ses_e2', owner: 'alice', createdAt: 1 });
      await store.pause('ses_e1', { approval: approval(1, Date.now() - 1), state: '{}' }, 1000);
      await store.pause('ses_e2', { approval: approval(1, Date.now() + 60_000), state: '{}' }, 1000);
      expect(await store.expired()).toEqual(['ses_e1']);
      expect(await store.finish('ses_e1', 'failed', { success: false, error: { name: 'E', message: 'm', code: 'APPROVAL_EXPIRED' }, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } }, 1000)).toBe(true);
      expect(await store.expired()).toEqual([]);
      expect(await store.get('ses_e1')).toMatchObject({ state: 'failed', result: { error: { code: 'APPROVAL_EXPIRED' } } });
      expect((await store.get('ses_e1'))?.pendingApproval).toBeUndefined();
      expect(await store.resume('ses_e1', 1, 1000)).toBeUndefined();
    } finally {
      store.dispose();
    }
  });

  const expiredResult = { success: false as const, error: { name: 'E', message: 'm', code: 'APPROVAL_EXPIRED' as const }, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } };

  it('a decision after the wait ended is refused, though no sweep has ended the session yet', async () => {
    const store = new RedisSessionStore(redis.client(), { prefix });
    try {
      await store.create({ sessionId: 'ses_x1', owner: 'alice', createdAt: 1 });
      await store.pause('ses_x1', { approval: approval(1, Date.now() - 1), state: '{}' }, 1000);
      expect(await store.resume('ses_x1', 1, 1000)).toBeUndefined();
      expect((await store.get('ses_x1'))?.state).toBe('waiting_for_approval');
    } finally {
      store.dispose();
    }
  });

  it('the sweep lists a wait, a decision resumes it on another instance, then the sweep’s finish comes: the running session is left alone', async () => {
    const a = new RedisSessionStore(redis.client(), { prefix });
    const b = new RedisSessionStore(redis.client(), { prefix });
    try {
      await a.create({ sessionId: 'ses_x2', owner: 'alice', createdAt: 1 });
      await a.pause('ses_x2', { approval: approval(1, Date.now() + 60_000), state: '{}' }, 1000);
      // a's clock runs two minutes ahead: its sweep listed the wait; b's decision came first.
      expect(await b.resume('ses_x2', 1, 1000)).toEqual({ state: '{}', lastSeq: 1 });
      expect(await a.finish('ses_x2', 'failed', expiredResult, 1000, { waitEndsBy: Date.now() + 120_000 })).toBe(false);
      expect((await a.get('ses_x2'))?.state).toBe('running');
      // The cancel of a waiting session does not end it either, now that it runs.
      expect(await a.finish('ses_x2', 'cancelled', expiredResult, 1000, { waitEndsBy: Infinity })).toBe(false);
      // Paused again on a later call, with a later end: that sweep's time is still not this wait's end.
      await b.pause('ses_x2', { approval: approval(2, Date.now() + 600_000), state: '{}' }, 1000);
      expect(await a.finish('ses_x2', 'failed', expiredResult, 1000, { waitEndsBy: Date.now() + 120_000 })).toBe(false);
      expect(await a.expired()).toEqual([]);
      // Whose stats were read for the pause on call 1 does not end the pause on call 2.
      expect(await a.finish('ses_x2', 'cancelled', expiredResult, 1000, { waitEndsBy: Infinity, callId: 1 })).toBe(false);
      expect(await a.finish('ses_x2', 'failed', expiredResult, 1000, { waitEndsBy: Date.now() + 600_000, callId: 2 })).toBe(true);
      expect(await a.get('ses_x2')).toMatchObject({ state: 'failed', result: { error: { code: 'APPROVAL_EXPIRED' } } });
      expect(await a.finish('ses_x2', 'failed', expiredResult, 1000)).toBe(false);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('holdWait: at most max places per owner across instances, one step each; a place held is kept; released or past its time, it is free', async () => {
    const client = redis.client();
    const a = new RedisSessionStore(client, { prefix });
    const b = new RedisSessionStore(redis.client(), { prefix });
    try {
      const later = Date.now() + 60_000;
      expect(await a.holdWait('alice', 'ses_w1', 2, later)).toBe(true);
      // Two instances race for alice's last place: exactly one gets it.
      const raced = await Promise.all([a.holdWait('alice', 'ses_w2', 2, later), b.holdWait('alice', 'ses_w3', 2, later)]);
      expect(raced.filter(Boolean)).toHaveLength(1);
      expect(await b.holdWait('alice', 'ses_w4', 2, later)).toBe(false);
      expect(await b.holdWait('alice', 'ses_w1', 2, later + 1)).toBe(true);
      // Owners whose names would make another key, or another hash tag, have places of their own.
      for (const owner of ['bob', 'alice}', '{alice}', 'alice:x']) expect(await a.holdWait(owner, 'ses_w5', 1, later), owner).toBe(true);
      await b.releaseWait('alice', 'ses_w1');
      expect(await a.holdWait('alice', 'ses_w4', 2, later)).toBe(true);
      expect(await a.holdWait('carol', 'ses_w6', 1, Date.now() - 1)).toBe(true);
      expect(await a.holdWait('carol', 'ses_w7', 1, later)).toBe(true);
      // The set lives as long as its latest place.
      const [key] = (await client.keys(`${prefix}*:carol`)) as string[];
      expect(await client.pttl(key as string)).toBeGreaterThan(0);
      expect(await client.pttl(key as string)).toBeLessThanOrEqual(60_000);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('what a Redis writer leaves in an owner’s waiting places refuses no wait beyond that key’s own expiry', async () => {
    const client = redis.client();
    const store = new RedisSessionStore(client, { prefix });
    try {
      const later = Date.now() + 60_000;
      // The owner's key as the store names it (a writer reads it off the keyspace).
      expect(await store.holdWait('dave', 'ses_d0', 2, later)).toBe(true);
      const [key] = (await client.keys(`${prefix}*:dave`)) as [string];
      const forgeries: [string, () => Promise<unknown>][] = [
        ['another type', () => client.set(key, 'x')],
        ['places that never end, no expiry', () => client.zadd(key, 'inf', 'ses_f1', 'inf', 'ses_f2')],
        ['places a year off, no expiry', () => client.zadd(key, String(Date.now() + 365 * 86_400_000), 'ses_f1', String(Date.now() + 365 * 86_400_000), 'ses_f2')],
        ['places that end long after their set', () => client.zadd(key, 'inf', 'ses_f1', 'inf', 'ses_f2').then(() => client.pexpire(key, 60_000))],
      ];
      // Before: WRONGTYPE at every holdWait, or every place taken, for as long as the key lived (forever).
      for (const [name, forge] of forgeries) {
        await client.del(key);
        await forge();
        expect(await store.holdWait('dave', 'ses_d1', 2, later), name).toBe(true);
        expect(await client.zrange(key, 0, -1), name).toEqual(['ses_d1']);
        expect(await client.pttl(key), name).toBeLessThanOrEqual(60_000);
      }
      // The store's own places, taken by other instances on clocks a little apart, are kept and counted.
      expect(await store.holdWait('dave', 'ses_d2', 2, later + 30_000)).toBe(true);
      expect(await store.holdWait('dave', 'ses_d3', 2, later)).toBe(false);
    } finally {
      store.dispose();
    }
  });

  it('waiting places that Redis says last longer than the longest wait an app writes are dropped as corrupt, not believed for years', async () => {
    const client = redis.client();
    const store = new RedisSessionStore(client, { prefix, maxPauseDuration: 3_600_000 });
    const other = new RedisSessionStore(client, { prefix });
    try {
      const later = Date.now() + 60_000;
      expect(await store.holdWait('erin', 'ses_e0', 2, later)).toBe(true);
      const [key] = (await client.keys(`${prefix}*:erin`)) as [string];
      const year = 365 * 86_400_000;
      const forgeries: [string, RedisSessionStore, () => Promise<unknown>][] = [
        // Places a year off, in a set that lives as long as they do: every rule of a set the store keeps, but its length.
        ['places and their set a year off', store, () => client.zadd(key, String(Date.now() + year), 'ses_f1', String(Date.now() + year), 'ses_f2').then(() => client.pexpire(key, year))],
        // Two hours, past the configured hour (and its clock slack).
        ['places and their set two hours off', store, () => client.zadd(key, String(Date.now() + 7_200_000), 'ses_f1', String(Date.now() + 7_200_000), 'ses_f2').then(() => client.pexpire(key, 7_200_000))],
        // The default: the handler's default maxPauseDuration, 24 hours.
        ['places and their set a year off, default maxPauseDuration', other, () => client.zadd(key, String(Date.now() + year), 'ses_f1', String(Date.now() + year), 'ses_f2').then(() => client.pexpire(key, year))],
      ];
      // Before: every place taken for the year (or two hours) the writer chose.
      for (const [name, s, forge] of forgeries) {
        await client.del(key);
        await forge();
        expect(await s.holdWait('erin', 'ses_e1', 2, later), name).toBe(true);
        expect(await client.zrange(key, 0, -1), name).toEqual(['ses_e1']);
        expect(await client.pttl(key), name).toBeLessThanOrEqual(60_000);
      }
      // A wait the app asks for itself, longer than the option, is its own: its places are kept and counted.
      await client.del(key);
      const long = Date.now() + 5 * 3_600_000;
      expect(await store.holdWait('erin', 'ses_e2', 2, long)).toBe(true);
      expect(await store.holdWait('erin', 'ses_e3', 2, long)).toBe(true);
      expect(await store.holdWait('erin', 'ses_e4', 2, long)).toBe(false);
      expect(() => new RedisSessionStore(client, { prefix, maxPauseDuration: 0 })).toThrow(/maxPauseDuration/);
    } finally {
      store.dispose();
      other.dispose();
    }
  });

  it('a pending approval that is not what the store wrote is never shown: the session ends as STATE_REJECTED, its readers get a final', async () => {
    const client = redis.client();
    const store = new RedisSessionStore(client, { prefix });
    try {
      await store.create({ sessionId: 'ses_b1', owner: 'alice', createdAt: 1 });
      await store.pause('ses_b1', { approval: approval(1, Date.now() + 60_000), state: '{}' }, 1000);
      const keys = (await client.keys(`${prefix}*:s:ses_b1`)) as string[];
      await client.hset(keys[0] as string, 'pending', '{"callId":"1","__proto__":{"x":1}}');
      expect(await store.get('ses_b1')).toMatchObject({ state: 'failed', result: { success: false, error: { code: 'STATE_REJECTED', message: expect.stringMatching(/pending approval/) } } });
      expect((await store.read('ses_b1', 0, 10)).map((e) => e.type)).toEqual(['approval_required', 'final']);
      expect(await store.resume('ses_b1', 1, 10_000)).toBeUndefined();
    } finally {
      store.dispose();
    }
  });
});

describe('what the store shows of a paused run is input: the decision is bound to the signed state', () => {
  const KEY = 'a secret of thirty-two bytes or more';
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  /** One app instance on port 0 on the test's Redis; `refunds` is the host-side canary. */
  async function app(sessions: Record<string, unknown>, options: { maxBodySize?: number } = {}) {
    const refunds: number[] = [];
    const stores = redisStores(redis.client(), { prefix });
    const refund = defineTool({ name: 'refund', needsApproval: true, handler: ({ amount }: { amount: number }) => void refunds.push(amount) });
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store: stores.sessions.store, ...sessions }, tools: [refund], ...options });
    const server = createServer((req, res) => void handleNodeRequest(handler, req, res, undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => {
      handler.dispose();
      stores.dispose();
      server.close();
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave`;
    const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const view = async (id: string) => (await (await fetch(`${base}/sessions/${id}`)).json()) as { state: string; result?: { error?: { code: string } }; pendingApproval?: { args: unknown; digest?: string } };
    /** Starts `refund(amount)` (the amount as input) and waits for its pause: the session's id and its keys in Redis. */
    async function paused(amount = 500) {
      const { sessionId } = (await (await post('/sessions', { code: 'return await callTool("refund", { amount: input.amount })', input: { amount } })).json()) as { sessionId: string };
      await expect.poll(async () => (await view(sessionId)).state, { timeout: 10_000 }).toBe('waiting_for_approval');
      const [meta] = (await redis.client().keys(`${prefix}*:s:${sessionId}`)) as [string];
      return { sessionId, meta, events: meta.replace(/:s:(?=[^:]*$)/, ':e:') };
    }
    return { refunds, post, view, paused };
  }

  // The amount as the JSON text writes it: a bare '500' is also found in the event's time or the wait's
  // end (1796509500123), and replacing that one left the refund shown as it was (the approval then ran it).
  const to5 = (text: string) => {
    expect(text).toContain('"amount":500}');
    return text.replace('"amount":500}', '"amount":5}');
  };
  it.each([
    ['the pending approval of the session', async (c: Redis, k: { meta: string }) => c.hset(k.meta, 'pending', to5((await c.hget(k.meta, 'pending')) as string))],
    [
      'the approval_required event',
      async (c: Redis, k: { events: string }) => {
        const entries = (await c.xrange(k.events, '-', '+')) as [string, string[]][];
        await c.del(k.events);
        for (const [id, fields] of entries) await c.xadd(k.events, id, ...fields.map((f) => (f.includes('approval_required') ? to5(f) : f)));
      },
    ],
  ])('%s rewritten to show refund(5) while the journal waits on refund(500): approving runs nothing', async (_name, rewrite) => {
    const { refunds, post, view, paused } = await app({ stateKey: KEY });
    const keys = await paused();
    await rewrite(redis.client(), keys);
    expect((await post(`/sessions/${keys.sessionId}/approvals/1`, { approved: true })).status).toBeLessThan(500);
    await expect.poll(async () => (await view(keys.sessionId)).state, { timeout: 10_000 }).toBe('failed');
    expect((await view(keys.sessionId)).result?.error?.code).toBe('STATE_REJECTED');
    expect(refunds).toEqual([]);
  });

  it('a decision sent with the digest it was shown is taken only for that call: one swapped after it was shown never runs', async () => {
    // Unsigned (no stateKey): a Redis writer can swap the whole paused run consistently, state, record and event.
    const { refunds, post, view, paused } = await app({});
    const c = redis.client();
    // A run of refund(500) paused elsewhere: its state and record are moved into the session shown.
    const template = await paused(500);
    const [state, pending] = (await c.hmget(template.meta, 'paused', 'pending')) as [string, string];
    const { digest } = JSON.parse(pending) as { digest: string };
    const swap = async (k: { meta: string; events: string }) => {
      await c.hset(k.meta, 'paused', state, 'pending', pending);
      const entries = (await c.xrange(k.events, '-', '+')) as [string, string[]][];
      await c.del(k.events);
      const to500 = (text: string) => (text.includes('approval_required') ? text.replace('"amount":5}', '"amount":500}').replace(/"digest":"[\w-]+"/, `"digest":"${digest}"`) : text);
      for (const [id, fields] of entries) await c.xadd(k.events, id, ...fields.map(to500));
    };
    // Without the digest, the swapped call runs: the shape of the break.
    const blind = await paused(5);
    expect((await view(blind.sessionId)).pendingApproval?.args).toEqual({ amount: 5 });
    await swap(blind);
    expect((await post(`/sessions/${blind.sessionId}/approvals/1`, { approved: true })).status).toBe(202);
    await expect.poll(async () => (await view(blind.sessionId)).state, { timeout: 10_000 }).toBe('completed');
    expect(refunds).toEqual([500]);
    // With it: 409, nothing runs, the session still waits.
    const bound = await paused(5);
    const shown = (await view(bound.sessionId)).pendingApproval;
    expect(shown).toMatchObject({ args: { amount: 5 }, digest: expect.stringMatching(/^[\w-]{43}$/) });
    await swap(bound);
    const refused = await post(`/sessions/${bound.sessionId}/approvals/1`, { approved: true, digest: shown?.digest });
    expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([409, 'CONFLICT']);
    expect((await view(bound.sessionId)).state).toBe('waiting_for_approval');
    expect((await post(`/sessions/${bound.sessionId}/approvals/1`, { approved: true, digest: 'not a digest' })).status).toBe(400);
    // The call as shown, decided with its digest, runs.
    const honest = await paused(5);
    expect((await post(`/sessions/${honest.sessionId}/approvals/1`, { approved: true, digest: (await view(honest.sessionId)).pendingApproval?.digest })).status).toBe(202);
    await expect.poll(async () => (await view(honest.sessionId)).state, { timeout: 10_000 }).toBe('completed');
    expect(refunds).toEqual([500, 5]);
  });

  it('a run that pauses twice resumes each time: the second signed state is bound to its own pause', async () => {
    const { refunds, post, view } = await app({ stateKey: KEY });
    const code = 'await callTool("refund", { amount: 1 }); console.log("between"); await callTool("refund", { amount: 2 }); return "both"';
    const { sessionId } = (await (await post('/sessions', { code })).json()) as { sessionId: string };
    for (const callId of [1, 2]) {
      await expect.poll(async () => (await view(sessionId)).state, { timeout: 10_000 }).toBe('waiting_for_approval');
      expect((await post(`/sessions/${sessionId}/approvals/${callId}`, { approved: true })).status).toBe(202);
      await expect.poll(async () => (await view(sessionId)).state, { timeout: 10_000 }).not.toBe('waiting_for_approval');
    }
    await expect.poll(async () => (await view(sessionId)).state, { timeout: 10_000 }).toBe('completed');
    expect(refunds).toEqual([1, 2]);
  });

  /**
   * A Redis writer keeps what the store held while the session waited (record fields, its place in the
   * paused index), lets the owner approve, and puts it all back once the refund ran: a second decision
   * (the owner's, or a client's retry) would resume the same signed state and refund again.
   */
  it.each([
    ['its record put back as it was', 'record'],
    ['its record put back, but its last seq left as it is now', 'keepSeq'],
    ['its record and the events after the pause put back as they were', 'events'],
  ] as const)('a signed paused state replayed after its decision (%s): the second decision runs nothing', async (_name, how) => {
    const { refunds, post, view, paused } = await app({ stateKey: KEY });
    const c = redis.client();
    const keys = await paused();
    const fields = ['state', 'pending', 'pendingCall', 'paused', ...(how === 'keepSeq' ? [] : ['lastSeq'])];
    const kept = (await c.hmget(keys.meta, ...fields)) as string[];
    const waiting = keys.meta.replace(/:s:[^:]*$/, ':waiting');
    const until = (await c.zscore(waiting, keys.sessionId)) as string;
    const [[lastEntry]] = [((await c.xrevrange(keys.events, '+', '-', 'COUNT', 1)) as [string, string[]][]).map(([id]) => id)];
    expect((await post(`/sessions/${keys.sessionId}/approvals/1`, { approved: true })).status).toBe(202);
    await expect.poll(async () => (await view(keys.sessionId)).state, { timeout: 10_000 }).toBe('completed');
    expect(refunds).toEqual([500]);
    // The replay.
    await c.hset(keys.meta, ...fields.flatMap((f, i) => [f, kept[i] as string]));
    await c.hdel(keys.meta, 'result');
    await c.zadd(waiting, until, keys.sessionId);
    if (how === 'events') {
      const after = (await c.xrange(keys.events, `(${lastEntry as string}`, '+')) as [string, string[]][];
      expect(after.length).toBeGreaterThan(0);
      await c.xdel(keys.events, ...after.map(([id]) => id));
    }
    expect((await view(keys.sessionId)).state).toBe('waiting_for_approval');
    const again = await post(`/sessions/${keys.sessionId}/approvals/1`, { approved: true });
    expect(again.status).toBeLessThan(500);
    await expect.poll(async () => (await view(keys.sessionId)).state, { timeout: 10_000 }).toBe('failed');
    expect((await view(keys.sessionId)).result?.error?.code).toBe('STATE_REJECTED');
    expect(refunds).toEqual([500]);
  });

  it('a paused state larger than the limits allow is refused before it is read: nothing runs, the session ends as STATE_REJECTED', async () => {
    // The longest state this app writes is 6 x (maxJournalBytes + maxBodySize) + 2.5 MiB characters, 2.7 M
    // here, and the pad is 3 MiB: just past it. With the default 1 MiB body the pad had to be 16 MiB,
    // which the resume moves out of Redis within the store's 1 s command deadline, and a loaded machine
    // did not (503).
    const { refunds, post, view, paused } = await app({ maxJournalBytes: 1024 }, { maxBodySize: 16 * 1024 });
    const keys = await paused();
    const c = redis.client();
    // Unsigned (no stateKey) but otherwise the state this app wrote: only its size is off.
    const state = JSON.parse((await c.hget(keys.meta, 'paused')) as string) as Record<string, unknown>;
    await c.hset(keys.meta, 'paused', JSON.stringify({ ...state, pad: 'x'.repeat(3 * 1024 * 1024) }));
    expect((await post(`/sessions/${keys.sessionId}/approvals/1`, { approved: true })).status).toBeLessThan(500);
    await expect.poll(async () => (await view(keys.sessionId)).state, { timeout: 10_000 }).toBe('failed');
    expect((await view(keys.sessionId)).result?.error?.code).toBe('STATE_REJECTED');
    expect(refunds).toEqual([]);
  });

  it.each([
    ['no error', '{"success":false}'],
    ['an error that is not one', '{"success":false,"error":"boom"}'],
    ['an error without a code', '{"success":false,"error":{"name":"E","message":"m"}}'],
  ])('a result with %s that a Redis writer left reads as STATE_REJECTED: a decision on the session is answered 409, not 500', async (_name, result) => {
    const { refunds, post, view, paused } = await app({ stateKey: KEY });
    const keys = await paused();
    await redis.client().hset(keys.meta, 'state', 'failed', 'result', result);
    // Before: reading result.error.code of what isResult let through threw in the route (500).
    expect((await post(`/sessions/${keys.sessionId}/approvals/1`, { approved: true })).status).toBe(409);
    expect((await view(keys.sessionId)).result?.error?.code).toBe('STATE_REJECTED');
    expect(refunds).toEqual([]);
  });
});

// Last: its tracer stays registered for the rest of the file's process.
approvalsTracingCase('Redis stores', approvalStores);
