/**
 * What a store keeps of finished sessions is bounded, per owner and in all, `final` included: one user
 * who starts session after session with large results forgets their own oldest results, and never
 * runs the host out of memory or takes another user's results with them.
 */
import { describe, expect, it, vi } from 'vitest';
import { MemorySessionStore, createEnclaveHandler } from '../../src/index.js';
import type { ExecutionResult } from '../../src/index.js';

const ok = (value: unknown): ExecutionResult => ({ success: true, value, stats: { duration: 1, toolCallCount: 0, iterationCount: 0 } });

let n = 0;
/** A session of `owner` that has run and finished with `value`. */
async function finishedSession(store: MemorySessionStore, owner: string, value: unknown = n): Promise<string> {
  const sessionId = `ses_finished${++n}`;
  expect(await store.create({ sessionId, owner, createdAt: n })).toBe(true);
  await store.append(sessionId, [{ sessionId, seq: 1, type: 'log', time: n, payload: { level: 'log', message: 'hi', time: n } }]);
  expect(await store.finish(sessionId, 'completed', ok(value), 60_000)).toBe(true);
  return sessionId;
}

async function kept(store: MemorySessionStore, ids: readonly string[]): Promise<boolean[]> {
  return Promise.all(ids.map(async (id) => (await store.get(id)) !== undefined && (await store.read(id, 0, 10)).length > 0));
}

describe('MemorySessionStore: finished sessions are bounded', () => {
  it('keeps at most maxFinishedPerOwner finished sessions per owner, forgetting the oldest, as if it had expired', async () => {
    const store = new MemorySessionStore({ maxFinishedPerOwner: 3 });
    try {
      const bob = await finishedSession(store, 'bob');
      const alice = [await finishedSession(store, 'alice'), await finishedSession(store, 'alice'), await finishedSession(store, 'alice')];
      let forgotten = 0;
      store.subscribe(alice[0] as string, () => forgotten++);
      // A running session does not count, and is not forgotten.
      expect(await store.create({ sessionId: 'ses_stillrunning', owner: 'alice', createdAt: 1 })).toBe(true);
      alice.push(await finishedSession(store, 'alice'), await finishedSession(store, 'alice'));
      expect(await kept(store, alice)).toEqual([false, false, true, true, true]);
      // Its followers learn that there is nothing more.
      expect(forgotten).toBeGreaterThan(0);
      expect(await kept(store, [bob])).toEqual([true]);
      expect((await store.get('ses_stillrunning'))?.state).toBe('running');
      expect(store.size).toBe(5);
    } finally {
      store.dispose();
    }
  });

  it('beyond maxFinishedBytes forgets the oldest finished session of the owner holding the most; the others keep theirs', async () => {
    const big = 'x'.repeat(20_000);
    const store = new MemorySessionStore({ maxFinishedBytes: 100_000 });
    try {
      const bob = [await finishedSession(store, 'bob', 'y'.repeat(15_000))];
      const alice = [await finishedSession(store, 'alice', big), await finishedSession(store, 'alice', big), await finishedSession(store, 'alice', big)];
      expect(await kept(store, [...bob, ...alice])).toEqual([true, true, true, true]);
      // Every kept event counts, `final` included, and 1 KiB a session: about 80 KB so far.
      expect(store.finishedBytes).toBeGreaterThan(3 * 20_000 + 15_000 + 4 * 1024);
      expect(store.finishedBytes).toBeLessThanOrEqual(100_000);
      alice.push(await finishedSession(store, 'alice', big));
      expect(await kept(store, alice)).toEqual([false, true, true, true]);
      expect(store.finishedBytes).toBeLessThanOrEqual(100_000);
      // Bob finishing takes the total over again: alice, who holds the most, gives way.
      bob.push(await finishedSession(store, 'bob', 'y'.repeat(25_000)));
      expect(await kept(store, alice)).toEqual([false, false, true, true]);
      expect(await kept(store, bob)).toEqual([true, true]);
      expect(store.finishedBytes).toBeLessThanOrEqual(100_000);
    } finally {
      store.dispose();
    }
  });

  it('keeps the session that finishes even when it alone is over maxFinishedBytes, until the next one finishes', async () => {
    const store = new MemorySessionStore({ maxFinishedBytes: 10_000 });
    try {
      const carol = await finishedSession(store, 'carol', 'z'.repeat(50_000));
      // Its own followers read its `final`.
      expect((await store.read(carol, 0, 10)).at(-1)?.type).toBe('final');
      const dave = await finishedSession(store, 'dave');
      expect(await kept(store, [carol, dave])).toEqual([false, true]);
      expect(store.finishedBytes).toBeLessThanOrEqual(10_000);
    } finally {
      store.dispose();
    }
  });

  it('what is forgotten or expires leaves the count; appends after the end add nothing', async () => {
    const store = new MemorySessionStore({ maxFinishedPerOwner: 2 });
    try {
      for (let i = 0; i < 5; i++) await finishedSession(store, 'erin', 'v'.repeat(1000));
      expect(store.size).toBe(2);
      const two = store.finishedBytes;
      expect(two).toBeGreaterThan(2 * 1000);
      const id = `ses_short${++n}`;
      await store.create({ sessionId: id, owner: 'erin', createdAt: 1 });
      await store.finish(id, 'completed', ok(1), 1);
      await expect.poll(() => store.get(id), { timeout: 5_000 }).toBeUndefined();
      // One of erin's two 1 KB results is left: the expired one and the one it pushed out are not counted.
      expect(store.size).toBe(1);
      const one = store.finishedBytes;
      expect(one).toBeGreaterThan(1000);
      expect(one).toBeLessThan(two);
      const last = `ses_finished${n - 1}`;
      expect(await kept(store, [last])).toEqual([true]);
      await store.append(last, [{ sessionId: last, seq: 9, type: 'log', time: 1, payload: { level: 'log', message: 'late', time: 1 } }]);
      expect(store.finishedBytes).toBe(one);
      expect((await store.read(last, 0, 10)).map((e) => e.type)).toEqual(['log', 'final']);
    } finally {
      store.dispose();
    }
    expect(store.finishedBytes).toBe(0);
  });

  it('refuses limits that are not positive integers, naming them', () => {
    expect(() => new MemorySessionStore({ maxFinishedPerOwner: 0 })).toThrow(/maxFinishedPerOwner must be a positive integer/);
    expect(() => new MemorySessionStore({ maxFinishedBytes: 1.5 })).toThrow(/maxFinishedBytes must be a positive integer/);
  });
});

