/**
 * Runs as event streams: Server-Sent Events (`Accept: text/event-stream`; `id: <seq>`, `event: <type>`,
 * `data: <event JSON>`) or NDJSON (`Accept: application/x-ndjson`; one event JSON per line). Every event
 * is flushed as it happens: the headers ask proxies and compression middleware not to buffer.
 */
import { failure } from '../result.js';
import type { EnclaveEvent, ExecutionResult } from '../types.js';
import type { SessionStore } from './session-store.js';

export type StreamFormat = 'sse' | 'ndjson';

/**
 * The stream format a request's `Accept` asks for, or null for plain JSON (the default). A stream is sent
 * only for a media type the client names itself (a wildcard never starts one), and only when the client
 * rates it at least as high as JSON: `text/event-stream;q=0.1, application/json` prefers JSON, `;q=0` refuses
 * the stream (RFC 9110, 12.5.1). At equal weight the stream wins, so `application/json, text/event-stream`
 * (what MCP-style clients send) streams; between the two stream formats, SSE wins a tie.
 */
export function streamFormat(accept: string | null): StreamFormat | null {
  if (accept === null) return null;
  const weights = acceptWeights(accept);
  const best = weights.sse >= weights.ndjson ? 'sse' : 'ndjson';
  const q = weights[best];
  return q > 0 && q >= weights.json ? best : null;
}

/** The format of a route that only streams (a session's events): the stream format `Accept` rates higher, SSE by default. */
export function eventsFormat(accept: string | null): StreamFormat {
  if (accept === null) return 'sse';
  const weights = acceptWeights(accept);
  return weights.ndjson > weights.sse ? 'ndjson' : 'sse';
}

/** How `Accept` rates each format: a stream type only where named itself; JSON also through `application/*` and `*\/*`. */
function acceptWeights(accept: string): Record<StreamFormat | 'json', number> {
  const ranges = accept
    .toLowerCase()
    .split(',')
    .map((part) => {
      const [type = '', ...params] = part.split(';').map((p) => p.trim());
      const q = params.find((p) => /^q\s*=/.test(p));
      const weight = q === undefined ? 1 : Number(q.slice(q.indexOf('=') + 1).trim());
      return { type, q: Number.isFinite(weight) ? Math.min(Math.max(weight, 0), 1) : 1 };
    });
  const named = (type: string) => ranges.find((r) => r.type === type)?.q;
  return {
    sse: named('text/event-stream') ?? 0,
    ndjson: named('application/x-ndjson') ?? 0,
    json: named('application/json') ?? named('application/*') ?? named('*/*') ?? 0,
  };
}

export function streamHeaders(format: StreamFormat, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': format === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    // no-transform: compression middleware (Express `compression()`) and proxies leave the stream alone.
    'cache-control': 'no-cache, no-store, no-transform',
    // nginx buffers responses unless told not to.
    'x-accel-buffering': 'no',
    ...extra,
  };
}

const encoder = new TextEncoder();
/**
 * The first bytes of an SSE stream: the reconnection delay for `EventSource`, and something to send
 * before a stream waits, so that the response starts before the first event. It ends with one line break, not two, so it
 * is a field of the first event's block rather than a block of its own: a reader that splits the stream
 * on blank lines and reads each block's `data:` never meets a block without one. (An SSE parser takes
 * the `retry` field when it reads the line, whichever block it is in.)
 */
const SSE_PREAMBLE_TEXT = 'retry: 1000\n';
const SSE_PREAMBLE = encoder.encode(SSE_PREAMBLE_TEXT);

/** One event as the format writes it. JSON never contains a raw line break, so one `data:` line suffices. */
export function encodeEvent(format: StreamFormat, event: EnclaveEvent): Uint8Array {
  return encoder.encode(eventText(format, event));
}

function eventText(format: StreamFormat, event: EnclaveEvent): string {
  let json: string;
  try {
    json = JSON.stringify(event);
  } catch {
    // A payload JSON cannot carry: the event still arrives, saying so.
    json = JSON.stringify({ ...event, payload: { unserializable: true } });
  }
  // JSON.stringify escapes every control character but leaves NEL, LS and PS as they are: line breaks to
  // many line readers (Python's splitlines, Unicode-aware ones), where a value a script returned could
  // start an event of its own. Written as escapes, the JSON means the same.
  json = json.replace(UNICODE_BREAKS, unicodeEscape);
  return format === 'sse' ? `id: ${event.seq}\nevent: ${event.type}\ndata: ${json}\n\n` : `${json}\n`;
}

