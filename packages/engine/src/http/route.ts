import { OptionChecker } from '../options.js';

/** An adapter's route path, checked at construction (one leading slash, no trailing one), and its matchers. */
export function routePath(path: string | undefined): {
  path: string;
  /** Whether `requestPath` is the route's own path. */
  match(requestPath: string): boolean;
  /** The part of `requestPath` below the route's path (`''` for the path itself, `'/mcp'` below it), or undefined elsewhere. Pass it to the handler as `subPath`. */
  below(requestPath: string): string | undefined;
} {
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
