/** The approvals contract (approvals.ts) with two instances on one in-memory session store. */
import { afterEach, describe, expect, it } from 'vitest';
import { EnclaveHttpError, MemorySessionStore, createEnclaveHandler, defineTool } from '../../src/index.js';
import type { ExecutionResult, FinalSessionState, ToolSet } from '../../src/index.js';
import { approvalsContract, sharedMemoryStores } from './approvals.js';

approvalsContract('memory store', sharedMemoryStores());

describe('a paused state that comes back altered from the store', () => {
  /** A store whose paused runs come back changed by `alter`, as from a store someone else wrote to. */
  class Altering extends MemorySessionStore {
    constructor(readonly alter: (state: { journal: { pending: [number, string, string] } }) => void) {
      super();
    }
    override async resume(sessionId: string, callId: number, livenessMs: number) {
      const resumed = await super.resume(sessionId, callId, livenessMs);
      if (resumed === undefined) return undefined;
      const state = JSON.parse(resumed.state);
      this.alter(state);
      return { ...resumed, state: JSON.stringify(state) };
    }
  }
  const post = (url: string, body: unknown) => new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it.each([
    ['another pending call', (s: { journal: { pending: [number, string, string] } }) => void (s.journal.pending[0] = 9), 'STATE_REJECTED'],
    ['bigger arguments for the pending call', (s: { journal: { pending: [number, string, string] } }) => void (s.journal.pending[2] = s.journal.pending[2].replace('5', '5000')), 'REPLAY_DIVERGED'],
    ['stats that are not counts', (s: { stats?: unknown }) => void (s.stats = { duration: 1, toolCallCount: -1, iterationCount: 0 }), 'STATE_REJECTED'],
  ] as [string, (s: any) => void, string][])('%s: the approved tool never runs, the session ends as %s', async (_name, alter, code) => {
    let refunded = 0;
    const store = new Altering(alter);
    const refund = defineTool({ name: 'refund', needsApproval: true, handler: ({ amount }: { amount: number }) => (refunded += amount) });
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store }, tools: [refund] });
    try {
      const started = (await (await handler(post('http://localhost/enclave/sessions', { code: `return callTool('refund', { amount: 5 })` }))).json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(started.sessionId))?.state, { timeout: 10_000 }).toBe('waiting_for_approval');
      await handler(post(`http://localhost/enclave/sessions/${started.sessionId}/approvals/1`, { approved: true }));
      await expect.poll(async () => (await store.get(started.sessionId))?.state, { timeout: 10_000 }).toBe('failed');
      expect((await store.get(started.sessionId))?.result).toMatchObject({ success: false, error: { code } });
      expect(refunded).toBe(0);
    } finally {
      handler.dispose();
    }
  });
});

