/**
 * For unit tests of the realm runtime: evaluates one runtime module (and its imports) in a fresh
 * context of its own, as a realm would, and returns the module's exports.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = path.dirname(fileURLToPath(import.meta.url));
const script = path.resolve(here, '../../../scripts/build-realm-runtime.mjs');
const runtime = path.resolve(here, '../src/sandbox/realm-runtime');

export async function loadInFreshContext<T>(module: string): Promise<{ ctx: vm.Context; exports: T }> {
  const { bundleForContext } = (await import(script)) as { bundleForContext: (entry: string) => Promise<string> };
  const ctx = vm.createContext(vm.constants.DONT_CONTEXTIFY, { codeGeneration: { strings: false, wasm: false } });
  const exports = vm.runInContext(await bundleForContext(path.join(runtime, module)), ctx) as T;
  return { ctx, exports };
}
