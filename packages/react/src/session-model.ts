/**
 * The state behind `useEnclaveSession`, outside React: one session followed at a time, published as
 * immutable snapshots for `useSyncExternalStore`.
 *
 * Long runs: events are not copied into a new array per event. They are collected, and a snapshot with
 * new `events` and `logs` arrays is published once per flush. A flush waits for the events of one
 * network read (a 0 ms timer) and, as the list grows, longer: 1 ms per 100 events already published, at
 * most 250 ms. Copying n events every n/100 ms bounds the copying to about 100 events per ms however long
 * the run, where a copy per event would cost O(n^2). `final`, an error and `reset` publish at once.
 *
 * Memory: `events` and `logs` keep the newest `maxEvents` / `maxLogs` entries and `maxLength`
 * characters (of each event's JSON as read; a log counts its event's); older ones fall out, counted in
 * `droppedEvents` / `droppedLogs`, with one `events_dropped` marker at the front of `events` standing for
 * the dropped events. The events collected between two flushes are held within twice the bounds.
 */
import { EnclaveClientError, eventLength } from '@enclave-kit/client';
import type { EnclaveClient, EnclaveEvent, EnclaveEventStream, ExecutionResult, FollowOptions, LogEntry, PendingApproval, RunOptions, SessionOptions } from '@enclave-kit/client';
import { BoundedList } from './bounded-list.js';

/**
 * Where the hook's session is: `idle` before `execute`, the session's state (`waiting_for_approval` while
 * its run is paused for a person's decision, see `pendingApproval`), or `error` when no result could be read.
 *
 * @example
 * ```tsx
 * const { state } = useEnclaveSession();
 * const label = { idle: 'Run', running: 'Running…', waiting_for_approval: 'Needs your approval', completed: 'Done', failed: 'Failed', cancelled: 'Cancelled', error: 'Error' }[state];
 * ```
 */
export type EnclaveSessionState = 'idle' | 'running' | 'waiting_for_approval' | 'completed' | 'failed' | 'cancelled' | 'error';

/**
 * The state `useEnclaveSession` returns (besides its functions).
 *
 * @example
 * ```tsx
 * const { isRunning, isReconnecting, logs } = useEnclaveSession();
 * if (isRunning && isReconnecting) return <p>Reconnecting… ({logs.length} lines so far)</p>;
 * ```
 */
export interface EnclaveSessionSnapshot {
  state: EnclaveSessionState;
  /** `state === 'running'`. */
  isRunning: boolean;
  /** The connection dropped and the client is about to resume (until the next event arrives). */
  isReconnecting: boolean;
  /** Known from the first event (or the response head); kept after the run ends. */
  sessionId: string | undefined;
  /**
   * The session's events so far, in seq order, each once: the newest `maxEvents` of them (within
   * `maxLength` characters), after an `events_dropped` marker standing for the older ones when some
   * were dropped (`droppedEvents`). A new array when events arrive; never mutated.
   */
  events: readonly EnclaveEvent[];
  /** The payloads of the `log` events so far: the newest `maxLogs` of them (within `maxLength` characters). */
  logs: readonly LogEntry[];
  /** Events of the session no longer in `events` (the marker at `events[0]` stands for them): 0 while all are there. */
  droppedEvents: number;
  /** Log entries no longer in `logs`, the oldest ones: 0 while all are there. */
  droppedLogs: number;
  /** The run's result once its `final` event arrived: also a run that failed (`success: false`, state `failed` or `cancelled`). */
  result: ExecutionResult | undefined;
  /** Why no result could be read (`state: 'error'`): the request was refused, the session is gone, resuming failed. Or why `cancel()`, `approve()` or `deny()` failed. */
  error: EnclaveClientError | undefined;
  /** While `state === 'waiting_for_approval'`: the call waiting (`tool`, `args` as the tool would get them, `expiresAt`). */
  pendingApproval: PendingApproval | undefined;
}

/**
 * How much of a session the snapshot keeps: the oldest events and logs beyond these fall out (see
 * `droppedEvents`, `droppedLogs`). Read when a session is started or attached to.
 *
 * @example
 * ```tsx
 * // A console view that shows the last 500 lines of output.
 * useEnclaveSession({ maxLogs: 500, maxEvents: 1_000 });
 * ```
 */
export interface SnapshotBounds {
  /** The most events in `events` (a marker of dropped ones besides). Default 10,000, the client's `maxBufferedEvents`. */
  maxEvents?: number;
  /** The most entries in `logs`. Default 10,000, the most log entries a run may make at any security level. */
  maxLogs?: number;
  /**
   * The most characters each of `events` and `logs` keeps: an event counts the JSON it came as, a log
   * entry its `log` event's. The newest entry stays whatever its length. Default 16 Mi (16,777,216), the
   * client's `maxBufferedLength`: 10,000 events of a few hundred characters fit in far less, while a
   * server that sends events of megabytes cannot make the page hold gigabytes.
   */
  maxLength?: number;
}

