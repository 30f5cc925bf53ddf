/**
 * Following a session's events across dropped connections: read the stream, and when it breaks off
 * before `final`, reconnect to `{url}/sessions/{id}/events` with `Last-Event-ID` set to the last seq
 * delivered, after an exponential backoff with jitter, within a bounded number of attempts in a row
 * that bring no new event. Every event is delivered once and in seq order, whatever the server replays.
 */
import { EnclaveClientError, abortedError } from './errors.js';
import { errorOf, isPendingApproval, isResult, isSessionId } from './http.js';
import { NdjsonParser } from './ndjson.js';
import { SseParser } from './sse.js';
import type { SseMessage } from './sse.js';
import type { EnclaveEvent, EnclaveEventType, SessionStatus } from './types.js';

/** The wire format of a stream: Server-Sent Events, or one JSON event a line. */
export type StreamFormat = 'sse' | 'ndjson';

/**
 * How a stream resumes after its connection breaks. The n-th attempt in a row waits
 * `min(maxDelayMs, initialDelayMs * factor^(n-1))`, of which a random half (jitter, so that many
 * clients cut off together do not come back together), and at least a 429/503's `Retry-After`.
 *
 * @example
 * ```ts
 * // Patient: up to 20 attempts without progress, 0.5 s doubling to 30 s.
 * createEnclaveClient({ url, retry: { maxRetries: 20, initialDelayMs: 500, maxDelayMs: 30_000 } });
 * ```
 */
export interface RetryPolicy {
  /** Attempts in a row that bring no new event before the stream fails with `RETRIES_EXHAUSTED`. Default 8; 0 never resumes. */
  maxRetries?: number;
  /** The first wait, in ms. Default: the server's SSE `retry:` field when it sent one, else 1,000. */
  initialDelayMs?: number;
  /** The longest wait, in ms. Default 15,000. */
  maxDelayMs?: number;
  /** Growth of the wait per attempt. Default 2. */
  factor?: number;
}

/**
 * What `onRetry` hears before each reconnection attempt.
 *
 * @example
 * ```ts
 * client.stream(code, { onRetry: ({ attempt, delayMs, error }) => console.warn(`retry ${attempt} in ${delayMs} ms: ${error.message}`) });
 * ```
 */
export interface RetryInfo {
  sessionId: string;
  /** 1 for the first attempt after a failure, counting up while attempts bring no new event. */
  attempt: number;
  /** How long the client waits before this attempt. */
  delayMs: number;
  /** Why the previous connection ended. */
  error: EnclaveClientError;
  /** The last seq delivered: the attempt asks for the events after it. */
  lastSeq: number;
}

export const DEFAULT_RETRY = { maxRetries: 8, maxDelayMs: 15_000, factor: 2 } as const;
const DEFAULT_INITIAL_DELAY_MS = 1_000;
/** Statuses worth another attempt: the server or a proxy is busy or failing, not refusing. */
/** Statuses a reconnection retries: a timeout, too early, too many, and any server or gateway error (a CDN's 520-524 too). */
const retryable = (status: number) => status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);

const EVENT_TYPES: ReadonlySet<string> = new Set<EnclaveEventType>(['session_init', 'log', 'tool_call', 'tool_result', 'heartbeat', 'final', 'approval_required', 'events_dropped']);

/**
 * Delivers events once and in order. Replays of events already delivered are dropped; seqs that never
 * come (the server dropped them to stay within its byte budget, and its marker fell before the resume
 * point) are announced by an `events_dropped` event of the client's own, numbered like the server's
 * markers (its seq is the first missing one), so every seq is either delivered or covered by a marker.
 */
export class EventSequencer {
  /** The last seq delivered (or skipped as a type this client does not know). */
  last: number;
  /** The highest seq an `events_dropped` marker covered. */
  #covered: number;

  constructor(afterSeq: number) {
    this.last = afterSeq;
    this.#covered = afterSeq;
  }

