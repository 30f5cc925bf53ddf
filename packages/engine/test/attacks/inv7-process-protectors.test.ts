/**
 * Invariant 7 across the process: V8 keeps per-process flags ("protectors") that guard its fast paths,
 * and a script in any context can turn one off for good, for the host and for every later tenant of the
 * `vm` adapter. Found by red-teaming: `const o = {}; o[Symbol.isConcatSpreadable] = true;` (STANDARD,
 * validated) turned off the fast path of every `concat` in the process (the host's own `concat` of a
 * 100-element array became 30 times slower). The realm's `Symbol` no longer has `isConcatSpreadable`.
 *
 * Host-side evidence: V8's own flag, read by the host with `%IsConcatSpreadableProtector()` in a child
 * process started with `--allow-natives-syntax`, after each script ran (validated and with both layers
 * off). Still open (see the README): a script that is not validated can define `constructor` on an array
 * or a RegExp, which turns off V8's species fast paths (`map`, `slice`, `split`) in the same way.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild } from '../helpers.js';

const SCRIPTS: Record<string, string> = {
  'the symbol as a computed key': 'const o = {}; o[Symbol.isConcatSpreadable] = true; return 1;',
  'an array literal with the symbol': 'const a = []; a[Symbol.isConcatSpreadable] = false; return [0].concat(a).length;',
  'the symbol through Symbol.prototype.constructor': 'const S = Object(Symbol()).constructor; const o = {}; o[S.isConcatSpreadable] = true; return 1;',
  'every static of Symbol': 'const o = {}; for (const k of Object.getOwnPropertyNames(Symbol)) { const v = Symbol[k]; if (typeof v === "symbol") o[v] = true; } return 1;',
  // The realm's own wrappers must not turn the iterator protectors off either: it used to redefine
  // Array.prototype[Symbol.iterator] and String.prototype[Symbol.iterator] (to charge what they walk), which
  // made the host's own spreads of arrays about 11 times slower once the first realm was built.
  'iterating arrays, strings, maps and sets': 'const a = [1, 2, 3]; const s = "abc"; let n = 0; for (const x of a) n += x; for (const c of s) n += c.length; const [h, ...t] = a; const [c0, ...cs] = s; n += [...a, ...s].length + Array.from(s).length + new Set(a).size + [...new Map([[1, 2]])].length + [...new Set(a)].length + t.length + cs.length; return n + h + c0.length;',
};

/** V8's per-process flags the host's fast paths depend on, as `%Name()` reads them. */
const PROTECTORS = ['IsConcatSpreadableProtector', 'ArrayIteratorProtector', 'StringIteratorProtector', 'MapIteratorProtector', 'SetIteratorProtector', 'ArraySpeciesProtector', 'RegExpSpeciesProtector'];

const MODES = [
  { label: 'STANDARD validated', options: '{}' },
  { label: 'STANDARD, validate:false, transform:false', options: '{ validate: false, transform: false }' },
] as const;

const child = (options: string) => `
const enclave = new Enclave(${options});
const out = {};
for (const [name, code] of Object.entries(${JSON.stringify(SCRIPTS)})) {
  const r = await enclave.run(code);
  out[name] = [r.success ? 'OK' : r.error.code, { ${PROTECTORS.map((p) => `${p}: %${p}()`).join(', ')} }];
}
enclave.dispose();
console.log('RESULT ' + JSON.stringify(out));
`;

const children = new ChildBatch(2);
const rows = MODES.map((mode) => ({ ...mode, key: children.add(mode.label, child(mode.options), { nodeArgs: ['--allow-natives-syntax'], killAfterMs: 60_000 }) }));
beforeAll(() => children.start(), 120_000);

describe('invariant 7: no script turns off a fast path V8 keeps per process (child processes)', () => {
  describe.each(rows)('$label', ({ key }) => {
    it('V8\'s protectors are intact after every script', async () => {
      const c = await children.result(key);
      expect(c.code, describeChild(c)).toBe(0);
      const got = childResult(c) as Record<string, [string, Record<string, boolean>]>;
      const intact = Object.fromEntries(PROTECTORS.map((p) => [p, true]));
      for (const name of Object.keys(SCRIPTS)) expect(got[name]?.[1], `${name}: ${JSON.stringify(got[name])}`).toEqual(intact);
    }, 70_000);
  });
});
