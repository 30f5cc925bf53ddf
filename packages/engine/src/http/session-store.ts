/**
 * Where sessions live: runs started by `POST {path}/sessions`, not tied to the connection that started
 * them. A session is its events (in order, replayable from any seq, followed live until `final`), its
 * state, and its owner. The HTTP core talks to a store only through this interface, so a shared store
 * (Redis, for several app instances) plugs in without touching the adapters.
 */
import { MAX_DELAY_MS, OptionChecker } from '../options.js';
import type { ApprovalRequiredPayload, EnclaveEvent, ExecutionResult } from '../types.js';

/**
 * `running` until `final`; `waiting_for_approval` while its run is paused for a person's decision (no
 * instance runs it then); the others say how it ended.
 */
export type SessionState = 'running' | 'waiting_for_approval' | 'completed' | 'failed' | 'cancelled';

/** The states a session ends in. */
export type FinalSessionState = Exclude<SessionState, 'running' | 'waiting_for_approval'>;

/** What a store keeps of a paused session (see `SessionStore.pause`). */
export interface PausedSession {
  /** The payload of its `approval_required` event: the call waiting, and when the wait ends. */
  approval: ApprovalRequiredPayload & { expiresAt: number };
  /**
   * What resuming needs (the run request and its journal), as text the HTTP core wrote. A store keeps it
   * as it is; read back, the core checks it as untrusted input.
   */
  state: string;
}

export interface SessionRecord {
  sessionId: string;
  /** The key of the user who started it (see the handler's `sessions.owner`). */
  owner: string;
  state: SessionState;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** The run's result, once it has one. */
  result?: ExecutionResult;
  /** While `waiting_for_approval`: the call waiting. */
  pendingApproval?: ApprovalRequiredPayload & { expiresAt: number };
}

