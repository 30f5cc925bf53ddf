/**
 * Several app instances on one Redis, as the README's "Scaling out" runs them: the Express, Hono and
 * Nest examples, each `node server.mjs` in its own process with REDIS_URL and RATE_LIMIT_PER_MINUTE, and a
 * real redis-server. A session moves between instances (started on one, resumed on another, cancelled
 * through the third), a per-user limit holds in total, an instance killed with SIGKILL has its session
 * ended by another, and Redis going away is a 503 until it is back. Timings are printed, not asserted.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedisServer } from '../../../scripts/redis-server.mjs';
import type { RedisServer } from '../../../scripts/redis-server.mjs';
import { freePort, sseEvents, startNode } from '../probe.js';
import type { Started } from '../probe.js';

const examples = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LIMIT = 5;
/** The core's default liveness: a lost instance's session ends within this plus half of it. */
const LIVENESS_MS = 10_000;

let redis: RedisServer;
let admin: Redis;
const apps: Record<'express' | 'hono' | 'nest', Started> = {} as never;
const timings: string[] = [];

async function startApp(name: keyof typeof apps): Promise<Started> {
  return startNode(['server.mjs'], { cwd: path.join(examples, name), port: await freePort(), env: { REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: String(LIMIT) } });
}

let missing: unknown;
beforeAll(async () => {
  try {
    redis = await startRedisServer();
  } catch (err) {
    // Every test fails with the reason (no redis-server: what to install), none is skipped.
    missing = err;
    return;
  }
  admin = new Redis(redis.url, { retryStrategy: () => 50 });
  admin.on('error', () => {});
  const [express, hono, nest] = await Promise.all([startApp('express'), startApp('hono'), startApp('nest')]);
  Object.assign(apps, { express, hono, nest });
}, 60_000);

beforeEach(() => {
  if (missing !== undefined) throw missing;
});

afterAll(async () => {
  for (const app of Object.values(apps)) app.stop();
  admin?.disconnect();
  await redis?.stop();
  if (timings.length > 0) console.log(`multi-instance timings (measured on this machine):\n  ${timings.join('\n  ')}`);
});

const json = (user: string) => ({ 'content-type': 'application/json', 'x-user': user });
const origin = (app: Started) => new URL(app.url).origin;

/** Each test starts the users' windows afresh: every request, on any instance, counts (alice is u1, bob u2). */
const freshWindow = (...ids: string[]) => admin.del(...(ids.length > 0 ? ids : ['u1', 'u2']).map((id) => `enclave:rl:\u0000http\u0000${id}`));

/** A run of about 6 s: a log, then four slow reports (1.5 s each) with a log after each. */
const SLOW = 'console.log("start"); for (let i = 1; i <= 4; i++) { const r = await callTool("reports:build", { days: i }); console.log("report", i, r.orders); } return "done";';

