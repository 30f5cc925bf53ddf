/** The client's side of the HTTP contract: requests, and answers read into results or errors. */
import { EnclaveClientError, abortedError, retryAfterOf } from './errors.js';
import type { EnclaveClientErrorCode } from './errors.js';
import { whenAborted } from './signals.js';
import type { ExecutionResult } from './types.js';

/**
 * A `fetch`: the global one, or yours (a wrapper that adds tracing, an undici dispatcher).
 *
 * @example
 * ```ts
 * createEnclaveClient({ url, fetch: (input, init) => tracedFetch(input, init) });
 * ```
 */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * Headers of every request, or a function returning them per request (a fresh auth token on every reconnect).
 *
 * @example
 * ```ts
 * createEnclaveClient({ url, headers: async () => ({ authorization: `Bearer ${await auth.freshToken()}` }) });
 * ```
 */
export type HeadersOption = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);

/** What every request of one client shares. */
export interface Transport {
  fetch: FetchLike;
  headers: HeadersOption | undefined;
  credentials: 'omit' | 'same-origin' | 'include' | undefined;
}

export interface SendOptions {
  method: 'GET' | 'POST' | 'DELETE';
  accept: string;
  body?: unknown;
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * `promise`, or `ABORTED` as soon as `signal` aborts: a headers function that never settles (a token
 * refresh that hangs), or a fetch that does not honour the signal, cannot hold a request that was
 * stopped (by the caller, `close()`, or the idle timeout).
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    // Through the client's one listener per signal; the promise is always followed, so a late failure of
    // it is handled even when the signal had aborted first.
    const unwatch = whenAborted(signal, () => reject(abortedError(signal)));
    promise.then(
      (value) => {
        unwatch();
        resolve(value);
      },
      (err: unknown) => {
        unwatch();
        reject(err);
      },
    );
  });
}

/** Sends one request. Rejects with `EnclaveClientError`: `ABORTED` when `signal` aborted, `NETWORK_ERROR` otherwise. */
export async function send(transport: Transport, url: string, options: SendOptions): Promise<Response> {
  const headersOption = transport.headers;
  const base = typeof headersOption === 'function' ? await untilAborted(Promise.resolve().then(headersOption), options.signal) : headersOption;
  const headers: Record<string, string> = { ...base, ...options.headers, accept: options.accept };
  const init: RequestInit = { method: options.method, headers };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    try {
      init.body = JSON.stringify(options.body);
    } catch (err) {
      // A BigInt or a cycle in `input`: the caller's mistake, refused before anything is sent.
      throw new EnclaveClientError({ code: 'BAD_REQUEST', message: `The request cannot be sent as JSON: ${(err as Error)?.message ?? String(err)}`, cause: err });
    }
  }
  if (options.signal !== undefined) init.signal = options.signal;
  if (transport.credentials !== undefined) init.credentials = transport.credentials;
  if (options.signal?.aborted) throw abortedError(options.signal);
  let res: Response;
  const fetching = Promise.resolve().then(() => transport.fetch(url, init));
  try {
    res = await untilAborted(fetching, options.signal);
  } catch (err) {
    if (options.signal?.aborted) {
      // A response that comes after all is not read: its body is let go.
      fetching.then((late) => late.body?.cancel().catch(() => {}), () => {});
      throw abortedError(options.signal);
    }
    throw new EnclaveClientError({ code: 'NETWORK_ERROR', message: `${options.method} ${url} failed: ${(err as Error)?.message ?? String(err)}`, cause: err });
  }
  // Not every fetch (happy-dom's, some polyfills) honours an abort that comes while it connects.
  if (options.signal?.aborted) {
    res.body?.cancel().catch(() => {});
    throw abortedError(options.signal);
  }
  return res;
}

/**
 * Sends one request and reads its answer with `read`, under a signal of its own that follows the
 * caller's for as long as that takes. The caller's signal is never handed to fetch: Node's fetch lets go
 * of the listener it adds to a signal only when its request is garbage-collected, so one long-lived
 * signal shared by many calls gathered a listener per call (and a MaxListenersExceededWarning). With a
 * `deadlineMs` (0: none), an answer not read whole by then fails with `NETWORK_ERROR`.
 */