export interface SessionStore {
  /** Registers a new running session; `false` if the id is taken. */
  create(session: { sessionId: string; owner: string; createdAt: number }): Promise<boolean>;
  /**
   * Appends events of a running session, in order (only the instance running it appends; never
   * `final`, which `finish` writes). A store keeps a bounded amount of events per session: older `log`
   * events give way to one `events_dropped` marker (or, in a store that trims by count, a reader that
   * resumes before the oldest kept event gets such a marker first); `final` is always kept.
   */
  append(sessionId: string, events: readonly EnclaveEvent[]): Promise<void>;
  /** Events with `seq > afterSeq`, in order, at most `limit` of them. */
  read(sessionId: string, afterSeq: number, limit: number): Promise<EnclaveEvent[]>;
  /** Calls `listener` after events are appended to the session or its state changes; returns the unsubscribe. */
  subscribe(sessionId: string, listener: () => void): () => void;
  get(sessionId: string): Promise<SessionRecord | undefined>;
  /**
   * Ends a running (or paused) session, once: appends its `final` event (the next seq, payload `result`)
   * and records its state and result in one step, only if the session has not ended. `true` if this call ended
   * it (whichever instance calls first wins). It stays readable for `ttlMs`, then expires.
   *
   * With `only`, the session ends only if, in that same step, it waits for an approval whose wait ends
   * (`pendingApproval.expiresAt`) at or before `only.waitEndsBy` (ms since the epoch; `Infinity` for any
   * wait), and, with `only.callId`, on that call (`pendingApproval.callId`): a session that a decision
   * has set running again, or that paused again on a later call, is left alone (`false`). The expiry
   * sweep and the cancel of a waiting session use it, since what they read about the session (the
   * stats of its run up to the pause, in `result`) may be out of date by the time they end it.
   */
  finish(sessionId: string, state: FinalSessionState, result: ExecutionResult, ttlMs: number, only?: { waitEndsBy: number; callId?: number }): Promise<boolean>;
  /** Asks the instance running the session to cancel it; `false` if it is not running. */
  requestCancel(sessionId: string): Promise<boolean>;
  /**
   * Where the instance running a session hears cancel requests (from any instance); returns the
   * unsubscribe. A cancel asked while the session runs, before this listener came, reaches it too (soon
   * after it subscribes): a run a decision has just resumed subscribes a moment after the store set it
   * running. One asked before the session last paused does not.
   */
  onCancel(sessionId: string, listener: () => void): () => void;
  /**
   * Optional: whether a cancel was asked while the session runs (since it last paused), answered by the
   * store itself. A run a decision resumes asks it before it starts, so that a cancel that came between
   * the decision and its listener ends it before the approved call: `onCancel`'s own late answer may come
   * after that call (a store across the network answers a moment later).
   */
  cancelAsked?(sessionId: string): Promise<boolean>;
  /**
   * The instance running a session says it is alive, for `ttlMs` more. `false` when the store holds the
   * session as ended (another instance ended it, say as `RUN_LOST`, when this one's word ran out), or no
   * longer holds it (forgotten since, so its readers were told it is lost): the instance then stops its
   * run, which must call no tool for a session said lost. Anything else: go on.
   */
  keepAlive(sessionId: string, ttlMs: number): Promise<boolean | void>;
  /** Running sessions whose instance stopped saying so (it crashed, or lost the store): `finish` them. */
  stale(): Promise<string[]>;
  /** Stops timers and listeners. */
  dispose?(): void;
  /**
   * Durable sessions (a run pauses for approvals) need the next three; a store without them gets runs
   * whose approval calls fail with `APPROVAL_REQUIRED`.
   *
   * Pauses a running session, once: appends its `approval_required` event (the next seq, payload
   * `paused.approval`) and records `waiting_for_approval` with `paused`, in one step, only if it is still
   * running. It stays until `paused.approval.expiresAt` plus `ttlMs`. `true` if this call paused it.
   */
  pause?(sessionId: string, paused: PausedSession, ttlMs: number): Promise<boolean>;
  /**
   * Takes the decision on a paused session's call, once: if it waits on `callId` and its wait has not
   * ended (`expiresAt` is still ahead, by the app's clock) it becomes `running` again (its instance then
   * says `keepAlive`, as for a new session) and the paused state comes back with the seq its events go on
   * after; `undefined` if it does not wait on that call (any more), or if its wait has ended: a decision
   * that comes too late never runs anything (the caller ends the session as `APPROVAL_EXPIRED`).
   */
  resume?(sessionId: string, callId: number, livenessMs: number): Promise<{ state: string; lastSeq: number } | undefined>;
  /**
   * A paused session's state, as `resume` would hand it back, without taking any decision; `undefined`
   * if it does not wait. Optional: the HTTP core reads from it the stats (tool calls, duration) of the run
   * before its pause, for the result of a session cancelled or expired while it waits; without it that
   * result counts nothing.
   */
  pausedState?(sessionId: string): Promise<string | undefined>;
  /** Paused sessions whose wait has ended (`expiresAt` passed): `finish` them as `APPROVAL_EXPIRED`. */
  expired?(): Promise<string[]>;
  /**
   * Per-user cap on sessions waiting for approval (the handler's `sessions.maxWaitingPerUser`): holds one
   * of `owner`'s `max` places for `sessionId` until `until` (ms since the epoch, the app's clock; a place
   * past its time frees itself). `true` if the session holds a place now (one it held already is kept,
   * until the new time), `false` if other sessions of the owner hold all `max`. Checked and taken in one
   * step, so two instances never both take the last place. The HTTP core takes one before a run pauses
   * and gives it back with `releaseWait` once the wait is decided or the session ends; a store without
   * them leaves the number of waiting sessions unbounded.
   */
  holdWait?(owner: string, sessionId: string, max: number, until: number): Promise<boolean>;
  /** Gives back the place `sessionId` held among `owner`'s waiting sessions (none held: nothing happens). */
  releaseWait?(owner: string, sessionId: string): Promise<void>;
}

