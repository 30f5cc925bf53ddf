import { Enclave } from '../enclave.js';
import type { RateLimitStore } from '../rate-limit.js';
import { MemoryRateLimitStore } from '../rate-limit.js';
import type { EnclaveDescription } from '../tools/describe.js';
import type { CreateEnclaveOptions, ExecutionResult, RunOptions, ToolHandler, ToolSet } from '../types.js';
import type { RunRequestBody } from './body.js';
import { isJsonContentType, parseRunRequest, readBodyText } from './body.js';
import { OptionChecker } from '../options.js';
import { failure, internalFailure, noStats } from '../result.js';
import { EnclaveHttpError } from './errors.js';
import type { HttpOutcome } from './status.js';
import { statusTable } from './status.js';

/** What the per-request hooks receive. `native` is the framework's own request object. */
export interface EnclaveRequestContext<N = unknown, U = unknown> {
  /** The Fetch `Request` (its body is read by the core; do not read it). */
  readonly request: Request;
  /** The framework's request: Express `{ req, res }`, Hono `Context`, Nest `{ req, res }`, Next `NextRequest`. */
  readonly native: N;
  /** Aborted when the client goes away; pass it on to database calls and `fetch`. */
  readonly signal: AbortSignal;
  /** What `authenticate` returned (`undefined` without an `authenticate` hook). */
  readonly user: U;
}

/** What `createContext` returns: the scope of one run, bound to the request's user. */
export interface RunScope {
  tools?: ToolSet;
  toolHandler?: ToolHandler;
  globals?: Readonly<Record<string, unknown>>;
  /** Passed to every tool as `ctx.context`. */
  context?: unknown;
}

type Awaitable<T> = T | Promise<T>;

/** Where per-request tools come from: exactly one of `tools` or `createContext` (or neither: the Enclave's own). */
export type ToolSourceOptions<N, U> =
  | {
      /** The tools of this request's user, or one set for everybody. Called once per request. */
      tools: ToolSet | ((ctx: EnclaveRequestContext<N, U>) => Awaitable<ToolSet>);
      createContext?: never;
    }
  | {
      /** Like `tools`, for full control of the run's scope (tools or a tool handler, globals, context). */
      createContext: (opts: EnclaveRequestContext<N, U>, native: N) => Awaitable<RunScope>;
      tools?: never;
    }
  | { tools?: never; createContext?: never };

export interface RateLimitOptions<N, U> {
  /** Requests per window and key. */
  max: number;
  windowMs: number;
  /** The key to count under, usually the user's id; `undefined` skips the limit for this request. */
  key: (ctx: EnclaveRequestContext<N, U>) => string | undefined;
  /** Where requests are counted (the interface of the Enclave's `rateLimitStore`). Default: in memory, per handler. */
  store?: RateLimitStore;
}

