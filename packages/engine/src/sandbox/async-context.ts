/**
 * Whether Node's async context tracking reaches this thread's `vm` contexts right now. With any async
 * hook enabled (AsyncLocalStorage on Node 20 and 22, OpenTelemetry's and APM agents' context managers,
 * `async_hooks.createHook`), Node installs its promise hooks in every context of the thread, a realm's
 * too, and host code then runs on each promise a script makes:
 *
 * - it writes the host's values onto the script's promises, under symbols a script can list (an
 *   AsyncLocalStorage's store, the request context a framework keeps there, is one
 *   `Object.getOwnPropertySymbols` away: a host object, and its functions the host's);
 * - host code that runs while a script's promise reaction is on the stack reads the store the script
 *   wrote there;
 * - a deadline that cuts a realm entry off inside a promise reaction leaves Node's async context stack
 *   unbalanced, and Node aborts the whole process at its next callback ("async hook stack has become
 *   corrupted", nodejs/node#38503).
 *
 * Node has no way to keep its hooks out of one context, so `vm` runs do not happen on such a thread:
 * VmIsolation hands them to worker threads, whose own Node instance tracks nothing of the host's (see
 * vm-isolation.ts), and a run that finds tracking switched on between its entries ends.
 *
 * Told by making a promise in a context of its own and looking for what the hooks wrote on it: a hook
 * with `init`, `destroy` or `promiseResolve` marks the promise when it is made, but one with only
 * `before` and `after` (a per-callback timer, an event-loop profiler) marks it only when a reaction of
 * it runs. Missed, such a hook left a realm's reactions to run inside host hooks that a deadline cut
 * in half, and Node aborted the process. So the probe's context drains its own microtasks when the
 * script returns (`afterEvaluate`), within the probe: the promise it returns has had its reaction run.
 * About 2 µs.
 */
import vm from 'node:vm';

let probe: { context: vm.Context; script: vm.Script } | undefined;

export function hostTracksAsyncContext(): boolean {
  probe ??= { context: vm.createContext({}, { microtaskMode: 'afterEvaluate' }), script: new vm.Script('Promise.resolve().then()', { filename: 'enclave:async-probe' }) };
  return Reflect.ownKeys(probe.script.runInContext(probe.context) as object).length > 0;
}
