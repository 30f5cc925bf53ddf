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
  const pristineNames = names();
  const pristineProtoNames = protoNames();
  const pristineIntrinsics = intrinsics();
  return {
    changed() {
      if (!sameList(intrinsics(), pristineIntrinsics)) return true;
      const now = names();
      const nowProto = protoNames();
      // The same names in the same order are the common case, at half the cost of sorting them; a
      // reorder alone (Node's own lazy globals could cause one) is no change.
      if (sameList(now, pristineNames) && sameList(nowProto, pristineProtoNames)) return false;
      return sorted(now) !== sorted(pristineNames) || sorted(nowProto) !== sorted(pristineProtoNames);
    },
  };
}

/** A list of names, order aside: sorted and joined. */
function sorted(names: readonly string[]): string {
  return [...names].sort().join(',');
}

function sameList(now: readonly unknown[], then: readonly unknown[]): boolean {
  if (now.length !== then.length) return false;
  for (let i = 0; i < now.length; i++) if (now[i] !== then[i]) return false;
  return true;
}
