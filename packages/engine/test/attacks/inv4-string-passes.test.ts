/**
 * Invariants 4 and 5 against one pass over one long string. V8 reads a whole string in a single step
 * that ignores termination wherever it meets one: it flattens a concatenation on first use (`s[0]`), and
 * it searches (`indexOf`, `split`, `replace`, a RegExp of plain characters such as `/ab/`), trims,
 * compares, hashes it as a key and converts it to a number (`+s`, `BigInt(s)`) without an interrupt
 * check. Most of these are operators no wrapper sees. Measured by red8 (Node 20, a 2-core VM at a load
 * of 9, PERMISSIVE, `validate: false, transform: false`), with strings of 1.2e8 characters, which
 * PERMISSIVE's former per-string limit (memoryLimit / 2, 1.34e8) allowed: a first flatten 0.6 to 1.3 s,
 * `indexOf('ab')` and `/ab/.test` 1 to 1.3 s, `split('ab')` 1.5 s, `+s` of digits 1.2 s, `s.trim()` 1 s,
 * each past the deadline in vm mode (the host's thread held) and in a worker (the halt delayed). At
 * 2^24 characters the slowest took 100 to 220 ms: no string may now be longer, at any level (SECURE's
 * limit already was 2^24, STRICT's is lower), however it is built.
 *
 * Host-side evidence: the outcome code and its message (a string one character past the limit was built
 * and answered OK before), and the host's clock around a run that makes such passes until its deadline,
 * bounded as generously as the other inv4 files bound theirs (the deadline plus 2 s).
 */
import { describe, expect, it } from 'vitest';
import type { Adapter, Attack } from '../helpers.js';
import { rowEnclave, runAttack, timedAttack } from '../helpers.js';

const ROWS: readonly Adapter[] = [
  { name: 'vm PERMISSIVE validated', options: { securityLevel: 'PERMISSIVE', realmPool: { maxIdle: 1, prewarm: 0 } }, validates: true },
  { name: 'vm PERMISSIVE, validate:false transform:false', options: { securityLevel: 'PERMISSIVE', validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'worker_threads PERMISSIVE, validate:false transform:false', options: { securityLevel: 'PERMISSIVE', adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 2 } }, validates: false },
];

/** The most characters one string may have (MAX_STRING_CHARS in the realm runtime's budgets.ts). */
const MOST = 2 ** 24;
const TOO_LONG = /^Memory limit exceeded: this operation builds a string of about 16777217 characters, more than the 16777216 one string may have/;

/** Ways to build a string of MOST + 1 characters from parts within the limit: builtins and operators. */
const BUILDS: readonly (readonly [string, string])[] = [
  ['repeat', `'a'.repeat(${MOST + 1})`],
  ['a concatenation', `h + h + 'b'`],
  ['a template', '`${h}${h}b`'],
  ['join', "[h, h, 'b'].join('')"],
  ['padEnd', `'a'.padEnd(${MOST + 1}, 'b')`],
  ['concat', "h.concat(h, 'b')"],
  ['JSON.stringify', `JSON.stringify('a'.repeat(${MOST - 1}))`],
];

const ATTACKS: readonly Attack[] = [
  ...BUILDS.map(([how, expression]): Attack => ({
    name: `a string of 2^24 + 1 characters is refused (${how})`,
    code: `const h = 'a'.repeat(${MOST / 2}); const s = ${expression}; return s.length;`,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
    validation: 'accept',
    check: (r) => expect(r.error?.message).toMatch(TOO_LONG),
  })),
  {
    name: 'a string of 2^24 characters is still built, and read',
    code: `const s = 'a'.repeat(${MOST - 1}) + 'b'; return [s.length, s.indexOf('ab'), s.at(-1)];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual([MOST, MOST - 2, 'b']),
  },
  {
    // The charge of a string replacement counted the matches first (a second pass over the subject) and
    // charged each as if the replacement were added to the match: a replacement that fits was refused.
    name: 'a string replacement whose output fits the limit is not refused',
    code: `const s = 'a'.repeat(${MOST - 2}) + 'bc'; const t = s.replace('bc', 'd0'); const u = s.replaceAll('bc', 'x'); return [t.length, t.slice(-3), u.length, u.slice(-2)];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual([MOST, 'ad0', MOST - 1, 'ax']),
  },
  {
    name: 'a string replacement whose output is past the limit is refused before it is built',
    code: `const s = 'a'.repeat(${MOST - 2}) + 'bc'; return s.replace('bc', 'd0e').length;`,
    expect: ['MEMORY_LIMIT_EXCEEDED'],
    validation: 'accept',
    check: (r) => expect(r.error?.message).toMatch(TOO_LONG),
  },
  timedAttack({
    // Every turn flattens a new concatenation and then searches, trims and converts it: each a native
    // pass over 2^24 characters, together 0.5 to 1 s; the deadline lands between two of them.
    name: 'passes over the longest string end by the deadline, one pass late at most',
    code: `const s = 'a'.repeat(${MOST - 8}); let n = 0; for (;;) { const t = ' ' + s + (n++ % 10) + ' b'; n += t.indexOf('ab') + t.trim().length + (/ab/.test(t) ? 1 : 0) + t.split('ab').length + (+t === 0 ? 1 : 0); }`,
    enclave: { maxIterations: 1e15 },
    timeout: 1000,
    expect: ['TIMEOUT'],
  }),
];

describe.each(ROWS)('invariant 4: one native pass over one string is bounded by the string limit [$name]', (adapter) => {
  const shared = rowEnclave(adapter);
  for (const attack of ATTACKS) {
    it(attack.name, async () => {
      await runAttack(adapter, attack, shared);
    }, 120_000);
  }
});
