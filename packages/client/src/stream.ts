import { EnclaveClientError, abortedError } from './errors.js';
import type { FollowPlan } from './follow.js';
import { eventLength, followSession } from './follow.js';
import { whenAborted } from './signals.js';
import type { EnclaveEvent, ExecutionFailure, ExecutionResult, PendingApproval, SessionStatus } from './types.js';

/**
 * A session's events, as they happen, resumed across dropped connections: iterate it with
 * `for await`, or await only `result`. Events are read whether you iterate or not, and never wait for
 * the loop: those not iterated yet are kept in memory, at most `maxBufferedEvents` of them (default
 * 10,000) and at most `maxBufferedLength` characters of their JSON (default 16 Mi, see
 * `EnclaveClientOptions`). When more arrive, the oldest unread ones give way to one `events_dropped` marker (`fromSeq`,
 * `toSeq`, `count`), as the server's own do; `client.session(id, { fromSeq: marker.payload.fromSeq - 1 })`
 * reads them again while the server keeps the session. Reading `result` before iterating says you will
 * not iterate: from then on no event is kept (iterating later starts with a marker for those that
 * passed). It can be iterated once.
 *
 * Stopping to read (the `signal` aborts, `close()`, or `break` out of the loop) leaves the session
 * running on the server, where `client.session(id)` can attach to it again, unless the stream was
 * opened with `cancelOnAbort: true`. After `close()` or `break`, iteration ends quietly; after the
 * signal aborts, it throws `EnclaveClientError` `ABORTED`. Either way `result` then rejects with
 * `ABORTED` if the final event had not arrived. The cancel that `cancelOnAbort` sends gives up after
 * `idleTimeoutMs` without an answer.
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
   * was stopped (`ABORTED`). Read before iterating, it makes the stream keep no events for an iterator.
   */
  readonly result: Promise<ExecutionResult<T>>;
  /** The seq of the last event delivered (0 before the first); resume from it with `client.session(id, { fromSeq })`. */
  readonly lastSeq: number;
  /** Events delivered and kept for the iterator, not iterated yet: at most `maxBufferedEvents` (a marker of dropped ones not counted). */
  readonly bufferedEvents: number;
  /**
   * The characters of JSON the `bufferedEvents` came as: at most `maxBufferedLength`, unless the one
   * newest event alone is longer (it is kept, so that a loop still sees the run's last events).
   */
  readonly bufferedLength: number;
  /** Cancels the session on the server (`DELETE`); the stream goes on to its `final` event, which says `ABORTED`. */
  cancel(): Promise<SessionStatus>;
  /** Stops reading (the session goes on unless `cancelOnAbort`). Iteration ends; an unsettled `result` rejects with `ABORTED`. */
  close(): void;
}

export interface EventStreamInit {
  plan: Omit<FollowPlan, 'signal' | 'onSessionId' | 'onSettled'>;
  signal: AbortSignal | undefined;
  onEvent: ((event: EnclaveEvent) => void) | undefined;
  cancelOnAbort: boolean;
  cancel: (sessionId: string, signal?: AbortSignal) => Promise<SessionStatus>;
  /** Unread events kept for the iterator; the oldest beyond it are dropped behind a marker. */
  maxBufferedEvents: number;
  /** Characters of JSON of the unread events kept; the oldest beyond it are dropped likewise, the newest event is always kept. */
  maxBufferedLength: number;
}

/** The default of `maxBufferedEvents`: far more lag than a loop that keeps up has, a few MB of small events. */
export const DEFAULT_MAX_BUFFERED_EVENTS = 10_000;

/**
 * The default of `maxBufferedLength`, 16 Mi characters of event JSON (16 MiB or more on the wire, tens
 * of MB once parsed). A loop that lags behind small events (a few hundred characters each) meets the
 * 10,000-event bound long before this one; events of megabytes (large tool results, a large `final`)
 * are kept a handful at a time instead of 10,000 of them (tens of GB). A STANDARD server's largest
 * `final` (4 MB result and 1 MB of logs) fits three times over.
 */
