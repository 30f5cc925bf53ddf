/**
 * Approvals over HTTP, written once and run against each session store (in memory here, on a real
 * redis-server in @enclave-kit/redis): two app instances on real sockets share a store; a session
 * pauses on one for `orders:refund`, a person approves or denies through the other (an hour of fake
 * time later), and the tools' own counters prove that nothing ran twice.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemorySessionStore, createEnclaveHandler, defineTool } from '../../src/index.js';
import type { EnclaveHandlerOptions, ExecutionResult, LeaseStore, SessionStore } from '../../src/index.js';
import { handleNodeRequest } from '../../src/node/index.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { newTraceparent, parentOf, registerTestTracing, spansOf } from '../otel.js';
import { readEvents } from './event-stream.js';
import type { StreamedEvent } from './event-stream.js';

/** The stores of one app instance; instances made by the same harness share what they store. */
export interface ApprovalStores {
  store: SessionStore;
  leases?: LeaseStore;
  dispose(): void;
}

const silent = { info() {}, error() {} };

/** Stores for the instances of a test that share one MemorySessionStore (the first instance's disposal lets it go). */
export function sharedMemoryStores(): () => ApprovalStores {
  let shared: MemorySessionStore | undefined;
  return () => {
    shared ??= new MemorySessionStore();
    const store = shared;
    return {
      store,
      dispose() {
        if (shared === store) shared = undefined;
      },
    };
  };
}

/** Orders of two users, and how often each tool really ran (across every instance of the test). */
function shop() {
  const ran = { list: 0, get: 0, refund: 0 };
  const refunds: { user: string; id: string; amount: number }[] = [];
  const ORDERS = [
    { id: 'o1', owner: 'alice', status: 'paid', total: 120 },
    { id: 'o3', owner: 'alice', status: 'paid', total: 80 },
    { id: 'o4', owner: 'bob', status: 'paid', total: 999 },
  ];
  const toolsFor = (user: string) => [
    defineTool({ name: 'orders:list', handler: () => (ran.list++, ORDERS.filter((o) => o.owner === user)) }),
    defineTool({ name: 'orders:get', handler: ({ id }: { id: string }) => (ran.get++, ORDERS.find((o) => o.owner === user && o.id === id) ?? null) }),
    defineTool({
      name: 'orders:refund',
      sideEffect: true,
      needsApproval: true,
      handler: ({ id, amount }: { id: string; amount: number }) => {
        ran.refund++;
        refunds.push({ user, id, amount });
        return { id, refunded: amount };
      },
    }),
  ];
  return { ran, refunds, toolsFor };
}

export const LIST_READ_REFUND = `const orders = await callTool('orders:list', {});
const order = await callTool('orders:get', { id: orders[0].id });
console.log('refunding', order.id);
const r = await callTool('orders:refund', { id: order.id, amount: order.total });
console.log('refunded', r.refunded);
return r;`;

const headers = (user: string, accept?: string) => ({ 'content-type': 'application/json', 'x-user': user, ...(accept ? { accept } : {}) });
const start = (url: string, user: string, code: string, extra: Record<string, string> = {}) =>
  fetch(`${url}/sessions`, { method: 'POST', headers: { ...headers(user, 'text/event-stream'), ...extra }, body: JSON.stringify({ code }) });
