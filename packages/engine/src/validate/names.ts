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

/**
 * Globals of browsers, Node and the language (the ones a level offers are answered before this list is
 * read; the ones that reach the host are in ALWAYS_BLOCKED_IDENTIFIERS and reported by their own rule).
 * A script that reads one meant the platform's global, so the hint says it does not exist rather than
 * suggesting to declare it. Node's own are taken from the global object when this module loads, so a
 * Node version's new globals are covered without a list to keep up.
 */
export const PLATFORM_GLOBALS: ReadonlySet<string> = new Set([
  // The language: binary data, iteration helpers and legacy functions the realm removes or never had.
  'ArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float16Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
  'Iterator',
  'escape',
  'unescape',
  // Web and Node platform globals.
  'AbortController',
  'AbortSignal',
  'Blob',
  'BroadcastChannel',
  'CustomEvent',
  'Event',
  'EventTarget',
  'File',
  'FormData',
  'Headers',
  'MessageChannel',
  'MessagePort',
  'Request',
  'Response',
  'TextDecoder',
  'TextEncoder',
  'URL',
  'URLSearchParams',
  'atob',
  'btoa',
  'clearImmediate',
  'clearInterval',
  'clearTimeout',
  'crypto',
  'document',
  'localStorage',
  'location',
  'navigator',
  'performance',
  'sessionStorage',
  // Other runtimes' and browsers' globals an LLM reaches for.
  'Bun',
  'Deno',
  'XMLHttpRequest',
  'WebSocket',
  'Worker',
  'alert',
  'caches',
  'confirm',
  'history',
  'indexedDB',
  'open',
  'prompt',
  'requestAnimationFrame',
  'self',
  'window',
  // Node's own globals, whatever this version has (streams, DOMException, fetch, ...), read once at load.
  ...Object.getOwnPropertyNames(globalThis).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name)),
]);
