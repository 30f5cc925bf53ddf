import type { RateLimitHit, RateLimitStore } from '@enclave-kit/engine';
import type { RedisClient, RedisStoreOptions } from './client.js';
import { RedisStoreError, Script, checkArguments, connectedOnly, integerReply, redisText, within } from './client.js';

export interface RedisRateLimitStoreOptions extends RedisStoreOptions {
  /**
   * What a hit does when Redis fails or is slow: `'deny'` (the default) rejects, so the HTTP core
   * answers 503 with `Retry-After` and a tool call fails with `RATE_LIMIT_UNAVAILABLE`: a limit that
   * cannot be checked does not let anything through. `'allow'` lets the call through uncounted.
   */
  onError?: 'deny' | 'allow';
}

/**
 * One fixed window in one round trip: the first hit of a window starts its expiry, every hit counts,
 * and the reply says how long the window has left. What the key holds is input: anything but a counter
 * this store could have written (another type, text that is not a count of at most 15 digits) is
 * deleted and the window starts again, where INCR would fail on it at every hit (a user refused, 503,
 * for as long as the key lives). A window without an expiry, or one that ends later than `windowMs`
 * from now, gets `windowMs`: no counter a Redis writer leaves outlives one window. A window's first hit
 * answers `windowMs` itself, not a PTTL read after the PEXPIRE that a clock tick between them would
 * shorten by a millisecond. (Instances that share a key share its window: the shortest `windowMs`
 * among them cuts a longer one.)
 */
const HIT = new Script(
  'rate-limit hit',
  `local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'none' and (kind ~= 'string' or redis.call('STRLEN', KEYS[1]) > 15 or not string.match(redis.call('GET', KEYS[1]), '^%d+$')) then
  redis.call('DEL', KEYS[1])
end
local count = redis.call('INCR', KEYS[1])
local window = tonumber(ARGV[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {count, window}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or ttl > window then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = window
end
return {count, ttl}`,
);

/**
 * Fixed-window counts in Redis, shared by every app instance: the Enclave's `rateLimitStore` (per-tool
 * limits) and the HTTP core's per-user `rateLimit.store`.
 *
 * @example
 * ```ts
 * const limits = new RedisRateLimitStore(new Redis(process.env.REDIS_URL));
 * app.use(enclave({ tools, rateLimit: { max: 60, windowMs: 60_000, key: ({ user }) => user.id, store: limits } }));
 * ```
 * Defaults: keys under `enclave:rl:`, 1000 ms command timeout, `onError: 'deny'`.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #allowOnError: boolean;

  constructor(client: RedisClient, options: RedisRateLimitStoreOptions = {}) {
    const where = 'new RedisRateLimitStore(client, options)';
    const { check, o, prefix, timeoutMs } = checkArguments(where, client, options, ['onError']);
    this.#allowOnError = check.oneOf('onError', o.onError, ['deny', 'allow'], 'deny') === 'allow';
    this.#client = connectedOnly(client, timeoutMs);
    this.#prefix = `${prefix}rl:`;
    this.#timeoutMs = timeoutMs;
  }

  async hit(key: string, windowMs: number): Promise<RateLimitHit> {
    try {
      const reply = await within(HIT.run(this.#client, [this.#prefix + redisText(key)], [windowMs]), this.#timeoutMs, 'a rate-limit hit');
      if (!Array.isArray(reply) || reply.length !== 2) throw new RedisStoreError('BAD_REPLY', 'Redis answered a rate-limit hit with something other than [count, ttl].');
      const count = integerReply(reply[0], 'a rate-limit count');
      const resetInMs = integerReply(reply[1], 'a rate-limit window');
      if (count < 1 || resetInMs < 0) throw new RedisStoreError('BAD_REPLY', 'Redis answered a rate-limit hit with a count or window out of range.');
      return { count, resetInMs };
    } catch (err) {
      if (this.#allowOnError) return { count: 0, resetInMs: 0 };
      throw err;
    }
  }
}