export interface EnclaveLogger {
  info(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface EnclaveHandlerBaseOptions<N, U> {
  /** An `Enclave` to share, or the options of the one the handler creates. Default `new Enclave()`. */
  enclave?: Enclave | CreateEnclaveOptions;
  /** Bytes of request body read at most; larger bodies get 413 without being buffered. Default 1 MiB. */
  maxBodySize?: number;
  /**
   * Who is asking. Return the user (it reaches `tools(ctx)` as `ctx.user`), or `null`/`undefined`/`false`
   * for 401. Throw `new EnclaveHttpError(403, message)` to refuse with another status.
   */
  authenticate?: (ctx: EnclaveRequestContext<N, undefined>) => Awaitable<U | null | undefined | false>;
  /** Per-user fixed-window rate limit: 429 with `Retry-After`. */
  rateLimit?: RateLimitOptions<N, U>;
  /** Runs in flight at once through this handler; more get 503 (`QUEUE_FULL`) with `Retry-After`. Default unlimited. */
  maxConcurrentRuns?: number;
  /** Seconds sent in `Retry-After` with 503. Default 1. */
  retryAfter?: number;
  /** Serve the catalog of the user's tools on `GET`. Default true. */
  catalog?: boolean;
  /** Overrides of single rows of `ENCLAVE_HTTP_STATUS`. */
  statuses?: Partial<Record<HttpOutcome, number>>;
  /** Before a run; throw `EnclaveHttpError` to refuse it. */
  onRunStart?: (event: { ctx: EnclaveRequestContext<N, U>; body: RunRequestBody }) => Awaitable<void>;
  /** After a run, with the status about to be sent (also for 499, when nobody reads it). */
  onRunEnd?: (event: { ctx: EnclaveRequestContext<N, U>; result: ExecutionResult; status: number }) => void;
  /** A hook threw something other than `EnclaveHttpError`, or the engine reported `INTERNAL_ERROR`. The client gets a bare 500. */
  onError?: (event: { error: unknown; request: Request }) => void;
  /** Where 499s and internal errors are logged. Default `console`. */
  logger?: EnclaveLogger;
}

/** Options of `createEnclaveHandler` and of every adapter. */
export type EnclaveHandlerOptions<N = unknown, U = unknown> = EnclaveHandlerBaseOptions<N, U> & ToolSourceOptions<N, U>;

/** A Fetch handler: `(request, native?) => Promise<Response>`. Never throws, never rejects. */
export interface EnclaveFetchHandler<N = unknown> {
  (request: Request, native?: N): Promise<Response>;
  /** The engine instance the handler runs scripts on. */
  readonly enclave: Enclave;
  readonly maxBodySize: number;
  /** The JSON answer (status from this handler's table) for a request refused outside the core, e.g. by a framework's body parser. */
  refuse(error: EnclaveHttpError): Response;
  /** Disposes the Enclave if the handler created it. */
  dispose(): void;
}

const DEFAULT_MAX_BODY = 1024 * 1024;
/** Where the HTTP core's option errors say they come from: the adapters' options are these options. */
const OPTIONS_WHERE = 'enclave options';
const OPTION_KEYS = new Set([
  'enclave',
  'maxBodySize',
  'authenticate',
  'rateLimit',
  'maxConcurrentRuns',
  'retryAfter',
  'catalog',
  'statuses',
  'onRunStart',
  'onRunEnd',
  'onError',
  'logger',
  'tools',
  'createContext',
]);
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/** Options every adapter passes through, checked once here; adapters take out their own keys (`path`) first. */
export function checkHandlerOptions(options: unknown): asserts options is EnclaveHandlerOptions<unknown, unknown> {
  const check = new OptionChecker(OPTIONS_WHERE);
  const o = check.object('options', options ?? null) ?? {};
  check.knownKeys('', o, OPTION_KEYS, ['path']);
  if (o.tools !== undefined && o.createContext !== undefined) check.fail('give either tools or createContext, not both.');
  if (o.tools !== undefined && (o.tools === null || (typeof o.tools !== 'object' && typeof o.tools !== 'function'))) check.fail('tools must be a function (ctx) => tools, or an object of tools.');
  for (const name of ['createContext', 'authenticate', 'onRunStart', 'onRunEnd', 'onError']) check.function(name, o[name]);
  check.positiveInteger('maxBodySize', o.maxBodySize, 'bytes');
  check.positiveInteger('maxConcurrentRuns', o.maxConcurrentRuns);
  check.positiveInteger('retryAfter', o.retryAfter, 'seconds');
  check.boolean('catalog', o.catalog);
  const rateLimit = check.object('rateLimit', o.rateLimit, '{ max, windowMs, key: (ctx) => string, store? }');
  if (rateLimit !== undefined) {
    check.knownKeys('rateLimit', rateLimit, ['max', 'windowMs', 'key', 'store']);
    check.function('rateLimit.key', rateLimit.key ?? null, '(ctx) => string | undefined');
    check.positiveInteger('rateLimit.max', rateLimit.max ?? null);
    check.positiveInteger('rateLimit.windowMs', rateLimit.windowMs ?? null, 'ms');
    check.withMethods<RateLimitStore>('rateLimit.store', rateLimit.store, ['hit'], 'a hit(key, windowMs) method');
  }
  check.withMethods<EnclaveLogger>('logger', o.logger, ['info', 'error'], 'info() and error() methods');
  statusTable(o.statuses as Parameters<typeof statusTable>[0]);
}

/**
 * The catalog served on `GET`: `enclave.describe()` of the request's tools (names, descriptions, JSON
 * Schemas, `callTool` overloads in TypeScript, and the dialect of the level). This is the only place
 * that shapes the catalog.
 */
function describeCatalog(enclave: Enclave, scope: RunScope): EnclaveDescription {
  return enclave.describe(scope.tools);
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

/**
 * The Fetch core every adapter translates to: checks the request, builds the user's tools, runs the
 * script and answers with the `ExecutionResult` and the status of `ENCLAVE_HTTP_STATUS`.
 *
 * `POST` runs `{ code, input?, limits? }`; `GET` serves the catalog of the user's tools.
 *
 * @example
 * ```ts
 * const handler = createEnclaveHandler({
 *   authenticate: ({ request }) => users.byToken(request.headers.get('authorization')), // null -> 401
 *   tools: ({ user }) => ({ 'orders:list': () => db.orders.list({ ownerId: user.id }) }),
 * });
 * Bun.serve({ fetch: (req) => handler(req) });
 * ```
 * Defaults: `maxBodySize` 1 MiB, catalog on, no rate limit, no concurrency cap, `new Enclave()`.
 */
export function createEnclaveHandler<N = unknown, U = unknown>(options: EnclaveHandlerOptions<N, U>): EnclaveFetchHandler<N> {
  checkHandlerOptions(options);
  const statuses = statusTable(options.statuses);
  const ownsEnclave = !(options.enclave instanceof Enclave);
  const enclave = options.enclave instanceof Enclave ? options.enclave : new Enclave(options.enclave);
  const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY;
  const retryAfter = String(options.retryAfter ?? 1);
  const catalog = options.catalog ?? true;
  const logger = options.logger ?? console;
  const rateLimit = options.rateLimit ? { ...options.rateLimit, store: options.rateLimit.store ?? new MemoryRateLimitStore() } : undefined;
  let inFlight = 0;

  const requestError = (code: string, message: string, started: number, headers: Record<string, string> = {}, status: number = statuses[code as HttpOutcome] ?? 500) =>
    json(status, failure(code, 'RequestError', message, noStats(Math.round(performance.now() - started))), headers);

  const safely = (fn: () => void) => {
    try {
      fn();
    } catch {
      // A throwing hook must not turn a delivered answer into a crash.
    }
  };

  async function scopeOf(ctx: EnclaveRequestContext<N, U>): Promise<RunScope> {
    if (options.createContext) return (await options.createContext(ctx, ctx.native)) ?? {};
    if (typeof options.tools === 'function') return { tools: await options.tools(ctx) };
    return options.tools ? { tools: options.tools } : {};
  }

  async function serve(request: Request, native: N, started: number): Promise<Response> {
    const method = request.method.toUpperCase();
    if (method !== 'POST' && !(method === 'GET' && catalog)) {
      const allow = catalog ? 'GET, POST' : 'POST';
      return requestError('METHOD_NOT_ALLOWED', `Use POST${catalog ? ' (or GET for the catalog)' : ''}.`, started, { allow });
    }
    const base = { request, native, signal: request.signal, user: undefined };
    let user = undefined as U;
    if (options.authenticate) {
      const who = await options.authenticate(base);
      if (who === null || who === undefined || who === false) return requestError('UNAUTHORIZED', 'Authentication required.', started);
      user = who as U;
    }
    const ctx: EnclaveRequestContext<N, U> = { ...base, user };
    const limitKey = rateLimit?.key(ctx);
    if (rateLimit && limitKey !== undefined) {
      // Tool names have no control characters, so these keys never meet a tool's in a shared store.
      const hit = await rateLimit.store.hit(`\u0000http\u0000${limitKey}`, rateLimit.windowMs);
      if (hit.count > rateLimit.max) {
        return requestError('RATE_LIMITED', 'Too many requests; retry later.', started, { 'retry-after': String(Math.max(1, Math.ceil(hit.resetInMs / 1000))) });
      }
    }
    if (method === 'GET') return json(statuses.SUCCESS, describeCatalog(enclave, await scopeOf(ctx)));

    if (!isJsonContentType(request.headers.get('content-type'))) {
      return requestError('UNSUPPORTED_MEDIA_TYPE', 'Send the request as Content-Type: application/json.', started);
    }
    const body = parseRunRequest(await readBodyText(request, maxBodySize));
    if (options.maxConcurrentRuns !== undefined && inFlight >= options.maxConcurrentRuns) {
      return requestError('QUEUE_FULL', 'The server is busy; retry later.', started, { 'retry-after': retryAfter });
    }
    inFlight++;
    let result: ExecutionResult;
    try {
      const scope = await scopeOf(ctx);
      await options.onRunStart?.({ ctx, body });
      const runOptions: RunOptions = { ...body.limits, signal: request.signal };
      if (scope.tools !== undefined) runOptions.tools = scope.tools;
      if (scope.toolHandler !== undefined) runOptions.toolHandler = scope.toolHandler;
      if (body.input !== undefined) runOptions.input = body.input;
      if (scope.globals !== undefined) runOptions.globals = scope.globals;
      if (scope.context !== undefined) runOptions.context = scope.context;
      result = await enclave.run(body.code, runOptions);
    } finally {
      inFlight--;
    }

    let status = statuses.SUCCESS;
    let headers: Record<string, string> = {};
    if (!result.success) {
      const { error, stats } = result;
      status = statuses[error.code];
      if (error.code === 'TOOL_ERROR') {
        // A public ToolError's status (400-599) travels in the result's data.
        const carried = error.data?.status;
        if (typeof carried === 'number' && Number.isInteger(carried) && carried >= 400 && carried <= 599) status = carried;
      } else if (error.code === 'QUEUE_FULL') {
        headers = { 'retry-after': retryAfter };
      } else if (error.code === 'ABORTED') {
        safely(() => logger.info(`enclave: client closed the request; run aborted after ${Math.round(stats.duration)} ms (${status})`));
      } else if (error.code === 'INTERNAL_ERROR') {
        safely(() => logger.error('enclave: the engine reported an internal error'));
        safely(() => options.onError?.({ error, request }));
        result = internalFailure(stats);
      }
    }
    const answer = result;
    safely(() => options.onRunEnd?.({ ctx, result: answer, status }));
    return json(status, result, headers);
  }

  const refuse = (err: EnclaveHttpError, started = performance.now()) => {
    const status = Object.hasOwn(statuses, err.code) ? statuses[err.code as HttpOutcome] : err.status;
    return requestError(err.code, err.message, started, { ...err.headers }, status);
  };

  const handler = async function enclaveHandler(request: Request, native?: N): Promise<Response> {
    const started = performance.now();
    try {
      return await serve(request, native as N, started);
    } catch (err) {
      if (err instanceof EnclaveHttpError) return refuse(err, started);
      if (request.signal.aborted) {
        safely(() => logger.info('enclave: client closed the request before the run started (499)'));
        return requestError('ABORTED', 'The client closed the request.', started);
      }
      safely(() => logger.error('enclave: a hook failed', err));
      safely(() => options.onError?.({ error: err, request }));
      return json(statuses.INTERNAL_ERROR, internalFailure(noStats(Math.round(performance.now() - started))));
    }
  } as EnclaveFetchHandler<N>;
  Object.defineProperties(handler, {
    enclave: { value: enclave, enumerable: true },
    maxBodySize: { value: maxBodySize, enumerable: true },
    refuse: { value: (err: EnclaveHttpError) => refuse(err) },
    dispose: { value: () => ownsEnclave && enclave.dispose() },
  });
  return handler;
}
