/**
 * Runtime errors speak the user's code: V8 quotes the failing expression in many messages ("o[k] is not
 * a function"), and the expression it sees is the rewritten one. No message, name or stack that the
 * script or the caller sees may name a guard; where plain JavaScript names the user's expression, so do
 * we. Every guard that can fail, or sit inside a quoted expression, is covered, in both isolations and
 * with the budget guards on and off.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../src/index.js';
import type { ExecutionResult } from '../src/index.js';

const MODES = [
  { label: 'vm', options: {} },
  { label: 'vm, transform off', options: { transform: false } },
  { label: 'worker_threads', options: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } },
  { label: 'worker_threads, transform off', options: { adapter: 'worker_threads', transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } },
] as const;

/** [script, the message plain JavaScript gives (or a pattern when V8's own text is not the user's either)] */
const CASES: readonly [string, string | RegExp][] = [
  // sp: spreads of something that is not iterable (from upstream Enclave's own test suite)
  ['const data = {}; return [...data.items];', 'data.items is not iterable'],
  ['const data = {}; return Math.max(...data.items);', 'data.items is not iterable'],
  ['const n = 5; return [...n];', 'n is not iterable'],
  ['const o = { a: 1 }; return [...o];', 'o is not iterable'],
  // mc: computed keys on a callee path
  ['const o = {}; const k = "f"; return o[k]();', 'o[k] is not a function'],
  ['const o = { a: {} }; const i = "a", j = "b"; return o[i][j]();', 'o[i][j] is not a function'],
  ['const C = {}; const k = "x"; return new C[k]();', 'C[k] is not a constructor'],
  ['const o = {}; const p = { q: "x" }; const q = "q"; return o[p[q]]();', 'o[p[q]] is not a function'],
  ['const list = [1]; const i = 0; return list[i]();', 'list[i] is not a function'],
  ['const o = { f: () => ({}) }; const k = "g"; return o.f()[k]();', /^o\.f\(\.\.\.\)\[k\] is not a function$/],
  // s: string growth around a quoted expression: V8's own wording for an expression it does not print
  ['const a = "x", b = "y"; return (a + b)();', /^\(intermediate value\) is not a function$/],
  ['const a = "x"; return `${a}!`.at(0)();', /^\(intermediate value\)\.at\(\.\.\.\) is not a function$/],
  ['let s = "x"; return (s += "y")();', /^\(intermediate value\) is not a function$/],
  // m: a blocked key
  ['const o = {}; const k = "construct" + "or"; return o[k];', /^Access to the property "constructor" is not allowed/],
];

describe.each(MODES)('runtime errors speak the user’s code [$label]', ({ label, options }) => {
  const enclave = new Enclave({ securityLevel: 'PERMISSIVE', ...options });
  afterAll(() => enclave.dispose());
  const budgets = !label.includes('transform off');

  const expectUserWords = (text: unknown, expected: string | RegExp) => {
    expect(typeof text).toBe('string');
    if (typeof expected === 'string') expect(text).toBe(expected);
    else expect(text).toMatch(expected);
  };

  it.each(CASES)('%s', async (code, expected) => {
    if (!budgets && String(expected).includes('Access to the property')) return; // key checks come with the budget guards
    // What the caller sees.
    const r: ExecutionResult = await enclave.run(code);
    expect(r.success).toBe(false);
    if (r.success) return;
    expectUserWords(r.error.message, expected);
    expect(r.error.name).not.toContain('__ek');
    const loc = r.error.location;
    if (loc) expect(loc.column).toBeLessThanOrEqual(code.length + 1);
    // What the script sees: in a catch block, through a destructuring catch, in a rejection handler, and
    // in the stack; also when the error leaves an async function.
    const body = code.replace(/^(.*?)return /, '$1');
    const seen = await enclave.run(
      `const seen = [];
try { ${body} } catch (e) { seen.push(e.message, e.stack); }
try { ${body} } catch ({ message }) { seen.push(message); }
await (async () => { ${body} })().catch((e) => { seen.push(e.message); });
try { await (async () => { ${body} })(); } catch (e) { seen.push(e.message); }
return seen;`,
    );
    expect(seen.error).toBeUndefined();
    const [message, stack, destructured, rejected, awaited] = seen.value as string[];
    for (const m of [message, destructured, rejected, awaited]) expectUserWords(m, expected);
    expect(stack).not.toContain('__ek');
    expect(stack).toMatch(/^[A-Za-z]*Error: /);
    for (const frame of String(stack).split('\n').slice(1)) expect(frame).toMatch(/^ {4}at (?!__ek)\S+ \(agentscript\.js:[1-9]\d*:\d+\)$/);
  });

  it('keeps a script’s own message that happens to contain the prefix (nothing else is rewritten)', async () => {
    const r = await enclave.run('throw new Error("__ek is just text here");');
    expect(r.error?.message).toBe('__ek is just text here');
  });
});
