import { All, Catch, Controller, Get, HttpException, Inject, Module, Next, Post, Req, Res, UseFilters } from '@nestjs/common';
import type { ArgumentsHost, DynamicModule, ExceptionFilter, FactoryProvider, ModuleMetadata, OnModuleInit, Type } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost } from '@nestjs/core';
import { EnclaveHttpError, createEnclaveHandler } from '@enclave-kit/engine';
import type { EnclaveFetchHandler, EnclaveHandlerOptions } from '@enclave-kit/engine';
import { routePath } from '@enclave-kit/engine/http';
import { handleNodeRequest, writeFetchResponse } from '@enclave-kit/engine/node';
import type { NodeRequest } from '@enclave-kit/engine/node';
import type { ServerResponse } from 'node:http';
import { ENCLAVE_HANDLER, ENCLAVE_MODULE_OPTIONS } from './enclave.constants.js';

/**
 * `ctx.native` (and `createContext`'s second argument): the platform's request (Express's, or Fastify's),
 * as DESIGN.md's hooks are given it (`native.headers`, `native.user` set by guards), which also names
 * itself `req` and the response (Express's, or Fastify's reply) `res`. It is a view of the request (an
 * object whose prototype is the request): reads reach the request, writes stay on the view.
 */
export type NestNative = any & { readonly req: any; readonly res: any };

/** The request as `ctx.native`: the request itself, with `req` and `res` (see NestNative). */
function nativeOf(req: any, res: any): NestNative {
  return Object.create(req, { req: { value: req }, res: { value: res } });
}

/** Options of `EnclaveModule.forRoot()`: the core's options plus the route's `path` (default `/enclave`). */
export type EnclaveModuleOptions<U = unknown> = EnclaveHandlerOptions<NestNative, U> & { path?: string };

export interface EnclaveModuleAsyncOptions<U = unknown> extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...deps: any[]) => EnclaveModuleOptions<U> | Promise<EnclaveModuleOptions<U>>;
  inject?: FactoryProvider['inject'];
}

type Handler = EnclaveFetchHandler<NestNative>;

/**
 * The name of the wildcard below the route's path (`{path}/mcp/...`): the routes of `routes` live there.
 * On Express each mount numbers its own (`below1`), which is how it finds its routes in Express's router.
 */
const BELOW = 'below';
/** Mounts made so far: each one's wildcard has a name of its own. */
let mounts = 0;

/** The wildcard's value: Express names it (BELOW and the mount's number), Fastify calls it `*`. */
function wildcardOf(params: unknown): unknown {
  if (params === null || typeof params !== 'object') return undefined;
  for (const [key, value] of Object.entries(params)) if (key === '*' || key.startsWith(BELOW)) return value;
  return undefined;
}

/**
 * The path below the route's own, as the client sent it, as the other adapters hand it on: Express
 * gives the wildcard as decoded segments and Fastify as one decoded string under `*`, in which an id's
 * `%2F` has become a separator. It is the end of the raw path that decodes to the wildcard.
 */
function subPathOf(req: any): string {
  const value = wildcardOf(req?.params);
  const joined = Array.isArray(value) ? value.join('/') : typeof value === 'string' ? value : '';
  const decoded = joined.replace(/^\/+/, '');
  if (decoded === '') return '';
  const raw = String(req?.raw?.url ?? req?.originalUrl ?? req?.url ?? '').split('?', 1)[0] ?? '';
  const segments = raw.split('/');
  for (let k = 1; k < segments.length; k++) {
    const tail = segments.slice(segments.length - k).join('/');
    if (tail === decoded || decodedOrSame(tail) === decoded) return `/${tail}`;
  }
  return `/${decoded}`;
}

function decodedOrSame(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Headers that describe a body or a connection: only the core's answer, which is the body, sets them. */
const BODY_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'connection']);

/**
 * Fastify: we write the raw response ourselves. What guards and hooks set with `reply.header()` (a
 * throttler's `Retry-After` and `X-RateLimit-*`, a cookie) stays on the reply, which a hijacked reply
 * never sends, while on Express it is on the response already: it goes onto the raw response, under
 * the headers of the core's answer.
 */
