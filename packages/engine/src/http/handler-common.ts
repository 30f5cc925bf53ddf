/**
 * What createEnclaveHandler (handler.ts) and the core that serves its requests (handler-core.ts, loaded
 * when a handler is created) share: the options' types, what one settles for the other, and a few
 * helpers both answer with.
 */
import type { Enclave } from '../enclave.js';
import type { RateLimitStore } from '../rate-limit.js';
import type { CreateEnclaveOptions, ExecutionResult, ToolHandler, ToolSet } from '../types.js';
import type { EnclaveHttpError } from './errors.js';
import type { LeaseStore } from '../leases.js';
import type { SessionStore } from './session-store.js';
import type { AllowedHosts, AllowedOrigins } from './origin.js';
import type { HttpOutcome } from './status.js';
import type { RunRequestBody } from './body.js';

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

export interface SessionOptions<N, U> {
  /** Where sessions live. Default: in this process's memory (`MemorySessionStore`). */
  store?: SessionStore;
  /** The key of the user a session belongs to; anyone else gets 404 for it. Default: `userKey`. */
  owner?: (ctx: EnclaveRequestContext<N, U>) => string;
  /** Sessions a user may have running at once (across instances, see `leases`); one more gets 429 with `Retry-After`. Default 10. */
  maxPerUser?: number;
  /** How long a finished session stays readable, in ms. Default 10 minutes. */
  ttlMs?: number;
  /**
   * Streams of sessions (`GET {path}/sessions/{id}/events`, and `POST` with an event-stream `Accept`) a
   * user may have open at once on this instance; one more gets 429 with `Retry-After`. Each holds a
   * subscription to the store and a reader's buffer until it ends. Default 20.
   */
  maxFollowersPerUser?: number;
  /**
   * How long an instance's word that it runs a session lasts (it renews it every third of that): when
   * an instance dies, its sessions end as `RUN_LOST` within this time plus half of it. Default 10 s.
   */
  livenessMs?: number;
  /**
   * How long a run paused for an approval waits (ms); then the session ends as `APPROVAL_EXPIRED`.
   * Default 24 hours. Pauses need a store with `pause` and `resume` (both built-in stores have them).
   */
  maxPauseDuration?: number;
  /**
   * Sessions of one user that may wait for an approval at once (across instances with a shared store):
   * beyond, a call that needs approval does not pause its run but fails in the script with
   * `APPROVAL_REQUIRED` (catchable, status 429 in its data), as it does in a run that cannot pause.
   * A pause frees the user's `maxPerUser` slot, so this is what bounds what a user keeps waiting (each
   * with up to `maxJournalBytes` of journal, for up to `maxPauseDuration`). Default 20.
   */
  maxWaitingPerUser?: number;
  /** Approvals one session's run may wait for; the next call that needs one ends it as `MAX_PAUSES`. Default 10. */
  maxPauses?: number;
  /** Bytes of journal (completed tool calls, recorded values) a paused run keeps; beyond, it ends as `JOURNAL_LIMIT_EXCEEDED`. Default 4 MiB. */
  maxJournalBytes?: number;
  /**
   * A secret every instance shares (at least 32 bytes): a paused run's state (its script and journal) is
   * signed with it when it is stored (HMAC-SHA-256, bound to the session and its owner), and a state that
   * does not verify is never resumed: the session ends as `INTERNAL_ERROR`. Without it, whoever can
   * write to the store can swap a paused session's script, and the owner's approval would run theirs.
   * Default: unsigned (the store is trusted).
   */
  stateKey?: string | Uint8Array;
}

/**
 * What a route of `routes` is given: the request already authenticated and rate-limited like the run
 * route's, and the run route's own ways to build the user's scope and to run a script.
 */
export interface EnclaveRouteContext<N = unknown, U = unknown> {
  /** The request's context, as `tools(ctx)` gets it (the body is unread: the route reads it). */
  readonly ctx: EnclaveRequestContext<N, U>;
  /** The path below the route's own: `''` for `{path}/mcp` itself, `'/a/b'` for `{path}/mcp/a/b`. */
  readonly rest: string;
  readonly enclave: Enclave;
  /** Read the body with `readBodyText(request, maxBodySize, { timeoutMs: bodyTimeoutMs })` from `@enclave-kit/engine/http`. */
  readonly maxBodySize: number;
  readonly bodyTimeoutMs: number;
  /**
   * This request's scope from `tools(ctx)` or `createContext`, built at most once per request. Rejects
   * only with an `EnclaveHttpError`, whose message is public: any other failure is reported to
   * `onError` and the logger and becomes a bare 500 `INTERNAL_ERROR`.
   */
  scope(): Promise<RunScope>;
  /**
   * Runs `body` as `POST {path}` runs it: this request's scope, `onRunStart`/`onRunEnd`, the concurrency
   * cap, client limits that only lower the server's. `status` is what the run route would answer.
   * Rejects like `scope()`, e.g. with 503 `QUEUE_FULL` when `maxConcurrentRuns` are in flight.
   */
  run(body: RunRequestBody): Promise<{ result: ExecutionResult; status: number }>;
}

