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

/** What reads a stack at the edge (`probe`, given `er`), with the code it needs (`setup`), and what takes the outcome into `got` (`collect`). */
interface EdgeCase {
  name: string;
  setup?: string;
  probe: string;
  rounds: number;
  collect?: string;
}

/** The bottom of a chain of SuppressedErrors (`x`), where a `using` scope's disposers left what was thrown. */
const BOTTOM = "let y = x; for (let i = 0; i < 64 && y !== null && typeof y === 'object' && 'suppressed' in y; i++) y = y.suppressed; got.push(y);";

/** A pending promise's rejection, each taken by `take` (given `x`). */
const AWAIT_EACH = (take: string) => `for (const p of pending) { try { await p; } catch (x) { ${take} } }`;

const ASYNC_G = "async function g(er) { void er.stack; }\nawait g(new Error('warm'));";

const CASES: readonly EdgeCase[] = [
  { name: 'a stack read at the edge, caught in a catch block', probe: 'try { void er.stack; } catch (e) { got.push(e); }', rounds: 1 },
  {
    name: 'a stack read at the edge in an async function, taken from its rejected promise',
    setup: ASYNC_G,
    probe: 'try { pending.push(g(er)); } catch {}',
    rounds: 3,
    collect: AWAIT_EACH('got.push(x);'),
  },
  // Node 24 (`using`; a syntax error before): every disposer that throws as the scope exits wraps what
  // was leaving it in a new SuppressedError, so the host's RangeError sits six levels down, where no
  // catch guard looked before (red9: the payload ran on the host, and in the worker, without the AST
  // layers, in the scope's catch block and from an async function's rejection alike).
  {
    name: 'a stack read at the edge inside a using scope whose six disposers throw, dug out of the SuppressedErrors',
    setup: 'const t = { [Symbol.dispose]: () => { throw 0; } };',
    probe: `try { using a = t, b = t, c = t, d = t, e = t, g = t; void er.stack; } catch (x) { ${BOTTOM} }`,
    rounds: 1,
  },
  {
    name: 'a stack read at the edge inside an await using scope whose six async disposers throw, from its rejected promise',
    setup: 'const t = { [Symbol.asyncDispose]: async () => { throw 0; } };\nasync function g(er) { await using a = t, b = t, c = t, d = t, e = t, h = t; void er.stack; }',
    probe: 'try { pending.push(g(er)); } catch {}',
    rounds: 3,
    collect: AWAIT_EACH(BOTTOM),
  },
  // The combinators and async generators take a rejection through V8's own reactions: a reason that
  // arrives as a value (allSettled), in an AggregateError (any), or from an async generator's next().
  {
    name: 'a stack read at the edge in an async function, taken as a value from Promise.allSettled',
    setup: ASYNC_G,
    probe: 'try { pending.push(g(er)); } catch {}',
    rounds: 3,
    collect: "for (const r of await Promise.allSettled(pending)) if (r.status === 'rejected') got.push(r.reason);",
  },
  {
    name: 'a stack read at the edge in an async function, taken from the errors of Promise.any',
    setup: ASYNC_G,
    probe: 'try { pending.push(g(er)); } catch {}',
    rounds: 3,
    collect: 'for (const p of pending) { try { await Promise.any([p]); } catch (e) { for (const x of e.errors ?? []) got.push(x); } }',
  },
  {
    name: 'a stack read at the edge in an async generator, taken from its next()',
    setup: 'async function* ag(er) { void er.stack; yield 1; }',
    probe: 'try { pending.push(ag(er).next()); } catch {}',
    rounds: 3,
    collect: AWAIT_EACH('got.push(x);'),
  },
];

/**
 * The attacks, with `payload` as what an escaped Function runs (see escapeCanaries): shared with the
 * remote runtime nodes' suite (packages/redis), where the same realm runtime runs in the nodes' workers.
 */
export function hostExceptionAttacks(payload: string): readonly Attack[] {
  const P = JSON.stringify(payload);
  return CASES.map((c) => ({
    name: c.name,
    code: [c.setup, EDGE(c.probe), SWEEP(c.rounds), c.collect, use(P)].filter((part) => part !== undefined).join('\n'),
    expect: ANY_END,
    enclave: LIMITS,
  }));
}
