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

/**
 * Whether a request target's path has a segment that URL parsing resolves away: `.` or `..`, in any
 * case of percent-encoding (`%2e%2E`), or a backslash, which URL parsing takes for `/`. Such a path
 * names something other than what a router that reads it as it came (Express) matched: the Fetch
 * `Request` made of `/enclave/sessions/..` is `POST /enclave/`, a run, not a session. Refused (400).
 */
export function hasDotSegment(target: string): boolean {
  const path = target.split(/[?#]/, 1)[0] ?? '';
  return path.includes('\\') || path.split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment));
}

/** Why a path with a dot segment is refused (400 `BAD_REQUEST`). */
export const DOT_SEGMENT_MESSAGE = 'The request path has a "." or ".." segment (or a backslash); send the path it means instead.';