export interface MemorySessionStoreOptions {
  /** Bytes of event JSON kept per session (the `final` event does not count). Default 2 MiB. */
  maxEventBytes?: number;
  /** How long a session may stay `running` before it is forgotten (a run that never ended). Default 1 hour. */
  maxRunningMs?: number;
  /**
   * Finished sessions kept per owner: when one more of an owner's sessions finishes, the owner's oldest
   * finished session is forgotten, as if it had expired (readers get 404, followers are told). Running
   * and paused sessions do not count. Default 100.
   */
  maxFinishedPerOwner?: number;
  /**
   * Bytes of finished sessions kept in all: the JSON of every kept event, `final` included, plus 1 KiB
   * a session for the rest of what it takes. While a finish takes the total beyond this, the oldest
   * finished session of the owner holding the most bytes is forgotten, so one user's results make way
   * for nobody's but their own unless another holds more. The session that just finished is never the
   * one forgotten (its readers get its `final`): the total stays within this plus that one session,
   * which the engine's `maxOutputBytes`, `maxLogBytes` and `maxEventBytes` bound. Default 64 MiB.
   */
  maxFinishedBytes?: number;
  /**
   * Sessions waiting for an approval in all, whoever owns them (the places `holdWait` gives; the HTTP
   * core's `sessions.maxWaitingPerUser` bounds each owner's): past it, a call that needs approval does
   * not pause its run, it fails in the script with `APPROVAL_REQUIRED`, as past the per-user cap. Each
   * waiting session keeps its paused run (its journal, at most `sessions.maxJournalBytes`, and its
   * request) for up to `sessions.maxPauseDuration`, so without it as many users as `authenticate`
   * admits could fill the heap. Default 1,000.
   */
  maxWaiting?: number;
  /**
   * Bytes that sessions waiting for an approval keep in all: each one's paused run (its journal and
   * request, as the HTTP core wrote them), the approval shown and its events. A count alone did not bound
   * the heap: one paused run may keep `sessions.maxJournalBytes` of tool replies, its events and
   * arguments of up to 1 MiB, about 12 MiB in all, so the default thousand of them was 12 GiB. While the
   * total is at or past this, a call that needs approval does not pause its run (it fails in the script
   * with `APPROVAL_REQUIRED`, as past `maxWaiting`), and a run that asked before it filled up is not
   * kept (`pause()` answers `false`; the HTTP core ends that session as `JOURNAL_LIMIT_EXCEEDED`). The
   * pause that fills it is kept whole: the total stays within this plus one paused run. Default 256 MiB.
   */
  maxWaitingBytes?: number;
}

interface Entry {
  record: SessionRecord;
  /** What a paused session's resumption needs. */
  paused: string | undefined;
  /** Until when the instance running it said it is alive. */
  aliveUntil: number;
  /** The highest seq appended (kept or since dropped). */
  lastSeq: number;
  events: EnclaveEvent[];
  /** Bytes of the kept events other than `final`. */
  bytes: number;
  /** Once finished: the bytes it counts for among the finished sessions (its events, `final` included, and the overhead). */
  held: number;
  /** While it waits for an approval: the bytes it counts for among the waiting sessions (see `maxWaitingBytes`). */
  waiting: number;
  listeners: Set<() => void>;
  cancelListeners: Set<() => void>;
  /**
   * A cancel asked while it runs, until it pauses or ends: a run that starts listening after it (one a
   * decision has just set running, which starts a moment later) hears it then, as from Redis's flag.
   */
  cancelAsked: boolean;
  expiry: NodeJS.Timeout | undefined;
}

const MB = 1024 * 1024;
/** What a finished session takes besides its events' JSON (its entry, record, timer and maps), roughly. */
const SESSION_OVERHEAD_BYTES = 1024;

function isFinal(state: SessionState): state is FinalSessionState {
  return state !== 'running' && state !== 'waiting_for_approval';
}

/** An owner's finished sessions, oldest first (a Map keeps the order they finished in), and their bytes. */
interface Held {
  sessions: Map<string, Entry>;
  bytes: number;
}

/** Characters of a value's JSON: what keeping it costs, roughly (1 KiB for one JSON cannot write). */
function jsonLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return 1024;
  }
}

/**
 * The part of a marker a reader resuming after `afterSeq` (inside its span) has not had: the dropped
 * seqs after it. Only `log` events are dropped and seqs have no gaps, so a seq in the span is either a
 * kept event or a dropped one. The part's seq is its first dropped one, a seq no kept event has.
 */