/**
 * A route the handler serves below its own path, next to the run route (`{path}/mcp` for
 * `routes: { '/mcp': mcpRoute() }`), with the same authentication, rate limit and per-request tools.
 *
 * @example
 * ```ts
 * // GET {path}/tools/names: the names of the user's tools, as plain JSON.
 * const names: EnclaveRoute = {
 *   serve: async ({ enclave, scope }) => Response.json(enclave.describe((await scope()).tools).tools.map((t) => t.name)),
 * };
 * app.use(enclave({ authenticate, tools, routes: { '/tools/names': names } }));
 * ```
 */
export interface EnclaveRoute<N = unknown, U = unknown> {
  /** Answers every method at the route's path and below it. */
  serve(route: EnclaveRouteContext<N, U>): Promise<Response>;
  /** The answer to a request refused before `serve` or by a rejection out of it (401, 403, 413, 429, 500...). Default: the run route's JSON. */
  refuse?(error: EnclaveHttpError): Response;
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
   * Milliseconds a request's body may take to arrive whole, from when the route starts reading it; a
   * slower one gets 408 `REQUEST_TIMEOUT` and its connection is closed. Default 30,000.
   */
  bodyTimeoutMs?: number;
  /**
   * Milliseconds an answer may wait on a client that reads none of it (a socket whose receive window
   * stays full); past it the connection is closed and what was still to send is dropped. A client that
   * reads, however slowly, keeps it open. Applies where the Node bridge writes the answer (Express,
   * NestJS, `handleNodeRequest`); other runtimes write answers themselves. Default 30,000.
   */
  sendTimeoutMs?: number;
  /**
   * Browser origins allowed to call the run, check, catalog and session routes besides the ones let in
   * by default: a request with another `Origin` gets 403 before anything else (CSRF from another site,
   * DNS rebinding to a local server). By default a page of the server's own origin passes when that
   * origin is `https:`, `localhost` or an IP address; under a plain-http DNS name a rebinding attacker's
   * page has the same origin, so list it (`['http://app.internal:3000']`). Requests without `Origin`
   * (non-browser clients) are unaffected; `'*'` allows any. Routes of `routes` check their own (see
   * `mcpRoute({ allowedOrigins })`). Default: none listed.
   */
  allowedOrigins?: AllowedOrigins;
  /**
   * Host names a server without `authenticate` answers under besides `localhost` and IP addresses
   * (`Host`, port aside): `'app.internal'`, `'.example.com'` for it and every name below it, or `'*'`
   * for any. Under any other DNS name every route (the run, catalog, check, session, playground routes,
   * and `routes` such as `mcpRoute()`) answers 403 `FORBIDDEN`: a page on an attacker's name rebound to
   * this server would be same-origin, and a same-origin `GET` sends no `Origin` to check. The hosts of
   * listed `allowedOrigins`, and a page that says it is `https:` at the very host, pass too. With
   * `authenticate` nothing is checked (a rebinding page has none of the user's credentials) unless
   * `allowedHosts` is given: set it when `authenticate` admits anyone. Default: none listed.
   */
  allowedHosts?: AllowedHosts;
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
  /**
   * Serve `POST {path}/check`: the issues `enclave.check()` finds in `{ code }`, at this handler's level
   * and with the user's tool names, without running anything. Default true.
   */
  check?: boolean;
  /**
   * Serve the playground page at `GET {path}/playground` (an editor with live checks, the catalog, runs
   * with streamed logs and tool calls). The page and its assets hold no user data and are served without
   * `authenticate`; everything it does goes through the routes above, with the headers the user enters.
   * Default: on, unless `process.env.NODE_ENV` is `'production'`; `true` or `false` wins over it.
   *
   * @example
   * ```ts
   * app.use(enclave({ tools, authenticate, playground: true })); // then open /enclave/playground
   * ```
   */
  playground?: boolean;
  /**
   * Routes below the run route's path, keyed by their sub-path (`'/mcp'`): they answer `{path}/mcp` and
   * anything below it, after the same `authenticate` and `rateLimit`, with the same tools. (`NoInfer`: the
   * user type comes from `authenticate`, never from a route such as `mcpRoute()`.)
   */
  routes?: Readonly<Record<string, EnclaveRoute<NoInfer<N>, NoInfer<U>>>>;
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
  /**
   * Resumable runs at `{path}/sessions` (start, follow with `Last-Event-ID`, state, cancel). Default on,
   * in memory; `false` turns the routes off.
   */
  sessions?: SessionOptions<N, U> | false;
  /** A `heartbeat` event this often (ms) while a streamed run or session lasts. Default 15,000. */
  heartbeatMs?: number;
  /**
   * Who a request counts as for the per-user caps (and, by default, whose sessions are whose). Default:
   * the `authenticate` result's `id` (or the result itself when it is a string or number); everybody
   * shares one key without `authenticate`.
   */
  userKey?: (ctx: EnclaveRequestContext<N, U>) => string;
  /** Runs a user may have in flight at once (JSON, streamed and sessions; across instances, see `leases`): 429 + `Retry-After` beyond. Default unlimited. */
  maxRunsPerUser?: number;
  /**
   * Where the per-user caps (`maxRunsPerUser`, `sessions.maxPerUser`) count what is in flight: leases
   * with a time to live, renewed while a run lasts, so a crashed instance gives its slots back. Default in
   * this process's memory; a shared store (`@enclave-kit/redis`) makes the caps hold across instances.
   */
  leases?: LeaseStore;
}

