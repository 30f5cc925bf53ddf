/**
 * The client against a proxy that cuts its connections at random points: in the middle of the response
 * head's aftermath, of an event, of a line, between events, before the head of a reconnection. Each
 * session draws its cuts from its own seeded generator (ENCLAVE_CUT_SEED to replay a failure), so a
 * failing session fails the same way again whatever the interleaving of the others.
 */
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnclaveClient } from '../src/index.js';
import type { EnclaveEvent } from '../src/index.js';
import type { Cut, CuttingProxy, TestServer } from './server.js';
import { seededRandom, startCuttingProxy, startServer } from './server.js';

const SEED = Number(process.env.ENCLAVE_CUT_SEED ?? 16_2026);

/** Logs and tool calls with small waits, so that cuts fall on replayed events and on live ones. */
const SCRIPT = `let sum = 0;
for (let i = 0; i < input.steps.length; i++) {
  console.log('step', i, input.pad);
  if (input.steps[i] >= 0) sum += await callTool('tick', { i, ms: input.steps[i] });
}
return { steps: input.steps.length, sum };`;

interface Plan {
  steps: number[];
  pad: string;
  format: 'sse' | 'ndjson';
  expected: { steps: number; sum: number };
}

/** Session `k`'s script input and expected value, from its own generator. */
function planFor(k: number): Plan {
  const random = seededRandom(SEED * 1009 + k);
  const count = 8 + Math.floor(random() * 30);
  // -1: a step without a tool call; otherwise the tool's wait in ms.
  const steps = Array.from({ length: count }, () => (random() < 0.6 ? Math.floor(random() * 4) : -1));
  const sum = steps.reduce((s, ms, i) => (ms >= 0 ? s + i : s), 0);
  return { steps, pad: 'x'.repeat(Math.floor(random() * 120)), format: k % 2 === 0 ? 'sse' : 'ndjson', expected: { steps: count, sum } };
}

/** Per session: its cut generator and the number of cuts it took. */
interface CutLog {
  random: () => number;
  cuts: number;
}

/**
 * The proxy's plan. The starting POST is always cut in its first 1.5 KB (after its head: a POST cut
 * before it would leave the client without the session's id, and starting is by design never retried).
 * A reconnection is cut before its head one time in ten, somewhere in its first 8 KB six times in ten
 * (more often near the start: preamble, first event), and left whole otherwise, so that an event larger
 * than most cut points (a `final` carrying every log) still gets through, as on a real flaky network.
 */
function cutter(logs: Map<string, CutLog>, salt: number): (req: IncomingMessage) => Cut {
  return (req) => {
    const key = String(req.headers['x-test-session']);
    let log = logs.get(key);
    if (log === undefined) {
      log = { random: seededRandom(SEED * 7919 + salt + Number(key)), cuts: 0 };
      logs.set(key, log);
    }
    const r = log.random();
    const u = log.random();
    if (req.method === 'POST') return { afterBytes: Math.floor(u * 1500) };
    if (r < 0.1) return { beforeHead: true };
    if (r < 0.7) return { afterBytes: Math.floor(u * u * 8000) };
    return undefined;
  };
}

/** Counts the cuts that really happened (a planned one past the end of a body is none). */
function counter(logs: Map<string, CutLog>): (req: IncomingMessage) => void {
  return (req) => {
    const log = logs.get(String(req.headers['x-test-session']));
    if (log) log.cuts++;
  };
}

/** Runs `count` sessions through the proxy, `concurrency` at a time; resolves with each one's events and result. */
async function runSessions(proxy: CuttingProxy, count: number, onSession: (k: number, plan: Plan, events: EnclaveEvent[], result: unknown, id: string) => Promise<void>) {
  const retries = { count: 0 };
  const client = createEnclaveClient({ url: proxy.url, headers: { 'x-user': 'cut' }, retry: { maxRetries: 20, initialDelayMs: 2, maxDelayMs: 20 } });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const k = next++;
      const plan = planFor(k);
      const stream = client.stream(SCRIPT, {
        input: { steps: plan.steps, pad: plan.pad },
        format: plan.format,
        headers: { 'x-test-session': String(k) },
        onRetry: () => retries.count++,
      });
      const events: EnclaveEvent[] = [];
      for await (const event of stream) events.push(event);
      await onSession(k, plan, events, await stream.result, await stream.sessionId);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return retries;
}

