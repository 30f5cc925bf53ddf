/**
 * Code mode over MCP on HTTP: `mcpRoute()` plugs into any adapter's `routes` (`{path}/mcp`, next to the
 * run route, with its user and tools), and `createMcpHandler()` is the same route as a Fetch handler of
 * its own. Both speak what the official SDK's HTTP entry speaks: the 2026-07-28 revision, and 2025
 * clients through its stateless fallback.
 */
import type {
  EnclaveFetchHandler,
  EnclaveHandlerBaseOptions,
  EnclaveHttpError,
  EnclaveRoute,
  EnclaveRouteContext,
  ExecutionResult,
  ToolSourceOptions,
} from '@enclave-kit/engine';
import { EnclaveConfigError, createEnclaveHandler } from '@enclave-kit/engine';
import { checkAllowedOrigins, contentTypeRefusal, isJsonContentType, originAllowed, readBodyText } from '@enclave-kit/engine/http';
import type { AllowedOrigins } from '@enclave-kit/engine/http';
import { createMcpHandler as createSdkHandler } from '@modelcontextprotocol/server';
import type { CodeModeBackend, CodeModeInfo } from './code-mode.js';
import { codeModeServer } from './code-mode.js';
import { MCP_PACKAGE_VERSION } from './version.js';

/** Options of `mcpRoute()`. */
export interface McpRouteOptions extends CodeModeInfo {
  /**
   * Browser origins allowed to call the route (MCP asks servers to check `Origin` against DNS
   * rebinding): a request with another `Origin` gets 403. Without listing, a page of the route's own
   * origin passes only when that origin is `https:` or its host is `localhost` or an IP address: under
   * a plain-http DNS name, a rebinding attacker's page has the route's origin too (list
   * `http://app.internal:3000` to let the app's own pages in). The run route's rule (the handler's
   * `allowedOrigins`). Requests without `Origin` (every non-browser MCP client) are unaffected.
   * `'*'` allows any. Default: none.
   */
  allowedOrigins?: AllowedOrigins;
}

const WHERE = 'mcpRoute(options)';
const ROUTE_KEYS = new Set(['name', 'version', 'allowedOrigins']);

/** JSON-RPC error codes for answers at the HTTP level (the SDK uses the same). */
const RPC = { parseError: -32700, invalidRequest: -32600, methodNotFound: -32601, internalError: -32603, serverError: -32000 } as const;

const isMessage = (m: unknown): m is Record<string, unknown> => m !== null && typeof m === 'object' && !Array.isArray(m);

function rpcError(status: number, code: number, message: string, data?: Record<string, unknown>, headers: Readonly<Record<string, string>> = {}, id: string | number | null = null): Response {
  const body = { jsonrpc: '2.0', id, error: { code, message, ...(data ? { data } : {}) } };
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers } });
}

/** A refusal of the HTTP core (401, 403, 413, 429, 503, 500...) as the JSON-RPC error body MCP clients read. */
function refuse(error: EnclaveHttpError): Response {
  const code = error.status === 400 ? RPC.invalidRequest : error.status >= 500 && error.status !== 503 ? RPC.internalError : RPC.serverError;
  return rpcError(error.status, code, error.message, { status: error.status, code: error.code }, error.headers);
}

function checkOptions(options: unknown): McpRouteOptions {
  const fail = (message: string): never => {
    throw new EnclaveConfigError(`${WHERE}: ${message}`);
  };
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail('options must be an object.');
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!ROUTE_KEYS.has(key)) fail(`unknown option "${key}". Known options: ${[...ROUTE_KEYS].join(', ')}.`);
  for (const key of ['name', 'version']) if (o[key] !== undefined && (typeof o[key] !== 'string' || o[key] === '')) fail(`${key} must be a non-empty string.`);
  checkAllowedOrigins(o.allowedOrigins, fail);
  return o as McpRouteOptions;
}

/** The caller's catalog and runs, through the run route's own scope and hooks. */
function backendOf<N, U>(route: EnclaveRouteContext<N, U>): CodeModeBackend {
  return {
    catalog: async () => route.enclave.describe((await route.scope()).tools),
    // The run ends with the HTTP request (a client that closes the stream cancels): the core's signal covers it.
    run: async (code, input): Promise<ExecutionResult> => (await route.run(input === undefined ? { code } : { code, input })).result,
  };
}

/**
 * The code-mode MCP endpoint as a route of an adapter: `{path}/mcp` next to `POST {path}`, with the same
 * `authenticate`, rate limit and per-request tools. Serves three tools: `search_tools`, `describe_tools`
 * and `execute`.
 *
 * @example
 * ```ts
 * app.use(enclave({ authenticate, tools: ({ user }) => toolsFor(user), routes: { '/mcp': mcpRoute() } }));
 * // an MCP client connects to http://localhost:3000/enclave/mcp
 * ```
 * Defaults: name `enclave-kit`, the package's version, no other browser origins allowed.
 */
