import vm from 'node:vm';
import { LruCache } from '../source.js';
import { RESERVED_PREFIX, SCRIPT_FILENAME } from './realm-abi.js';

const scripts = new LruCache<string, vm.Script>(500);

/**
 * The rewritten script compiled for this thread (each thread compiles what it runs: a worker never gets
 * a host `vm.Script`). Compiling runs no code of the script. Throws V8's SyntaxError for the rare early
 * error the parser does not report.
 */
export function compileScript(source: string): vm.Script {
  let script = scripts.get(source);
  if (!script) {
    script = new vm.Script(source, { filename: SCRIPT_FILENAME, lineOffset: -1 });
    scripts.set(source, script);
  }
  return script;
}

/** Names the uncalled function `checkSyntax` wraps a script in: reserved, so no script can declare it. */
const SYNTAX_WRAPPER = `${RESERVED_PREFIX}_syntax`;

/**
 * V8's verdict on a rewritten script's syntax, without compiling it to run. The text becomes the body of
 * a function that is never called, so V8 only pre-parses it: the rewritten script asks for an eager
 * compile (its functions are parenthesized, see transform/index.ts), which a run needs and a check does
 * not, at about twice the cost. V8 reports every early error while pre-parsing (it must, since the
 * functions it pre-parses may never be compiled), with the same message; compile.test.ts holds
 * the two forms to that. `source` is the rewriter's output, one balanced expression statement (the parser
 * checked that the user's code closes nothing early), so it cannot end the wrapper. Throws V8's SyntaxError.
 */
export function checkSyntax(source: string): void {
  const preparsed = new vm.Script(`function ${SYNTAX_WRAPPER}() {${source}\n}`, { filename: SCRIPT_FILENAME });
  // Only the errors matter: the pre-parsed script is dropped.
  void preparsed;
}