/** What the model needs of the hook's options at the time of a call. */
export interface ModelOptions extends Pick<FollowOptions, 'retry' | 'idleTimeoutMs' | 'format' | 'onRetry'>, SnapshotBounds {
  onEvent?: (event: EnclaveEvent) => void;
  /** An option of the hook's own it could not take (an unknown key): shown as the bounds' errors are, nothing requested. */
  refused?: EnclaveClientError;
}

export const DEFAULT_BOUNDS: Required<SnapshotBounds> = { maxEvents: 10_000, maxLogs: 10_000, maxLength: 16 * 1024 * 1024 };

/** The bounds of `options`, or the error naming the one that is not a positive integer. */
function boundsOf(options: SnapshotBounds): Required<SnapshotBounds> | EnclaveClientError {
  const bounds = { ...DEFAULT_BOUNDS };
  for (const key of Object.keys(DEFAULT_BOUNDS) as (keyof SnapshotBounds)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      return new EnclaveClientError({ code: 'CONFIG_ERROR', message: `useEnclaveSession(options): ${key} must be a positive integer${key === 'maxLength' ? ' (characters)' : ''}.` });
    }
    bounds[key] = value;
  }
  return bounds;
}

/** What the dropped events were: the seqs and the count of events of the session the marker stands for. */
interface Dropped {
  sessionId: string;
  time: number;
  fromSeq: number;
  toSeq: number;
  count: number;
}

const IDLE: EnclaveSessionSnapshot = Object.freeze({
  state: 'idle',
  isRunning: false,
  isReconnecting: false,
  sessionId: undefined,
  events: Object.freeze([]) as readonly EnclaveEvent[],
  logs: Object.freeze([]) as readonly LogEntry[],
  droppedEvents: 0,
  droppedLogs: 0,
  result: undefined,
  error: undefined,
  pendingApproval: undefined,
}) as EnclaveSessionSnapshot;

const MAX_FLUSH_DELAY_MS = 250;
/** The client's default `idleTimeoutMs`. */
const DEFAULT_IDLE_TIMEOUT_MS = 45_000;

function stateOf(result: ExecutionResult): EnclaveSessionState {
  if (result.success) return 'completed';
  return result.error.code === 'ABORTED' ? 'cancelled' : 'failed';
}

export class EnclaveSessionModel {
  #snapshot: EnclaveSessionSnapshot = IDLE;
  readonly #listeners = new Set<() => void>();
  #stream: EnclaveEventStream | undefined;
  #client: EnclaveClient | undefined;
  /** Bumped whenever the followed session changes: callbacks of an older one are ignored. */
  #generation = 0;
  #events: BoundedList<EnclaveEvent>;
  #logs: BoundedList<LogEntry>;
  /** What the dropped events were, in all; the marker published for them, and whether it is behind. */
  #dropped: Dropped | undefined;
  #marker: EnclaveEvent<'events_dropped'> | undefined;
  #markerStale = false;
  #droppedLogs = 0;
  /** The length of each log entry: its event's. */
  readonly #logLengths = new WeakMap<LogEntry, number>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** The followed stream's idle timeout: how long a cancel sent on unmount waits for its answer. */
  #idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS;

