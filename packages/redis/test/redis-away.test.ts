/**
 * Redis killed (`kill -9`) and started again while an app keeps serving: what the stores leave behind.
 * ioredis queues every command while it reconnects; a store gives up on its call after
 * `commandTimeoutMs`, but the command stayed queued, was sent when Redis came back, and a retry (a
 * session's events, its end, a lease renewal) queued another copy each time. Measured before the fix:
 * the queue grew by about one command per request and per retry for as long as Redis was away (394
 * after 18 s of 300 refused requests and one session; 3,180 after 31 s at 100 calls a second), and
 * every one of them ran once Redis was back: a user's requests that got 503 were counted against their
 * rate limit after the fact.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Enclave, createEnclaveHandler } from '@enclave-kit/engine';
import { handleNodeRequest } from '@enclave-kit/engine/node';
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { redisRuntime, redisStores } from '../src/index.js';
import { eventually, sleep, useRedis } from './redis.js';

const redis = useRedis();
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).toReversed()) await fn();
});

/** A client as the README makes one: ioredis's own reconnection delays (50 ms more each attempt, at most 2 s). */
const appClient = () => redis.client({ retryStrategy: (times: number) => Math.min(times * 50, 2000) });

/** Commands the client holds for a connection it is making again (ioredis's own queue). */
const queued = (client: Redis) => (client as unknown as { offlineQueue: { length: number } }).offlineQueue.length;

