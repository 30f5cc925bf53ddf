import { OptionChecker } from '../options.js';

/** An adapter's route: its path, and where a request path stands relative to it. */
export interface RoutePath {
  /** The route's path: one leading slash, no trailing one. */
  path: string;
  /** Whether `requestPath` is the route's own path. */
  match(requestPath: string): boolean;
  /**
   * The part of `requestPath` below the route's path (`''` for the path itself, `'/mcp'` or
   * `'/sessions/abc'` below it), or undefined elsewhere. Ask the handler whether it serves it
   * (`handler.accepts(method, subPath)`) and pass it on as the handler's `subPath`.
   */
  below(requestPath: string): string | undefined;
}

/** An adapter's route path, checked at construction (one leading slash, no trailing one), and its matchers. */
export function routePath(path: string | undefined): RoutePath {
  const p = path ?? '/enclave';
  if (typeof p !== 'string' || !p.startsWith('/') || /[?#*:]/.test(p)) new OptionChecker('enclave options').fail(`path must be a literal path starting with "/", got ${String(path)}.`);
  const normal = p.length > 1 ? p.replace(/\/+$/, '') : p;
  const trim = (requestPath: string) => (requestPath.length > 1 ? requestPath.replace(/\/+$/, '') : requestPath);
  const below = (requestPath: string) => {
    const q = trim(requestPath);
    if (q === normal) return '';
    const prefix = normal === '/' ? '' : normal;
    return q.startsWith(`${prefix}/`) ? q.slice(prefix.length) : undefined;
  };
  return { path: normal, match: (requestPath) => trim(requestPath) === normal, below };
}
