import type { RedisClient, RedisStoreOptions } from './client.js';
import { checkArguments } from './client.js';
import { RedisLeaseStore } from './leases.js';
import type { RedisLeaseStoreOptions } from './leases.js';
import type { RedisRateLimitStoreOptions } from './rate-limit.js';
import { RedisRateLimitStore } from './rate-limit.js';
import type { RedisSessionStoreOptions } from './session-store.js';
import { RedisSessionStore } from './session-store.js';

export interface RedisStoresOptions extends RedisStoreOptions {
  /**
   * What the limits do when Redis fails, the rate-limit store's windows and the lease store's caps on
   * runs in flight alike: `'deny'` (default, fail closed: 503) or `'allow'` (fail open: let through
   * uncounted). Sessions need Redis either way.
   */
  onError?: RedisRateLimitStoreOptions['onError'];
  /** Options of the session store alone. */
  sessions?: Omit<RedisSessionStoreOptions, keyof RedisStoreOptions>;
}

export interface RedisStores {
  /** The handler's `sessions` option (add `ttlMs`, `maxPerUser`, ... as you like). */
  sessions: { store: RedisSessionStore };
  /** The handler's `leases`: `maxRunsPerUser` and `sessions.maxPerUser` then hold across instances. */
  leases: RedisLeaseStore;
  /** The Enclave's `rateLimitStore` (per-tool limits) and the handler's `rateLimit.store` (per-user limit). */
  rateLimitStore: RedisRateLimitStore;
  /** Closes the session store's pub/sub connection; the client passed in stays the caller's to close. */
  dispose(): void;
}

/**
 * Every store on one client, with one prefix and one command timeout.
 *
 * @example
 * ```ts
 * const stores = redisStores(new Redis(process.env.REDIS_URL));
 * app.use(enclave({
 *   enclave: { rateLimitStore: stores.rateLimitStore },
 *   sessions: stores.sessions,
 *   leases: stores.leases,
 *   rateLimit: { max: 60, windowMs: 60_000, key: ({ user }) => user.id, store: stores.rateLimitStore },
 *   tools,
 * }));
 * ```
 * Defaults: those of each store (`enclave:` prefix, 1000 ms command timeout, limits and caps fail closed).
 */
export function redisStores(client: RedisClient, options: RedisStoresOptions = {}): RedisStores {
  const where = 'redisStores(client, options)';
  const { check, o } = checkArguments(where, client, options, ['onError', 'sessions']);
  const sessions = check.object('sessions', o.sessions, '{ maxEvents?, maxRunningMs?, maxPauseDuration?, maxFinishedPerOwner?, maxFinishedBytes?, maxValueBytes?, logger?, secret? }');
  const common: RedisStoreOptions = {};
  if (o.prefix !== undefined) common.prefix = o.prefix as string;
  if (o.commandTimeoutMs !== undefined) common.commandTimeoutMs = o.commandTimeoutMs as number;
  const store = new RedisSessionStore(client, { ...sessions, ...common });
  const limits: RedisRateLimitStoreOptions & RedisLeaseStoreOptions = { ...common };
  if (o.onError !== undefined) limits.onError = o.onError as 'deny' | 'allow';
  return {
    sessions: { store },
    leases: new RedisLeaseStore(client, limits),
    rateLimitStore: new RedisRateLimitStore(client, limits),
    dispose: () => store.dispose(),
  };
}