/** Options of `createEnclaveHandler` and of every adapter. */
export type EnclaveHandlerOptions<N = unknown, U = unknown> = EnclaveHandlerBaseOptions<N, U> & ToolSourceOptions<N, U>;

/**
 * A Fetch handler: `(request, native?, subPath?) => Promise<Response>`. Never throws, never rejects.
 * `subPath` is the part of the URL path below the handler's own that the adapter matched: `''` for the
 * run route, `'/sessions/{id}'` for a session, `'/mcp'` for a route of `routes`. Absent (a bare
 * `handler(request)`), the session routes are read from the end of the URL's path.
 */
export interface EnclaveFetchHandler<N = unknown> {
  (request: Request, native?: N, subPath?: string): Promise<Response>;
  /** The engine instance the handler runs scripts on. */
  readonly enclave: Enclave;
  readonly maxBodySize: number;
  /** How long the Node bridge waits on a client that reads nothing of an answer before it closes the connection (default 30 s). */
  readonly sendTimeoutMs?: number;
  /** Whether the core answers `method` at `subPath` (`''`: the run route; sessions; routes); adapters pass everything else on. */
  accepts(method: string, subPath: string): boolean;
  /** The answer (status from this handler's table) for a request refused outside the core, e.g. by a framework's body parser; in the shape of the route at `subPath`. */
  refuse(error: EnclaveHttpError, subPath?: string): Response;
  /** Disposes the Enclave if the handler created it. */
  dispose(): void;
}


const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export const CHECK_PATH = '/check';
/** How long an answer may wait on a client that reads none of it, by default (`sendTimeoutMs`). */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;
const PLAYGROUND_PATH = '/playground';

/** The part of `subPath` below `/playground` (`''` for the page, `'/assets/x.js'`), or undefined elsewhere. */
export function playgroundPath(subPath: string): string | undefined {
  const sub = subPath.replace(/\/+$/, '');
  if (sub === PLAYGROUND_PATH) return '';
  return sub.startsWith(`${PLAYGROUND_PATH}/`) ? sub.slice(PLAYGROUND_PATH.length) : undefined;
}

/** The route of `routes` that `subPath` falls under (the longest key that is `subPath` or a parent of it), and the rest of the path. */
export function routeAt<R>(routes: Readonly<Record<string, R>>, subPath: string): { route: R; rest: string } | undefined {
  let best: string | undefined;
  for (const key of Object.keys(routes)) {
    if ((subPath === key || subPath.startsWith(`${key}/`)) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : { route: routes[best] as R, rest: subPath.slice(best.length) };
}

export const keyBytes = (key: string | Uint8Array): Uint8Array => (typeof key === 'string' ? new TextEncoder().encode(key) : key);

/** The methods of the session routes: what adapters forward below `{path}/sessions`. */
export const SESSION_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'DELETE']);

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}


/** What createEnclaveHandler settles before the core is loaded, and the core shares. */
export interface HandlerShared<N, U> {
  readonly enclave: Enclave;
  readonly ownsEnclave: boolean;
  readonly statuses: Readonly<Record<HttpOutcome, number>>;
  readonly maxBodySize: number;
  readonly bodyTimeoutMs: number;
  readonly catalog: boolean;
  readonly checkRouteOn: boolean;
  readonly playground: boolean;
  readonly routes: Readonly<Record<string, EnclaveRoute<N, U>>>;
  requestError(code: string, message: string, started: number, headers?: Record<string, string>, status?: number): Response;
  /** The answer to a refused request, in the shape of the route it was for. */
  refuse(err: EnclaveHttpError, subPath?: string, started?: number): Response;
}

/** The request side of a handler (handler-core.ts). */
export interface HandlerCore<N> {
  /** Never throws, never rejects. */
  handle(request: Request, native: N, given: string | undefined, started: number): Promise<Response>;
  /** Stops the sweeps, ends the local sessions and disposes the store the core made. */
  dispose(): void;
}

