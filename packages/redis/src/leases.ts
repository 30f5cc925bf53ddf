import { randomUUID } from 'node:crypto';
import type { LeaseStore } from '@enclave-kit/engine';
import type { RedisClient, RedisStoreOptions } from './client.js';
import { LUA_NOW, Script, checkArguments, connectedOnly, integerReply, luaTimedSet, redisText, within } from './client.js';

export interface RedisLeaseStoreOptions extends RedisStoreOptions {
  /**
   * What an acquire does when Redis fails or is slow: `'deny'` (the default) rejects, so the HTTP core
   * answers 503 with `Retry-After`: a cap that cannot be checked does not let anything through.
   * `'allow'` hands out a lease that is not counted (the run goes ahead, the cap may be exceeded while
   * Redis is away); renewing it asks nothing of Redis, and releasing it never fails.
   */
  onError?: 'deny' | 'allow';
}

/** Keeps the set as long as its longest lease (`ttl`, a Lua expression): a set nobody renews disappears by itself. */
const keepSet = (ttl: string) => `if redis.call('PTTL', KEYS[1]) < tonumber(${ttl}) then redis.call('PEXPIRE', KEYS[1], ${ttl}) end`;

/**
 * The longest lease: a time to live beyond it is refused (the handler's are `livenessMs` at most, whose
 * own cap is the same, the longest delay Node's timers keep).
 */
export const MAX_LEASE_MS = 2 ** 31 - 1;
/** Milliseconds a lease may end after its set does: the script's clock (TIME) and its expiries' differ by less. */
const CLOCK_SLACK_MS = 1000;

/**
 * The set as this store keeps it, before anything counts it (see luaTimedSet): keepSet makes the set
 * outlive every lease in it, and no lease is longer than MAX_LEASE_MS. Otherwise a Redis writer's set
 * (WRONGTYPE at every call, or members that never expire) would refuse a user every run or session for
 * as long as the key lived, the writer long gone.
 */
const LUA_LEASES = luaTimedSet('now', MAX_LEASE_MS, CLOCK_SLACK_MS);

/** Drop the expired leases, count the rest, take a slot if one is free: one step, so no two instances take the last slot. */
const ACQUIRE = new Script(
  'lease acquire',
  `${LUA_NOW}
${LUA_LEASES}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
${keepSet('ARGV[2]')}
return 1`,
);

/** Extends a lease that is still held; one that has expired stays gone (its slot may be someone else's now). */
const RENEW = new Script(
  'lease renew',
  `${LUA_NOW}
${LUA_LEASES}
local expires = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not expires or tonumber(expires) <= now then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
${keepSet('ARGV[1]')}
return 1`,
);

function checkTtl(ttlMs: number): void {
  if (!(ttlMs <= MAX_LEASE_MS)) throw new RangeError(`RedisLeaseStore: a lease lasts at most ${MAX_LEASE_MS} ms, got ${ttlMs}.`);
}

/**
 * Per-user caps on runs and sessions in flight across every app instance (the handler's `leases`): a
 * sorted set per key of lease ids by expiry, on the Redis server's clock. A crashed instance stops
 * renewing and its slots come back when its leases expire.
 *
 * @example
 * ```ts
 * app.use(enclave({ tools, maxRunsPerUser: 3, leases: new RedisLeaseStore(redis) }));
 * ```
 * Defaults: keys under `enclave:lease:`, 1000 ms command timeout, `onError: 'deny'`.
 */
export class RedisLeaseStore implements LeaseStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #allowOnError: boolean;
  /**
   * Leases handed out uncounted (`onError: 'allow'`), each with the acquire that failed: ioredis may
   * still send it once Redis is back (it queues commands while it reconnects), and then it takes a slot.
   */
  readonly #uncounted = new Map<string, Promise<unknown>>();

  constructor(client: RedisClient, options: RedisLeaseStoreOptions = {}) {
    const where = 'new RedisLeaseStore(client, options)';
    const { check, o, prefix, timeoutMs } = checkArguments(where, client, options, ['onError']);
    this.#allowOnError = check.oneOf('onError', o.onError, ['deny', 'allow'], 'deny') === 'allow';
    this.#client = connectedOnly(client, timeoutMs);
    this.#prefix = `${prefix}lease:`;
    this.#timeoutMs = timeoutMs;
  }

  async acquire(key: string, max: number, ttlMs: number): Promise<string | null> {
    checkTtl(ttlMs);
    const lease = randomUUID();
    const attempt = ACQUIRE.run(this.#client, [this.#prefix + redisText(key)], [max, ttlMs, lease]);
    try {
      return integerReply(await within(attempt, this.#timeoutMs, 'a lease'), 'a lease') === 1 ? lease : null;
    } catch (err) {
      if (!this.#allowOnError) throw err;
      this.#uncounted.set(lease, attempt);
      return lease;
    }
  }

  async renew(key: string, lease: string, ttlMs: number): Promise<boolean> {
    // Not in Redis to extend; should its acquire land late, that slot expires unrenewed or goes at release.
    if (this.#uncounted.has(lease)) return true;
    checkTtl(ttlMs);
    const reply = await within(RENEW.run(this.#client, [this.#prefix + redisText(key)], [ttlMs, lease]), this.#timeoutMs, 'a lease renewal');
    return integerReply(reply, 'a lease renewal') === 1;
  }

  async release(key: string, lease: string): Promise<void> {
    const attempt = this.#uncounted.get(lease);
    if (attempt === undefined) {
      await within(this.#zrem(key, lease), this.#timeoutMs, 'a lease release');
      return;
    }
    this.#uncounted.delete(lease);
    // Resolves at once, Redis or not. Only an acquire that did take a slot (or whose answer could not
    // be read) is undone, after it, so nothing stays counted for a run that has ended.
    attempt
      .then((reply) => (reply === 0 ? undefined : within(this.#zrem(key, lease), this.#timeoutMs, 'a lease release')))
      .catch(() => {});
  }

  #zrem(key: string, lease: string): Promise<unknown> {
    return this.#client.call('ZREM', [this.#prefix + redisText(key), lease]);
  }
}
