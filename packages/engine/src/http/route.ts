import { OptionChecker } from '../options.js';

/** What an adapter's route answers: the run route's methods, and its sessions below it. */
export interface RoutePath {
  /** The route's path: one leading slash, no trailing one. */
  path: string;
  /** The run route itself (`POST`, and `GET` for the catalog). */
  match(requestPath: string): boolean;
  /** The run route or one of its session routes (`{path}/sessions...`): what the adapter hands to the core. */
  owns(requestPath: string, method: string, options?: { catalog?: boolean; sessions?: boolean }): boolean;
}

const SESSION_METHODS = new Set(['GET', 'POST', 'DELETE']);

/** An adapter's route path, checked at construction (one leading slash, no trailing one), and its matchers. */
export function routePath(path: string | undefined): RoutePath {
  const p = path ?? '/enclave';
  if (typeof p !== 'string' || !p.startsWith('/') || /[?#*:]/.test(p)) new OptionChecker('enclave options').fail(`path must be a literal path starting with "/", got ${String(path)}.`);
  const normal = p.length > 1 ? p.replace(/\/+$/, '') : p;
  const trim = (requestPath: string) => (requestPath.length > 1 ? requestPath.replace(/\/+$/, '') : requestPath);
  const sessions = `${normal === '/' ? '' : normal}/sessions`;
  const match = (requestPath: string) => trim(requestPath) === normal;
  return {
    path: normal,
    match,
    owns(requestPath, method, options = {}) {
      const m = method.toUpperCase();
      if (match(requestPath)) return m === 'POST' || (m === 'GET' && options.catalog !== false);
      if (options.sessions === false || !SESSION_METHODS.has(m)) return false;
      const rest = trim(requestPath);
      return rest === sessions || rest.startsWith(`${sessions}/`);
    },
  };
}
