import { OptionChecker } from '../options.js';

/** An adapter's route path, checked at construction (one leading slash, no trailing one), and its matcher. */
export function routePath(path: string | undefined): { path: string; match(requestPath: string): boolean } {
  const p = path ?? '/enclave';
  if (typeof p !== 'string' || !p.startsWith('/') || /[?#*:]/.test(p)) new OptionChecker('enclave options').fail(`path must be a literal path starting with "/", got ${String(path)}.`);
  const normal = p.length > 1 ? p.replace(/\/+$/, '') : p;
  return { path: normal, match: (requestPath) => (requestPath.length > 1 ? requestPath.replace(/\/+$/, '') : requestPath) === normal };
}
