/**
 * What a run reports as it happens: `run(code, { onEvent })` and `enclave.stream(code)`. Events are plain
 * JSON, numbered from 1 without gaps within a run (a session), and delivered outside any realm entry:
 * a listener that throws or is slow (returns a promise that takes its time) cannot break or stall the
 * run. Their number is bounded by the run's own budgets: one `log` per captured console line, one
 * `tool_call` and one `tool_result` per tool call, a `heartbeat` per interval, one `session_init` and
 * one `final`.
 */
import type { ErrorCode } from './errors.js';
import { randomBytes } from './random.js';
import type { EnclaveEvent, EnclaveEventListener, EnclaveEventPayloads, EnclaveEventType } from './types.js';

/** The event types, for checks of untrusted input (a store's replay, a client's stream). */
export const EVENT_TYPES: readonly EnclaveEventType[] = ['session_init', 'log', 'tool_call', 'tool_result', 'heartbeat', 'final', 'approval_required', 'events_dropped'];

/** A random session id: 128 bits, URL-safe. */
export function newSessionId(): string {
  return `ses_${randomBytes(16).toString('base64url')}`;
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** What a session id is, as error messages say it. */
export const SESSION_ID_RULE = 'a session id is 1 to 128 characters of A-Z, a-z, 0-9, "_" and "-"';

/**
 * Whether a string can be a session id (in a URL path segment, a header, a store key). This is the one
 * check of session ids, wherever they come in (run options, HTTP paths, stores): no `.` or `..` (a path
 * resolves them away), no `/`, `%`, NUL or other character outside the set, nothing longer than 128.
 */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value);
}

/** The events of one run: numbering, delivery and the heartbeat. */
export class RunEvents {
  #seq = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly sessionId: string,
    readonly listener: EnclaveEventListener,
    /** Put the decoded arguments into `tool_call` events. */
    readonly includeToolArgs: boolean,
  ) {}

  emit<T extends EnclaveEventType>(type: T, payload: EnclaveEventPayloads[T]): void {
    if (this.#closed) return;
    if (type === 'final' || type === 'approval_required') this.close();
    const event = { sessionId: this.sessionId, seq: ++this.#seq, type, time: Date.now(), payload } as EnclaveEvent;
    try {
      const out = this.listener(event);
      // A listener's own failure, sync or async, is its own business.
      if (out !== null && typeof out === 'object' && typeof (out as Promise<unknown>).catch === 'function') (out as Promise<unknown>).catch(() => {});
    } catch {
      // as above
    }
  }

  /** `heartbeat` events every `ms` until the run's `final` (the timer does not keep the process alive). */
  startHeartbeat(ms: number, startedAt: number): void {
    if (this.#closed || this.#heartbeat !== undefined) return;
    this.#heartbeat = setInterval(() => this.emit('heartbeat', { elapsedMs: Math.round(performance.now() - startedAt) }), ms);
    this.#heartbeat.unref();
  }

  /** No event after `final`; the heartbeat stops. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
  }
}

/** The public part of a failed tool reply, as the script saw it. */
export function toolReplyError(payload: string): { code: ErrorCode | string; message: string } | undefined {
  try {
    const reply = JSON.parse(payload) as unknown;
    if (Array.isArray(reply) && typeof reply[1] === 'string' && typeof reply[2] === 'string') return { code: reply[2], message: reply[1] };
  } catch {
    // A reply the host itself wrote is always JSON; nothing to describe otherwise.
  }
  return undefined;
}
