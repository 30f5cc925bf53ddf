import vm from 'node:vm';
import { LruCache } from '../source.js';
import { SCRIPT_FILENAME } from './realm-abi.js';

const scripts = new LruCache<string, vm.Script>(500);

/**
 * The rewritten script compiled for this thread (each thread compiles what it runs: a worker never gets
 * a host `vm.Script`). Compiling runs no code of the script. Throws V8's SyntaxError for the rare early
 * error the parser does not report.
 */
export function compileScript(key: string, source: string): vm.Script {
  let script = scripts.get(key);
  if (!script) {
    script = new vm.Script(source, { filename: SCRIPT_FILENAME, lineOffset: -1 });
    scripts.set(key, script);
  }
  return script;
}
