/**
 * Invariants 5 and 8 on Node 24, whose realm has `RegExp.escape`: it writes up to six characters for
 * each of its input's (`\x20` for a space, `\u2028`), in one native step that no other guard sees.
 *
 * Found by red-teaming on Node 24.22: ten escapes of a string of 1.5e7 spaces (within the 64 MB budget)
 * in one array literal aborted a 512 MB vm host ("Reached heap limit"), at STANDARD with validation and
 * with `validate: false, transform: false`. Its output is now charged at the most before it is made (no
 * RegExp may use more than 65,536 characters of it anyway). On Node versions without `RegExp.escape`
 * the tests are skipped.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild, scriptsChild } from '../helpers.js';

const HAS_ESCAPE = typeof (RegExp as unknown as { escape?: unknown }).escape === 'function';

const BOMB = `const s = ' '.repeat(1.5e7); const k = [${Array(10).fill('RegExp.escape(s)').join(', ')}]; return k.length;`;
const PARITY = "return JSON.stringify([RegExp.escape('a.b*c'), RegExp.escape('1 + 1 = 2\\u2028'), RegExp.escape('\\ud800x'), RegExp.escape('x'.repeat(70000)).length]);";

const MODES = [
  { label: 'STANDARD defaults', options: '{}' },
  { label: 'STANDARD, validate:false, transform:false', options: '{ validate: false, transform: false }' },
] as const;

const HEAP = { nodeArgs: ['--max-old-space-size=512'], killAfterMs: 60_000 };
const children = new ChildBatch(2);
const rows = MODES.map((mode) => ({
  ...mode,
  key: HAS_ESCAPE ? children.add(mode.label, scriptsChild(mode.options, { bomb: BOMB }, { timeout: 20_000 }), HEAP) : '',
  parity: HAS_ESCAPE
    ? children.add(`${mode.label} parity`, `const e = new Enclave(${mode.options}); const r = await e.run(${JSON.stringify(PARITY)}); e.dispose(); console.log('RESULT ' + JSON.stringify(r.success ? r.value : r.error));`)
    : '',
}));
beforeAll(() => (HAS_ESCAPE ? children.start() : undefined), 120_000);

describe.skipIf(!HAS_ESCAPE)('invariant 8: RegExp.escape is charged before it writes its output (child processes, 512 MB heap)', () => {
  describe.each(rows)('$label', ({ key, parity }) => {
    it('ten escapes of 1.5e7 spaces end as MEMORY_LIMIT_EXCEEDED, the host survives and writes nothing', async () => {
      const child = await children.result(key);
      expect(child.code, describeChild(child)).toBe(0);
      expect(child.stderr, 'the host process wrote to stderr').toBe('');
      expect((childResult(child) as { out: Record<string, string> }).out.bomb).toBe('MEMORY_LIMIT_EXCEEDED');
    }, 70_000);

    it('escapes as the native does', async () => {
      const child = await children.result(parity);
      expect(childResult(child), describeChild(child)).toBe(new Function(PARITY)());
    }, 70_000);
  });
});
