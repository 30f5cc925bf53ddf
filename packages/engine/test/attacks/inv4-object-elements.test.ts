/**
 * Invariants 4 and 8 against an ordinary object (not an array) whose integer keys were written in order.
 * V8 gives it fast elements, as an array has, and one store far past them (`o[2 ** 31] = 1`) or one
 * element defined as an accessor converts them all into a dictionary in one native step that ignores
 * termination. Found by red-teaming (Node 20, 22 and 24, `vm`, validated and with both layers off): about
 * 0.6 us an element on an idle machine and 2.5 under load (V8's NumberDictionary insertion; a plain
 * `node:vm` context takes as long), so 2e6 keys held a `vm` host 2.8 s past a 1 s deadline; the keys
 * can come through an object a script's proxy writes, `Object.assign` in slices, or `Object.fromEntries`
 * of a generator (3.5 s for 4e6 at PERMISSIVE). Past about 2.24e7 elements (179 MB, within PERMISSIVE's
 * 256 MB) the dictionary is larger than V8 lets a hash table be, and V8 aborted the process
 * ("FATAL ERROR: invalid table size"), a `worker_threads` host too.
 *
 * Now an object's elements become a dictionary (for good) the first time a key past 65,536 is written or
 * defined on it, so there never are many fast ones to convert.
 *
 * Host-side evidence: a child process times each run from `run()` to its answer (the script spins to the
 * deadline after its step); and a host survives 2.3e7 keys at PERMISSIVE in both isolations (the old code
 * aborted it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild, hostsRuns, scriptsChild } from '../helpers.js';

const DEADLINE = 4000;
/**
 * Wall time a run may end past its deadline: the old code ended 1.3 to 4.5 s past it with these 8e6 keys
 * (64 MB). The budget is 128 MB: what the new code writes is a dictionary, refused at about 2e6 keys,
 * before a growth of its table takes long (see the README's known gaps).
 */
const PAST_MS = 1000;
const KEYS = 8e6;
const FILL = `const o = {}; for (let i = 0; i < ${KEYS}; i++) o[i] = i;`;

const SHAPES: Record<string, { code: string; validated: boolean; level?: string }> = {
  'a store far past the keys': { code: `${FILL} o[2 ** 31] = 1;`, validated: true },
  'a string key far past them': { code: `${FILL} o['4294967290'] = 1;`, validated: true },
  'an accessor defined on an element': { code: `${FILL} Object.defineProperty(o, 5, { get() { return 1; } });`, validated: false },
  'Object.fromEntries of a generator': {
    code: `function* g() { for (let i = 0; i < ${KEYS}; i++) yield [i, 0]; } const o = Object.fromEntries(g()); o[2 ** 31] = 1;`,
    validated: false,
  },
  'keys written through a proxy': {
    code: `const o = {}; const p = new Proxy(o, {}); for (let i = 0; i < ${KEYS}; i++) p[i] = i; o[2 ** 31] = 1;`,
    validated: false,
    level: 'PERMISSIVE',
  },
};

const OPTIONS = {
  'vm, validated': '{}',
  'vm, validate:false transform:false': '{ validate: false, transform: false }',
} as const;
const shapesOf = (name: string) => Object.keys(SHAPES).filter((k) => name !== 'vm, validated' || SHAPES[k]?.validated === true);

const childSource = (name: string, options: string) => `
const out = {};
for (const [shape, { code, level }] of Object.entries(${JSON.stringify(Object.fromEntries(shapesOf(name).map((k) => [k, SHAPES[k]])))})) {
  const enclave = new Enclave({ ...${options}, securityLevel: level ?? 'STANDARD', memoryLimit: 128 * 1024 * 1024, maxIterations: 1e12, timeout: ${DEADLINE} });
  await enclave.run('return 1');
  const start = Date.now();
  const r = await enclave.run(code + ' let z = 0; while (z >= 0) z++; return z;');
  out[shape] = { code: r.success ? 'OK' : r.error.code, past: Date.now() - start - ${DEADLINE} };
  enclave.dispose();
}
console.log('RESULT ' + JSON.stringify(out));
`;

