/**
 * `@enclave-kit/engine/node`: Node's `IncomingMessage`/`ServerResponse` and the Fetch handler, both ways.
 * `handleNodeRequest` serves a plain `node:http` server (and is what the Express and Nest adapters call);
 * `toFetchRequest` and `writeFetchResponse` are its two halves for adapters that need them apart.
 * `guardStdout` keeps the process's stdout for a protocol (MCP over stdio).
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { createEnclaveHandler } from '@enclave-kit/engine';
 * import { handleNodeRequest } from '@enclave-kit/engine/node';
 *
 * const handler = createEnclaveHandler({ tools: ({ native }) => toolsFor(native.req) });
 * http.createServer((req, res) => handleNodeRequest(handler, req, res, { req, res })).listen(3000);
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PayloadTooLargeError } from '../http/body.js';
import { EnclaveHttpError } from '../http/errors.js';
import { DOT_SEGMENT_MESSAGE, hasDotSegment } from '../http/route.js';
import type { EnclaveFetchHandler } from '../http/handler-common.js';
import { DEFAULT_SEND_TIMEOUT_MS } from '../http/handler-common.js';
import { internalFailure } from '../result.js';

export { guardStdout } from './stdout.js';
export type { StdoutGuard } from './stdout.js';

/** A Node request as Express and Nest hand it over: `originalUrl` keeps the mount path. */
export type NodeRequest = IncomingMessage & { originalUrl?: string };

export interface ToFetchRequestOptions {
  /** Bytes read from the socket at most; past it the body stream fails with a 413 error. */
  maxBodySize: number;
  /** A body a parser already read (`express.json()`, Fastify): it is serialized again instead of read. */
  parsedBody?: { value: unknown };
}

function abortError(): Error {
  const err = new Error('The client closed the request.');
  err.name = 'AbortError';
  return err;
}

/** Chunks of a body smaller than this are copied together before they go into its stream. */
const BATCH_BYTES = 16 * 1024;

/**
 * The request body as a stream that pauses the socket under backpressure and fails past the cap. Small
 * chunks go in together, BATCH_BYTES at a time: a client decides how the body is cut (a chunked body of
 * one-byte chunks), and each chunk through a web stream and its reader cost a few microseconds and a few
 * hundred bytes, so 1 MiB sent a byte at a time took 13 s of the server's CPU and 760 MB of its memory.
 */
function streamBody(req: IncomingMessage, maxBodySize: number, abort: () => void): ReadableStream<Uint8Array> {
  let size = 0;
  let done = false;
  let batch: Buffer | undefined;
  let batched = 0;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const flush = () => {
          if (batch === undefined || batched === 0) return;
          controller.enqueue(new Uint8Array(batch.buffer, batch.byteOffset, batched));
          batch = undefined;
          batched = 0;
        };
        const finish = (fail?: Error) => {
          if (done) return;
          done = true;
          req.off('data', onData);
          if (fail) controller.error(fail);
          else {
            flush();
            controller.close();
          }
        };
        const onData = (chunk: Buffer) => {
          // A stream the core cancelled (it stopped reading: a 408) takes nothing more: its controller
          // would throw, in an event listener of the host's.
          if (done) return;
          size += chunk.byteLength;
          if (size > maxBodySize) {
            // Drop the rest unread: the 413 goes out with `Connection: close`.
            finish(new PayloadTooLargeError(maxBodySize));
            req.resume();
            return;
          }
          if (chunk.byteLength >= BATCH_BYTES) {
            flush();
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          } else {
            if (batched + chunk.byteLength > BATCH_BYTES) flush();
            batch ??= Buffer.allocUnsafe(BATCH_BYTES);
            chunk.copy(batch, batched);
            batched += chunk.byteLength;
            if (batched === BATCH_BYTES) flush();
          }
          if ((controller.desiredSize ?? 1) <= 0) req.pause();
        };
        req.on('data', onData);
        req.once('end', () => finish());
        req.once('error', (err) => finish(err));
        req.once('close', () => {
          if (req.complete) return;
          abort();
          finish(abortError());
        });
      },
      pull() {
        req.resume();
      },
      cancel() {
        done = true;
        req.resume();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
}

