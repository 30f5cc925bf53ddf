/**
 * Code mode over MCP on stdio, for a desktop MCP client that starts the server itself (`enclave mcp
 * --tools tools.mjs`): one connection, one user, the tools of a local module.
 */
import type { Readable, Writable } from 'node:stream';
import type { CreateEnclaveOptions, ToolSet } from '@enclave-kit/engine';
import { Enclave, EnclaveConfigError } from '@enclave-kit/engine';
import { BoundedBuffer } from '@enclave-kit/engine/bytes';
import { guardStdout } from '@enclave-kit/engine/node';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import { isJSONRPCErrorResponse, isJSONRPCNotification, isJSONRPCRequest, isJSONRPCResultResponse } from '@modelcontextprotocol/server';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import type { CodeModeBackend, CodeModeInfo } from './code-mode.js';
import { codeModeServer } from './code-mode.js';
import { MCP_PACKAGE_VERSION } from './version.js';

/** Bytes of one message line read at most by default: the HTTP routes' default `maxBodySize`. */
const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
/** Requests answered at once by default (runs, searches); a desktop client has a few in flight. */
const DEFAULT_MAX_CONCURRENT_REQUESTS = 8;

/** Options of `serveMcpStdio()`. */
export interface McpStdioOptions extends CodeModeInfo {
  /** An `Enclave` to run scripts on, or the options of the one created (and disposed on close). Default `new Enclave()`. */
  enclave?: Enclave | CreateEnclaveOptions;
  /** The tools scripts may call (a record of functions or `defineTool()` definitions). */
  tools?: ToolSet;
  /** Default `process.stdin` / `process.stdout`. */
  stdin?: Readable;
  stdout?: Writable;
  /**
   * While the server writes to `process.stdout` (no other `stdout` given), every console method and
   * `process.stdout.write` of anything else in the process (a tool that prints) goes to stderr, and the
   * protocol writes through the stdout saved at start: one stray line would break the client's
   * connection. Put back when the connection closes. `false` leaves `process.stdout` as it is (nothing
   * else may write to it then). Default `true`; a `stdout` of the caller's own is never guarded.
   */
  guardStdout?: boolean;
  /** Errors the connection reports out of band (a malformed line, a broken pipe). Default: ignored. */
  onError?: (error: Error) => void;
  /**
   * Bytes of one line (one JSON-RPC message) read at most. A longer line is dropped as it streams in,
   * never held whole, and answered with a JSON-RPC error (-32600) for its id when its first or last
   * bytes name one, else for id `null`. Default 1 MiB.
   */
  maxLineBytes?: number;
  /**
   * Requests in flight at once (an `execute` holds one until its run ends). One more is answered at once
   * with a JSON-RPC error (-32000, `data.maxConcurrentRequests`) and never started. So is a request whose
   * id is that of one still in flight (-32600): a cancel names its request by id, and must stop the one
   * whose place it gives back. Default 8.
   */
  maxConcurrentRequests?: number;
}

/** A served connection. */
export interface McpStdioServer {
  /** Settles when the client closes the connection (its end of stdin), or after `close()`. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** JSON-RPC's code for a message that is not a valid request; and the first of the server's own codes, for a request refused while others run. */
const INVALID_REQUEST = -32600;
const TOO_MANY_REQUESTS = -32000;
const NEWLINE = 0x0a;
/** Characters of a cancel's reason passed on to the server. */
const MAX_REASON = 1000;
/** Bytes kept of each end of a dropped line, to find its id in. */
const ID_WINDOW = 512;
/**
 * A request id at the start of a line (`{"id":…` or `{"jsonrpc":"2.0","id":…`), or at its end (`,"id":…}`):
 * either is a top-level key of a JSON object. Only a number or a plain string (letters, digits, `_.:-`) is
 * read; any other id is answered as `null`.
 */
const ID_AT_HEAD = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(-?\d{1,16}|"[\w.:-]{0,256}")\s*[,}]/;
const ID_AT_TAIL = /,\s*"id"\s*:\s*(-?\d{1,16}|"[\w.:-]{0,256}")\s*\}\s*\r?$/;

