/**
 * Host code that runs inside a realm entry (the bridge: begin, heap, ...) can be cut off at any point by
 * the watchdog, and its `finally` blocks do not run then. Node's loader of its own modules marks a module
 * as loading and clears the mark in a `finally`: when the first load of a builtin happened inside an
 * entry and the deadline cut it off, the half-evaluated module stayed in the process for good. The first
 * `crypto.getRandomValues` (the CSPRNG pool's refill for a run's seed, in begin() then; the pool is now
 * read from /dev/urandom through node:fs where there is one) loads internal/crypto/webidl; cut off, every
 * later call threw, so every later run of every Enclave in the thread ended as TIMEOUT at its deadline. The first load of node:v8 (the first memory check) did the
 * same to Node's streams and turned the memory checks off.
 *
 * Each case stands in for such a first load with a stand-in that behaves like Node's loader: its first
 * call spins until well past the run's deadline inside a "loading" mark that only a `finally` clears,
 * and any call while the mark is stuck throws. The run that meets it ends at its deadline either way;
 * what is judged is only the next runs, on other Enclaves. No durations are asserted.
 */
import { afterEach, expect, it, vi } from 'vitest';

type Fn = (...args: never[]) => unknown;

/** `real` behind a loader-like first call that lasts until `until()` has passed. */
function loaderLike<F extends Fn>(real: F, first: (...args: Parameters<F>) => boolean, until: () => number): F {
  let loading = false;
  let loaded = false;
  return ((...args: Parameters<F>) => {
    if (loading) throw new TypeError('half-loaded module');
    if (!loaded && first(...args)) {
      loading = true;
      try {
        const end = until();
        while (performance.now() < end) {
          // a slow first load on a busy machine
        }
        loaded = true;
      } finally {
        loading = false;
      }
    }
    return real(...args);
  }) as F;
}

/** A fresh copy of the engine: the CSPRNG pool and the lazily loaded modules are per module instance. */
async function freshEngine() {
  vi.resetModules();
  return import('../src/index.js');
}

const restore: (() => void)[] = [];
afterEach(() => {
  for (const r of restore.splice(0)) r();
});

const T = 50;
/** Past the deadline of a run started now with timeout T, by far more than a late watchdog needs. */
const pastDeadline = () => {
  const started = performance.now();
  return () => started + T + 500;
};

it('a first CSPRNG draw cut off by the deadline does not leave later runs without a seed', async () => {
  const { Enclave } = await freshEngine();
  const real = crypto.getRandomValues.bind(crypto) as typeof crypto.getRandomValues;
  const until = pastDeadline();
  Object.defineProperty(crypto, 'getRandomValues', { value: loaderLike(real, () => true, until), configurable: true, writable: true });
  restore.push(() => delete (crypto as { getRandomValues?: unknown }).getRandomValues);
  // Where there is a /dev/urandom the pool is read from it, through node:fs: its first use is slow too.
  const getBuiltin = process.getBuiltinModule;
  process.getBuiltinModule = loaderLike(getBuiltin, (id: string) => id === 'node:fs' || id === 'fs', until);
  restore.push(() => {
    process.getBuiltinModule = getBuiltin;
  });

  const attacker = new Enclave({ realmPool: { maxIdle: 1, prewarm: 0 } });
  const first = await attacker.run('return 1', { timeout: T });
  attacker.dispose();
  expect(first.error?.code).toBe('TIMEOUT');

  for (let i = 0; i < 2; i++) {
    const tenant = new Enclave({ realmPool: { maxIdle: 1, prewarm: 0 } });
    const r = await tenant.run('return 1 + 1', { timeout: 5000 });
    tenant.dispose();
    expect(r.error).toBeUndefined();
    expect(r.value).toBe(2);
  }
});

it('a first load of node:v8 cut off by the deadline does not turn the memory checks off', async () => {
  const { Enclave } = await freshEngine();
  const real = process.getBuiltinModule;
  const until = pastDeadline();
  process.getBuiltinModule = loaderLike(real, (id: string) => id === 'node:v8' || id === 'v8', until);
  restore.push(() => {
    process.getBuiltinModule = real;
  });

  const attacker = new Enclave({ realmPool: { maxIdle: 1, prewarm: 0 }, maxIterations: 1e9 });
  // Reaches a memory check (before its first large allocation) while the deadline is still ahead.
  const first = await attacker.run('const a = []; for (let i = 0; i < 1e5; i++) a.push({ i }); return a.length;', { timeout: T });
  attacker.dispose();
  expect(['TIMEOUT', 'OK']).toContain(first.success ? 'OK' : first.error?.code);

  const tenant = new Enclave({ realmPool: { maxIdle: 1, prewarm: 0 }, memoryLimit: 8 * 1024 * 1024, maxIterations: 1e9 });
  const r = await tenant.run('const a = []; for (let i = 0; i < 1e6; i++) a.push({ i, s: "x" + i }); return a.length;', { timeout: 10_000 });
  tenant.dispose();
  expect(r.error?.code).toBe('MEMORY_LIMIT_EXCEEDED');
});