const decide = (url: string, user: string, id: string, callId: number | string, body: unknown, accept?: string, extra: Record<string, string> = {}) =>
  fetch(`${url}/sessions/${id}/approvals/${callId}`, { method: 'POST', headers: { ...headers(user, accept), ...extra }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const status = async (url: string, user: string, id: string): Promise<any> => (await fetch(`${url}/sessions/${id}`, { headers: { 'x-user': user } })).json();
const types = (events: StreamedEvent[]) => events.map((e) => e.event);
const seqs = (events: StreamedEvent[]) => events.map((e) => Number(e.id));

/** Starts a session and reads its stream until it closes at `approval_required`. */
async function paused(url: string, user: string, code: string, extra?: Record<string, string>): Promise<{ sessionId: string; events: StreamedEvent[] }> {
  const res = await start(url, user, code, extra);
  expect(res.status).toBe(200);
  const sessionId = res.headers.get('x-session-id') as string;
  const events = await readEvents(res);
  expect(events.at(-1)?.event).toBe('approval_required');
  return { sessionId, events };
}

/** What onRunEnd saw of each part of the runs, and the stats of the `n`th pause among them (once its hook has run). */
function runEnds() {
  const ends: ExecutionResult[] = [];
  const pausedStats = async (n = 1) => {
    const pauses = () => ends.filter((r) => !r.success && r.error.code === 'APPROVAL_REQUIRED');
    await expect.poll(() => pauses().length).toBeGreaterThanOrEqual(n);
    const { stats } = pauses()[n - 1] as ExecutionResult;
    // The script made its calls before the pause (the one that waits too): the run's time before it was not nothing.
    expect(stats.toolCallCount).toBeGreaterThan(0);
    expect(stats.duration).toBeGreaterThan(0);
    return stats;
  };
  return { ends, pausedStats };
}

/** `store`, whose `requestCancel` calls `stored` once the store has taken the request. */
function telling(store: SessionStore, stored: () => void): SessionStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'requestCancel') {
        return async (sessionId: string) => {
          const taken = await target.requestCancel(sessionId);
          stored();
          return taken;
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** App instances on port 0, each with its own stores object from `makeStores`; all closed after each test. */
function useInstances(makeStores: () => ApprovalStores) {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const close of closers.splice(0)) await close();
  });

  /**
   * One app instance on port 0 with its own stores object; users from `x-user`. `onCancelStored` is told
   * when this instance's store has taken a cancel request (`requestCancel` resolved).
   */
  return async function instance(toolsFor: (user: string) => unknown, options: Partial<EnclaveHandlerOptions<unknown, string>> = {}, onCancelStored?: () => void): Promise<string> {
    const stores = makeStores();
    const handler = createEnclaveHandler<unknown, string>({
      logger: silent,
      authenticate: ({ request }) => request.headers.get('x-user') ?? undefined,
      tools: ({ user }) => toolsFor(user) as never,
      ...options,
      sessions: { store: onCancelStored ? telling(stores.store, onCancelStored) : stores.store, ...(options.sessions as object) },
      ...(stores.leases ? { leases: stores.leases } : {}),
    } as EnclaveHandlerOptions<unknown, string>);
    const server = createServer((req, res) => void handleNodeRequest(handler, req, res, undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(async () => {
      handler.dispose();
      stores.dispose();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave`;
  };
}

export function approvalsContract(name: string, makeStores: () => ApprovalStores): void {
  const instance = useInstances(makeStores);

  /**
   * Two instances with these session options, and a session of alice's paused at the refund on the
   * first, at 09:00 of a fake clock the test moves. By default its wait lasts 200 ms and the sweep
   * (every 30 s) comes during no test.
   */
  async function pausedBriefly(sessions: { maxPauseDuration: number; livenessMs: number } = { maxPauseDuration: 200, livenessMs: 60_000 }) {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-01T09:00:00Z'));
    const { ran, toolsFor } = shop();
    const { ends, pausedStats } = runEnds();
    const opts = { sessions, onRunEnd: ({ result }) => void ends.push(result) } as Partial<EnclaveHandlerOptions<unknown, string>>;
    const a = await instance(toolsFor, opts);
    const b = await instance(toolsFor, opts);
    return { ran, a, b, pausedStats, ...(await paused(a, 'alice', LIST_READ_REFUND)) };
  }

  describe(`approvals [${name}]`, () => {
    it('pauses on one instance; approved through another an hour of fake time later, the reads ran once in total, the refund once, and the log appears', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2026-03-01T09:00:00Z'));
      const { ran, refunds, toolsFor } = shop();
      const a = await instance(toolsFor);
      const b = await instance(toolsFor);
      const { sessionId, events: head } = await paused(a, 'alice', LIST_READ_REFUND);
      expect(types(head)).toEqual(['session_init', 'tool_call', 'tool_result', 'tool_call', 'tool_result', 'log', 'tool_call', 'approval_required']);
      // The digest of the call as shown: SHA-256 of [callId, tool, args], base64url.
      const digestOf = (amount: number) => createHash('sha256').update(JSON.stringify([3, 'orders:refund', { id: 'o1', amount }])).digest('base64url');
      const pending = { callId: 3, tool: 'orders:refund', args: { id: 'o1', amount: 120 }, expiresAt: Date.parse('2026-03-02T09:00:00Z'), digest: digestOf(120) };
      expect(head.at(-1)?.data.payload).toEqual(pending);
      expect(await status(b, 'alice', sessionId)).toEqual({ sessionId, state: 'waiting_for_approval', pendingApproval: pending });
      expect(ran).toEqual({ list: 1, get: 1, refund: 0 });

      // Only the owner, only the pending call, only the documented bodies.
      expect((await decide(b, 'bob', sessionId, 3, { approved: true })).status).toBe(404);
      expect((await status(b, 'bob', sessionId)).error.code).toBe('NOT_FOUND');
      // A call it does not wait on is a conflict (as one decided already); a path that names no call, 404.
      const notWaited = await decide(b, 'alice', sessionId, 2, { approved: true });
      expect([notWaited.status, ((await notWaited.json()) as any).error.code]).toEqual([409, 'CONFLICT']);
      expect((await decide(b, 'alice', sessionId, 'x', { approved: true })).status).toBe(404);
      // Whatever the body: the path names no approval (not a 400 or 415 about a body no call would take).
      for (const call of ['0', '01', '-1', 'x']) expect((await decide(b, 'alice', sessionId, call, '{')).status, call).toBe(404);
      expect((await fetch(`${b}/sessions/${sessionId}/approvals/x`, { method: 'POST', headers: { 'x-user': 'alice', 'content-type': 'text/plain' }, body: 'yes' })).status).toBe(404);
      for (const bad of ['{', '[]', '{"approved":"yes"}', '{"approved":true,"__proto__":{"x":1}}', '{"approved":false,"reason":7}', JSON.stringify({ approved: false, reason: 'x', extra: 1 }), '{"approved":true,"digest":"abc"}', '{"approved":true,"digest":7}']) {
        const res = await decide(b, 'alice', sessionId, 3, bad);
        expect(res.status, bad).toBe(400);
        expect(((await res.json()) as any).error.code).toBe('BAD_REQUEST');
      }
      const notJson = await fetch(`${b}/sessions/${sessionId}/approvals/3`, { method: 'POST', headers: { 'x-user': 'alice', 'content-type': 'text/plain' }, body: 'yes' });
      expect(notJson.status).toBe(415);
      // A decision in UTF-16 is not read as UTF-8 (where it would be a 400): 415, saying why.
      const utf16 = await fetch(`${b}/sessions/${sessionId}/approvals/3`, { method: 'POST', headers: { 'x-user': 'alice', 'content-type': 'application/json; charset=utf-16le' }, body: new Uint8Array(Buffer.from('{"approved":true}', 'utf16le')) });
      expect([utf16.status, ((await utf16.json()) as any).error.message]).toEqual([415, expect.stringMatching(/^Send the decision as JSON in UTF-8 .*charset=utf-16le is not read/)]);
      expect((await decide(b, 'alice', sessionId, 3, 'x'.repeat(20_000))).status).toBe(413);
      // A decision on another call than the one waiting (its digest says so): 409, nothing runs, it still waits.
      const other = await decide(b, 'alice', sessionId, 3, { approved: true, digest: digestOf(1200) });
      expect([other.status, ((await other.json()) as any).error.code]).toEqual([409, 'CONFLICT']);
      expect((await status(b, 'alice', sessionId)).state).toBe('waiting_for_approval');
      expect(ran).toEqual({ list: 1, get: 1, refund: 0 });

      vi.setSystemTime(new Date('2026-03-01T10:00:00Z'));
      const approved = await decide(b, 'alice', sessionId, 3, { approved: true, digest: pending.digest }, 'text/event-stream');
      expect(approved.status).toBe(200);
      const rest = await readEvents(approved);
      expect(types(rest)).toEqual(['tool_call', 'tool_result', 'log', 'final']);
      expect(rest.at(-1)?.data.payload).toMatchObject({ success: true, value: { id: 'o1', refunded: 120 } });
      expect(rest.at(-1)?.data.payload.logs.map((l: { message: string }) => l.message)).toEqual(['refunding o1', 'refunded 120']);
      const all = [...head, ...rest];
      expect(seqs(all)).toEqual(all.map((_, i) => i + 1));
      expect(ran).toEqual({ list: 1, get: 1, refund: 1 });
      expect(refunds).toEqual([{ user: 'alice', id: 'o1', amount: 120 }]);
      // The whole session read back from the first instance: the same events, once each.
      const replay = await readEvents(await fetch(`${a}/sessions/${sessionId}/events`, { headers: { 'x-user': 'alice' } }));
      expect(types(replay)).toEqual(types(all));
      expect(await status(a, 'alice', sessionId)).toMatchObject({ state: 'completed', result: { success: true } });
      // Decided: a second decision is a conflict, and changes nothing.
      const again = await decide(a, 'alice', sessionId, 3, { approved: true });
      expect(again.status).toBe(409);
      expect(((await again.json()) as any).error.code).toBe('CONFLICT');
      expect(ran.refund).toBe(1);
      // A path that names no call is 404 once the session has ended too (the README: whatever its state).
      const noCall = await decide(a, 'alice', sessionId, 'x', { approved: true });
      expect([noCall.status, ((await noCall.json()) as any).error.code]).toEqual([404, 'NOT_FOUND']);
    }, 30_000);

    it('denied through another instance: the script’s catch sees APPROVAL_DENIED with the reason, and the refund never runs', async () => {
      const { ran, toolsFor } = shop();
      const { ends, pausedStats } = runEnds();
      const opts = { onRunEnd: ({ result }) => void ends.push(result) } as Partial<EnclaveHandlerOptions<unknown, string>>;
      const a = await instance(toolsFor, opts);
      const b = await instance(toolsFor, opts);
      const code = `const o = await callTool('orders:get', { id: 'o3' });
try { await callTool('orders:refund', { id: o.id, amount: o.total }); return 'refunded'; }
catch (e) { console.log('denied:', e.code); return { code: e.code, message: e.message }; }`;
      const { sessionId } = await paused(a, 'alice', code);
      const res = await decide(b, 'alice', sessionId, 2, { approved: false, reason: 'Refunds over 50 need a manager.' });
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ sessionId, state: 'running', callId: 2, approved: false });
      await expect.poll(async () => (await status(a, 'alice', sessionId)).state, { timeout: 10_000 }).toBe('completed');
      const { result } = await status(a, 'alice', sessionId);
      expect(result).toMatchObject({ success: true, value: { code: 'APPROVAL_DENIED', message: 'Refunds over 50 need a manager.' } });
      // The run's stats over both parts: its two calls (the replay makes them again), the time of each part.
      const before = await pausedStats();
      expect(result.stats.toolCallCount).toBe(2);
      expect(result.stats.duration).toBeGreaterThan(before.duration);
      expect(ran).toEqual({ list: 0, get: 1, refund: 0 });
    }, 30_000);

    it('a script that picks its path with Math.random() replays the same path after the approval', async () => {
      const { ran, refunds, toolsFor } = shop();
      const a = await instance(toolsFor);
      const b = await instance(toolsFor);
      const code = `const pick = Math.random() < 0.5 ? 'o1' : 'o3';
const order = await callTool('orders:get', { id: pick });
const r = await callTool('orders:refund', { id: order.id, amount: order.total });
return { pick, refunded: r.refunded, at: new Date(Date.now()).getUTCFullYear() > 2000 };`;
      const { sessionId, events } = await paused(a, 'alice', code);
      const asked = events.at(-1)?.data.payload.args as { id: string };
      const rest = await readEvents(await decide(b, 'alice', sessionId, 2, { approved: true }, 'text/event-stream'));
      expect(rest.at(-1)?.data.payload).toMatchObject({ success: true, value: { pick: asked.id, at: true } });
      expect(refunds.map((r) => r.id)).toEqual([asked.id]);
      expect(ran).toEqual({ list: 0, get: 1, refund: 1 });
    }, 30_000);

    it('two decisions at once through two instances: exactly one resumes the run, the refund runs once', async () => {
      const { ran, toolsFor } = shop();
      const a = await instance(toolsFor);
      const b = await instance(toolsFor);
      const { sessionId } = await paused(a, 'alice', LIST_READ_REFUND);
      const answers = await Promise.all([decide(a, 'alice', sessionId, 3, { approved: true }), decide(b, 'alice', sessionId, 3, { approved: true })]);
      expect(answers.map((r) => r.status).sort()).toEqual([202, 409]);
      await expect.poll(async () => (await status(a, 'alice', sessionId)).state, { timeout: 10_000 }).toBe('completed');
      expect(ran).toEqual({ list: 1, get: 1, refund: 1 });
    }, 30_000);

    it('a wait longer than maxPauseDuration ends as APPROVAL_EXPIRED; a cancelled wait as ABORTED; neither runs the refund', async () => {
      // The wait ends when the test moves the app's clock past it, not 300 ms after the pause: a loaded
      // machine was slower than that to read the paused stream, whose last event was then the sweep's
      // final. The sweep itself still runs on real timers, every half of livenessMs.
      const { ran, a, b, sessionId, events, pausedStats } = await pausedBriefly({ maxPauseDuration: 60_000, livenessMs: 1_000 });
      // A reader that follows the paused session sees nothing more (its stream ends at the pause).
      expect(await readEvents(await fetch(`${b}/sessions/${sessionId}/events?fromSeq=${events.length}`, { headers: { 'x-user': 'alice' } }))).toEqual([]);
      expect((await status(b, 'alice', sessionId)).state).toBe('waiting_for_approval');
      vi.setSystemTime(new Date('2026-03-01T09:01:01Z'));
      await expect.poll(async () => (await status(b, 'alice', sessionId)).state).toBe('failed');
      // Ended by the sweep, with the stats of the run before its pause (its three calls, its time), read from the store.
      expect((await status(b, 'alice', sessionId)).result).toMatchObject({ error: { code: 'APPROVAL_EXPIRED' }, stats: { ...(await pausedStats(1)), toolCallCount: 3 } });
      const late = await decide(b, 'alice', sessionId, 3, { approved: true });
      expect(late.status).toBe(410);
      expect(((await late.json()) as any).error.code).toBe('APPROVAL_EXPIRED');

      const second = await paused(a, 'alice', LIST_READ_REFUND);
      const cancelled = await fetch(`${b}/sessions/${second.sessionId}`, { method: 'DELETE', headers: { 'x-user': 'alice' } });
      expect(await cancelled.json()).toMatchObject({ state: 'cancelled', result: { error: { code: 'ABORTED' }, stats: { ...(await pausedStats(2)), toolCallCount: 3 } } });
      const tail = await readEvents(await fetch(`${a}/sessions/${second.sessionId}/events?fromSeq=${second.events.length}`, { headers: { 'x-user': 'alice' } }));
      expect(types(tail)).toEqual(['final']);
      expect(tail[0]?.data.payload.stats).toEqual(await pausedStats(2));
      expect(ran.refund).toBe(0);
    }, 30_000);

    it('a decision after maxPauseDuration, before any sweep, is refused: 410 APPROVAL_EXPIRED, the session ends so, and the refund never runs', async () => {
      // Only the decision can see that the wait ended.
      const { ran, a, b, sessionId, pausedStats } = await pausedBriefly();
      vi.setSystemTime(new Date('2026-03-01T09:00:01.300Z'));
      const late = await decide(b, 'alice', sessionId, 3, { approved: true });
      expect(late.status).toBe(410);
      expect(((await late.json()) as any).error.code).toBe('APPROVAL_EXPIRED');
      expect(await status(a, 'alice', sessionId)).toMatchObject({ state: 'failed', result: { success: false, error: { code: 'APPROVAL_EXPIRED' }, stats: await pausedStats() } });
      // Once ended, any later decision says the same, never 202.
      expect((await decide(a, 'alice', sessionId, 3, { approved: false })).status).toBe(410);
      expect(ran).toEqual({ list: 1, get: 1, refund: 0 });
    }, 30_000);

    it('a read after maxPauseDuration, before any sweep, shows the session ended as APPROVAL_EXPIRED, and its events end with that final', async () => {
      // Only the reads can see that the wait ended.
      const { ran, a, b, sessionId, events, pausedStats } = await pausedBriefly();
      expect((await status(b, 'alice', sessionId)).state).toBe('waiting_for_approval');
      vi.setSystemTime(new Date('2026-03-01T09:00:01.300Z'));
      // Before, the read still offered the pending approval, which any decision then refused (410), until a sweep.
      const read = await status(b, 'alice', sessionId);
      expect(read).toMatchObject({ state: 'failed', result: { success: false, error: { code: 'APPROVAL_EXPIRED' } } });
      expect(read).not.toHaveProperty('pendingApproval');
      const tail = await readEvents(await fetch(`${a}/sessions/${sessionId}/events?fromSeq=${events.length}`, { headers: { 'x-user': 'alice' } }));
      expect(types(tail)).toEqual(['final']);
      expect(tail[0]?.data.payload).toMatchObject({ success: false, error: { code: 'APPROVAL_EXPIRED' }, stats: await pausedStats() });
      expect((await decide(a, 'alice', sessionId, 3, { approved: true })).status).toBe(410);
      expect(ran).toEqual({ list: 1, get: 1, refund: 0 });
    }, 30_000);

    it('a DELETE through one instance while another sets the run going again on a decision: the resumed run ends as ABORTED before the approved call', async () => {
      const { ran, toolsFor } = shop();
      let starts = 0;
      let resuming: () => void = () => {};
      const resumed = new Promise<void>((resolve) => (resuming = resolve));
      let go: () => void = () => {};
      const held = new Promise<void>((resolve) => (go = resolve));
      try {
        let cancelStored: () => void = () => {};
        const cancelInStore = new Promise<void>((resolve) => (cancelStored = resolve));
        const a = await instance(toolsFor, {}, () => cancelStored());
        // b's start of the resumed part waits: the store has set the session running, the run does not listen yet.
        const b = await instance(toolsFor, {
          onRunStart: async () => {
            if (++starts === 1) return;
            resuming();
            await held;
          },
        });
        const { sessionId } = await paused(b, 'alice', `return callTool('orders:refund', { id: 'o1', amount: 1 })`);
        const decision = decide(b, 'alice', sessionId, 1, { approved: true });
        await resumed;
        const cancel = fetch(`${a}/sessions/${sessionId}`, { method: 'DELETE', headers: { 'x-user': 'alice' } });
        await expect.poll(async () => (await status(a, 'alice', sessionId)).state).toBe('running');
        // The cancel has reached the store (a's DELETE waits for the end now); then b's run starts. (A
        // 200 ms sleep in place of this wait let b's run start first on a loaded machine, and the refund ran.)
        await cancelInStore;
        go();
        expect((await decision).status).toBe(202);
        const res = await cancel;
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ state: 'cancelled', result: { success: false, error: { code: 'ABORTED' } } });
        expect(ran.refund).toBe(0);
      } finally {
        go();
      }
    }, 30_000);

    it('maxWaitingPerUser: past it a call that needs approval fails in the script with APPROVAL_REQUIRED; per user, across instances; a decision or a cancel frees a place', async () => {
      const { ran, toolsFor } = shop();
      const opts = { sessions: { maxWaitingPerUser: 1 } } as Partial<EnclaveHandlerOptions<unknown, string>>;
      const a = await instance(toolsFor, opts);
      const b = await instance(toolsFor, opts);
      const code = `try { return await callTool('orders:refund', { id: 'o1', amount: 1 }); }
catch (e) { return { code: e.code, message: e.message }; }`;
      const first = await paused(a, 'alice', code);
      // The second of alice's sessions, on the other instance: the call fails in the script, the run goes on.
      const refused = await readEvents(await start(b, 'alice', code));
      expect(types(refused)).toEqual(['session_init', 'tool_call', 'tool_result', 'final']);
      expect(refused.at(-1)?.data.payload).toMatchObject({ success: true, value: { code: 'APPROVAL_REQUIRED', message: expect.stringContaining('1 of your sessions already wait') } });
      // Another user has places of their own.
      await paused(b, 'bob', code);
      // Denied: alice's place is free, and her next session may wait; cancelled, it is free again.
      expect((await decide(b, 'alice', first.sessionId, 1, { approved: false })).status).toBe(202);
      await expect.poll(async () => (await status(a, 'alice', first.sessionId)).state, { timeout: 10_000 }).toBe('completed');
      const second = await paused(b, 'alice', code);
      expect((await fetch(`${a}/sessions/${second.sessionId}`, { method: 'DELETE', headers: { 'x-user': 'alice' } })).status).toBe(200);
      await paused(a, 'alice', code);
      expect(ran.refund).toBe(0);
    }, 30_000);

    it('outside a session the call cannot wait: TOOL_ERROR APPROVAL_REQUIRED (403); the catalog marks the tool', async () => {
      const { ran, toolsFor } = shop();
      const a = await instance(toolsFor);
      const res = await fetch(a, { method: 'POST', headers: headers('alice'), body: JSON.stringify({ code: `return callTool('orders:refund', { id: 'o1', amount: 1 })` }) });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ success: false, error: { code: 'TOOL_ERROR', data: { toolErrorCode: 'APPROVAL_REQUIRED' } } });
      const catalog = (await (await fetch(a, { headers: { 'x-user': 'alice' } })).json()) as any;
      expect(catalog.tools.find((t: { name: string }) => t.name === 'orders:refund').needsApproval).toBe('always');
      expect(ran.refund).toBe(0);
    });
  });
}

/**
 * The approvals' OpenTelemetry case, apart from the rest: a file calls it after all of its other cases
 * (its tracer's AsyncLocalStorage stays in use for the rest of the process, and on Node 20 and 22 later
 * vm runs go to worker threads; see adapterTracingContract in contract.ts).
 */
export function approvalsTracingCase(name: string, makeStores: () => ApprovalStores): void {
  const instance = useInstances(makeStores);
  describe(`approvals [${name}]: OpenTelemetry`, () => {
    it('the resumed run’s span is under the deciding request’s trace, and links to the span of the run that paused, through the store', async () => {
      const exporter = registerTestTracing();
      const { ran, toolsFor } = shop();
      const a = await instance(toolsFor);
      const b = await instance(toolsFor);
      const started = newTraceparent();
      const { sessionId } = await paused(a, 'alice', LIST_READ_REFUND, { traceparent: started.header });
      const pausedRun = spansOf(exporter, started.traceId).find((s) => s.name === 'enclave.run');
      expect(pausedRun?.attributes['enclave.outcome']).toBe('APPROVAL_REQUIRED');
      const deciding = newTraceparent();
      const rest = await readEvents(await decide(b, 'alice', sessionId, 3, { approved: true }, 'text/event-stream', { traceparent: deciding.header }));
      expect(rest.at(-1)?.data.payload).toMatchObject({ success: true });
      await expect.poll(() => spansOf(exporter, deciding.traceId).some((s) => s.name === 'enclave.run')).toBe(true);
      const resumed = spansOf(exporter, deciding.traceId).find((s) => s.name === 'enclave.run') as ReadableSpan;
      expect(parentOf(resumed)).toBe(deciding.spanId);
      expect(resumed.links.map((l) => [l.context.traceId, l.context.spanId, l.attributes])).toEqual([[started.traceId, pausedRun?.spanContext().spanId, { 'enclave.link': 'paused_run' }]]);
      expect(ran).toEqual({ list: 1, get: 1, refund: 1 });
    }, 30_000);
  });
}