describe('sessions.stateKey: a paused state swapped in the store is never resumed', () => {
  /** A store that records what it is asked to keep, and hands back, for `victim`, what `swap` says. */
  class Swapping extends MemorySessionStore {
    readonly kept = new Map<string, string>();
    swap: ((sessionId: string, state: string) => string) | undefined;
    override async pause(sessionId: string, paused: { approval: never; state: string }, ttlMs: number) {
      this.kept.set(sessionId, paused.state);
      return super.pause(sessionId, paused, ttlMs);
    }
    override async resume(sessionId: string, callId: number, livenessMs: number) {
      const resumed = await super.resume(sessionId, callId, livenessMs);
      return resumed === undefined || this.swap === undefined ? resumed : { ...resumed, state: this.swap(sessionId, resumed.state) };
    }
  }
  const KEY = 'a secret of thirty-two bytes or more';
  const start = (handler: ReturnType<typeof createEnclaveHandler>, user: string, code: string) =>
    handler(new Request('http://localhost/enclave/sessions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ code }) }));
  const approve = (handler: ReturnType<typeof createEnclaveHandler>, user: string, sessionId: string) =>
    handler(new Request(`http://localhost/enclave/sessions/${sessionId}/approvals/1`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ approved: true }) }));

  async function scenario(swap: (store: Swapping, ids: { alice: string; mallory: string }) => Swapping['swap']) {
    const ran: unknown[] = [];
    const store = new Swapping();
    const tools = [
      defineTool({ name: 'refund', needsApproval: true, handler: ({ amount }: { amount: number }) => void ran.push(['refund', amount]) }),
      defineTool({ name: 'exportCustomers', handler: ({ to }: { to: string }) => void ran.push(['exportCustomers', to]) }),
    ];
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, authenticate: ({ request }) => request.headers.get('x-user'), sessions: { store, stateKey: KEY }, tools });
    try {
      const ids = {
        alice: ((await (await start(handler, 'alice', "return callTool('refund', { amount: 5 })")).json()) as { sessionId: string }).sessionId,
        // Mallory pauses her own code on the same call: her state is one this app signed, for her session.
        mallory: ((await (await start(handler, 'mallory', "const r = await callTool('refund', { amount: 5 }); await callTool('exportCustomers', { to: 'mallory' }); return r;")).json()) as { sessionId: string }).sessionId,
      };
      for (const id of Object.values(ids)) await expect.poll(async () => (await store.get(id))?.state, { timeout: 10_000 }).toBe('waiting_for_approval');
      store.swap = swap(store, ids);
      expect((await approve(handler, 'alice', ids.alice)).status).toBeLessThan(300);
      await expect.poll(async () => ['completed', 'failed'].includes((await store.get(ids.alice))?.state ?? ''), { timeout: 10_000 }).toBe(true);
      return { result: (await store.get(ids.alice))?.result, ran };
    } finally {
      handler.dispose();
    }
  }

  it('a state as the app signed it resumes: the approved call runs', async () => {
    const { result, ran } = await scenario(() => undefined);
    expect(result).toMatchObject({ success: true });
    expect(ran).toEqual([['refund', 5]]);
  });

  it.each([
    ["another session's signed state", (store: Swapping, ids: { mallory: string }) => () => store.kept.get(ids.mallory) as string],
    ['the state without its signature', () => (_id: string, state: string) => state.slice(state.indexOf('.') + 1)],
    ['a state signed with another key', () => (_id: string, state: string) => `${'A'.repeat(43)}${state.slice(state.indexOf('.'))}`],
  ])('%s: nothing runs, the session ends as STATE_REJECTED', async (_name, swap) => {
    const { result, ran } = await scenario(swap as never);
    expect(result).toMatchObject({ success: false, error: { code: 'STATE_REJECTED' } });
    expect(ran).toEqual([]);
  });

  it('refuses a short key at construction', () => {
    expect(() => createEnclaveHandler({ sessions: { stateKey: 'short' } })).toThrow(/stateKey must be a secret of at least 32 bytes/);
  });
});