describe('MemorySessionStore: waits and lifetimes longer than Node’s longest timer (2^31 - 1 ms, 24.8 days)', () => {
  const DAY = 24 * 60 * 60_000;

  it('keeps a session waiting 30 days for an approval, and one finished with a 30-day ttl, until their time', async () => {
    // Node (and the fake clock, like it) fires a timer of a longer delay after 1 ms.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const store = new MemorySessionStore({ maxRunningMs: 40 * DAY });
    try {
      await store.create({ sessionId: 'ses_waits', owner: 'ada', createdAt: Date.now() });
      expect(await store.pause('ses_waits', { approval: { callId: 1, tool: 'refund', args: {}, expiresAt: Date.now() + 30 * DAY }, state: '{}' }, 60_000)).toBe(true);
      await store.create({ sessionId: 'ses_kept', owner: 'ada', createdAt: Date.now() });
      expect(await store.finish('ses_kept', 'completed', ok(1), 30 * DAY)).toBe(true);
      await store.create({ sessionId: 'ses_runs', owner: 'ada', createdAt: Date.now() });
      await vi.advanceTimersByTimeAsync(29 * DAY);
      expect((await store.get('ses_waits'))?.state).toBe('waiting_for_approval');
      expect((await store.get('ses_kept'))?.state).toBe('completed');
      expect((await store.get('ses_runs'))?.state).toBe('running');
      await vi.advanceTimersByTimeAsync(DAY + 120_000);
      expect([await store.get('ses_waits'), await store.get('ses_kept')]).toEqual([undefined, undefined]);
      await vi.advanceTimersByTimeAsync(10 * DAY);
      expect(await store.get('ses_runs')).toBeUndefined();
    } finally {
      store.dispose();
      vi.useRealTimers();
    }
  });
});

describe('one user starting sessions with large results through the handler', () => {
  const post = (user: string, code: string) =>
    new Request('http://localhost/enclave/sessions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ code }) });

  async function run(handler: ReturnType<typeof createEnclaveHandler>, store: MemorySessionStore, user: string, code: string): Promise<string> {
    const response = await handler(post(user, code));
    expect(response.status).toBe(201);
    const { sessionId } = (await response.json()) as { sessionId: string };
    await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).toBe('completed');
    return sessionId;
  }

  it('the store holds a bounded number of bytes, and another user’s result survives', async () => {
    const cap = 2 * 1024 * 1024;
    const store = new MemorySessionStore({ maxFinishedBytes: cap });
    const handler = createEnclaveHandler({ authenticate: ({ request }) => request.headers.get('x-user'), sessions: { store } });
    try {
      const bob = await run(handler, store, 'bob', 'return "b".repeat(100000)');
      let largest = 0;
      for (let i = 0; i < 40; i++) {
        await run(handler, store, 'mallory', 'return "x".repeat(200000)');
        largest = Math.max(largest, store.finishedBytes);
      }
      // 40 results of 200 KB would be 8 MB; at most the cap plus the session that finished last is held.
      expect(store.size).toBeLessThan(15);
      expect(largest).toBeLessThanOrEqual(cap + 300_000);
      expect((await store.get(bob))?.result).toMatchObject({ success: true, value: 'b'.repeat(100000) });
      const read = await handler(new Request(`http://localhost/enclave/sessions/${bob}`, { headers: { 'x-user': 'bob' } }));
      expect(read.status).toBe(200);
    } finally {
      handler.dispose();
      store.dispose();
    }
  });

  it('one user’s many small results stop at maxFinishedPerOwner: the oldest is 404, the newest is read', async () => {
    const store = new MemorySessionStore({ maxFinishedPerOwner: 5 });
    const handler = createEnclaveHandler({ authenticate: ({ request }) => request.headers.get('x-user'), sessions: { store } });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push(await run(handler, store, 'mallory', `return ${i}`));
      expect(store.size).toBe(5);
      const gone = await handler(new Request(`http://localhost/enclave/sessions/${ids[0]}`, { headers: { 'x-user': 'mallory' } }));
      expect(gone.status).toBe(404);
      const last = await handler(new Request(`http://localhost/enclave/sessions/${ids.at(-1)}`, { headers: { 'x-user': 'mallory' } }));
      expect(await last.json()).toMatchObject({ state: 'completed', result: { value: 11 } });
    } finally {
      handler.dispose();
      store.dispose();
    }
  });
});
