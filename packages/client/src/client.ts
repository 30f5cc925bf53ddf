import { EnclaveClientError } from './errors.js';
import type { RetryInfo, RetryPolicy, StreamFormat } from './follow.js';
import { DEFAULT_RETRY } from './follow.js';
import type { FetchLike, HeadersOption, Transport } from './http.js';
import type { ANSWER_SHAPES } from './http.js';
import { errorOf, exchange, isSessionId, readJson, resultOf, routeUrl, send, shaped } from './http.js';
import { DEFAULT_MAX_EVENT_LENGTH } from './sse.js';
import type { EnclaveEventStream } from './stream.js';
import { DEFAULT_MAX_BUFFERED_EVENTS, DEFAULT_MAX_BUFFERED_LENGTH, EventStream } from './stream.js';
import type { EnclaveCatalog, EnclaveEvent, ExecutionResult, PendingApproval, RunLimitsRequest, SessionStatus, StartedSession } from './types.js';

/**
 * Options of `createEnclaveClient`. Only `url` is required.
 *
 * @example
 * ```ts
 * createEnclaveClient({
 *   url: '/api/enclave',
 *   headers: () => ({ authorization: `Bearer ${session.token}` }),
 *   retry: { maxRetries: 5, initialDelayMs: 500 },
 *   idleTimeoutMs: 60_000,
 * });
 * ```
 */
export interface EnclaveClientOptions {
  /**
   * The enclave route: `https://api.example.com/enclave`, or a path (`/enclave`) in a browser page.
   * Sessions live below it (`{url}/sessions/...`).
   */
  url: string | URL;
  /** Headers of every request (`Authorization`), or a function called before each request, reconnects included. */
  headers?: HeadersOption;
  /** The `fetch` to use. Default: the global one. */
  fetch?: FetchLike;
  /** `fetch`'s `credentials`, for cookie auth across origins (`'include'`). Default: fetch's own (`same-origin`). */
  credentials?: 'omit' | 'same-origin' | 'include';
  /** How streams resume after a dropped connection (see `RetryPolicy`); `false` never resumes. */
  retry?: RetryPolicy | false;
  /**
   * A stream that receives no byte for this long counts as dropped and is resumed. Default 45,000 ms,
   * three of the server's default 15 s heartbeats; 0 turns it off. It is also the longest wait for the
   * whole answer of the calls a server answers at once (`start`, `getSession`, `approve`, `deny`,
   * `catalog`; `cancel` 5 s more, as the server waits that long for the run to end): `NETWORK_ERROR`
   * past it. Not of `run`, whose answer comes when the run ends (give it a `signal` to bound it).
   */
  idleTimeoutMs?: number;
  /** The wire format of streams. Default `'sse'`. */
  format?: StreamFormat;
  /**
   * The longest event (an SSE event, an NDJSON line) or JSON answer the client reads, in characters (each
   * at least one byte on the wire). A server that sends a longer one, or one that never ends, is refused
   * with `BAD_RESPONSE` (never retried) instead of filling memory. Default 64 Mi (64 MiB or more), many
   * times the largest result and console output a server sends; raise it for a server whose
   * `maxOutputBytes` is larger.
   */
  maxEventLength?: number;
  /**
   * The most events a stream keeps for its `for await` loop before the loop takes them. Events are read
   * as they come, whatever the loop does (the connection is never held up, `result` comes when the
   * `final` event does); a loop that falls further behind finds the oldest unread ones replaced by one
   * `events_dropped` marker, and can read them again with `client.session(id, { fromSeq })`. A stream
   * whose `result` is read before it is iterated keeps none. Default 10,000.
   */
  maxBufferedEvents?: number;
  /**
   * The most characters of event JSON (as read off the wire; each at least one byte there) a stream keeps
   * for its `for await` loop, the same way as `maxBufferedEvents`: past it, the oldest unread events
   * give way to the `events_dropped` marker. The newest event is always kept, so a single event longer
   * than this (at most `maxEventLength`) still reaches the loop. Default 16 Mi (16,777,216): 10,000
   * small events fit in far less, while 10,000 events of a few MB each, which the count alone would
   * keep, would be tens of GB.
   */
  maxBufferedLength?: number;
}

