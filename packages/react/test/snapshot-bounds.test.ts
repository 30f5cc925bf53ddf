/**
 * What the hook's snapshot keeps of a long or chatty session, against a real `node:http` server on port 0:
 * a flood of small events, events of a megabyte each, and a session that sends events without end. The
 * snapshot keeps the newest `maxEvents` / `maxLogs` within `maxLength` characters, an `events_dropped`
 * marker at the front standing for the rest, and every snapshot published stays as it was published.
 */
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createEnclaveClient, eventLength } from '@enclave-kit/client';
import type { EnclaveEvent } from '@enclave-kit/client';
import { EnclaveSessionModel } from '../src/session-model.js';
import { listenForTests } from './listen.js';
import type { EnclaveSessionSnapshot } from '../src/session-model.js';

const SESSION = 'ses_bounds';
const json = (seq: number, type: string, payload: string) => `{"sessionId":"${SESSION}","seq":${seq},"type":"${type}","time":${seq},"payload":${payload}}`;
const logJson = (seq: number, message: string) => json(seq, 'log', `{"level":"info","message":"${message}","time":1}`);
const finalJson = (seq: number) => json(seq, 'final', '{"success":true,"value":"done","stats":{"duration":1,"toolCallCount":0,"iterationCount":0}}');

/** `session_init`, `logs` log events made by `message`, `final`. */
function session(logs: number, message: (seq: number) => string): string[] {
  const out = [json(1, 'session_init', '{}')];
  for (let seq = 2; seq <= logs + 1; seq++) out.push(logJson(seq, message(seq)));
  out.push(finalJson(logs + 2));
  return out;
}

const FLOOD_LOGS = 20_000;
const BIG_LOGS = 30;
const MiB = 1024 * 1024;
const BIG_MESSAGE = 'x'.repeat(MiB);
const BODIES: Record<string, string[]> = {
  '/flood/sessions': session(FLOOD_LOGS, (seq) => `tick ${seq}`),
  '/big/sessions': session(BIG_LOGS, () => BIG_MESSAGE),
};

/** Log events the endless session wrote, and whether its reader hung up. */
const endless = { written: 0, closed: false };

let requests = 0;
const server = createServer((req, res) => {
  requests++;
  req.resume();
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-session-id': SESSION });
  const body = BODIES[req.url ?? ''];
  if (body !== undefined) return void res.end(body.map((j) => `data: ${j}\n\n`).join(''));
  // A session that never ends: log events as fast as the reader takes them, until it hangs up.
  endless.written = 0;
  endless.closed = false;
  res.on('close', () => (endless.closed = true));
  res.write(`data: ${json(1, 'session_init', '{}')}\n\n`);
  const pump = () => {
    while (!endless.closed) {
      const batch: string[] = [];
      for (let i = 0; i < 100; i++) batch.push(`data: ${logJson(++endless.written + 1, `line ${endless.written}`)}\n\n`);
      if (!res.write(batch.join(''))) return void res.once('drain', pump);
    }
  };
  pump();
});
const origin = listenForTests(server);

/** A model whose every published snapshot is written down with what its arrays held then. */
function watchedModel(): { model: EnclaveSessionModel; published: { snapshot: EnclaveSessionSnapshot; events: EnclaveEvent[]; logs: unknown[] }[] } {
  const model = new EnclaveSessionModel();
  const published: { snapshot: EnclaveSessionSnapshot; events: EnclaveEvent[]; logs: unknown[] }[] = [];
  model.subscribe(() => {
    const snapshot = model.getSnapshot();
    published.push({ snapshot, events: [...snapshot.events], logs: [...snapshot.logs] });
  });
  return { model, published };
}

/** The events after the marker follow on without gaps, and the marker covers every seq before them. */
function expectMarkerThenContiguous(events: readonly EnclaveEvent[], dropped: number): void {
  const [marker, ...rest] = events;
  expect(marker).toMatchObject({ type: 'events_dropped', seq: 1, payload: { fromSeq: 1, toSeq: dropped, count: dropped } });
  expect(rest.map((e) => e.seq)).toEqual(rest.map((_, i) => dropped + 1 + i));
}

