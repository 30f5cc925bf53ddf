/**
 * What the attacks on one-step host memory share: the four rows they run on in process, and the check
 * in child processes with a small heap that a vm host survives scripts which, before their fix, held
 * gigabytes of it in one native step (a regression aborts the child, never the test runner).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Adapter, Attack } from '../helpers.js';
import { ChildBatch, childResult, describeChild, rowEnclave, runAttack, scriptsChild } from '../helpers.js';

/** STANDARD, validated and with both AST layers off, in both isolations: one realm or one worker, reused. */
export const STANDARD_ROWS: readonly Adapter[] = [
  { name: 'vm STANDARD validated', options: { realmPool: { maxIdle: 1, prewarm: 0 } }, validates: true },
  { name: 'vm, validate:false transform:false', options: { validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'worker_threads STANDARD validated', options: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }, validates: true },
  { name: 'worker_threads, validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }, validates: false },
];

/**
 * Runs `attacks` on each of STANDARD_ROWS (those `pick` keeps for the row, all by default), each row's
 * attacks without options of their own on one shared Enclave, each followed by a tenant that must find a
 * pristine world (see runAttack).
 */
export function describeOnStandardRows(title: string, attacks: readonly Attack[], opts: { pick?: (adapter: Adapter) => readonly Attack[]; timeoutMs?: number } = {}): void {
  describe.each(STANDARD_ROWS)(`${title} [$name]`, (adapter) => {
    const shared = rowEnclave(adapter);
    for (const attack of opts.pick?.(adapter) ?? attacks) {
      it(attack.name, async () => {
        await runAttack(adapter, attack, shared);
      }, opts.timeoutMs);
    }
  });
}

const RELAXED = 60_000;
const MODES = [
  { label: 'defaults', options: '' },
  { label: 'validate:false, transform:false', options: 'validate: false, transform: false, ' },
] as const;

/**
 * Runs `scripts` in order on a vm Enclave of `level` (and `maxIterations`) in a child process with a 512 MB heap, validated
 * and with both AST layers off, and expects each to end with the outcome `expected` names ('OK' or an
 * error code), the child to exit 0 without a signal, and its stderr (where V8 reports a heap running
 * out) to stay empty.
 */
export function describeVmHostSurvives(title: string, scripts: Record<string, string>, expected: Record<string, string>, level = 'STANDARD', maxIterations = 1e6): void {
  const children = new ChildBatch(2);
  const rows = MODES.map((mode) => {
    const label = `${level} ${mode.label}`;
    const options = `{ securityLevel: '${level}', maxIterations: ${maxIterations}, ${mode.options}timeout: ${RELAXED} }`;
    return { label, key: children.add(label, scriptsChild(options, scripts, { timeout: RELAXED }), { nodeArgs: ['--max-old-space-size=512'], killAfterMs: 180_000 }) };
  });
  beforeAll(() => children.start(), 120_000);
  describe(`${title} (child processes, 512 MB heap)`, () => {
    describe.each(rows)('$label', ({ key }) => {
      it('every script ends as expected, and the host survives and writes nothing', async () => {
        const child = await children.result(key);
        expect([child.code, child.signal, child.stderr], describeChild(child)).toEqual([0, null, '']);
        expect(childResult(child)).toEqual({ out: expected });
      }, 200_000);
    });
  });
}
