/**
 * A real redis-server per test file (scripts/redis-server.mjs), and ioredis clients on it that are all
 * closed after the file. Each test takes its own key prefix, so tests never see each other's keys.
 */
import type { Enclave, ToolContext } from '@enclave-kit/engine';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startRedisServer } from '../../../scripts/redis-server.mjs';
import type { RedisServer } from '../../../scripts/redis-server.mjs';

export interface TestRedis {
  readonly server: RedisServer;
  /** A new client (closed after the file); it reconnects every 50 ms while the server is away. */
  client(options?: RedisOptions): Redis;
  /** A fresh key prefix. */
  prefix(): string;
  /**
   * Makes the server answer no client for `ms` (CLIENT PAUSE), and resolves once that holds, with a
   * promise that settles when it ends. `DEBUG SLEEP` sent "50 ms before" the calls under test raced
   * them on a loaded machine: the calls could reach the server first and be answered.
   */
  unresponsive(ms: number): Promise<{ ended: Promise<unknown> }>;
}

export function useRedis(): TestRedis {
  let server: RedisServer | undefined;
  let missing: unknown;
  const clients: Redis[] = [];
  beforeAll(async () => {
    try {
      server = await startRedisServer();
    } catch (err) {
      missing = err;
    }
  });
  // Every test fails with the reason (no redis-server: what to install), none is skipped.
  beforeEach(() => {
    if (missing !== undefined) throw missing;
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('redis-server has not started');
      return server;
    },
    client(options = {}) {
      if (!server) throw new Error('redis-server has not started');
      const c = new Redis(server.url, { retryStrategy: () => 50, ...options });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    prefix: () => `t${randomUUID().slice(0, 8)}:`,
    async unresponsive(ms) {
      // A connected client whose next command waits out the pause, like everyone's.
      const waiter = this.client();
      await waiter.ping();
      await this.client().call('CLIENT', 'PAUSE', String(ms), 'ALL');
      return { ended: waiter.ping() };
    },
  };
}

/** The longest string any reply of `client` has brought into this process so far, as a function to ask. */
export function largestReply(client: Redis): () => number {
  let largest = 0;
  const measure = (value: unknown): void => {
    if (typeof value === 'string' || Buffer.isBuffer(value)) largest = Math.max(largest, value.length);
    else if (Array.isArray(value)) for (const v of value) measure(v);
  };
  const call = client.call.bind(client) as (command: string, args: unknown[]) => Promise<unknown>;
  client.call = (async (command: string, args: unknown[]) => {
    const reply = await call(command, args);
    measure(reply);
    return reply;
  }) as never;
  return () => largest;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls `fn` until it resolves (Redis back, reconnected), for at most `ms`. */
export async function eventually<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(50);
    }
  }
}

/** A tool that reports its call and waits until released (or until its run ends). */
export function gate() {
  let release!: (v: unknown) => void;
  let called!: () => void;
  const calledP = new Promise<void>((r) => (called = r));
  const released = new Promise((r) => (release = r));
  let calls = 0;
  const tool = async (_args: unknown, ctx: ToolContext) => {
    calls++;
    called();
    return Promise.race([released, new Promise((r) => ctx.signal.addEventListener('abort', () => r('aborted'), { once: true }))]);
  };
  return { tool, called: calledP, release: (v: unknown) => release(v), calls: () => calls };
}

/** Durations a test file collects (never asserted), printed under `title` after its tests. */
export function useTimings(title: string): string[] {
  const timings: string[] = [];
  afterAll(() => {
    if (timings.length > 0) console.log(`${title} (measured on this machine):\n  ${timings.join('\n  ')}`);
  });
  return timings;
}

/** Enclaves a test file makes, disposed after its tests. */
export function useEnclaves(): Enclave[] {
  const enclaves: Enclave[] = [];
  afterAll(() => {
    for (const e of enclaves) e.dispose();
  });
  return enclaves;
}
