import type { ErrorCode } from '../errors.js';
import { OptionChecker } from '../options.js';

/** Outcomes of a request that are decided before or around a run, not by the script. */
export type RequestErrorCode =
  | 'BAD_REQUEST'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'SERVICE_UNAVAILABLE';

/** Every outcome the HTTP core can answer with: `SUCCESS`, a request error, or a run's `ErrorCode`. */
export type HttpOutcome = 'SUCCESS' | RequestErrorCode | ErrorCode;

/**
 * The status of every outcome (DESIGN.md section 5). Adapters take `statuses` to override single rows.
 *
 * @example
 * ```ts
 * app.use(enclave({ tools, statuses: { TIMEOUT: 504 } })); // behind a gateway that expects 504
 * ```
 */
export const ENCLAVE_HTTP_STATUS: Readonly<Record<HttpOutcome, number>> = Object.freeze({
  SUCCESS: 200,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  VALIDATION_ERROR: 422,
  SCORING_BLOCKED: 422,
  RUNTIME_ERROR: 422,
  MAX_ITERATIONS: 422,
  MAX_TOOL_CALLS: 422,
  MEMORY_LIMIT_EXCEEDED: 422,
  OUTPUT_LIMIT_EXCEEDED: 422,
  TIMEOUT: 408,
  TOOL_ERROR: 502,
  QUEUE_FULL: 503,
  RUN_LOST: 503,
  SESSION_LOST: 410,
  RUNTIME_UNAVAILABLE: 503,
  RUNTIME_LOST: 502,
  APPROVAL_REQUIRED: 202,
  APPROVAL_EXPIRED: 410,
  REPLAY_DIVERGED: 409,
  MAX_PAUSES: 422,
  JOURNAL_LIMIT_EXCEEDED: 422,
  STATE_REJECTED: 409,
  SERVICE_UNAVAILABLE: 503,
  ABORTED: 499,
  INTERNAL_ERROR: 500,
});

/** The status table with `overrides` applied; each override must be a status code (200-599). */
export function statusTable(overrides: Partial<Record<HttpOutcome, number>> | undefined): Readonly<Record<HttpOutcome, number>> {
  if (overrides === undefined) return ENCLAVE_HTTP_STATUS;
  const check = new OptionChecker('enclave options');
  // `null` from a JavaScript caller is refused like any other non-object.
  const given = check.object('statuses', overrides ?? null, 'an object of outcome -> status') ?? {};
  check.knownKeys('statuses', given, Object.keys(ENCLAVE_HTTP_STATUS));
  for (const [key, value] of Object.entries(given)) {
    if (!Number.isInteger(value) || (value as number) < 200 || (value as number) > 599) check.fail(`statuses.${key} must be an HTTP status (200-599), got ${String(value)}.`);
  }
  return Object.freeze({ ...ENCLAVE_HTTP_STATUS, ...overrides });
}
