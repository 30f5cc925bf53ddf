import type { RequestErrorCode } from './status.js';

const CODE_OF_STATUS: Readonly<Record<number, RequestErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * A request the HTTP core refuses before running anything. Throw it from `authenticate`, `tools` or
 * `createContext` to answer with its status: its message is sent to the client, so keep it public.
 *
 * @example
 * ```ts
 * authenticate: ({ native }) => {
 *   if (!native.req.user) return null;                       // 401
 *   if (!native.req.user.canRunScripts) throw new EnclaveHttpError(403, 'Scripts are not enabled for you.');
 *   return native.req.user;
 * }
 * ```
 */
export class EnclaveHttpError extends Error {
  override name = 'EnclaveHttpError';
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, options: { code?: string; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new TypeError(`EnclaveHttpError: status must be 400-599, got ${status}.`);
    this.status = status;
    this.code = options.code ?? CODE_OF_STATUS[status] ?? 'HTTP_ERROR';
    this.headers = { ...options.headers };
  }
}
