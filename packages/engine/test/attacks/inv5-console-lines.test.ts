/**
 * Invariants 5 and 8 against one console call: its parts are counted against the run's log bytes as
 * they are made, not once the line is whole. Found by red-teaming (STANDARD, validated and with both
 * layers off, Node 20, 22 and 24): the console encoded every argument (each within the cap on its own)
 * and joined them before it looked at the cap, so `console.log(...Array(3000).fill(o))`, with `o` a
 * value of 1 MB, held 3 GB of encoded parts in a vm host (3.1 GB of RSS, 9 s) before V8 refused the join,
 * and 30 strings of 16 MB made a line of 480 MB and its JSON copy. Now the run ends with
 * OUTPUT_LIMIT_EXCEEDED at the first part that cannot fit.
 *
 * Host-side evidence: the vm host survives in a child process with a 512 MB heap (its stderr stays
 * empty); a worker's heap cap (256 MB at STANDARD) is where the old code ended, as MEMORY_LIMIT_EXCEEDED.
 */
import { expect } from 'vitest';
import type { Attack } from '../helpers.js';
import { describeOnStandardRows, describeVmHostSurvives } from './host-survival.js';

/** 3,000 arguments of about 1 MB each (STANDARD's whole log cap), through a spread and through `apply`. */
const MANY_PARTS = {
  spread: "const o = { s: 'y'.repeat(1e6 - 100) }; console.log(...Array(3000).fill(o)); return 'logged';",
  apply: "const o = { s: 'y'.repeat(1e6 - 100) }; console.error.apply(null, Array(3000).fill(o)); return 'logged';",
  strings: `const s = 'x'.repeat(16e6); console.warn(${Array(30).fill('s').join(', ')}); return 'logged';`,
};

const LINE_OVER_CAP: readonly Attack[] = Object.entries(MANY_PARTS).map(([how, code]) => ({
  name: `one console call whose parts are far over the log cap (${how})`,
  code,
  expect: ['OUTPUT_LIMIT_EXCEEDED'],
  validation: 'accept',
  check: (r) => expect(r.logs ?? []).toEqual([]),
}));

/** What the early count must not change: values over the cap are still shown as such, lines that fit are logged whole. */
const KEPT: readonly Attack[] = [
  {
    name: 'a value over the cap is still logged as [value too large], with what follows it',
    code: "console.log({ big: 'x'.repeat(1e5) }, 'after', 2); console.info('a', { b: [1] }); return 1;",
    expect: ['OK'],
    validation: 'accept',
    enclave: { maxLogBytes: 64 * 1024 },
    check: (r) => expect((r.logs ?? []).map((l) => l.message)).toEqual(['[value too large] after 2', 'a {"b":[1]}']),
  },
  {
    name: 'lines up to the cap are logged, the one past it ends the run',
    code: "for (let i = 0; i < 3; i++) console.log('x'.repeat(30000)); return 'escaped';",
    expect: ['OUTPUT_LIMIT_EXCEEDED'],
    validation: 'accept',
    enclave: { maxLogBytes: 64 * 1024 },
    check: (r) => expect((r.logs ?? []).map((l) => l.message.length)).toEqual([30000, 30000]),
  },
];


// In process, the vm rows run only what a regression cannot turn into gigabytes of the test runner's heap.
describeOnStandardRows('invariants 5 and 8 against one console call', KEPT, { pick: (adapter) => (adapter.options.adapter === 'worker_threads' ? [...LINE_OVER_CAP, ...KEPT] : KEPT) });

describeVmHostSurvives('invariant 8: one console call over the log cap does not exhaust a vm host', MANY_PARTS, { spread: 'OUTPUT_LIMIT_EXCEEDED', apply: 'OUTPUT_LIMIT_EXCEEDED', strings: 'OUTPUT_LIMIT_EXCEEDED' });
