import { ALWAYS_BLOCKED_IDENTIFIERS } from '../levels.js';

/** Blocked identifiers that generate code from strings; `no-eval` reports these, `no-blocked-identifier` the rest. */
export const CODE_GENERATION_NAMES: ReadonlySet<string> = new Set([
  'eval',
  'Function',
  'AsyncFunction',
  'GeneratorFunction',
  'AsyncGeneratorFunction',
]);

export const BLOCKED_IDENTIFIERS: ReadonlySet<string> = new Set(ALWAYS_BLOCKED_IDENTIFIERS);

/**
 * Globals that `no-meta-programming` reports itself when the dialect does not provide them, so that
 * `unknown-global` does not report them a second time.
 */
export const META_GLOBALS: ReadonlySet<string> = new Set(['Reflect']);