describe('three example apps on one Redis', () => {
  it('a session started on Express, cut, resumed on Hono with every event once and in order, cancelled through Nest', async () => {
    await freshWindow();
    const start = await fetch(`${apps.express.url}/sessions`, { method: 'POST', headers: { ...json('alice'), accept: 'text/event-stream' }, body: JSON.stringify({ code: SLOW }) });
    const sessionId = start.headers.get('x-session-id');
    expect(sessionId).toBeTruthy();
    const onExpress = await sseEvents(start, 3);
    // Cut; resumed on Hono after the last id seen; cut again; resumed again there.
    const eventsOn = (app: Started, after: string) => fetch(`${app.url}/sessions/${sessionId}/events`, { headers: { 'x-user': 'alice', 'last-event-id': after } });
    const onHono = await sseEvents(await eventsOn(apps.hono, onExpress.at(-1)?.id ?? ''), 3);
    const following = eventsOn(apps.hono, onHono.at(-1)?.id ?? '').then((res) => sseEvents(res));
    // Nobody else sees it, through any instance.
    expect((await fetch(`${apps.nest.url}/sessions/${sessionId}`, { headers: { 'x-user': 'bob' } })).status).toBe(404);
    const t0 = performance.now();
    const cancelled = await fetch(`${apps.nest.url}/sessions/${sessionId}`, { method: 'DELETE', headers: { 'x-user': 'alice' } });
    const cancelMs = performance.now() - t0;
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ sessionId, state: 'cancelled', result: { success: false, error: { code: 'ABORTED' } } });
    const rest = await following;
    const finalMs = performance.now() - t0;
    const all = [...onExpress, ...onHono, ...rest];
    expect(all.map((e) => Number(e.id))).toEqual(all.map((_, i) => i + 1));
    expect(all.map((e) => e.data.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all.slice(0, 3).map((e) => e.event)).toEqual(['session_init', 'log', 'tool_call']);
    expect(all.filter((e) => e.event === 'final')).toHaveLength(1);
    // The run on Express was stopped (it would have run 6 s and returned "done").
    const final = all.at(-1)?.data.payload;
    expect(final).toMatchObject({ success: false, error: { code: 'ABORTED' } });
    expect(await (await fetch(`${apps.express.url}/sessions/${sessionId}`, { headers: { 'x-user': 'alice' } })).json()).toMatchObject({ state: 'cancelled' });
    timings.push(`cancel through Nest of a run on Express: DELETE answered (final state) in ${cancelMs.toFixed(0)} ms, final reached the reader on Hono in ${finalMs.toFixed(0)} ms`);
  }, 30_000);

  it(`RATE_LIMIT_PER_MINUTE=${LIMIT}: exactly ${LIMIT} of 8 requests spread over two instances, and the third refuses too`, async () => {
    await freshWindow();
    const spread = [apps.express, apps.hono];
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await fetch((spread[i % 2] as Started).url, { method: 'POST', headers: json('bob'), body: JSON.stringify({ code: 'return 1' }) });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      await res.body?.cancel();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect((await fetch(apps.nest.url, { method: 'POST', headers: json('bob'), body: JSON.stringify({ code: 'return 1' }) })).status).toBe(429);
    // Another user has a window of their own.
    await freshWindow('u1');
    expect((await fetch(apps.nest.url, { method: 'POST', headers: json('alice'), body: JSON.stringify({ code: 'return 1' }) })).status).toBe(200);
  });

  it('Redis stopped mid-test: 503 with Retry-After while it is down, and every instance recovers by itself', async () => {
    await freshWindow();
    await redis.halt();
    const t0 = performance.now();
    const down = await Promise.all([
      fetch(`${apps.express.url}/sessions`, { method: 'POST', headers: json('alice'), body: JSON.stringify({ code: 'return 1' }) }),
      fetch(apps.hono.url, { method: 'POST', headers: json('alice'), body: JSON.stringify({ code: 'return 1' }) }),
      fetch(`${apps.nest.url}/sessions/ses_whatever`, { headers: { 'x-user': 'alice' } }),
    ]);
    const downMs = performance.now() - t0;
    for (const res of down) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SERVICE_UNAVAILABLE');
    }
    await redis.start();
    const t1 = performance.now();
    // Each instance finds Redis again by itself, on its own client's reconnect backoff: each is asked (as
    // bob) until it answers something other than 503, within the same bound. Asking Nest alone and then
    // reading through Express failed whenever Express reconnected a moment later than Nest.
    for (const name of ['express', 'hono', 'nest'] as const) {
      for (;;) {
        const res = await fetch(apps[name].url, { method: 'POST', headers: json('bob'), body: JSON.stringify({ code: 'return 1' }) });
        await res.body?.cancel();
        if (res.status !== 503 || performance.now() - t1 > 15_000) {
          expect(res.status, `${name} after Redis came back`).toBe(200);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // Back: a session started on Nest is read through Express.
    let started: Response;
    for (;;) {
      started = await fetch(`${apps.nest.url}/sessions`, { method: 'POST', headers: json('alice'), body: JSON.stringify({ code: 'console.log("back"); return 2;' }) });
      if (started.status === 201 || performance.now() - t1 > 15_000) break;
      await started.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
    }
    const recoveredMs = performance.now() - t1;
    expect(started.status).toBe(201);
    const { eventsUrl } = (await started.json()) as { eventsUrl: string };
    const events = await sseEvents(await fetch(`${origin(apps.express)}${eventsUrl}`, { headers: { 'x-user': 'alice' } }));
    expect(events.map((e) => e.event)).toEqual(['session_init', 'log', 'final']);
    expect(events.at(-1)?.data.payload).toMatchObject({ success: true, value: 2 });
    timings.push(`Redis down: three requests answered 503 in ${downMs.toFixed(0)} ms (all at once); after redis-server was back, a session start succeeded after ${recoveredMs.toFixed(0)} ms`);
  }, 40_000);

  it(`kill -9 of the instance running a session: a reader on another instance gets final RUN_LOST (the time it took is reported, bound ${LIVENESS_MS * 1.5} ms by design)`, async () => {
    await freshWindow();
    const start = await fetch(`${apps.hono.url}/sessions`, { method: 'POST', headers: { ...json('alice'), accept: 'text/event-stream' }, body: JSON.stringify({ code: SLOW }) });
    const sessionId = start.headers.get('x-session-id');
    const head = await sseEvents(start, 3);
    const following = fetch(`${apps.express.url}/sessions/${sessionId}/events`, { headers: { 'x-user': 'alice', 'last-event-id': head.at(-1)?.id ?? '0' } }).then((res) => sseEvents(res));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    apps.hono.child.kill('SIGKILL');
    const rest = await following;
    const lostMs = performance.now() - t0;
    const all = [...head, ...rest];
    expect(all.map((e) => e.data.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all.filter((e) => e.event === 'final')).toHaveLength(1);
    expect(all.at(-1)?.data.payload).toMatchObject({ success: false, error: { code: 'RUN_LOST' } });
    expect(await (await fetch(`${apps.nest.url}/sessions/${sessionId}`, { headers: { 'x-user': 'alice' } })).json()).toMatchObject({ state: 'failed', result: { error: { code: 'RUN_LOST' } } });
    timings.push(`kill -9 of Hono running a session: final RUN_LOST reached the reader on Express ${lostMs.toFixed(0)} ms after the kill (bound: ${LIVENESS_MS * 1.5} ms)`);
  }, 40_000);
});
