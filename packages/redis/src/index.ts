/**
 * `@enclave-kit/redis`: the stores of the engine and its HTTP core on Redis, so that limits, caps on
 * runs in flight and sessions hold across every instance of an app. Bring an ioredis client; the stores
 * never close it.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisStores } from '@enclave-kit/redis';
 *
 * const stores = redisStores(new Redis(process.env.REDIS_URL));
 * app.use(enclave({ tools, sessions: stores.sessions, leases: stores.leases, maxRunsPerUser: 3 }));
 * ```
 */
export { RedisRateLimitStore } from './rate-limit.js';
export type { RedisRateLimitStoreOptions } from './rate-limit.js';
export { RedisLeaseStore } from './leases.js';
export type { RedisLeaseStoreOptions } from './leases.js';
export { RedisSessionStore } from './session-store.js';
export type { RedisSessionStoreOptions } from './session-store.js';
export { redisStores } from './stores.js';
export type { RedisStores, RedisStoresOptions } from './stores.js';
export { RedisStoreError } from './client.js';
export type { RedisClient, RedisStoreOptions } from './client.js';
export { redisRuntime, RedisRuntimeIsolation } from './runtime/remote.js';
export type { RedisRuntimeOptions } from './runtime/remote.js';
export { startRuntimeNode } from './runtime/node.js';
export type { RuntimeNode, RuntimeNodeOptions, RuntimeNodeStats } from './runtime/node.js';