export async function exchange<R>(transport: Transport, url: string, options: SendOptions, read: (res: Response, signal: AbortSignal) => Promise<R>, deadlineMs = 0): Promise<R> {
  const outer = options.signal;
  const inner = new AbortController();
  const unwatch = outer === undefined ? undefined : whenAborted(outer, () => inner.abort(outer.reason));
  let late: EnclaveClientError | undefined;
  const timer =
    deadlineMs > 0
      ? setTimeout(() => {
          late = new EnclaveClientError({ code: 'NETWORK_ERROR', message: `${options.method} ${url}: no whole answer within ${deadlineMs} ms (idleTimeoutMs).` });
          inner.abort(late);
        }, deadlineMs)
      : undefined;
  try {
    return await read(await send(transport, url, { ...options, signal: inner.signal }), inner.signal);
  } catch (err) {
    if (late !== undefined && !outer?.aborted) throw late;
    throw err;
  } finally {
    clearTimeout(timer);
    unwatch?.();
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Whether a value has the shape of an `ExecutionResult` (or of a refused request, which shares it). */
export function isResult(value: unknown): value is ExecutionResult {
  if (!isObject(value) || typeof value.success !== 'boolean' || !isObject(value.stats)) return false;
  return value.success || (isObject(value.error) && typeof value.error.code === 'string' && typeof value.error.message === 'string');
}

const isPositiveInteger = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 1;

/** Whether a value is a call waiting for approval as the client reads it: its call id and tool. */
export function isPendingApproval(value: unknown): boolean {
  return isObject(value) && isPositiveInteger(value.callId) && typeof value.tool === 'string';
}

/**
 * Whether `value` is a session id as servers make them (the engine's `isSessionId`: 1 to 128 characters
 * of A-Z, a-z, 0-9, `_` and `-`). The client puts ids in URL paths: `..` or `.` there would be resolved
 * away (`/enclave/sessions/..` is `/enclave/`), so an id of any other form is never sent, whoever gave it.
 */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(value);
}

/**
 * The shape of each JSON answer the client hands on, as far as the client and its callers read it: an
 * answer of another shape is `BAD_RESPONSE`, never a value that throws a TypeError where it is used.
 */
export const ANSWER_SHAPES = {
  /** `GET`/`DELETE {url}/sessions/{id}`. */
  status: (v: unknown): boolean =>
    isObject(v) && isSessionId(v.sessionId) && typeof v.state === 'string' && (v.result === undefined || isResult(v.result)) && (v.pendingApproval === undefined || isPendingApproval(v.pendingApproval)),
  /** `POST {url}/sessions` (JSON). */
  started: (v: unknown): boolean => isObject(v) && isSessionId(v.sessionId) && ['statusUrl', 'eventsUrl', 'cancelUrl'].every((key) => typeof v[key] === 'string'),
  /** `POST {url}/sessions/{id}/approvals/{callId}`. */
  decided: (v: unknown): boolean => isObject(v) && isSessionId(v.sessionId) && isPositiveInteger(v.callId) && typeof v.eventsUrl === 'string',
  /** `GET {url}`. */
  catalog: (v: unknown): boolean => isObject(v) && Array.isArray(v.tools) && v.tools.every((t) => isObject(t) && typeof t.name === 'string'),
} as const;

/** `body` when it has the answer's shape, `BAD_RESPONSE` naming the answer otherwise. */
export function shaped<T>(res: Response, body: unknown, shape: keyof typeof ANSWER_SHAPES): T {
  if (ANSWER_SHAPES[shape](body)) return body as T;
  throw new EnclaveClientError({ code: 'BAD_RESPONSE', message: `The enclave route answered ${res.status} with JSON that is not a ${shape} answer.`, status: res.status });
}

/**
 * A response's text, read up to `max` characters: a server that sends more (or never stops) is refused
 * with `BAD_RESPONSE` and the rest is not read.
 */
async function boundedText(res: Response, max: number): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      length += text.length;
      if (length > max) {
        throw new EnclaveClientError({ code: 'BAD_RESPONSE', message: `The response (${res.status}) is longer than ${max} characters (maxEventLength).`, status: res.status });
      }
      parts.push(text);
      if (done) return parts.join('');
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** The JSON body of a response (at most `max` characters), or `BAD_RESPONSE` naming the status and what came instead. */
export async function readJson(res: Response, signal: AbortSignal | undefined, max: number): Promise<unknown> {
  let text: string;
  try {
    text = await boundedText(res, max);
  } catch (err) {
    if (signal?.aborted) throw abortedError(signal);
    if (err instanceof EnclaveClientError) throw err;
    throw new EnclaveClientError({ code: 'NETWORK_ERROR', message: `The response (${res.status}) broke off: ${(err as Error)?.message ?? String(err)}`, cause: err, status: res.status });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const type = res.headers.get('content-type') ?? 'no content type';
    throw new EnclaveClientError({ code: 'BAD_RESPONSE', message: `Expected JSON from the enclave route, got ${res.status} (${type}).`, status: res.status, retryAfter: retryAfterOf(res.headers) });
  }
}

/**
 * The codes of the refusals a framework's own body parser answers before the route, in its own shape:
 * NestJS's (Express or Fastify) `{ statusCode, message }` for malformed JSON and bodies over its limit.
 * They are the refusals the route itself would have made; the README documents them.
 */
const FRAMEWORK_REFUSALS: Readonly<Record<number, EnclaveClientErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * The error of a refused request: the server's code and message when it sent them; the status's code
 * and the framework's message for a refusal in a framework's `{ statusCode, message }` shape (the status
 * repeated in the body); `BAD_RESPONSE` otherwise.
 */
export function refusal(res: Response, body: unknown): EnclaveClientError {
  const error = isObject(body) && isObject(body.error) ? body.error : undefined;
  const framework = error === undefined && isObject(body) && body.statusCode === res.status && typeof body.message === 'string' ? FRAMEWORK_REFUSALS[res.status] : undefined;
  const code = typeof error?.code === 'string' ? error.code : (framework ?? 'BAD_RESPONSE');
  const said = framework !== undefined ? (body as { message: string }).message : error?.message;
  const message = typeof said === 'string' ? said : `The enclave route answered ${res.status}.`;
  return new EnclaveClientError({ code, message, status: res.status, retryAfter: retryAfterOf(res.headers) });
}

/** A non-2xx answer as an error (reads the body). */
export async function errorOf(res: Response, signal: AbortSignal | undefined, max: number): Promise<EnclaveClientError> {
  try {
    return refusal(res, await readJson(res, signal, max));
  } catch (err) {
    if (err instanceof EnclaveClientError && err.code !== 'BAD_RESPONSE') throw err;
    return refusal(res, undefined);
  }
}

/**
 * A JSON answer of `POST {url}`: the run's result whatever its status (200, 408, 422, 502, ...), or the
 * error of a request the server refused before any run (`error.name === 'RequestError'`: 400, 401,
 * 403, 413, 415, 429, 503 when its concurrency cap is full).
 */
export async function resultOf<T>(res: Response, signal: AbortSignal | undefined, max: number): Promise<ExecutionResult<T>> {
  const body = await readJson(res, signal, max);
  if (!isResult(body)) throw refusal(res, body);
  if (!body.success && body.error.name === 'RequestError') throw refusal(res, body);
  return body as ExecutionResult<T>;
}

/** The URL of a route below the base route (`/sessions/{id}/events`), keeping the base's query. */
export function routeUrl(base: URL, suffix: string): string {
  const url = new URL(base.href);
  url.pathname = `${base.pathname.replace(/\/+$/, '')}${suffix}`;
  return url.href;
}
