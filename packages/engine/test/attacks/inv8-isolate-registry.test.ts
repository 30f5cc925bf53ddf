/**
 * Invariants 7 and 8 against state a run leaves in the isolate rather than in its realm: `Symbol.for`
 * registers its symbol in the isolate (in `vm` mode the host's) for as long as the process lives, and no
 * collection frees a registered symbol or its key. Found by red-teaming: a validated script at STANDARD
 * that registered 2,000 keys of 10 KB kept 20 MB of the host's heap after its run had ended, within its
 * 64 MB budget every time; 25 such runs aborted a 512 MB host ("Reached heap limit" in
 * Builtin_SymbolFor). Each run now has a registry of its own, dropped with the run.
 *
 * Host-side evidence: each mode runs 30 such runs in a child process with a 256 MB heap (before the fix
 * it aborted after about 12 of them); the child must exit cleanly with an empty stderr, and its heap
 * after a full collection must hold far less than what the runs registered (600 MB).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Adapter, Attack } from '../helpers.js';
import { ChildBatch, childResult, describeChild, runAttack, scriptsChild } from '../helpers.js';

/** 20 MB of keys a run, different in every run (each run's Math.random is seeded apart). */
const REGISTER = "const pad = 'y'.repeat(1e4); const base = String(Math.random()); for (let i = 0; i < 2000; i++) Symbol.for(base + i + pad); return 1;";
const RUNS = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`run ${i}`, REGISTER]));

const MODES = [
  { label: 'vm STANDARD validated', options: '{}' },
  { label: 'vm, validate:false transform:false', options: '{ validate: false, transform: false }' },
] as const;

const children = new ChildBatch(2);
const rows = MODES.map((mode) => ({
  ...mode,
  key: children.add(mode.label, scriptsChild(mode.options, RUNS, { timeout: 30_000, report: '{ heap: (gc(), process.memoryUsage().heapUsed) }' }), {
    nodeArgs: ['--max-old-space-size=256', '--expose-gc'],
    killAfterMs: 300_000,
  }),
}));
beforeAll(() => children.start(), 120_000);

describe('invariants 7 and 8: Symbol.for keeps nothing in the host isolate after a run (child processes, 256 MB heap)', () => {
  describe.each(rows)('$label', ({ key }) => {
    it('30 runs that register 20 MB each all succeed, and the host keeps none of it', async () => {
      const child = await children.result(key);
      expect(child.code, describeChild(child)).toBe(0);
      expect(child.stderr, 'the host process wrote to stderr').toBe('');
      const got = childResult(child) as { out: Record<string, string>; heap: number };
      expect(Object.values(got.out), JSON.stringify(got.out)).toEqual(Object.values(RUNS).map(() => 'OK'));
      expect(got.heap, 'the host heap kept what the runs registered').toBeLessThan(128 * 1024 * 1024);
    }, 320_000);
  });
});

const ROWS: readonly Adapter[] = [
  { name: 'vm STANDARD validated', options: { realmPool: { maxIdle: 1, prewarm: 0 } }, validates: true },
  { name: 'vm, validate:false transform:false', options: { validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'worker_threads, validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }, validates: false },
];

const SEMANTICS: Attack = {
  name: 'Symbol.for and Symbol.keyFor keep their answers within a run',
  code: "const a = Symbol.for('x'); const o = { toString() { return 'o'; } }; const out = [a === Symbol.for('x'), Symbol.keyFor(a), Symbol.keyFor(Symbol.for(1)), String(Symbol.keyFor(Symbol('q'))), String(Symbol.keyFor(Symbol.iterator)), a.description, Symbol.for(o) === Symbol.for('o'), Symbol.for.name, Symbol.keyFor.length]; for (const f of [() => Symbol.for(Symbol('s')), () => Symbol.keyFor('x')]) { try { f(); } catch (e) { out.push(e.name + ': ' + e.message); } } return out;",
  expect: ['OK'],
  validation: 'accept',
  check: (r) => expect(r.value).toEqual([true, 'x', '1', 'undefined', 'undefined', 'x', true, 'for', 1, 'TypeError: Cannot convert a Symbol value to a string', 'TypeError: x is not a symbol']),
};

describe.each(ROWS)('Symbol.for within a run [$name]', (adapter) => {
  it(SEMANTICS.name, async () => {
    await runAttack(adapter, SEMANTICS);
  }, 60_000);
});