  /** The events to deliver for one received event: none for a replay, a marker before it for a gap. */
  accept(event: EnclaveEvent): EnclaveEvent[] {
    if (event.seq <= this.last) return [];
    const out: EnclaveEvent[] = [];
    const firstMissing = Math.max(this.last, this.#covered) + 1;
    if (event.seq > firstMissing) {
      out.push({ sessionId: event.sessionId, seq: firstMissing, type: 'events_dropped', time: event.time, payload: { fromSeq: firstMissing, toSeq: event.seq - 1, count: event.seq - firstMissing } });
      this.#covered = event.seq - 1;
    }
    if (event.type === 'events_dropped') this.#covered = Math.max(this.#covered, event.payload.toSeq);
    this.last = event.seq;
    if (EVENT_TYPES.has(event.type)) out.push(event);
    return out;
  }
}

/** Replays of delivered events one connection may bring beyond one of each seq: overlaps of a replay and the live events. */
const REPLAY_SLACK = 1024;

/** What each event read off the wire took there, in characters of JSON. */
const wireLengths = new WeakMap<EnclaveEvent, number>();

/** What a marker the client makes itself stands for in a buffer: about its JSON's length. */
const MADE_EVENT_LENGTH = 128;

/**
 * The characters of JSON an event delivered by a client's stream came as on the wire (each at least one
 * byte there): what `maxBufferedLength` and the React hook's `maxLength` measure. An event the client
 * made itself (a marker for missing seqs), or that no stream of this copy of the client read, counts as
 * 128, about what a small event takes.
 *
 * @example
 * ```ts
 * let received = 0;
 * client.stream(code, { onEvent: (event) => (received += eventLength(event)) });
 * ```
 */
export function eventLength(event: EnclaveEvent): number {
  return wireLengths.get(event) ?? MADE_EVENT_LENGTH;
}

/** A failure no further attempt can mend. */
class Fatal {
  constructor(readonly error: EnclaveClientError) {}
}

/** A refusal a reconnection retries, whatever its body: a gateway's 502 page is as passing as our own 503. */
class Passing {
  constructor(readonly error: EnclaveClientError) {}
}

function badEvent(message: string): EnclaveClientError {
  return new EnclaveClientError({ code: 'BAD_RESPONSE', message: `Malformed event from the server: ${message}` });
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Checks the shape the sequencer relies on, and the payloads the client and its users read: every known
 * type's payload is an object, `final`'s is an `ExecutionResult`, `approval_required`'s names its call
 * and tool. A payload of another shape would otherwise become the stream's result (a `null` result, a
 * TypeError where the result is read) instead of an error.
 */
export function asEvent(value: unknown, sessionId: string | undefined): EnclaveEvent {
  if (value === null || typeof value !== 'object') throw badEvent('not an object.');
  const e = value as Record<string, unknown>;
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 1) throw badEvent('seq is not a positive integer.');
  if (typeof e.type !== 'string' || typeof e.sessionId !== 'string' || typeof e.time !== 'number' || !('payload' in e)) throw badEvent('type, sessionId, time or payload missing.');
  if (!isSessionId(e.sessionId)) throw badEvent('sessionId is not a session id.');
  if (sessionId !== undefined && e.sessionId !== sessionId) throw badEvent(`an event of session ${e.sessionId} in the stream of ${sessionId}.`);
  if (!EVENT_TYPES.has(e.type)) return value as EnclaveEvent;
  const p = e.payload;
  const shaped =
    isRecord(p) &&
    (e.type === 'final'
      ? isResult(p)
      : e.type === 'approval_required'
        ? isPendingApproval(p)
        : e.type !== 'events_dropped' || Number.isSafeInteger(p.toSeq));
  if (!shaped) throw badEvent(`the payload of a ${e.type} event is not of its shape.`);
  return value as EnclaveEvent;
}