/** The id a dropped line names at its start or end, if it names one there; `null` (JSON-RPC's "unknown") otherwise. */
function idOfDropped(head: string, tail: string): string | number | null {
  const found = ID_AT_HEAD.exec(head)?.[1] ?? ID_AT_TAIL.exec(tail)?.[1];
  if (found === undefined) return null;
  // Text the client chose, read in a stream's listener: whatever it holds, it never throws there.
  try {
    return JSON.parse(found) as string | number;
  } catch {
    return null;
  }
}

type RequestId = string | number;

/**
 * The SDK's stdio transport, with the connection's limits on what the client sends: lines longer than
 * `maxLineBytes` are dropped as they stream in (the SDK's own reader buffers up to 10 MiB and then
 * closes the connection), and requests beyond `maxConcurrentRequests` in flight are refused. It also
 * tells us when the connection is over.
 */
class LimitedTransport extends StdioServerTransport {
  readonly closed: Promise<void>;
  #resolve!: () => void;
  readonly #maxLineBytes: number;
  readonly #maxConcurrentRequests: number;
  /**
   * The line read so far (while it is within the cap), copied out of the chunks: a client decides how
   * stdin is cut (a write per byte), and a Buffer kept per chunk held a few hundred bytes of memory per
   * byte of the line. Let go when emptied if over 64 KiB: a line of a MiB once does not hold a MiB for good.
   */
  readonly #line = new BoundedBuffer({ alloc: (size) => Buffer.allocUnsafe(size), minCapacity: 1024 });
  /** Over the cap: the rest of the line is dropped as it comes, its first and last bytes kept to find its id. */
  #dropped: { head: Buffer; tail: Buffer } | undefined;
  /** The ids of the requests in flight: one request each, so that a cancel stops the request whose place it frees. */
  readonly #pending = new Set<RequestId>();
  readonly #in: Readable;
  readonly #out: Writable;
  /** What the SDK's reader makes of whole lines. */
  readonly #read: (chunk: Buffer) => void;
  /** While the client does not read its answers: stdin is paused, and what was read of it after waits here. */
  #blocked = false;
  #held: Buffer | undefined;
  #ended = false;

  constructor(stdin: Readable | undefined, stdout: Writable | undefined, limits: { maxLineBytes: number; maxConcurrentRequests: number }) {
    // Every line handed to the SDK's reader is whole and within the cap, and read at once.
    super(stdin, stdout, { maxBufferSize: limits.maxLineBytes + 2 });
    this.#in = stdin ?? process.stdin;
    this.#out = stdout ?? process.stdout;
    this.#maxLineBytes = limits.maxLineBytes;
    this.#maxConcurrentRequests = limits.maxConcurrentRequests;
    this.closed = new Promise((resolve) => (this.#resolve = resolve));
    // Before start() listens with it: the SDK's reader gets whole lines only.
    // eslint-disable-next-line no-underscore-dangle -- the SDK's public data listener, which start() attaches
    this.#read = this._ondata;
    // eslint-disable-next-line no-underscore-dangle -- as above
    this._ondata = (chunk: Buffer) => {
      // As the SDK's own listener: a failure here is reported and ends the connection, never the process.
      try {
        this.#frame(chunk);
      } catch (err) {
        this.onerror?.(err instanceof Error ? err : new Error(String(err)));
        this.close().catch(() => {});
      }
    };
    // serveStdio sets `onmessage` (an own field of the SDK's class): each message passes the cap first.
    let deliver: ((message: JSONRPCMessage) => void) | undefined;
    Object.defineProperty(this, 'onmessage', {
      configurable: true,
      enumerable: true,
      get: () => (deliver === undefined ? undefined : (message: JSONRPCMessage) => this.#admit(message, deliver as (message: JSONRPCMessage) => void)),
      set: (fn: ((message: JSONRPCMessage) => void) | undefined) => {
        deliver = fn;
      },
    });
  }

  override async close(): Promise<void> {
    this.#ended = true;
    this.#held = undefined;
    this.#line.release();
    this.#dropped = undefined;
    await super.close();
    this.#resolve();
  }

  override send(message: JSONRPCMessage): Promise<void> {
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) this.#settle(message.id);
    const sent = super.send(message);
    this.#backpressure();
    return sent;
  }

  /**
   * A client that sends and does not read its answers would have them all buffered here: once stdout
   * is full, stdin is paused (and the rest of a chunk read already waits) until the client has read.
   */
  #backpressure(): void {
    if (this.#blocked || this.#ended || !this.#out.writableNeedDrain) return;
    this.#blocked = true;
    this.#in.pause();
    this.#out.once('drain', () => {
      this.#blocked = false;
      if (this.#ended) return;
      const held = this.#held;
      this.#held = undefined;
      if (held !== undefined) this.#frame(held);
      if (!this.#blocked && !this.#ended) this.#in.resume();
    });
  }

  #frame(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      if (this.#blocked || this.#ended) {
        if (!this.#ended) this.#held = this.#held === undefined ? chunk.subarray(start) : Buffer.concat([this.#held, chunk.subarray(start)]);
        return;
      }
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      this.#take(chunk.subarray(start, end));
      if (newline === -1) return;
      start = newline + 1;
      const dropped = this.#dropped;
      if (dropped !== undefined) {
        this.#dropped = undefined;
        this.#refuse(idOfDropped(dropped.head.toString('utf8'), dropped.tail.toString('utf8')), INVALID_REQUEST, `The message is longer than ${this.#maxLineBytes} bytes (maxLineBytes); it was dropped unread.`, { maxLineBytes: this.#maxLineBytes });
        continue;
      }
      const held = this.#line.view();
      const line = Buffer.allocUnsafe(held.length + 1);
      held.copy(line);
      line[held.length] = NEWLINE;
      this.#line.clear();
      this.#read(line);
    }
  }