async function serve(client: Redis, max: number, wait: Promise<unknown> = Promise.resolve()) {
  const stores = redisStores(client, { prefix: redis.prefix(), commandTimeoutMs: 300 });
  const handler = createEnclaveHandler({
    tools: () => ({ wait: () => wait }),
    authenticate: ({ request }) => ({ id: request.headers.get('x-user') ?? 'anon' }),
    rateLimit: { max, windowMs: 60_000, key: ({ user }) => user.id, store: stores.rateLimitStore },
    sessions: stores.sessions,
    leases: stores.leases,
    maxRunsPerUser: max,
    logger: { info() {}, error() {} },
  });
  const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req, res }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => {
    server.closeAllConnections();
    server.close();
    handler.dispose();
    stores.dispose();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/enclave`;
  return (user: string, path = '', code = 'return 1') =>
    fetch(url + path, { method: path.startsWith('/sessions/') ? 'GET' : 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, ...(path.startsWith('/sessions/') ? {} : { body: JSON.stringify({ code }) }) }).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }));
}

describe('Redis killed and started again', () => {
  it('requests refused while it was away leave nothing queued, and are not counted once it is back', async () => {
    const client = appClient();
    await client.ping();
    const post = await serve(client, 5);
    expect((await post('alice')).status).toBe(200);

    process.kill(redis.server.pid as number, 'SIGKILL');
    await eventually(async () => {
      if (client.status === 'ready') throw new Error('still connected');
    });
    try {
      // Alice keeps trying, as clients do: runs and sessions, 30 of them, all refused.
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post('alice', i % 2 === 0 ? '' : '/sessions')));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 503));
      // Before: 30 commands (one per request) waited in the client for Redis to come back.
      expect(queued(client)).toBeLessThanOrEqual(2);
    } finally {
      await redis.server.start();
    }
    await eventually(() => client.ping());
    // Before: the 30 refused requests reached the new Redis late and took alice's 5 requests of the minute: 429.
    const after = await post('alice');
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toMatchObject({ success: true, value: 1 });
    // Bob was never refused, and is served too.
    expect((await post('bob')).status).toBe(200);
  }, 60_000);

  it('a session whose run ends while Redis is away piles no copies of its writes into the client, and its result is there once Redis is back', async () => {
    const client = appClient();
    await client.ping();
    let release!: (value: unknown) => void;
    const post = await serve(client, 1000, new Promise((r) => (release = r)));
    // Waits for a tool, then logs 200 KB and ends: its events and its end are written while Redis is away, and retried.
    let piled = -1;
    const started = await post('carol', '/sessions', "await callTool('wait', {}); for (let i = 0; i < 200; i++) console.log('x'.repeat(1000)); return 'done';");
    expect(started.status).toBe(201);
    const { sessionId } = JSON.parse(started.body) as { sessionId: string };
    process.kill(redis.server.pid as number, 'SIGKILL');
    await eventually(async () => {
      if (client.status === 'ready') throw new Error('still connected');
    });
    try {
      release(1);
      // Long enough for several retries of each write, and for the run's liveness to be renewed.
      await sleep(4000);
      // Before: a copy of the pending events per retry, plus every renewal, waited in the client.
      piled = queued(client);
    } finally {
      await redis.server.start();
    }
    await eventually(() => client.ping());
    const state = await eventually(async () => {
      const answer = await post('carol', `/sessions/${sessionId}`);
      const view = JSON.parse(answer.body) as { state?: string };
      if (view.state !== 'completed') throw new Error(`the session is ${answer.body.slice(0, 200)}`);
      return view;
    }, 20_000);
    expect(state).toMatchObject({ state: 'completed', result: { success: true, value: 'done' } });
    expect(piled).toBeLessThanOrEqual(2);
  }, 60_000);
});

describe('Redis connected but not answering (paused, a network that drops everything)', () => {
  it('once a call has gone unanswered past commandTimeoutMs, later calls fail at once instead of piling up behind it, and are not counted later', async () => {
    const client = appClient();
    await client.ping();
    const post = await serve(client, 50);
    const pending = (client as unknown as { commandQueue: { length: number } }).commandQueue;
    const { ended } = await redis.unresponsive(6000);
    const statuses: number[] = [];
    // Five rounds of 20 requests by alice, each round once the last has its answers.
    for (let round = 0; round < 5; round++) statuses.push(...(await Promise.all(Array.from({ length: 20 }, () => post('alice')))).map((a) => a.status));
    expect(statuses).toEqual(statuses.map(() => 503));
    // Before: 100, a command per request, each waiting for Redis; now only the first round's.
    expect(pending.length).toBeLessThanOrEqual(20);
    await ended;
    await eventually(() => client.ping());
    // Before: the 100 refused requests were counted once Redis answered them: over alice's 50, a 429.
    expect((await post('alice')).status).toBe(200);
  }, 60_000);
});

describe('Redis killed and started again, under an app with runtime nodes', () => {
  it('runs refused while it was away (RUNTIME_UNAVAILABLE) are not queued for the nodes once it is back', async () => {
    const client = appClient();
    await client.ping();
    const prefix = redis.prefix();
    const enclave = new Enclave({ adapter: redisRuntime({ redis: client, prefix, commandTimeoutMs: 300, queueTimeoutMs: 500 }) });
    cleanup.push(() => enclave.dispose());
    // A first run, which no node takes: the app listens to its channel from then on.
    expect(await enclave.run('return 0')).toMatchObject({ success: false, error: { code: 'RUNTIME_UNAVAILABLE' } });
    process.kill(redis.server.pid as number, 'SIGKILL');
    await eventually(async () => {
      if (client.status === 'ready') throw new Error('still connected');
    });
    try {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => enclave.run(`return ${i}`, { input: { pad: 'x'.repeat(10_000) } })));
      expect(results.map((r) => (r.success ? 'OK' : r.error.code))).toEqual(results.map(() => 'RUNTIME_UNAVAILABLE'));
    } finally {
      await redis.server.start();
    }
    await eventually(() => client.ping());
    // Before: the ten runs whose callers had their answer reached the new Redis late, queued for any node to run.
    const reader = redis.client();
    // (Before: a stream of 10 entries.)
    expect(await reader.keys(`${prefix}*job*`)).toEqual([]);
    expect(await reader.exists(`${prefix}{rt}:jobs`)).toBe(0);
  }, 60_000);
});