function droppedAfter(marker: EnclaveEvent<'events_dropped'>, afterSeq: number, events: readonly EnclaveEvent[]): EnclaveEvent<'events_dropped'> | undefined {
  const { toSeq } = marker.payload;
  const kept = new Set<number>();
  for (const event of events) if (event !== marker && event.seq > afterSeq && event.seq <= toSeq) kept.add(event.seq);
  let fromSeq = afterSeq + 1;
  while (kept.has(fromSeq)) fromSeq++;
  const count = toSeq - afterSeq - kept.size;
  if (count <= 0 || fromSeq > toSeq) return undefined;
  return { sessionId: marker.sessionId, seq: fromSeq, type: 'events_dropped', time: marker.time, payload: { fromSeq, toSeq, count } };
}

/**
 * Sessions in this process's memory: the default store, for one app instance. Every session expires:
 * a finished one `ttlMs` after it finished, a running one after `maxRunningMs`. What finished sessions
 * keep is bounded per owner (`maxFinishedPerOwner`) and in all (`maxFinishedBytes`): a finished session
 * may be forgotten before its time, oldest first, from the owner holding the most.
 *
 * @example
 * ```ts
 * app.use(enclave({ tools, sessions: { store: new MemorySessionStore({ maxFinishedBytes: 256 * 1024 * 1024 }) } }));
 * ```
 * Defaults: 2 MiB of events per session, a running session kept at most 1 hour, 100 finished sessions
 * per owner, 64 MiB of finished sessions in all, 1,000 sessions waiting for an approval in all, and
 * 256 MiB of what they keep.
 */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, Entry>();
  /** Places of sessions waiting for approval, by owner: session id -> until when the place is held. */
  readonly #waits = new Map<string, Map<string, number>>();
  /** Finished sessions by owner. */
  readonly #finished = new Map<string, Held>();
  /** Bytes of all finished sessions held. */
  #finishedBytes = 0;
  /** Bytes of all sessions waiting for an approval (see `maxWaitingBytes`). */
  #waitingBytes = 0;
  readonly #maxEventBytes: number;
  readonly #maxRunningMs: number;
  readonly #maxFinishedPerOwner: number;
  readonly #maxFinishedBytes: number;
  readonly #maxWaiting: number;
  readonly #maxWaitingBytes: number;

  constructor(options: MemorySessionStoreOptions = {}) {
    const check = new OptionChecker('new MemorySessionStore(options)');
    const o = check.object('options', options) ?? {};
    check.knownKeys('', o, ['maxEventBytes', 'maxRunningMs', 'maxFinishedPerOwner', 'maxFinishedBytes', 'maxWaiting', 'maxWaitingBytes']);
    this.#maxWaiting = check.positiveInteger('maxWaiting', o.maxWaiting) ?? 1000;
    this.#maxWaitingBytes = check.positiveInteger('maxWaitingBytes', o.maxWaitingBytes, 'bytes') ?? 256 * MB;
    this.#maxEventBytes = check.positiveInteger('maxEventBytes', o.maxEventBytes, 'bytes') ?? 2 * MB;
    this.#maxRunningMs = check.positiveInteger('maxRunningMs', o.maxRunningMs, 'ms') ?? 60 * 60_000;
    this.#maxFinishedPerOwner = check.positiveInteger('maxFinishedPerOwner', o.maxFinishedPerOwner) ?? 100;
    this.#maxFinishedBytes = check.positiveInteger('maxFinishedBytes', o.maxFinishedBytes, 'bytes') ?? 64 * MB;
  }

  async create(session: { sessionId: string; owner: string; createdAt: number }): Promise<boolean> {
    if (this.#sessions.has(session.sessionId)) return false;
    const entry: Entry = { record: { ...session, state: 'running' }, paused: undefined, aliveUntil: Infinity, lastSeq: 0, events: [], bytes: 0, held: 0, waiting: 0, listeners: new Set(), cancelListeners: new Set(), cancelAsked: false, expiry: undefined };
    this.#sessions.set(session.sessionId, entry);
    this.#expireIn(session.sessionId, entry, this.#maxRunningMs);
    return true;
  }

  async append(sessionId: string, events: readonly EnclaveEvent[]): Promise<void> {
    const entry = this.#sessions.get(sessionId);
    // Nothing after the end: what a finished session holds is counted once, when it finishes.
    if (!entry || isFinal(entry.record.state)) return;
    for (const event of events) {
      entry.events.push(event);
      entry.lastSeq = Math.max(entry.lastSeq, event.seq);
      if (event.type !== 'final') entry.bytes += jsonLength(event);
    }
    if (entry.bytes > this.#maxEventBytes) this.#trim(entry);
    this.#notify(entry);
  }

  /** Drops the oldest `log` events until the session fits its budget again, behind one marker. */
  #trim(entry: Entry): void {
    const kept: EnclaveEvent[] = [];
    let marker: EnclaveEvent<'events_dropped'> | undefined;
    for (const event of entry.events) {
      if (event.type === 'events_dropped') {
        marker = event;
        kept.push(event);
        continue;
      }
      if (entry.bytes > this.#maxEventBytes && event.type === 'log') {
        entry.bytes -= jsonLength(event);
        if (marker === undefined) {
          marker = { sessionId: event.sessionId, seq: event.seq, type: 'events_dropped', time: event.time, payload: { fromSeq: event.seq, toSeq: event.seq, count: 0 } };
          entry.bytes += jsonLength(marker);
          kept.push(marker);
        }
        marker.payload.toSeq = Math.max(marker.payload.toSeq, event.seq);
        marker.payload.count++;
        continue;
      }
      kept.push(event);
    }
    entry.events = kept;
  }

  async read(sessionId: string, afterSeq: number, limit: number): Promise<EnclaveEvent[]> {
    const events = this.#sessions.get(sessionId)?.events;
    if (!events) return [];
    const out: EnclaveEvent[] = [];
    /** What a reader resuming inside the marker's span missed, placed in seq order among the rest. */
    let gap: EnclaveEvent<'events_dropped'> | undefined;
    for (const event of events) {
      if (out.length >= limit) break;
      if (event.seq > afterSeq) {
        if (gap !== undefined && event.seq > gap.seq) {
          out.push(gap);
          gap = undefined;
          if (out.length >= limit) break;
        }
        out.push(event);
      } else if (event.type === 'events_dropped' && (event as EnclaveEvent<'events_dropped'>).payload.toSeq > afterSeq) {
        gap = droppedAfter(event as EnclaveEvent<'events_dropped'>, afterSeq, events);
      }
    }
    if (gap !== undefined && out.length < limit) out.push(gap);
    return out;
  }

  subscribe(sessionId: string, listener: () => void): () => void {
    const entry = this.#sessions.get(sessionId);
    if (!entry) return () => {};
    entry.listeners.add(listener);
    return () => void entry.listeners.delete(listener);
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const record = this.#sessions.get(sessionId)?.record;
    return record === undefined ? undefined : { ...record };
  }

  async finish(sessionId: string, state: FinalSessionState, result: ExecutionResult, ttlMs: number, only?: { waitEndsBy: number; callId?: number }): Promise<boolean> {
    const entry = this.#sessions.get(sessionId);
    if (!entry || isFinal(entry.record.state)) return false;
    if (only !== undefined && !(entry.record.state === 'waiting_for_approval' && (entry.record.pendingApproval?.expiresAt ?? Infinity) <= only.waitEndsBy)) return false;
    if (only?.callId !== undefined && entry.record.pendingApproval?.callId !== only.callId) return false;
    entry.lastSeq++;
    const final: EnclaveEvent<'final'> = { sessionId, seq: entry.lastSeq, type: 'final', time: Date.now(), payload: result };
    entry.events.push(final);
    const { pendingApproval: _, ...record } = entry.record;
    entry.record = { ...record, state, result };
    entry.paused = undefined;
    this.#unwait(entry);
    entry.cancelListeners.clear();
    entry.cancelAsked = false;
    this.#expireIn(sessionId, entry, ttlMs);
    this.#hold(sessionId, entry, entry.bytes + jsonLength(final) + SESSION_OVERHEAD_BYTES);
    this.#notify(entry);
    return true;
  }

  /** Counts a session that just finished, then forgets older ones until the owner's and the total cap hold again. */
  #hold(sessionId: string, entry: Entry, bytes: number): void {
    const { owner } = entry.record;
    let held = this.#finished.get(owner);
    if (held === undefined) this.#finished.set(owner, (held = { sessions: new Map(), bytes: 0 }));
    entry.held = bytes;
    held.sessions.set(sessionId, entry);
    held.bytes += bytes;
    this.#finishedBytes += bytes;
    while (held.sessions.size > this.#maxFinishedPerOwner) this.#forgetOldest(held);
    while (this.#finishedBytes > this.#maxFinishedBytes) {
      let heaviest = held;
      for (const other of this.#finished.values()) if (other.bytes > heaviest.bytes) heaviest = other;
      // Only the session that just finished is left to forget: it stays, its readers get its `final`.
      if (heaviest.sessions.keys().next().value === sessionId) break;
      this.#forgetOldest(heaviest);
    }
  }

  #forgetOldest(held: Held): void {
    const [sessionId, entry] = held.sessions.entries().next().value as [string, Entry];
    this.#forget(sessionId, entry);
  }

  /** Takes a finished session out of the counts (it expired or was forgotten). */
  #release(sessionId: string, entry: Entry): void {
    const { owner } = entry.record;
    const held = this.#finished.get(owner);
    if (held === undefined || held.sessions.get(sessionId) !== entry) return;
    held.sessions.delete(sessionId);
    held.bytes -= entry.held;
    this.#finishedBytes -= entry.held;
    if (held.sessions.size === 0) this.#finished.delete(owner);
  }

  async pause(sessionId: string, paused: PausedSession, ttlMs: number): Promise<boolean> {
    const entry = this.#sessions.get(sessionId);
    if (!entry || entry.record.state !== 'running') return false;
    // Full: no more (a place taken before it filled up). The one that fills it is kept whole, so the total
    // stays within the cap plus one paused run.
    if (this.#waitingBytes >= this.#maxWaitingBytes) return false;
    // What it will keep while it waits: its events, the paused run, and the approval (in its event and its record).
    const bytes = entry.bytes + paused.state.length + 2 * jsonLength(paused.approval);
    entry.waiting = bytes;
    this.#waitingBytes += bytes;
    entry.lastSeq++;
    entry.events.push({ sessionId, seq: entry.lastSeq, type: 'approval_required', time: Date.now(), payload: paused.approval });
    entry.record = { ...entry.record, state: 'waiting_for_approval', pendingApproval: paused.approval };
    entry.paused = paused.state;
    entry.cancelListeners.clear();
    entry.cancelAsked = false;
    this.#expireIn(sessionId, entry, Math.max(0, paused.approval.expiresAt - Date.now()) + ttlMs);
    this.#notify(entry);
    return true;
  }

  async resume(sessionId: string, callId: number, livenessMs: number): Promise<{ state: string; lastSeq: number } | undefined> {
    const entry = this.#sessions.get(sessionId);
    if (!entry || entry.record.state !== 'waiting_for_approval' || entry.record.pendingApproval?.callId !== callId || entry.paused === undefined) return undefined;
    // Too late: the wait has ended, whether or not a sweep has ended the session yet.
    if (entry.record.pendingApproval.expiresAt <= Date.now()) return undefined;
    const state = entry.paused;
    const { pendingApproval: _, ...record } = entry.record;
    entry.record = { ...record, state: 'running' };
    entry.paused = undefined;
    this.#unwait(entry);
    entry.aliveUntil = Date.now() + livenessMs;
    this.#expireIn(sessionId, entry, this.#maxRunningMs);
    this.#notify(entry);
    return { state, lastSeq: entry.lastSeq };
  }

  async pausedState(sessionId: string): Promise<string | undefined> {
    const entry = this.#sessions.get(sessionId);
    return entry?.record.state === 'waiting_for_approval' ? entry.paused : undefined;
  }

  async expired(): Promise<string[]> {
    const now = Date.now();
    const out: string[] = [];
    for (const [id, entry] of this.#sessions) if (entry.record.state === 'waiting_for_approval' && (entry.record.pendingApproval?.expiresAt ?? 0) <= now) out.push(id);
    return out;
  }

  async holdWait(owner: string, sessionId: string, max: number, until: number): Promise<boolean> {
    // Counting the places held in all lets go of those past their time, this owner's among them.
    const held = this.#waiting(Date.now());
    const places = this.#waits.get(owner) ?? new Map<string, number>();
    if (!places.has(sessionId) && (places.size >= max || held >= this.#maxWaiting || this.#waitingBytes >= this.#maxWaitingBytes)) return false;
    places.set(sessionId, until);
    this.#waits.set(owner, places);
    return true;
  }

  /** A session that waited no longer does: what it kept leaves the waiting sessions' bytes. */
  #unwait(entry: Entry): void {
    this.#waitingBytes -= entry.waiting;
    entry.waiting = 0;
  }

  /** Places held in all, those past their time let go first. */
  #waiting(now: number): number {
    let held = 0;
    for (const [owner, places] of this.#waits) {
      for (const [id, end] of places) if (end <= now) places.delete(id);
      if (places.size === 0) this.#waits.delete(owner);
      held += places.size;
    }
    return held;
  }

  async releaseWait(owner: string, sessionId: string): Promise<void> {
    const places = this.#waits.get(owner);
    if (places === undefined) return;
    places.delete(sessionId);
    if (places.size === 0) this.#waits.delete(owner);
  }

  async keepAlive(sessionId: string, ttlMs: number): Promise<false | undefined> {
    const entry = this.#sessions.get(sessionId);
    // Ended, or gone (forgotten after it ended, or after maxRunningMs): nothing the run does is its any more.
    if (entry === undefined || entry.record.state !== 'running') return false;
    entry.aliveUntil = Date.now() + ttlMs;
    return undefined;
  }

  async stale(): Promise<string[]> {
    const now = Date.now();
    const out: string[] = [];
    for (const [id, entry] of this.#sessions) if (entry.record.state === 'running' && entry.aliveUntil < now) out.push(id);
    return out;
  }

  async requestCancel(sessionId: string): Promise<boolean> {
    const entry = this.#sessions.get(sessionId);
    if (!entry || entry.record.state !== 'running') return false;
    entry.cancelAsked = true;
    // A copy: a listener may unsubscribe while we go through them.
    for (const listener of Array.from(entry.cancelListeners)) listener();
    return true;
  }

  onCancel(sessionId: string, listener: () => void): () => void {
    const entry = this.#sessions.get(sessionId);
    if (!entry) return () => {};
    entry.cancelListeners.add(listener);
    // Asked before this listener came (never during the call that subscribes it).
    if (entry.cancelAsked) queueMicrotask(() => entry.cancelListeners.has(listener) && listener());
    return () => void entry.cancelListeners.delete(listener);
  }

  async cancelAsked(sessionId: string): Promise<boolean> {
    return this.#sessions.get(sessionId)?.cancelAsked === true;
  }

  dispose(): void {
    for (const entry of this.#sessions.values()) clearTimeout(entry.expiry);
    this.#sessions.clear();
    this.#waits.clear();
    this.#finished.clear();
    this.#finishedBytes = 0;
    this.#waitingBytes = 0;
  }

  /** Sessions held now (for operators and tests). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Bytes the finished sessions held now count for (see `maxFinishedBytes`; for operators and tests). */
  get finishedBytes(): number {
    return this.#finishedBytes;
  }

  /** Bytes the sessions waiting for an approval keep now (see `maxWaitingBytes`; for operators and tests). */
  get waitingBytes(): number {
    return this.#waitingBytes;
  }

  #expireIn(sessionId: string, entry: Entry, ms: number): void {
    clearTimeout(entry.expiry);
    // A month-long wait for an approval is waited in steps: Node fires a longer timer after 1 ms.
    const step = Math.min(ms, MAX_DELAY_MS);
    entry.expiry = setTimeout(() => (ms > step ? this.#expireIn(sessionId, entry, ms - step) : this.#forget(sessionId, entry)), step);
    entry.expiry.unref();
  }

  /** The session is gone, at its expiry or before it (a cap on finished sessions). */
  #forget(sessionId: string, entry: Entry): void {
    if (this.#sessions.get(sessionId) !== entry) return;
    clearTimeout(entry.expiry);
    this.#sessions.delete(sessionId);
    this.#release(sessionId, entry);
    this.#unwait(entry);
    // A place among its owner's waiting sessions goes with the session.
    void this.releaseWait(entry.record.owner, sessionId);
    // Followers waiting for more learn that there is none.
    this.#notify(entry);
  }

  #notify(entry: Entry): void {
    for (const listener of Array.from(entry.listeners)) {
      try {
        listener();
      } catch {
        // A follower's failure is its own.
      }
    }
  }
}
