/**
 * Clients that hold a connection without using it: one that never reads its answer, one that never
 * finishes sending a body the server will not read.
 *
 * Clients that never read their answer. A run ends, its lease and concurrency slot are given back, but
 * its answer (a result of up to `maxOutputBytes` and the logs, in the events and again in `final`) waits
 * in this process for a socket the client keeps open and never reads: on the old Node bridge, for ever.
 * Measured before the fix: 20 such connections held 114 MB (SSE) and 200 MB (JSON) of this process's
 * memory, linearly, and one user could open them one after another (each run had ended). The bridge now
 * closes a connection whose client has read nothing for `sendTimeoutMs`.
 */
import { createServer } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnclaveHandler } from '../../src/index.js';
import { handleNodeRequest } from '../../src/node/index.js';
import { listen } from './contract.js';
import type { Served } from './contract.js';
import { readEvents } from './event-stream.js';

/** A result of 3.9 MB and a log line of 0.9 MB: several MB of answer, far past what the kernel's socket buffers take for a client that reads nothing. */
const LARGE = "console.log('x'.repeat(900000)); return 'y'.repeat(3900000);";

/**
 * For the server readers use: far longer than a reading client, in this same process, ever goes
 * without reading, on a loaded machine too (at 500 ms one such read came late).
 */
const SEND_TIMEOUT_MS = 3000;
/**
 * For a second server that only stalled clients use: no client of it reads, so nothing there can come
 * late, and each stalled client is cut off after half a second of waiting rather than three.
 */
const STALLED_SEND_TIMEOUT_MS = 500;

interface Bridge {
  served: Served;
  port: number;
  /** The server's side of each connection still open. */
  open: Set<Socket>;
}

let server: Bridge;
let stalledServer: Bridge;