/**
 * Options every call takes.
 *
 * @example
 * ```ts
 * await client.getSession(id, { signal: AbortSignal.timeout(5_000), headers: { 'x-request-id': requestId } });
 * ```
 */
export interface RequestOptions {
  /** Aborts the call (see each method for what else it stops). */
  signal?: AbortSignal;
  /** Headers of this call, over the client's. */
  headers?: Record<string, string>;
}

/**
 * What a run gets besides its code.
 *
 * @example
 * ```ts
 * await client.run('return input.ids.length', { input: { ids: [1, 2] }, limits: { timeout: 5_000 } });
 * ```
 */
export interface RunOptions extends RequestOptions {
  /** The script's global `input` (a JSON value). */
  input?: unknown;
  /** Limits that can only lower the server's. */
  limits?: RunLimitsRequest;
}

/**
 * Options of the calls that read a session's events (`stream`, `session`).
 *
 * @example
 * ```ts
 * client.session(id, {
 *   onEvent: (e) => render(e),
 *   onRetry: ({ attempt, delayMs }) => showBanner(`reconnecting (${attempt}) in ${delayMs} ms`),
 *   retry: { maxRetries: 20 },
 * });
 * ```
 */
export interface FollowOptions extends RequestOptions {
  /** Called with each event as it is delivered (before the iterator sees it); a throwing listener does not stop the stream. */
  onEvent?: (event: EnclaveEvent) => void;
  /** Called before each reconnection attempt, e.g. to show "reconnecting" in a UI. */
  onRetry?: (info: RetryInfo) => void;
  /** Overrides the client's retry policy for this stream. */
  retry?: RetryPolicy | false;
  idleTimeoutMs?: number;
  format?: StreamFormat;
  /**
   * Also cancel the session on the server when reading stops (the signal aborts, `close()`, `break`).
   * The `DELETE` is abandoned if no answer comes within `idleTimeoutMs`. Default false.
   */
  cancelOnAbort?: boolean;
  /** Overrides the client's `maxBufferedEvents` for this stream. */
  maxBufferedEvents?: number;
  /** Overrides the client's `maxBufferedLength` for this stream. */
  maxBufferedLength?: number;
}

/**
 * Options of `stream()`: a run's and a reader's.
 *
 * @example
 * ```ts
 * const stream = client.stream(code, { input, signal: controller.signal, cancelOnAbort: true });
 * ```
 */
export interface StreamOptions extends RunOptions, FollowOptions {}

/**
 * Options of `session()`.
 *
 * @example
 * ```ts
 * // After a page reload: the events after the last one shown.
 * const stream = client.session(sessionStorage.sessionId, { fromSeq: Number(sessionStorage.lastSeq) });
 * ```
 */
export interface SessionOptions extends FollowOptions {
  /** Deliver only the events after this seq (the last one you have). Default 0: every event. */
  fromSeq?: number;
}

/**
 * A client of one enclave route. Every method throws (or rejects with) `EnclaveClientError` only;
 * a script that fails on the server is a result with `success: false`, never an exception.
 *
 * @example
 * ```ts
 * const { sessionId } = await client.start(code);          // fire and forget
 * const status = await client.getSession(sessionId);       // { sessionId, state: 'running' }
 * const result = await client.session(sessionId).result;   // follow it to the end
 * await client.cancel(otherId);                            // { state: 'cancelled', result: { ... ABORTED } }
 * const { pendingApproval } = await client.getSession(pausedId); // state 'waiting_for_approval'
 * await client.approve(pausedId, pendingApproval);         // or client.deny(pausedId, pendingApproval, 'Too much.')
 * ```
 */
