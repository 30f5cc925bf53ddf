/**
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
import type { EnclaveFetchHandler } from '../../src/index.js';
import { handleNodeRequest } from '../../src/node/index.js';
import { listen } from './contract.js';
import type { Served } from './contract.js';
import { readEvents } from './event-stream.js';

/** A result of 3.9 MB and a log line of 0.9 MB: several MB of answer, far past what the kernel's socket buffers take for a client that reads nothing. */
const LARGE = "console.log('x'.repeat(900000)); return 'y'.repeat(3900000);";

let served: Served;
let port: number;
let handler: EnclaveFetchHandler<unknown>;
const open = new Set<Socket>();

beforeAll(async () => {
  handler = createEnclaveHandler({ tools: () => ({}), authenticate: () => ({ id: 'alice' }), sendTimeoutMs: 500 });
  const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req, res }));
  server.on('connection', (s) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  served = await listen(server, () => handler.dispose());
  port = Number(new URL(served.url).port);
});
afterAll(() => served?.close());

/** A client that sends one POST and then reads nothing, keeping its connection open; resolves once the server holds its connection. */
async function stalledClient(accept: string): Promise<Socket> {
  const before = open.size;
  const body = JSON.stringify({ code: LARGE });
  const s = connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  await new Promise<void>((resolve) => s.once('connect', resolve));
  s.pause();
  s.write(`POST /enclave HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\naccept: ${accept}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  await until(() => open.size > before, 'the server to accept the connection');
  return s;
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
      await until(() => open.size === 0, 'the server to close the stalled connections');
      expect(open.size).toBe(0);
      for (const c of clients) c.destroy();
    }, 60_000);
  }

  it('a client that reads gets every byte of the same answer, as JSON and as a stream', async () => {
    const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: LARGE }) });
    expect(res.status).toBe(200);
    const result = (await res.json()) as { value: string; logs: { message: string }[] };
    expect(result.value.length).toBe(3_900_000);
    expect(result.logs[0]?.message.length).toBe(900_000);

    const streamed = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ code: LARGE }) });
    const events = await readEvents(streamed);
    const final = events.at(-1)?.data as { type: string; payload: { value: string } };
    expect(final.type).toBe('final');
    expect(final.payload.value.length).toBe(3_900_000);
  }, 60_000);

  it('a client that reads slowly, but reads, gets the whole answer', async () => {
    const body = JSON.stringify({ code: LARGE });
    const s = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve) => s.once('connect', resolve));
    s.pause();
    s.write(`POST /enclave HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
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