function hijack(res: any): void {
  if (typeof res.hijack !== 'function') return;
  res.hijack();
  const raw = res.raw as ServerResponse | undefined;
  const set: unknown = typeof res.getHeaders === 'function' ? res.getHeaders() : undefined;
  if (raw === undefined || raw.headersSent || set === null || typeof set !== 'object') return;
  for (const [name, value] of Object.entries(set)) {
    if (value !== undefined && !BODY_HEADERS.has(name.toLowerCase()) && !raw.hasHeader(name)) raw.setHeader(name, value as string | string[]);
  }
}

/**
 * Serves one request through the core (Express gives Node objects, Fastify wraps them in `raw`), or,
 * when the core serves nothing at this method and path, passes it on, as the other adapters do: the
 * app's own routes below the path (`GET {path}/health`) are then served, whichever module registered
 * first, and anything else gets the platform's own 404. On Express such a request has left before the
 * guards ran (passOnBeforeGuards), and `next()` here is only for a router that was not found; on
 * Fastify, whose router already prefers the app's static routes to this wildcard, its not-found handler.
 */
async function serve(handler: Handler, req: any, res: any, next: unknown, subPath = ''): Promise<void> {
  if (!handler.accepts(String(req.method ?? 'GET'), subPath)) {
    if (typeof res.callNotFound === 'function') return void res.callNotFound();
    if (typeof next === 'function') return void next();
  }
  hijack(res);
  const parsed = req.body !== undefined ? { value: req.body as unknown } : undefined;
  await handleNodeRequest(handler, (req.raw ?? req) as NodeRequest, (res.raw ?? res) as ServerResponse, nativeOf(req, res), parsed, subPath);
}

/** What Express's router holds of a route: its path and its handlers (one per method Nest mapped). */
interface ExpressRoute {
  path?: unknown;
  stack?: { handle: (req: any, res: any, next: (signal?: unknown) => void) => unknown }[];
}

/**
 * Express: a request the core does not serve at its method and path leaves the mount's routes before
 * Nest's handler runs, and so before the guards (interceptors, pipes) do: `next('route')` goes on to the
 * app's own route below the path, whose guards are then the only ones to run, or to the 404. Passed on
 * from inside the handler instead (`next()`), it had been through the global guards once already, and
 * the app's route ran them again: a guard that counts (a rate limit, an audit) counted it twice. The
 * mount's routes are those whose path ends in its own wildcard (`{/*below1}`, see providers()).
 */
function passOnBeforeGuards(adapterHost: HttpAdapterHost, handler: Handler, below: string): void {
  const adapter = adapterHost.httpAdapter;
  if (adapter?.getType() !== 'express') return;
  const stack: unknown = adapter.getInstance()?.router?.stack;
  if (!Array.isArray(stack)) return;
  const ours = `{/*${below}}`;
  for (const layer of stack as { route?: ExpressRoute }[]) {
    const route = layer?.route;
    if (typeof route?.path !== 'string' || !route.path.endsWith(ours) || !Array.isArray(route.stack)) continue;
    for (const step of route.stack) {
      const nest = step.handle;
      step.handle = (req, res, next) => (handler.accepts(String(req.method ?? 'GET'), subPathOf(req)) ? nest(req, res, next) : next('route'));
    }
  }
}

/**
 * Answers the route's refusals by guards and pipes (`UnauthorizedException`, `ForbiddenException`, an
 * `EnclaveHttpError`) in the route's JSON shape and status table; other exceptions go to Nest as usual.
 */
@Catch(HttpException, EnclaveHttpError)
export class EnclaveExceptionFilter implements ExceptionFilter {
  constructor(@Inject(ENCLAVE_HANDLER) protected readonly handler: Handler) {}

  catch(exception: HttpException | EnclaveHttpError, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const res = http.getResponse();
    hijack(res);
    const status = exception instanceof HttpException ? exception.getStatus() : exception.status;
    const error = exception instanceof EnclaveHttpError ? exception : new EnclaveHttpError(status >= 400 && status <= 599 ? status : 500, exception.message);
    void writeFetchResponse((res.raw ?? res) as ServerResponse, this.handler.refuse(error, subPathOf(http.getRequest())));
  }
}

/**
 * A controller class per module instance, so two mounts with two paths do not share metadata; `below`
 * names its wildcard.
 */