export interface EnclaveClient {
  /**
   * Runs a script on the JSON route (`POST {url}`) and returns its result, whatever the HTTP status of a
   * run that failed (408, 422, 502, ...). Throws `EnclaveClientError` for a request refused before any
   * run (400, 401, 403, 413, 415, 429, a 503 of the route's concurrency cap: `status`, `code`,
   * `retryAfter`), for an answer that is not the contract's (`BAD_RESPONSE`), a failed connection
   * (`NETWORK_ERROR`) and an aborted `signal` (`ABORTED`; the server then aborts the run as well).
   */
  run<T = unknown>(code: string, options?: RunOptions | null): Promise<ExecutionResult<T>>;
  /**
   * Starts a session (`POST {url}/sessions`, streamed) and follows its events, resuming after dropped
   * connections. The first request is never repeated: if it fails, so does the stream.
   */
  stream<T = unknown>(code: string, options?: StreamOptions | null): EnclaveEventStream<T>;
  /** Starts a session without reading it (`POST {url}/sessions` with a JSON answer): its id and routes. */
  start(code: string, options?: RunOptions | null): Promise<StartedSession>;
  /** Attaches to a session (running or finished and not yet expired) and follows its events, resuming like `stream`. */
  session<T = unknown>(sessionId: string, options?: SessionOptions | null): EnclaveEventStream<T>;
  /** A session's state, and its result once it has one. */
  getSession(sessionId: string, options?: RequestOptions | null): Promise<SessionStatus>;
  /**
   * Cancels a session: its run ends as `ABORTED`. Resolves with the state once the run has ended (within
   * 5 s), or `state: 'running'` when the server answered 202 (cancel requested, not yet ended). A session
   * that had already ended keeps its state.
   */
  cancel(sessionId: string, options?: RequestOptions | null): Promise<SessionStatus>;
  /**
   * Approves the call a paused session waits on (`POST {url}/sessions/{id}/approvals/{callId}`): the run
   * resumes on the server (the approved call runs once) and its events go on; follow them with
   * `session(sessionId, { fromSeq })`. `call` is the pending approval as shown (its `digest` goes with
   * the decision, which the server then takes only for that very call, tool and arguments), or its
   * `callId` alone. Throws `EnclaveClientError`: 404 (not the caller's session), 409 `CONFLICT`
   * (already decided, not waiting, not waiting on that call, or the call waiting is not the one shown),
   * 410 `APPROVAL_EXPIRED` (the wait ended: the session ends so, nothing more runs), 429, 503.
   */
  approve(sessionId: string, call: number | Pick<PendingApproval, 'callId' | 'digest'>, options?: RequestOptions | null): Promise<ApprovalAnswer>;
  /** Denies it: the call rejects in the script with a catchable `ToolError` whose `code` is `APPROVAL_DENIED` and whose message is `reason`. Throws like `approve`. */
  deny(sessionId: string, call: number | Pick<PendingApproval, 'callId' | 'digest'>, reason?: string, options?: RequestOptions | null): Promise<ApprovalAnswer>;
  /** The catalog of the caller's tools (`GET {url}`), for prompts. */
  catalog(options?: RequestOptions | null): Promise<EnclaveCatalog>;
}

/**
 * What `approve()` and `deny()` resolve with: the session runs again.
 *
 * @example
 * ```ts
 * const { eventsUrl } = await client.approve(sessionId, pending); // eventsUrl: '.../events?fromSeq=8'
 * ```
 */
export interface ApprovalAnswer {
  sessionId: string;
  state: 'running';
  callId: number;
  approved: boolean;
  statusUrl: string;
  eventsUrl: string;
}

function configError(message: string, origin = 'createEnclaveClient(options)'): EnclaveClientError {
  return new EnclaveClientError({ code: 'CONFIG_ERROR', message: `${origin}: ${message}` });
}

/**
 * The route's URL, as a function called when a request is made. An absolute URL is checked now. A path
 * (`/api/enclave`) resolves against the page's location; without a page (a server render of the
 * component that makes the client, which sends nothing) the client is still made, and a request it
 * is then asked to send fails with CONFIG_ERROR.
 */
