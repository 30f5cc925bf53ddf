/**
 * What a stream keeps in memory for a loop that has not taken its events yet, against a real `node:http`
 * server on port 0 that floods a session with small events (as a hostile or broken server may, without
 * end): a caller that awaits only `result` keeps none; a loop that lags keeps at most `maxBufferedEvents`,
 * the oldest beyond it standing behind one `events_dropped` marker, and the network is read on meanwhile
 * (the result arrives while the loop is stalled). `bufferedEvents` is the count the stream holds.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnclaveClient } from '../src/index.js';
import type { EnclaveEvent, EnclaveEventStream, StreamFormat } from '../src/index.js';

/** Log events in the flood; the server's own marker stands for 10 seqs before them. */
const LOGS = 20_000;
const SESSION = 'ses_flood';
/** seq 1 `session_init`, seq 2 the server's `events_dropped` for 2..11, logs 12.., then `final`. */
const FINAL_SEQ = 12 + LOGS;

function flood(): object[] {
  const events: object[] = [
    { sessionId: SESSION, seq: 1, type: 'session_init', time: 1, payload: {} },
    { sessionId: SESSION, seq: 2, type: 'events_dropped', time: 1, payload: { fromSeq: 2, toSeq: 11, count: 10 } },
  ];
  for (let seq = 12; seq < FINAL_SEQ; seq++) events.push({ sessionId: SESSION, seq, type: 'log', time: 1, payload: { level: 'info', message: `tick ${seq}`, time: 1 } });
  events.push({ sessionId: SESSION, seq: FINAL_SEQ, type: 'final', time: 1, payload: { success: true, value: 'done', stats: { duration: 1, toolCallCount: 0, iterationCount: 0 } } });
  return events;
}

const SSE = flood()
  .map((e) => `id: ${(e as EnclaveEvent).seq}\ndata: ${JSON.stringify(e)}\n\n`)
  .join('');
const NDJSON = flood()
  .map((e) => `${JSON.stringify(e)}\n`)
  .join('');

/** Log events of 1 MiB of message each in the big flood: 20 MiB in all, more than the default 16 Mi characters. */
const BIG_LOGS = 20;
const BIG_FINAL_SEQ = BIG_LOGS + 2;
const BIG_MESSAGE = 'x'.repeat(1024 * 1024);

/** `session_init`, `BIG_LOGS` logs of 1 MiB each, `final`: each event's JSON as the server sends it. */
const bigFlood: string[] = [
  JSON.stringify({ sessionId: SESSION, seq: 1, type: 'session_init', time: 1, payload: {} }),
  ...Array.from({ length: BIG_LOGS }, (_, i) => JSON.stringify({ sessionId: SESSION, seq: i + 2, type: 'log', time: 1, payload: { level: 'info', message: BIG_MESSAGE, time: 1 } })),
  JSON.stringify({ sessionId: SESSION, seq: BIG_FINAL_SEQ, type: 'final', time: 1, payload: { success: true, value: 'done', stats: { duration: 1, toolCallCount: 0, iterationCount: 0 } } }),
];

let url = '';
let bigUrl = '';
const server = createServer((req, res) => {
  req.resume();
  const ndjson = req.headers.accept === 'application/x-ndjson';
  res.writeHead(200, { 'content-type': ndjson ? 'application/x-ndjson' : 'text/event-stream', 'x-session-id': SESSION });
  if (!req.url?.startsWith('/big/')) return void res.end(ndjson ? NDJSON : SSE);
  for (const json of bigFlood) res.write(ndjson ? `${json}\n` : `data: ${json}\n\n`);
  res.end();
});
// Connections stay open between requests for the file's whole run (closed in afterAll): with Node's 5 s
// idle timeout, a request the client sent on a pooled connection as the server's timer closed it failed
// with ECONNRESET on a loaded CI (these clients do not retry, as the tests want).
server.keepAliveTimeout = 0;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave`;
  bigUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big/enclave`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Every seq from 1 to the final's is delivered or covered by a marker, and delivered ones are in order. */
function expectEverySeqAccounted(events: EnclaveEvent[]): void {
  let next = 1;
  for (const event of events) {
    expect(event.seq).toBe(next);
    next = event.type === 'events_dropped' ? event.payload.toSeq + 1 : event.seq + 1;
  }
  expect(next).toBe(FINAL_SEQ + 1);
}

