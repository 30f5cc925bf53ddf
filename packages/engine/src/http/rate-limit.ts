/** Per-key request counts in fixed windows; the map is dropped at each new window, so it stays small. */
export class FixedWindowLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  #windowStart = 0;
  #counts = new Map<string, number>();

  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** Counts one request for `key`; returns the seconds to wait when it is over the limit. */
  hit(key: string, now = Date.now()): number | undefined {
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now - ((now - this.#windowStart) % this.#windowMs);
      this.#counts = new Map();
    }
    const count = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, count);
    if (count <= this.#max) return undefined;
    return Math.max(1, Math.ceil((this.#windowStart + this.#windowMs - now) / 1000));
  }
}