function baseUrl(url: unknown): () => URL {
  if (typeof url !== 'string' && !(url instanceof URL)) throw configError('url is required: the enclave route, e.g. "https://api.example.com/enclave".');
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    const resolved = new URL(url, page);
    return () => resolved;
  } catch {
    if (page !== undefined || typeof url !== 'string' || !/^\/(?!\/)/.test(url)) {
      throw configError(`url "${String(url)}" is not an absolute URL${page === undefined ? ' (outside a browser page a path needs an origin)' : ''}.`);
    }
  }
  return () => {
    const later = (globalThis as { location?: { href?: string } }).location?.href;
    if (later === undefined) throw configError(`url "${url}" is a path, and there is no browser page to resolve it against: outside a browser, give an absolute URL.`);
    return new URL(url, later);
  };
}

const KNOWN_OPTIONS = new Set(['url', 'headers', 'fetch', 'credentials', 'retry', 'idleTimeoutMs', 'format', 'maxEventLength', 'maxBufferedEvents', 'maxBufferedLength']);

function checkRetry(where: string, retry: unknown, origin?: string): void {
  if (retry === undefined || retry === false) return;
  if (retry === null || typeof retry !== 'object') throw configError(`${where} must be an object { maxRetries?, initialDelayMs?, maxDelayMs?, factor? } or false.`, origin);
  for (const [key, value] of Object.entries(retry)) {
    if (!['maxRetries', 'initialDelayMs', 'maxDelayMs', 'factor'].includes(key)) throw configError(`${where}.${key} is not an option; expected maxRetries, initialDelayMs, maxDelayMs or factor.`, origin);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (key === 'maxRetries' && !Number.isInteger(value)) || (key === 'factor' && value < 1)) {
      throw configError(`${where}.${key} must be a ${key === 'maxRetries' ? 'non-negative integer' : key === 'factor' ? 'number >= 1' : 'non-negative number of ms'}.`, origin);
    }
  }
}

function checkOptions(options: EnclaveClientOptions): void {
  if (options === null || typeof options !== 'object') throw configError('options must be an object with at least { url }.');
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.has(key)) throw configError(`unknown option "${key}"; expected ${[...KNOWN_OPTIONS].join(', ')}.`);
  const { headers, fetch, credentials, idleTimeoutMs, format } = options;
  if (headers !== undefined && typeof headers !== 'function' && (headers === null || typeof headers !== 'object')) throw configError('headers must be an object or a function returning one.');
  if (fetch !== undefined && typeof fetch !== 'function') throw configError('fetch must be a function.');
  if (fetch === undefined && typeof globalThis.fetch !== 'function') throw configError('there is no global fetch here; pass options.fetch.');
  if (credentials !== undefined && !['omit', 'same-origin', 'include'].includes(credentials)) throw configError('credentials must be "omit", "same-origin" or "include".');
  if (idleTimeoutMs !== undefined && (typeof idleTimeoutMs !== 'number' || !(idleTimeoutMs >= 0))) throw configError('idleTimeoutMs must be a non-negative number of ms (0: off).');
  if (format !== undefined && format !== 'sse' && format !== 'ndjson') throw configError('format must be "sse" or "ndjson".');
  const { maxEventLength } = options;
  if (maxEventLength !== undefined && (typeof maxEventLength !== 'number' || !Number.isSafeInteger(maxEventLength) || maxEventLength < 1)) throw configError('maxEventLength must be a positive integer (characters).');
  checkBuffer(options.maxBufferedEvents, options.maxBufferedLength);
  checkRetry('retry', options.retry);
}

function checkBuffer(events: unknown, length: unknown, origin?: string): void {
  const positive = (n: unknown) => n === undefined || (typeof n === 'number' && Number.isSafeInteger(n) && n >= 1);
  if (!positive(events)) throw configError('maxBufferedEvents must be a positive integer (events).', origin);
  if (!positive(length)) throw configError('maxBufferedLength must be a positive integer (characters).', origin);
}

const REQUEST_KEYS = ['signal', 'headers'] as const;
const RUN_KEYS = [...REQUEST_KEYS, 'input', 'limits'] as const;
const FOLLOW_KEYS = [...REQUEST_KEYS, 'onEvent', 'onRetry', 'retry', 'idleTimeoutMs', 'format', 'cancelOnAbort', 'maxBufferedEvents', 'maxBufferedLength'] as const;
const STREAM_KEYS = [...RUN_KEYS, ...FOLLOW_KEYS.slice(REQUEST_KEYS.length)] as const;
const SESSION_KEYS = [...FOLLOW_KEYS, 'fromSeq'] as const;

