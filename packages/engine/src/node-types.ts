/**
 * node:util's `types`, taken from the module itself rather than imported: an ESM import of a Node
 * built-in builds its facade, which reads every export, and node:util's lazy exports (parseArgs,
 * MIMEType, aborted...) then load their modules. That was about 8 M instructions of a cold start
 * (import + first run) on Node 20, for three predicates.
 */
export const { types } = process.getBuiltinModule('node:util') as typeof import('node:util');

/** node:async_hooks' AsyncResource, taken from the module for the same reason. */
export const { AsyncResource } = process.getBuiltinModule('node:async_hooks') as typeof import('node:async_hooks');
