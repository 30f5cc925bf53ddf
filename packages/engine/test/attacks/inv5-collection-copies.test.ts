/**
 * Invariants 4 and 5 against the copy of a Map or a Set out of the realm (a log line, tool arguments, a
 * result): its pairs or values were all collected before the first was charged, so the work and memory
 * of a copy followed the collection's size, not the cap it was copied under. Found by red-teaming
 * (STANDARD, validated and with both layers off, both isolations): each `console.log(m)` of a Map of
 * 1.5e6 pairs took 0.4 s and 300 MB of the host before it logged '[value too large]', no iteration
 * counted, and a run may log 1,000 lines; a result or tool arguments the same. Now a collection with
 * more entries than the bytes left could hold (every pair is charged 9 bytes at least, every value of a
 * Set 3) is refused before anything is collected, as the charge would refuse it after.
 *
 * An ordinary object's keys are listed with Object.keys, one step whatever the cap, and were not charged:
 * each `console.log(o)` of an object of 9e5 keys took 0.8 s of the host, counted as no iteration, before
 * it logged '[value too large]'. Each copy (a log line's values, tool arguments) is now charged the keys
 * it listed, as the script's own Object.keys is, so repeating it ends at the iteration budget.
 *
 * Host-side evidence: the run's end. Each row logs such a Map and such a Set 500 times under a 15 s
 * deadline: the old copies took tens of ms a line and their garbage counted as the run's heap, so the
 * run ended as TIMEOUT (workers) or MEMORY_LIMIT_EXCEEDED (vm); refused first, it answers OK after well
 * under a second of its own work.
 */
import { expect } from 'vitest';
import type { Attack } from '../helpers.js';
import { describeOnStandardRows } from './host-survival.js';

const DEADLINE = 15_000;

const ATTACKS: readonly Attack[] = [
  {
    name: 'a Map of 3e5 pairs and a Set of 4e5 values, each logged 500 times over the log cap',
    code: `const m = new Map(); for (let i = 0; i < 3e5; i++) m.set(i, i);
const s = new Set(); for (let i = 0; i < 4e5; i++) s.add(i);
for (let i = 0; i < 500; i++) { console.log(m); console.log(s); }
return 'logged';`,
    expect: ['OK'],
    validation: 'accept',
    enclave: { timeout: DEADLINE },
    run: (kit) => ({ tools: kit.tools, timeout: DEADLINE }),
    check: (r) => {
      expect(r.logs).toHaveLength(1000);
      expect(new Set(r.logs?.map((l) => l.message))).toEqual(new Set(['[value too large]']));
    },
  },
  // An object's keys are listed in one step whatever the cap: each copy is charged them, as Object.keys is.
  {
    name: 'an object of 3e5 keys logged 200 times over the log cap ends at the iteration budget',
    code: "const o = {}; for (let i = 0; i < 3e5; i++) o['k' + i] = i; for (let j = 0; j < 200; j++) console.log(o); return 'logged';",
    expect: ['MAX_ITERATIONS'],
    validation: 'accept',
    enclave: { timeout: DEADLINE },
    run: (kit) => ({ tools: kit.tools, timeout: DEADLINE }),
    check: (r) => expect((r.logs ?? []).length).toBeLessThan(4),
  },
  {
    name: 'an object of 3e5 keys handed to a tool 200 times over the arguments cap ends at the iteration budget',
    code: "const o = {}; for (let i = 0; i < 3e5; i++) o['k' + i] = i; for (let j = 0; j < 200; j++) { try { await callTool('echo', o); } catch (e) {} } return 'called';",
    expect: ['MAX_ITERATIONS'],
    validation: 'accept',
    enclave: { timeout: DEADLINE, maxToolCalls: 1000 },
    run: (kit) => ({ tools: kit.tools, timeout: DEADLINE }),
    check: (_r, { kit }) => expect(kit.calls).toHaveLength(0),
  },
  {
    name: 'Maps and Sets that fit are logged and returned as before, prototype keys left out',
    code: `const big = new Map(); for (let i = 0; i < 2000; i++) big.set(i, i);
console.log(new Map([['a', 1]]), new Set([1, 'x']));
console.log(big);
return { m: new Map([['__proto__', 1], ['k', [1]]]), s: new Set([1, {}]), e: [new Map(), new Set()] };`,
    expect: ['OK'],
    validation: 'accept',
    enclave: { maxLogBytes: 64 * 1024 },
    check: (r) => {
      expect(r.logs?.[0]?.message).toBe('[["a",1]] [1,"x"]');
      expect(r.logs?.[1]?.message).toBe(JSON.stringify(Array.from({ length: 2000 }, (_, i) => [i, i])));
      expect(r.value).toEqual({ m: [['k', [1]]], s: [1, {}], e: [[], []] });
    },
  },
];

describeOnStandardRows('invariants 4 and 5 against copies of Maps, Sets and large objects', ATTACKS, { timeoutMs: 60_000 });
