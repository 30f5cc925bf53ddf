#!/usr/bin/env node
/**
 * The `enclave` bin. Node 22.1+ keeps the compiled code of the modules it loads (and the engine that of
 * its realm runtime, see sandbox/code-cache.ts) in its compile cache, a folder under the OS's temp dir:
 * a command then pays for compiling the engine once, not on every invocation. A command, unlike a
 * library, may choose that for its process; NODE_DISABLE_COMPILE_CACHE=1 turns it off and
 * NODE_COMPILE_CACHE=<dir> picks the folder. It is turned on before the engine is loaded (Node compiles
 * every module a static import reaches before it runs any), so the rest comes by a dynamic import.
 */
(process.getBuiltinModule('node:module') as { enableCompileCache?: () => unknown }).enableCompileCache?.();
await (await import('./bin.js')).start();