export function mcpRoute<N = unknown, U = unknown>(options?: McpRouteOptions): EnclaveRoute<N, U> {
  const { allowedOrigins, ...rest } = checkOptions(options);
  const info = { name: rest.name ?? 'enclave-kit', version: rest.version ?? MCP_PACKAGE_VERSION };
  return {
    async serve(route) {
      const { request } = route.ctx;
      if (route.rest !== '') return rpcError(404, RPC.serverError, 'Not found: the MCP endpoint is the route itself.', { status: 404, code: 'NOT_FOUND' });
      if (!originAllowed(request, allowedOrigins)) return rpcError(403, RPC.serverError, 'Forbidden: this Origin may not call the MCP endpoint.', { status: 403, code: 'FORBIDDEN' });
      // The body is read here, under the handler's maxBodySize and bodyTimeoutMs (413 and 408 from the core), and handed to the SDK parsed.
      let parsedBody: unknown;
      if (request.method.toUpperCase() === 'POST') {
        const type = request.headers.get('content-type');
        if (!isJsonContentType(type)) {
          return rpcError(415, RPC.serverError, `Unsupported Media Type: ${contentTypeRefusal(type, 'the message')}`, { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
        }
        try {
          parsedBody = JSON.parse(await readBodyText(request, route.maxBodySize, { timeoutMs: route.bodyTimeoutMs }));
        } catch (err) {
          if (err instanceof SyntaxError) return rpcError(400, RPC.parseError, 'Parse error: the body is not valid JSON.');
          throw err;
        }
      }
      // The rate limit counts HTTP requests: a JSON-RPC batch of many `tools/call` would start many runs
      // for one count (and the current MCP protocol has no batches). One call per request, as clients send.
      if (Array.isArray(parsedBody) && parsedBody.filter((m) => isMessage(m) && m.method === 'tools/call').length > 1) {
        return rpcError(400, RPC.invalidRequest, 'Invalid Request: a batch may hold at most one tools/call; send each call in its own request.');
      }
      // The three tools never change and the server sends no notifications: a `subscriptions/listen`
      // stream would say nothing and stay open as long as its client liked, held by no cap (a run holds a
      // place of maxConcurrentRuns; 2000 listens held 25 MiB and 2000 sockets). Answered as the SDK
      // answers a method it does not serve.
      const messages: unknown[] = Array.isArray(parsedBody) ? parsedBody : [parsedBody];
      if (messages.some((m) => isMessage(m) && m.method === 'subscriptions/listen')) {
        const id = isMessage(parsedBody) && (typeof parsedBody.id === 'string' || typeof parsedBody.id === 'number') ? parsedBody.id : null;
        return rpcError(404, RPC.methodNotFound, 'Method not found: this server sends no notifications (its tools never change), so there is nothing to listen for.', undefined, {}, id);
      }
      const backend = backendOf(route);
      const sdk = createSdkHandler(() => codeModeServer(backend, info), { maxRequestBodySize: route.maxBodySize });
      return sdk.fetch(request, parsedBody === undefined ? {} : { parsedBody });
    },
    refuse,
  };
}

/** Options of `createMcpHandler()`: the HTTP core's (auth, tools, limits, hooks) and the route's. */
export type McpHandlerOptions<N = unknown, U = unknown> = Omit<EnclaveHandlerBaseOptions<N, U>, 'routes' | 'catalog'> & ToolSourceOptions<N, U> & McpRouteOptions;

/**
 * A Fetch handler that speaks code-mode MCP wherever it is mounted, with the HTTP core's options: the
 * tools come from `tools(ctx)` or `createContext` per request, so they are the authenticated user's.
 *
 * @example
 * ```ts
 * const mcp = createMcpHandler({
 *   enclave: { securityLevel: 'SECURE' },
 *   authenticate: ({ request }) => users.byToken(request.headers.get('authorization')), // null -> 401
 *   tools: ({ user }) => toolsFor(user),
 * });
 * Bun.serve({ fetch: (req) => mcp(req) });   // or handleNodeRequest(mcp, req, res, { req, res })
 * ```
 * Defaults: those of `createEnclaveHandler` and `mcpRoute`.
 */
export function createMcpHandler<N = unknown, U = unknown>(options: McpHandlerOptions<N, U>): EnclaveFetchHandler<N> {
  const { name, version, allowedOrigins, ...core } = (options ?? {}) as McpHandlerOptions<N, U>;
  const route: McpRouteOptions = { ...(name !== undefined ? { name } : {}), ...(version !== undefined ? { version } : {}), ...(allowedOrigins !== undefined ? { allowedOrigins } : {}) };
  for (const key of ['routes', 'catalog']) {
    if (Object.hasOwn(core, key)) throw new EnclaveConfigError(`createMcpHandler(options): "${key}" belongs to createEnclaveHandler and the adapters; this handler serves only MCP.`);
  }
  // The core hears the origins too: their hosts are names it answers under without authenticate.
  const inner = createEnclaveHandler<N, U>({ ...core, ...(allowedOrigins !== undefined ? { allowedOrigins } : {}), catalog: false, routes: { '/mcp': mcpRoute<N, U>(route) } } as Parameters<typeof createEnclaveHandler<N, U>>[0]);
  const handler = ((request: Request, native?: N) => inner(request, native, '/mcp')) as EnclaveFetchHandler<N>;
  Object.defineProperties(handler, {
    enclave: { value: inner.enclave, enumerable: true },
    maxBodySize: { value: inner.maxBodySize, enumerable: true },
    sendTimeoutMs: { value: inner.sendTimeoutMs, enumerable: true },
    accepts: { value: () => true },
    refuse: { value: (error: EnclaveHttpError) => inner.refuse(error, '/mcp') },
    dispose: { value: () => inner.dispose() },
  });
  return handler;
}
