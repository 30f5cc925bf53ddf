/**
 * What the HTTP core does for several instances, shown with in-process stores (the Redis package runs
 * the same through real processes and a real Redis): per-user caps on runs in flight counted by leases
 * that expire, stores that fail answered as 503 and recovered from, and sessions of an instance that
 * stopped ended as RUN_LOST exactly once by another instance.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLeaseStore, MemorySessionStore, createEnclaveHandler } from '../../src/index.js';
import { holdLease } from '../../src/leases.js';
import type { EnclaveEvent, EnclaveHandlerOptions, SessionStore, ToolContext } from '../../src/index.js';
import { handleNodeRequest } from '../../src/node/index.js';
import { waitUntil } from '../helpers.js';
import { readEvents } from './event-stream.js';

const silent = { info() {}, error() {} };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/**
 * A tool that holds its run until the test opens it: a run that must still be in flight when the test
 * looks is not bet on a fixed `ms` outlasting a loaded machine.
 */
const gate = {
  entered: 0,
  waiting: [] as (() => void)[],
  open() {
    for (const release of this.waiting.splice(0)) release();
  },
};
afterEach(() => {
  gate.open();
  gate.entered = 0;
});

/** One app instance: the core behind node:http on port 0, users from `x-user`. */
async function instance(options: Partial<EnclaveHandlerOptions<unknown, string>> = {}): Promise<string> {
  const handler = createEnclaveHandler<unknown, string>({
    logger: silent,
    enclave: { timeout: 5000 },
    authenticate: ({ request }) => request.headers.get('x-user') ?? undefined,
    tools: {
      gate: (_args: unknown, ctx: ToolContext) =>
        new Promise((resolve) => {
          gate.entered++;
          gate.waiting.push(() => resolve('opened'));
          ctx.signal.addEventListener('abort', () => resolve('aborted'));
        }),
      wait: ({ ms }: { ms: number }, ctx: ToolContext) =>
        new Promise((resolve) => {
          const t = setTimeout(() => resolve(ms), ms);
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(t);
            resolve('aborted');
          });
        }),
    },
    ...options,
  } as EnclaveHandlerOptions<unknown, string>);
  const server = createServer((req, res) => void handleNodeRequest(handler, req, res, undefined));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    handler.dispose();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave`;
}

/** The JSON body, untyped: the tests read fields of several shapes. */
const body = (res: Response): Promise<any> => res.json();

const post = (url: string, user: string, code: string, accept?: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user, ...(accept ? { accept } : {}) }, body: JSON.stringify({ code }) });

/** A store whose every method fails while `down` is set: a Redis that went away. */
function flaky<S extends object>(store: S): S & { down: boolean } {
  const state = { down: false };
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'down') return state.down;
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (state.down && key !== 'subscribe' && key !== 'onCancel' && key !== 'dispose') return Promise.reject(new Error('connection refused'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
    set(_target, key, value) {
      if (key === 'down') {
        state.down = value as boolean;
        return true;
      }
      return false;
    },
  }) as S & { down: boolean };
}

describe('per-user runs in flight', () => {
  it('maxRunsPerUser: one more run of the same user gets 429 with Retry-After; others and later runs go through', async () => {
    const url = await instance({ maxRunsPerUser: 1 });
    const first = post(url, 'alice', 'return await callTool("gate", {})');
    await waitUntil(() => gate.entered === 1);
    const second = await post(url, 'alice', 'return 1');
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await body(second)).error.code).toBe('RATE_LIMITED');
    expect((await body(await post(url, 'bob', 'return 2'))).value).toBe(2);
    gate.open();
    expect((await body(await first)).value).toBe('opened');
    expect((await body(await post(url, 'alice', 'return 3'))).value).toBe(3);
  });

  it('the cap holds across instances that share a lease store, sessions and streams included', async () => {
    const leases = new MemoryLeaseStore();
    const a = await instance({ maxRunsPerUser: 2, leases });
    const b = await instance({ maxRunsPerUser: 2, leases });
    const s1 = await fetch(`${a}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'carol' }, body: JSON.stringify({ code: 'return await callTool("gate", {})' }) });
    expect(s1.status).toBe(201);
    const streamed = post(b, 'carol', 'return await callTool("gate", {})', 'text/event-stream');
    await waitUntil(() => gate.entered === 2);
    expect((await post(a, 'carol', 'return 1')).status).toBe(429);
    expect((await post(b, 'carol', 'return 1')).status).toBe(429);
    gate.open();
    await readEvents(await streamed);
  });

  it('a lease its holder never releases (a crashed instance) frees its slot when it expires; a held one is renewed', async () => {
    let now = 0;
    const store = new MemoryLeaseStore({ now: () => now });
    expect(await store.acquire('k', 1, 1000)).not.toBeNull();
    expect(await store.acquire('k', 1, 1000)).toBeNull();
    now = 1001;
    const second = await store.acquire('k', 1, 1000);
    expect(second).not.toBeNull();
    now = 1900;
    expect(await store.renew('k', second as string, 1000)).toBe(true);
    now = 2800;
    expect(await store.acquire('k', 1, 1000)).toBeNull();
    await store.release('k', second as string);
    expect(await store.acquire('k', 1, 1000)).not.toBeNull();
  });

  it('work whose lease the store no longer has (expired meanwhile, or a store that lost its data) takes its slot again once there is room', async () => {
    let now = 0;
    const store = new MemoryLeaseStore({ now: () => now });
    const held = await holdLease(store, 'k', 1, 150);
    expect(held).not.toBeNull();
    // The store forgot it (its clock jumped past the lease); someone else takes the slot.
    now = 10_000;
    const other = await store.acquire('k', 1, 60_000);
    expect(other).not.toBeNull();
    // Renewals find no lease and no room: the holder waits for one.
    await new Promise((r) => setTimeout(r, 200));
    expect(store.size).toBe(1);
    await store.release('k', other as string);
    await waitUntil(() => store.size === 1);
    expect(await store.acquire('k', 1, 60_000)).toBeNull();
    await held?.release();
    expect(store.size).toBe(0);
  });
});

