/**
 * What must not hang, against a real `node:http` server on port 0 that answers slowly or never: a stream
 * stopped while its headers function never settles, a cancel sent on the reader's behalf that the server
 * never answers, a server that replays delivered events without end. The server's own view (requests
 * seen, connections closed) is the measure of what the client let go.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnclaveClient } from '../src/index.js';
import type { EnclaveEvent } from '../src/index.js';
import { rejection } from './server.js';

const init = (id: string) => `data: ${JSON.stringify({ sessionId: id, seq: 1, type: 'session_init', time: 1, payload: {} })}\n\n`;

/** What the server saw. */
const seen = { requests: 0, deletes: 0, deletesClosed: 0, replaysWritten: 0, replayClosed: false };

const server = createServer((req, res) => {
  seen.requests++;
  req.resume();
  if (req.method === 'DELETE') {
    // A cancel the server never answers.
    seen.deletes++;
    res.on('close', () => seen.deletesClosed++);
    return;
  }
  if (req.url?.includes('ses_replay')) {
    // seq 1, then seq 1 again and again, as fast as the client reads, until it hangs up.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    seen.replaysWritten = 0;
    seen.replayClosed = false;
    res.on('close', () => (seen.replayClosed = true));
    const pump = () => {
      while (!seen.replayClosed) {
        seen.replaysWritten += 100;
        if (!res.write(init('ses_replay').repeat(100))) return void res.once('drain', pump);
      }
    };
    return pump();
  }
  // A session that runs and says nothing more after its first event.
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-session-id': 'ses_quiet' });
  res.write(init('ses_quiet'));
});
let url = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A headers function that never settles (a token refresh that hangs), and how often it was asked. */
function hangingHeaders(): { calls: number; headers: () => Promise<Record<string, string>> } {
  const h = {
    calls: 0,
    headers: () => {
      h.calls++;
      return new Promise<Record<string, string>>(() => {});
    },
  };
  return h;
}

describe('a headers function that never settles', () => {
  it('close() still ends the stream: result rejects with ABORTED, the loop ends, no request was sent', async () => {
    const hang = hangingHeaders();
    const before = seen.requests;
    const client = createEnclaveClient({ url, headers: hang.headers, idleTimeoutMs: 0 });
    const stream = client.stream('return 1');
    await expect.poll(() => hang.calls).toBe(1);
    const loop = (async () => {
      const events: EnclaveEvent[] = [];
      for await (const event of stream) events.push(event);
      return events;
    })();
    stream.close();
    expect((await rejection(stream.result)).code).toBe('ABORTED');
    expect(await loop).toEqual([]);
    expect(seen.requests).toBe(before);
  }, 5_000);

  it('the caller’s signal ends run() and stream() alike', async () => {
    const hang = hangingHeaders();
    const client = createEnclaveClient({ url, headers: hang.headers, idleTimeoutMs: 0 });
    const controller = new AbortController();
    const run = client.run('return 1', { signal: controller.signal });
    const stream = client.stream('return 1', { signal: controller.signal });
    await expect.poll(() => hang.calls).toBe(2);
    controller.abort();
    expect((await rejection(run)).code).toBe('ABORTED');
    expect((await rejection(stream.result)).code).toBe('ABORTED');
  }, 5_000);

  it('the idle timeout counts while it is awaited: a reconnecting stream gives up after its retries', async () => {
    const hang = hangingHeaders();
    const client = createEnclaveClient({ url, headers: hang.headers, idleTimeoutMs: 50, retry: { maxRetries: 2, initialDelayMs: 1 } });
    const err = await rejection(client.session('ses_quiet').result);
    expect(err.code).toBe('RETRIES_EXHAUSTED');
    expect(err.message).toMatch(/No data for 50 ms/);
    expect(hang.calls).toBe(3);
  }, 5_000);
});

describe('a cancel the server never answers', () => {
  it('cancelOnAbort: the DELETE sent on close() is abandoned after idleTimeoutMs, its connection closed', async () => {
    const client = createEnclaveClient({ url });
    const before = { deletes: seen.deletes, closed: seen.deletesClosed };
    const events: EnclaveEvent[] = [];
    const stream = client.stream('return 1', { cancelOnAbort: true, idleTimeoutMs: 1_000, onEvent: (e) => events.push(e) });
    await expect.poll(() => events.length).toBe(1);
    stream.close();
    await expect.poll(() => seen.deletes).toBe(before.deletes + 1);
    await expect.poll(() => seen.deletesClosed).toBe(before.closed + 1);
    expect((await rejection(stream.result)).code).toBe('ABORTED');
  });
});

describe('calls a server answers at once, against one that never does', () => {
  it('getSession and catalog give up after idleTimeoutMs with NETWORK_ERROR', async () => {
    const client = createEnclaveClient({ url, idleTimeoutMs: 100 });
    // A head, and then a body that never ends.
    for (const call of [client.getSession('ses_quiet'), client.catalog()]) {
      const err = await rejection(call);
      expect(err.code).toBe('NETWORK_ERROR');
      expect(err.message).toMatch(/no whole answer within 100 ms/);
    }
  }, 5_000);

  it("the caller's abort is still ABORTED", async () => {
    const client = createEnclaveClient({ url, idleTimeoutMs: 60_000 });
    const controller = new AbortController();
    const before = seen.requests;
    const status = client.getSession('ses_quiet', { signal: controller.signal });
    await expect.poll(() => seen.requests).toBe(before + 1);
    controller.abort();
    expect((await rejection(status)).code).toBe('ABORTED');
  });
});

describe('a server that replays delivered events without end', () => {
  it('is refused with BAD_RESPONSE (not retried) once one connection brought more replays than there were events', async () => {
    const client = createEnclaveClient({ url, retry: { maxRetries: 3, initialDelayMs: 1 } });
    const before = seen.requests;
    const err = await rejection(client.session('ses_replay').result);
    expect(err.code).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/replays without end/);
    await expect.poll(() => seen.replayClosed).toBe(true);
    expect(seen.requests).toBe(before + 1);
  }, 10_000);
});
