/**
 * Invariants 5 and 8: every way a script can set an array's `length` is charged before V8 preallocates
 * it. Growing a fast array's length below 2^25 makes V8 allocate the elements (up to 256 MB) in one
 * native step that no guard sees, and a few of them between two heap checks abort the host.
 *
 * Found by red-teaming: `o.length = v` and `o['length'] = v` were charged (`ls`), but a key made at run
 * time (`a[k] = 3.3e7`), a compound assignment to a computed key, a destructuring, `for-in` or `for-of`
 * target, a string value (`a.length = '33000000'`), a descriptor whose `value` is a getter or inherited,
 * a key object whose `toString` answers 'length', and `Reflect.set` with an array as the receiver were
 * not: each of them, 24 times in a loop whose checkpoints had spread out, aborted a 512 MB vm host
 * ("Reached heap limit") in every mode, `validate: false, transform: false` included. A compound
 * assignment to `.length` (checked by `ln`) and `Object.assign` from a builtin `length` getter (checked
 * by the heap check before each copy) overshot the budget by one 256 MB step and are kept here as
 * shapes too: both are now charged before the step.
 *
 * Found later: `(o.length) = v`, whose parentheses leave no room for `ls`, and `super.length = v` kept that
 * heap check (`ln`), which runs before the value is converted: a valueOf that sets the next array's
 * length (on its second call, the one V8 makes last) chained seven 256 MB steps behind checks that had
 * all passed, and a `super` property with any key, as any target, was not guarded at all. Each aborted
 * a 512 MB host in every mode, validated STANDARD and `worker_threads` included (a worker's heap limit
 * aborts the process). `(o.length) = v` now goes through `lt`; a `super` property is refused as a target.
 *
 * Each mode runs in a child process with a 512 MB heap, eight times the run's 64 MB budget at
 * STANDARD; its stderr must stay empty. A second child checks that the same assignments of small
 * lengths keep their native results.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild, hostsRuns, scriptsChild } from '../helpers.js';

/** 24 arrays, each set to 3.3e7 elements by `set(x[i], i)` (a statement), after a calm loop. */
const grow = (set: string) => `const x = []; for (let i = 0; i < 24; i++) x.push([]); for (let i = 0; i < 24; i++) { ${set} } return x.length;`;

const SHAPES: Record<string, string> = {
  'a computed key made at run time': grow("const k = 'len' + 'gth'; x[i][k] = 3.3e7;"),
  'a computed key, in one expression': "const k = 'len' + 'gth'; const x = [[], [], [], [], [], [], [], []]; x[0][k] = x[1][k] = x[2][k] = x[3][k] = x[4][k] = x[5][k] = x[6][k] = x[7][k] = 3.3e7; return x.length;",
  'a key object whose toString answers length': grow("x[i][{ toString() { return 'length'; } }] = 3.3e7;"),
  'a compound assignment': grow("const k = 'length'; x[i][k] += 3.3e7;"),
  'a compound assignment to .length': grow('x[i].length += 3.3e7;'),
  'an array destructuring target': grow('[x[i].length] = [3.3e7];'),
  'an object destructuring target': grow('({ v: x[i].length } = { v: 3.3e7 });'),
  'a for-of target': grow('for (x[i].length of [3.3e7]);'),
  'a for-in target': grow('for (x[i].length in { 33000000: 0 });'),
  'a string value': grow("x[i].length = '33000000';"),
  'a defineProperty descriptor with a value getter': grow('Object.defineProperty(x[i], "length", { get value() { return 3.3e7; } });'),
  'a defineProperty descriptor that inherits its value': grow('Object.defineProperty(x[i], "length", Object.create({ value: 3.3e7 }));'),
  'defineProperties with a descriptor getter': grow('Object.defineProperties(x[i], { get length() { return { value: 3.3e7 }; } });'),
  'Reflect.set with the array as receiver': grow("Reflect.set({}, 'length', 3.3e7, x[i]);"),
  'Object.assign from a builtin length getter': grow("Object.assign(x[i], Object.defineProperty({}, 'length', { get: Number.bind(null, 3.3e7), enumerable: true }));"),
  // The heap check `(o.length) = v` had (before its value, not a charge) came before the stores its value's
  // conversion made: V8 converts a length twice, and a valueOf that sets the next array's length on its
  // second call left seven 256 MB steps behind one check.
  'a parenthesized target whose value sets another length as it converts': nested('(x[i].length) = mk(i - 1);', '(x[6].length) = mk(5);'),
};

/**
 * Seven arrays, each set to 3.3e7 by `store` (which sees `x`, `i` and `mk`) from inside the conversion of
 * the next one's value; `first` starts the chain.
 */
function nested(store: string, first: string, before = ''): string {
  return `const x = [[], [], [], [], [], [], []]; ${before}
const mk = (i) => { let calls = 0; return i < 0 ? 3.3e7 : { valueOf() { if (++calls === 2) { ${store} } return 3.3e7; } }; };
${first} return x.length;`;
}

/**
 * A property of `super` as an assignment target stores on `this`, an array when the method is called on
 * one, and `super` cannot be handed to the guard that charges a length: the rewriter refuses every such
 * target, in every mode. Before, each of these aborted a 512 MB host.
 */
