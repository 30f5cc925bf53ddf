/**
 * The client as a peer team's black-box suite would drive it from its README alone: every public method
 * against a real server of each adapter (port 0, real fetch), a stream resumed through a proxy that
 * really cuts the connection, limits that only lower the server's, and refusals as typed errors.
 * Each adapter's test file runs it with its harness (the one its HTTP contract uses).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnclaveHttpError, defineTool } from '@enclave-kit/engine';
import type { EnclaveRequestContext, ToolContext } from '@enclave-kit/engine';
import { createEnclaveClient } from '../src/index.js';
import type { EnclaveEvent, EnclaveEventStream, PendingApproval } from '../src/index.js';
import type { AdapterHarness, Served } from '../../engine/test/http/contract.js';
import { rejection, startCuttingProxy } from './server.js';

const silent = { info() {}, error() {} };

async function collect(stream: EnclaveEventStream<unknown>): Promise<EnclaveEvent[]> {
  const events: EnclaveEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

const steady = (events: EnclaveEvent[]) => events.filter((e) => e.type !== 'heartbeat');

export function clientConformance(name: string, harness: AdapterHarness): void {
  describe(`${name}: @enclave-kit/client, as a peer's suite drives it`, () => {
    let served: Served;
    /** Host-side canaries: what the tools saw. */
    const seen = { refunds: [] as number[], aborted: new Set<string>(), waiting: new Set<string>() };
    const clientFor = (user: string, extra: Record<string, unknown> = {}) =>
      createEnclaveClient({ url: `${served.url}/enclave`, headers: { 'x-user': user }, retry: { initialDelayMs: 5, maxDelayMs: 20 }, ...extra });

    beforeAll(async () => {
      served = await harness.start({
        logger: silent,
        heartbeatMs: 60_000,
        enclave: { timeout: 20_000, maxToolCalls: 50 },
        authenticate: ({ native }: EnclaveRequestContext) => {
          const user = harness.userOf(native);
          if (user === 'mallory') throw new EnclaveHttpError(403, 'mallory may not run scripts');
          return user;
        },
        tools: ({ native }: EnclaveRequestContext) => {
          const user = harness.userOf(native) as string;
          return {
            whoami: async () => user,
            refund: defineTool({ name: 'refund', needsApproval: true, handler: ({ amount }: { amount: number }) => (seen.refunds.push(amount), amount) }),
            // Waits until its run is aborted (a cancel), and records that on the host.
            gate: ({ key }: { key: string }, ctx: ToolContext) =>
              new Promise<string>((resolve) => {
                seen.waiting.add(key);
                ctx.signal.addEventListener('abort', () => {
                  seen.aborted.add(key);
                  seen.waiting.delete(key);
                  resolve('aborted');
                });
              }),
          };
        },
      });
    });
    afterAll(() => served.close());

    it('run(): the ExecutionResult of the JSON route, a failed script a result whatever its status, input passed, limits only lowered', async () => {
      const client = clientFor('c-run');
      expect(await client.run('return [await callTool("whoami"), input]', { input: { n: 1 } })).toMatchObject({ success: true, value: ['c-run', { n: 1 }], stats: { toolCallCount: 1 } });
      expect(await client.run('throw new Error("no")')).toMatchObject({ success: false, error: { code: 'RUNTIME_ERROR', message: expect.stringContaining('no') } });
      expect(await client.run('let n = 0; for (let i = 0; i < 1000; i++) n += i; return n', { limits: { maxIterations: 100 } })).toMatchObject({ success: false, error: { code: 'MAX_ITERATIONS' } });
      expect(await client.run('return await callTool("nope")')).toMatchObject({ success: false, error: { code: 'TOOL_ERROR' } });
      // A higher limit than the server's is no limit above it: the server's 50 tool calls stand.
      const many = await client.run('let n = 0; for (let i = 0; i < 60; i++) { await callTool("whoami"); n++ } return n', { limits: { maxToolCalls: 1000 } });
      expect(many).toMatchObject({ success: false, error: { code: 'MAX_TOOL_CALLS' } });
    });

    it('stream(): every event once, in order from seq 1, then result; SSE and NDJSON alike', async () => {
      for (const format of ['sse', 'ndjson'] as const) {
        const stream = clientFor('c-stream', { format }).stream('console.log("a"); const w = await callTool("whoami"); console.log(w); return w');
        const events = await collect(stream);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        expect(steady(events).map((e) => e.type)).toEqual(['session_init', 'log', 'tool_call', 'tool_result', 'log', 'final']);
        const result = await stream.result;
        expect(result).toMatchObject({ success: true, value: 'c-stream' });
        expect(events.at(-1)?.payload).toEqual(result);
        expect(await stream.sessionId).toBe(events[0]?.sessionId);
        expect(stream.lastSeq).toBe(events.length);
      }
    });

    it('start(), session(id, { fromSeq }), getSession(), cancel(): the session routes, resolved under the mount path', async () => {
      const client = clientFor('c-session');
      const started = await client.start('return await callTool("gate", { key: "c-session" })');
      expect(started).toMatchObject({ sessionId: expect.any(String), eventsUrl: expect.any(String), cancelUrl: expect.any(String) });
      await expect.poll(() => seen.waiting.has('c-session'), { timeout: 10_000 }).toBe(true);
      expect(await client.getSession(started.sessionId)).toEqual({ sessionId: started.sessionId, state: 'running' });
      const cancelled = await client.cancel(started.sessionId);
      expect(cancelled).toMatchObject({ sessionId: started.sessionId, state: 'cancelled', result: { success: false, error: { code: 'ABORTED' } } });
      expect(seen.aborted.has('c-session')).toBe(true);
      const all = client.session(started.sessionId);
      const events = await collect(all);
      expect(events.at(-1)).toMatchObject({ type: 'final', payload: cancelled.result });
      const tail = client.session(started.sessionId, { fromSeq: events.length - 1 });
      expect((await collect(tail)).map((e) => e.seq)).toEqual([events.length]);
      expect(await tail.result).toEqual(cancelled.result);
      // A finished session: cancel changes nothing, and says how it ended.
      expect(await client.cancel(started.sessionId)).toEqual(cancelled);
    });

    it('stream.close() stops reading and leaves the session running; a stream of session(id) knows its id, and its cancel() ends the run, read on to final', async () => {
      const client = clientFor('c-close');
      const closed = client.stream('return await callTool("gate", { key: "c-close" })');
      const id = await closed.sessionId;
      await expect.poll(() => seen.waiting.has('c-close'), { timeout: 10_000 }).toBe(true);
      closed.close();
      expect((await rejection(closed.result)).code).toBe('ABORTED');
      expect(seen.aborted.has('c-close')).toBe(false);
      expect(await client.getSession(id)).toEqual({ sessionId: id, state: 'running' });

      const followed = client.session(id);
      expect(await followed.sessionId).toBe(id);
      const types: string[] = [];
      for await (const event of followed) {
        types.push(event.type);
        if (event.type === 'tool_call') expect(await followed.cancel()).toMatchObject({ sessionId: id, state: 'cancelled' });
      }
      expect(types.filter((t) => t !== 'heartbeat')).toEqual(['session_init', 'tool_call', 'final']);
      expect(await followed.result).toMatchObject({ success: false, error: { code: 'ABORTED' } });
      expect(seen.aborted.has('c-close')).toBe(true);
    });

    it('cancelOnAbort on a stream of session(id): close() cancels the run on the server', async () => {
      const client = clientFor('c-attach');
      const { sessionId } = await client.start('return await callTool("gate", { key: "c-attach" })');
      await expect.poll(() => seen.waiting.has('c-attach'), { timeout: 10_000 }).toBe(true);
      const attached = client.session(sessionId, { cancelOnAbort: true });
      for await (const event of attached) if (event.type === 'tool_call') break;
      await expect.poll(() => seen.aborted.has('c-attach'), { timeout: 10_000 }).toBe(true);
      expect(await client.getSession(sessionId)).toMatchObject({ state: 'cancelled' });
    });

    it('session(id, { fromSeq }) at or past the end of a finished or paused session: no events, its result, no retries', async () => {
      const client = clientFor('c-end');
      const done = client.stream('console.log("x"); return 3');
      const final = await done.result;
      const id = await done.sessionId;
      for (const fromSeq of [done.lastSeq, done.lastSeq + 5]) {
        const retries: unknown[] = [];
        const tail = client.session(id, { fromSeq, onRetry: (info) => retries.push(info) });
        expect(await collect(tail), `fromSeq ${fromSeq}`).toEqual([]);
        expect(await tail.result).toEqual(final);
        expect(retries).toEqual([]);
      }
      const paused = client.stream('return await callTool("refund", { amount: 1 })');
      const pause = await paused.result;
      expect(pause).toMatchObject({ success: false, error: { code: 'APPROVAL_REQUIRED' } });
      const retries: unknown[] = [];
      const after = client.session(await paused.sessionId, { fromSeq: paused.lastSeq, onRetry: (info) => retries.push(info) });
      expect(await after.result).toMatchObject({ success: false, error: { code: 'APPROVAL_REQUIRED', data: { tool: 'refund', args: { amount: 1 } } } });
      expect(retries).toEqual([]);
      await client.cancel(await paused.sessionId);
    });

    it('catalog(): the caller’s tools', async () => {
      const catalog = await clientFor('c-catalog').catalog();
      expect(catalog.tools.map((t) => t.name).sort()).toEqual(['gate', 'refund', 'whoami']);
    });

    it('approve() and deny(): a paused run resumes with the decision', async () => {
      const client = clientFor('c-approve');
      const code = 'try { return await callTool("refund", { amount: 7 }); } catch (e) { return e.code; }';
      const stream = client.stream(code);
      const paused = await stream.result;
      expect(paused).toMatchObject({ success: false, error: { code: 'APPROVAL_REQUIRED' } });
      const id = await stream.sessionId;
      const status = await client.getSession(id);
      expect(status).toMatchObject({ state: 'waiting_for_approval', pendingApproval: { tool: 'refund', args: { amount: 7 } } });
      expect(await client.approve(id, status.pendingApproval as PendingApproval)).toMatchObject({ sessionId: id, state: 'running', approved: true });
      expect(await client.session(id, { fromSeq: stream.lastSeq }).result).toMatchObject({ success: true, value: 7 });
      expect(seen.refunds).toEqual([7]);

      const denied = client.stream(code);
      const pausedAgain = await denied.result;
      const deniedId = await denied.sessionId;
      const callId = (pausedAgain.success ? 0 : pausedAgain.error.data?.callId) as number;
      expect(await client.deny(deniedId, callId, 'too much')).toMatchObject({ sessionId: deniedId, approved: false });
      expect(await client.session(deniedId, { fromSeq: denied.lastSeq }).result).toMatchObject({ success: true, value: 'APPROVAL_DENIED' });
      expect(seen.refunds).toEqual([7]);
    });

    it('refusals are EnclaveClientErrors with status and code: 401, 403, 404 (another owner’s session, an unknown one)', async () => {
      const anonymous = createEnclaveClient({ url: `${served.url}/enclave` });
      expect(await rejection(anonymous.run('return 1'))).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
      const forbidden = await rejection(clientFor('mallory').run('return 1'));
      expect(forbidden).toMatchObject({ name: 'EnclaveClientError', status: 403, code: 'FORBIDDEN', message: expect.stringContaining('mallory may not run scripts') });
      expect(forbidden).toBeInstanceOf(Error);
      const started = await clientFor('c-owner').start('return 1');
      const intruder = clientFor('c-intruder');
      for (const call of [intruder.getSession(started.sessionId), intruder.cancel(started.sessionId), intruder.session(started.sessionId).result]) {
        expect(await rejection(call)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
      }
      expect(await rejection(intruder.getSession('ses_noSuchSession000000000'))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
      expect(await rejection(intruder.getSession('not a session'))).toMatchObject({ code: 'BAD_REQUEST' });
    });

    it('a stream cut mid-event through a real proxy resumes with Last-Event-ID: no duplicates, no gaps', async () => {
      let gets = 0;
      // The POST's stream is cut after its first bytes, then the first two GETs mid-body too.
      const proxy = await startCuttingProxy(`${served.url}/enclave`, (req) => (req.method === 'POST' ? { afterBytes: 120 } : ++gets <= 2 ? { afterBytes: 90 + gets * 150 } : undefined));
      try {
        const client = createEnclaveClient({ url: proxy.url, headers: { 'x-user': 'c-cut' }, retry: { initialDelayMs: 5, maxDelayMs: 20 } });
        const code = 'let s = 0; for (let i = 0; i < 8; i++) { console.log("step " + i + " " + "x".repeat(40)); s += i; } await callTool("whoami"); return s';
        const stream = client.stream(code);
        const events = await collect(stream);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        expect(steady(events).map((e) => e.type)).toEqual(['session_init', ...Array(8).fill('log'), 'tool_call', 'tool_result', 'final']);
        expect(await stream.result).toMatchObject({ success: true, value: 28 });
        expect(proxy.stats.cuts).toBeGreaterThanOrEqual(2);
      } finally {
        await proxy.close();
      }
    });
  });
}
