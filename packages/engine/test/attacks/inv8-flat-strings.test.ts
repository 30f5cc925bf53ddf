/**
 * Invariants 5 and 8 against natives that build one flat string, in one step, from parts the script
 * already holds. A string the script holds is charged once; a native that repeats it is not, unless
 * its output is checked before it is built.
 *
 * Found by red-teaming (red9, Node 20; every row below before the fix):
 *
 * - Array joins. `join`, and with it `toString`, `String(arr)`, `${arr}`, `arr + ''` and
 *   `toLocaleString`, were charged their output after the native had built it: 500 references to one
 *   string of 2^20 two-byte characters (2 MB, within STANDARD's 64 MB) made a 1 GB string first. The vm
 *   host's resident memory grew from about 60 MB to 1.1 GB (STANDARD, validated: `arr.toString()` is
 *   ordinary code), and with 1,024 references V8 throws "Invalid string length" and turns off the
 *   isolate's StringLengthOverflowLookupChain on the way.
 * - JSON.stringify of text with control characters, each written as six (`\u0001`): 3e7 of them (60 MB; 1.6e7 now, within the string limit)
 *   were estimated at 3e7 characters and written as 1.8e8 (360 MB of the host's heap) before the charge.
 *
 * Each row is a child process. The canaries are the host's: its peak resident memory (vm rows), every
 * run's result code, and V8's own report of the protectors it turns off (`--trace-protector-invalidation`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild, scriptsChild } from '../helpers.js';

/** One string of 2^20 two-byte characters (2 MB), repeated by reference 200 times: 400 MB joined. */
const MANY = "const s = '\\u4e00'.repeat(1 << 20); const a = new Array(200).fill(s);";

const ATTACKS: Record<string, string> = {
  'join': `${MANY} return a.join('').length;`,
  'toString': `${MANY} return a.toString().length;`,
  'String(array)': `${MANY} return String(a).length;`,
  'a template of an array': `${MANY} return \`\${a}\`.length;`,
  'an array plus a string': `${MANY} return (a + '').length;`,
  'an array inside an array, joined': `${MANY} return [a, 1].join().length;`,
  'toLocaleString': `${MANY} return a.toLocaleString().length;`,
  'an array-like joined': `${MANY} const o = { length: 200 }; for (let i = 0; i < 200; i++) o[i] = s; return Array.prototype.join.call(o).length;`,
  'more than one slice of elements': "const s = '\\u4e00'.repeat(1 << 16); return new Array(9000).fill(s).join('').length;",
  'JSON of control characters': "const s = '\\u0001'.repeat(1.6e7); return JSON.stringify(s).length;",
  'JSON of control characters in an array': "const s = '\\u0001'.repeat(1.6e7); return JSON.stringify([s]).length;",
  'JSON of control characters in a key': "const s = '\\u0001'.repeat(1.6e7); const o = {}; o[s] = 1; return JSON.stringify(o).length;",
};
/**
 * JSON.stringify with a replacer, or of a value with a `toJSON`, goes through the runtime's meter, which
 * counts each value as the native is about to write it. It counted a string at its length and anything
 * not a string at 8 characters: a string of control characters is written six characters to one, and
 * (Node 22 and later) a raw JSON text (`JSON.rawJSON`) as long as it is, past any count. 30 references
 * to a raw text of 1e7 characters made a string of 3e8 characters in one step (the vm host grew by 410 MB,
 * 8 to 13 s, STANDARD's 64 MB budget, validated or not); 30 to a string of 1e7 control characters made
 * 1.8e8 (165 to 215 MB) before the count caught up. With `space`, the meter did not count the indentation
 * either, which grows with the depth (a `toJSON` keeps the estimate from seeing it): 30,000 values 1,000
 * levels down, 10 spaces a level, made 3e8 characters. Found on Node 20 and 22, STANDARD, red12.
 */
