/**
 * Codes of an `EnclaveClientError`: the server's codes for a refused request, and the client's own for
 * what went wrong on the way.
 *
 * @example
 * ```ts
 * const retryable: EnclaveClientErrorCode[] = ['RATE_LIMITED', 'QUEUE_FULL', 'NETWORK_ERROR'];
 * ```
 */
export type EnclaveClientErrorCode =
  // The server refused the request before any run (its `error.code`, with the HTTP status):
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  /** The request's body did not arrive whole within the server's `bodyTimeoutMs` (408). */
  | 'REQUEST_TIMEOUT'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  /** A decision on a call the session does not wait on (any more), or on a session that does not wait (409). */
  | 'CONFLICT'
  /** A decision that came after the wait for it ended (410). */
  | 'APPROVAL_EXPIRED'
  | 'QUEUE_FULL'
  /** A store of the server's (sessions, rate limit, leases) did not answer: Redis down or slow (503, + `retryAfter`). */
  | 'SERVICE_UNAVAILABLE'
  | 'RUNTIME_UNAVAILABLE'
  | 'INTERNAL_ERROR'
  // The client's own:
  /** No answer: the connection failed or broke (and was not, or could no longer be, resumed). */
  | 'NETWORK_ERROR'
  /** An answer that is not the HTTP contract's (a proxy's HTML page, a malformed event). */
  | 'BAD_RESPONSE'
  /** The `signal` aborted, or the stream was closed, before the result arrived. */
  | 'ABORTED'
  /** A stream could not be resumed within its retry policy; `cause` is the last failure. */
  | 'RETRIES_EXHAUSTED'
  /** `createEnclaveClient` was given an option it cannot use; the message names it. */
  | 'CONFIG_ERROR'
  | (string & {});

/**
 * What an `EnclaveClientError` is made of.
 *
 * @example
 * ```ts
 * new EnclaveClientError({ code: 'NETWORK_ERROR', message: 'offline' });
 * ```
 */
export interface EnclaveClientErrorInit {
  code: EnclaveClientErrorCode;
  message: string;
  /** The HTTP status, when a response came. */
  status?: number | undefined;
  /** Seconds from the response's `Retry-After`. */
  retryAfter?: number | undefined;
  cause?: unknown;
}

/**
 * Every error the client throws or rejects with. A run that fails on the server is not one: that is an
 * `ExecutionResult` with `success: false` (see the package README for the exact line).
 *
 * @example
 * ```ts
 * try {
 *   await client.run(code);
 * } catch (err) {
 *   if (err instanceof EnclaveClientError && err.code === 'RATE_LIMITED') await sleep(err.retryAfter! * 1000);
 *   else throw err;
 * }
 * ```
 */
export class EnclaveClientError extends Error {
  override readonly name = 'EnclaveClientError';
  readonly code: EnclaveClientErrorCode;
  /** The HTTP status of the response that carried the error; undefined when none came. */
  readonly status: number | undefined;
  /** Seconds to wait before trying again, from `Retry-After` (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(init: EnclaveClientErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.retryAfter = init.retryAfter;
  }
}

/** `Retry-After` in seconds: delta-seconds, or an HTTP date; undefined when absent or unreadable. */
export function retryAfterOf(headers: Headers, now = Date.now()): number | undefined {
  const raw = headers.get('retry-after');
  if (raw === null || raw.trim() === '') return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The error for an aborted signal: `ABORTED`, with the signal's reason as the cause. */
export function abortedError(signal: AbortSignal | undefined, message = 'The request was aborted.'): EnclaveClientError {
  return new EnclaveClientError({ code: 'ABORTED', message, cause: signal?.reason });
}