describe('MemorySessionStore: decisions, expiry and cancels that race', () => {
  const ok: ExecutionResult = { success: true, value: 1, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } };
  const expired: ExecutionResult = { success: false, error: { name: 'E', message: 'm', code: 'APPROVAL_EXPIRED' }, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } };
  const approval = (callId: number, expiresAt: number) => ({ callId, tool: 'refund', args: {}, expiresAt });
  const stores: MemorySessionStore[] = [];
  afterEach(() => stores.splice(0).forEach((s) => s.dispose()));
  async function pausedSession(id: string, expiresAt: number): Promise<MemorySessionStore> {
    const store = new MemorySessionStore();
    stores.push(store);
    await store.create({ sessionId: id, owner: 'alice', createdAt: 1 });
    expect(await store.pause(id, { approval: approval(1, expiresAt), state: '{}' }, 1000)).toBe(true);
    return store;
  }

  it('a decision after the wait ended is refused, though no sweep has ended the session yet', async () => {
    const store = await pausedSession('ses_m1', Date.now() - 1);
    expect(await store.resume('ses_m1', 1, 1000)).toBeUndefined();
    expect((await store.get('ses_m1'))?.state).toBe('waiting_for_approval');
  });

  it('the sweep lists a wait, a decision resumes it, then the sweep’s finish comes: the running session is left alone', async () => {
    const store = await pausedSession('ses_m2', Date.now() + 60_000);
    // The sweep of an instance whose clock is two minutes ahead listed it; the decision came first.
    expect(await store.resume('ses_m2', 1, 1000)).toEqual({ state: '{}', lastSeq: 1 });
    expect(await store.finish('ses_m2', 'failed', expired, 1000, { waitEndsBy: Date.now() + 120_000 })).toBe(false);
    expect((await store.get('ses_m2'))?.state).toBe('running');
    // Paused again on a later call, with a later end: that sweep's time is still not this wait's end.
    expect(await store.pause('ses_m2', { approval: approval(2, Date.now() + 600_000), state: '{}' }, 1000)).toBe(true);
    expect(await store.finish('ses_m2', 'failed', expired, 1000, { waitEndsBy: Date.now() + 120_000 })).toBe(false);
    // Whose stats were read for the pause on call 1 does not end the pause on call 2.
    expect(await store.finish('ses_m2', 'cancelled', expired, 1000, { waitEndsBy: Infinity, callId: 1 })).toBe(false);
    expect(await store.finish('ses_m2', 'failed', expired, 1000, { waitEndsBy: Date.now() + 600_000, callId: 2 })).toBe(true);
    expect(await store.get('ses_m2')).toMatchObject({ state: 'failed', result: { error: { code: 'APPROVAL_EXPIRED' } } });
  });

  it('finish only of a waiting session: not of a running one; without the condition, of either', async () => {
    const store = await pausedSession('ses_m3', Date.now() + 60_000);
    await store.resume('ses_m3', 1, 1000);
    expect(await store.finish('ses_m3', 'cancelled', ok, 1000, { waitEndsBy: Infinity })).toBe(false);
    expect(await store.finish('ses_m3', 'completed', ok, 1000)).toBe(true);
  });

  it('holdWait: at most max places per owner, a place held is kept, a released or ended one is free', async () => {
    const store = new MemorySessionStore();
    stores.push(store);
    const later = Date.now() + 60_000;
    expect(await store.holdWait('alice', 'ses_h1', 2, later)).toBe(true);
    expect(await store.holdWait('alice', 'ses_h2', 2, later)).toBe(true);
    expect(await store.holdWait('alice', 'ses_h3', 2, later)).toBe(false);
    expect(await store.holdWait('alice', 'ses_h1', 2, later + 1)).toBe(true);
    expect(await store.holdWait('bob', 'ses_h4', 2, later)).toBe(true);
    await store.releaseWait('alice', 'ses_h1');
    expect(await store.holdWait('alice', 'ses_h3', 2, later)).toBe(true);
    expect(await store.holdWait('alice', 'ses_h5', 2, later)).toBe(false);
    // A place whose time has passed frees itself.
    expect(await store.holdWait('carol', 'ses_h6', 1, Date.now() - 1)).toBe(true);
    expect(await store.holdWait('carol', 'ses_h7', 1, later)).toBe(true);
  });

  it('DELETE of a waiting session that a decision sets running first: not marked cancelled while it runs, the cancel goes to the run', async () => {
    /** Lets a decision win the race just before the cancel's finish, as another instance's decision would. */
    class DecidedFirst extends MemorySessionStore {
      override async finish(sessionId: string, state: FinalSessionState, result: ExecutionResult, ttlMs: number, only?: { waitEndsBy: number }) {
        if (only !== undefined) await this.resume(sessionId, 1, 60_000);
        return super.finish(sessionId, state, result, ttlMs, only);
      }
    }
    const store = new DecidedFirst();
    stores.push(store);
    let cancels = 0;
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store }, tools: [] });
    try {
      await store.create({ sessionId: 'ses_d1', owner: '', createdAt: 1 });
      await store.pause('ses_d1', { approval: approval(1, Date.now() + 60_000), state: '{}' }, 1000);
      store.onCancel('ses_d1', () => cancels++);
      const pending = handler(new Request('http://localhost/enclave/sessions/ses_d1', { method: 'DELETE' }));
      // The cancel reaches whoever runs it now; that run ends the session (here: this test, for it).
      await expect.poll(() => cancels, { timeout: 10_000 }).toBe(1);
      expect((await store.get('ses_d1'))?.state).toBe('running');
      await store.finish('ses_d1', 'cancelled', { ...expired, error: { ...expired.error, code: 'ABORTED' } }, 1000);
      const res = await pending;
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ state: 'cancelled', result: { error: { code: 'ABORTED' } } });
    } finally {
      handler.dispose();
    }
  });
});