/** Waits `ms`, or rejects with `ABORTED` when `signal` aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortedError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The longest wait a timer takes: `setTimeout` fires a longer one after 1 ms (Node warns; browsers do
 * not), so a server's `Retry-After` of a month would have been a retry at once.
 */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** The wait before attempt `attempt` (1-based): exponential, capped, half of it random, at least `Retry-After`, at most the longest timer. */
export function backoffDelay(attempt: number, policy: { initialDelayMs: number; maxDelayMs: number; factor: number }, retryAfterS?: number, random = Math.random): number {
  const full = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (attempt - 1));
  const jittered = full / 2 + random() * (full / 2);
  return Math.min(LONGEST_TIMER_MS, Math.round(retryAfterS === undefined ? jittered : Math.max(jittered, retryAfterS * 1000)));
}

/** A value read off the wire, and the characters of JSON it came as. */
interface Raw {
  value: unknown;
  length: number;
}

/** Raw events from a response body, parsed as they arrive; ends when the body ends or breaks. */
const STREAM_TYPES: Record<StreamFormat, string> = { sse: 'text/event-stream', ndjson: 'application/x-ndjson' };

/** The media type of a `Content-Type` (lower case, parameters left out), or undefined without one. */
function mediaType(header: string | null): string | undefined {
  const type = header?.split(';', 1)[0]?.trim().toLowerCase();
  return type === '' ? undefined : type;
}

async function* readBody(body: ReadableStream<Uint8Array>, format: StreamFormat, onData: () => void, sse: SseParser, maxEventLength: number, signal: AbortSignal): AsyncGenerator<Raw> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const ndjson = format === 'ndjson' ? new NdjsonParser({ maxEventLength }) : undefined;
  // The connection's abort (stop, idle timeout) ends a pending read here, whether or not the fetch
  // implementation ties its body to the signal.
  const onAbort = () => void reader.cancel().catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal.aborted) throw new Error('The connection was aborted.');
      const { done, value } = await reader.read();
      if (signal.aborted) throw new Error('The connection was aborted.');
      if (done) break;
      onData();
      const text = decoder.decode(value, { stream: true });
      if (ndjson) {
        let values: unknown[];
        try {
          values = ndjson.feed(text);
        } catch (err) {
          throw badEvent((err as Error).message);
        }
        const lengths = ndjson.lineLengths;
        for (let i = 0; i < values.length; i++) yield { value: values[i], length: lengths[i] ?? 0 };
        continue;
      }
      let messages: SseMessage[];
      try {
        messages = sse.feed(text);
      } catch (err) {
        throw badEvent((err as Error).message);
      }
      for (const message of messages) {
        if (message.data.trim() === '') continue;
        try {
          yield { value: JSON.parse(message.data) as unknown, length: message.data.length };
        } catch {
          throw badEvent(`data that is not JSON (event "${message.type}").`);
        }
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // What was left mid-event or mid-line is a cut, never an event: the next connection replays it.
    sse.end();
    ndjson?.end();
    reader.cancel().catch(() => {});
  }
}

export interface FollowPlan {
  /** Known up front when attaching; learned from `X-Session-Id` or the first event when starting. */
  sessionId: string | undefined;
  /** Deliver events after this seq. */
  afterSeq: number;
  format: StreamFormat;
  retry: Required<Omit<RetryPolicy, 'initialDelayMs'>> & { initialDelayMs: number | undefined };
  /** 0: never. */
  idleTimeoutMs: number;
  /** The longest event read, in characters: a longer one is `BAD_RESPONSE`, never retried. */
  maxEventLength: number;
  /** Aborted when the reader stops (signal, `close()`, `break`). */
  signal: AbortSignal;
  /** The first connection when starting a session (`POST {url}/sessions`); its failures are not retried. */
  start?: (signal: AbortSignal) => Promise<Response>;
  /** A connection to `{url}/sessions/{id}/events` for the events after `afterSeq`. */
  reconnect: (sessionId: string, afterSeq: number, signal: AbortSignal) => Promise<Response>;
  onSessionId?: (sessionId: string) => void;
  onRetry?: ((info: RetryInfo) => void) | undefined;
  /**
   * The session's state (`GET {url}/sessions/{id}`), asked when a connection ends before `final` with
   * nothing new: a reader at or past the end of a session that has ended (or paused) gets no events,
   * and would otherwise retry until it gives up.
   */
  status?: (sessionId: string, signal: AbortSignal) => Promise<SessionStatus>;
  /** Called, instead of an event, with the state of a session that has nothing after the reader's seq and will have nothing more. */
  onSettled?: (status: SessionStatus) => void;
}