describe('the snapshot keeps the newest events and logs', () => {
  it('a flood of 20,000 logs, default bounds: 10,000 of each, a marker for the older events, the counts of the dropped', async () => {
    const { model, published } = watchedModel();
    const client = createEnclaveClient({ url: `${origin()}/flood`, retry: false });
    expect(await model.execute(client, 'return 1', {}, {})).toMatchObject({ success: true });
    const snapshot = model.getSnapshot();
    const total = FLOOD_LOGS + 2;
    expect(snapshot.events).toHaveLength(10_001);
    expectMarkerThenContiguous(snapshot.events, total - 10_000);
    expect(snapshot.droppedEvents).toBe(total - 10_000);
    expect(snapshot.events.at(-1)?.type).toBe('final');
    expect(snapshot.logs).toHaveLength(10_000);
    expect(snapshot.droppedLogs).toBe(FLOOD_LOGS - 10_000);
    expect(snapshot.logs[0]?.message).toBe(`tick ${FLOOD_LOGS + 1 - 9_999}`);
    // Published in batches, each snapshot left as it was published (arrays and the marker in them).
    expect(published.length).toBeLessThan(200);
    for (const p of published) {
      expect(p.snapshot.events).toEqual(p.events);
      expect(p.snapshot.logs).toEqual(p.logs);
      expect(p.snapshot.events.length).toBeLessThanOrEqual(10_001);
    }
  });

  it('tight bounds: maxEvents 100 and maxLogs 10', async () => {
    const model = new EnclaveSessionModel();
    const client = createEnclaveClient({ url: `${origin()}/flood`, retry: false });
    await model.execute(client, 'return 1', {}, { maxEvents: 100, maxLogs: 10 });
    const snapshot = model.getSnapshot();
    expect(snapshot.events).toHaveLength(101);
    expectMarkerThenContiguous(snapshot.events, FLOOD_LOGS + 2 - 100);
    expect(snapshot.logs.map((l) => l.message)).toEqual(Array.from({ length: 10 }, (_, i) => `tick ${FLOOD_LOGS - 8 + i}`));
    expect(snapshot.droppedLogs).toBe(FLOOD_LOGS - 10);
  });

  it('events of 1 MiB each: at most the default 16 Mi characters of events, and of logs', async () => {
    const model = new EnclaveSessionModel();
    const client = createEnclaveClient({ url: `${origin()}/big`, retry: false });
    await model.execute(client, 'return 1', {}, {});
    const snapshot = model.getSnapshot();
    expect(snapshot.error).toBeUndefined();
    expect(snapshot.state).toBe('completed');
    const kept = snapshot.events.slice(1);
    const length = kept.reduce((sum, e) => sum + eventLength(e), 0);
    expect(length).toBeLessThanOrEqual(16 * MiB);
    // 15 logs of 1 MiB (and a bit) and the final: the other 15 logs and the session_init gave way.
    expect(kept.map((e) => e.seq)).toEqual(Array.from({ length: 16 }, (_, i) => BIG_LOGS + 2 - 15 + i));
    expectMarkerThenContiguous(snapshot.events, BIG_LOGS + 2 - 16);
    expect(snapshot.logs).toHaveLength(15);
    expect(snapshot.droppedLogs).toBe(BIG_LOGS - 15);
  });

  it('maxLength below one event keeps the newest alone', async () => {
    const model = new EnclaveSessionModel();
    const client = createEnclaveClient({ url: `${origin()}/big`, retry: false });
    await model.execute(client, 'return 1', {}, { maxLength: 1000 });
    const snapshot = model.getSnapshot();
    expect(snapshot.events.map((e) => e.type)).toEqual(['events_dropped', 'final']);
    expect(snapshot.droppedEvents).toBe(BIG_LOGS + 1);
    expect(snapshot.logs).toHaveLength(1);
    expect(snapshot.logs[0]?.message).toHaveLength(MiB);
  });

  it('a session that sends events without end: the snapshot stays within its bounds while it runs, and stops growing when detached', async () => {
    const { model, published } = watchedModel();
    const client = createEnclaveClient({ url: `${origin()}/forever`, retry: false });
    let seen = 0;
    void model.execute(client, 'return 1', {}, { maxEvents: 500, maxLogs: 50, onEvent: () => seen++ });
    await expect.poll(() => seen, { interval: 5 }).toBeGreaterThan(100_000);
    const snapshot = model.getSnapshot();
    expect(snapshot.state).toBe('running');
    expect(snapshot.events).toHaveLength(501);
    expect(snapshot.logs).toHaveLength(50);
    expect(snapshot.droppedEvents + 500).toBeGreaterThan(50_000);
    model.detach(false);
    await expect.poll(() => endless.closed).toBe(true);
    for (const p of published) {
      expect(p.snapshot.events.length).toBeLessThanOrEqual(501);
      expect(p.snapshot.events).toEqual(p.events);
    }
  });

  it.each([0, -1, 1.5, Number.NaN, '10'])('a bound of %s: state error with CONFIG_ERROR naming it, nothing is requested', async (bad) => {
    const model = new EnclaveSessionModel();
    const before = requests;
    const client = createEnclaveClient({ url: `${origin()}/forever`, retry: false });
    expect(await model.execute(client, 'return 1', {}, { maxLogs: bad as number })).toBeUndefined();
    expect(requests).toBe(before);
    expect(model.getSnapshot()).toMatchObject({ state: 'error', isRunning: false, error: { code: 'CONFIG_ERROR', message: expect.stringMatching(/maxLogs must be a positive integer/) } });
  });
});
