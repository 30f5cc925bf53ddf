/**
 * `createEnclaveHandler`, the options it takes and what every adapter shares with it. What serves the
 * requests (routes, runs, sessions, approvals, streams: most of the HTTP code) is in handler-core.ts, a
 * chunk of its own that a handler loads when it is created: `import '@enclave-kit/engine'` compiles none
 * of it (48 KB of the 437 KB a process's first import compiled; see rolldown.config.mjs).
 */
import { Enclave } from '../enclave.js';
import { OptionChecker } from '../options.js';
import { failure, internalFailure, noStats } from '../result.js';
import { EnclaveHttpError } from './errors.js';
import type { LeaseStore } from '../leases.js';
import type { SessionStore } from './session-store.js';
import { checkAllowedHosts, checkAllowedOrigins } from './origin.js';
import type { HttpOutcome } from './status.js';
import { statusTable } from './status.js';
import type { RateLimitStore } from '../rate-limit.js';
import type { EnclaveFetchHandler, EnclaveHandlerOptions, EnclaveLogger, EnclaveRoute, HandlerCore, HandlerShared } from './handler-common.js';
import { CHECK_PATH, DEFAULT_SEND_TIMEOUT_MS, SESSION_METHODS, json, keyBytes, playgroundPath, routeAt } from './handler-common.js';

const DEFAULT_MAX_BODY = 1024 * 1024;
/** How long a request's body may take to arrive whole, by default. */
const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** Where the HTTP core's option errors say they come from: the adapters' options are these options. */
const OPTIONS_WHERE = 'enclave options';
const OPTION_KEYS = new Set([
  'enclave',
  'maxBodySize',
  'bodyTimeoutMs',
  'sendTimeoutMs',
  'allowedOrigins',
  'allowedHosts',
  'authenticate',
  'rateLimit',
  'maxConcurrentRuns',
  'retryAfter',
  'catalog',
  'check',
  'playground',
  'routes',
  'statuses',
  'onRunStart',
  'onRunEnd',
  'onError',
  'logger',
  'sessions',
  'heartbeatMs',
  'userKey',
  'maxRunsPerUser',
  'leases',
  'tools',
  'createContext',
]);