export const DEFAULT_MAX_BUFFERED_LENGTH = 16 * 1024 * 1024;

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
  /** Unread events from `#head` on; slots before it are emptied as they are taken. */
  #queue: (EnclaveEvent | undefined)[] = [];
  #head = 0;
  /** The characters of JSON of the unread events in `#queue`. */
  #length = 0;
  /** Stands for the unread events dropped since the iterator last took a marker; delivered before `#queue[#head]`. */
  #dropped: EnclaveEvent<'events_dropped'> | undefined;
  /** Whether events are kept for an iterator: until `result` is read first, and while iterating. */
  #keeping = true;
  #ended = false;
  #error: unknown;
  #closed = false;
  #iterated = false;
  #changed = deferred<void>();

  constructor(init: EventStreamInit) {
    this.#init = init;
    this.#lastSeq = init.plan.afterSeq;
    const signal = init.signal;
    const unwatch = signal === undefined ? undefined : whenAborted(signal, () => this.#stop(signal.reason));
    // A session attached by id (`client.session(id)`) knows it from the start, where a started one learns
    // it from the server: `sessionId`, `cancel()` and `cancelOnAbort` do not wait for an id the follower
    // never reports. After the signal's check, so a signal aborted before anything was sent sends nothing.
    if (init.plan.sessionId !== undefined) this.#learn(init.plan.sessionId);
    const events = followSession({ ...init.plan, signal: this.#reading.signal, onSessionId: (id) => this.#learn(id), onSettled: (status) => this.#settle(status) });
    void this.#pump(events).finally(() => unwatch?.());
  }

  get sessionId(): Promise<string> {
    return this.#id.promise;
  }

  get result(): Promise<ExecutionResult<T>> {
    if (!this.#iterated && this.#keeping) {
      // A caller that awaits only the result would never read what is kept: let it go now.
      this.#keeping = false;
      while (this.#head < this.#queue.length) this.#dropOldest();
    }
    return this.#result.promise;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get bufferedEvents(): number {
    return this.#queue.length - this.#head;
  }

  get bufferedLength(): number {
    return this.#length;
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
    this.#keeping = true;
    return {
      next: () => this.#next(),
      return: async () => {
        this.close();
        // The loop is over (a stream is iterated once): what it had not taken yet is let go.
        this.#keeping = false;
        this.#queue = [];
        this.#head = 0;
        this.#length = 0;
        this.#dropped = undefined;
        return { done: true, value: undefined };
      },
    };
  }

  async #next(): Promise<IteratorResult<EnclaveEvent>> {
    for (;;) {
      const marker = this.#dropped;
      if (marker !== undefined) {
        this.#dropped = undefined;
        return { done: false, value: marker };
      }
      if (this.#head < this.#queue.length) return { done: false, value: this.#take() };
      if (this.#ended) {
        const quiet = this.#closed && this.#error instanceof EnclaveClientError && this.#error.code === 'ABORTED';
        if (this.#error !== undefined && !quiet) throw this.#error;
        return { done: true, value: undefined };
      }
      await this.#changed.promise;
    }
  }

  /** The oldest unread event, out of the queue. */
  #take(): EnclaveEvent {
    const value = this.#queue[this.#head] as EnclaveEvent;
    this.#queue[this.#head++] = undefined;
    this.#length -= eventLength(value);
    if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }

  /** Drops the oldest unread event into the marker that stands for it. */
  #dropOldest(): void {
    this.#drop(this.#take());
  }

  /**
   * Widens the marker to cover `event`: its seq, and for a marker (the server's) the seqs it covers. The
   * marker keeps the seq of the first event it stands for, so it comes in order.
   */
  #drop(event: EnclaveEvent): void {
    let fromSeq = event.seq;
    let toSeq = event.seq;
    let count = 1;
    if (event.type === 'events_dropped') {
      const { fromSeq: from, toSeq: to, count: n } = event.payload;
      if (Number.isSafeInteger(from)) fromSeq = Math.min(fromSeq, from);
      toSeq = Math.max(toSeq, to);
      // A marker is no event of the run: what it stands for is.
      count = Number.isSafeInteger(n) && n > 0 ? n : 0;
    }
    const marker = this.#dropped;
    if (marker === undefined) {
      this.#dropped = { sessionId: event.sessionId, seq: event.seq, type: 'events_dropped', time: event.time, payload: { fromSeq, toSeq, count } };
      return;
    }
    // Not handed out yet: widened in place, with no allocation per dropped event.
    const p = marker.payload;
    p.fromSeq = Math.min(p.fromSeq, fromSeq);
    p.toSeq = Math.max(p.toSeq, toSeq);
    p.count += count;
  }

  /** Keeps `event` for the iterator, within the bounds, or drops it at once when nobody will iterate. */
  #keep(event: EnclaveEvent): void {
    if (!this.#keeping) return this.#drop(event);
    this.#queue.push(event);
    this.#length += eventLength(event);
    const { maxBufferedEvents, maxBufferedLength } = this.#init;
    // The newest event stays whatever its length: it may be the run's `final`.
    while (this.#queue.length - this.#head > maxBufferedEvents || (this.#length > maxBufferedLength && this.#queue.length - this.#head > 1)) this.#dropOldest();
  }

  #notify(): void {
    const changed = this.#changed;
    this.#changed = deferred<void>();
    changed.resolve();
  }

  /** A session with nothing after the reader's seq: its result from its state, as its `final` or `approval_required` would have given it. */
  #settle(status: SessionStatus): void {
    if (status.result !== undefined) this.#result.resolve(status.result as ExecutionResult<T>);
    else if (status.pendingApproval !== undefined) this.#result.resolve(pausedResult(status.pendingApproval));
  }

  #learn(id: string): void {
    this.#knownId = id;
    this.#id.resolve(id);
  }

  #stop(reason: unknown): void {
    if (this.#reading.signal.aborted || this.#ended) return;
    this.#reading.abort(reason);
    if (this.#init.cancelOnAbort && this.#knownId !== undefined) {
      // Nobody waits for this answer: a server that never gives it holds the request no longer than
      // it would hold a silent stream.
      // A timer of our own, not AbortSignal.timeout: Node may collect such a signal, and never fire it,
      // while the request is still open.
      const idle = this.#init.plan.idleTimeoutMs;
      const deadline = new AbortController();
      const timer = idle > 0 ? setTimeout(() => deadline.abort(), idle) : undefined;
      this.#init
        .cancel(this.#knownId, deadline.signal)
        .catch(() => {})
        .finally(() => clearTimeout(timer));
    }
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
        this.#keep(event);
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
