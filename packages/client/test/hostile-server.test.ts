/**
 * The client against a server that does not keep the contract: events that never end, JSON answers that
 * never end, prototype keys in events. A real `node:http` server on port 0 plays it; what it wrote before
 * the client hung up is the host-side measure of what the client took in.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EnclaveClientError, createEnclaveClient } from '../src/index.js';
import type { EnclaveEvent } from '../src/index.js';

const MiB = 1024 * 1024;

interface Hostile {
  url: string;
  /** Bytes of body written per request, as the requests came. */
  written: number[];
  /** Resolves when the request with this index has ended (the client hung up, or the server finished). */
  ended(index: number): Promise<void>;
  close(): Promise<void>;
}

const servers: Hostile[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/**
 * A server that answers every request with `head`, then writes `chunk` again and again, waiting for the
 * socket to drain, until `maxBytes` of body are written or the client hangs up.
 */
async function hostile(contentType: string, head: string, chunk: string, maxBytes: number): Promise<Hostile> {
  const written: number[] = [];
  const ends: Promise<void>[] = [];
  const server = createServer((req, res: ServerResponse) => {
    const index = written.length;
    written.push(0);
    let done!: () => void;
    ends[index] = new Promise((resolve) => (done = resolve));
    req.resume();
    res.writeHead(200, { 'content-type': contentType, 'x-session-id': 'ses_hostile' });
    let stopped = false;
    res.on('close', () => {
      stopped = true;
      done();
    });
    const bytes = Buffer.from(chunk);
    const pump = () => {
      // 'close' comes between two pumps, never inside one: the loop ends on a full socket.
      if (stopped) return;
      if (written[index] === 0) {
        res.write(head);
        written[index] = Buffer.byteLength(head);
      }
      while ((written[index] as number) < maxBytes) {
        written[index] = (written[index] as number) + bytes.length;
        if (!res.write(bytes)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const hostileServer: Hostile = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave`,
    written,
    ended: async (index) => {
      await expect.poll(() => ends.length > index).toBe(true);
      await ends[index];
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  servers.push(hostileServer);
  return hostileServer;
}

const EVENT_HEAD = `data: ${JSON.stringify({ sessionId: 'ses_hostile', seq: 1, type: 'session_init', time: 1, payload: {} })}\n\n`;

async function failure(promise: Promise<unknown>): Promise<EnclaveClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EnclaveClientError);
  return err as EnclaveClientError;
}

describe('a server that never ends an event', () => {
  it('SSE, at the default limit: the client refuses the event (BAD_RESPONSE, not retried) and hangs up long before the server is done', async () => {
    // One line that never ends: `data: xxxx...` with no line break, up to 160 MiB.
    const server = await hostile('text/event-stream', `${EVENT_HEAD}data: `, 'x'.repeat(64 * 1024), 160 * MiB);
    const client = createEnclaveClient({ url: server.url, retry: { maxRetries: 3, initialDelayMs: 1 } });
    const seen: EnclaveEvent[] = [];
    const err = await failure(client.stream('return 1', { onEvent: (e) => seen.push(e) }).result);
    expect(err.code).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/longer than 67108864 characters/);
    await server.ended(0);
    // The client took in about its limit (plus what the sockets buffer), not the 160 MiB on offer,
    // and did not come back for more.
    expect(server.written[0]).toBeLessThan(100 * MiB);
    expect(server.written).toHaveLength(1);
    expect(seen.map((e) => e.type)).toEqual(['session_init']);
  }, 60_000);

  it('SSE, an event of endless data lines, each ended', async () => {
    const server = await hostile('text/event-stream', EVENT_HEAD, `data: ${'y'.repeat(1023)}\n`, 64 * MiB);
    const client = createEnclaveClient({ url: server.url, maxEventLength: MiB, retry: false });
    const err = await failure(client.stream('return 1').result);
    expect(err.code).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/longer than 1048576 characters/);
    await server.ended(0);
    expect(server.written[0]).toBeLessThan(32 * MiB);
    expect(server.written).toHaveLength(1);
  }, 60_000);

  it('NDJSON, a line that never ends', async () => {
    const server = await hostile('application/x-ndjson', `${JSON.stringify({ sessionId: 'ses_hostile', seq: 1, type: 'session_init', time: 1, payload: {} })}\n{"a":"`, 'z'.repeat(64 * 1024), 64 * MiB);
    const client = createEnclaveClient({ url: server.url, format: 'ndjson', maxEventLength: MiB, retry: false });
    const err = await failure(client.stream('return 1').result);
    expect(err.code).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/NDJSON line 2 is longer than 1048576 characters/);
    await server.ended(0);
    expect(server.written[0]).toBeLessThan(32 * MiB);
  }, 60_000);

  it('a JSON answer that never ends (run, getSession): refused once the limit is read', async () => {
    const server = await hostile('application/json', '{"success":true,"value":"', 'v'.repeat(64 * 1024), 64 * MiB);
    const client = createEnclaveClient({ url: server.url, maxEventLength: MiB });
    const run = await failure(client.run('return 1'));
    expect(run.code).toBe('BAD_RESPONSE');
    expect(run.message).toMatch(/longer than 1048576 characters/);
    await server.ended(0);
    const status = await failure(client.getSession('ses_hostile'));
    expect(status.code).toBe('BAD_RESPONSE');
    await server.ended(1);
    expect(server.written.every((n) => n < 32 * MiB)).toBe(true);
  }, 60_000);

  it('refuses a maxEventLength that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '1']) {
      expect(() => createEnclaveClient({ url: 'http://127.0.0.1:1/enclave', maxEventLength: bad as number })).toThrow(/maxEventLength must be a positive integer/);
    }
  });
});

/** An SSE stream of `session_init` and one more event of `type` with `payload` (JSON text). */
const twoEvents = (type: string, payload: string) =>
  `${EVENT_HEAD}data: {"sessionId":"ses_hostile","seq":2,"type":"${type}","time":1,"payload":${payload}}\n\n`;

describe('events whose payload is not what their type says', () => {
  // What the client itself reads of a payload: final's result and approval_required's call.
  const malformed: [string, string][] = [
    ['final', 'null'],
    ['final', '"done"'],
    ['final', '{"success":"yes","stats":{}}'],
    ['final', '{"success":false,"stats":{"duration":1,"toolCallCount":0,"iterationCount":0}}'],
    ['approval_required', 'null'],
    ['approval_required', '{"callId":"1","tool":"refund"}'],
    ['approval_required', '{"callId":1}'],
    ['log', 'null'],
    ['tool_call', '[]'],
  ];
  it.each(malformed)('%s with payload %s: the stream fails with BAD_RESPONSE, not a result of another shape', async (type, payload) => {
    const server = await hostile('text/event-stream', twoEvents(type, payload), '', 0);
    const client = createEnclaveClient({ url: server.url, retry: false });
    const stream = client.stream('return 1');
    const err = await failure(stream.result);
    expect(err.code).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(new RegExp(`payload of a ${type} event`));
  });
});

describe('JSON answers that are not of their shape', () => {
  /** A server answering every request with `status` and `body`. */
  const answering = async (status: number, body: string) => {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({
      url: '',
      written: [],
      ended: async () => {},
      close: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    });
    return createEnclaveClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave` });
  };
  const calls = {
    getSession: (c: ReturnType<typeof createEnclaveClient>) => c.getSession('ses_1'),
    cancel: (c: ReturnType<typeof createEnclaveClient>) => c.cancel('ses_1'),
    start: (c: ReturnType<typeof createEnclaveClient>) => c.start('return 1'),
    approve: (c: ReturnType<typeof createEnclaveClient>) => c.approve('ses_1', 1),
    catalog: (c: ReturnType<typeof createEnclaveClient>) => c.catalog(),
  };
  const statusOf = { getSession: 200, cancel: 200, start: 201, approve: 202, catalog: 200 } as const;
  const bodies = ['null', '[]', '"ok"', '{"sessionId":7,"state":"completed"}', '{"sessionId":"ses_1","state":"completed","result":{}}', '{"sessionId":"ses_1","state":"waiting_for_approval","pendingApproval":{"callId":"1"}}', '{"tools":"none"}'];
  it.each(Object.keys(calls) as (keyof typeof calls)[])('%s: a body of another shape is BAD_RESPONSE, never handed on as the answer', async (call) => {
    // Each body is malformed for each call: not an object, no string sessionId (or routes, or callId), a
    // result that is not one, a pending call without its id, no tools array.
    for (const body of bodies) {
      const client = await answering(statusOf[call], body);
      const err = await failure(calls[call](client));
      expect(err.code, `${call} ${body}`).toBe('BAD_RESPONSE');
    }
  });
});

describe('a Retry-After longer than a timer can wait', () => {
  it('is waited for (the longest timer), not cut to 1 ms: no second request, no TimeoutOverflowWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      req.resume();
      // 30 days, as a server in maintenance or a broken proxy may say.
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': String(30 * 24 * 3600) }).end('{"success":false,"error":{"name":"RequestError","code":"QUEUE_FULL","message":"busy"},"stats":{"duration":0,"toolCallCount":0,"iterationCount":0}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const reader = new AbortController();
      const client = createEnclaveClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave`, retry: { maxRetries: 3 } });
      const delays: number[] = [];
      const stream = client.session('ses_busy', { signal: reader.signal, onRetry: (info) => delays.push(info.delayMs) });
      await expect.poll(() => delays.length).toBe(1);
      // Long enough for an overflowed timer (1 ms) to have sent the next attempt many times over.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(requests).toBe(1);
      expect(delays).toEqual([2 ** 31 - 1]);
      reader.abort();
      expect((await failure(stream.result)).code).toBe('ABORTED');
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('prototype keys in what a server sends', () => {
  it('events and results with __proto__ and constructor.prototype keys stay data: nothing reaches Object.prototype', async () => {
    const poison = '{"__proto__":{"pollutedByEvent":1},"constructor":{"prototype":{"pollutedByCtor":1}}}';
    const event = (seq: number, type: string, payload: string) => `data: {"sessionId":"ses_hostile","seq":${seq},"type":"${type}","time":1,"payload":${payload},"__proto__":{"pollutedTop":1}}\n\n`;
    const body = [
      event(1, 'session_init', poison),
      event(2, 'log', `{"level":"log","message":"hi","time":1,"__proto__":{"pollutedLog":1}}`),
      event(3, 'final', `{"success":true,"value":${poison},"stats":{"duration":1,"toolCallCount":0,"iterationCount":0},"__proto__":{"pollutedResult":1}}`),
    ].join('');
    const server = await hostile('text/event-stream', body, '', 0);
    const client = createEnclaveClient({ url: server.url, retry: false });
    const seen: EnclaveEvent[] = [];
    const result = await client.stream('return 1', { onEvent: (e) => seen.push(e) }).result;
    expect(seen.map((e) => e.type)).toEqual(['session_init', 'log', 'final']);
    const probe = {} as Record<string, unknown>;
    for (const key of ['pollutedByEvent', 'pollutedByCtor', 'pollutedTop', 'pollutedLog', 'pollutedResult']) expect(probe[key]).toBeUndefined();
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.hasOwn(result.success ? (result.value as object) : {}, '__proto__')).toBe(true);
  });
});

describe('session ids that would name another route', () => {
  const BAD_IDS = ['..', '.', '%2e%2e', 'a/b', '', 'x'.repeat(129), 'ses_\u0000', '\u2025'];

  /** A server that records every request path, and answers with `id` wherever the contract puts a session id. */
  async function recording(id: string) {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      req.resume();
      const url = `/enclave/sessions/${id}`;
      if (req.method === 'POST' && req.url === '/enclave/sessions' && req.headers.accept?.includes('application/json')) {
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sessionId: id, statusUrl: url, eventsUrl: `${url}/events`, cancelUrl: url }));
        return;
      }
      // A stream that names the session by its header, then drops before `final`: the client reconnects by id.
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-session-id': id });
      res.end(`data: ${JSON.stringify({ sessionId: 'ses_ok', seq: 1, type: 'session_init', time: 1, payload: {} })}\n\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ url: '', written: [], ended: async () => {}, close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    } });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave`, paths };
  }

  it('a caller’s id that is not a session id is refused (BAD_REQUEST) before anything is sent', async () => {
    const server = await recording('ses_ok');
    const client = createEnclaveClient({ url: server.url, retry: false });
    for (const id of BAD_IDS) {
      for (const call of [() => client.getSession(id), () => client.cancel(id), () => client.approve(id, 1), () => client.deny(id, 1), async () => client.session(id).result]) {
        await expect(call(), JSON.stringify(id)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('not a session id') });
      }
    }
    // The server's own record: not one request reached it.
    expect(server.paths).toEqual([]);
  });

  it.each(['..', '.', 'a/b', 'ses_ok/../..'])('a server’s id %j is not followed: BAD_RESPONSE, and no request leaves the session routes', async (id) => {
    const server = await recording(id);
    const client = createEnclaveClient({ url: server.url, retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 1 } });
    await expect(client.start('return 1')).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
    await expect(client.stream('return 1').result).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
    for (const path of server.paths) expect(path, `after ${path}`).toBe('/enclave/sessions');
  });
});
