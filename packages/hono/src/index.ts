import type { Context, MiddlewareHandler } from 'hono';
import { createEnclaveHandler } from '@enclave-kit/engine';
import { routePath } from '@enclave-kit/engine/http';
import { deferHeaderFlush, isEventStream, refuseDotSegments } from '@enclave-kit/engine/node';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { EnclaveFetchHandler, EnclaveHandlerOptions } from '@enclave-kit/engine';

/** Options of `enclave()`: the core's options plus the route's `path` (default `/enclave`). */
export type HonoEnclaveOptions<U = unknown> = EnclaveHandlerOptions<Context, U> & {
  /** The full request path of the route, or the path below the prefix the middleware is mounted at. Default `/enclave`. */
  path?: string;
};

/** A Hono middleware; `handler` is the Fetch core behind it (for tests and `dispose()`). */
export type EnclaveMiddleware = MiddlewareHandler & { readonly handler: EnclaveFetchHandler<Context> };

/** Headers that frame a body: the answer's own, or none. */
const FRAMING_HEADERS = ['content-length', 'content-encoding', 'transfer-encoding'] as const;

/**
 * The answer with the headers earlier middleware set with `c.header()` (a request id, a rate limit's),
 * which Hono adds to the answers of its own `c.json()` but not to a `Response` a handler returns: the
 * same request gets the same headers as on the other adapters. The answer's own headers win, and only
 * they frame its body.
 */
function withContextHeaders(c: Context, response: Response): Response {
  const merged = c.newResponse(response.body, response);
  for (const name of FRAMING_HEADERS) if (!response.headers.has(name)) merged.headers.delete(name);
  return merged;
}

/**
 * Hono middleware for the execution route: `POST {path}` runs `{ code, input?, limits? }` with the
 * tools of the request's user (as JSON, or streamed as events for `Accept: text/event-stream` or NDJSON),
 * `GET {path}` serves their catalog, `{path}/sessions...` starts, follows and cancels resumable runs;
 * anything else goes on to `next()`.
 * `ctx.native` is Hono's `Context`, so values set by earlier middleware (`c.get('user')`) reach `tools`.
 *
 * @example
 * ```ts
 * app.use(enclave({
 *   authenticate: ({ native }) => native.get('user'),             // undefined -> 401
 *   tools: ({ user }) => ({ 'orders:list': () => db.orders.list({ ownerId: user.id }) }),
 * }));
 * ```
 * Defaults: path `/enclave`, body up to 1 MiB, catalog on, `new Enclave()` (STANDARD level).
 */
export function enclave<U = unknown>(options?: HonoEnclaveOptions<U> | null): EnclaveMiddleware {
  const { path, ...rest } = options ?? ({} as HonoEnclaveOptions<U>);
  const route = routePath(path);
  const handler = createEnclaveHandler<Context, U>(rest as EnclaveHandlerOptions<Context, U>);
  const middleware: MiddlewareHandler = async function enclaveMiddleware(c, next) {
    const method = c.req.method.toUpperCase();
    // Under `app.route('/api', sub)` the route path is '/api/*': accept `path` below that prefix too.
    const prefix = c.req.routePath.replace(/\/?\*$/, '');
    const sub = route.below(c.req.path) ?? (prefix !== '' && c.req.path.startsWith(prefix) ? route.below(c.req.path.slice(prefix.length)) : undefined);
    if (sub === undefined || !handler.accepts(method, sub)) return next();
    // On Node the path as sent is still there: `c.req.path` has its dot segments resolved away.
    const env = c.env as { incoming?: unknown; outgoing?: unknown } | undefined;
    const refused = env?.incoming instanceof IncomingMessage ? refuseDotSegments(handler, env.incoming, env.outgoing instanceof ServerResponse ? env.outgoing : undefined, sub) : undefined;
    if (refused !== undefined) return refused;
    let request = c.req.raw;
    // An earlier middleware read the body (`c.req.json()`): take Hono's cached copy.
    if (request.bodyUsed) request = new Request(request.url, { method, headers: request.headers, body: await c.req.arrayBuffer(), signal: request.signal });
    const response = await handler(request, c, sub);
    // On Node, `@hono/node-server` sends a stream's headers alone before its first chunk: one more
    // write per streamed run. Held to the end of this turn, they leave with the first events.
    if (env?.outgoing instanceof ServerResponse && isEventStream(response)) deferHeaderFlush(env.outgoing);
    return withContextHeaders(c, response);
  };
  return Object.assign(middleware, { handler });
}