function preParsedBody(parsed: { value: unknown }): string | Uint8Array {
  const { value } = parsed;
  if (typeof value === 'string' || value instanceof Uint8Array) return value;
  return JSON.stringify(value) ?? '';
}

/**
 * A Fetch `Request` for a Node request: the full URL (mount path included), the headers, a body capped
 * while streaming (or a pre-parsed one serialized again), and a signal aborted when the client goes
 * away before the response has finished.
 */
export function toFetchRequest(req: NodeRequest, res: ServerResponse, options: ToFetchRequestOptions): Request {
  const controller = new AbortController();
  const abort = () => controller.abort();
  res.once('close', () => {
    if (!res.writableFinished) abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    try {
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    } catch {
      // A header Fetch cannot represent is not one the core reads.
    }
  }
  const host = req.headers.host ?? (req.headers[':authority'] as string | undefined) ?? 'localhost';
  const protocol = (req.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http';
  let url: URL;
  try {
    url = new URL(req.originalUrl ?? req.url ?? '/', `${protocol}://${host}`);
  } catch {
    url = new URL(req.originalUrl ?? req.url ?? '/', `${protocol}://localhost`);
  }
  const method = (req.method ?? 'GET').toUpperCase();
  let body: string | Uint8Array | ReadableStream<Uint8Array> | null = null;
  if (method !== 'GET' && method !== 'HEAD') {
    if (options.parsedBody) {
      body = preParsedBody(options.parsedBody);
      // The parser read the body, and decoded it (express.json() inflates gzip, deflate and br): what
      // goes on is its JSON again, of another length and in no coding.
      headers.delete('content-length');
      headers.delete('content-encoding');
    } else body = streamBody(req, options.maxBodySize, abort);
  }
  const init: RequestInit & { duplex: 'half' } = { method, headers, body, signal: controller.signal, duplex: 'half' };
  return new Request(url, init);
}

/** Whether a response is an event stream (SSE or NDJSON), whose headers must not wait for its first event. */
export function isEventStream(response: Response): boolean {
  return /^(?:text\/event-stream|application\/x-ndjson)\b/.test(response.headers.get('content-type') ?? '');
}

/**
 * Sends `res`'s headers in this turn's check phase, after the immediates already queued (an event
 * stream's first flush), unless a write has taken them along by then: a first chunk ready in this turn
 * leaves in the same write (a write costs a streamed run as much as its events do), and a follower
 * that waits a while for its first event still sees the headers at once.
 */
function flushHeadersAtEndOfTurn(res: ServerResponse, flush: () => void = res.flushHeaders): void {
  setImmediate(() => {
    if (!res.destroyed && !res.writableEnded && !headersLeft(res)) flush.call(res);
  });
}

/**
 * Whether `res`'s headers went out with a write. `headersSent` turns true at `writeHead`, before they
 * leave; Node's own `_headerSent` says they left. Where it is missing the answer is no, and a flush
 * after all costs an empty write, never a reader waiting for headers.
 */
function headersLeft(res: ServerResponse): boolean {
  // eslint-disable-next-line no-underscore-dangle -- Node's own field, in every version we support
  return (res as ServerResponse & { _headerSent?: unknown })._headerSent === true;
}

/**
 * For a server that flushes a streamed response's headers by itself before it writes the first chunk
 * (Hono's `@hono/node-server` does): from now on, `res.flushHeaders()` waits for the end of this turn,
 * as `writeFetchResponse` does, so the headers leave with a first chunk that is ready by then.
 */
export function deferHeaderFlush(res: ServerResponse): void {
  const flush = res.flushHeaders;
  if (typeof flush !== 'function') return;
  res.flushHeaders = () => flushHeadersAtEndOfTurn(res, flush);
}

/** How long a connection closed before its request body was read goes on reading (and dropping) it. */
const LINGER_MS = 2000;
const lingering = new WeakSet<Socket>();

/**
 * Closes `socket` gently once Node closes it after the response: our side is ended, and what the client
 * still sends is read and dropped until it ends its side or LINGER_MS pass. Node destroys the socket as
 * soon as a `Connection: close` response is written; bytes of the body that arrive after that make the
 * kernel answer with a reset, and a reset that reaches the client before it has read the response (a
 * busy client, a large upload) discards it: the client saw EPIPE or ECONNRESET instead of the 413.
 */
function lingerOnClose(socket: Socket | null): void {
  if (socket === null || typeof socket.destroySoon !== 'function' || lingering.has(socket)) return;
  lingering.add(socket);
  socket.destroySoon = function lingeringClose(this: Socket) {
    if (this.writable) this.end();
    const stop = () => this.destroy();
    const timer = setTimeout(stop, LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    this.once('end', stop);
    this.resume();
  };
}

/** Whether a request says a body follows its head (a length other than 0, or chunks). */
function carriesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * For an answer that leaves the request's body unread (a 401, a 415, a route that takes none): once the
 * answer has gone, the rest of the body has LINGER_MS to arrive, then the connection is closed. Node
 * reads and drops such a body to reach the next request on the connection, for as long as the client
 * takes to send it: a body trickled a byte at a time held the connection until Node's `requestTimeout`
 * (5 minutes by default), from any peer, with no credentials (`bodyTimeoutMs` bounds only a body a
 * route reads). Not decided when the answer starts: a body that came in the request's first packet is
 * often not parsed yet then, and a client that sent it whole keeps its connection.
 */
function endUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => {
    if (req.complete) return;
    const { socket } = req;
    const timer = setTimeout(() => {
      if (!req.complete) socket.destroy();
    }, LINGER_MS);
    timer.unref();
    const stop = () => {
      clearTimeout(timer);
      req.off('end', stop);
      socket.off('close', stop);
    };
    req.once('end', stop);
    socket.once('close', stop);
  });
}

/**
 * Bytes handed to a response at a time. `drain` comes once the response's buffer has gone to the
 * kernel, so with small writes each `drain` says the client has read about this much; one write of a
 * 4 MB result would say nothing until all of it had gone.
 */
const WRITE_SLICE = 64 * 1024;

export interface WriteFetchResponseOptions {
  /**
   * How long a write may wait on a client that reads none of it; past it the connection is closed and
   * the rest of the answer dropped (a stream's run is aborted). Default 30,000 ms.
   */
  sendTimeoutMs?: number;
}

function sendOptions(handler: { readonly sendTimeoutMs?: number }): WriteFetchResponseOptions {
  return handler.sendTimeoutMs === undefined ? {} : { sendTimeoutMs: handler.sendTimeoutMs };
}

/** Resolves true once `res` has drained or closed, false when it has done neither within `ms`. */
function drainedWithin(res: ServerResponse, ms: number, event: 'drain' | 'finish' = 'drain'): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off(event, go);
      res.off('close', go);
      resolve(ok);
    };
    const go = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    res.once(event, go);
    res.once('close', go);
  });
}

