/**
 * Attacks that make host code throw on the script's own stack (see inv2-host-exceptions.test.ts), for
 * every isolation that runs the realm runtime.
 */
import type { Attack } from '../helpers.js';
import { ANY_END } from '../helpers.js';

/** What each attack does with what it caught: anything of another realm is taken to its Function. */
const use = (P: string) => `for (const c of got) {
  if (c !== null && typeof c === 'object' && !(c instanceof Error)) {
    c.constructor.constructor(${P})();
    return 'escaped';
  }
}
return 'nothing foreign among ' + got.length;`;

/** `f(0, -1)` is how deep the recursion gets; `f(0, n)` runs `probe(er)` at depth n. */
const EDGE = (probe: string) => `const got = [];
const pending = [];
function f(d, target) {
  if (target < 0) { try { return f(d + 1, target); } catch { return d; } }
  if (d < target) return f(d + 1, target);
  const er = new Error('x');
  ${probe}
  return 0;
}`;

/** Measured again before each try: what V8 has compiled by then changes the depth a frame takes. */
const SWEEP = (rounds: number) => `for (let round = 0; round < ${rounds}; round++) {
  for (let k = 0; k < 40; k++) {
    const max = f(0, -1);
    try { f(0, max - k); } catch {}
  }
}`;

const LIMITS = { maxCallDepth: 1_000_000, maxIterations: 100_000_000, timeout: 30_000 };

/**
 * The attacks, with `payload` as what an escaped Function runs (see escapeCanaries): shared with the
 * remote runtime nodes' suite (packages/redis), where the same realm runtime runs in the nodes' workers.
 */
export function hostExceptionAttacks(payload: string): readonly Attack[] {
  const P = JSON.stringify(payload);
  return [
    {
      name: 'a stack read at the edge, caught in a catch block',
      code: `${EDGE('try { void er.stack; } catch (e) { got.push(e); }')}
${SWEEP(1)}
${use(P)}`,
      expect: ANY_END,
      enclave: LIMITS,
    },
    {
      name: 'a stack read at the edge in an async function, taken from its rejected promise',
      code: `${EDGE('try { pending.push(g(er)); } catch {}')}
async function g(er) { void er.stack; }
await g(new Error('warm'));
${SWEEP(3)}
for (const p of pending) { try { await p; } catch (e) { got.push(e); } }
${use(P)}`,
      expect: ANY_END,
      enclave: LIMITS,
    },
    {
      // Node 24 (`using`; a syntax error before): every disposer that throws as the scope exits wraps
      // what was leaving it in a new SuppressedError, so the host's RangeError sits six levels down,
      // where no catch guard looked before (red9: the payload ran on the host, and in the worker,
      // without the AST layers).
      name: 'a stack read at the edge inside a using scope whose six disposers throw, dug out of the SuppressedErrors',
      code: `const t = { [Symbol.dispose]: () => { throw 0; } };
${EDGE(`try { using a = t, b = t, c = t, d = t, e = t, g = t; void er.stack; } catch (x) { let y = x; for (let i = 0; i < 64 && y !== null && typeof y === 'object' && 'suppressed' in y; i++) y = y.suppressed; got.push(y); }`)}
${SWEEP(1)}
${use(P)}`,
      expect: ANY_END,
      enclave: LIMITS,
    },
    {
      name: 'a stack read at the edge inside an await using scope whose six async disposers throw, from its rejected promise',
      code: `const t = { [Symbol.asyncDispose]: async () => { throw 0; } };
${EDGE('try { pending.push(g(er)); } catch {}')}
async function g(er) { await using a = t, b = t, c = t, d = t, e = t, h = t; void er.stack; }
${SWEEP(3)}
for (const p of pending) { try { await p; } catch (x) { let y = x; for (let i = 0; i < 64 && y !== null && typeof y === 'object' && 'suppressed' in y; i++) y = y.suppressed; got.push(y); } }
${use(P)}`,
      expect: ANY_END,
      enclave: LIMITS,
    },
  ];
}
