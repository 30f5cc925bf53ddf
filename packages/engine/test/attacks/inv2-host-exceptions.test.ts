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
import { ESCAPE_ROWS, escapeCanaries, rowEnclave, runAttack } from '../helpers.js';
import { hostExceptionAttacks } from './host-exception-cases.js';

const ATTACKS = hostExceptionAttacks(escapeCanaries('host-exceptions').payload);

describe.each(ESCAPE_ROWS)('host exceptions thrown at the stack\'s edge never reach the script [$name]', (row) => {
  const shared = rowEnclave(row, { shareVm: true });
  it.each(ATTACKS)('$name', async (attack) => {
    await runAttack(row, attack, shared);
  });
});
