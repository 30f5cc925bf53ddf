// What every example reads from its environment to scale out (README, "Scaling out"):
//   REDIS_URL              e.g. redis://127.0.0.1:6380: sessions, leases, the per-user HTTP limit and the
//                          Enclave's per-tool limits live in Redis, shared by every instance on that URL;
//   RATE_LIMIT_PER_MINUTE  e.g. 5: at most that many requests per user and minute (across instances with
//                          REDIS_URL, per instance without). Unset: no limit.
// Neither set: the examples run as they always did, in memory.
import { Redis } from 'ioredis';
import { redisStores } from '@enclave-kit/redis';

/**
 * Adapter options for the environment, to spread into an example's options (its own `enclave` options
 * merge with `scaleOut.enclave`); `{}` when neither variable is set.
 */
export function scaleOutFromEnv(env = process.env) {
  const options = {};
  let stores;
  if (env.REDIS_URL) {
    const redis = new Redis(env.REDIS_URL);
    // ioredis reconnects by itself; meanwhile the routes answer 503 with Retry-After. Say so once per outage.
    let down = false;
    redis.on('error', (err) => {
      if (!down) console.warn(`redis: ${err.message}; answering 503 until it is back`);
      down = true;
    });
    redis.on('ready', () => {
      if (down) console.warn('redis: connected again');
      down = false;
    });
    stores = redisStores(redis);
    console.log(`enclave-kit: sessions, leases and rate limits in Redis (${URL.canParse(env.REDIS_URL) ? new URL(env.REDIS_URL).host : 'REDIS_URL'})`);
    options.enclave = { rateLimitStore: stores.rateLimitStore };
    options.sessions = stores.sessions;
    options.leases = stores.leases;
  }
  if (env.RATE_LIMIT_PER_MINUTE) {
    const max = Number(env.RATE_LIMIT_PER_MINUTE);
    if (!Number.isSafeInteger(max) || max <= 0) throw new Error(`RATE_LIMIT_PER_MINUTE must be a positive integer, got "${env.RATE_LIMIT_PER_MINUTE}".`);
    options.rateLimit = { max, windowMs: 60_000, key: ({ user }) => String(user.id), ...(stores ? { store: stores.rateLimitStore } : {}) };
  }
  return options;
}
