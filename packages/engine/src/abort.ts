/**
 * An abort flag for the host's tool seam that costs next to nothing until somebody needs a real
 * `AbortSignal`. Node builds every `AbortController` as a transferable object (several microseconds
 * each), and a run used to make one per run and one per tool call although most tools never read
 * `ctx.signal`. Here the `AbortController` is made on the first read of `signal`, already aborted if
 * the flag was set before, and internal waiters use plain callbacks.
 */
export class Abort {
  #aborted = false;
  #reason: unknown = undefined;
  #controller: AbortController | undefined;
  #listeners: Set<() => void> | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** A real signal that follows this flag (made on first read). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  /** Calls `listener` once when the flag is set (at once if it already is); returns its remover. */
  listen(listener: () => void): () => void {
    if (this.#aborted) {
      listener();
      return () => {};
    }
    const listeners = (this.#listeners ??= new Set());
    // A fresh wrapper per registration, so the same function listened twice is removed once each.
    const entry = () => listener();
    listeners.add(entry);
    return () => void listeners.delete(entry);
  }
}

/** Why a run's tool seam was aborted: one frozen Error per outcome code, built once (no stack capture per run). */
const endReasons = new Map<string, Error>();
export function runEndReason(code: string): Error {
  let reason = endReasons.get(code);
  if (reason === undefined) {
    reason = new Error(`run ended: ${code}`);
    reason.stack = reason.message;
    Object.freeze(reason);
    endReasons.set(code, reason);
  }
  return reason;
}
