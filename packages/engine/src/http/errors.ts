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

/**
 * The 401 or 403 that an error thrown by a framework's own HTTP exception says (`status` or
 * `statusCode`, as http-errors, Nest's HttpException and Hono's HTTPException carry them), if it does.
 */
export function refusalStatus(err: unknown): 401 | 403 | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  for (const key of ['status', 'statusCode']) {
    let value: unknown;
    try {
      value = (err as Record<string, unknown>)[key];
    } catch {
      continue;
    }
    if (value === 401 || value === 403) return value;
  }
  return undefined;
}
