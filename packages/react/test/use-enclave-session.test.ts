// @vitest-environment happy-dom
/**
 * useEnclaveSession rendered by react-dom into happy-dom's document, against a real server in its own
 * process (fixture-server.mjs) over real sockets, through happy-dom's fetch (a cross-origin page, as in a
 * browser: the server answers CORS).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StrictMode, createElement } from 'react';
import type { ReactNode } from 'react';
import { flushSync } from 'react-dom';
import { createRoot } from 'react-dom/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEnclaveClient } from '@enclave-kit/client';
import type { EnclaveClient, EnclaveEvent, FetchLike } from '@enclave-kit/client';
import { EnclaveProvider, useEnclaveSession } from '../src/index.js';
import { startCuttingProxy } from '../../client/test/cutting-proxy.js';
import type { UseEnclaveSessionOptions, UseEnclaveSessionResult } from '../src/index.js';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixture-server.mjs');
let server: ChildProcess;
let url = '';

beforeAll(async () => {
  server = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    server.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port);
    });
    server.once('exit', (code) => reject(new Error(`fixture server exited with ${code}`)));
  });
  url = `http://127.0.0.1:${port}/enclave`;
});
afterAll(() => void server.kill());

/**
 * happy-dom's fetch with one repair. happy-dom 21 makes a response body from a Node stream with no
 * cancel(): after a reader cancels it (as the client does when it stops reading), the next chunk is pushed
 * into the cancelled stream and throws inside happy-dom. Browsers and Node stop the download instead. The
 * body handed to the client here stops reading on cancel() and leaves the source to the connection's
 * abort or end.
 */
const fetchForHappyDom: FetchLike = async (input, init) => {
  const res = await fetch(input, init);
  if (res.body === null) return res;
  const reader = res.body.getReader();
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (cancelled) return;
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel() {
      cancelled = true;
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
};

const clientAs = (user: string | undefined): EnclaveClient =>
  createEnclaveClient({ url, fetch: fetchForHappyDom, ...(user !== undefined && { headers: { 'x-user': user } }), retry: { initialDelayMs: 10 } });

interface Rendered {
  result: { current: UseEnclaveSessionResult; renders: number; snapshots: UseEnclaveSessionResult[] };
  unmount(): void;
}

/** Renders the hook in a component, inside `wrap` (a provider); every render's value is kept, and what a render threw. */
function renderHook(useHook: () => UseEnclaveSessionResult, wrap: (child: ReactNode) => ReactNode = (c) => c, thrown: unknown[] = []): Rendered {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container, { onUncaughtError: (error) => void thrown.push(error) });
  const result = { current: undefined as unknown as UseEnclaveSessionResult, renders: 0, snapshots: [] as UseEnclaveSessionResult[] };
  function Probe(): null {
    result.current = useHook();
    result.renders++;
    result.snapshots.push(result.current);
    return null;
  }
  flushSync(() => root.render(wrap(createElement(Probe))));
  return { result, unmount: () => flushSync(() => root.unmount()) };
}

/** The hook under a provider of a client acting as `user`. */
const renderSession = (user: string | undefined, options: UseEnclaveSessionOptions = {}) => {
  const client = clientAs(user);
  return renderHook(() => useEnclaveSession(options), (child) => createElement(EnclaveProvider, { client }, child));
};

const until = (check: () => void) => vi.waitFor(check, { timeout: 8_000, interval: 10 });

const STEPS = `let sum = 0; for (let i = 1; i <= 5; i++) { console.log('step', i); sum += await callTool('tick', { i, ms: 60 }); } return sum;`;

