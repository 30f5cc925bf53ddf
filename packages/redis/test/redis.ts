/**
 * A real redis-server per test file (scripts/redis-server.mjs), and ioredis clients on it that are all
 * closed after the file. Each test takes its own key prefix, so tests never see each other's keys.
 */
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
  };
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
