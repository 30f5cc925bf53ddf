/**
 * Invariant 4 against V8's date parser: `Date.parse(s)` and `new Date(s)` parse a string in one native
 * step that ignores termination, at about 20 ns a character. Found by red-teaming (red7, Node 24): a
 * string of 1.2e8 spaces held a vm host 2.4 s past a 300 ms deadline (PERMISSIVE, validate:false,
 * transform:false; 0.6 s with STANDARD's longest string), and an object whose `toString` answers such a
 * string does the same through `new Date(o)`. A date string is short: past 2^20 characters it is refused
 * with a RangeError, as the ICU calls refuse theirs; every other answer is the native's.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../../src/index.js';
import type { CreateEnclaveOptions } from '../../src/index.js';

const LONG = "' '.repeat(2 ** 20 + 1)";
const REFUSED = `const out = []; for (const f of [() => Date.parse(${LONG}), () => new Date(${LONG}), () => new Date({ toString: () => ${LONG} }), () => new Date({ valueOf: () => ({}), toString: () => ${LONG} })]) { try { out.push(String(f())); } catch (e) { out.push(e.name + ': ' + e.message.slice(0, 24)); } } return out;`;
/** Ordinary dates, whose answers (and errors) must be the native's: computed in the host too. */
const KEPT = `[Date.parse('2022-03-01T00:00:00Z'), Date.parse('Tue Mar 01 2022 10:00:00 GMT+0100'), Date.parse(20220301), new Date('2022-03-01').getTime(), new Date(5).getTime(), new Date(new Date(7)).getTime(), new Date({ valueOf: () => 9 }).getTime(), new Date({ valueOf: () => ({}), toString: () => '1970-01-01T00:00:00.011Z' }).getTime(), new Date(2022, 2, 1, 12).getMonth(), String(new Date('nope').getTime()), (() => { try { return new Date({ valueOf: () => ({}), toString: () => ({}) }); } catch (e) { return e.name; } })(), (() => { try { return Date.parse(Symbol('x')); } catch (e) { return e.name; } })()]`;

const ROWS: readonly { name: string; options: CreateEnclaveOptions }[] = [
  { name: 'vm validated', options: {} },
  { name: 'vm validate:false transform:false', options: { validate: false, transform: false } },
  { name: 'worker_threads validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } },
];

describe.each(ROWS)('invariant 4: date strings V8 parses in one step [$name]', (row) => {
  const enclave = new Enclave(row.options);
  afterAll(() => enclave.dispose());
  it('a date string of more than 2^20 characters is refused before V8 parses it', async () => {
    const r = await enclave.run(REFUSED);
    expect(r.error, JSON.stringify(r.error)).toBeUndefined();
    expect(r.value).toEqual(Array(4).fill('RangeError: A date string of 1048577'));
  });
  it('ordinary dates keep the native answers and errors', async () => {
    const r = await enclave.run(`return ${KEPT};`);
    expect(r.error, JSON.stringify(r.error)).toBeUndefined();
    expect(r.value).toEqual(JSON.parse(JSON.stringify(new Function(`return ${KEPT}`)())));
  });
});