describe('useEnclaveSession against a real server', () => {
  it('a run that needs approval: waiting_for_approval with pendingApproval; approve() follows on to the result, deny() to the catch', async () => {
    const refunds = async () => ((await (await fetch(new URL('/aborts', url))).json()) as { refunds: number[] }).refunds;
    const before = (await refunds()).length;
    const { result } = renderSession('alice');
    const code = `console.log('asking'); try { return await callTool('refund', { amount: 7 }); } catch (e) { return e.code + ': ' + e.message; }`;
    const paused = await result.current.execute(code);
    expect(paused).toMatchObject({ success: false, error: { code: 'APPROVAL_REQUIRED' } });
    await until(() => expect(result.current.state).toBe('waiting_for_approval'));
    expect(result.current).toMatchObject({ isRunning: false, result: undefined, pendingApproval: { callId: 1, tool: 'refund', args: { amount: 7 } } });
    expect(result.current.events.at(-1)?.type).toBe('approval_required');
    const done = await result.current.approve();
    expect(done).toMatchObject({ success: true, value: 7 });
    await until(() => expect(result.current.state).toBe('completed'));
    expect(result.current.pendingApproval).toBeUndefined();
    const types = result.current.events.map((e) => e.type).filter((t) => t !== 'heartbeat');
    expect(types).toEqual(['session_init', 'log', 'tool_call', 'approval_required', 'tool_call', 'tool_result', 'final']);
    expect(result.current.events.map((e) => e.seq)).toEqual(result.current.events.map((_, i) => i + 1));
    expect(result.current.logs.map((l) => l.message)).toEqual(['asking']);
    expect((await refunds()).length).toBe(before + 1);

    await result.current.execute(code);
    await until(() => expect(result.current.state).toBe('waiting_for_approval'));
    expect(await result.current.deny('Not today.')).toMatchObject({ success: true, value: 'APPROVAL_DENIED: Not today.' });
    expect((await refunds()).length).toBe(before + 1);
  });

  it('execute: state goes running -> completed, logs and events stream in before the result', async () => {
    const seen: EnclaveEvent[] = [];
    const { result } = renderSession('alice', { onEvent: (e) => seen.push(e) });
    expect(result.current).toMatchObject({ state: 'idle', isRunning: false, events: [], logs: [], result: undefined, error: undefined, sessionId: undefined });
    const done = result.current.execute(STEPS);
    await until(() => expect(result.current.state).toBe('running'));
    // A render showed some logs while the run was still going.
    await until(() => expect(result.current.logs.length).toBeGreaterThan(0));
    expect(result.current.isRunning).toBe(true);
    expect(result.current.result).toBeUndefined();
    expect(result.current.sessionId).toMatch(/^ses_/);
    const final = await done;
    await until(() => expect(result.current.state).toBe('completed'));
    const now = result.current;
    expect(final).toMatchObject({ success: true, value: 15 });
    expect(now.result).toEqual(final);
    expect(now.isRunning).toBe(false);
    expect(now.logs.map((l) => l.message)).toEqual([1, 2, 3, 4, 5].map((i) => `step ${i}`));
    expect(now.events.map((e) => e.seq)).toEqual(now.events.map((_, i) => i + 1));
    expect(now.events.at(-1)?.type).toBe('final');
    expect(now.events.every((e) => e.sessionId === now.sessionId)).toBe(true);
    expect(seen).toEqual(now.events);
    // Snapshots are immutable: every earlier events array is a prefix of the last, never changed in place.
    for (const s of result.snapshots) expect(now.events.slice(0, s.events.length)).toEqual(s.events);
  });

  it('publishes events in batches, not one render per event', async () => {
    const { result } = renderSession('alice');
    await result.current.execute('for (let i = 0; i < 400; i++) console.log("line", i); return 1');
    await until(() => expect(result.current.state).toBe('completed'));
    expect(result.current.logs).toHaveLength(400);
    expect(result.renders).toBeLessThan(result.current.events.length / 4);
  });

  it('maxLogs and maxEvents: the snapshot keeps the newest, a marker and the counts stand for the rest', async () => {
    const { result } = renderSession('alice', { maxLogs: 2, maxEvents: 3 });
    expect(result.current).toMatchObject({ droppedEvents: 0, droppedLogs: 0 });
    await result.current.execute(STEPS);
    await until(() => expect(result.current.state).toBe('completed'));
    const { events, logs, droppedEvents, droppedLogs } = result.current;
    expect(logs.map((l) => l.message)).toEqual(['step 4', 'step 5']);
    expect(droppedLogs).toBe(3);
    expect(events).toHaveLength(4);
    expect(events[0]).toMatchObject({ type: 'events_dropped', seq: 1, payload: { fromSeq: 1, count: droppedEvents } });
    expect(events.slice(1).map((e) => e.seq)).toEqual([1, 2, 3].map((i) => droppedEvents + i));
    expect(events.at(-1)?.type).toBe('final');
  });

  it('a run that fails is state failed with its result; a refused request is state error', async () => {
    const failing = renderSession('alice').result;
    const outcome = await failing.current.execute('return await callTool("fail")');
    expect(outcome).toMatchObject({ success: false, error: { code: 'TOOL_ERROR' } });
    await until(() => expect(failing.current.state).toBe('failed'));
    expect(failing.current.error).toBeUndefined();
    expect(failing.current.result).toMatchObject({ error: { code: 'TOOL_ERROR' } });

    const refused = renderSession(undefined).result;
    expect(await refused.current.execute('return 1')).toBeUndefined();
    await until(() => expect(refused.current.state).toBe('error'));
    expect(refused.current.error).toMatchObject({ name: 'EnclaveClientError', code: 'UNAUTHORIZED', status: 401 });
    expect(refused.current.result).toBeUndefined();
    expect(refused.current.isRunning).toBe(false);
  });

  it('cancel(): the run ends as ABORTED on the server and the state is cancelled', async () => {
    const before = ((await (await fetch(new URL('/aborts', url))).json()) as { blockedAborts: number }).blockedAborts;
    const { result } = renderSession('alice');
    const done = result.current.execute('return await callTool("block")');
    await until(() => expect(result.current.events.some((e) => e.type === 'tool_call')).toBe(true));
    await result.current.cancel();
    expect(await done).toMatchObject({ success: false, error: { code: 'ABORTED' } });
    await until(() => expect(result.current.state).toBe('cancelled'));
    expect(result.current.error).toBeUndefined();
    await until(async () => expect(((await (await fetch(new URL('/aborts', url))).json()) as { blockedAborts: number }).blockedAborts).toBe(before + 1));
  });

  it('unmounting stops reading and cancels nothing; with cancelOnUnmount it cancels', async () => {
    for (const cancelOnUnmount of [false, true]) {
      const { result, unmount } = renderSession('alice', { cancelOnUnmount });
      const done = result.current.execute('console.log("started"); await callTool("tick", { i: 1, ms: 400 }); return "finished"');
      await until(() => expect(result.current.logs.length).toBe(1));
      const sessionId = result.current.sessionId as string;
      const renders = result.renders;
      unmount();
      expect(await done).toBeUndefined();
      const final = await clientAs('alice').session(sessionId).result;
      expect(final, `cancelOnUnmount: ${cancelOnUnmount}`).toMatchObject(cancelOnUnmount ? { success: false, error: { code: 'ABORTED' } } : { success: true, value: 'finished' });
      // Nothing rendered after unmounting.
      expect(result.renders).toBe(renders);
    }
  });

  it('reset() goes back to idle and leaves the session running; attach() follows a session by id', async () => {
    const { result } = renderSession('alice');
    void result.current.execute('await callTool("tick", { i: 1, ms: 300 }); return "kept"');
    await until(() => expect(result.current.sessionId).toBeDefined());
    const sessionId = result.current.sessionId as string;
    result.current.reset();
    await until(() => expect(result.current).toMatchObject({ state: 'idle', sessionId: undefined, events: [], logs: [], result: undefined }));
    const attached = await result.current.attach(sessionId);
    expect(attached).toMatchObject({ success: true, value: 'kept' });
    await until(() => expect(result.current.state).toBe('completed'));
    expect(result.current.sessionId).toBe(sessionId);
    expect(result.current.events.map((e) => e.type).filter((t) => t !== 'heartbeat')).toEqual(['session_init', 'tool_call', 'tool_result', 'final']);
  });

  it('a second execute replaces the first: only the second one’s events and result show', async () => {
    const { result } = renderSession('alice');
    const first = result.current.execute('await callTool("tick", { i: 1, ms: 300 }); return "first"');
    const second = result.current.execute('return "second"');
    expect(await first).toBeUndefined();
    expect(await second).toMatchObject({ value: 'second' });
    await until(() => expect(result.current.result).toMatchObject({ value: 'second' }));
    expect(result.current.events.every((e) => e.sessionId === result.current.sessionId)).toBe(true);
  });

  it('EnclaveProvider takes client options; works under StrictMode; without a client the hook throws', async () => {
    const { result } = renderHook(
      () => useEnclaveSession(),
      (child) => createElement(StrictMode, null, createElement(EnclaveProvider, { options: { url, fetch: fetchForHappyDom, headers: () => ({ 'x-user': 'carol' }) } }, child)),
    );
    expect(await result.current.execute('return await callTool("tick", { i: 7 })')).toMatchObject({ success: true, value: 7 });
    await until(() => expect(result.current.state).toBe('completed'));

    const thrown: unknown[] = [];
    renderHook(() => useEnclaveSession(), undefined, thrown);
    expect(String(thrown[0])).toMatch(/no client\. Render inside <EnclaveProvider> or pass \{ client \}/);
  });
});

