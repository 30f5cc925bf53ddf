import { OptionChecker } from './options.js';

/** What a store answers for one counted call. */
export interface RateLimitHit {
  /** Calls counted for the key in the current window, this one included. */
  count: number;
  /** Milliseconds until the current window ends and the count starts again from zero. */
  resetInMs: number;
}

/**
 * Where rate-limit counts live, for the tools' `rateLimit` (the Enclave's `rateLimitStore`) and for the
 * HTTP core's per-user `rateLimit` alike. The in-memory default serves one process; a shared store
 * (Redis: `INCR` then `PEXPIRE key windowMs NX` and `PTTL`) makes the limit hold across processes.
 * Counting is a fixed window per key.
 */
export interface RateLimitStore {
  /** Counts one call for `key` in its window of `windowMs`. May be async. */
  hit(key: string, windowMs: number): RateLimitHit | Promise<RateLimitHit>;
}

/**
 * The default store: fixed windows in a Map, pruned of expired keys as it grows.
 *
 * @example
 * ```ts
 * const store = new MemoryRateLimitStore({ now: () => clock.now }); // an injected clock, for tests
 * new Enclave({ rateLimitStore: store });
 * ```
 */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  constructor(options: { now?: () => number; maxKeys?: number } | null = {}) {
    // A maxKeys of 0 would forget every live window at each new key (a limit that never holds).
    const check = new OptionChecker('new MemoryRateLimitStore(options)');
    const o = check.object('options', options ?? undefined) ?? {};
    check.knownKeys('', o, ['now', 'maxKeys']);
    this.#now = check.function<() => number>('now', o.now, '() => milliseconds') ?? Date.now;
    this.#maxKeys = check.positiveInteger('maxKeys', o.maxKeys) ?? 100_000;
  }

  hit(key: string, windowMs: number): RateLimitHit {
    const now = this.#now();
    let w = this.#windows.get(key);
    if (w === undefined || now >= w.resetAt) {
      if (w === undefined && this.#windows.size >= this.#maxKeys) this.#prune(now);
      w = { count: 0, resetAt: now + windowMs };
      this.#windows.set(key, w);
    }
    w.count++;
    return { count: w.count, resetInMs: Math.max(0, w.resetAt - now) };
  }

  /** Keys with a live window. */
  get size(): number {
    return this.#windows.size;
  }

  #prune(now: number): void {
    for (const [k, w] of this.#windows) if (now >= w.resetAt) this.#windows.delete(k);
    // Still full of live windows: forget the oldest, which lets those callers start a fresh window
    // early rather than letting the map grow without bound.
    if (this.#windows.size >= this.#maxKeys) {
      const drop = this.#windows.size - this.#maxKeys + 1;
      let i = 0;
      for (const k of this.#windows.keys()) {
        if (i++ >= drop) break;
        this.#windows.delete(k);
      }
    }
  }
}
