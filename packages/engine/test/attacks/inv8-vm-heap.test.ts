/**
 * Invariants 5 and 8 with the `vm` adapter: a run's heap growth meets a heap check within a bounded
 * amount of growth, so a run that outgrows its memory budget ends as MEMORY_LIMIT_EXCEEDED and the host
 * process survives, even when every single step allocates too little to be checked on its own.
 *
 * Found by review: the heap was checked only at loop checkpoints (every 16,384 turns) and by bulk
 * builtins charged more than 65,536 units at once, so a short loop of steps just below that (a
 * 65,536-element `fill`, `map` or `slice`), or of steps no builtin charges (a BigInt shift of 50 MB),
 * allocated gigabytes before the first check and V8 aborted the host ("Reached heap limit", exit 134).
 * Now every charge adds to a running total that triggers a check, and the checkpoints start at every
 * loop turn, spreading out only while the checks find the heap growing slowly.
 *
 * Each mode runs in a child process with a 512 MB heap, eight times the run's 64 MB budget at
 * STANDARD; its stderr must stay empty (V8's "Last few GCs" report would show up there first).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild, scriptsChild } from '../helpers.js';

const SHAPES: Record<string, string> = {
  // BigInt operators call no builtin, so nothing is charged: only the heap checks see them.
  'BigInt shifts of 12.5 MB each': 'const keep = []; for (let i = 0; i < 200; i++) keep.push(1n << 100000000n); return keep.length;',
  '65,536-element fills': 'const keep = []; for (let i = 0; i < 16000; i++) keep.push(new Array(65536).fill(i)); return keep.length;',
  'map(Number) of a 65,536-element array': 'const a = new Array(65536).fill(1); const keep = []; for (let i = 0; i < 16000; i++) keep.push(a.map(Number)); return keep.length;',
  'slice of a 65,536-element array': 'const a = new Array(65536).fill(1); const keep = []; for (let i = 0; i < 16000; i++) keep.push(a.slice()); return keep.length;',
  // The same copies after 40,000 turns that allocate nothing: the checkpoints have spread out by then.
  'map(Number) after a long calm loop': 'const a = new Array(65536).fill(1); const keep = []; for (let i = 0; i < 56000; i++) { if (i >= 40000) keep.push(a.map(Number)); } return keep.length;',
  // One step no builtin wrapper sees (a BigInt operator, the Array constructor): before, each of these
  // aborted the host; a BigInt result over 64 KB now makes the heap checked, the array length is charged.
  'new Array(3.3e7) 24 times in one expression': `const k = [${Array(24).fill('new Array(3.3e7)').join(', ')}]; return k.length;`,
  'BigInt shifts of 500 KB after a long calm loop': 'const keep = []; for (let i = 0; i < 60000; i++) { if (i >= 40000) keep[i - 40000] = 1n << 4000000n; } return keep.length;',
  'BigInt squaring chains after a long calm loop': 'let s = 0; for (let i = 0; i < 40000; i++) s += i; const keep = []; for (let c = 0; c < 100000; c++) { let x = 3n; for (let j = 0; j < 25; j++) { x = x * x; keep.push(x); } } return keep.length;',
  'BigInt shifts of 12.5 MB each in one expression': `const k = [${Array(8).fill('1n << 100000000n').join(', ')}]; return k.length;`,
  'BigInt products and powers of 2 MB each': 'const x = 1n << 16000000n; const k = []; for (let i = 0; i < 24; i++) { k.push(x * BigInt(i + 3)); k.push(2n ** BigInt(16000000 + i)); } return k.length;',
  'arrays within the budget each, 8 MB apiece': `const k = []; ${'k.push(new Array(1e6)); '.repeat(12)}return k.length;`,
  'new Array(60000) after a long calm loop': 'const keep = []; for (let i = 0; i < 60000; i++) { if (i >= 40000) keep[i - 40000] = new Array(60000); } return keep.length;',
  // flat's output (within the budget each time) was counted but not charged: 12 of them in one array
  // literal, code without a checkpoint, aborted the host (7.8e6 elements each under 64 MB).
  'flat of 1,200 references to one 1,200-element array, 12 in one expression': `const b = Array(1200).fill(Array(1200).fill(0)); const k = [${Array(12).fill('b.flat()').join(', ')}]; return k.length;`,
  // A builtin callback runs no checkpoint: one groupBy made 6e6 groups (a Map entry, an array and its
  // element each) in one native step and aborted the host. Under 16 MB (see STEPS_SCALED_TO_16_MB) its
  // 1.5e6 groups still make several times the budget.
  ...(typeof (Map as { groupBy?: unknown }).groupBy === 'function' ? { 'Map.groupBy of 1.5e6 elements by Math.random': 'const a = Array(1.5e6).fill(0); return Map.groupBy(a, Math.random).size;' } : {}),
  // Array.fromAsync (Node 22 and later) copies an array-like and walks it in microtasks of its own, where
  // no checkpoint runs: the copies (uncharged below 65,536 elements) and the walks aborted the host.
  ...(typeof (Array as { fromAsync?: unknown }).fromAsync === 'function'
    ? { 'Array.fromAsync of 3,000 array-likes of 60,000 elements': 'const f = Array.fromAsync; const keep = []; for (let i = 0; i < 3000; i++) keep.push(f({ length: 60000 })); return (await Promise.all(keep)).length;' }
    : {}),
};

/**
 * Preallocated by V8 without any builtin: 80 MB per step. In a child of its own: after the runs above,
 * whose garbage V8 has not collected yet, the run's heap baseline includes that garbage, and once a
 * collection frees it the run's own growth reads low; on Node 22 and 24 steps this large then reach the
 * heap limit before a check (a limit of the vm adapter the README states; worker_threads has the cap).
 */