/** Resolves when the stream's `final` event has been delivered, without reading `result`. */
function finalDelivered(): { onEvent: (e: EnclaveEvent) => void; arrived: Promise<number> } {
  let seen = 0;
  let done!: (n: number) => void;
  const arrived = new Promise<number>((resolve) => (done = resolve));
  return {
    onEvent: (e) => {
      seen++;
      if (e.type === 'final') done(seen);
    },
    arrived,
  };
}

describe.each<StreamFormat>(['sse', 'ndjson'])('a server that floods a session with small events (%s)', (format) => {
  it('a caller that awaits only the result keeps no event; onEvent still sees every one', async () => {
    const client = createEnclaveClient({ url, retry: false });
    let seen = 0;
    const stream = client.stream('return 1', { format, onEvent: () => seen++ });
    expect(await stream.result).toMatchObject({ success: true, value: 'done' });
    expect(seen).toBe(LOGS + 3);
    expect(stream.bufferedEvents).toBe(0);
  });

  it('reading the result, then iterating at once (before any event came): every event is delivered', async () => {
    const client = createEnclaveClient({ url, retry: false });
    const stream = client.stream('return 1', { format });
    const result = stream.result;
    const events: EnclaveEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(await result).toMatchObject({ success: true });
    expect(events.length).toBe(LOGS + 3);
    expect(events.some((e) => e.seq > 2 && e.type === 'events_dropped')).toBe(false);
    expectEverySeqAccounted(events);
  });

  it('iterating after the result was read: one marker for everything that passed, then the end', async () => {
    const client = createEnclaveClient({ url, retry: false });
    const stream = client.session(SESSION, { format });
    await stream.result;
    const events: EnclaveEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events).toEqual([{ sessionId: SESSION, seq: 1, type: 'events_dropped', time: 1, payload: { fromSeq: 1, toSeq: FINAL_SEQ, count: FINAL_SEQ } }]);
  });

  it.each([1, 100, 10_000])('a loop that stalls keeps at most maxBufferedEvents = %i; the oldest give way to one marker, the result still comes', async (max) => {
    const client = createEnclaveClient({ url, retry: false });
    const stream = client.stream('return 1', { format, maxBufferedEvents: max });
    const events: EnclaveEvent[] = [];
    let kept = -1;
    for await (const event of stream) {
      if (events.length === 0) {
        // The loop stalls on its first event until every other one has been read off the network.
        await stream.result;
        kept = stream.bufferedEvents;
      }
      events.push(event);
    }
    expect(kept).toBe(max);
    expect(stream.bufferedEvents).toBe(0);
    expect(events.length).toBe(max + 2);
    expect(events[0]?.type).toBe('session_init');
    const marker = events[1] as EnclaveEvent<'events_dropped'>;
    // The server's marker (2..11, count 10) is among the dropped: the client's covers it too.
    expect(marker).toMatchObject({ seq: 2, type: 'events_dropped', payload: { fromSeq: 2, toSeq: FINAL_SEQ - max, count: FINAL_SEQ - max - 1 } });
    expect(events.at(-1)?.type).toBe('final');
    expectEverySeqAccounted(events);
  });

  it('breaking out of a loop that lags lets go of what it had not taken', async () => {
    const client = createEnclaveClient({ url, retry: false });
    const stream = client.stream('return 1', { format });
    for await (const event of stream) {
      expect(event.type).toBe('session_init');
      await stream.result;
      expect(stream.bufferedEvents).toBe(10_000);
      break;
    }
    expect(stream.bufferedEvents).toBe(0);
  });

  it('a stream nobody iterates or asks the result of keeps at most the default 10,000; a late loop gets a marker, then those', async () => {
    const client = createEnclaveClient({ url, retry: false });
    const final = finalDelivered();
    const stream: EnclaveEventStream = client.stream('return 1', { format, onEvent: final.onEvent });
    expect(await final.arrived).toBe(LOGS + 3);
    expect(stream.bufferedEvents).toBe(10_000);
    const events: EnclaveEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.length).toBe(10_001);
    expect(events[0]).toMatchObject({ seq: 1, type: 'events_dropped', payload: { fromSeq: 1, toSeq: FINAL_SEQ - 10_000, count: FINAL_SEQ - 10_000 } });
    expectEverySeqAccounted(events);
  });
});