/**
 * The options of one call (`origin` names it), checked as the client's own are: an unknown or malformed
 * one is `CONFIG_ERROR` naming it, before anything is sent, rather than a TypeError from inside or an
 * option quietly left out. `input` and `limits` are the server's to judge; the retry policy and buffer
 * bounds are checked where a stream is made.
 */
function checkCall(given: unknown, known: readonly string[], origin: string): void {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw configError('options must be an object.', origin);
  const o = given as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!known.includes(key)) throw configError(`unknown option "${key}"; expected ${known.join(', ')}.`, origin);
  const { signal, headers, idleTimeoutMs, format, cancelOnAbort } = o;
  const isSignal = signal !== null && typeof signal === 'object' && typeof (signal as AbortSignal).aborted === 'boolean' && typeof (signal as AbortSignal).addEventListener === 'function';
  if (signal !== undefined && !isSignal) throw configError('signal must be an AbortSignal.', origin);
  if (headers !== undefined && (headers === null || typeof headers !== 'object' || Array.isArray(headers))) throw configError('headers must be an object of header names and values.', origin);
  for (const name of ['onEvent', 'onRetry']) if (o[name] !== undefined && typeof o[name] !== 'function') throw configError(`${name} must be a function.`, origin);
  if (idleTimeoutMs !== undefined && (typeof idleTimeoutMs !== 'number' || !(idleTimeoutMs >= 0))) throw configError('idleTimeoutMs must be a non-negative number of ms (0: off).', origin);
  if (format !== undefined && format !== 'sse' && format !== 'ndjson') throw configError('format must be "sse" or "ndjson".', origin);
  if (cancelOnAbort !== undefined && typeof cancelOnAbort !== 'boolean') throw configError('cancelOnAbort must be a boolean.', origin);
}

const DEFAULT_IDLE_TIMEOUT_MS = 45_000;
/** How long a server waits for a cancelled run to end before it answers the cancel. */
const CANCEL_WAIT_MS = 5_000;
const STREAM_ACCEPT = { sse: 'text/event-stream', ndjson: 'application/x-ndjson' } as const;
const JSON_ACCEPT = 'application/json';

/**
 * A client of an enclave route, for browsers and Node (>= 20.19): `fetch`, `ReadableStream` and
 * `TextDecoder` are all it uses. Options are checked here; a wrong one throws `EnclaveClientError`
 * `CONFIG_ERROR` naming it.
 *
 * @example
 * ```ts
 * import { createEnclaveClient } from '@enclave-kit/client';
 *
 * const client = createEnclaveClient({
 *   url: 'https://api.example.com/enclave',
 *   headers: async () => ({ authorization: `Bearer ${await getToken()}` }), // asked before every request
 * });
 * const result = await client.run('return await callTool("orders:list", {})');
 *
 * const stream = client.stream(code, { onEvent: (e) => console.log(e.seq, e.type) });
 * const final = await stream.result; // resumes by itself if the connection drops
 * ```
 * Defaults: SSE; retries 8 attempts in a row without progress, 1 s doubling to 15 s with jitter;
 * a stream silent for 45 s is resumed; events and JSON answers of at most 64 Mi characters; at most
 * 10,000 events and 16 Mi characters of them kept for a loop that lags (none for a stream whose
 * `result` alone is awaited).
 */
