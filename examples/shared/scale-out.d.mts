import type { CreateEnclaveOptions, EnclaveHandlerBaseOptions } from '@enclave-kit/engine';

/** What `scaleOutFromEnv` adds to an example's adapter options (see scale-out.mjs). */
export type ScaleOutOptions = Pick<EnclaveHandlerBaseOptions<any, any>, 'sessions' | 'leases' | 'rateLimit'> & {
  enclave?: Pick<CreateEnclaveOptions, 'rateLimitStore' | 'adapter'>;
};

/** Adapter options for REDIS_URL, RATE_LIMIT_PER_MINUTE and ENCLAVE_RUNTIME; `{}` when none is set. */
export function scaleOutFromEnv(env?: Record<string, string | undefined>): ScaleOutOptions;