describe('maxBufferedEvents is checked', () => {
  it.each([0, -1, 1.5, '10', Number.NaN])('%s: CONFIG_ERROR naming it, from the client and per stream', (bad) => {
    expect(() => createEnclaveClient({ url: 'http://127.0.0.1:1/enclave', maxBufferedEvents: bad as number })).toThrow(/maxBufferedEvents must be a positive integer/);
    const client = createEnclaveClient({ url: 'http://127.0.0.1:1/enclave' });
    expect(() => client.session(SESSION, { maxBufferedEvents: bad as number })).toThrow(/stream\/session options: maxBufferedEvents must be a positive integer/);
  });

  it("the client's bound applies to its streams, a stream's own overrides it", async () => {
    const client = createEnclaveClient({ url, retry: false, maxBufferedEvents: 50 });
    for (const [options, kept] of [
      [{}, 50],
      [{ maxBufferedEvents: 70 }, 70],
    ] as const) {
      const final = finalDelivered();
      const stream = client.session(SESSION, { ...options, onEvent: final.onEvent });
      await final.arrived;
      expect(stream.bufferedEvents).toBe(kept);
      stream.close();
    }
  });
});

describe.each<StreamFormat>(['sse', 'ndjson'])('a server that sends events of megabytes (%s)', (format) => {
  /** Iterates a stream whose loop stalls on its first event until the result is in: what it held then, and every event. */
  async function stalledLoop(stream: EnclaveEventStream): Promise<{ events: EnclaveEvent[]; keptEvents: number; keptLength: number }> {
    const events: EnclaveEvent[] = [];
    let keptEvents = -1;
    let keptLength = -1;
    for await (const event of stream) {
      if (events.length === 0) {
        await stream.result;
        keptEvents = stream.bufferedEvents;
        keptLength = stream.bufferedLength;
      }
      events.push(event);
    }
    expect(stream.bufferedLength).toBe(0);
    return { events, keptEvents, keptLength };
  }

  /** The characters of JSON the server sent for the events with these seqs. */
  const lengthOf = (seqs: number[]) => seqs.reduce((sum, seq) => sum + (bigFlood[seq - 1] as string).length, 0);

  it('a loop that lags keeps at most the default 16 Mi characters of them, not 10,000 events', async () => {
    const client = createEnclaveClient({ url: bigUrl, retry: false });
    const { events, keptEvents, keptLength } = await stalledLoop(client.stream('return 1', { format }));
    // 15 logs of 1 MiB and the final fit in 16 Mi characters; the 5 oldest logs gave way to the marker.
    expect(keptEvents).toBe(16);
    const kept = events.slice(2).map((e) => e.seq);
    expect(keptLength).toBe(lengthOf(kept));
    expect(keptLength).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(events[1]).toMatchObject({ seq: 2, type: 'events_dropped', payload: { fromSeq: 2, toSeq: 6, count: 5 } });
    expect(kept).toEqual(Array.from({ length: 16 }, (_, i) => i + 7));
    expect(events.at(-1)?.type).toBe('final');
  });

  it('a bound below one event keeps the newest alone: the loop still gets the final', async () => {
    const client = createEnclaveClient({ url: bigUrl, retry: false, maxBufferedLength: 100 * 1024 * 1024 });
    // The stream's own bound overrides the client's.
    const { events, keptEvents, keptLength } = await stalledLoop(client.stream('return 1', { format, maxBufferedLength: 1000 }));
    expect(keptEvents).toBe(1);
    expect(keptLength).toBe(lengthOf([BIG_FINAL_SEQ]));
    expect(events.map((e) => e.type)).toEqual(['session_init', 'events_dropped', 'final']);
    expect(events[1]).toMatchObject({ payload: { fromSeq: 2, toSeq: BIG_FINAL_SEQ - 1, count: BIG_LOGS } });
  });

  it("the client's bound applies when the stream sets none; a loop that keeps up loses nothing", async () => {
    const client = createEnclaveClient({ url: bigUrl, retry: false, maxBufferedLength: 3 * 1024 * 1024 });
    const lagging = await stalledLoop(client.stream('return 1', { format }));
    expect(lagging.keptEvents).toBe(3);
    const events: EnclaveEvent[] = [];
    for await (const event of client.stream('return 1', { format })) events.push(event);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: BIG_FINAL_SEQ }, (_, i) => i + 1));
  });
});

describe('maxBufferedLength is checked', () => {
  it.each([0, -1, 1.5, '10', Number.NaN])('%s: CONFIG_ERROR naming it, from the client and per stream', (bad) => {
    expect(() => createEnclaveClient({ url: 'http://127.0.0.1:1/enclave', maxBufferedLength: bad as number })).toThrow(/maxBufferedLength must be a positive integer/);
    const client = createEnclaveClient({ url: 'http://127.0.0.1:1/enclave' });
    expect(() => client.session(SESSION, { maxBufferedLength: bad as number })).toThrow(/stream\/session options: maxBufferedLength must be a positive integer/);
  });
});
