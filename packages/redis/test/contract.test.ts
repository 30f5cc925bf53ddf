/**
 * The HTTP core's whole adapter contract (statuses, per-user tools, limits, streams, sessions: owner
 * isolation, resume, cancel, per-user caps) with every store on Redis: sessions, leases, the per-user
 * rate limit and the Enclave's rateLimitStore.
 */
import { createServer } from 'node:http';
import { createEnclaveHandler } from '@enclave-kit/engine';
import type { EnclaveHandlerOptions } from '@enclave-kit/engine';
import { routePath } from '@enclave-kit/engine/http';
import { handleNodeRequest } from '@enclave-kit/engine/node';
import type { NodeRequest } from '@enclave-kit/engine/node';
import { adapterContract, adapterTracingContract, listen } from '../../engine/test/http/contract.js';
import type { AdapterHarness } from '../../engine/test/http/contract.js';
import { adapterParity } from '../../engine/test/http/parity.js';
import { streamingConformance } from '../../engine/test/http/streaming-conformance.js';
import { redisStores } from '../src/index.js';
import { useRedis } from './redis.js';

const redis = useRedis();

/** The core with every store on Redis; `signed`: owners signed with a secret and paused runs with a stateKey. */
const onRedisStores = (signed: boolean): AdapterHarness => ({
  passThrough: false,
  userOf: (native) => (native as { req: NodeRequest }).req.headers['x-user'] as string | undefined,
  async start(options) {
    const stores = redisStores(redis.client(), { prefix: redis.prefix(), ...(signed && { sessions: { secret: 's'.repeat(32) } }) });
    const o = options as EnclaveHandlerOptions & { enclave?: object };
    const handler = createEnclaveHandler({
      ...o,
      enclave: { ...o.enclave, rateLimitStore: stores.rateLimitStore },
      sessions: o.sessions === false ? false : { ...o.sessions, ...stores.sessions, ...(signed && { stateKey: 'k'.repeat(32) }) },
      leases: stores.leases,
      ...(o.rateLimit ? { rateLimit: { ...o.rateLimit, store: stores.rateLimitStore } } : {}),
    } as EnclaveHandlerOptions);
    const route = routePath('/enclave');
    const server = createServer((req, res) => {
      if (req.url === '/other') return void res.end('other');
      const sub = route.below(new URL(req.url ?? '/', 'http://localhost').pathname);
      void handleNodeRequest(handler, req, res, { req }, undefined, sub);
    });
    return listen(server, () => {
      handler.dispose();
      stores.dispose();
    });
  },
});
const onRedis = onRedisStores(false);

adapterContract('fetch core on the Redis stores', onRedis);
adapterParity('fetch core on the Redis stores', onRedis);
adapterParity('fetch core on the Redis stores, owners and paused runs signed', onRedisStores(true));
streamingConformance('fetch core on the Redis stores', onRedis);

adapterTracingContract('fetch core on the Redis stores', onRedis);
