/**
 * Invariant 2: no host function is reachable, also through an exception that host code throws on the
 * script's own stack. Node formats every stack trace in a host function (its prepareStackTrace callback)
 * before it calls the realm's Error.prepareStackTrace; a script that reads `.stack` with its stack all
 * but used up makes that host function overflow, and the RangeError thrown is the host's (in a worker,
 * the worker's): `.constructor.constructor` is then the host's Function. Found by red-teaming (red3):
 * both attacks below ran the payload on the host (vm) or in the worker (a file written through
 * `process.getBuiltinModule('fs')`), with validate:false and with no AST layers, before the runtime
 * refused such values where a thrown value reaches the script (see refuseForeign in errors.ts).
 *
 * The script finds the stack's edge itself (a recursion until it overflows), then reads a stack at each
 * of the 40 depths just above it; user recursion reaches the edge once the host allows deep calls, as
 * `maxCallDepth` lets it (without the budget guards there is no such limit at all).
 */
import { describe, it } from 'vitest';
import type { Attack } from '../helpers.js';
import { ANY_END, ESCAPE_ROWS, escapeCanaries, rowEnclave, runAttack } from '../helpers.js';

const canaries = escapeCanaries('host-exceptions');
const P = JSON.stringify(canaries.payload);

/** What each attack does with what it caught: anything of another realm is taken to its Function. */
const USE = `for (const c of got) {
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

const ATTACKS: readonly Attack[] = [
  {
    name: 'a stack read at the edge, caught in a catch block',
    code: `${EDGE('try { void er.stack; } catch (e) { got.push(e); }')}
${SWEEP(1)}
${USE}`,
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
${USE}`,
    expect: ANY_END,
    enclave: LIMITS,
  },
];

describe.each(ESCAPE_ROWS)('host exceptions thrown at the stack\'s edge never reach the script [$name]', (row) => {
  const shared = rowEnclave(row, { shareVm: true });
  it.each(ATTACKS)('$name', async (attack) => {
    await runAttack(row, attack, shared);
  });
});