describe('stores that fail', () => {
  it('session routes answer 503 with Retry-After while the store is down, and work again when it is back', async () => {
    const store = flaky(new MemorySessionStore());
    const url = await instance({ sessions: { store } });
    const started = await body(await fetch(`${url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'dave' }, body: JSON.stringify({ code: 'return 1' }) }));
    store.down = true;
    for (const res of [
      await fetch(`${url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'dave' }, body: JSON.stringify({ code: 'return 1' }) }),
      await fetch(`${url}/sessions/${started.sessionId}`, { headers: { 'x-user': 'dave' } }),
      await fetch(`${url}/sessions/${started.sessionId}`, { method: 'DELETE', headers: { 'x-user': 'dave' } }),
    ]) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect((await body(res)).error.code).toBe('SERVICE_UNAVAILABLE');
    }
    store.down = false;
    expect(await body(await fetch(`${url}/sessions/${started.sessionId}`, { headers: { 'x-user': 'dave' } }))).toMatchObject({ state: 'completed' });
  });

  it('a store that goes down while a session runs loses nothing once it is back: every event, then final', async () => {
    const store = flaky(new MemorySessionStore());
    const url = await instance({ sessions: { store } });
    const code = 'for (let i = 0; i < 6; i++) { await callTool("wait", { ms: 60 }); console.log("step", i); } return "done";';
    const { sessionId, eventsUrl } = await body(await fetch(`${url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'erin' }, body: JSON.stringify({ code }) }));
    await new Promise((r) => setTimeout(r, 100));
    store.down = true;
    await new Promise((r) => setTimeout(r, 300));
    store.down = false;
    const events = await readEvents(await fetch(new URL(eventsUrl, url), { headers: { 'x-user': 'erin' } }));
    expect(events.map((e) => e.data.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.data.type === 'log')).toHaveLength(6);
    expect(events.at(-1)?.data.payload).toMatchObject({ success: true, value: 'done' });
    expect(events.every((e) => e.data.sessionId === sessionId)).toBe(true);
  });

  it('a rate-limit store that fails refuses the request (503, fail closed) instead of letting it through', async () => {
    const url = await instance({ rateLimit: { max: 100, windowMs: 60_000, key: ({ user }) => user, store: { hit: () => Promise.reject(new Error('down')) } } });
    const res = await post(url, 'frank', 'return 1');
    expect(res.status).toBe(503);
    expect((await body(res)).error.code).toBe('SERVICE_UNAVAILABLE');
  });
});

describe('an instance that loses its hold on a session', () => {
  it('after a partition: told by the store that another instance ended the session as RUN_LOST meanwhile, the run stops, starting no other tool call', async () => {
    const shared = new MemorySessionStore();
    const seenByA = flaky(shared);
    const ends: string[] = [];
    const a = await instance({ sessions: { store: seenByA, livenessMs: 150 }, onRunEnd: ({ result }) => void ends.push(result.success ? 'success' : result.error.code) });
    const b = await instance({ sessions: { store: shared, livenessMs: 150 } });
    const { eventsUrl } = await body(await fetch(`${a}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'hank' }, body: JSON.stringify({ code: 'await callTool("gate", {}); return await callTool("gate", {})' }) }));
    await waitUntil(() => gate.entered === 1);
    // A partition: A's run goes on (its tool is in flight) while nothing it says reaches the store.
    seenByA.down = true;
    const events = await readEvents(await fetch(new URL(eventsUrl, b), { headers: { 'x-user': 'hank' } }));
    expect(events.at(-1)?.data).toMatchObject({ type: 'final', payload: { success: false, error: { code: 'RUN_LOST' } } });
    // The partition heals: A hears that its session ended, and its run stops in the call it waits in.
    seenByA.down = false;
    await expect.poll(() => ends, { timeout: 10_000 }).toEqual(['RUN_LOST']);
    gate.open();
    expect(gate.entered).toBe(1);
    const again = await readEvents(await fetch(new URL(eventsUrl, b), { headers: { 'x-user': 'hank' } }));
    expect(again.filter((e) => e.data.type === 'final')).toHaveLength(1);
  });

  it('whose store ended it meanwhile (another instance’s sweep after a long stall): the run stops at its next word to the store', async () => {
    const store = new MemorySessionStore();
    const ends: string[] = [];
    const a = await instance({ sessions: { store, livenessMs: 150 }, onRunEnd: ({ result }) => void ends.push(result.success ? 'success' : result.error.code) });
    const { sessionId } = await body(await fetch(`${a}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'ivy' }, body: JSON.stringify({ code: 'await callTool("gate", {}); return await callTool("gate", {})' }) }));
    await waitUntil(() => gate.entered === 1);
    // As another instance's sweep writes it when this one's word ran out.
    expect(await store.finish(sessionId, 'failed', { success: false, error: { name: 'RunLostError', message: 'lost', code: 'RUN_LOST' }, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } }, 60_000)).toBe(true);
    await expect.poll(() => ends, { timeout: 10_000 }).toEqual(['RUN_LOST']);
    gate.open();
    expect(gate.entered).toBe(1);
    expect(await store.get(sessionId)).toMatchObject({ state: 'failed', result: { error: { message: 'lost' } } });
  });
});

describe('an instance that stops', () => {
  it('another instance ends its running session as RUN_LOST, exactly once', async () => {
    const shared = new MemorySessionStore();
    // Instance A loses the store for good (as a crashed process does): it can no longer renew or finish.
    const seenByA = flaky(shared);
    const a = await instance({ sessions: { store: seenByA, livenessMs: 150 } });
    const b = await instance({ sessions: { store: shared, livenessMs: 150 } });
    const { sessionId, eventsUrl } = await body(await fetch(`${a}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'gina' }, body: JSON.stringify({ code: 'return await callTool("wait", { ms: 1500 })' }) }));
    seenByA.down = true;
    // The run itself would still succeed (its tool answers after 1.5 s): RUN_LOST can only come from B's sweep.
    const events = await readEvents(await fetch(new URL(eventsUrl, b), { headers: { 'x-user': 'gina' } }));
    const final = events.at(-1)?.data as EnclaveEvent<'final'>;
    expect(final.type).toBe('final');
    expect(final.payload).toMatchObject({ success: false, error: { code: 'RUN_LOST' } });
    // A finishing late (its store back) does not write a second end.
    seenByA.down = false;
    await new Promise((r) => setTimeout(r, 1500));
    const again = await readEvents(await fetch(new URL(eventsUrl, b), { headers: { 'x-user': 'gina' } }));
    expect(again.filter((e) => e.data.type === 'final')).toHaveLength(1);
    expect(await (shared as SessionStore).get(sessionId)).toMatchObject({ state: 'failed', result: { error: { code: 'RUN_LOST' } } });
  });
});