const UNICODE_BREAKS = /[\u0085\u2028\u2029]/g;
const unicodeEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Why a streamed run's answer was given up: its reader took nothing for `stallMs` while events waited. */
export class StalledReaderError extends Error {
  override readonly name = 'StalledReaderError';
}

/**
 * A stream the run pushes its events into as they happen (a run not kept as a session). What waits for
 * a slow reader is bounded by the run's own budgets, and by time: a reader that takes nothing for
 * `stallMs` while events wait (a client whose connection stays open but reads nothing, under a server
 * that writes with backpressure) has the stream failed and its events dropped, and `onCancel` runs, as
 * when the reader goes away. Events pushed in the same turn of the event loop (a realm entry's calls and
 * logs, the result that ended the tool before it) become one chunk, written once, in that turn's check
 * phase: nothing waits for a timer or for I/O, and a server sends them in one packet instead of one
 * write each (the agent script's streamed run: 5 chunks, against 8 when each microtask checkpoint
 * flushed). Chunks are handed out one per read, so every read is seen.
 */
export function pushStream(format: StreamFormat, onCancel: () => void, stallMs?: number): { stream: ReadableStream<Uint8Array>; push(event: EnclaveEvent): void; close(): void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  let closing = false;
  let ended = false;
  let gone = false;
  // The SSE preamble goes out with the events of the first turn, or alone at its end.
  let pending = format === 'sse' ? SSE_PREAMBLE_TEXT : '';
  let scheduled = false;
  const chunks: Uint8Array[] = [];
  /** A read waiting for the next chunk (or the end). */
  let waiting: (() => void) | undefined;
  let lastRead = performance.now();
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const serve = () => {
    const chunk = chunks.shift();
    if (chunk !== undefined) controller.enqueue(chunk);
    if (chunks.length === 0 && ended) controller.close();
  };
  const drop = () => {
    gone = true;
    open = false;
    pending = '';
    chunks.length = 0;
    clearTimeout(watchdog);
    watchdog = undefined;
  };
  const check = () => {
    watchdog = undefined;
    if (gone || chunks.length === 0 || stallMs === undefined) return;
    const idle = performance.now() - lastRead;
    if (idle < stallMs) {
      watchdog = setTimeout(check, stallMs - idle);
      return;
    }
    drop();
    controller.error(new StalledReaderError(`The client read nothing of the stream for ${stallMs} ms.`));
    onCancel();
  };
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    // Cancelled by the reader meanwhile: nothing to deliver.
    if (!(open || closing)) return;
    chunks.push(encoder.encode(text));
    if (waiting !== undefined) {
      const take = waiting;
      waiting = undefined;
      take();
    } else if (stallMs !== undefined && watchdog === undefined) watchdog = setTimeout(check, stallMs);
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        if (pending !== '') schedule();
      },
      pull() {
        lastRead = performance.now();
        if (chunks.length > 0 || ended) {
          serve();
          return undefined;
        }
        return new Promise<void>((resolve) => {
          waiting = () => {
            serve();
            resolve();
          };
        });
      },
      cancel() {
        drop();
        onCancel();
      },
    },
    // No chunk is taken before a read asks for it: each read is a pull, and the watchdog sees it.
    { highWaterMark: 0 },
  );
  const close = () => {
    if (!open) return;
    open = false;
    closing = true;
    flush();
    closing = false;
    ended = true;
    if (waiting !== undefined) {
      const take = waiting;
      waiting = undefined;
      take();
    }
  };
  return {
    stream,
    push(event) {
      if (!open) return;
      pending += eventText(format, event);
      if (event.type === 'final') close();
      else schedule();
    },
    close,
  };
}

/** Events read from the store per pull. */
const BATCH = 256;
/** How long a follower keeps trying a store that fails before it ends the stream (the client resumes later). */
const STORE_RETRY_MS = 10_000;
/** A follower waiting for events re-reads this often even without a notification (a store's notices can be lost). */
const POLL_MS = 2_000;

/** The end a reader gets of a session that is gone from the store before it read its `final`. */
function lostResult(): ExecutionResult {
  return failure('SESSION_LOST', 'SessionLostError', 'The session is gone from the session store before its end was read (it expired, was forgotten to make room, or the store lost it); its result is unknown.');
}

/**
 * A session's events from a store: everything after `afterSeq`, then live events until `final`. It reads
 * only when the reader is ready for more (a slow or absent reader keeps nothing in this process's memory
 * beyond one batch) and ends with `final`: the session's own; built from its record when the store
 * lost its events; `SESSION_LOST` when the session stays gone for `lostAfterMs` (a store that lost its
 * data gets it back from the instance running it within its liveness), never a silent end. `onEnd` is
 * called once when it ends, however (its `final`, a store that stays down, or its reader going away).
 */