const children = new ChildBatch(1);
const killAfterMs = hostsRuns(Object.keys(SHAPES).length, 6 * DEADLINE + 30_000);
const keys = Object.fromEntries(Object.entries(OPTIONS).map(([name, options]) => [name, children.add(name, childSource(name, options), { killAfterMs })]));
beforeAll(() => children.start(), 2 * killAfterMs);

type Rows = Record<string, { code: string; past: number }>;

describe.each(Object.keys(OPTIONS))('invariant 4: an object of in-order integer keys made sparse in one step [%s]', (name) => {
  it.each(shapesOf(name))('%s: ends at the deadline or is refused, not seconds past it', async (shape) => {
    const child = await children.result(keys[name] as string);
    const row = (childResult(child) as Rows | undefined)?.[shape];
    expect(['TIMEOUT', 'MEMORY_LIMIT_EXCEEDED'], describeChild(child)).toContain(row?.code);
    expect(row?.past ?? Infinity, `ended past the deadline: ${JSON.stringify(row)}`).toBeLessThan(PAST_MS);
  }, 2 * killAfterMs);
});

describe('what the change keeps', () => {
  it('objects of integer keys answer as before', async () => {
    const { Enclave } = await import('../../src/index.js');
    const enclave = new Enclave({ validate: false, transform: false, maxIterations: 1e8 });
    try {
      const r = await enclave.run(`const o = {}; for (let i = 0; i < 1e5; i++) o[i] = i; o[2 ** 31] = 7; o['4294967294'] = 8; delete o[5];
const f = Object.fromEntries([[4294967294, 1], ['a', 2], [3, 4]]);
function* g() { yield [70000, 1]; yield [1, 2]; } const h = Object.fromEntries(g());
const t = Object.assign({}, f, h);
const ks = Object.keys(o);
return [ks.length, ks[0], ks[ks.length - 1], o[99999], 5 in o, JSON.stringify(f), Object.keys(h), Object.keys(t).length, Object.isExtensible(o)];`);
      expect(r.error).toBeUndefined();
      expect(r.value).toEqual([100001, '0', '4294967294', 99999, false, '{"3":4,"4294967294":1,"a":2}', ['1', '70000'], 5, true]);
    } finally {
      enclave.dispose();
    }
  }, 60_000);
});

/**
 * The host's heap is 1.5 GB here, not host-survival's 512 MB: an object whose elements are a dictionary
 * grows its hash table in one step to twice what it was (see the README's known gaps), and at PERMISSIVE
 * that step takes the heap to about 600 MB before the run is refused.
 */
const SURVIVAL = new ChildBatch(2);
const survivalRows = [
  ['vm, PERMISSIVE defaults', ''],
  ['vm, PERMISSIVE validate:false, transform:false', 'validate: false, transform: false, '],
  // V8's abort takes the whole process, whichever thread the run is on.
  ['worker_threads, PERMISSIVE defaults', "adapter: 'worker_threads', "],
  ['worker_threads, PERMISSIVE validate:false, transform:false', "adapter: 'worker_threads', validate: false, transform: false, "],
].map(([label, options]) => ({
  label,
  key: SURVIVAL.add(
    label as string,
    scriptsChild(`{ securityLevel: 'PERMISSIVE', maxIterations: 1e9, ${options}timeout: 60000 }`, { store: 'const o = {}; for (let i = 0; i < 2.3e7; i++) o[i] = i; o[2 ** 31] = 1; return 1;' }, { timeout: 60_000 }),
    { nodeArgs: ['--max-old-space-size=1536'], killAfterMs: 180_000 },
  ),
}));
beforeAll(() => SURVIVAL.start(), 120_000);
describe('invariant 8: one store far past 2.3e7 in-order keys of an object does not abort the host (child processes)', () => {
  it.each(survivalRows)('$label: refused, and the host survives and writes nothing', async ({ key }) => {
    const child = await SURVIVAL.result(key);
    expect([child.code, child.signal, child.stderr], describeChild(child)).toEqual([0, null, '']);
    expect(childResult(child)).toEqual({ out: { store: 'MEMORY_LIMIT_EXCEEDED' } });
  }, 200_000);
});