const FRESH_HEAP_SHAPES: Record<string, string> = {
  'new Array(1e7)': 'const keep = []; for (let i = 0; i < 100; i++) keep.push(new Array(1e7)); return keep.length;',
};

/**
 * The squaring chains under a run budget of 16 MB instead of 64: each chain keeps 13 MB, most of it
 * from its last squarings (seconds of CPU), and 16 MB ends the run after 3 chains where 64 MB took 6 to
 * 10, a quarter of the time. What is shown is unchanged: the heap is checked when such a result is made,
 * within 16 MB of growth on a 512 MB heap, where without the check the loop's checkpoints, spread out by
 * the calm loop, came after hundreds of chains (gigabytes).
 */
const SMALL_BUDGET = { memoryLimit: 16 * 1024 * 1024 };

/**
 * Shapes whose steps were megabytes to tens of MB under STANDARD's 64 MB, scaled by a quarter to run under
 * the same 16 MB: BigInt shifts of 12.5 MB (were 50), products and powers of 2 MB (were 8), arrays of
 * 8 MB (were 32), each the same fraction of the budget as before; flattenings of 1.44e6 elements, 11.5 MB
 * (were 7.8e6, 62 MB), still within it. Each step is one that only its own check sees (a BigInt result
 * over 64 KB, the Array constructor's preallocation, flat's output charged before it is built, the
 * measure again after a full collection), and the steps are still many times the budget in all. Before
 * those checks, the runs in one expression went on past their budget: at 512 MB of steps the host
 * aborted; at these sizes they end OK (a build from before the BigInt and Array(n) checks returned 8 and
 * 12, one from before flat's charge 12), which fails here just the same. At 64 MB these five took about
 * 6.5 s of CPU per mode, half of what the file's runs took; 1.4 s now.
 */
const STEPS_SCALED_TO_16_MB = [
  'BigInt shifts of 12.5 MB each',
  'BigInt shifts of 12.5 MB each in one expression',
  'BigInt products and powers of 2 MB each',
  'arrays within the budget each, 8 MB apiece',
  'flat of 1,200 references to one 1,200-element array, 12 in one expression',
  // Node 22 and later. Its array of 1.5e6 (12 MB) is within 16 MB, where one of 6e6 would be refused
  // before groupBy ran. A build from before groupBy's callbacks were counted ends it OK (1,500,000
  // groups, 3.2 s of CPU) on Node 22; this one at the budget in 0.5 s, where 6e6 under 64 MB took 1-1.6.
  'Map.groupBy of 1.5e6 elements by Math.random',
];

