/**
 * DESIGN.md section 5.1 (streaming and sessions) as a peer team's black-box suite reads it, run against
 * every adapter over a real socket with fetch: the raw bytes of SSE and NDJSON as naive and strict readers
 * take them, Accept negotiation, the session routes as their 201 hands them out, resume points at the
 * edges, states, cancel, owners, heartbeats, disconnects and many sessions at once. The run's tools are
 * host-side canaries: `gate` waits until the test opens it (and records an abort), so nothing here waits
 * on a clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnclaveRequestContext, ExecutionResult, ToolContext } from '../../src/index.js';
import type { AdapterHarness, Served } from './contract.js';
import { readEvents } from './event-stream.js';

const silent = { info() {}, error() {} };

interface Gates {
  open(key: string): void;
  waiting: Set<string>;
  aborted: Set<string>;
  ends: { user: string; status: number; code: string | undefined }[];
}

export function streamingOptions(harness: AdapterHarness, gates: Gates): Record<string, unknown> {
  const opens = new Map<string, () => void>();
  const early = new Set<string>();
  gates.open = (key) => {
    const open = opens.get(key);
    if (open) open();
    else early.add(key);
  };
  return {
    logger: silent,
    heartbeatMs: 100,
    enclave: { timeout: 20_000 },
    authenticate: ({ native }: EnclaveRequestContext) => harness.userOf(native),
    onRunEnd: ({ ctx, status, result }: { ctx: EnclaveRequestContext<unknown, string>; status: number; result: ExecutionResult }) =>
      gates.ends.push({ user: ctx.user, status, code: result.error?.code }),
    tools: ({ native }: EnclaveRequestContext) => {
      const user = harness.userOf(native) as string;
      return {
        whoami: async () => user,
        fail: async () => {
          throw new Error('db down at /srv/secret.sock');
        },
        gate: ({ key }: { key: string }, ctx: ToolContext) =>
          new Promise<string>((resolve) => {
            if (early.delete(key)) return resolve('opened');
            let settled = false;
            gates.waiting.add(key);
            opens.set(key, () => {
              settled = true;
              gates.waiting.delete(key);
              opens.delete(key);
              resolve('opened');
            });
            ctx.signal.addEventListener('abort', () => {
              // A run's signal is also aborted when it ends: only an abort while the gate is shut counts.
              if (settled) return;
              settled = true;
              gates.aborted.add(key);
              gates.waiting.delete(key);
              opens.delete(key);
              resolve('aborted');
            });
          }),
      };
    },
  };
}

/** The whole body as text, for runs that end by themselves. */
async function textOf(res: Response): Promise<string> {
  return new TextDecoder().decode(await res.arrayBuffer());
}

/** A strict reader of SSE as a peer might write it: blocks split on blank lines, fields by line, `\r\n` too. */
function parseSseStrict(text: string): { id?: string; event?: string; data: any; fields: string[] }[] {
  const events: { id?: string; event?: string; data: any; fields: string[] }[] = [];
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n')) {
    if (block.trim() === '') continue;
    const fields: string[] = [];
    const out: { id?: string; event?: string; data: string[] } = { data: [] };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      fields.push(name);
      if (name === 'id') out.id = value;
      else if (name === 'event') out.event = value;
      else if (name === 'data') out.data.push(value);
    }
    if (out.data.length === 0) continue;
    events.push({ id: out.id, event: out.event, data: JSON.parse(out.data.join('\n')), fields });
  }
  return events;
}

/** An event stream's events (their JSON) until `final`, or one `until` accepts, or the end of the body. */
async function readUntil(res: Response, until: (event: any) => boolean): Promise<any[]> {
  return (await readEvents(res, { until })).map((e) => e.data);
}

const byType = (events: any[], type: string) => events.filter((e) => e.type === type);
/** Events without heartbeats, whose number depends on how long a run took. */
const steady = (events: any[]) => events.filter((e) => e.type !== 'heartbeat');

function expectGapless(events: any[], from = 1): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => from + i));
}