export function storeStream(store: SessionStore, sessionId: string, afterSeq: number, format: StreamFormat, lostAfterMs: number, onEnd?: () => void): ReadableStream<Uint8Array> {
  let last = afterSeq;
  /** The end of the last gap (`events_dropped`) this reader was told of. */
  let toldUpTo = 0;
  /** Since when the session has been missing from the store. */
  let goneSince: number | undefined;
  let wake: (() => void) | undefined;
  let changed = false;
  let stopped = false;
  let unsubscribe: (() => void) | undefined;
  /**
   * The SSE preamble, until it is sent: with the first events, or before the stream waits (for live
   * events or a store that fails), so that the response starts then. A stream that ends with nothing to
   * send (a reader at or past the end of an ended session) sends nothing at all.
   */
  let preamble = format === 'sse';
  const startOnce = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (!preamble) return;
    preamble = false;
    controller.enqueue(SSE_PREAMBLE);
  };
  const notify = () => {
    changed = true;
    wake?.();
  };
  const stop = () => {
    if (!stopped) onEnd?.();
    stopped = true;
    unsubscribe?.();
    wake?.();
  };
  return new ReadableStream<Uint8Array>(
    {
      start() {
        // Listen before the first read, so nothing appended in between is missed.
        unsubscribe = store.subscribe(sessionId, notify);
      },
      async pull(controller) {
        let failingSince: number | undefined;
        for (;;) {
          if (stopped) return;
          changed = false;
          let events: EnclaveEvent[];
          let record: Awaited<ReturnType<SessionStore['get']>>;
          try {
            events = await store.read(sessionId, last, BATCH);
            record = events.length > 0 ? undefined : await store.get(sessionId);
            failingSince = undefined;
          } catch {
            // The store did not answer: try again for a while, then end the stream (the reader resumes with
            // Last-Event-ID once the store is back).
            failingSince ??= performance.now();
            if (performance.now() - failingSince > STORE_RETRY_MS) {
              stop();
              controller.close();
              return;
            }
            startOnce(controller);
            await new Promise((resolve) => setTimeout(resolve, 500).unref());
            continue;
          }
          if (stopped) return;
          if (events.length > 0) {
            let sent = 0;
            for (const event of events) {
              // A store reports what a reader resuming inside a gap missed; this reader was told already.
              const gapEnd = event.type === 'events_dropped' ? (event as EnclaveEvent<'events_dropped'>).payload.toSeq : 0;
              if (gapEnd > 0 && gapEnd <= toldUpTo) {
                last = Math.max(last, event.seq);
                continue;
              }
              toldUpTo = Math.max(toldUpTo, gapEnd);
              sent++;
              startOnce(controller);
              controller.enqueue(encodeEvent(format, event));
              // Not past a marker's toSeq: the events it spans that were kept come after it.
              last = Math.max(last, event.seq);
              if (event.type === 'final') {
                stop();
                controller.close();
                return;
              }
            }
            // Nothing new in this batch: read on, or the reader waits for a pull that never comes.
            if (sent === 0) continue;
            return;
          }
          if (record !== undefined) goneSince = undefined;
          else goneSince ??= performance.now();
          const waitMore = goneSince !== undefined && performance.now() - goneSince < lostAfterMs;
          // Gone for good, or finished: one more read catches a final appended meanwhile.
          if (!waitMore && (record === undefined || record.state !== 'running')) {
            let tail: EnclaveEvent[] = [];
            let none = false;
            try {
              tail = await store.read(sessionId, last, BATCH);
              // A finished session always keeps its final: no event at all means its events were lost.
              none = tail.length === 0 && record?.result !== undefined && (await store.read(sessionId, 0, 1)).length === 0;
            } catch {
              // as above: the loop retries
              continue;
            }
            if (tail.length > 0) continue;
            const result = record === undefined ? lostResult() : none ? record.result : undefined;
            if (result !== undefined) {
              startOnce(controller);
              controller.enqueue(encodeEvent(format, { sessionId, seq: last + 1, type: 'final', time: Date.now(), payload: result }));
            }
            stop();
            controller.close();
            return;
          }
          if (!changed) {
            startOnce(controller);
            // While the session is missing, looked for again by the end of the wait for it at the latest.
            const ms = goneSince === undefined ? POLL_MS : Math.min(POLL_MS, Math.max(10, lostAfterMs - (performance.now() - goneSince)));
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, ms).unref();
            });
          }
          wake = undefined;
        }
      },
      cancel() {
        stop();
      },
    },
    { highWaterMark: 1 },
  );
}