const RAW = "const r = JSON.rawJSON('\"' + 'a'.repeat(1e7) + '\"');";
const METERED: Record<string, string> = {
  'JSON of control characters a replacer returns': "const s = '\\u0001'.repeat(1e7); return JSON.stringify('0'.repeat(30).split(''), (k, v) => (k === '' ? v : s)).length;",
  'JSON of a deep value behind toJSON, indented': "let a = '0'.repeat(30000).split(''); for (let i = 0; i < 1000; i++) a = [a]; return JSON.stringify({ toJSON: () => a }, null, 10).length;",
  ...(typeof (JSON as { rawJSON?: unknown }).rawJSON === 'function'
    ? {
      'JSON of raw text a replacer returns': `${RAW} return JSON.stringify('0'.repeat(30).split(''), (k, v) => (k === '' ? v : r)).length;`,
      'JSON of raw text a toJSON returns': `${RAW} return JSON.stringify('0'.repeat(30).split('').map(() => ({ toJSON: () => r }))).length;`,
    }
    : {}),
};
/** Past V8's longest string (2^29 - 24 characters): 1,024 references to 2^20 characters. */
const OVERFLOWS: Record<string, string> = {
  'join past the longest string': "const s = 'x'.repeat(1 << 20); return new Array(1024).fill(s).join().length;",
  'toString past the longest string': "const s = 'x'.repeat(1 << 20); return String(new Array(1024).fill(s)).length;",
};
/** What must keep working, with the value V8's own join gives. */
const ORDINARY: Record<string, string> = {
  'join of mixed values': "const a = [1, 'x', null, undefined, true, 2n, { toString() { return 'o'; } }, [3, [4]]]; a.push(a); return a.join('-') === '1-x---true-2-o-3,4-' && String(a) === '1,x,,,true,2,o,3,4,' ? 'OK' : 'wrong';",
  'a symbol throws as the native does': "try { [1, Symbol('s')].join(); return 'joined'; } catch (e) { return e instanceof TypeError ? 'OK' : 'wrong'; }",
  'JSON with a replacer and indentation keeps its text': "const raw = typeof JSON.rawJSON === 'function' ? JSON.rawJSON('1e3') : 1000; const j = JSON.stringify({ a: [1, { b: '\\u0001' }], r: raw, t: { toJSON: () => 'x' } }, (k, v) => (k === 'a' ? [...v, 2] : v), 2); return j === '{\\n  \"a\": [\\n    1,\\n    {\\n      \"b\": \"\\\\u0001\"\\n    },\\n    2\\n  ],\\n  \"r\": ' + (typeof JSON.rawJSON === 'function' ? '1e3' : '1000') + ',\\n  \"t\": \"x\"\\n}' ? 'OK' : 'wrong ' + j;",
  'long joins and JSON with escapes': "const a = Array.from({ length: 20000 }, (_, i) => (i % 2 ? i : [i, 'é'])); const j = JSON.stringify({ 'k\\n': 'a\\tb\"c\\\\', e: '😀', lone: '\\ud800' }); return a.join(';').length === 128889 && j.length === 44 && j.endsWith('\"lone\":\"\\\\ud800\"}') ? 'OK' : 'wrong ' + j;",
};
const ordinary = Object.fromEntries(Object.entries(ORDINARY).map(([name, code]) => [name, `const r = (() => { ${code} })(); if (r !== 'OK') throw new Error(r); return r;`]));

const ROWS = [
  { label: 'vm STANDARD validated', options: '{}', vm: true },
  { label: 'vm STANDARD, validate:false, transform:false', options: '{ validate: false, transform: false }', vm: true },
  { label: 'worker_threads STANDARD validated', options: "{ adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }", vm: false },
  { label: 'worker_threads STANDARD, validate:false, transform:false', options: "{ adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }", vm: false },
] as const;

const children = new ChildBatch(2);
const rows = ROWS.map((row) => ({
  ...row,
  key: children.add(row.label, scriptsChild(row.options, { warm: 'return 1;', ...ATTACKS, ...METERED, ...OVERFLOWS, ...ordinary }, {
    timeout: 20_000,
    // Peak resident memory after a first run: what the attacks add to it is theirs.
    setup: "const peak = () => Math.round(process.resourceUsage().maxRSS / 1024); let base = 0;",
    report: '{ base, grownMB: peak() - base }',
  }).replace("const out = {};", "const out = {}; await enclave.run('return 1'); base = peak();"), { nodeArgs: ['--trace-protector-invalidation'], killAfterMs: 120_000 }),
}));
beforeAll(() => children.start(), 120_000);

describe('invariants 5 and 8: a flat string a native builds from the script\'s parts is checked before it is built (child processes)', () => {
  it.each(rows)('$label', async ({ key, vm }) => {
    const child = await children.result(key);
    expect(child.code, describeChild(child)).toBe(0);
    const result = childResult(child) as { out: Record<string, string>; grownMB: number } | undefined;
    expect(result, describeChild(child)).toBeDefined();
    const { out, grownMB } = result as { out: Record<string, string>; grownMB: number };
    for (const name of [...Object.keys(ATTACKS), ...Object.keys(METERED), ...Object.keys(OVERFLOWS)]) expect(out[name], `${name}: ${JSON.stringify(out)}`).toBe('MEMORY_LIMIT_EXCEEDED');
    for (const name of ['warm', ...Object.keys(ORDINARY)]) expect(out[name], `${name}: ${JSON.stringify(out)}`).toBe('OK');
    // Each attack built 360 MB to 1 GB in the host's heap first; the strings the scripts make are 2 to 60 MB.
    if (vm) expect(grownMB).toBeLessThan(200);
    const off = [...new Set([...child.stdout.matchAll(/Invalidating protector cell (\w+)/g)].map((m) => m[1] as string))];
    expect(off).toEqual([]);
  }, 150_000);
});
