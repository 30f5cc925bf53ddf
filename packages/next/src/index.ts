import type { NextRequest } from 'next/server.js';
import { createEnclaveHandler } from '@enclave-kit/engine';
import type { EnclaveFetchHandler, EnclaveHandlerOptions } from '@enclave-kit/engine';

/** Options of `toNextHandler()`: the core's options; `ctx.native` is the route's `NextRequest`. */
export type NextEnclaveOptions<U = unknown> = EnclaveHandlerOptions<NextRequest, U>;

/** The second argument Next passes a route handler: the dynamic segments of the route file's path. */
export interface NextRouteContext {
  params?: Promise<Readonly<Record<string, string | string[] | undefined>>>;
}

type RouteHandler = (request: Request, context?: NextRouteContext) => Promise<Response>;

/** The route file's exports; `handler` is the Fetch core behind them (for tests and `dispose()`). */
export interface NextEnclaveHandlers {
  POST: RouteHandler;
  GET: RouteHandler;
  /** Cancels a session (`DELETE {path}/sessions/{id}`). */
  DELETE: RouteHandler;
  handler: EnclaveFetchHandler<NextRequest>;
}

/**
 * Route handlers for an App Router `route.ts`: `POST` runs `{ code, input?, limits? }` with the tools
 * of the request's user (as JSON, or streamed as events for `Accept: text/event-stream` or NDJSON), `GET`
 * serves their catalog. The route file's path is the endpoint. Put the file in an optional catch-all
 * folder (`app/api/enclave/[[...route]]/route.ts`) to serve the paths below it as well: the sessions
 * (`{path}/sessions`, `{path}/sessions/{id}`, `{path}/sessions/{id}/events`) and the routes of `routes`
 * (`{path}/mcp` for `routes: { '/mcp': mcpRoute() }`).
 *
 * @example
 * ```ts
 * // app/api/enclave/[[...route]]/route.ts
 * export const runtime = 'nodejs';   // the engine needs node:vm; must be a literal in this file
 * export const dynamic = 'force-dynamic';
 * export const { GET, POST, DELETE } = toNextHandler({
 *   authenticate: async ({ request }) => (await auth(request))?.user,   // undefined -> 401
 *   tools: ({ user }) => ({ 'orders:list': () => db.orders.list({ ownerId: user.id }) }),
 * });
 * ```
 * `next.config` needs `serverExternalPackages: ['oxc-parser']`. Defaults: body up to 1 MiB, catalog on,
 * `new Enclave()` (STANDARD level).
 */
export function toNextHandler<U = unknown>(options?: NextEnclaveOptions<U> | null): NextEnclaveHandlers {
  const handler = createEnclaveHandler<NextRequest, U>(options);
  // Next hands its NextRequest (a Request) to route handlers: it is both the Fetch request and the native object.
  const route: RouteHandler = async (request, context) => {
    if (context === undefined) return handler(request, request as NextRequest, subPathOfUrl(handler, request));
    // A catch-all segment is the one param Next gives as an array; other dynamic segments are strings.
    const segments = Object.values((await context.params) ?? {}).find((v) => Array.isArray(v));
    return handler(request, request as NextRequest, segments && segments.length > 0 ? `/${segments.join('/')}` : '');
  };
  return { POST: route, GET: route, DELETE: route, handler };
}

/**
 * The path below the route for a handler called without Next's context (Next always passes one, with
 * the catch-all's segments): a test or a wrapper calling `DELETE(new Request('.../enclave/sessions/ses_1'))`.
 * The longest tail of the URL's path that the core serves (`/sessions/{id}/events`, `/check`, a route of
 * `routes`), else the route itself. Only a mount path that itself ends in such a tail reads otherwise there.
 */
function subPathOfUrl(handler: EnclaveFetchHandler<NextRequest>, request: Request): string {
  const segments = new URL(request.url).pathname.split('/').filter(Boolean);
  for (let i = 0; i < segments.length; i++) {
    const tail = `/${segments.slice(i).join('/')}`;
    if (handler.accepts(request.method, tail)) return tail;
  }
  return '';
}
