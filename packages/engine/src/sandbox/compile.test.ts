/**
 * `checkSyntax` only pre-parses a rewritten script, where a run compiles it eagerly: the two must agree
 * on every early error, message included, wherever the error sits (the body itself, or a function in it,
 * which V8 pre-parses in both forms).
 */
import { describe, expect, it } from 'vitest';
import { prepareAgentScript } from '../pipeline.js';
import { EARLY_ERRORS } from '../../test/early-errors.js';
import { checkSyntax, compileScript } from './compile.js';

/** A run's rewritten text with `body` as the user's code: the header and footer the rewriter writes around line 1. */
function rewrittenAround(body: string): string {
  const r = prepareAgentScript('0', { validate: false, transform: false });
  if (!r.ok) throw new Error('the template script was refused');
  const { source } = r.compiled;
  return `${source.slice(0, source.indexOf('\n'))}\n${body}\n${source.slice(source.lastIndexOf('\n') + 1)}`;
}

function errorOf(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

describe('checkSyntax', () => {
  it('refuses what a run’s compile refuses, with the same message, and accepts what it accepts', () => {
    let refused = 0;
    for (const snippet of EARLY_ERRORS) {
      for (const body of [snippet, `const f = () => { ${snippet} };`, `const g = async () => { ${snippet} };`]) {
        const text = rewrittenAround(body);
        const run = errorOf(() => compileScript(text));
        expect(errorOf(() => checkSyntax(text)), body).toBe(run);
        if (run !== null) refused++;
      }
    }
    // Not a vacuous comparison: most of these are errors, and some are not.
    expect(refused).toBeGreaterThan(EARLY_ERRORS.length * 2);
    expect(refused).toBeLessThan(EARLY_ERRORS.length * 3);
  });
});