describe('a cancel that races a decision and the pause after it', () => {
  it('DELETE ends the session with the stats of the pause it ends, not those of the pause it first read', async () => {
    let raceOnce: (() => Promise<void>) | undefined;
    /** Before the cancel's finish, a decision (as from another instance) resumes the run, which pauses again on a later call. */
    class DecidedAndPausedAgain extends MemorySessionStore {
      override async finish(sessionId: string, state: FinalSessionState, result: ExecutionResult, ttlMs: number, only?: { waitEndsBy: number }) {
        const race = only === undefined ? undefined : raceOnce;
        raceOnce = undefined;
        await race?.();
        return super.finish(sessionId, state, result, ttlMs, only);
      }
    }
    const store = new DecidedAndPausedAgain();
    const pauses: ExecutionResult[] = [];
    const tools = [defineTool({ name: 'list', handler: () => [1] }), defineTool({ name: 'refund', needsApproval: true, handler: () => 1 })];
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store }, tools, onRunEnd: ({ result }) => void pauses.push(result) });
    const send = (method: string, path: string, body?: unknown) =>
      handler(new Request(`http://localhost/enclave${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }));
    const waitsOn = async (sessionId: string, callId: number) => {
      await expect.poll(async () => (await store.get(sessionId))?.pendingApproval?.callId, { timeout: 10_000 }).toBe(callId);
    };
    try {
      const code = `await callTool('list', {}); await callTool('refund', { n: 1 }); await callTool('list', {}); await callTool('list', {}); return callTool('refund', { n: 2 })`;
      const { sessionId } = (await (await send('POST', '/sessions', { code })).json()) as { sessionId: string };
      await waitsOn(sessionId, 2);
      raceOnce = async () => {
        expect((await send('POST', `/sessions/${sessionId}/approvals/2`, { approved: true })).status).toBe(202);
        await waitsOn(sessionId, 5);
      };
      const res = await send('DELETE', `/sessions/${sessionId}`);
      expect(res.status).toBe(200);
      expect(pauses.map((r) => r.stats.toolCallCount)).toEqual([2, 5]);
      const ended = (await res.json()) as { state: string; result: ExecutionResult };
      expect(ended).toMatchObject({ state: 'cancelled', result: { error: { code: 'ABORTED' } } });
      expect(ended.result.stats).toEqual(pauses[1]?.stats);
    } finally {
      handler.dispose();
      store.dispose();
    }
  });
});

describe('a decision that comes again after the run paused on a later call', () => {
  it('is a conflict (409), as any decision on a call decided already; nothing runs and the session still waits', async () => {
    const store = new MemorySessionStore();
    let refunds = 0;
    const tools = [defineTool({ name: 'refund', needsApproval: true, handler: () => ++refunds })];
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store }, tools });
    const decide = (sessionId: string, callId: number) =>
      handler(new Request(`http://localhost/enclave/sessions/${sessionId}/approvals/${callId}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approved: true }) }));
    const waitsOn = async (sessionId: string, callId: number) => {
      await expect.poll(async () => (await store.get(sessionId))?.pendingApproval?.callId, { timeout: 10_000 }).toBe(callId);
    };
    try {
      const code = `await callTool('refund', { n: 1 }); return callTool('refund', { n: 2 })`;
      const started = await handler(new Request('http://localhost/enclave/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) }));
      const { sessionId } = (await started.json()) as { sessionId: string };
      await waitsOn(sessionId, 1);
      expect((await decide(sessionId, 1)).status).toBe(202);
      await waitsOn(sessionId, 2);
      const again = await decide(sessionId, 1);
      expect([again.status, ((await again.json()) as { error: { code: string } }).error.code]).toEqual([409, 'CONFLICT']);
      expect((await store.get(sessionId))?.state).toBe('waiting_for_approval');
      expect(refunds).toBe(1);
    } finally {
      handler.dispose();
      store.dispose();
    }
  });
});

describe('MemorySessionStore: maxWaiting bounds the sessions waiting for an approval in all, whoever owns them', () => {
  it('holdWait: past maxWaiting no owner takes a new place; one held is kept; a released or past one is free', async () => {
    const store = new MemorySessionStore({ maxWaiting: 2 });
    try {
      const later = Date.now() + 60_000;
      expect(await store.holdWait('alice', 'ses_g1', 20, later)).toBe(true);
      expect(await store.holdWait('bob', 'ses_g2', 20, Date.now() + 50)).toBe(true);
      expect(await store.holdWait('carol', 'ses_g3', 20, later)).toBe(false);
      expect(await store.holdWait('alice', 'ses_g1', 20, later + 1)).toBe(true);
      await store.releaseWait('alice', 'ses_g1');
      expect(await store.holdWait('carol', 'ses_g3', 20, later)).toBe(true);
      expect(await store.holdWait('dave', 'ses_g4', 20, later)).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(await store.holdWait('dave', 'ses_g4', 20, later)).toBe(true);
    } finally {
      store.dispose();
    }
  });

  it('through the HTTP core: a third user’s call that needs approval fails in the script with APPROVAL_REQUIRED, until a wait ends', async () => {
    const store = new MemorySessionStore({ maxWaiting: 2 });
    let refunds = 0;
    const tools = [defineTool({ name: 'refund', needsApproval: true, handler: () => ++refunds })];
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store }, tools, authenticate: ({ request }) => request.headers.get('x-user') });
    const send = async (user: string, method: string, path: string, body?: unknown) =>
      handler(new Request(`http://localhost/enclave${path}`, { method, headers: { 'content-type': 'application/json', 'x-user': user }, body: body === undefined ? undefined : JSON.stringify(body) }));
    const code = `try { return await callTool('refund', {}); } catch (e) { return e.code; }`;
    const settled = async (user: string) => {
      const { sessionId } = (await (await send(user, 'POST', '/sessions', { code })).json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).not.toBe('running');
      return { sessionId, record: await store.get(sessionId) };
    };
    try {
      const alice = await settled('alice');
      expect(alice.record?.state).toBe('waiting_for_approval');
      expect((await settled('bob')).record?.state).toBe('waiting_for_approval');
      expect((await settled('carol')).record).toMatchObject({ state: 'completed', result: { value: 'APPROVAL_REQUIRED' } });
      expect((await send('alice', 'DELETE', `/sessions/${alice.sessionId}`)).status).toBe(200);
      expect((await settled('carol')).record?.state).toBe('waiting_for_approval');
      expect(refunds).toBe(0);
    } finally {
      handler.dispose();
      store.dispose();
    }
  });

  it('is checked at construction', () => {
    expect(() => new MemorySessionStore({ maxWaiting: 0 })).toThrow(/maxWaiting must be a positive integer/);
  });
});

