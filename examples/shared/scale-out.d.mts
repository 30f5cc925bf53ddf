import type { CreateEnclaveOptions, EnclaveHandlerBaseOptions } from '@enclave-kit/engine';

/** What `scaleOutFromEnv` adds to an example's adapter options (see scale-out.mjs). */
export type ScaleOutOptions = Pick<EnclaveHandlerBaseOptions<any, any>, 'sessions' | 'leases' | 'rateLimit'> & {
  enclave?: Pick<CreateEnclaveOptions, 'rateLimitStore'>;
};

/** Adapter options for REDIS_URL and RATE_LIMIT_PER_MINUTE; `{}` when neither is set. */
export function scaleOutFromEnv(env?: Record<string, string | undefined>): ScaleOutOptions;