const SUPER = "const o = { s(v) { super.length = v; }, k(k, v) { super[k] = v; }, d(v) { [super.length] = [v]; }, f(v) { for (super.length of [v]); } };";
const REFUSED: Record<string, string> = {
  'super.length = v, from inside the conversion of the next one': nested('o.s.call(x[i], mk(i - 1));', 'o.s.call(x[6], mk(5));', SUPER),
  'super[k] = v with a key made at run time': `${SUPER} const k = 'len' + 'gth'; ${grow('o.k.call(x[i], k, 3.3e7);')}`,
  'super.length as a destructuring target': `${SUPER} ${grow('o.d.call(x[i], 3.3e7);')}`,
  'super.length as a for-of target': `${SUPER} ${grow('o.f.call(x[i], 3.3e7);')}`,
};

/** The same assignments with small lengths, whose results must be the native ones. */
const PARITY = `const k = 'len' + 'gth';
const a = [1, 2, 3]; a[k] = 5; a[k] -= 1; [a[0], a[k]] = [9, 6];
const b = [1]; b[{ toString() { return 'length'; } }] = 3; b.length += 1; for (b[k] of [2]);
const c = []; c.length = '4'; Object.defineProperty(c, 'length', { get value() { return 5; } }); Reflect.set({}, k, 6, c);
const d = Object.assign([], { get length() { return 2; }, 0: 'x' });
const o = {}; o[k] = 1; ({ v: o[k + 'x'] } = { v: 2 }); for (o.z in { q: 1 });
const e = []; try { e[k] = -1; } catch (err) { e.push(err.name); }
let valueOfs = 0; const f = []; f.length = { valueOf() { valueOfs++; return 2; } };
const g = [1]; (g.length) = 3; (g['length']) = { valueOf() { valueOfs++; return 2; } }; const h = {}; (h.length) = 'x';
return JSON.stringify([a, a.length, b.length, c.length, d, o, e, f.length, valueOfs, g, h]);`;
const PARITY_VALUE = JSON.stringify([[9, 2, 3, null, null, null], 6, 2, 6, ['x', null], { length: 1, lengthx: 2, z: 'q' }, ['RangeError'], 2, 4, [1, null], { length: 'x' }]);

// With validation, the shapes that name a meta-programming builtin are refused before they run.
const MODES = [
  { label: 'STANDARD defaults', options: '{ maxIterations: 1e9 }', outcomes: ['MEMORY_LIMIT_EXCEEDED', 'VALIDATION_ERROR'] },
  { label: 'STANDARD, validate:false', options: '{ validate: false, maxIterations: 1e9 }', outcomes: ['MEMORY_LIMIT_EXCEEDED'] },
  { label: 'STANDARD, validate:false, transform:false', options: '{ validate: false, transform: false, maxIterations: 1e9 }', outcomes: ['MEMORY_LIMIT_EXCEEDED'] },
  // A worker's heap is no shelter: V8 aborts the whole process when one of them does not fit.
  { label: 'worker_threads STANDARD, validate:false', options: "{ adapter: 'worker_threads', validate: false, maxIterations: 1e9 }", outcomes: ['MEMORY_LIMIT_EXCEEDED'] },
] as const;
const UNVALIDATED = MODES.slice(1, 3);

const RUN_MS = 20_000;
/** Past every run's deadline (see hostsRuns). */
const HEAP = { nodeArgs: ['--max-old-space-size=512'], killAfterMs: hostsRuns(Object.keys(SHAPES).length + Object.keys(REFUSED).length, RUN_MS) };
const children = new ChildBatch(2);
const rows = MODES.map((mode) => ({ ...mode, key: children.add(mode.label, scriptsChild(mode.options, { ...SHAPES, ...REFUSED }, { timeout: RUN_MS }), HEAP) }));
const parityKey = children.add(
  'parity',
  `const out = {};
for (const options of ${JSON.stringify(UNVALIDATED.map((m) => m.options))}) {
  const enclave = new Enclave((0, eval)('(' + options + ')'));
  const r = await enclave.run(${JSON.stringify(PARITY)});
  out[options] = r.success ? r.value : r.error.code + ': ' + r.error.message;
  enclave.dispose();
}
console.log('RESULT ' + JSON.stringify({ out }));`,
);
beforeAll(() => children.start(), 120_000);

describe('invariant 8: every way to set an array length is charged first (child processes, 512 MB heap)', () => {
  it('the native results without validation, with and without the rewriter\'s budget guards', async () => {
    expect(new Function(PARITY)()).toBe(PARITY_VALUE);
    const child = await children.result(parityKey);
    const got = childResult(child) as { out: Record<string, string> } | undefined;
    for (const mode of UNVALIDATED) expect(got?.out[mode.options], describeChild(child)).toBe(PARITY_VALUE);
  }, children.worstWaitMs());

  describe.each(rows)('$label', ({ key, outcomes }) => {
    it('every shape ends as MEMORY_LIMIT_EXCEEDED, the host survives and writes nothing', async () => {
      const child = await children.result(key);
      expect(child.code, describeChild(child)).toBe(0);
      expect(child.signal, describeChild(child)).toBeNull();
      expect(child.stderr, 'the host process wrote to stderr').toBe('');
      const got = childResult(child) as { out: Record<string, string> };
      for (const name of Object.keys(SHAPES)) expect(outcomes, `${name}: ${JSON.stringify(got)}`).toContain(got.out[name]);
      for (const name of Object.keys(REFUSED)) expect(got.out[name], `${name}: ${JSON.stringify(got)}`).toBe('VALIDATION_ERROR');
      expect(Object.values(got.out), 'no shape is refused by validation alone').toContain('MEMORY_LIMIT_EXCEEDED');
    }, children.worstWaitMs());
  });
});