export function createEnclaveClient(options: EnclaveClientOptions): EnclaveClient {
  checkOptions(options);
  const base = baseUrl(options.url);
  const maxEventLength = options.maxEventLength ?? DEFAULT_MAX_EVENT_LENGTH;
  // The calls the server answers at once (all but run, which answers when the run ends) get as long
  // as a stream may stay silent.
  const answerDeadlineMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const transport: Transport = {
    // Called unbound: a browser's fetch refuses another `this`.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    headers: options.headers,
    credentials: options.credentials,
  };
  /** Every session id a caller gives is checked here, before it goes into a URL path (`..` would name another route). */
  const checkedId = (id: unknown): string => {
    if (!isSessionId(id)) throw new EnclaveClientError({ code: 'BAD_REQUEST', message: 'sessionId is not a session id: 1 to 128 characters of A-Z, a-z, 0-9, "_" and "-".' });
    return id;
  };
  const sessionUrl = (id: string, suffix = '') => routeUrl(base(), `/sessions/${checkedId(id)}${suffix}`);
  const runBody = (code: string, o: RunOptions) => {
    if (typeof code !== 'string') throw new EnclaveClientError({ code: 'BAD_REQUEST', message: `code must be a string, got ${typeof code}.` });
    return { code, ...(o.input !== undefined && { input: o.input }), ...(o.limits !== undefined && { limits: o.limits }) };
  };

  async function json<R>(url: string, method: 'GET' | 'DELETE', o: RequestOptions, shape: keyof typeof ANSWER_SHAPES, deadlineMs = answerDeadlineMs): Promise<R> {
    return exchange(
      transport,
      url,
      { method, accept: JSON_ACCEPT, headers: o.headers, signal: o.signal },
      async (res, signal) => {
        if (!res.ok) throw await errorOf(res, signal, maxEventLength);
        return shaped<R>(res, await readJson(res, signal, maxEventLength), shape);
      },
      deadlineMs,
    );
  }

  // The server answers a cancel once the run has ended, or after 5 s.
  const cancel = async (sessionId: string, o?: RequestOptions | null) => {
    checkCall(o ?? {}, REQUEST_KEYS, 'client.cancel(sessionId, options)');
    return json<SessionStatus>(sessionUrl(sessionId), 'DELETE', o ?? {}, 'status', answerDeadlineMs > 0 ? answerDeadlineMs + CANCEL_WAIT_MS : 0);
  };

  async function decide(sessionId: string, call: number | Pick<PendingApproval, 'callId' | 'digest'>, decision: { approved: boolean; reason?: string }, o: RequestOptions): Promise<ApprovalAnswer> {
    checkCall(o, REQUEST_KEYS, `client.${decision.approved ? 'approve' : 'deny'}(sessionId, call${decision.approved ? '' : ', reason'}, options)`);
    const { callId, digest } = typeof call === 'number' ? { callId: call, digest: undefined } : (call ?? {});
    if (!Number.isSafeInteger(callId) || (callId as number) < 1) throw new EnclaveClientError({ code: 'BAD_REQUEST', message: `callId must be a positive integer (the pending call's), got ${String(callId)}.` });
    if (decision.reason !== undefined && typeof decision.reason !== 'string') throw new EnclaveClientError({ code: 'BAD_REQUEST', message: 'reason must be a string.' });
    if (digest !== undefined && typeof digest !== 'string') throw new EnclaveClientError({ code: 'BAD_REQUEST', message: 'digest must be the string the pending approval carries.' });
    const body = digest === undefined ? decision : { ...decision, digest };
    return exchange(
      transport,
      sessionUrl(sessionId, `/approvals/${callId}`),
      { method: 'POST', accept: JSON_ACCEPT, body, headers: o.headers, signal: o.signal },
      async (res, signal) => {
        if (res.status !== 202) throw await errorOf(res, signal, maxEventLength);
        return shaped<ApprovalAnswer>(res, await readJson(res, signal, maxEventLength), 'decided');
      },
      answerDeadlineMs,
    );
  }

  function follow<T>(sessionId: string | undefined, afterSeq: number, o: FollowOptions, start?: (signal: AbortSignal) => Promise<Response>): EnclaveEventStream<T> {
    checkRetry('retry', o.retry, 'stream/session options');
    checkBuffer(o.maxBufferedEvents, o.maxBufferedLength, 'stream/session options');
    const retry = o.retry ?? options.retry;
    const format = o.format ?? options.format ?? 'sse';
    return new EventStream<T>({
      plan: {
        sessionId,
        afterSeq,
        format,
        retry: retry === false ? { ...DEFAULT_RETRY, maxRetries: 0, initialDelayMs: undefined } : { ...DEFAULT_RETRY, initialDelayMs: undefined, ...retry },
        idleTimeoutMs: o.idleTimeoutMs ?? options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        maxEventLength,
        ...(start && { start }),
        reconnect: async (id, after, signal) =>
          send(transport, sessionUrl(id, '/events'), { method: 'GET', accept: STREAM_ACCEPT[format], headers: { ...o.headers, ...(after > 0 && { 'last-event-id': String(after) }) }, signal }),
        onRetry: o.onRetry,
        status: (id, signal) => json<SessionStatus>(sessionUrl(id), 'GET', { ...(o.headers && { headers: o.headers }), signal }, 'status'),
      },
      signal: o.signal,
      onEvent: o.onEvent,
      cancelOnAbort: o.cancelOnAbort ?? false,
      maxBufferedEvents: o.maxBufferedEvents ?? options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS,
      maxBufferedLength: o.maxBufferedLength ?? options.maxBufferedLength ?? DEFAULT_MAX_BUFFERED_LENGTH,
      cancel: (id, signal) => cancel(id, { ...(o.headers && { headers: o.headers }), ...(signal && { signal }) }),
    });
  }

  return {
    async run<T>(code: string, given?: RunOptions | null) {
      const o = given ?? {};
      checkCall(o, RUN_KEYS, 'client.run(code, options)');
      return exchange(transport, base().href, { method: 'POST', accept: JSON_ACCEPT, body: runBody(code, o), headers: o.headers, signal: o.signal }, async (res, signal) => resultOf<T>(res, signal, maxEventLength));
    },
    stream<T>(code: string, given?: StreamOptions | null) {
      const o = given ?? {};
      checkCall(o, STREAM_KEYS, 'client.stream(code, options)');
      const body = runBody(code, o);
      const format = o.format ?? options.format ?? 'sse';
      return follow<T>(undefined, 0, o, async (signal) => send(transport, routeUrl(base(), '/sessions'), { method: 'POST', accept: STREAM_ACCEPT[format], body, headers: o.headers, signal }));
    },
    async start(code: string, given?: RunOptions | null) {
      const o = given ?? {};
      checkCall(o, RUN_KEYS, 'client.start(code, options)');
      return exchange(
        transport,
        routeUrl(base(), '/sessions'),
        { method: 'POST', accept: JSON_ACCEPT, body: runBody(code, o), headers: o.headers, signal: o.signal },
        async (res, signal) => {
          if (res.status !== 201) throw await errorOf(res, signal, maxEventLength);
          return shaped<StartedSession>(res, await readJson(res, signal, maxEventLength), 'started');
        },
        answerDeadlineMs,
      );
    },
    session<T>(sessionId: string, given?: SessionOptions | null) {
      const o = given ?? {};
      checkCall(o, SESSION_KEYS, 'client.session(sessionId, options)');
      const fromSeq = o.fromSeq ?? 0;
      if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) throw new EnclaveClientError({ code: 'BAD_REQUEST', message: `fromSeq must be a non-negative integer, got ${String(fromSeq)}.` });
      return follow<T>(checkedId(sessionId), fromSeq, o);
    },
    getSession: async (sessionId, o) => {
      checkCall(o ?? {}, REQUEST_KEYS, 'client.getSession(sessionId, options)');
      return json<SessionStatus>(sessionUrl(sessionId), 'GET', o ?? {}, 'status');
    },
    cancel,
    approve: (sessionId, call, o) => decide(sessionId, call, { approved: true }, o ?? {}),
    deny: (sessionId, call, reason, o) => decide(sessionId, call, reason === undefined ? { approved: false } : { approved: false, reason }, o ?? {}),
    catalog: async (o) => {
      checkCall(o ?? {}, REQUEST_KEYS, 'client.catalog(options)');
      return json<EnclaveCatalog>(base().href, 'GET', o ?? {}, 'catalog');
    },
  };
}