/** Options every adapter passes through, checked once here; adapters take out their own keys (`path`) first. */
export function checkHandlerOptions(options: unknown): asserts options is EnclaveHandlerOptions<unknown, unknown> {
  const check = new OptionChecker(OPTIONS_WHERE);
  const o = check.object('options', options ?? null) ?? {};
  check.knownKeys('', o, OPTION_KEYS, ['path']);
  if (o.tools !== undefined && o.createContext !== undefined) check.fail('give either tools or createContext, not both.');
  if (o.tools !== undefined && (o.tools === null || (typeof o.tools !== 'object' && typeof o.tools !== 'function'))) check.fail('tools must be a function (ctx) => tools, or an object of tools.');
  for (const name of ['createContext', 'authenticate', 'onRunStart', 'onRunEnd', 'onError']) check.function(name, o[name]);
  check.positiveInteger('maxBodySize', o.maxBodySize, 'bytes');
  check.delay('bodyTimeoutMs', o.bodyTimeoutMs);
  check.delay('sendTimeoutMs', o.sendTimeoutMs);
  check.positiveInteger('maxConcurrentRuns', o.maxConcurrentRuns);
  check.positiveInteger('retryAfter', o.retryAfter, 'seconds');
  checkAllowedOrigins(o.allowedOrigins, (message) => check.fail(message));
  checkAllowedHosts(o.allowedHosts, (message) => check.fail(message));
  check.boolean('catalog', o.catalog);
  check.boolean('check', o.check);
  check.boolean('playground', o.playground);
  const rateLimit = check.object('rateLimit', o.rateLimit, '{ max, windowMs, key: (ctx) => string, store? }');
  if (rateLimit !== undefined) {
    check.knownKeys('rateLimit', rateLimit, ['max', 'windowMs', 'key', 'store']);
    check.function('rateLimit.key', rateLimit.key ?? null, '(ctx) => string | undefined');
    check.positiveInteger('rateLimit.max', rateLimit.max ?? null);
    check.positiveInteger('rateLimit.windowMs', rateLimit.windowMs ?? null, 'ms');
    check.withMethods<RateLimitStore>('rateLimit.store', rateLimit.store, ['hit'], 'a hit(key, windowMs) method');
  }
  check.withMethods<EnclaveLogger>('logger', o.logger, ['info', 'error'], 'info() and error() methods');
  check.delay('heartbeatMs', o.heartbeatMs);
  check.function('userKey', o.userKey, '(ctx) => string');
  check.positiveInteger('maxRunsPerUser', o.maxRunsPerUser);
  check.withMethods<LeaseStore>('leases', o.leases, ['acquire', 'renew', 'release'], 'acquire(), renew() and release() methods');
  if (o.sessions !== false) {
    const sessions = check.object('sessions', o.sessions, '{ store?, owner?, maxPerUser?, maxFollowersPerUser?, ttlMs?, livenessMs?, maxPauseDuration?, maxWaitingPerUser?, maxPauses?, maxJournalBytes?, stateKey? } or false');
    if (sessions !== undefined) {
      check.knownKeys('sessions', sessions, ['store', 'owner', 'maxPerUser', 'maxFollowersPerUser', 'ttlMs', 'livenessMs', 'maxPauseDuration', 'maxWaitingPerUser', 'maxPauses', 'maxJournalBytes', 'stateKey']);
      const key = sessions.stateKey;
      if (key !== undefined && !((typeof key === 'string' || key instanceof Uint8Array) && keyBytes(key).length >= 32)) {
        check.fail('sessions.stateKey must be a secret of at least 32 bytes (a string or a Uint8Array).');
      }
      check.delay('sessions.livenessMs', sessions.livenessMs);
      check.positiveInteger('sessions.maxPauseDuration', sessions.maxPauseDuration, 'ms');
      check.positiveInteger('sessions.maxWaitingPerUser', sessions.maxWaitingPerUser);
      check.positiveInteger('sessions.maxPauses', sessions.maxPauses);
      check.positiveInteger('sessions.maxJournalBytes', sessions.maxJournalBytes, 'bytes');
      check.withMethods<SessionStore>('sessions.store', sessions.store, ['create', 'append', 'read', 'subscribe', 'get', 'finish', 'requestCancel', 'onCancel', 'keepAlive', 'stale'], 'the SessionStore methods');
      check.function('sessions.owner', sessions.owner, '(ctx) => string');
      check.positiveInteger('sessions.maxPerUser', sessions.maxPerUser);
      check.positiveInteger('sessions.maxFollowersPerUser', sessions.maxFollowersPerUser);
      check.positiveInteger('sessions.ttlMs', sessions.ttlMs, 'ms');
    }
  }
  const routes = check.object('routes', o.routes, "an object of sub-path -> route, e.g. { '/mcp': mcpRoute() }");
  for (const [key, route] of Object.entries(routes ?? {})) {
    if (!/^(\/[^/?#*:\s]+)+$/.test(key)) check.fail(`routes: "${key}" must be a literal sub-path such as "/mcp" (a leading "/", no trailing one).`);
    check.withMethods<EnclaveRoute>(`routes["${key}"]`, route ?? null, ['serve'], 'a serve(route) method');
  }
  statusTable(o.statuses as Parameters<typeof statusTable>[0]);
}

/** The playground is for development: off where `NODE_ENV` says production, unless the host turns it on. */
function defaultPlayground(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.NODE_ENV !== 'production';
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
 * Defaults: `maxBodySize` 1 MiB, `bodyTimeoutMs` 30 s, `sendTimeoutMs` 30 s, catalog on, no rate limit, no concurrency cap, `new Enclave()`.
 * No options (`undefined` or `null`) means all the defaults.
 */
export function createEnclaveHandler<N = unknown, U = unknown>(optionsGiven: EnclaveHandlerOptions<N, U> | null = {}): EnclaveFetchHandler<N> {
  // null means no options, as in run(code, null): every adapter's factory passes its null on.
  const options: EnclaveHandlerOptions<N, U> = optionsGiven ?? {};
  checkHandlerOptions(options);
  const statuses = statusTable(options.statuses);
  const ownsEnclave = !(options.enclave instanceof Enclave);
  const enclave = options.enclave instanceof Enclave ? options.enclave : new Enclave(options.enclave);
  const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const catalog = options.catalog ?? true;
  const checkRouteOn = options.check ?? true;
  const playground = options.playground ?? defaultPlayground();
  const routes = options.routes ?? {};
  const sessionsOn = options.sessions !== false;

  const requestError = (code: string, message: string, started: number, headers: Record<string, string> = {}, status: number = statuses[code as HttpOutcome] ?? 500) =>
    json(status, failure(code, 'RequestError', message, noStats(Math.round(performance.now() - started))), headers);

  const refuse = (err: EnclaveHttpError, subPath = '', started = performance.now()) => {
    const status = Object.hasOwn(statuses, err.code) ? statuses[err.code as HttpOutcome] : err.status;
    const custom = subPath === '' ? undefined : routeAt(routes, subPath)?.route.refuse;
    if (custom) return custom(status === err.status ? err : new EnclaveHttpError(status, err.message, { code: err.code, headers: { ...err.headers }, cause: err.cause }));
    return requestError(err.code, err.message, started, { ...err.headers }, status);
  };

  const shared: HandlerShared<N, U> = { enclave, ownsEnclave, statuses, maxBodySize, bodyTimeoutMs, catalog, checkRouteOn, playground, routes, requestError, refuse };
  // Loaded now, not at the first request: the core starts the session sweeps of this instance as soon
  // as it can, as it did when it was part of this module. A few milliseconds later than before.
  let core: HandlerCore<N> | undefined;
  let disposed = false;
  const loading = import('./handler-core.js').then(({ startHandlerCore }) => {
    core = startHandlerCore(options, shared);
    if (disposed) core.dispose();
    return core;
  });
  // A core that cannot load answers each request with a 500 (below), not the process with a rejection.
  loading.catch(() => {});

  const handler = async function enclaveHandler(request: Request, native?: N, given?: string): Promise<Response> {
    const started = performance.now();
    let served = core;
    if (served === undefined) {
      try {
        served = await loading;
      } catch (err) {
        try {
          (options.logger ?? console).error('enclave: the HTTP core failed to load', err);
        } catch {
          // A throwing logger must not turn the answer into a crash.
        }
        return json(statuses.INTERNAL_ERROR, internalFailure(noStats(Math.round(performance.now() - started))));
      }
    }
    return served.handle(request, native as N, given, started);
  } as EnclaveFetchHandler<N>;
  const accepts = (method: string, subPath: string) => {
    const m = method.toUpperCase();
    if (subPath === '') return m === 'POST' || ((m === 'GET' || m === 'HEAD') && catalog);
    if (routeAt(routes, subPath)) return true;
    if (playground && (m === 'GET' || m === 'HEAD') && playgroundPath(subPath) !== undefined) return true;
    if (checkRouteOn && m === 'POST' && subPath.replace(/\/+$/, '') === CHECK_PATH) return true;
    return sessionsOn && SESSION_METHODS.has(m) && (subPath === '/sessions' || subPath.startsWith('/sessions/'));
  };
  Object.defineProperties(handler, {
    enclave: { value: enclave, enumerable: true },
    maxBodySize: { value: maxBodySize, enumerable: true },
    sendTimeoutMs: { value: options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS, enumerable: true },
    accepts: { value: accepts },
    refuse: { value: (err: EnclaveHttpError, subPath?: string) => refuse(err, subPath) },
    dispose: {
      value: () => {
        disposed = true;
        core?.dispose();
        if (ownsEnclave) enclave.dispose();
      },
    },
  });
  return handler;
}