describe('MemorySessionStore: maxWaitingBytes bounds what waiting sessions keep in the heap, not only their number', () => {
  /** Tools whose replies fill a paused run's journal: one user's few waits could hold about 12 MiB each. */
  const heavyTools = (ran: { refunds: number }) => [
    defineTool({ name: 'search', handler: ({ page }: { page: number }) => `${'r'.repeat(200_000)}${page}` }),
    defineTool({ name: 'refund', needsApproval: true, handler: () => ++ran.refunds }),
  ];
  const heavy = `let n = 0; for (let page = 0; page < 3; page++) n += (await callTool('search', { page })).length; try { return await callTool('refund', { n }); } catch (e) { return e.code; }`;

  it('through the HTTP core: past the bytes, another user’s call that needs approval fails in the script, and the store never holds much more', async () => {
    const store = new MemorySessionStore({ maxWaitingBytes: 1024 * 1024 });
    const ran = { refunds: 0 };
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store }, tools: heavyTools(ran), authenticate: ({ request }) => request.headers.get('x-user') });
    const send = async (user: string, method: string, path: string, body?: unknown) =>
      handler(new Request(`http://localhost/enclave${path}`, { method, headers: { 'content-type': 'application/json', 'x-user': user }, body: body === undefined ? undefined : JSON.stringify(body) }));
    const settled = async (user: string) => {
      const { sessionId } = (await (await send(user, 'POST', '/sessions', { code: heavy })).json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).not.toBe('running');
      return { sessionId, record: await store.get(sessionId) };
    };
    try {
      // Each wait keeps its three 200 KB replies (about 600 KB): the second fills 1 MiB, the third finds it full.
      const alice = await settled('alice');
      expect(alice.record?.state).toBe('waiting_for_approval');
      expect(store.waitingBytes).toBeGreaterThan(600_000);
      expect((await settled('bob')).record?.state).toBe('waiting_for_approval');
      expect((await settled('carol')).record).toMatchObject({ state: 'completed', result: { value: 'APPROVAL_REQUIRED' } });
      expect((await settled('dave')).record).toMatchObject({ state: 'completed', result: { value: 'APPROVAL_REQUIRED' } });
      // Within the cap and the one paused run that filled it.
      expect(store.waitingBytes).toBeLessThanOrEqual(1024 * 1024 + 700_000);
      // A decision frees what the wait kept; then the next one pauses.
      expect((await send('alice', 'POST', `/sessions/${alice.sessionId}/approvals/4`, { approved: false })).status).toBe(202);
      await expect.poll(async () => (await store.get(alice.sessionId))?.state, { timeout: 10_000 }).toBe('completed');
      const erin = await settled('erin');
      expect(erin.record?.state).toBe('waiting_for_approval');
      // Ended (cancelled, or forgotten at its expiry), a wait keeps nothing.
      expect((await send('erin', 'DELETE', `/sessions/${erin.sessionId}`)).status).toBe(200);
      expect(store.waitingBytes).toBeLessThan(700_000);
      expect(ran.refunds).toBe(0);
    } finally {
      handler.dispose();
      store.dispose();
    }
  });

  it('a pause the store has no room for (the bytes were free when the run asked) ends the session at once, not as a run nobody runs', async () => {
    // Both runs ask while nothing waits; the second to pause finds the room taken.
    class Counting extends MemorySessionStore {
      places = 0;
      override async holdWait(owner: string, sessionId: string, max: number, until: number) {
        const held = await super.holdWait(owner, sessionId, max, until);
        if (held) this.places++;
        return held;
      }
    }
    const store = new Counting({ maxWaitingBytes: 300_000 });
    const ran = { refunds: 0 };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Held in flight until both runs have asked: a pause waits for it, so neither is written before.
    const tools = [...heavyTools(ran), defineTool({ name: 'slow', handler: async () => gate })];
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store, livenessMs: 60_000 }, tools, authenticate: ({ request }) => request.headers.get('x-user') });
    const start = async (user: string) =>
      ((await (await handler(new Request('http://localhost/enclave/sessions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ code: `const s = callTool('slow', {}); ${heavy}` }) }))).json()) as { sessionId: string }).sessionId;
    try {
      const ids = [await start('alice'), await start('bob')];
      await expect.poll(() => store.places, { timeout: 10_000 }).toBe(2);
      release();
      await expect.poll(async () => (await Promise.all(ids.map(async (id) => (await store.get(id))?.state))).sort(), { timeout: 10_000 }).toEqual(['failed', 'waiting_for_approval']);
      const failed = (await Promise.all(ids.map((id) => store.get(id)))).find((r) => r?.state === 'failed');
      expect(failed?.result).toMatchObject({ success: false, error: { code: 'JOURNAL_LIMIT_EXCEEDED' }, stats: { toolCallCount: 5 } });
      expect(store.waitingBytes).toBeGreaterThan(600_000);
      expect(store.waitingBytes).toBeLessThan(700_000);
      expect(ran.refunds).toBe(0);
    } finally {
      release();
      handler.dispose();
      store.dispose();
    }
  });

  it('is checked at construction', () => {
    expect(() => new MemorySessionStore({ maxWaitingBytes: 0 })).toThrow(/maxWaitingBytes must be a positive integer/);
  });
});

describe('a cancel that comes while a decision is setting the run going again', () => {
  it('MemorySessionStore: a cancel asked before the run listens is heard when it starts listening; a pause or the end forgets it', async () => {
    const store = new MemorySessionStore();
    try {
      await store.create({ sessionId: 'ses_c1', owner: 'alice', createdAt: 1 });
      expect(await store.requestCancel('ses_c1')).toBe(true);
      let heard = 0;
      store.onCancel('ses_c1', () => heard++);
      await expect.poll(() => heard).toBe(1);
      await store.pause('ses_c1', { approval: { callId: 1, tool: 'refund', args: {}, expiresAt: Date.now() + 60_000 }, state: '{}' }, 1000);
      await store.resume('ses_c1', 1, 1000);
      let again = 0;
      store.onCancel('ses_c1', () => again++);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(again).toBe(0);
    } finally {
      store.dispose();
    }
  });
});

describe('a decision that a cancel beats to the store', () => {
  it('is 409 CONFLICT saying the session was cancelled, not that another decision came first; nothing runs', async () => {
    /** A DELETE (as through another instance) ends the waiting session just before the decision's resume. */
    class CancelledFirst extends MemorySessionStore {
      override async resume(sessionId: string, callId: number, livenessMs: number) {
        const aborted: ExecutionResult = { success: false, error: { name: 'AbortError', message: 'cancelled', code: 'ABORTED' }, stats: { duration: 0, toolCallCount: 0, iterationCount: 0 } };
        await this.finish(sessionId, 'cancelled', aborted, 60_000, { waitEndsBy: Infinity });
        return super.resume(sessionId, callId, livenessMs);
      }
    }
    const store = new CancelledFirst();
    let refunds = 0;
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store }, tools: [defineTool({ name: 'refund', needsApproval: true, handler: () => ++refunds })] });
    const post = (path: string, body: unknown) => handler(new Request(`http://localhost/enclave${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    try {
      const { sessionId } = (await (await post('/sessions', { code: `return callTool('refund', {})` })).json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).toBe('waiting_for_approval');
      const res = await post(`/sessions/${sessionId}/approvals/1`, { approved: true });
      expect([res.status, ((await res.json()) as { error: { code: string; message: string } }).error]).toEqual([409, { name: 'RequestError', code: 'CONFLICT', message: 'The session is not waiting for an approval (it is cancelled).' }]);
      expect(refunds).toBe(0);
    } finally {
      handler.dispose();
      store.dispose();
    }
  });
});

describe('a resume that onRunStart refuses', () => {
  it('ends the session as ABORTED with the stats of its run before the pause, and the approved tool never runs', async () => {
    const store = new MemorySessionStore();
    let starts = 0;
    let refunded = 0;
    const ends: ExecutionResult[] = [];
    const tools = [defineTool({ name: 'list', handler: () => [1] }), defineTool({ name: 'refund', needsApproval: true, handler: () => ++refunded })];
    const handler = createEnclaveHandler({
      logger: { info() {}, error() {} },
      sessions: { store },
      tools,
      onRunStart: () => {
        if (++starts > 1) throw new EnclaveHttpError(403, 'No refunds today.');
      },
      onRunEnd: ({ result }) => void ends.push(result),
    });
    const post = (path: string, body: unknown) => handler(new Request(`http://localhost/enclave${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    try {
      const { sessionId } = (await (await post('/sessions', { code: `await callTool('list', {}); return callTool('refund', {})` })).json()) as { sessionId: string };
      await expect.poll(() => ends.length, { timeout: 10_000 }).toBe(1);
      expect(ends[0]?.stats.toolCallCount).toBe(2);
      expect((await post(`/sessions/${sessionId}/approvals/2`, { approved: true })).status).toBe(403);
      expect(await store.get(sessionId)).toMatchObject({ state: 'cancelled', result: { error: { code: 'ABORTED', message: 'No refunds today.' }, stats: ends[0]?.stats } });
      expect(refunded).toBe(0);
    } finally {
      handler.dispose();
    }
  });
});