function createController(below: string): Type {
  @Controller()
  @UseFilters(EnclaveExceptionFilter)
  class EnclaveController implements OnModuleInit {
    constructor(
      @Inject(ENCLAVE_HANDLER) private readonly handler: Handler,
      @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    ) {}

    /** Nest has mapped the routes by now, and serves no request before this. */
    onModuleInit(): void {
      passOnBeforeGuards(this.adapterHost, this.handler, below);
    }

    @Post()
    run(@Req() req: unknown, @Res() res: unknown, @Next() next: unknown): Promise<void> {
      return serve(this.handler, req, res, next, subPathOf(req));
    }

    /** The catalog (`catalog: false` passes it on). */
    @Get()
    catalog(@Req() req: unknown, @Res() res: unknown, @Next() next: unknown): Promise<void> {
      return serve(this.handler, req, res, next, subPathOf(req));
    }

    /**
     * Everything below the path, any method: the sessions (`{path}/sessions...`, read from the URL) and
     * the routes of `routes` (`{path}/mcp`); what the core does not serve there is passed on.
     */
    @All(`*${below}`)
    below(@Req() req: unknown, @Res() res: unknown, @Next() next: unknown): Promise<void> {
      return serve(this.handler, req, res, next, subPathOf(req));
    }
  }
  return EnclaveController;
}

function providers(controller: Type, below: string): FactoryProvider[] {
  return [
    {
      provide: ENCLAVE_HANDLER,
      inject: [ENCLAVE_MODULE_OPTIONS, HttpAdapterHost],
      useFactory: (options: EnclaveModuleOptions | null | undefined, adapterHost: HttpAdapterHost) => {
        const { path, ...rest } = options ?? ({} as EnclaveModuleOptions);
        // The route path comes from options, also async ones: routes are resolved after providers exist.
        Reflect.defineMetadata(PATH_METADATA, routePath(path).path, controller);
        // Fastify's router takes a bare trailing `*`, and prefers the app's own routes to it. On Express every
        // route of the mount is the path with its named wildcard, optional (`/enclave{/*below1}`): so
        // passOnBeforeGuards finds them, whatever global prefix or version Nest puts before the path.
        const methods = controller.prototype as Record<'run' | 'catalog' | 'below', () => unknown>;
        if (adapterHost.httpAdapter?.getType() === 'fastify') Reflect.defineMetadata(PATH_METADATA, '*', methods.below);
        else for (const method of [methods.run, methods.catalog, methods.below]) Reflect.defineMetadata(PATH_METADATA, `{/*${below}}`, method);
        return createEnclaveHandler<NestNative>(rest as EnclaveHandlerOptions<NestNative>);
      },
    },
  ];
}

/**
 * Mounts the execution route in a Nest app (Express or Fastify platform): `POST {path}` runs
 * `{ code, input?, limits? }` with the tools of the request's user, `GET {path}` serves their catalog,
 * and `{path}/mcp` (any method) the routes of `routes`, e.g. `routes: { '/mcp': mcpRoute() }`.
 * Guards run first, so `req.user` reaches `tools` through `ctx.native.req`.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [EnclaveModule.forRoot({
 *     path: '/enclave',
 *     authenticate: ({ native }) => native.req.user,            // set by your guard; undefined -> 401
 *     tools: ({ user }) => ({ 'orders:list': () => orders.list({ ownerId: user.id }) }),
 *   })],
 * })
 * export class AppModule {}
 * ```
 * Defaults: path `/enclave`, body up to 1 MiB, catalog on, `new Enclave()` (STANDARD level).
 */
@Module({})
// A Nest dynamic module is a class with static factories by design.
// oxlint-disable-next-line typescript/no-extraneous-class
export class EnclaveModule {
  static forRoot<U = unknown>(options?: EnclaveModuleOptions<U> | null): DynamicModule {
    const below = `${BELOW}${++mounts}`;
    const controller = createController(below);
    return {
      module: EnclaveModule,
      controllers: [controller],
      providers: [{ provide: ENCLAVE_MODULE_OPTIONS, useValue: options }, ...providers(controller, below)],
      exports: [ENCLAVE_HANDLER, ENCLAVE_MODULE_OPTIONS],
    };
  }

  static forRootAsync<U = unknown>(options: EnclaveModuleAsyncOptions<U>): DynamicModule {
    const below = `${BELOW}${++mounts}`;
    const controller = createController(below);
    return {
      module: EnclaveModule,
      imports: options.imports ?? [],
      controllers: [controller],
      providers: [{ provide: ENCLAVE_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }, ...providers(controller, below)],
      exports: [ENCLAVE_HANDLER, ENCLAVE_MODULE_OPTIONS],
    };
  }
}
