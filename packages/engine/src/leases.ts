import { OptionChecker } from './options.js';

/**
 * Caps on things in flight (runs of one user, running sessions of one user) that hold across processes:
 * each holder takes a lease with a time to live and renews it while it works, so a process that dies
 * without releasing gives its slots back when its leases expire. The in-memory default serves one
 * process; a shared store (Redis: a sorted set of lease ids by expiry, trimmed and counted in one Lua
 * script) makes the cap hold across app instances.
 */
export interface LeaseStore {
  /** Takes one of `max` slots of `key` for `ttlMs`: the lease's id, or null when all are taken. */
  acquire(key: string, max: number, ttlMs: number): Promise<string | null>;
  /** Extends a lease; false if it had already expired (its slot may be someone else's now). */
  renew(key: string, lease: string, ttlMs: number): Promise<boolean>;
  /** Gives the slot back. */
  release(key: string, lease: string): Promise<void>;
}

/** Leases in this process's memory: the default store. */
export class MemoryLeaseStore implements LeaseStore {
  readonly #now: () => number;
  readonly #keys = new Map<string, Map<string, number>>();
  #next = 0;

  constructor(options: { now?: () => number } | null = {}) {
    const check = new OptionChecker('new MemoryLeaseStore(options)');
    const o = check.object('options', options ?? undefined) ?? {};
    check.knownKeys('', o, ['now']);
    this.#now = check.function<() => number>('now', o.now, '() => milliseconds') ?? Date.now;
  }

  async acquire(key: string, max: number, ttlMs: number): Promise<string | null> {
    const leases = this.#live(key);
    if (leases.size >= max) return null;
    const id = `lease_${++this.#next}`;
    leases.set(id, this.#now() + ttlMs);
    this.#keys.set(key, leases);
    return id;
  }

  async renew(key: string, lease: string, ttlMs: number): Promise<boolean> {
    const leases = this.#live(key);
    if (!leases.has(lease)) return false;
    leases.set(lease, this.#now() + ttlMs);
    return true;
  }

  async release(key: string, lease: string): Promise<void> {
    const leases = this.#keys.get(key);
    if (leases === undefined) return;
    leases.delete(lease);
    if (leases.size === 0) this.#keys.delete(key);
  }

  /** Leases held now, of every key (for operators and tests). */
  get size(): number {
    let n = 0;
    // Deleting the current key while a Map iterates is safe.
    for (const key of this.#keys.keys()) n += this.#live(key).size;
    return n;
  }

  /** The key's unexpired leases (expired ones are dropped as they are met). */
  #live(key: string): Map<string, number> {
    const leases = this.#keys.get(key) ?? new Map<string, number>();
    const now = this.#now();
    for (const [id, expiresAt] of leases) if (expiresAt <= now) leases.delete(id);
    if (leases.size === 0) this.#keys.delete(key);
    return leases;
  }
}

/**
 * A lease held for as long as some work lasts: renewed every third of its time to live, released at the
 * end. Renewal failures (a store that is down) are retried at the next tick; the lease then simply
 * expires, which is what a crashed holder's lease does too. A lease the store no longer has (it expired
 * meanwhile, or the store lost its data) is taken again at the next tick there is room, so the cap
 * counts the work again.
 */
export async function holdLease(store: LeaseStore, key: string, max: number, ttlMs: number): Promise<{ release(): Promise<void> } | null> {
  let lease = await store.acquire(key, max, ttlMs);
  if (lease === null) return null;
  let released = false;
  /** A renewal on its way: the next tick waits for it rather than take the slot a second time. */
  let renewing = false;
  const renew = async (): Promise<void> => {
    const held = lease;
    if (held !== null && (await store.renew(key, held, ttlMs))) return;
    const again = await store.acquire(key, max, ttlMs);
    // Released while this was on its way: the slot taken again goes back at once.
    if (released) {
      if (again !== null) await store.release(key, again);
      return;
    }
    lease = again;
  };
  const timer = setInterval(() => {
    if (renewing) return;
    renewing = true;
    renew()
      .catch(() => {})
      .finally(() => (renewing = false));
  }, Math.max(50, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      if (lease !== null) await store.release(key, lease).catch(() => {});
    },
  };
}
