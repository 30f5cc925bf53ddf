/**
 * The repeat runs (Node 22 and 24, scripts/test-matrix.mjs) leave out each validated attack row whose
 * validate:false twin is in the same list (rowsForThisRun in helpers.ts), because with the rewriter on,
 * validation only decides whether a script runs: what runs when it lets a script through is what runs
 * without it. These tests hold the engine to that over the corpora such rows ran, at every level and
 * with host globals, and check which rows the repeat runs keep. They run on every Node: the prepared
 * text is the engine's own work on the Node that runs it.
 */
import { describe, expect, it } from 'vitest';
import { prepareAgentScript } from '../src/pipeline.js';
import type { CheckOptions, PrepareResult } from '../src/pipeline.js';
import { ATTACKS as BUDGET_ATTACKS } from './attacks/budget-cases.js';
import { ATTACKS as DEADLINE_ATTACKS } from './attacks/deadline-cases.js';
import { generate } from './attacks/escape-fuzz.js';
import { hostExceptionAttacks } from './attacks/host-exception-cases.js';
import type { Adapter } from './helpers.js';
import { ADAPTERS, dropValidatedTwins, ESCAPE_ROWS, LEVEL_ADAPTERS, PWN } from './helpers.js';

const TARGET = { payload: PWN, file: '/tmp/enclave-kit-repeat-rows-canary' };

/** Scripts of the corpora the dropped rows run, and a few that name private members (the realm is retired after those). */
const SCRIPTS: readonly [string, string][] = [
  ...[...BUDGET_ATTACKS, ...DEADLINE_ATTACKS, ...hostExceptionAttacks(PWN)].map((a) => [a.name, a.code] as [string, string]),
  ...Array.from({ length: 40 }, (_, i) => [`generated escape ${i}`, generate(9000 + i, TARGET)] as [string, string]),
  ['a private field', 'class A { #x = 1; get() { return this.#x; } } return new A().get();'],
  ['a private method read through `in`', 'class A { #m() { return 1; } static has(o) { return #m in o; } } return A.has(new A());'],
  ['a "#" in a string only', "return ['#fff', '#section'].join(' ');"],
];

/** What a run takes from a prepared script: its text, cache key, prologue, positions and private-name verdict. */
function prepared(r: PrepareResult) {
  if (!r.ok) return undefined;
  const { source, key, prologue, privateNames, positions } = r.compiled;
  return { source, key, prologue, privateNames, anchors: positions().anchors };
}

describe('validation decides only whether a script runs (transform on)', () => {
  const cases = (['STRICT', 'STANDARD', 'PERMISSIVE'] as const).flatMap((securityLevel) =>
    [[], ['lookup', 'orders']].map((globals) => ({ securityLevel, globals, label: `${securityLevel}${globals.length > 0 ? ', with host globals' : ''}` })),
  );
  it.each(cases)('$label: a script validation lets through is prepared as without validation', ({ securityLevel, globals }) => {
    let through = 0;
    for (const [name, code] of SCRIPTS) {
      const options: CheckOptions = { securityLevel, globals };
      const validated = prepareAgentScript(code, { ...options, validate: true });
      if (!validated.ok) continue;
      through++;
      expect(prepared(prepareAgentScript(code, { ...options, validate: false })), name).toEqual(prepared(validated));
    }
    // The corpora hold scripts that validation lets through at every level, or this would check nothing.
    expect(through).toBeGreaterThan(40);
  });
});

describe('the rows a repeat run keeps', () => {
  const names = (rows: readonly Adapter[]) => rows.map((r) => r.name);

  it('no validated row of the shared lists, and every other row', () => {
    expect(names(dropValidatedTwins(ADAPTERS))).toEqual(['vm STANDARD runtime-only (validate:false)', 'worker_threads STANDARD runtime-only (validate:false)']);
    expect(names(dropValidatedTwins(LEVEL_ADAPTERS))).toEqual(['vm STRICT runtime-only', 'vm PERMISSIVE runtime-only']);
    expect(names(dropValidatedTwins(ESCAPE_ROWS))).toEqual(
      ['vm', 'workers'].flatMap((iso) => ['STANDARD', 'PERMISSIVE'].flatMap((level) => [`${iso} ${level} validate:false`, `${iso} ${level} no AST layers`])),
    );
  });

  it('a validated row stays without a twin that differs in validate alone, and with transform:false', () => {
    const rows: readonly Adapter[] = [
      { name: 'vm STRICT validated', options: { securityLevel: 'STRICT' }, validates: true },
      { name: 'vm STANDARD validate:false', options: { validate: false }, validates: false },
      { name: 'vm transform:false', options: { transform: false }, validates: true },
      { name: 'vm validate:false transform:false', options: { validate: false, transform: false }, validates: false },
      { name: 'workers validated', options: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 4 } }, validates: true },
      { name: 'workers validate:false', options: { workerPoolConfig: { maxWorkers: 4, minWorkers: 1 }, validate: false, adapter: 'worker_threads' }, validates: false },
    ];
    // The last pair differs only in the order its options are written: the same row.
    expect(names(dropValidatedTwins(rows))).toEqual(['vm STRICT validated', 'vm STANDARD validate:false', 'vm transform:false', 'vm validate:false transform:false', 'workers validate:false']);
  });
});
