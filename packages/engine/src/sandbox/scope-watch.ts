/**
 * Notices whether anything reached a thread's own scope: its global names, `Object.prototype`'s names
 * and a few intrinsics, compared with what they were when the watch began. A worker checks this after
 * every run and is replaced if it ever answers true (nothing a realm runs can reach a worker's scope, so
 * that would be an escape).
 */
export interface ScopeWatch {
  changed(): boolean;
}

/** `global` is the scope to watch (a worker's `globalThis`; tests pass a context's global). */
export function watchScope(global: typeof globalThis): ScopeWatch {
  const intrinsics = (): unknown[] => [
    global.Function.prototype.call,
    global.Object.prototype.hasOwnProperty,
    global.JSON.parse,
    global.Array.prototype.push,
    global.Promise.prototype.then,
  ];
  const names = () => Object.getOwnPropertyNames(global);
  const protoNames = () => Object.getOwnPropertyNames(global.Object.prototype);
  const fingerprint = (): unknown[] => [names().sort().join(','), protoNames().sort().join(','), ...intrinsics()];
  const pristine = fingerprint();
  const pristineNames = names();
  const pristineProtoNames = protoNames();
  const pristineIntrinsics = intrinsics();
  return {
    changed() {
      // The same names in the same order (the common case) are the same fingerprint, at half the cost
      // of sorting and joining them; any difference, even a reorder (Node's own lazy globals could
      // cause one), is decided by the full comparison.
      const unchanged = sameList(names(), pristineNames) && sameList(protoNames(), pristineProtoNames) && sameList(intrinsics(), pristineIntrinsics);
      return !unchanged && fingerprint().some((part, i) => part !== pristine[i]);
    },
  };
}

function sameList(now: readonly unknown[], then: readonly unknown[]): boolean {
  if (now.length !== then.length) return false;
  for (let i = 0; i < now.length; i++) if (now[i] !== then[i]) return false;
  return true;
}