async function serve(sendTimeoutMs: number): Promise<Bridge> {
  const handler = createEnclaveHandler({ tools: () => ({}), authenticate: ({ request }) => (request.headers.get('x-user') === null ? null : { id: 'alice' }), sendTimeoutMs });
  const http = createServer((req, res) => void handleNodeRequest(handler, req, res, { req, res }));
  const open = new Set<Socket>();
  http.on('connection', (s) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  const served = await listen(http, () => handler.dispose());
  return { served, port: Number(new URL(served.url).port), open };
}

beforeAll(async () => {
  [server, stalledServer] = await Promise.all([serve(SEND_TIMEOUT_MS), serve(STALLED_SEND_TIMEOUT_MS)]);
});
afterAll(async () => {
  await Promise.all([server?.served.close(), stalledServer?.served.close()]);
});

/** The server's side of the connection `client` opened (its peer's port is the client's own). */
async function serverSide(at: Bridge, client: Socket): Promise<Socket> {
  const find = () => [...at.open].find((c) => c.remotePort === client.localPort);
  await until(() => find() !== undefined, 'the server to accept the connection');
  return find() as Socket;
}

/** A client that sends one POST and then reads nothing, keeping its connection open; resolves once the server holds its connection. */
async function stalledClient(accept: string): Promise<{ client: Socket; server: Socket }> {
  const body = JSON.stringify({ code: LARGE });
  const s = connect({ port: stalledServer.port, host: '127.0.0.1' });
  s.on('error', () => {});
  await new Promise<void>((resolve) => s.once('connect', resolve));
  // Found before the request goes: the server may close it half a second after answering.
  const held = await serverSide(stalledServer, s);
  s.pause();
  s.write(`POST /enclave HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nx-user: alice\r\naccept: ${accept}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  return { client: s, server: held };
}

async function until(done: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a client that reads nothing of its answer', () => {
  for (const accept of ['text/event-stream', 'application/x-ndjson', 'application/json']) {
    it(`(${accept}) is disconnected by the server, which lets go of the answer`, async () => {
      const clients = [await stalledClient(accept), await stalledClient(accept), await stalledClient(accept)];
      // Old bridge: the three connections stayed open (and their answers in memory) for as long as the clients wished.
      await until(() => clients.every((c) => c.server.destroyed), 'the server to close the stalled connections');
      expect(clients.map((c) => c.server.destroyed)).toEqual([true, true, true]);
      for (const c of clients) c.client.destroy();
    }, 60_000);
  }

  it('a client that reads gets every byte of the same answer, as JSON and as a stream', async () => {
    const res = await fetch(`${server.served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice' }, body: JSON.stringify({ code: LARGE }) });
    expect(res.status).toBe(200);
    const result = (await res.json()) as { value: string; logs: { message: string }[] };
    expect(result.value.length).toBe(3_900_000);
    expect(result.logs[0]?.message.length).toBe(900_000);

    const streamed = await fetch(`${server.served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice', accept: 'text/event-stream' }, body: JSON.stringify({ code: LARGE }) });
    const events = await readEvents(streamed);
    const final = events.at(-1)?.data as { type: string; payload: { value: string } };
    expect(final.type).toBe('final');
    expect(final.payload.value.length).toBe(3_900_000);
  }, 60_000);

  it('a client that reads slowly, but reads, gets the whole answer', async () => {
    const body = JSON.stringify({ code: LARGE });
    const s = connect({ port: server.port, host: '127.0.0.1' });
    await new Promise<void>((resolve) => s.once('connect', resolve));
    s.pause();
    s.write(`POST /enclave HTTP/1.1\r\nhost: localhost\r\nx-user: alice\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    let received = 0;
    s.on('data', (d: Buffer) => {
      received += d.byteLength;
    });
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    // A 64 KiB read now and then, each well within sendTimeoutMs of the one before.
    // (read() hands each chunk to the 'data' listener too.)
    const reader = setInterval(() => s.read(64 * 1024), 20);
    try {
      await until(() => s.readableEnded || s.destroyed || received > 4_000_000, 'the whole answer');
    } finally {
      clearInterval(reader);
    }
    s.resume();
    await closed;
    expect(received).toBeGreaterThan(3_900_000);
  }, 60_000);
});

/**
 * A request the server answers without reading its body (no user: 401; not JSON: 415; a session route
 * that takes none), whose client goes on sending that body a byte at a time, or never sends the length
 * it declared. `bodyTimeoutMs` bounds a body the route reads; this one nobody reads, and Node went on
 * reading and dropping it to reach the next request on the connection, until its `requestTimeout` (5
 * minutes by default): any peer, with no credentials, held a connection that long per request.
 */
// Concurrent: each waits out the bridge's 2 s linger on a connection of its own.
describe.concurrent('a client that goes on sending a body the answer did not read', () => {
  const heads: Record<string, string> = {
    'no user (401)': 'POST /enclave HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{',
    'no user, chunked (401)': 'POST /enclave HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n{\r\n',
    'not JSON (415)': 'POST /enclave HTTP/1.1\r\nhost: localhost\r\nx-user: alice\r\ncontent-type: text/plain\r\ncontent-length: 1000000\r\n\r\n{',
    'a session route that reads no body (404)': 'GET /enclave/sessions/ses_none/events HTTP/1.1\r\nhost: localhost\r\nx-user: alice\r\ncontent-length: 1000000\r\n\r\n{',
  };
  for (const [name, head] of Object.entries(heads)) {
    it(`${name}: gets its answer, and the server closes the connection`, async () => {
      const s = connect({ port: server.port, host: '127.0.0.1' });
      s.on('error', () => {});
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString();
      });
      await new Promise<void>((resolve) => s.once('connect', resolve));
      const serverSocket = await serverSide(server, s);
      s.write(head);
      // A byte every 50 ms, for as long as the connection is open.
      const trickle = setInterval(() => s.writable && s.write(head.includes('chunked') ? '1\r\nx\r\n' : 'x'), 50);
      try {
        await until(() => got.includes('\r\n\r\n'), 'the answer');
        expect(got).toMatch(/^HTTP\/1\.1 (401|415|404) /);
        // Old bridge: open until Node's requestTimeout (300 s), reading the trickle.
        await until(() => serverSocket.destroyed, 'the server to close the connection');
      } finally {
        clearInterval(trickle);
        s.destroy();
      }
      expect(serverSocket.destroyed).toBe(true);
    }, 60_000);
  }

  it('a client that sent its whole body keeps its connection for the next request after a refusal', async () => {
    const body = JSON.stringify({ code: 'return 1' });
    const request = (user: string) => `POST /enclave HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n${user}content-length: ${body.length}\r\n\r\n${body}`;
    const s = connect({ port: server.port, host: '127.0.0.1' });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
    });
    await new Promise<void>((resolve) => s.once('connect', resolve));
    try {
      s.write(request(''));
      // The whole answer: its JSON, and the end of its chunks if it is chunked.
      const whole = () => /"UNAUTHORIZED"[^]*\}(\r\n0\r\n\r\n)?$/.test(got);
      await until(whole, 'the 401');
      expect(got).toMatch(/^HTTP\/1\.1 401 /);
      expect(got).not.toMatch(/connection: close/i);
      got = '';
      s.write(request('x-user: alice\r\n'));
      await until(() => /"value":1/.test(got), 'the run on the same connection');
      expect(got).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      s.destroy();
    }
  });
});

/**
 * The same client under a server that is not the Node bridge (Hono's, Next's, Bun's, Deno's): such a
 * server reads the next chunk of a streamed run only once the client has taken the last, so the core
 * sees the reader stop. Before, the run went on to its end and its events waited for the reader, for as
 * long as the connection stayed open; now the run is aborted and its events dropped.
 */
describe('a streamed run whose reader stops reading, under any Fetch server', () => {
  it('is aborted after sendTimeoutMs, and its stream fails', async () => {
    const ends: string[] = [];
    const fetchHandler = createEnclaveHandler({
      tools: () => ({ tick: () => new Promise((resolve) => setTimeout(resolve, 20)) }),
      sendTimeoutMs: 300,
      onRunEnd: ({ result }) => void ends.push(result.success ? 'OK' : result.error.code),
    });
    try {
      const code = "for (let i = 0; i < 500; i++) { console.log('line ' + i); await callTool('tick', {}); } return 'done';";
      const res = await fetchHandler(new Request('http://localhost/enclave', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' }, body: JSON.stringify({ code }) }));
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      expect((await reader.read()).done).toBe(false);
      // The reader takes nothing more. Old core: the run went on until its end (here its 100th tool call, MAX_TOOL_CALLS).
      await until(() => ends.length > 0, 'the run to end');
      expect(ends).toEqual(['ABORTED']);
      await expect(reader.read()).rejects.toMatchObject({ name: 'StalledReaderError' });
    } finally {
      fetchHandler.dispose();
    }
  }, 60_000);
});