  /** A part of the current line: kept while the line is within the cap, dropped (ends kept) once it is not. */
  #take(part: Buffer): void {
    if (part.length === 0) return;
    if (this.#dropped === undefined && this.#line.appendWithin(part, this.#maxLineBytes)) return;
    if (this.#dropped === undefined) {
      const head = Buffer.from(this.#line.view());
      this.#dropped = { head: Buffer.from(head.subarray(0, ID_WINDOW)), tail: Buffer.alloc(0) };
      this.#line.clear();
      if (this.#dropped.head.length < ID_WINDOW) this.#dropped.head = Buffer.concat([this.#dropped.head, part.subarray(0, ID_WINDOW - this.#dropped.head.length)]);
      part = Buffer.concat([head.subarray(Math.max(0, head.length - ID_WINDOW)), part]);
    }
    const tail = Buffer.concat([this.#dropped.tail, part.subarray(Math.max(0, part.length - ID_WINDOW))]);
    this.#dropped.tail = Buffer.from(tail.subarray(Math.max(0, tail.length - ID_WINDOW)));
  }

  /**
   * A request within the cap goes on; one beyond it is answered at once and never reaches the server.
   * Ids are unique among requests in flight: the SDK aborts a cancelled request by its id, the latest
   * one under it only, so a second request under an id in flight would outlive the cancel that gave
   * its place back (requests sent twice under one id and cancelled twice held runs beyond any cap).
   * A cancel frees a place only as it stops the request that held it.
   */
  #admit(message: JSONRPCMessage, deliver: (message: JSONRPCMessage) => void): void {
    if (isJSONRPCRequest(message)) {
      if (this.#pending.has(message.id)) {
        this.#refuse(message.id, INVALID_REQUEST, 'A request with this id is in flight already; ids must be unique among requests in flight. It was not started.', {});
        return;
      }
      if (this.#pending.size >= this.#maxConcurrentRequests) {
        this.#refuse(message.id, TOO_MANY_REQUESTS, `Too many requests in flight: at most ${this.#maxConcurrentRequests} at once (maxConcurrentRequests); wait for an answer, then send it again.`, { maxConcurrentRequests: this.#maxConcurrentRequests });
        return;
      }
      this.#pending.add(message.id);
    } else if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      // A cancelled request gets no answer: its place is free now. The place goes only with a cancel the
      // server takes, so that it stops the request: one of a request in flight, passed on rebuilt from
      // its id and reason alone (the server drops a cancel whose fields it does not read, a reason of
      // another type say, and the run it named went on with its place given back).
      const params = message.params as { requestId?: unknown; reason?: unknown } | undefined;
      const id = params?.requestId;
      if ((typeof id !== 'string' && typeof id !== 'number') || !this.#pending.has(id)) return;
      this.#settle(id);
      const reason = typeof params?.reason === 'string' ? { reason: params.reason.slice(0, MAX_REASON) } : {};
      deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, ...reason } } as JSONRPCMessage);
      return;
    }
    deliver(message);
  }