/** Headers that frame a body: an answer's own, or none. */
const FRAMING_HEADERS = ['content-length', 'content-encoding', 'transfer-encoding'] as const;

/**
 * Writes a Fetch `Response` to a Node response with backpressure; stops when the client is gone, and
 * closes the connection of a client that reads nothing for `sendTimeoutMs`: an answer (a result of
 * megabytes, a stream's events) otherwise waits in this process for as long as the client keeps its
 * connection open, after its run has ended and given back every slot that counts runs.
 */
export async function writeFetchResponse(res: ServerResponse, response: Response, options: WriteFetchResponseOptions = {}): Promise<void> {
  const sendTimeoutMs = options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  if (res.destroyed || res.headersSent) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  res.statusCode = response.status;
  // The answer is the body: what a middleware set before the route about some other body (a length, a
  // coding) would make the client read this one wrong. Other headers it set (CORS, a rate limit's) stay.
  // Only one that is there is removed: Node takes a removed length or transfer-encoding as "frame it
  // yourself" and would then neither chunk the body nor count it.
  for (const name of FRAMING_HEADERS) if (res.hasHeader(name) && !response.headers.has(name)) res.removeHeader(name);
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value);
  // An answer that closes the connection before the request's body was read (a 413, say).
  const req = (res as { req?: IncomingMessage }).req;
  if (req !== undefined && !req.complete) {
    if (response.headers.get('connection')?.toLowerCase() === 'close') lingerOnClose(req.socket);
    // (Over HTTP/2 a request is a stream of a connection that others share: closing it is not ours to do.)
    else if (carriesBody(req) && req.httpVersionMajor === 1) endUnreadBody(req, res);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  // A client that goes away cancels the body at once, not when its next chunk comes: a session's
  // follower waiting for events would otherwise keep its subscription and poll its store until then.
  const gone = () => void reader.cancel().catch(() => {});
  res.once('close', gone);
  let next = reader.read();
  if (isEventStream(response)) flushHeadersAtEndOfTurn(res);
  try {
    for (;;) {
      const { done, value } = await next;
      if (done) break;
      for (let at = 0; at < value.byteLength; at += WRITE_SLICE) {
        if (res.destroyed) {
          await reader.cancel();
          return;
        }
        if (!res.write(at === 0 && value.byteLength <= WRITE_SLICE ? value : value.subarray(at, at + WRITE_SLICE)) && !(await drainedWithin(res, sendTimeoutMs))) {
          // The body is cancelled, which aborts a stream's run.
          res.destroy();
          await reader.cancel().catch(() => {});
          return;
        }
      }
      next = reader.read();
    }
    if (res.destroyed) return;
    res.end();
    // What is left in the response's buffer waits on the client too.
    if (!res.writableFinished && !(await drainedWithin(res, sendTimeoutMs, 'finish'))) res.destroy();
  } catch {
    reader.cancel().catch(() => {});
    res.destroy();
  } finally {
    res.off('close', gone);
  }
}