/**
 * The events of a session, once each and in order, until `final` or `approval_required` (the last item). Throws
 * `EnclaveClientError`: the server's refusal (404 for an unknown or expired session, 401, 403, 400),
 * `ABORTED` when the plan's signal aborts, `RETRIES_EXHAUSTED` when resuming failed too often in a row,
 * and `NETWORK_ERROR` when a started session's first connection fails before its id is known.
 */
export async function* followSession(plan: FollowPlan): AsyncGenerator<EnclaveEvent, void> {
  const sequencer = new EventSequencer(plan.afterSeq);
  // One parser for every connection: an SSE `retry:` the server sent earlier stays known.
  const sse = new SseParser({ maxEventLength: plan.maxEventLength });
  let sessionId = plan.sessionId;
  const learn = (id: string) => {
    if (sessionId !== undefined) return;
    sessionId = id;
    plan.onSessionId?.(id);
  };
  let start = plan.start;
  let failures = 0;
  /** The state of a session found ended after a connection that brought nothing: confirmed by one more connection that brings nothing. */
  let settled: SessionStatus | undefined;
  for (;;) {
    const connection = new AbortController();
    const stop = () => connection.abort(plan.signal.reason);
    plan.signal.addEventListener('abort', stop, { once: true });
    // A signal that aborted before this connection (even before the first) fires no event.
    if (plan.signal.aborted) stop();
    let idle: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      if (plan.idleTimeoutMs <= 0) return;
      clearTimeout(idle);
      idle = setTimeout(() => connection.abort(new EnclaveClientError({ code: 'NETWORK_ERROR', message: `No data for ${plan.idleTimeoutMs} ms.` })), plan.idleTimeoutMs);
    };
    let progressed = false;
    let failure: EnclaveClientError;
    try {
      const first = start;
      start = undefined;
      if (first === undefined && sessionId === undefined) {
        throw new Fatal(new EnclaveClientError({ code: 'NETWORK_ERROR', message: 'The session’s stream broke off before its id was known, so it cannot be resumed (behind CORS, expose the X-Session-Id header).' }));
      }
      armIdle();
      let res: Response;
      if (first) {
        // Starting is not idempotent: a POST that failed is never sent again, and its refusal is final.
        // An idle timeout is the reason, not the abort it made.
        res = await first(connection.signal).catch((err: unknown) => Promise.reject(new Fatal(connection.signal.reason instanceof EnclaveClientError ? connection.signal.reason : (err as EnclaveClientError))));
        if (!res.ok) throw new Fatal(await errorOf(res, connection.signal, plan.maxEventLength));
      } else {
        res = await plan.reconnect(sessionId as string, sequencer.last, connection.signal);
        if (!res.ok) {
          const error = await errorOf(res, connection.signal, plan.maxEventLength);
          if (!retryable(res.status)) throw new Fatal(error);
          throw new Passing(error);
        }
      }
      const header = res.headers.get('x-session-id');
      if (header !== null && !isSessionId(header)) throw new Fatal(new EnclaveClientError({ code: 'BAD_RESPONSE', message: 'The X-Session-Id header is not a session id.', status: res.status }));
      if (header) learn(header);
      if (res.body === null) throw new Fatal(new EnclaveClientError({ code: 'BAD_RESPONSE', message: 'The event stream has no body.', status: res.status }));
      const type = mediaType(res.headers.get('content-type'));
      // A proxy's or a misrouted server's page read as events would bring none, and end as a cut that
      // cannot be resumed: it is not the contract's answer, and would be the same again.
      if (type !== undefined && type !== STREAM_TYPES[plan.format]) {
        throw new Fatal(new EnclaveClientError({ code: 'BAD_RESPONSE', message: `Expected an event stream (${STREAM_TYPES[plan.format]}) from the enclave route, got ${res.status} (${type}).`, status: res.status }));
      }
      // A server that ignores Last-Event-ID replays each of the seqs delivered once at most, and a
      // replay may overlap the live events a little; one that sends old events without end never
      // makes progress, and would hold the stream (and a core) for good.
      let replays = 0;
      const maxReplays = sequencer.last + REPLAY_SLACK;
      for await (const raw of readBody(res.body, plan.format, armIdle, sse, plan.maxEventLength, connection.signal)) {
        const event = asEvent(raw.value, sessionId);
        if (event.seq <= sequencer.last && ++replays > maxReplays) {
          throw badEvent(`${replays} events already delivered (seq ${event.seq} and others up to ${sequencer.last}) sent again on one connection: the server replays without end.`);
        }
        wireLengths.set(event, raw.length);
        learn(event.sessionId);
        for (const out of sequencer.accept(event)) {
          progressed = true;
          yield out;
          // A paused run's stream ends at its approval_required: nothing comes until someone decides.
          if (out.type === 'final' || out.type === 'approval_required') return;
        }
      }
      if (!progressed && sessionId !== undefined && plan.status !== undefined) {
        // The server ended the stream and sent nothing: the reader is at or past the end of a session
        // that has ended or waits for a decision (or the store failed for a while). Its state says which.
        if (settled !== undefined) {
          plan.onSettled?.(settled);
          return;
        }
        const status = await plan.status(sessionId, connection.signal).catch(() => undefined);
        // Stopped while it asked: that is the end, as below.
        if (plan.signal.aborted) throw plan.signal.reason;
        if (status !== undefined && (status.state === 'waiting_for_approval' ? status.pendingApproval !== undefined : status.state !== 'running' && status.result !== undefined)) {
          // One more connection at once, not counted as a failure: a store that came back meanwhile
          // still has the events after the reader's seq, which come before this end.
          settled = status;
          continue;
        }
      }
      failure = new EnclaveClientError({ code: 'NETWORK_ERROR', message: 'The event stream ended before the final event.' });
    } catch (err) {
      if (plan.signal.aborted) throw abortedError(plan.signal, 'Reading the session’s events was stopped.');
      if (err instanceof Fatal) throw err.error;
      // A server that sends what is not an event would send it again.
      if (err instanceof EnclaveClientError && err.code === 'BAD_RESPONSE') throw err;
      if (err instanceof Passing) failure = err.error;
      else if (connection.signal.reason instanceof EnclaveClientError) failure = connection.signal.reason;
      else if (err instanceof EnclaveClientError) failure = err;
      else failure = new EnclaveClientError({ code: 'NETWORK_ERROR', message: `The event stream broke off: ${(err as Error)?.message ?? String(err)}`, cause: err });
    } finally {
      clearTimeout(idle);
      plan.signal.removeEventListener('abort', stop);
      connection.abort();
    }
    if (progressed) failures = 0;
    failures++;
    if (failures > plan.retry.maxRetries) {
      throw new EnclaveClientError({ code: 'RETRIES_EXHAUSTED', message: `Could not resume session ${sessionId} after ${plan.retry.maxRetries} attempts: ${failure.message}`, cause: failure, status: failure.status });
    }
    const delayMs = backoffDelay(failures, { ...plan.retry, initialDelayMs: plan.retry.initialDelayMs ?? sse.retry ?? DEFAULT_INITIAL_DELAY_MS }, failure.retryAfter);
    try {
      plan.onRetry?.({ sessionId: sessionId as string, attempt: failures, delayMs, error: failure, lastSeq: sequencer.last });
    } catch {
      // A listener's failure is its own.
    }
    await sleep(delayMs, plan.signal);
  }
}