  constructor() {
    [this.#events, this.#logs] = this.#lists(DEFAULT_BOUNDS);
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  };

  readonly getSnapshot = (): EnclaveSessionSnapshot => this.#snapshot;

  /** Starts a session and follows it; resolves with its result, or undefined if it ended otherwise. */
  execute(client: EnclaveClient, code: string, run: Pick<RunOptions, 'input' | 'limits'>, options: ModelOptions): Promise<ExecutionResult | undefined> {
    return this.#follow(client, (o) => client.stream(code, { ...run, ...o }), options);
  }

  /** Follows an existing session (after a page reload, say). */
  attach(client: EnclaveClient, sessionId: string, at: Pick<SessionOptions, 'fromSeq'>, options: ModelOptions): Promise<ExecutionResult | undefined> {
    return this.#follow(client, (o) => client.session(sessionId, { ...at, ...o }), options, sessionId);
  }

  /**
   * The decision on the call the session waits on; then the run's events are followed on from where they
   * stopped (the ones so far are kept). Resolves like `execute`. Never rejects: a refusal lands in
   * `error` and the session keeps waiting, unless another decision came first (409) or the wait had
   * ended (410 `APPROVAL_EXPIRED`): the session is then followed to its end.
   */
  async decide(approved: boolean, reason: string | undefined, options: ModelOptions): Promise<ExecutionResult | undefined> {
    const client = this.#client;
    const { sessionId, pendingApproval, state, events } = this.#snapshot;
    if (client === undefined || sessionId === undefined || pendingApproval === undefined || state !== 'waiting_for_approval') return undefined;
    const generation = this.#generation;
    try {
      // The approval as shown: its digest binds the decision to that very call.
      if (approved) await client.approve(sessionId, pendingApproval);
      else await client.deny(sessionId, pendingApproval, reason);
    } catch (err) {
      if (generation !== this.#generation) return undefined;
      const code = (err as EnclaveClientError).code;
      if (code !== 'CONFLICT' && code !== 'APPROVAL_EXPIRED') {
        this.#publish({ error: err as EnclaveClientError });
        return undefined;
      }
    }
    if (generation !== this.#generation) return undefined;
    const fromSeq = events.at(-1)?.seq ?? 0;
    return this.#follow(client, (o) => client.session(sessionId, { fromSeq, ...o }), options, sessionId, true);
  }

  /** Cancels the followed session on the server; the `final` event (ABORTED) then ends it here. Never rejects: a failure lands in `error`. */
  async cancel(): Promise<void> {
    const client = this.#client;
    if (this.#snapshot.state === 'waiting_for_approval' && client !== undefined && this.#snapshot.sessionId !== undefined) {
      // Nothing reads a paused session: its end is the answer to the cancel.
      const generation = this.#generation;
      try {
        const status = await client.cancel(this.#snapshot.sessionId);
        if (generation === this.#generation && status.result !== undefined) this.#publish({ state: stateOf(status.result), result: status.result, pendingApproval: undefined, error: undefined });
      } catch (err) {
        if (generation === this.#generation) this.#publish({ error: err as EnclaveClientError });
      }
      return;
    }
    const stream = this.#stream;
    if (stream === undefined || client === undefined || this.#snapshot.state !== 'running') return;
    const generation = this.#generation;
    try {
      await stream.cancel();
    } catch (err) {
      if (generation === this.#generation && this.#snapshot.state === 'running') this.#publish({ error: err as EnclaveClientError });
    }
  }

  /** Stops following (the session goes on on the server) and goes back to `idle`. */
  reset(): void {
    this.#detach(false);
    [this.#events, this.#logs] = this.#lists(DEFAULT_BOUNDS);
    this.#set(IDLE);
  }

  /** Empty lists within `bounds`, and no drops. */
  #lists(bounds: Required<SnapshotBounds>): [BoundedList<EnclaveEvent>, BoundedList<LogEntry>] {
    this.#dropped = undefined;
    this.#marker = undefined;
    this.#markerStale = false;
    this.#droppedLogs = 0;
    const events = new BoundedList<EnclaveEvent>(bounds.maxEvents, bounds.maxLength, eventLength, (event) => this.#dropEvent(event));
    const logs = new BoundedList<LogEntry>(bounds.maxLogs, bounds.maxLength, (log) => this.#logLengths.get(log) ?? 0, () => void this.#droppedLogs++);
    return [events, logs];
  }

  /** Widens what the marker stands for by `event`: its seq, and a marker's seqs and count. */
  #dropEvent(event: EnclaveEvent): void {
    let fromSeq = event.seq;
    let toSeq = event.seq;
    let count = 1;
    if (event.type === 'events_dropped') {
      const p = event.payload;
      if (Number.isSafeInteger(p.fromSeq)) fromSeq = Math.min(fromSeq, p.fromSeq);
      toSeq = Math.max(toSeq, p.toSeq);
      count = Number.isSafeInteger(p.count) && p.count > 0 ? p.count : 0;
    }
    const d = this.#dropped;
    if (d === undefined) this.#dropped = { sessionId: event.sessionId, time: event.time, fromSeq, toSeq, count };
    else {
      // Never published: the marker is a new object made from it at the next flush.
      d.fromSeq = Math.min(d.fromSeq, fromSeq);
      d.toSeq = Math.max(d.toSeq, toSeq);
      d.count += count;
    }
    this.#markerStale = true;
  }

  /** Stops reading, e.g. on unmount; with `cancel`, the running session is cancelled too (best effort). */
  detach(cancel: boolean): void {
    this.#detach(cancel);
  }

  #detach(cancel: boolean): void {
    this.#generation++;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const stream = this.#stream;
    const client = this.#client;
    this.#stream = undefined;
    if (stream === undefined) return;
    const running = this.#snapshot.state === 'running';
    if (cancel && running && client !== undefined) {
      const id = this.#snapshot.sessionId;
      // Nobody waits for the answer: a server that never gives it holds the request no longer than a silent stream.
      const timeout = this.#idleTimeoutMs;
      const quietly = async (known: string) => {
        // A timer of our own, not AbortSignal.timeout: Node may collect such a signal, and never fire it.
        const deadline = new AbortController();
        const timer = timeout > 0 ? setTimeout(() => deadline.abort(), timeout) : undefined;
        try {
          await client.cancel(known, { signal: deadline.signal });
        } finally {
          clearTimeout(timer);
        }
      };
      if (id !== undefined) quietly(id).catch(() => {});
      else stream.sessionId.then(quietly).catch(() => {});
    }
    stream.close();
  }

  #follow(client: EnclaveClient, open: (o: FollowOptions) => EnclaveEventStream, options: ModelOptions, sessionId?: string, keep = false): Promise<ExecutionResult | undefined> {
    this.#detach(false);
    const generation = this.#generation;
    const current = () => generation === this.#generation;
    this.#client = client;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (!keep) {
      const bounds = options.refused ?? boundsOf(options);
      if (bounds instanceof EnclaveClientError) {
        [this.#events, this.#logs] = this.#lists(DEFAULT_BOUNDS);
        this.#set({ ...IDLE, state: 'error', error: bounds });
        return Promise.resolve(undefined);
      }
      [this.#events, this.#logs] = this.#lists(bounds);
    }
    // Going on after a pause keeps the lists, and what they dropped, as they were.
    const { events, logs, droppedEvents, droppedLogs } = this.#snapshot;
    const kept = keep ? { events, logs, droppedEvents, droppedLogs } : {};
    this.#set({ ...IDLE, ...kept, state: 'running', isRunning: true, sessionId });
    let stream: EnclaveEventStream;
    try {
      stream = open({
        ...(options.retry !== undefined && { retry: options.retry }),
        ...(options.idleTimeoutMs !== undefined && { idleTimeoutMs: options.idleTimeoutMs }),
        ...(options.format !== undefined && { format: options.format }),
        onEvent: (event) => {
          if (!current()) return;
          this.#events.add(event);
          if (event.type === 'log') {
            this.#logLengths.set(event.payload, eventLength(event));
            this.#logs.add(event.payload);
          }
          try {
            options.onEvent?.(event);
          } catch {
            // The component's listener failing does not stop the session.
          }
          if (this.#snapshot.sessionId === undefined || this.#snapshot.isReconnecting) this.#flush({ sessionId: event.sessionId, isReconnecting: false });
          else this.#scheduleFlush();
        },
        onRetry: (info) => {
          if (!current()) return;
          // A start cut before its first event: the id came with the answer's X-Session-Id. Shown now, it
          // stays shown if resuming fails, so the session, which runs on, can still be attached or cancelled.
          this.#flush({ isReconnecting: true, ...(this.#snapshot.sessionId === undefined && { sessionId: info.sessionId }) });
          options.onRetry?.(info);
        },
      });
    } catch (err) {
      this.#set({ ...IDLE, state: 'error', error: err as EnclaveClientError });
      return Promise.resolve(undefined);
    }
    this.#stream = stream;
    return stream.result.then(
      (result) => {
        if (!current()) return result;
        this.#stream = undefined;
        // A pause is not the run's result: the session waits, and `decide` goes on from here.
        if (!result.success && result.error.code === 'APPROVAL_REQUIRED') {
          this.#flush({ state: 'waiting_for_approval', pendingApproval: result.error.data as unknown as PendingApproval, isRunning: false, isReconnecting: false, error: undefined });
        } else this.#flush({ result, state: stateOf(result), isRunning: false, isReconnecting: false, error: undefined });
        return result;
      },
      (err: unknown) => {
        if (current()) {
          this.#stream = undefined;
          this.#flush({ state: 'error', isRunning: false, isReconnecting: false, error: err as EnclaveClientError });
        }
        return undefined;
      },
    );
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== undefined) return;
    const delay = Math.min(MAX_FLUSH_DELAY_MS, Math.floor(this.#snapshot.events.length / 100));
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush({});
    }, delay);
  }

  /** Publishes the collected events with `change`, in one snapshot. */
  #flush(change: Partial<EnclaveSessionSnapshot>): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const next = { ...this.#snapshot, ...change };
    // The oldest fall out first: the marker then says all they were.
    this.#events.settle();
    const dropped = this.#dropped;
    if (this.#markerStale && dropped !== undefined) {
      this.#markerStale = false;
      const { sessionId, time, fromSeq, toSeq, count } = dropped;
      this.#marker = { sessionId, seq: fromSeq, type: 'events_dropped', time, payload: { fromSeq, toSeq, count } };
      next.droppedEvents = count;
    }
    next.events = this.#events.publish(this.#marker);
    next.logs = this.#logs.publish();
    next.droppedLogs = this.#droppedLogs;
    this.#set(next);
  }

  #publish(change: Partial<EnclaveSessionSnapshot>): void {
    this.#set({ ...this.#snapshot, ...change });
  }

  #set(snapshot: EnclaveSessionSnapshot): void {
    this.#snapshot = snapshot;
    for (const listener of Array.from(this.#listeners)) listener();
  }
}
