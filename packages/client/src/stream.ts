import { EnclaveClientError, abortedError } from './errors.js';
import type { FollowPlan } from './follow.js';
import { followSession } from './follow.js';
import type { EnclaveEvent, ExecutionFailure, ExecutionResult, PendingApproval, SessionStatus } from './types.js';

/**
 * A session's events, as they happen, resumed across dropped connections: iterate it with
 * `for await`, or await only `result`. Events are read whether you iterate or not (those not iterated yet
 * wait in memory, at most one run's events); it can be iterated once.
 *
 * Stopping to read (the `signal` aborts, `close()`, or `break` out of the loop) leaves the session
 * running on the server, where `client.session(id)` can attach to it again, unless the stream was
 * opened with `cancelOnAbort: true`. After `close()` or `break`, iteration ends quietly; after the
 * signal aborts, it throws `EnclaveClientError` `ABORTED`. Either way `result` then rejects with
 * `ABORTED` if the final event had not arrived.
 *
 * @example
 * ```ts
 * const stream = client.stream(code, { input: { status: 'paid' } });
 * for await (const event of stream) {
 *   if (event.type === 'log') console.log(event.payload.message);
 * }
 * const result = await stream.result; // the `final` event's payload
 * ```
 */
export interface EnclaveEventStream<T = unknown> extends AsyncIterable<EnclaveEvent> {
  /** The session's id, as soon as the server tells it; rejects if the stream fails before that. */
  readonly sessionId: Promise<string>;
  /**
   * The run's result (the `final` event's payload), also for a run that failed (`success: false`). A run
   * that paused for a person's approval resolves it with code `APPROVAL_REQUIRED` (`error.data` is the
   * pending call: `callId`, `tool`, `args`, `expiresAt`) and the stream ends; after `client.approve()`
   * or `deny()`, follow the rest with `client.session(sessionId, { fromSeq: stream.lastSeq })`.
   * Rejects with `EnclaveClientError` when no result could be read: the request was refused, the
   * session is unknown or expired (404), resuming failed too often (`RETRIES_EXHAUSTED`), or reading
   * was stopped (`ABORTED`).
   */
  readonly result: Promise<ExecutionResult<T>>;
  /** The seq of the last event delivered (0 before the first); resume from it with `client.session(id, { fromSeq })`. */
  readonly lastSeq: number;
  /** Cancels the session on the server (`DELETE`); the stream goes on to its `final` event, which says `ABORTED`. */
  cancel(): Promise<SessionStatus>;
  /** Stops reading (the session goes on unless `cancelOnAbort`). Iteration ends; an unsettled `result` rejects with `ABORTED`. */
  close(): void;
}

export interface EventStreamInit {
  plan: Omit<FollowPlan, 'signal' | 'onSessionId'>;
  signal: AbortSignal | undefined;
  onEvent: ((event: EnclaveEvent) => void) | undefined;
  cancelOnAbort: boolean;
  cancel: (sessionId: string) => Promise<SessionStatus>;
}

/** The result a stream resolves with when the run pauses: not the run's end, the wait for a decision. */
function pausedResult(pending: PendingApproval): ExecutionFailure {
  return {
    success: false,
    error: { name: 'ApprovalRequired', code: 'APPROVAL_REQUIRED', message: `The run waits for a person's approval of "${pending.tool}" (call ${pending.callId}).`, data: { ...pending } },
    stats: { duration: 0, toolCallCount: 0, iterationCount: 0 },
  };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody has to await it: its rejection is not an unhandled one.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Events taken out of the queue before it is compacted. */
const COMPACT_AT = 1024;

export class EventStream<T> implements EnclaveEventStream<T> {
  readonly #id = deferred<string>();
  readonly #result = deferred<ExecutionResult<T>>();
  readonly #reading = new AbortController();
  readonly #init: EventStreamInit;
  #knownId: string | undefined;
  #lastSeq: number;
  #queue: EnclaveEvent[] = [];
  #head = 0;
  #ended = false;
  #error: unknown;
  #closed = false;
  #iterated = false;
  #changed = deferred<void>();

  constructor(init: EventStreamInit) {
    this.#init = init;
    this.#lastSeq = init.plan.afterSeq;
    const signal = init.signal;
    const onAbort = () => this.#stop(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const events = followSession({ ...init.plan, signal: this.#reading.signal, onSessionId: (id) => this.#learn(id) });
    void this.#pump(events).finally(() => signal?.removeEventListener('abort', onAbort));
  }

  get sessionId(): Promise<string> {
    return this.#id.promise;
  }

  get result(): Promise<ExecutionResult<T>> {
    return this.#result.promise;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  async cancel(): Promise<SessionStatus> {
    return this.#init.cancel(await this.#id.promise);
  }

  close(): void {
    this.#closed = true;
    this.#stop(abortedError(undefined, 'The stream was closed.'));
  }

  [Symbol.asyncIterator](): AsyncIterator<EnclaveEvent> {
    if (this.#iterated) throw new TypeError('An EnclaveEventStream can be iterated only once.');
    this.#iterated = true;
    return {
      next: () => this.#next(),
      return: async () => {
        this.close();
        return { done: true, value: undefined };
      },
    };
  }

  async #next(): Promise<IteratorResult<EnclaveEvent>> {
    for (;;) {
      if (this.#head < this.#queue.length) {
        const value = this.#queue[this.#head++] as EnclaveEvent;
        if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        return { done: false, value };
      }
      if (this.#ended) {
        const quiet = this.#closed && this.#error instanceof EnclaveClientError && this.#error.code === 'ABORTED';
        if (this.#error !== undefined && !quiet) throw this.#error;
        return { done: true, value: undefined };
      }
      await this.#changed.promise;
    }
  }

  #notify(): void {
    const changed = this.#changed;
    this.#changed = deferred<void>();
    changed.resolve();
  }

  #learn(id: string): void {
    this.#knownId = id;
    this.#id.resolve(id);
  }

  #stop(reason: unknown): void {
    if (this.#reading.signal.aborted || this.#ended) return;
    this.#reading.abort(reason);
    if (this.#init.cancelOnAbort && this.#knownId !== undefined) this.#init.cancel(this.#knownId).catch(() => {});
  }

  async #pump(events: AsyncGenerator<EnclaveEvent, void>): Promise<void> {
    try {
      for await (const event of events) {
        this.#lastSeq = event.seq;
        try {
          this.#init.onEvent?.(event);
        } catch {
          // A listener's failure is its own: the stream goes on.
        }
        this.#queue.push(event);
        this.#notify();
        if (event.type === 'final') this.#result.resolve(event.payload as ExecutionResult<T>);
        if (event.type === 'approval_required') this.#result.resolve(pausedResult(event.payload));
      }
    } catch (err) {
      this.#error = err;
      this.#result.reject(err);
      this.#id.reject(err);
    } finally {
      this.#ended = true;
      this.#notify();
    }
  }
}