/**
 * The shapes of steps of 512 KB or less (65,536 elements, a BigInt of 500 KB) run under the same 16 MB:
 * each step stays 32 times below it (128 times below 64 MB), and without a check the loop's 16,000 steps
 * or more would still be gigabytes on the 512 MB heap. With the running total of charges taken out of
 * budgets.ts, each of them ended the same way alone under 16 MB as under 64 (new Array(60000) aborted the
 * host in both, the others met a loop checkpoint). Each such run allocated its 64 MB (and was measured
 * again after a full collection of a heap holding the shapes before it) at 0.4-0.9 s of CPU; a quarter of
 * the growth ends it now.
 */
const SMALL_STEPS = [
  ...STEPS_SCALED_TO_16_MB,
  '65,536-element fills',
  'map(Number) of a 65,536-element array',
  'slice of a 65,536-element array',
  'map(Number) after a long calm loop',
  'BigInt shifts of 500 KB after a long calm loop',
  'new Array(60000) after a long calm loop',
  'Array.fromAsync of 3,000 array-likes of 60,000 elements',
];
const LIMITS: Record<string, { memoryLimit: number }> = {
  'BigInt squaring chains after a long calm loop': SMALL_BUDGET,
  ...Object.fromEntries(SMALL_STEPS.map((name) => [name, SMALL_BUDGET])),
};

// A generous deadline: the run must end by its memory budget, not by the clock (the squaring chains took
// 4-7 s on a quiet machine under 64 MB, and more than 60 s at a load average of 10). A run's timeout only
// lowers the instance's (STANDARD: 30 s), so the instance is given it too (see MODES).
const RELAXED = 120_000;
const childSource = (options: string, shapes: Record<string, string>) => scriptsChild(options, shapes, { timeout: RELAXED, limits: LIMITS });

// The iteration budget is lifted so that memory is the budget these runs meet (builtin callbacks such as
// `map(Number)` count as iterations: with the default budget those runs end as MAX_ITERATIONS first).
const MODES = [
  { label: 'STANDARD defaults', options: `{ maxIterations: 1e9, timeout: ${RELAXED} }` },
  { label: 'STANDARD, validate:false, transform:false', options: `{ validate: false, transform: false, maxIterations: 1e9, timeout: ${RELAXED} }` },
] as const;

const HEAP = { nodeArgs: ['--max-old-space-size=512'], killAfterMs: 300_000 };
const children = new ChildBatch(2);
const rows = MODES.flatMap((mode) =>
  [SHAPES, FRESH_HEAP_SHAPES].map((shapes, i) => ({ ...mode, label: `${mode.label}${i === 0 ? '' : ', a fresh heap'}`, shapes, key: children.add(`${mode.label} ${i}`, childSource(mode.options, shapes), HEAP) })),
);
beforeAll(() => children.start(), 120_000);

describe('invariant 8: the vm adapter checks the heap before a run outgrows its budget (child processes, 512 MB heap)', () => {
  describe.each(rows)('$label', ({ key, shapes }) => {
    it('every allocation shape ends as MEMORY_LIMIT_EXCEEDED, the host survives and writes nothing', async () => {
      const child = await children.result(key);
      expect(child.code, describeChild(child)).toBe(0);
      expect(child.signal, describeChild(child)).toBeNull();
      expect(child.stderr, 'the host process wrote to stderr').toBe('');
      const got = childResult(child) as { out: Record<string, string> };
      for (const name of Object.keys(shapes)) expect(got.out[name], `${name}: ${JSON.stringify(got)}`).toBe('MEMORY_LIMIT_EXCEEDED');
    }, 320_000);
  });
});
