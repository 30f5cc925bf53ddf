/**
 * Invariants 4 and 8: a `for-in` cannot hold the host past the deadline. Before its first turn V8 lists
 * every enumerable key of the object and its prototypes, and an index of a string or an array becomes a
 * string of its own, in one native step that ignores termination.
 *
 * Found by red-teaming: `for (const k in 'x'.repeat(3e7)) break;` (a string within the 64 MB budget)
 * held a vm host 61 to 71 s past a 5 s deadline and grew it to 868 MB (STANDARD, validated, and with
 * `validate: false, transform: false`); four `for-in`s over a 4e6-element array took 7 s. Object.keys
 * and its kin were already capped for strings and arrays; `for-in` is now charged and capped the same
 * way (at most 2^20 indices, a RangeError past them), through a guard the rewriter writes in every mode.
 *
 * Each mode runs in a child process with a 512 MB heap that is killed after 40 s: the runs must end by
 * the cap, long before.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild, scriptsChild } from '../helpers.js';

const caught = (listing: string) => `try { let n = 0; ${listing} return 'listed ' + n; } catch (e) { return e.name; }`;

const SHAPES: Record<string, string> = {
  'a string of 3e7 characters': "const s = 'x'.repeat(3e7); let n = 0; for (const k in s) { n++; break; } return n;",
  'a string of 3e7 characters, caught': caught("const s = 'x'.repeat(3e7); for (const k in s) { n++; break; }"),
  'a String object': caught("const s = Object('x'.repeat(3e7)); for (const k in s) { n++; break; }"),
  'an object whose prototype is a String object': caught("const s = Object.create(Object('x'.repeat(3e7))); for (const k in s) { n++; break; }"),
  'an array of 4e6 elements, 8 times': caught('const a = new Array(4e6).fill(0); for (let i = 0; i < 8; i++) for (const k in a) { n++; break; }'),
  'an object whose prototype is an array of 4e6 elements': caught('const a = Object.create(new Array(4e6).fill(0)); for (let i = 0; i < 8; i++) for (const k in a) { n++; break; }'),
};
const EXPECTED: Record<string, string> = {
  'a string of 3e7 characters': 'RUNTIME_ERROR',
  'a string of 3e7 characters, caught': 'OK RangeError',
  'a String object': 'OK RangeError',
  'an object whose prototype is a String object': 'OK RangeError',
  'an array of 4e6 elements, 8 times': 'OK RangeError',
  'an object whose prototype is an array of 4e6 elements': 'OK RangeError',
};

/** Key orders and values of ordinary `for-in`s, which must be the native ones. */
const PARITY = `const out = [];
for (const k in 'abc') out.push(k);
for (const k in [1, , 3]) out.push(k);
const o = Object.create(Object('xy')); o.z = 1;
for (const k in o) out.push(k);
for (const k in { a: 1, 2: 0 }) out.push(k);
for (const k in null) out.push(k);
for (const k in (0, [5])) out.push(k);
const big = new Array(1e5).fill(0); let n = 0; for (const k in big) n++;
return out.join(',') + ' ' + n;`;

const MODES = [
  { label: 'STANDARD defaults', options: '{ maxIterations: 1e9 }' },
  { label: 'STANDARD, validate:false, transform:false', options: '{ validate: false, transform: false, maxIterations: 1e9 }' },
] as const;

const HEAP = { nodeArgs: ['--max-old-space-size=512'], killAfterMs: 40_000 };
const children = new ChildBatch(2);
/** scriptsChild, reporting a successful run's value too. */
const withValues = (options: string) => {
  const source = scriptsChild(options, { parity: PARITY, ...SHAPES }, { timeout: 5000 });
  const line = "out[name] = r.success ? 'OK' : r.error.code;";
  if (!source.includes(line)) throw new Error('scriptsChild changed: update withValues');
  return source.replace(line, "out[name] = r.success ? 'OK ' + r.value : r.error.code;");
};
const rows = MODES.map((mode) => ({ ...mode, key: children.add(mode.label, withValues(mode.options), HEAP) }));
beforeAll(() => children.start(), 120_000);

describe('invariant 4: a for-in over a long string or array ends by its cap, long before the child is killed', () => {
  describe.each(rows)('$label', ({ key }) => {
    it('every shape is refused with a RangeError, the host survives and writes nothing; ordinary for-in is native', async () => {
      const child = await children.result(key);
      expect(child.timedOut, describeChild(child)).toBe(false);
      expect(child.code, describeChild(child)).toBe(0);
      expect(child.stderr, 'the host process wrote to stderr').toBe('');
      const got = childResult(child) as { out: Record<string, string> };
      expect(got.out.parity).toBe(`OK ${new Function(PARITY)() as string}`);
      for (const name of Object.keys(SHAPES)) expect(got.out[name], `${name}: ${JSON.stringify(got)}`).toBe(EXPECTED[name]);
    }, 60_000);
  });
});