describe(`random cuts (seed ${SEED}; ENCLAVE_CUT_SEED=... replays another)`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('100 sessions cut at random points: the client sees every event exactly once, in order, and the result', async () => {
    const logs = new Map<string, CutLog>();
    const proxy = await startCuttingProxy(server.url, cutter(logs, 1), counter(logs));
    let events = 0;
    try {
      const retries = await runSessions(proxy, 100, async (k, plan, seen, result, id) => {
        const where = `session ${k} (${plan.format}, ${logs.get(String(k))?.cuts} cuts)`;
        // Exactly the events the server recorded for the session: every seq once, in order, nothing else.
        const recorded = await server.store.read(id, 0, 10_000);
        expect(seen.map((e) => e.seq), where).toEqual(recorded.map((e) => e.seq));
        expect(seen, where).toEqual(recorded);
        expect(seen.map((e) => e.seq), where).toEqual(seen.map((_, i) => i + 1));
        expect(seen.filter((e) => e.type === 'log').length, where).toBe(plan.steps.length);
        expect(seen.at(-1)?.type, where).toBe('final');
        expect(result, where).toMatchObject({ success: true, value: plan.expected });
        events += seen.length;
      });
      const cuts = [...logs.values()].map((l) => l.cuts);
      console.log(`random cuts: 100 sessions, ${events} events, ${proxy.stats.requests} requests, ${proxy.stats.cuts} cuts, ${retries.count} reconnections (seed ${SEED})`);
      expect(cuts).toHaveLength(100);
      // Every session was cut (its POST at least), and resumed after each cut.
      expect(Math.min(...cuts)).toBeGreaterThanOrEqual(1);
      expect(retries.count).toBe(proxy.stats.cuts);
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('with a store that drops old logs: every seq is delivered or covered by an events_dropped marker, once, in order', async () => {
    const small = await startServer({ store: { maxEventBytes: 3_000 } });
    const logs = new Map<string, CutLog>();
    const proxy = await startCuttingProxy(small.url, cutter(logs, 2), counter(logs));
    let markers = 0;
    try {
      await runSessions(proxy, 20, async (k, plan, seen, result, id) => {
        const where = `session ${k}`;
        const delivered = seen.map((e) => e.seq);
        expect(delivered, where).toEqual([...new Set(delivered)].sort((a, b) => a - b));
        const last = seen.at(-1) as EnclaveEvent;
        expect(last.type, where).toBe('final');
        const accounted = new Set(delivered);
        for (const e of seen) if (e.type === 'events_dropped') for (let s = e.payload.fromSeq; s <= e.payload.toSeq; s++) accounted.add(s);
        expect(accounted.size, where).toBe(last.seq);
        markers += seen.filter((e) => e.type === 'events_dropped').length;
        // What the store still holds and the client got is the same event (a marker takes the seq of the
        // first log it replaces, which the client may have read before it was dropped).
        const recorded = new Map((await small.store.read(id, 0, 10_000)).map((e) => [e.seq, e]));
        for (const e of seen) {
          const kept = recorded.get(e.seq);
          if (e.type !== 'events_dropped' && kept !== undefined && kept.type !== 'events_dropped') expect(e, where).toEqual(kept);
        }
        expect(result, where).toMatchObject({ success: true, value: plan.expected });
      });
      console.log(`random cuts with a 3 KB event budget: 20 sessions, ${proxy.stats.cuts} cuts, ${markers} events_dropped markers delivered`);
    } finally {
      await proxy.close();
      await small.close();
    }
  }, 60_000);
});
