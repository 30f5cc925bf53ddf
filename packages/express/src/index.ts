import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { EnclaveHttpError, createEnclaveHandler } from '@enclave-kit/engine';
import { charsetRefusal, contentCodingRefusal, contentTypeRefusal, routePath } from '@enclave-kit/engine/http';
import { handleNodeRequest, writeFetchResponse } from '@enclave-kit/engine/node';
import type { EnclaveFetchHandler, EnclaveHandlerOptions } from '@enclave-kit/engine';


/**
 * What `tools(ctx)` and `createContext` get as `ctx.native` (and `createContext` as its second argument):
 * Express's own request, as DESIGN.md's hooks are given it (`native.headers`, `native.get('x-user')`,
 * `native.user`, `native.res.locals`), which also names itself `req` and its response `res`. It is a view
 * of the request (an object whose prototype is the request): reads reach the request, writes stay on the
 * view.
 */
export type ExpressNative = Request & { readonly req: Request; readonly res: Response };

/** The request as `ctx.native`: the request itself, with `req` and `res` (see ExpressNative). */
function nativeOf(req: Request, res: Response): ExpressNative {
  return Object.create(req, { req: { value: req }, res: { value: res } }) as ExpressNative;
}

/** Options of `enclave()`: the core's options plus the route's `path` (default `/enclave`). */
export type ExpressEnclaveOptions<U = unknown> = EnclaveHandlerOptions<ExpressNative, U> & {
  /** Path of the route, relative to where the middleware is mounted. Default `/enclave`. */
  path?: string;
};

/**
 * The route's middleware and, for errors of a body parser that ran before it (`express.json()` on
 * malformed JSON), an error handler answering in the route's JSON instead of Express's HTML page.
 * `app.use()` takes the pair as it is; `handler` is the Fetch core behind it.
 */
export type EnclaveMiddleware = [RequestHandler, ErrorRequestHandler] & { readonly handler: EnclaveFetchHandler<ExpressNative> };

const PARSER_ERRORS: Readonly<Record<number, string>> = {
  413: 'The request body is too large.',
  415: contentTypeRefusal(null, 'the request'),
};

/** What a body-parser refusal of an unread body (a charset, a coding) says it did not read: the core's text for it. */
function unreadRefusal(e: { type?: unknown; charset?: unknown; encoding?: unknown }): string | undefined {
  if (e.type === 'charset.unsupported' && typeof e.charset === 'string') return charsetRefusal(e.charset, 'the request');
  if (e.type === 'encoding.unsupported' && typeof e.encoding === 'string') return contentCodingRefusal(e.encoding);
  return undefined;
}

/**
 * Mounts the execution route: `POST {path}` runs `{ code, input?, limits? }` with the tools of the
 * request's user (as JSON, or streamed as events for `Accept: text/event-stream` or NDJSON), `GET {path}`
 * serves their catalog, `{path}/sessions...` starts, follows and cancels resumable runs; anything else
 * goes on to `next()`. Works with or without `express.json()` before it, and under `app.use('/prefix', ...)`.
 *
 * @example
 * ```ts
 * app.use(enclave({
 *   path: '/enclave',
 *   authenticate: ({ native }) => native.req.user,             // undefined -> 401
 *   tools: ({ user }) => ({ 'orders:list': () => db.orders.list({ ownerId: user.id }) }),
 * }));
 * ```
 * Defaults: path `/enclave`, body up to 1 MiB, catalog on, `new Enclave()` (STANDARD level).
 */
export function enclave<U = unknown>(options?: ExpressEnclaveOptions<U> | null): EnclaveMiddleware {
  const { path, ...rest } = options ?? ({} as ExpressEnclaveOptions<U>);
  const route = routePath(path);
  const handler = createEnclaveHandler<ExpressNative, U>(rest as EnclaveHandlerOptions<ExpressNative, U>);
  /** The path below `path` when the core answers this request there (the run route, or a route of `routes`). */
  const here = (req: Request) => {
    const sub = route.below(req.path);
    return sub !== undefined && handler.accepts(req.method, sub) ? sub : undefined;
  };
  const middleware = function enclaveMiddleware(req: Request, res: Response, next: NextFunction): void {
    const sub = here(req);
    if (sub === undefined) return next();
    // Express 5 leaves `req.body` undefined unless a body parser read the stream.
    const parsed = req.body !== undefined ? { value: req.body as unknown } : undefined;
    void handleNodeRequest(handler, req, res, nativeOf(req, res), parsed, sub);
  };
  const parserErrors = function enclaveBodyParserErrors(err: unknown, req: Request, res: Response, next: NextFunction): void {
    const e = err as { type?: unknown; status?: unknown } | null;
    // body-parser's errors carry a `type` such as 'entity.parse.failed' and a 4xx `status`.
    const sub = here(req);
    if (sub === undefined || res.headersSent || typeof e?.type !== 'string' || typeof e.status !== 'number' || e.status < 400 || e.status > 499) return next(err);
    // express.json() refuses every charset but utf-* before it reads a byte (us-ascii too, which the core
    // reads) and a Content-Encoding it cannot inflate. Refused here too, never served: Express went
    // straight from the parser's error to the error handlers, past every middleware the app put between
    // the parser and this route (its auth gate, CSRF check, rate limit), so serving the unread body ran
    // scripts no gate had let through. The refusal names what was not read, as the core's would.
    const status = PARSER_ERRORS[e.status] ? e.status : 400;
    void writeFetchResponse(res, handler.refuse(new EnclaveHttpError(status, unreadRefusal(e) ?? PARSER_ERRORS[status] ?? 'The request body is not valid JSON.'), sub));
  };
  return Object.assign([middleware, parserErrors] as [RequestHandler, ErrorRequestHandler], { handler });
}