  #settle(id: RequestId | undefined): void {
    if (id !== undefined) this.#pending.delete(id);
  }

  /** An error answer of our own: past `send`, so it frees no other request's place. */
  #refuse(id: RequestId | null, code: number, message: string, data: Record<string, number>): void {
    super.send({ jsonrpc: '2.0', id, error: { code, message, data } } as unknown as JSONRPCMessage).catch(() => {});
    this.#backpressure();
  }
}

const positive = (name: string, value: unknown, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw new EnclaveConfigError(`serveMcpStdio(options): ${name} must be a positive integer, got ${String(value)}.`);
  return value as number;
};

/**
 * Serves `search_tools`, `describe_tools` and `execute` over stdio (2026-07-28, and 2025 clients that
 * open with `initialize`), running scripts with `tools`. On the process's stdout, what else prints
 * meanwhile goes to stderr (`guardStdout`).
 *
 * @example
 * ```ts
 * const server = serveMcpStdio({ enclave: { securityLevel: 'SECURE' }, tools: { 'notes:list': async () => notes } });
 * await server.closed;
 * ```
 */
const STDIO_OPTION_NAMES = ['enclave', 'tools', 'stdin', 'stdout', 'guardStdout', 'onError', 'maxLineBytes', 'maxConcurrentRequests', 'name', 'version'];

export function serveMcpStdio(options: McpStdioOptions = {}): McpStdioServer {
  // As mcpRoute() and every engine entry: a misspelt option is refused, never served without.
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new EnclaveConfigError('serveMcpStdio(options): options must be an object.');
  for (const key of Object.keys(options)) {
    if (!STDIO_OPTION_NAMES.includes(key)) throw new EnclaveConfigError(`serveMcpStdio(options): unknown option "${key}". Known options: ${STDIO_OPTION_NAMES.join(', ')}.`);
  }
  const { enclave: given, tools, stdin, stdout, onError, name, version } = options;
  for (const [key, value] of [['name', name], ['version', version]] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw new EnclaveConfigError(`serveMcpStdio(options): ${key} must be a non-empty string.`);
  }
  if (onError !== undefined && typeof onError !== 'function') throw new EnclaveConfigError('serveMcpStdio(options): onError must be a function.');
  if (options.guardStdout !== undefined && typeof options.guardStdout !== 'boolean') throw new EnclaveConfigError('serveMcpStdio(options): guardStdout must be a boolean.');
  const limits = { maxLineBytes: positive('maxLineBytes', options.maxLineBytes, DEFAULT_MAX_LINE_BYTES), maxConcurrentRequests: positive('maxConcurrentRequests', options.maxConcurrentRequests, DEFAULT_MAX_CONCURRENT_REQUESTS) };
  const enclave = given instanceof Enclave ? given : new Enclave(given);
  // Fail at start, not at the first call, on a malformed tools record.
  enclave.describe(tools);
  const backend: CodeModeBackend = {
    catalog: async () => enclave.describe(tools),
    run: (code, input, signal) => enclave.run(code, { ...(tools !== undefined ? { tools } : {}), ...(input !== undefined ? { input } : {}), signal }),
  };
  const info = { name: name ?? 'enclave-kit', version: version ?? MCP_PACKAGE_VERSION };
  // Put back when the connection closes (or if it cannot be served at all).
  const guard = options.guardStdout !== false && (stdout ?? process.stdout) === process.stdout ? guardStdout() : undefined;
  let transport: LimitedTransport;
  let handle: ReturnType<typeof serveStdio>;
  try {
    transport = new LimitedTransport(stdin, guard?.protocol ?? stdout, limits);
    handle = serveStdio(() => codeModeServer(backend, info), { transport, ...(onError ? { onerror: onError } : {}) });
  } catch (err) {
    guard?.release();
    throw err;
  }
  const closed = transport.closed.then(() => {
    guard?.release();
    if (!(given instanceof Enclave)) enclave.dispose();
  });
  return { closed, close: () => handle.close().then(() => closed) };
}
