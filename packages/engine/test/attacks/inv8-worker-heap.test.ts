/**
 * Invariant 8 with the worker_threads adapter: a run that fills its worker's heap ends as
 * MEMORY_LIMIT_EXCEEDED, and the host process survives it, whatever the allocation looks like.
 *
 * A worker's `resourceLimits` alone did not hold: V8 aborted the whole process ("FATAL ERROR:
 * CALL_AND_RETRY_LAST Allocation failed") when a Map or an array of about a third of the heap doubled
 * its backing store in one step, because that single allocation did not fit and Node's near-heap-limit
 * callback, which ends only the worker, never got a chance. Now the runs' heap checkpoints (written
 * whatever `transform` says) stop a run at the pool's per-worker heap, and V8's own limit is four times
 * that, so the step in flight at a checkpoint always fits. Each row runs in a child process; its stderr
 * must stay empty (V8's "Last few GCs" report would show up there first).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild, scriptsChild } from '../helpers.js';

const SHAPES: Record<string, string> = {
  'Map growth': 'const m = new Map(); for (let i = 0; i < 1e8; i++) m.set(i, i); return m.size;',
  'Set growth': 'const s = new Set(); for (let i = 0; i < 1e8; i++) s.add(i); return s.size;',
  'array push': 'const a = []; for (let i = 0; i < 1e9; i++) a.push(i); return a.length;',
  'pushing onto the array a for-of iterates': 'const arr = [1]; let n = 0; for (const item of arr) { for (let i = 0; i < 1000; i++) { arr.push(i); n++; } } return n;',
  'array growth by index': 'const a = []; for (let i = 0; ; i++) a[i] = i;',
  'object with ever more keys': 'const o = {}; for (let i = 0; ; i++) o["k" + i] = i;',
  'object graph': 'let o = null; for (;;) o = { next: o, d: [1, 2, 3] };',
  'string doubling, then flattened as a key': 'let s = "ab"; for (let i = 0; i < 40; i++) s += s; const o = {}; o[s] = 1; return s.length;',
  'string concatenation': 'let s = ""; for (;;) { s += "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + s.length; }',
  // Hundreds of insertions per iteration: the checkpoint comes by work done, not only by iterations.
  'a loop body of 300 insertions': `const m = new Map(); let k = 0; for (;;) {\n${'m.set(k++, k);\n'.repeat(300)}}`,
};

/**
 * Each run's deadline, which no shape is meant to reach: the heap cap ends each one (a cap that does
 * not hold ends the child, or its answer is another), so the clock only has to be out of reach. The
 * runs asked for 60 s, but a run's timeout only lowers the instance's, and STRICT's is 5 s: 'object
 * with ever more keys' (4.5 s of work at 32 MB on a busy machine) and others ended as TIMEOUT under
 * load, in every mode. The instance's timeout is the 60 s meant now. The child's kill at 300 s catches a hang.
 */
const RELAXED = 60_000;

function childSource(options: string): string {
  return scriptsChild(options, SHAPES, { timeout: RELAXED, report: '{ workers: enclave.stats().workers }' });
}

// A 32 MB worker heap (V8's own limit is then 144 MB): the worst shapes fill it in a second or two.
const WORKER = `adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1, memoryLimitPerWorker: 32 * 1024 * 1024 }, validate: false, maxIterations: 1e12, timeout: ${RELAXED}`;
const MODES = [
  // The run's own budget (16 MB at STRICT) stops these first.
  { label: 'STRICT, transform on', options: `{ securityLevel: 'STRICT', ${WORKER} }` },
  { label: 'STRICT, transform off', options: `{ securityLevel: 'STRICT', transform: false, ${WORKER} }` },
  // A run budget far above the worker's heap: the worker's ceiling has to hold.
  { label: 'STRICT, memoryLimit 2 GB, transform on', options: `{ securityLevel: 'STRICT', memoryLimit: 2e9, ${WORKER} }` },
  { label: 'STRICT, memoryLimit 2 GB, transform off', options: `{ securityLevel: 'STRICT', memoryLimit: 2e9, transform: false, ${WORKER} }` },
] as const;

const children = new ChildBatch(2);
const rows = MODES.map((mode) => ({ ...mode, key: children.add(mode.label, childSource(mode.options), { killAfterMs: 300_000 }) }));
beforeAll(() => children.start(), 120_000);

describe('invariant 8: a worker out of heap ends its run, never the host (child processes)', () => {
  describe.each(rows)('$label', ({ key }) => {
    it('every allocation shape ends as MEMORY_LIMIT_EXCEEDED, the host survives and writes nothing', async () => {
      const child = await children.result(key);
      expect(child.code, describeChild(child)).toBe(0);
      expect(child.signal, describeChild(child)).toBeNull();
      expect(child.stderr, 'the host process wrote to stderr').toBe('');
      const got = childResult(child) as { out: Record<string, string>; workers: { tampered: number } };
      for (const name of Object.keys(SHAPES)) {
        // V8's maximum string length comes first when the budget allows strings of a gigabyte.
        const allowed = name.startsWith('string doubling') && key.includes('2 GB') ? ['MEMORY_LIMIT_EXCEEDED', 'RUNTIME_ERROR'] : ['MEMORY_LIMIT_EXCEEDED'];
        expect(allowed, `${name}: ${JSON.stringify(got)}`).toContain(got.out[name]);
      }
      expect(got.workers.tampered).toBe(0);
    }, 320_000);
  });
});