describe('useEnclaveSession as a peer reads its README: the documented states at their edges', () => {
  it('an unknown option (a misspelt maxEvent): execute() and attach() put the hook in state error with CONFIG_ERROR naming it, nothing is requested, as the client’s methods refuse theirs', async () => {
    const requests: unknown[] = [];
    const client = createEnclaveClient({ url, fetch: (input, init) => (requests.push(input), fetchForHappyDom(input, init)) });
    const { result } = renderHook(() => useEnclaveSession({ client, maxEvent: 10 } as UseEnclaveSessionOptions));
    const refusal = { state: 'error', isRunning: false, result: undefined, sessionId: undefined, error: { code: 'CONFIG_ERROR', message: expect.stringMatching(/^useEnclaveSession\(options\): unknown option "maxEvent"; expected .*maxEvents/) } };
    expect(await result.current.execute('return 1')).toBeUndefined();
    await until(() => expect(result.current).toMatchObject(refusal));
    result.current.reset();
    await until(() => expect(result.current.state).toBe('idle'));
    expect(await result.current.attach('ses_00000000000000000000000000')).toBeUndefined();
    await until(() => expect(result.current).toMatchObject(refusal));
    expect(requests).toEqual([]);
  });

  it('attach() to an unknown, malformed or another user’s session: state error with the client’s code, no result', async () => {
    const { result } = renderSession('alice');
    expect(await result.current.attach('ses_noSuchSession00000000000')).toBeUndefined();
    await until(() => expect(result.current.state).toBe('error'));
    expect(result.current).toMatchObject({ isRunning: false, result: undefined, error: { name: 'EnclaveClientError', code: 'NOT_FOUND', status: 404 } });
    expect(await result.current.attach('not a session id')).toBeUndefined();
    await until(() => expect(result.current.error).toMatchObject({ code: 'BAD_REQUEST' }));
    const bobs = await clientAs('bob').start('return 1');
    expect(await result.current.attach(bobs.sessionId)).toBeUndefined();
    await until(() => expect(result.current.error).toMatchObject({ code: 'NOT_FOUND', status: 404 }));
  });

  it('attach() to a finished session: its events from seq 1 and completed with its result; fromSeq skips what was seen', async () => {
    const client = clientAs('alice');
    const stream = client.stream('console.log("one"); return "done"');
    const final = await stream.result;
    const sessionId = await stream.sessionId;
    const { result } = renderSession('alice');
    expect(await result.current.attach(sessionId)).toEqual(final);
    await until(() => expect(result.current.state).toBe('completed'));
    expect(result.current).toMatchObject({ sessionId, result: final, error: undefined, isRunning: false });
    expect(result.current.logs.map((l) => l.message)).toEqual(['one']);
    expect(result.current.events.map((e) => e.seq)).toEqual(result.current.events.map((_, i) => i + 1));
    expect(await result.current.attach(sessionId, { fromSeq: stream.lastSeq - 1 })).toEqual(final);
    await until(() => expect(result.current.events.map((e) => e.type)).toEqual(['final']));
    // From its last seq: nothing more to show, and the result from the session's state, not an error.
    expect(await result.current.attach(sessionId, { fromSeq: stream.lastSeq })).toEqual(final);
    await until(() => expect(result.current).toMatchObject({ state: 'completed', result: final, error: undefined, events: [] }));
  });

  it('cancel() of an attached session: the run ends as ABORTED on the server and the state is cancelled', async () => {
    const aborts = async () => ((await (await fetch(new URL('/aborts', url))).json()) as { blockedAborts: number }).blockedAborts;
    const before = await aborts();
    const { sessionId } = await clientAs('alice').start('return await callTool("block")');
    const { result } = renderSession('alice');
    const done = result.current.attach(sessionId);
    await until(() => expect(result.current.events.some((e) => e.type === 'tool_call')).toBe(true));
    expect(result.current).toMatchObject({ state: 'running', sessionId });
    await result.current.cancel();
    expect(await done).toMatchObject({ success: false, error: { code: 'ABORTED' } });
    await until(() => expect(result.current.state).toBe('cancelled'));
    expect(result.current.error).toBeUndefined();
    await until(async () => expect(await aborts()).toBe(before + 1));
  });

  it('cancel() after approve(): the resumed run (followed by id) ends as ABORTED, the state is cancelled', async () => {
    const { result } = renderSession('alice');
    void result.current.execute('await callTool("refund", { amount: 1 }); return await callTool("block")');
    await until(() => expect(result.current.state).toBe('waiting_for_approval'));
    const done = result.current.approve();
    await until(() => expect(result.current.events.filter((e) => e.type === 'tool_call').map((e) => (e.payload as { tool: string }).tool)).toContain('block'));
    await result.current.cancel();
    expect(await done).toMatchObject({ success: false, error: { code: 'ABORTED' } });
    await until(() => expect(result.current.state).toBe('cancelled'));
  });

  it('execute() passes input and limits, which only lower the server’s: a lower budget fails the run (state failed)', async () => {
    const { result } = renderSession('alice');
    expect(await result.current.execute('return input.n * 2', { input: { n: 21 } })).toMatchObject({ success: true, value: 42 });
    const limited = await result.current.execute('let s = 0; for (let i = 0; i < 1000; i++) s += i; return s', { limits: { maxIterations: 10 } });
    expect(limited).toMatchObject({ success: false, error: { code: 'MAX_ITERATIONS' } });
    await until(() => expect(result.current.state).toBe('failed'));
  });

  it('cancel() of a session that waits for an approval: cancelled, no pending approval left', async () => {
    const { result } = renderSession('alice');
    await result.current.execute('return await callTool("refund", { amount: 3 })');
    await until(() => expect(result.current.state).toBe('waiting_for_approval'));
    await result.current.cancel();
    await until(() => expect(result.current.state).toBe('cancelled'));
    expect(result.current).toMatchObject({ pendingApproval: undefined, result: { success: false, error: { code: 'ABORTED' } }, error: undefined });
  });

  it('a connection cut mid-stream by a real proxy: isReconnecting while the client resumes, then each event once and completed', async () => {
    // The streamed start is cut inside its first events; the resumed reads pass.
    const proxy = await startCuttingProxy(url, (req) => (req.method === 'POST' && req.url?.endsWith('/sessions') ? { afterBytes: 500 } : undefined));
    try {
      const client = createEnclaveClient({ url: proxy.url, fetch: fetchForHappyDom, headers: { 'x-user': 'alice' }, retry: { initialDelayMs: 50, maxDelayMs: 50 } });
      const { result } = renderHook(() => useEnclaveSession(), (child) => createElement(EnclaveProvider, { client }, child));
      const done = result.current.execute('console.log("a"); console.log("b"); await callTool("tick", { i: 1, ms: 300 }); console.log("c"); return "resumed"');
      expect(await done).toMatchObject({ success: true, value: 'resumed' });
      await until(() => expect(result.current.state).toBe('completed'));
      expect(proxy.stats.cuts).toBe(1);
      expect(result.snapshots.some((s) => s.isReconnecting && s.state === 'running')).toBe(true);
      expect(result.current.isReconnecting).toBe(false);
      expect(result.current.events.map((e) => e.seq)).toEqual(result.current.events.map((_, i) => i + 1));
      expect(result.current.logs.map((l) => l.message)).toEqual(['a', 'b', 'c']);
    } finally {
      await proxy.close();
    }
  });

  it('a server that cannot be reached, and resuming that fails too often: state error with NETWORK_ERROR, RETRIES_EXHAUSTED', async () => {
    const gone = await startCuttingProxy(url, () => undefined);
    const closedUrl = gone.url;
    await gone.close();
    const unreachable = renderHook(
      () => useEnclaveSession(),
      (child) => createElement(EnclaveProvider, { client: createEnclaveClient({ url: closedUrl, fetch: fetchForHappyDom, headers: { 'x-user': 'alice' } }) }, child),
    ).result;
    expect(await unreachable.current.execute('return 1')).toBeUndefined();
    await until(() => expect(unreachable.current).toMatchObject({ state: 'error', isRunning: false, error: { code: 'NETWORK_ERROR' } }));

    // The start is cut in its first event; every reconnection fails before its head.
    const proxy = await startCuttingProxy(url, (req) => (req.method === 'POST' ? { afterBytes: 30 } : req.method === 'GET' ? { beforeHead: true } : undefined));
    try {
      const client = createEnclaveClient({ url: proxy.url, fetch: fetchForHappyDom, headers: { 'x-user': 'alice' }, retry: { maxRetries: 2, initialDelayMs: 5, maxDelayMs: 10 } });
      const { result } = renderHook(() => useEnclaveSession(), (child) => createElement(EnclaveProvider, { client }, child));
      expect(await result.current.execute('await callTool("tick", { i: 1, ms: 200 }); return 1')).toBeUndefined();
      await until(() => expect(result.current).toMatchObject({ state: 'error', isRunning: false, isReconnecting: false, result: undefined, error: { code: 'RETRIES_EXHAUSTED' } }));
      // The id the start answered with is shown, and names the session, which ran on: it can be attached.
      expect(result.current.sessionId).toMatch(/^ses_/);
      expect(await clientAs('alice').session(result.current.sessionId as string).result).toMatchObject({ success: true, value: 1 });
    } finally {
      await proxy.close();
    }
  });
});