export function streamingConformance(name: string, harness: AdapterHarness): void {
  describe(`${name}: DESIGN.md section 5.1, as a peer's suite reads it`, () => {
    let served: Served;
    const gates: Gates = { open() {}, waiting: new Set(), aborted: new Set(), ends: [] };
    const url = (path: string) => `${served.url}${path}`;
    /** A URL the server handed out, resolved as a browser resolves it: against the URL of the request that got it. */
    const handed = (given: string) => new URL(given, url('/enclave/sessions')).toString();
    const as = (user: string, extra: Record<string, string> = {}) => ({ 'x-user': user, ...extra });
    const post = (path: string, user: string, body: unknown, extra: Record<string, string> = {}) =>
      fetch(url(path), { method: 'POST', headers: as(user, { 'content-type': 'application/json', ...extra }), body: JSON.stringify(body) });
    const gated = (key: string, after = '') => `console.log('before'); const r = await callTool('gate', { key: ${JSON.stringify(key)} }); ${after} return r;`;
    const start = async (user: string, code: string) => {
      const res = await post('/enclave/sessions', user, { code });
      expect(res.status, await res.clone().text()).toBe(201);
      return (await res.json()) as { sessionId: string; eventsUrl: string; cancelUrl: string };
    };
    /** A gated session, once its run waits at the gate. */
    const held = async (user: string, key: string) => {
      const started = await start(user, gated(key));
      await expect.poll(() => gates.waiting.has(key), { timeout: 10_000 }).toBe(true);
      return started;
    };

    beforeAll(async () => {
      served = await harness.start(streamingOptions(harness, gates));
    });
    afterAll(() => served.close());

    describe('SSE framing', () => {
      it('every event is `id: <seq>`, `event: <type>`, `data: <event JSON>` and a blank line; a split on blank lines, with \\n or \\r\\n, reads them all', async () => {
        const code = `console.log('two\\nlines\\r\\nand\\rmore'); console.log('\\u2028\\u2029\\u0085'); await callTool('whoami'); return { text: 'a\\n\\nb', data: 'data: x' };`;
        const res = await post('/enclave', 'sse-frame', { code }, { accept: 'text/event-stream' });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const text = await textOf(res);
        // Lines are the fields of the format, nothing else: no raw line break of a value leaks into one.
        for (const line of text.split('\n')) expect(line, line).toMatch(/^(|id: \d+|event: [a-z_]+|data: \{.*\}|retry: \d+|:.*)$/);
        expect(text).not.toMatch(/[\r\u2028\u2029\u0085]/);
        expect(text.endsWith('\n\n')).toBe(true);
        const events = parseSseStrict(text);
        expect(parseSseStrict(text.replace(/\n/g, '\r\n'))).toEqual(events);
        expect(steady(events.map((e) => e.data)).map((e) => e.type)).toEqual(['session_init', 'log', 'log', 'tool_call', 'tool_result', 'final']);
        for (const e of events) {
          expect(e.id).toBe(String(e.data.seq));
          expect(e.event).toBe(e.data.type);
        }
        expectGapless(events.map((e) => e.data));
        const logs = byType(
          events.map((e) => e.data),
          'log',
        ).map((e) => e.payload.message);
        expect(logs).toEqual(['two\nlines\r\nand\rmore', '\u2028\u2029\u0085']);
        expect(events.at(-1)?.data.payload).toMatchObject({ success: true, value: { text: 'a\n\nb', data: 'data: x' } });
        // A session's events, replayed from its store, are written the same way.
        const started = await post('/enclave/sessions', 'sse-frame', { code });
        const { eventsUrl } = (await started.json()) as { eventsUrl: string };
        const replayed = await textOf(await fetch(handed(eventsUrl), { headers: as('sse-frame', { accept: 'text/event-stream' }) }));
        for (const line of replayed.split('\n')) expect(line, line).toMatch(/^(|id: \d+|event: [a-z_]+|data: \{.*\}|retry: \d+|:.*)$/);
        expect(replayed).not.toMatch(/[\r\u2028\u2029\u0085]/);
        expect(byType(parseSseStrict(replayed).map((e) => e.data), 'log').map((e) => e.payload.message)).toEqual(logs);
      });

      it('each event is { sessionId, seq, type, time, payload } and nothing else, one sessionId, times in ms since the epoch', async () => {
        const before = Date.now();
        const text = await textOf(await post('/enclave', 'sse-shape', { code: 'console.log(1); return await callTool("whoami")' }, { accept: 'text/event-stream' }));
        const after = Date.now();
        const events = parseSseStrict(text).map((e) => e.data);
        const ids = new Set(events.map((e) => e.sessionId));
        expect(ids.size).toBe(1);
        for (const e of events) {
          expect(Object.keys(e).sort()).toEqual(['payload', 'seq', 'sessionId', 'time', 'type']);
          expect(e.time).toBeGreaterThanOrEqual(before - 1000);
          expect(e.time).toBeLessThanOrEqual(after + 1000);
        }
        const [call] = byType(events, 'tool_call');
        const [result] = byType(events, 'tool_result');
        expect(call.payload).toMatchObject({ callId: expect.anything(), tool: 'whoami' });
        expect(result.payload).toMatchObject({ callId: call.payload.callId, tool: 'whoami', ok: true, durationMs: expect.any(Number) });
        expect(byType(events, 'log')[0].payload).toMatchObject({ level: 'log', message: '1' });
        expect(events.at(-1)).toMatchObject({ type: 'final', payload: { success: true, value: 'sse-shape', stats: { toolCallCount: 1 } } });
      });

      it('a failed tool is a tool_result with ok: false and the error the script saw; nothing of the host', async () => {
        const text = await textOf(await post('/enclave', 'sse-fail', { code: 'return await callTool("fail")' }, { accept: 'text/event-stream' }));
        const events = parseSseStrict(text).map((e) => e.data);
        expect(byType(events, 'tool_result')[0].payload).toMatchObject({ tool: 'fail', ok: false, error: { code: expect.any(String), message: expect.any(String) } });
        expect(events.at(-1)?.payload).toMatchObject({ success: false, error: { code: 'TOOL_ERROR' } });
        expect(text).not.toMatch(/secret\.sock/);
      });
    });

    describe('a streamed POST {path}', () => {
      it('a quiet run sends heartbeats in both formats, in sequence; its outcome is in final, the status 200 from the first byte', async () => {
        for (const accept of ['text/event-stream', 'application/x-ndjson']) {
          const key = `beat-${accept}`;
          const res = await post('/enclave', 'plain-beat', { code: `${gated(key)}` }, { accept });
          expect(res.status).toBe(200);
          // A heartbeat once the run waits in its tool: one before it (a loaded host is slow to get the run
          // there) would end the run before the tool that records the abort was called.
          const head = await readUntil(res, (e) => e.type === 'heartbeat' && gates.waiting.has(key));
          expect(head.at(-1)).toMatchObject({ type: 'heartbeat', payload: { elapsedMs: expect.any(Number) } });
          expectGapless(head);
        }
        // Their reader went away at the heartbeat: both runs were aborted, not left waiting.
        await expect.poll(() => [...gates.aborted].filter((k) => k.startsWith('beat-')).sort(), { timeout: 10_000 }).toEqual(['beat-application/x-ndjson', 'beat-text/event-stream']);
        const timedOut = parseSseStrict(await textOf(await post('/enclave', 'plain-beat', { code: gated('plain-timeout'), limits: { timeout: 150 } }, { accept: 'text/event-stream' }))).map((e) => e.data);
        expect(timedOut.at(-1)).toMatchObject({ type: 'final', payload: { success: false, error: { code: 'TIMEOUT' } } });
        expectGapless(timedOut);
      });
    });

    describe('NDJSON framing', () => {
      it('one event JSON per line and nothing else: no blank line, no preamble, the last line ends with \\n', async () => {
        const code = `console.log('a\\nb\\u2028c'); return 'x\\ny';`;
        const res = await post('/enclave', 'ndjson-frame', { code }, { accept: 'application/x-ndjson' });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
        const text = await textOf(res);
        expect(text.endsWith('\n')).toBe(true);
        expect(text).not.toMatch(/[\r\u2028\u2029\u0085]/);
        const lines = text.slice(0, -1).split('\n');
        const events = lines.map((line) => JSON.parse(line));
        expectGapless(events);
        expect(steady(events).map((e) => e.type)).toEqual(['session_init', 'log', 'final']);
        expect(events.at(-1)?.payload).toMatchObject({ success: true, value: 'x\ny' });
      });
    });

    describe('Accept negotiation', () => {
      const cases: [string | undefined, 'json' | 'sse' | 'ndjson'][] = [
        [undefined, 'json'],
        ['application/json', 'json'],
        ['*/*', 'json'],
        ['text/*', 'json'],
        ['text/event-stream', 'sse'],
        ['TEXT/Event-Stream', 'sse'],
        ['text/event-stream; charset=utf-8', 'sse'],
        ['application/x-ndjson', 'ndjson'],
        ['text/event-stream, application/x-ndjson', 'sse'],
        ['application/x-ndjson, text/event-stream', 'sse'],
        ['application/x-ndjson, text/event-stream;q=0.9', 'ndjson'],
        ['application/json, text/event-stream', 'sse'],
        ['text/event-stream;q=0.1, application/json', 'json'],
        ['text/event-stream;q=0', 'json'],
        ['application/json;q=0.5, text/event-stream', 'sse'],
        ['application/x-ndjson;q=0.8, */*;q=0.1', 'ndjson'],
        ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'json'],
      ];
      it.each(cases)('Accept %s on POST {path} answers %s', async (accept, expected) => {
        const res = await post('/enclave', 'accept', { code: 'return 1' }, accept === undefined ? {} : { accept });
        expect(res.status).toBe(200);
        const type = res.headers.get('content-type') ?? '';
        const got = type.startsWith('text/event-stream') ? 'sse' : type.startsWith('application/x-ndjson') ? 'ndjson' : type.startsWith('application/json') ? 'json' : type;
        expect(got).toBe(expected);
        const text = await textOf(res);
        if (got === 'json') expect(JSON.parse(text)).toMatchObject({ success: true, value: 1 });
        else expect(text).toContain('"type":"final"');
        // The README: streams are cached nowhere and transformed by nobody, and nginx passes each event at once.
        if (got !== 'json') expect([res.headers.get('cache-control'), res.headers.get('x-accel-buffering')]).toEqual(['no-cache, no-store, no-transform', 'no']);
      });
    });

    describe('sessions', () => {
      it('POST {path}/sessions with a JSON Accept: 201 { sessionId, eventsUrl, cancelUrl }, URLs that work as given, resolved against the request URL', async () => {
        for (const accept of [undefined, 'application/json', '*/*']) {
          const res = await post('/enclave/sessions', 'ses-201', { code: 'return input' }, accept === undefined ? {} : { accept });
          expect(res.status).toBe(201);
          expect(res.headers.get('content-type')).toMatch(/^application\/json/);
          const body = (await res.json()) as { sessionId: string; eventsUrl: string; cancelUrl: string };
          expect(body).toMatchObject({ sessionId: expect.any(String), eventsUrl: expect.any(String), cancelUrl: expect.any(String) });
          expect(res.headers.get('x-session-id')).toBe(body.sessionId);
          const events = await readUntil(await fetch(handed(body.eventsUrl), { headers: as('ses-201') }), (e) => e.type === 'final');
          expect(events.at(-1)).toMatchObject({ sessionId: body.sessionId, type: 'final', payload: { success: true } });
          const cancelled = await fetch(handed(body.cancelUrl), { method: 'DELETE', headers: as('ses-201') });
          expect(cancelled.status).toBe(200);
          expect(await cancelled.json()).toMatchObject({ sessionId: body.sessionId, state: 'completed' });
        }
      });

      it('trailing slashes: POST {path}/sessions/ starts one whose URLs work, and its state and events answer with a slash too', async () => {
        const res = await post('/enclave/sessions/', 'ses-slash', { code: 'return 7' });
        expect(res.status).toBe(201);
        const body = (await res.json()) as { sessionId: string; eventsUrl: string; cancelUrl: string };
        const resolved = (given: string) => new URL(given, url('/enclave/sessions/')).toString();
        expect(resolved(body.eventsUrl)).toBe(handed(body.eventsUrl));
        const events = await readUntil(await fetch(resolved(body.eventsUrl), { headers: as('ses-slash') }), (e) => e.type === 'final');
        expect(events.at(-1)?.payload).toMatchObject({ success: true, value: 7 });
        const state = await fetch(url(`/enclave/sessions/${body.sessionId}/`), { headers: as('ses-slash') });
        expect([state.status, await state.json()]).toEqual([200, expect.objectContaining({ sessionId: body.sessionId, state: 'completed' })]);
        const again = await readUntil(await fetch(url(`/enclave/sessions/${body.sessionId}/events/`), { headers: as('ses-slash') }), (e) => e.type === 'final');
        expect(again).toEqual(events);
      });

      it('POST {path}/sessions with a stream Accept: the stream at once with X-Session-Id, its events that session’s', async () => {
        for (const accept of ['text/event-stream', 'application/x-ndjson']) {
          const res = await post('/enclave/sessions', 'ses-stream', { code: 'console.log("hi"); return 2' }, { accept });
          expect(res.status).toBe(200);
          const id = res.headers.get('x-session-id');
          expect(id).toEqual(expect.any(String));
          const events = await readUntil(res, (e) => e.type === 'final');
          expectGapless(events);
          expect(new Set(events.map((e) => e.sessionId))).toEqual(new Set([id]));
          expect(events.at(-1)?.payload).toMatchObject({ success: true, value: 2 });
          const state = await (await fetch(url(`/enclave/sessions/${id}`), { headers: as('ses-stream') })).json();
          expect(state).toEqual({ sessionId: id, state: 'completed', result: events.at(-1)?.payload });
          // Read whole, the events route ends its body after final, in the format asked for.
          const whole = await textOf(await fetch(url(`/enclave/sessions/${id}/events`), { headers: as('ses-stream', { accept }) }));
          const again = accept === 'text/event-stream' ? parseSseStrict(whole).map((e) => e.data) : whole.trim().split('\n').map((line) => JSON.parse(line));
          expect(again).toEqual(events);
        }
      });

      it('GET .../events replays after Last-Event-ID or ?fromSeq=N at every edge, then follows until final and ends', async () => {
        const { sessionId, eventsUrl } = await held('ses-replay', 'replay');
        const first = await readUntil(await fetch(handed(eventsUrl), { headers: as('ses-replay') }), (e) => e.type === 'log');
        const cut = first.at(-1).seq;
        gates.open('replay');
        const rest = await readUntil(await fetch(handed(eventsUrl), { headers: as('ses-replay', { 'last-event-id': String(cut) }) }), (e) => e.type === 'final');
        const all = [...first, ...rest];
        expectGapless(all);
        expect(all.at(-1)?.type).toBe('final');
        const last = all.at(-1).seq;
        const fromSeq = async (n: string, headers: Record<string, string> = {}) => fetch(handed(`${eventsUrl}?fromSeq=${n}`), { headers: as('ses-replay', headers) });
        expect((await readUntil(await fromSeq('0'), () => false)).map((e) => e.seq)).toEqual(all.map((e) => e.seq));
        expect((await readUntil(await fromSeq(String(cut)), () => false)).map((e) => e.seq)).toEqual(rest.map((e) => e.seq));
        expect((await readUntil(await fromSeq(String(last - 1)), () => false)).map((e) => e.seq)).toEqual([last]);
        expect((await readUntil(await fromSeq(`000${last - 1}`), () => false)).map((e) => e.seq)).toEqual([last]);
        // At or past the end, however far: a non-negative integer of any size is one (nothing is after it).
        for (const n of [String(last), String(last + 10), String(Number.MAX_SAFE_INTEGER), '0'.repeat(30) + String(last), '1'.repeat(40)]) {
          const res = await fromSeq(n);
          expect(res.status, `fromSeq=${n}`).toBe(200);
          expect(await readUntil(res, () => false)).toEqual([]);
        }
        const huge = await fetch(handed(eventsUrl), { headers: as('ses-replay', { 'last-event-id': '9'.repeat(25) }) });
        expect(huge.status).toBe(200);
        expect(await readUntil(huge, () => false)).toEqual([]);
        // Nothing after the resume point of an ended session is an empty body in either format: no field
        // on its own, which a reader that splits on blank lines and parses each block's data would choke on.
        for (const accept of ['text/event-stream', 'application/x-ndjson']) {
          const empty = await fetch(handed(eventsUrl), { headers: as('ses-replay', { accept, 'last-event-id': String(last) }) });
          expect([empty.status, await textOf(empty)], accept).toEqual([200, '']);
        }
        for (const n of ['-1', 'abc', '1.5', '', '1e3']) expect((await fromSeq(n)).status, `fromSeq=${n}`).toBe(400);
        for (const n of ['-1', 'abc']) expect((await fetch(handed(eventsUrl), { headers: as('ses-replay', { 'last-event-id': n }) })).status, `Last-Event-ID ${n}`).toBe(400);
        // The header wins over the query, as an EventSource reconnecting to a URL with ?fromSeq sends both.
        const both = await readUntil(await fromSeq('0', { 'last-event-id': String(last - 1) }), () => false);
        expect(both.map((e) => e.seq)).toEqual([last]);
        expect(sessionId).toBe(all[0].sessionId);
      });

      it('GET {path}/sessions/{id}: { sessionId, state, result? } in each state', async () => {
        const { sessionId } = await held('ses-state', 'state');
        const running = await (await fetch(url(`/enclave/sessions/${sessionId}`), { headers: as('ses-state') })).json();
        expect(running).toEqual({ sessionId, state: 'running' });
        gates.open('state');
        const done = await readUntil(await fetch(url(`/enclave/sessions/${sessionId}/events`), { headers: as('ses-state') }), (e) => e.type === 'final');
        expect(await (await fetch(url(`/enclave/sessions/${sessionId}`), { headers: as('ses-state') })).json()).toEqual({ sessionId, state: 'completed', result: done.at(-1).payload });
        const failed = await start('ses-state', 'throw new Error("nope")');
        await readUntil(await fetch(handed(failed.eventsUrl), { headers: as('ses-state') }), (e) => e.type === 'final');
        expect(await (await fetch(url(`/enclave/sessions/${failed.sessionId}`), { headers: as('ses-state') })).json()).toMatchObject({
          sessionId: failed.sessionId,
          state: 'failed',
          result: { success: false, error: { code: 'RUNTIME_ERROR' } },
        });
      });

      it('DELETE cancels a running session (ABORTED, its tool aborted); on a finished one, twice, or an unknown id it changes nothing', async () => {
        const { sessionId, cancelUrl, eventsUrl } = await held('ses-cancel', 'cancel');
        const res = await fetch(handed(cancelUrl), { method: 'DELETE', headers: as('ses-cancel') });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { result: unknown };
        expect(body).toMatchObject({ sessionId, state: 'cancelled', result: { success: false, error: { code: 'ABORTED' } } });
        expect(gates.aborted.has('cancel')).toBe(true);
        const events = await readUntil(await fetch(handed(eventsUrl), { headers: as('ses-cancel') }), (e) => e.type === 'final');
        expect(events.at(-1)?.payload).toEqual(body.result);
        const again = await fetch(handed(cancelUrl), { method: 'DELETE', headers: as('ses-cancel') });
        expect([again.status, await again.json()]).toEqual([200, body]);
        const finished = await start('ses-cancel', 'return 5');
        await readUntil(await fetch(handed(finished.eventsUrl), { headers: as('ses-cancel') }), (e) => e.type === 'final');
        const late = await fetch(handed(finished.cancelUrl), { method: 'DELETE', headers: as('ses-cancel') });
        expect([late.status, await late.json()]).toEqual([200, { sessionId: finished.sessionId, state: 'completed', result: expect.objectContaining({ success: true, value: 5 }) }]);
        const unknown = await fetch(url('/enclave/sessions/ses_doesNotExist0000000000'), { method: 'DELETE', headers: as('ses-cancel') });
        expect([unknown.status, ((await unknown.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NOT_FOUND']);
      });

      it('another owner gets 404 on every session route, and cannot cancel the run', async () => {
        const { sessionId, eventsUrl, cancelUrl } = await held('ses-owner', 'owner');
        for (const [method, path] of [
          ['GET', url(`/enclave/sessions/${sessionId}`)],
          ['GET', handed(eventsUrl)],
          ['HEAD', handed(eventsUrl)],
          ['DELETE', handed(cancelUrl)],
        ] as const) {
          const res = await fetch(path, { method, headers: as('ses-intruder') });
          expect(res.status, `${method} ${path}`).toBe(404);
          await res.arrayBuffer();
        }
        expect(gates.aborted.has('owner')).toBe(false);
        // The owner's HEAD of a running session's events: the stream's headers at once, no body, nothing held.
        const head = await fetch(handed(eventsUrl), { method: 'HEAD', headers: as('ses-owner') });
        expect([head.status, head.headers.get('content-type')?.split(';')[0], await head.text()]).toEqual([200, 'text/event-stream', '']);
        gates.open('owner');
        const events = await readUntil(await fetch(handed(eventsUrl), { headers: as('ses-owner') }), (e) => e.type === 'final');
        expect(events.at(-1)?.payload).toMatchObject({ success: true, value: 'opened' });
      });

      it('a quiet session sends heartbeats ({ elapsedMs }) in sequence while it waits', async () => {
        const { eventsUrl } = await held('ses-beat', 'beat');
        const events = await readUntil(await fetch(handed(eventsUrl), { headers: as('ses-beat') }), (e) => e.type === 'heartbeat');
        gates.open('beat');
        const rest = await readUntil(await fetch(handed(eventsUrl), { headers: as('ses-beat', { 'last-event-id': String(events.at(-1).seq) }) }), (e) => e.type === 'final');
        const all = [...events, ...rest];
        expectGapless(all);
        expect(byType(all, 'heartbeat')[0].payload).toEqual({ elapsedMs: expect.any(Number) });
      });

      it('a reader that goes away mid-stream: the session runs on; a plain streamed POST is aborted (its tool too, ABORTED/499)', async () => {
        const ac = new AbortController();
        const res = await fetch(url('/enclave/sessions'), {
          method: 'POST',
          headers: as('ses-drop', { 'content-type': 'application/json', accept: 'text/event-stream' }),
          body: JSON.stringify({ code: gated('drop') }),
          signal: ac.signal,
        });
        const id = res.headers.get('x-session-id') as string;
        await readUntil(res, (e) => e.type === 'tool_call');
        ac.abort();
        await expect.poll(() => gates.waiting.has('drop'), { timeout: 10_000 }).toBe(true);
        gates.open('drop');
        const events = await readUntil(await fetch(url(`/enclave/sessions/${id}/events`), { headers: as('ses-drop') }), (e) => e.type === 'final');
        expect(events.at(-1)?.payload).toMatchObject({ success: true, value: 'opened' });
        expect(gates.aborted.has('drop')).toBe(false);

        const plain = new AbortController();
        const streamed = await fetch(url('/enclave'), {
          method: 'POST',
          headers: as('plain-drop', { 'content-type': 'application/json', accept: 'text/event-stream' }),
          body: JSON.stringify({ code: gated('plain-drop') }),
          signal: plain.signal,
        });
        await readUntil(streamed, (e) => e.type === 'tool_call');
        plain.abort();
        await expect.poll(() => gates.aborted.has('plain-drop'), { timeout: 10_000 }).toBe(true);
        await expect.poll(() => gates.ends.find((e) => e.user === 'plain-drop'), { timeout: 10_000 }).toEqual({ user: 'plain-drop', status: 499, code: 'ABORTED' });
      });

      it('many sessions at once, of several users, each get their own events and result', async () => {
        const users = ['many-a', 'many-b', 'many-c', 'many-d'];
        const runs = users.flatMap((user) => Array.from({ length: 5 }, (_, i) => ({ user, i })));
        const results = await Promise.all(
          runs.map(async ({ user, i }) => {
            const res = await post('/enclave/sessions', user, { code: `console.log(${i}); return [await callTool('whoami'), input]`, input: i }, { accept: 'text/event-stream' });
            expect(res.status).toBe(200);
            const events = await readUntil(res, (e) => e.type === 'final');
            expectGapless(events);
            return { id: res.headers.get('x-session-id'), final: events.at(-1)?.payload, logs: byType(events, 'log').map((e) => e.payload.message) };
          }),
        );
        expect(new Set(results.map((r) => r.id)).size).toBe(runs.length);
        // Several readers of one session at once see the same events.
        const { eventsUrl } = await held('many-e', 'many');
        const readers = Array.from({ length: 5 }, async () => readUntil(await fetch(handed(eventsUrl), { headers: as('many-e') }), (e) => e.type === 'final'));
        gates.open('many');
        const seenBy = await Promise.all(readers);
        for (const events of seenBy) expect(steady(events)).toEqual(steady(seenBy[0] ?? []));
        expect(seenBy[0]?.at(-1)?.payload).toMatchObject({ success: true, value: 'opened' });
        results.forEach((r, n) => {
          expect(r.final).toMatchObject({ success: true, value: [runs[n]?.user, runs[n]?.i] });
          expect(r.logs).toEqual([String(runs[n]?.i)]);
        });
      });
    });
  });
}
