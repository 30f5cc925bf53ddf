/** Who waits on each caller's signal, behind the one listener the client adds to it. */
const watched = new WeakMap<AbortSignal, { callbacks: Set<() => void>; dispatch: () => void }>();

/**
 * Calls `callback` once when `signal` aborts (at once if it has); returns the function that stops
 * watching. However many streams and requests share one signal, the client adds one listener to it
 * while any of them watches and none after: one signal for a whole page or server, passed to hundreds of
 * concurrent calls, neither gathers listeners nor draws Node's MaxListenersExceededWarning.
 */
export function whenAborted(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    callback();
    return () => {};
  }
  let entry = watched.get(signal);
  if (entry === undefined) {
    const callbacks = new Set<() => void>();
    const dispatch = () => {
      watched.delete(signal);
      for (const c of callbacks) {
        try {
          c();
        } catch {
          // One call's failure to stop does not keep the others running.
        }
      }
      callbacks.clear();
    };
    entry = { callbacks, dispatch };
    watched.set(signal, entry);
    signal.addEventListener('abort', dispatch, { once: true });
  }
  const { callbacks, dispatch } = entry;
  // A callback may be watched twice: each watch is its own.
  const watch = () => callback();
  callbacks.add(watch);
  return () => {
    if (!callbacks.delete(watch) || callbacks.size > 0 || watched.get(signal) !== entry) return;
    watched.delete(signal);
    signal.removeEventListener('abort', dispatch);
  };
}