/**
 * The 400 for a Node request whose path, as the client sent it, has a `.` or `..` segment (`%2e` too)
 * or a backslash; undefined for any other. The Fetch `Request` made of it has them resolved away
 * (`POST /enclave/sessions/..` is `POST /enclave/`, a run): refused while the path is still as sent, a
 * request never reaches a route other than the one it named. For adapters on Node that build their own
 * `Request` (Hono's `@hono/node-server`): call it with the `IncomingMessage` first.
 */
export function refuseDotSegments(handler: EnclaveFetchHandler<never>, req: NodeRequest, res: ServerResponse | undefined, subPath?: string): Response | undefined {
  if (!hasDotSegment(req.originalUrl ?? req.url ?? '/')) return undefined;
  // Its body is not read: drained, and the connection not kept.
  req.resume();
  res?.setHeader('connection', 'close');
  return handler.refuse(new EnclaveHttpError(400, DOT_SEGMENT_MESSAGE), subPath);
}

/**
 * Serves one Node request with a Fetch handler: the bridge shared by the Express and Nest adapters.
 * `subPath` is the path below the handler's own that the adapter matched (a route of `routes`).
 * Never rejects.
 *
 * @example
 * ```ts
 * const handler = createEnclaveHandler({ tools: ({ native }) => toolsFor(native.req.user) });
 * http.createServer((req, res) => handleNodeRequest(handler, req, res, { req, res }));
 * ```
 */
export async function handleNodeRequest<N>(
  handler: EnclaveFetchHandler<N>,
  req: NodeRequest,
  res: ServerResponse,
  native: N,
  parsedBody?: { value: unknown },
  subPath?: string,
): Promise<void> {
  try {
    const refused = refuseDotSegments(handler, req, res, subPath);
    if (refused !== undefined) {
      await writeFetchResponse(res, refused, sendOptions(handler));
      return;
    }
    const request = toFetchRequest(req, res, { maxBodySize: handler.maxBodySize, ...(parsedBody ? { parsedBody } : {}) });
    await writeFetchResponse(res, await handler(request, native, subPath), sendOptions(handler));
  } catch {
    // Only a broken socket gets here; there is nobody left to answer.
    if (!res.headersSent && !res.destroyed) {
      res.statusCode = 500;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(internalFailure()));
    } else res.destroy();
  }
}