describe('a decision lets one call run: it never gives the rest of the run tools its start did not have', () => {
  // One user, two kinds of request: an agent's token has `notify` (which needs approval); the person's
  // own session, which decides, can also delete everything.
  type Ran = { notify: number; deleteAll: number };
  type Scope = { tools?: ToolSet; toolHandler?: (name: string) => unknown };
  const notify = (ran: Ran) => defineTool({ name: 'notify', needsApproval: true, handler: () => ++ran.notify });
  const code = `await callTool('notify', { msg: 'weekly report' }); try { return await callTool('deleteAll', {}); } catch (e) { return e.code; }`;

  it.each<[string, (admin: boolean, ran: Ran) => Scope]>([
    ['tools as a list', (admin, ran) => ({ tools: [notify(ran), ...(admin ? [defineTool({ name: 'deleteAll', handler: () => ++ran.deleteAll })] : [])] })],
    ['tools as a record', (admin, ran) => ({ tools: { notify: notify(ran), ...(admin ? { deleteAll: () => ++ran.deleteAll } : {}) } })],
    ['a tool handler the deciding request has', (admin, ran) => ({ tools: [notify(ran)], ...(admin ? { toolHandler: (name: string) => (name === 'deleteAll' ? ++ran.deleteAll : undefined) } : {}) })],
  ])('%s: the approved call runs; a tool only the deciding request has is unknown to the script, and never runs', async (_name, scoped) => {
    const ran: Ran = { notify: 0, deleteAll: 0 };
    const store = new MemorySessionStore();
    const handler = createEnclaveHandler({
      logger: { info() {}, error() {} },
      sessions: { store },
      authenticate: ({ request }) => ({ id: 'alice', admin: request.headers.get('x-scope') === 'admin' }),
      createContext: ({ user }) => scoped((user as { admin: boolean }).admin, ran) as never,
    });
    const send = (scope: string, path: string, body: unknown) =>
      handler(new Request(`http://localhost/enclave${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scope': scope }, body: JSON.stringify(body) }));
    try {
      const { sessionId } = (await (await send('agent', '/sessions', { code })).json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).toBe('waiting_for_approval');
      expect((await send('admin', `/sessions/${sessionId}/approvals/1`, { approved: true })).status).toBe(202);
      await expect.poll(async () => (await store.get(sessionId))?.state, { timeout: 10_000 }).toBe('completed');
      expect(ran).toEqual({ notify: 1, deleteAll: 0 });
      expect((await store.get(sessionId))?.result).toMatchObject({ success: true, value: expect.stringMatching(/^[A-Z_]+$/) });
    } finally {
      handler.dispose();
      store.dispose();
    }
  });
});

describe('a cancel that comes while the run is pausing (it has ended, its pause is being written)', () => {
  it('ends the wait too: DELETE answers cancelled, and no later approval runs the call', async () => {
    let entered!: () => void;
    let letPause!: () => void;
    const pausing = new Promise<void>((resolve) => (entered = resolve));
    const held = new Promise<void>((resolve) => (letPause = resolve));
    // A store across the network takes a moment to write a pause: held here until the cancel has come.
    class SlowPause extends MemorySessionStore {
      override async pause(...args: Parameters<MemorySessionStore['pause']>) {
        entered();
        await held;
        return super.pause(...args);
      }
    }
    const store = new SlowPause();
    let refunds = 0;
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store }, tools: [defineTool({ name: 'refund', needsApproval: true, handler: () => ++refunds })] });
    const send = (method: string, path: string, body?: unknown) =>
      handler(new Request(`http://localhost/enclave${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }));
    try {
      const { sessionId } = (await (await send('POST', '/sessions', { code: `return await callTool('refund', { amount: 5 });` })).json()) as { sessionId: string };
      await pausing;
      const cancelled = send('DELETE', `/sessions/${sessionId}`);
      // The cancel is asked of the running session before the pause lands.
      await expect.poll(async () => store.cancelAsked(sessionId)).toBe(true);
      letPause();
      const answer = await cancelled;
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ state: 'cancelled', result: { success: false, error: { code: 'ABORTED' } } });
      expect((await send('POST', `/sessions/${sessionId}/approvals/1`, { approved: true })).status).toBe(409);
      expect((await store.get(sessionId))?.state).toBe('cancelled');
      expect(refunds).toBe(0);
    } finally {
      letPause();
      handler.dispose();
      store.dispose();
    }
  });
});
