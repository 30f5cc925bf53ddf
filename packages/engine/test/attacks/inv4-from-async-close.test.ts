/**
 * Invariants 4 and 8 against V8's `Array.fromAsync` (Node 22 and 24), which closes the iterator it walks
 * again, and again, for as long as closing it fails: a sync iterator's `return` that throws or answers a
 * primitive, an async iterator's `return` whose promise rejects, a `return` getter that throws, a `return`
 * that is not a function. Each attempt calls the script's `return`,
 * and the termination the deadline sends is taken for one more failure, so nothing stops the loop: found
 * by red-teaming (red12), one script held a `vm` host for good, past a 2 s deadline, at STANDARD,
 * validated, on Node 22 and 24 (plain `node:vm` with a `timeout` hangs the same way), and a worker ran
 * until the pool terminated it:
 *
 *   const it = { [Symbol.iterator]() { return { next: () => ({ done: false, value: Promise.reject(1) }),
 *     return() { throw 2; } }; } };
 *   Array.fromAsync(it);
 *
 * The specification ignores whatever closing does there (the native only ever closes on an error, which
 * wins): the runtime hands the native a `return` that calls the script's once and always succeeds.
 *
 * Each row is a child process, killed if it hangs: the host's canary is that it finishes, with every run
 * ending on its own, each `fromAsync` rejected with the error that closed its iterator.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild } from '../helpers.js';

const PRESENT = typeof (Array as { fromAsync?: unknown }).fromAsync === 'function';

/** `ret` counts the calls of the script's `return`: a few, not one per turn of a loop. */
const settle = (call: string) => `let ret = 0; try { await ${call}; return 'resolved'; } catch (e) { return [String(e), ret < 5]; }`;
const SYNC = (value: string, close: string) => `const it = { [Symbol.iterator]() { return { next: () => ({ done: false, value: ${value} }), return() { ret++; ${close} } }; } };`;
const ASYNC = (close: string) => `const it = { [Symbol.asyncIterator]() { return { next: async () => ({ done: false, value: 1 }), return() { ret++; ${close} } }; } };`;

/** Each script, and what it must give. */
const SCRIPTS: Record<string, [string, unknown]> = {
  'a value that rejects, and a return that throws': [settle(`(() => { ${SYNC('Promise.reject(1)', 'throw 2;')} return Array.fromAsync(it); })()`), ['1', true]],
  'a mapping function that throws, and a return that throws': [settle(`(() => { ${SYNC('1', 'throw 2;')} return Array.fromAsync(it, () => { throw 3; }); })()`), ['3', true]],
  'a value that rejects, and a return that answers a primitive': [settle(`(() => { ${SYNC('Promise.reject(1)', 'return 5;')} return Array.fromAsync(it); })()`), ['1', true]],
  'an async iterator whose return rejects': [settle(`(() => { ${ASYNC('return Promise.reject(2);')} return Array.fromAsync(it, () => { throw 3; }); })()`), ['3', true]],
  'a frozen result, and a return that throws': [settle(`(() => { ${SYNC('1', 'throw 2;')} return Array.fromAsync.call(function () { return Object.freeze([]); }, it); })()`), [expect.stringMatching(/^TypeError/), true]],
  'a return getter that throws, and a value that rejects': [settle(`(() => { const it = { [Symbol.iterator]() { return { next: () => ({ done: false, value: Promise.reject(1) }), get return() { ret++; throw 2; } }; } }; return Array.fromAsync(it); })()`), ['1', true]],
  'a return that is no function, and a value that rejects': [settle(`(() => { const it = { [Symbol.iterator]() { return { next: () => ({ done: false, value: Promise.reject(1) }), return: 5 }; } }; return Array.fromAsync(it); })()`), ['1', true]],
  // What must keep working: a return that succeeds is called, and an ordinary walk ends.
  'a return that succeeds': [`let ret = 0; ${SYNC('Promise.reject(1)', 'return {};')} try { await Array.fromAsync(it); return 'resolved'; } catch (e) { return [String(e), ret > 0]; }`, ['1', true]],
  'an ordinary walk': ['return await Array.fromAsync([1, Promise.resolve(2)], (x) => x * 2);', [2, 4]],
};
/** Scripts with syntax validation refuses (a getter): the rows that validate may stop them there. */
const GETTERS = new Set(['a return getter that throws, and a value that rejects']);
const CODES = Object.fromEntries(Object.entries(SCRIPTS).map(([name, [code]]) => [name, code]));

const ROWS = [
  { label: 'vm STANDARD validated', options: '{}', validates: true },
  { label: 'vm PERMISSIVE, validate:false, transform:false', options: "{ securityLevel: 'PERMISSIVE', validate: false, transform: false }", validates: false },
  { label: 'worker_threads STANDARD validated', options: "{ adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }", validates: true },
  { label: 'worker_threads PERMISSIVE, validate:false, transform:false', options: "{ adapter: 'worker_threads', securityLevel: 'PERMISSIVE', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }", validates: false },
] as const;

const child = (options: string) => `
const enclave = new Enclave({ timeout: 2000, ...(${options}) });
const out = {};
for (const [name, code] of Object.entries(${JSON.stringify(CODES)})) {
  const r = await enclave.run(code);
  out[name] = r.success ? r.value : r.error.code + ': ' + r.error.message;
}
await enclave.dispose();
console.log('RESULT ' + JSON.stringify(out));
`;

const children = new ChildBatch(2);
const rows = ROWS.map((row) => ({ ...row, key: children.add(row.label, child(row.options), { killAfterMs: 40_000 }) }));
beforeAll(() => (PRESENT ? children.start() : undefined), 60_000);

describe.skipIf(!PRESENT)('invariants 4 and 8: Array.fromAsync closes an iterator once, whatever closing does (child processes)', () => {
  it.each(rows)('$label', async ({ key, validates }) => {
    const c = await children.result(key);
    expect(c.code, describeChild(c)).toBe(0);
    const out = childResult(c) as Record<string, unknown> | undefined;
    expect(out, describeChild(c)).toBeDefined();
    for (const [name, [, expected]] of Object.entries(SCRIPTS)) {
      const got = (out as Record<string, unknown>)[name];
      if (validates && GETTERS.has(name) && typeof got === 'string' && got.startsWith('VALIDATION_ERROR')) continue;
      expect(got, name).toEqual(expected);
    }
  }, 60_000);
});
