/**
 * The adapter contract: one table-driven suite, run against every adapter over a real socket. Each
 * adapter test gives a harness that mounts the adapter at `/enclave` on port 0, behind the framework's
 * own auth step that reads the `x-user` header, next to a plain route `GET /other`. The options mount
 * code mode over MCP at `/enclave/mcp` too (a route of `routes`), driven by the official MCP clients.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnclaveHttpError, ToolError, createEnclaveHandler, defineTool } from '../../src/index.js';
import { routePath } from '../../src/http/index.js';
import { hostTracksAsyncContext } from '../../src/sandbox/async-context.js';
import { handleNodeRequest } from '../../src/node/index.js';
import type { NodeRequest } from '../../src/node/index.js';
import { trace } from '@opentelemetry/api';
import { readEvents } from './event-stream.js';
import { newTraceparent, parentOf, registerTestTracing, spansOf } from '../otel.js';
import type { EnclaveRequestContext, ExecutionResult, ToolContext } from '../../src/index.js';
// @enclave-kit/mcp plugs into the core: its route and the official clients live in that package.
import { mcpRoute } from '../../../mcp/src/index.js';
import { ERAS, callBody, connectMcp, rawRpc, textOf } from '../../../mcp/test/clients.js';

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Listens on port 0 of 127.0.0.1 (unless already listening) and closes with every connection. */
export async function listen(server: Server, dispose: () => void): Promise<Served> {
  if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      dispose();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface AdapterHarness {
  /** Starts a server with the adapter mounted at `/enclave` with `options`, and `GET /other` beside it. */
  start(options: Record<string, unknown>): Promise<Served>;
  /** The user the framework's auth step attached to the native request (from `x-user`). */
  userOf(native: unknown): string | undefined;
  /** Whether other methods on `/enclave` fall through to the framework (all but the bare handlers). */
  passThrough?: boolean;
  /** A body parser runs before the adapter (express.json(), Fastify): it drains uploads and may answer 400/413/415 with its own code. */
  frameworkParsesBody?: boolean;
  /** That parser refuses JSON declared in any charset but utf-* with its own 415 (Nest on Express: body-parser, which the app owns). */
  parserRefusesNonUtf?: boolean;
}

/** The Fetch core behind a bare node:http server and the Node bridge, `GET /other` beside it: the reference for the adapters. */
export const fetchCoreHarness: AdapterHarness = {
  passThrough: false,
  userOf: (native) => (native as { req: NodeRequest }).req.headers['x-user'] as string | undefined,
  async start(options) {
    const handler = createEnclaveHandler(options as Parameters<typeof createEnclaveHandler>[0]);
    const route = routePath('/enclave');
    const server = createServer((req, res) => {
      if (req.url === '/other') return void res.end('other');
      const sub = route.below(new URL(req.url ?? '/', 'http://localhost').pathname);
      void handleNodeRequest(handler, req, res, { req }, undefined, sub);
    });
    return listen(server, () => handler.dispose());
  },
};

/** What the server-side hooks saw: canaries for aborts, user binding and hook calls. */
export interface Observed {
  aborts: string[];
  ends: { status: number; code: string | undefined }[];
  errors: unknown[];
  toolUsers: string[];
  release(): void;
  pending: number;
  /** Streamed bodies of the `/held-stream` route that were cancelled (their reader went away). */
  streamsCancelled: number;
  /** The user of each call of the `tools` factory, in order. */
  toolsAsked: string[];
  /** `onRunStart`: the user and the code of each run about to start. */
  starts: { user: string; code: string }[];
}

const silent = { info() {}, error() {} };

function waitFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * The server's deadline for every run of the contract. Tests hold runs on `block` while they start
 * others, open streams and wait for the server to notice a closed one: at 1500 ms a loaded machine could
 * end a held run by its deadline first (a 408 where the test looks for 429, 499 or QUEUE_FULL). Held
 * runs are ended by each test (release, abort, DELETE), so this only has to be out of reach.
 */
const SERVER_TIMEOUT = 15_000;

/** The options every harness mounts: user-bound tools, auth, rate limit, concurrency cap, hooks. */
export function contractOptions(harness: AdapterHarness, observed: Observed): Record<string, unknown> {
  let waiters: (() => void)[] = [];
  observed.release = () => {
    for (const w of waiters) w();
    waiters = [];
  };
  return {
    enclave: { timeout: SERVER_TIMEOUT, maxOutputBytes: 4096 },
    maxBodySize: 8 * 1024,
    bodyTimeoutMs: BODY_TIMEOUT_MS,
    maxConcurrentRuns: 4,
    retryAfter: 2,
    logger: silent,
    authenticate: ({ native }: EnclaveRequestContext) => {
      const user = harness.userOf(native);
      if (user === 'mallory') throw new EnclaveHttpError(403, 'mallory may not run scripts');
      return user;
    },
    sessions: { maxPerUser: 2, maxFollowersPerUser: 3 },
    heartbeatMs: 60_000,
    rateLimit: { max: 2, windowMs: 60_000, key: ({ user }: EnclaveRequestContext<unknown, string>) => (user.startsWith('limited') ? user : undefined) },
    routes: {
      '/mcp': mcpRoute(),
      // One chunk, then nothing for as long as the client stays: what a session follower looks like while its run waits.
      '/held-stream': {
        serve: async () =>
          new Response(
            new ReadableStream<Uint8Array>({
              start: (c) => c.enqueue(new TextEncoder().encode('retry: 1000\n\n')),
              cancel: () => void observed.streamsCancelled++,
            }),
            { headers: { 'content-type': 'text/event-stream' } },
          ),
      },
    },
    playground: true,
    onRunStart: ({ ctx, body }: { ctx: EnclaveRequestContext<unknown, string>; body: { code: string } }) => {
      observed.starts.push({ user: ctx.user, code: body.code });
      if (ctx.user.startsWith('refused-start')) throw new EnclaveHttpError(403, 'Runs are closed for you today.');
    },
    onRunEnd: ({ status, result }: { status: number; result: ExecutionResult }) => observed.ends.push({ status, code: result.error?.code }),
    onError: ({ error }: { error: unknown }) => observed.errors.push(error),
    tools: ({ user, native }: EnclaveRequestContext<unknown, string>) => {
      if (user === 'broken') throw new Error('tools factory failed: db password=hunter2');
      // The tools close over the user of *this* request, read from the framework's own object.
      const bound = harness.userOf(native) as string;
      observed.toolsAsked.push(bound);
      return {
        whoami: async () => {
          observed.toolUsers.push(bound);
          return bound;
        },
        [`secret:${bound}`]: async () => `${bound}-secret`,
        fail: async () => {
          throw new Error('connect ECONNREFUSED /var/run/db.sock password=hunter2');
        },
        forbid: async () => {
          throw new ToolError('Not your order.', { code: 'FORBIDDEN', status: 403 });
        },
        // An error of the host's own (http-errors, an HTTP client's) that carries a status: the status goes on, its text does not.
        gone: async () => {
          throw Object.assign(new Error('GET http://orders.internal/7 answered 410'), { statusCode: 410 });
        },
        sleep: async ({ ms }: { ms: number }, ctx: ToolContext) => waitFor(ms, ctx.signal),
        traced: async () => {
          // A span of the tool's own: it must nest under the tool's execute_tool span.
          const span = trace.getTracer('app').startSpan('db.query');
          span.end();
          return bound;
        },
        refund: defineTool({
          name: 'refund',
          needsApproval: true,
          handler: ({ amount }: { amount: number }) => {
            observed.toolUsers.push(`refund:${bound}`);
            return amount;
          },
        }),
        step: async ({ i }: { i: number }) => {
          await new Promise((r) => setTimeout(r, 15));
          return i;
        },
        block: (_args: unknown, ctx: ToolContext) =>
          new Promise<string>((resolve) => {
            observed.pending++;
            let settled = false;
            const done = (how: string) => {
              if (settled) return;
              settled = true;
              observed.pending--;
              if (how === 'aborted') observed.aborts.push(bound);
              resolve(how);
            };
            waiters.push(() => done('released'));
            ctx.signal.addEventListener('abort', () => done('aborted'));
          }),
      };
    },
  };
}

type Row = {
  name: string;
  status: number;
  code?: string;
  user?: string | null;
  body?: unknown;
  raw?: string | Uint8Array;
  contentType?: string | null;
  /** The Origin a browser page sends. */
  origin?: string;
  /** The body's Content-Encoding. */
  encoding?: string;
  /** What a body parser before the adapter (frameworkParsesBody) may answer instead of `status`. */
  parserStatus?: number | number[];
  /** What a parser that refuses every charset but utf-* (parserRefusesNonUtf) answers instead of `status`. */
  nonUtfParserStatus?: number;
  check?: (json: any, res: Response) => void;
};

/** Every row of DESIGN.md section 5 that one request can show. */
const ROWS: Row[] = [
  { name: 'success', status: 200, body: { code: 'return 1 + 1' }, check: (j) => expect(j).toMatchObject({ success: true, value: 2 }) },
  { name: 'input reaches the script', status: 200, body: { code: 'return input.a * 2', input: { a: 21 } }, check: (j) => expect(j.value).toBe(42) },
  { name: 'malformed JSON', status: 400, code: 'BAD_REQUEST', raw: '{"code": "return 1"' },
  { name: 'JSON that is not an object', status: 400, code: 'BAD_REQUEST', raw: '["return 1"]' },
  { name: 'missing code', status: 400, code: 'BAD_REQUEST', body: { input: 1 } },
  { name: 'code is not a string', status: 400, code: 'BAD_REQUEST', body: { code: 42 } },
  { name: 'limits of the wrong type', status: 400, code: 'BAD_REQUEST', body: { code: 'return 1', limits: { timeout: 'soon' } } },
  { name: 'a limit the client may not set', status: 400, code: 'BAD_REQUEST', body: { code: 'return 1', limits: { memoryLimit: 1 } } },
  { name: 'unknown field', status: 400, code: 'BAD_REQUEST', body: { code: 'return 1', tools: {} } },
  { name: 'not JSON (text/plain)', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', raw: 'return 1', contentType: 'text/plain' },
  { name: 'not JSON (form)', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', raw: 'code=return+1', contentType: 'application/x-www-form-urlencoded' },
  // JSON is UTF-8 and the body is read as UTF-8: one its sender wrote in another charset is refused as
  // such, not read as UTF-8 into a 400 (or, for a charset that agrees with UTF-8 on its bytes, into code
  // its sender did not write).
  {
    name: 'JSON in UTF-16 (charset=utf-16le)',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    raw: new Uint8Array(Buffer.from(JSON.stringify({ code: 'return 1' }), 'utf16le')),
    contentType: 'application/json; charset=utf-16le',
    // Nest on Fastify parses a JSON body as UTF-8 whatever its charset, before the adapter sees it.
    parserStatus: 400,
    check: (j) => expect(j.error.message).toBe('Send the request as JSON in UTF-8 (Content-Type: application/json): charset=utf-16le is not read (JSON is UTF-8).'),
  },
  { name: 'a charset other than UTF-8 among other parameters, quoted', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', body: { code: 'return 1' }, contentType: 'application/json; v=1; Charset="ISO-8859-1"' },
  { name: 'JSON declared UTF-8 (quoted, any case)', status: 200, body: { code: 'return 1' }, contentType: 'application/json; charset="UTF-8"; q=1' },
  // US-ASCII is a subset of UTF-8: the README lists it as read, as every adapter reads it (express.json()
  // included, which refuses every charset but utf-* on its own).
  { name: 'JSON declared US-ASCII', status: 200, body: { code: 'return 1' }, contentType: 'application/json; charset=us-ascii', nonUtfParserStatus: 415, check: (j) => expect(j.value).toBe(1) },
  // The body is read as it arrives: one in a content coding is not read as JSON (into a 400 about its
  // bytes), nor one declared in a coding but sent plain. A body parser before the adapter (express.json())
  // inflates gzip itself, and the route reads what it parsed.
  {
    name: 'a gzip body (Content-Encoding: gzip)',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    raw: new Uint8Array(gzipSync(JSON.stringify({ code: 'return 1' }))),
    encoding: 'gzip',
    // express.json() and body-parser under Nest inflate it; Fastify's parser reads it as JSON text (400).
    // (For "compress", which no parser inflates: body-parser under Nest refuses it with its own 415,
    // Fastify reads the plain JSON; express.json() hands it to the route, see its own test.)
    parserStatus: [200, 400],
    check: (j) => expect(j.error.message).toBe('Send the request body uncompressed: Content-Encoding: gzip is not read.'),
  },
  { name: 'a plain body declared "compress"', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', body: { code: 'return 1' }, encoding: 'compress', parserStatus: [200, 415], check: (j) => expect(j.error.message).toBe('Send the request body uncompressed: Content-Encoding: compress is not read.') },
  { name: 'Content-Encoding: identity', status: 200, body: { code: 'return 1' }, encoding: 'Identity' },
  { name: 'body over maxBodySize', status: 413, raw: JSON.stringify({ code: `return '${'x'.repeat(9000)}'` }) },
  { name: 'no user', status: 401, code: 'UNAUTHORIZED', user: null, body: { code: 'return 1' } },
  { name: 'auth hook refuses', status: 403, code: 'FORBIDDEN', user: 'mallory', body: { code: 'return 1' } },
  { name: 'a page of another origin (CSRF)', status: 403, code: 'FORBIDDEN', origin: 'http://evil.example', body: { code: 'await callTool("whoami"); return 1' } },
  { name: 'VALIDATION_ERROR', status: 422, code: 'VALIDATION_ERROR', body: { code: 'return eval("1")' } },
  { name: 'RUNTIME_ERROR', status: 422, code: 'RUNTIME_ERROR', body: { code: 'const o = null; return o.x;' } },
  { name: 'MAX_ITERATIONS', status: 422, code: 'MAX_ITERATIONS', body: { code: 'let n = 0; for (let i = 0; i < 1000; i++) n++; return n;', limits: { maxIterations: 50 } } },
  { name: 'MAX_TOOL_CALLS', status: 422, code: 'MAX_TOOL_CALLS', body: { code: 'await callTool("whoami"); await callTool("whoami"); return 1;', limits: { maxToolCalls: 1 } } },
  // A builtin that would allocate past the default 64 MiB memoryLimit: refused before it allocates.
  { name: 'MEMORY_LIMIT_EXCEEDED', status: 422, code: 'MEMORY_LIMIT_EXCEEDED', body: { code: 'return "x".repeat(2 ** 27).length' } },
  { name: 'OUTPUT_LIMIT_EXCEEDED', status: 422, code: 'OUTPUT_LIMIT_EXCEEDED', body: { code: 'return "y".repeat(10000)' } },
  { name: 'TIMEOUT', status: 408, code: 'TIMEOUT', body: { code: 'await callTool("sleep", { ms: 5000 }); return 1;', limits: { timeout: 100 } } },
  {
    name: 'TOOL_ERROR, redacted',
    status: 502,
    code: 'TOOL_ERROR',
    body: { code: 'return await callTool("fail")' },
    check: (j) => expect(JSON.stringify(j)).not.toMatch(/hunter2|ECONNREFUSED|db\.sock/),
  },
  { name: 'TOOL_ERROR with the status the ToolError carries', status: 403, code: 'TOOL_ERROR', body: { code: 'return await callTool("forbid")' } },
  { name: 'TOOL_ERROR with the status any error the tool threw carries, and none of its text', status: 410, code: 'TOOL_ERROR', body: { code: 'return await callTool("gone")' }, check: (j) => expect(JSON.stringify(j)).not.toMatch(/orders\.internal/) },
  {
    name: 'TOOL_ERROR of a ToolError the script rewrote and rethrew: the tool\'s own status, code and words',
    status: 403,
    code: 'TOOL_ERROR',
    body: { code: 'try { await callTool("forbid"); } catch (e) { e.message = "Account locked: call 555-0100."; e.name = "InternalError"; e.code = "RATE_LIMITED"; e.tool = "admin:ban"; e.data = { status: 200 }; throw e; }' },
    check: (j) => {
      expect(j.error).toMatchObject({ name: 'ToolError', message: 'Not your order.', data: { toolErrorCode: 'FORBIDDEN', tool: 'forbid', status: 403 } });
      expect(JSON.stringify(j)).not.toMatch(/555-0100|RATE_LIMITED|admin:ban|InternalError/);
    },
  },
  { name: 'a handled ToolError is a success', status: 200, body: { code: 'try { await callTool("forbid"); } catch (e) { return e.code; }' }, check: (j) => expect(j.value).toBe('FORBIDDEN') },
  {
    name: 'INTERNAL_ERROR without details',
    status: 500,
    code: 'INTERNAL_ERROR',
    user: 'broken',
    body: { code: 'return 1' },
    check: (j) => expect(JSON.stringify(j)).not.toMatch(/hunter2|factory|stack/),
  },
];

async function post(url: string, row: Pick<Row, 'user' | 'body' | 'raw' | 'contentType' | 'origin' | 'encoding'>, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (row.origin !== undefined) headers.origin = row.origin;
  if (row.encoding !== undefined) headers['content-encoding'] = row.encoding;
  if (row.user !== null) headers['x-user'] = row.user ?? 'alice';
  if (row.contentType !== null) headers['content-type'] = row.contentType ?? 'application/json';
  return fetch(`${url}/enclave`, { method: 'POST', headers, body: row.raw ?? JSON.stringify(row.body), ...init });
}

/**
 * A request as a browser page on `host` sends it once DNS points that name at the server: `Host` is the
 * page's own name, and a same-origin GET carries no `Origin`. (fetch sets `Host` from the URL itself.)
 */
export function underHost(url: string, host: string, method = 'GET', body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const { pathname, search } = new URL(url);
  return rawTarget(url, `${pathname}${search}`, method, body, { host, ...(body !== undefined && { accept: 'application/json, text/event-stream' }), ...headers });
}

/** A request with `target` as the request line's path, as it is: `fetch` and `http.request(url)` resolve its dot segments first. */
export function rawTarget(url: string, target: string, method: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const all = body === undefined ? headers : { 'content-type': 'application/json', ...headers };
    const req = httpRequest({ hostname, port, path: target, method, headers: all }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The contract's `bodyTimeoutMs`: long enough for any whole body on a loaded machine, short for a test to wait out. */
const BODY_TIMEOUT_MS = 1500;

/**
 * A client that sends its headers and the start of a body, then nothing more, on a raw socket: what the
 * server answered (`''` if nothing) when it closed the connection. The body is declared with a
 * Content-Length it never reaches, or sent as one chunk of an unended chunked body.
 */
export function stalledBody(url: string, path: string, framing: 'length' | 'chunked'): Promise<string> {
  const { hostname, port } = new URL(url);
  const start = '{"code":"return 1","input":"';
  const head = [`POST ${path} HTTP/1.1`, `host: ${hostname}:${port}`, 'content-type: application/json', 'x-user: alice'];
  head.push(framing === 'length' ? `content-length: ${start.length + 100}` : 'transfer-encoding: chunked');
  const body = framing === 'length' ? start : `${start.length.toString(16)}\r\n${start}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** The JSON body, untyped: tests read fields of many shapes. */
const jsonOf = (res: Response): Promise<any> => res.json();

const isJson = (res: Response) => expect(res.headers.get('content-type')).toMatch(/^application\/json/);

/** Runs the contract against one adapter. */
/**
 * Starts a server of the harness with the contract's options before the cases of the describe it is
 * called in (handing it to `use`), and closes it after them; returns what the server's hooks observe.
 */
function serveContract(harness: AdapterHarness, use: (served: Served) => void): Observed {
  const observed: Observed = { aborts: [], ends: [], errors: [], toolUsers: [], release() {}, pending: 0, streamsCancelled: 0, toolsAsked: [], starts: [] };
  let served: Served | undefined;
  beforeAll(async () => {
    served = await harness.start(contractOptions(harness, observed));
    use(served);
  });
  afterAll(async () => {
    observed.release();
    await served?.close();
  });
  return observed;
}

export function adapterContract(name: string, harness: AdapterHarness): void {
  describe(`${name}: HTTP contract`, () => {
    let served: Served;
    const observed = serveContract(harness, (s) => {
      served = s;
    });

    it.each(ROWS)('$name -> $status', async (row) => {
      const res = await post(served.url, row);
      const text = await res.text();
      // A body parser before the adapter may answer these itself: same status (or the row's parserStatus), still JSON, its own shape.
      const nonUtfParser = harness.parserRefusesNonUtf === true && row.nonUtfParserStatus !== undefined;
      const parserMayAnswer = harness.frameworkParsesBody === true && ([400, 413, 415].includes(row.status) || nonUtfParser);
      const parserAnswered = nonUtfParser ? res.status === row.nonUtfParserStatus : parserMayAnswer && row.parserStatus !== undefined && [row.parserStatus].flat().includes(res.status);
      if (!parserAnswered) expect(res.status, text.slice(0, 300)).toBe(row.status);
      isJson(res);
      const json = JSON.parse(text);
      if (row.status !== 200 && !parserMayAnswer) expect(json.success).toBe(false);
      if (row.code && !parserMayAnswer) expect(json.error.code).toBe(row.code);
      if (!parserAnswered) row.check?.(json, res);
    });

    it('INTERNAL_ERROR reaches onError', () => {
      expect(observed.errors.some((e) => e instanceof Error && /tools factory failed/.test(e.message))).toBe(true);
    });

    it('a huge body gets 413 and the server keeps serving', async () => {
      const res = await post(served.url, { raw: JSON.stringify({ code: 'return 1', input: 'z'.repeat(20 * 1024 * 1024) }) });
      expect(res.status).toBe(413);
      await res.body?.cancel();
      const ok = await post(served.url, { body: { code: 'return "alive"' } });
      expect((await jsonOf(ok)).value).toBe('alive');
    });

    it('a streamed body without Content-Length is cut off at the cap', async () => {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          // 1 KiB chunks forever: the server must answer 413 rather than wait for the end.
          sent += 1024;
          if (sent > 4 * 1024 * 1024) controller.close();
          else controller.enqueue(new TextEncoder().encode(sent === 1024 ? `{"code":"return 1","input":"${'a'.repeat(1000)}` : 'a'.repeat(1024)));
        },
      });
      const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice' }, body, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(413);
      await res.body?.cancel();
      // A body parser before the adapter (express.json()) drains the upload before it answers.
      if (!harness.frameworkParsesBody) expect(sent).toBeLessThan(4 * 1024 * 1024);
    });

    it('a slow body the client abandons leaves the server healthy', async () => {
      const ac = new AbortController();
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"code":"return '));
        },
      });
      const pending = fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice' }, body, duplex: 'half', signal: ac.signal } as RequestInit);
      await new Promise((r) => setTimeout(r, 150));
      ac.abort();
      await expect(pending).rejects.toThrow();
      const ok = await post(served.url, { body: { code: 'return "still here"' } });
      expect((await jsonOf(ok)).value).toBe('still here');
    });

    // A body parser before the adapter (express.json()) reads the body itself, under the framework's own timeouts.
    it.skipIf(harness.frameworkParsesBody === true)('a body that does not arrive whole within bodyTimeoutMs gets 408 REQUEST_TIMEOUT and its connection closed; the server keeps serving', async () => {
      const answers = await Promise.all([stalledBody(served.url, '/enclave', 'length'), stalledBody(served.url, '/enclave', 'chunked'), stalledBody(served.url, '/enclave/sessions', 'length')]);
      for (const answer of answers) {
        expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
        expect(answer.toLowerCase()).toContain('connection: close');
        expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, ''))).toMatchObject({
          success: false,
          error: { code: 'REQUEST_TIMEOUT', message: `The request body did not arrive within ${BODY_TIMEOUT_MS} ms.` },
        });
      }
      const ok = await post(served.url, { body: { code: 'return "still here"' } });
      expect((await jsonOf(ok)).value).toBe('still here');
    });

    it('client disconnect aborts the run (499, logged only) and its tools', async () => {
      const before = observed.aborts.length;
      const ac = new AbortController();
      const pending = post(served.url, { user: 'carol', body: { code: 'return await callTool("block")' } }, { signal: ac.signal });
      await expect.poll(() => observed.pending).toBeGreaterThan(0);
      ac.abort();
      await expect(pending).rejects.toThrow();
      await expect.poll(() => observed.aborts.length).toBe(before + 1);
      expect(observed.aborts.at(-1)).toBe('carol');
      await expect.poll(() => observed.ends.some((e) => e.status === 499 && e.code === 'ABORTED')).toBe(true);
    });

    it('QUEUE_FULL: runs over maxConcurrentRuns get 503 with Retry-After', async () => {
      const running = [1, 2, 3, 4].map(() => post(served.url, { user: 'dave', body: { code: 'return await callTool("block")' } }));
      await expect.poll(() => observed.pending).toBe(4);
      const res = await post(served.url, { body: { code: 'return 1' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect((await jsonOf(res)).error.code).toBe('QUEUE_FULL');
      observed.release();
      for (const r of await Promise.all(running)) expect((await jsonOf(r)).value).toBe('released');
    });

    it('per-user rate limit: 429 with Retry-After, other users unaffected', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await post(served.url, { user: 'limited-1', body: { code: 'return 1' } });
        statuses.push(res.status);
        if (res.status === 429) {
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
          expect((await jsonOf(res)).error.code).toBe('RATE_LIMITED');
        } else await res.body?.cancel();
      }
      expect(statuses).toEqual([200, 200, 429]);
      expect((await post(served.url, { user: 'limited-2', body: { code: 'return 1' } })).status).toBe(200);
    });

    it('two users at once each get their own tools', async () => {
      const code = 'const me = await callTool("whoami"); return { me, secret: await callTool("secret:" + me) };';
      // Rounds of as many runs as maxConcurrentRuns allows, users interleaved.
      const users = ['alice', 'bob', 'alice', 'bob'];
      for (let round = 0; round < 4; round++) {
        const results = await Promise.all(users.map((user) => post(served.url, { user, body: { code } }).then(jsonOf)));
        results.forEach((r, i) => expect(r.value).toEqual({ me: users[i], secret: `${users[i]}-secret` }));
      }
      const stolen = await jsonOf(await post(served.url, { user: 'bob', body: { code: 'return await callTool("secret:alice")' } }));
      expect(stolen.error.code).toBe('TOOL_ERROR');
    });

    it('tools(ctx) is asked once per run request, JSON, streamed or session, and never to read a session', async () => {
      const asked = () => observed.toolsAsked.filter((u) => u === 'once-1').length;
      const headers = { 'x-user': 'once-1', 'content-type': 'application/json' };
      const body = JSON.stringify({ code: 'return [await callTool("whoami"), await callTool("whoami")]' });
      const json = await fetch(`${served.url}/enclave`, { method: 'POST', headers, body });
      expect((await jsonOf(json)).value).toEqual(['once-1', 'once-1']);
      expect(asked()).toBe(1);
      await readEvents(await fetch(`${served.url}/enclave`, { method: 'POST', headers: { ...headers, accept: 'text/event-stream' }, body }));
      expect(asked()).toBe(2);
      const { eventsUrl, statusUrl } = (await jsonOf(await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers, body }))) as { eventsUrl: string; statusUrl: string };
      const events = await readEvents(await fetch(`${served.url}${eventsUrl}`, { headers: { 'x-user': 'once-1' } }));
      expect(events.at(-1)?.data.payload).toMatchObject({ success: true, value: ['once-1', 'once-1'] });
      await (await fetch(`${served.url}${statusUrl}`, { headers: { 'x-user': 'once-1' } })).body?.cancel();
      expect(asked()).toBe(3);
    });

    it('onRunStart sees each run’s user and code before it starts, and an EnclaveHttpError from it refuses the run (JSON, stream or session)', async () => {
      const code = 'return await callTool("whoami")';
      const ok = await post(served.url, { user: 'start-1', body: { code } });
      expect((await jsonOf(ok)).value).toBe('start-1');
      expect(observed.starts.filter((s) => s.user === 'start-1')).toEqual([{ user: 'start-1', code }]);
      const headers = { 'x-user': 'refused-start-1', 'content-type': 'application/json' };
      for (const [path, accept] of [['/enclave', 'application/json'], ['/enclave', 'text/event-stream'], ['/enclave/sessions', 'application/json'], ['/enclave/sessions', 'text/event-stream']] as const) {
        const res = await fetch(`${served.url}${path}`, { method: 'POST', headers: { ...headers, accept }, body: JSON.stringify({ code }) });
        expect(res.status, `${path} ${accept}`).toBe(403);
        isJson(res);
        expect(await jsonOf(res)).toMatchObject({ success: false, error: { code: 'FORBIDDEN', message: 'Runs are closed for you today.' } });
      }
      expect(observed.starts.filter((s) => s.user === 'refused-start-1')).toHaveLength(4);
      expect(observed.toolUsers).not.toContain('refused-start-1');
    });

    it('GET serves the catalog of the user’s tools', async () => {
      const res = await fetch(`${served.url}/enclave`, { headers: { 'x-user': 'erin' } });
      expect(res.status).toBe(200);
      isJson(res);
      const names = (await jsonOf(res)).tools.map((t: { name: string }) => t.name);
      expect(names).toContain('secret:erin');
      expect(names).not.toContain('secret:alice');
      expect((await fetch(`${served.url}/enclave`)).status).toBe(401);
    });

    describe('streaming and sessions', () => {
      /** Headers of a request by `user`: bodiless requests send no Content-Type (Fastify refuses an empty JSON body). */
      const as = (user: string, extra: Record<string, string> = {}) => ({ 'x-user': user, ...extra });
      const asPost = (user: string, extra: Record<string, string> = {}) => as(user, { 'content-type': 'application/json', ...extra });
      /** A script whose events arrive over a while: logs, tool calls with waits in between. */
      const STEPS = `console.log('begin'); let sum = 0; for (let i = 1; i <= 4; i++) { sum += await callTool('step', { i }); console.log('step', i); } return sum;`;
      const types = (events: { data: { type: string } }[]) => events.map((e) => e.data.type);
      const startSession = async (user: string, code: string) => {
        const res = await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers: asPost(user), body: JSON.stringify({ code }) });
        expect(res.status, await res.clone().text()).toBe(201);
        return (await res.json()) as { sessionId: string; eventsUrl: string; cancelUrl: string; statusUrl: string };
      };
      const absolute = (path: string) => new URL(path, served.url).toString();

      it('POST with Accept: text/event-stream streams the run as SSE, flushed event by event', async () => {
        const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: asPost('sse-1', { accept: 'text/event-stream' }), body: JSON.stringify({ code: STEPS }) });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        expect(res.headers.get('cache-control')).toMatch(/no-transform/);
        const events = await readEvents(res);
        const step = ['tool_call', 'tool_result', 'log'];
        expect(types(events)).toEqual(['session_init', 'log', ...step, ...step, ...step, ...step, 'final']);
        events.forEach((e, i) => {
          expect(e.data.seq).toBe(i + 1);
          expect(e.id).toBe(String(i + 1));
          expect(e.event).toBe(e.data.type);
        });
        expect(events.at(-1)?.data.payload).toMatchObject({ success: true, value: 10 });
      });

      it('client limits only lower the server limits: the run gets the server timeout, and a lower budget of its own', async () => {
        // session_init carries the limits the run has: read there, no run has to wait out the server's deadline.
        const body = JSON.stringify({ code: 'return 1', limits: { timeout: 10_000_000, maxIterations: 50 } });
        const events = await readEvents(await fetch(`${served.url}/enclave`, { method: 'POST', headers: asPost('limits-1', { accept: 'text/event-stream' }), body }));
        expect(events[0]?.data.payload.limits).toMatchObject({ timeout: SERVER_TIMEOUT, maxIterations: 50 });
        expect(events.at(-1)?.data.payload).toMatchObject({ success: true, value: 1 });
      });

      it('POST with Accept: application/x-ndjson streams one event per line', async () => {
        const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: asPost('ndjson-1', { accept: 'application/x-ndjson' }), body: JSON.stringify({ code: 'return await callTool("whoami")' }) });
        expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
        const events = await readEvents(res);
        expect(types(events)).toEqual(['session_init', 'tool_call', 'tool_result', 'final']);
        expect(events.at(-1)?.data.payload).toMatchObject({ success: true, value: 'ndjson-1' });
      });

      it('a streamed run that fails carries its error in final (the status was sent before it was known)', async () => {
        const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: asPost('sse-2', { accept: 'text/event-stream' }), body: JSON.stringify({ code: 'return await callTool("fail")' }) });
        const events = await readEvents(res);
        expect(events.at(-1)?.data.payload.error).toMatchObject({ code: 'TOOL_ERROR' });
        expect(JSON.stringify(events)).not.toMatch(/hunter2|ECONNREFUSED/);
      });

      it('a session runs without its connection: 201, then events, state and result from any request', async () => {
        const started = await startSession('sess-1', STEPS);
        expect(started.sessionId).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(started.eventsUrl).toBe(`/enclave/sessions/${started.sessionId}/events`);
        const events = await readEvents(await fetch(absolute(started.eventsUrl), { headers: as('sess-1', { accept: 'text/event-stream' }) }));
        expect(types(events).at(0)).toBe('session_init');
        expect(events.at(-1)?.data.payload).toMatchObject({ success: true, value: 10 });
        events.forEach((e, i) => expect(e.data.seq).toBe(i + 1));
        const status = await (await fetch(absolute(started.statusUrl), { headers: as('sess-1') })).json();
        expect(status).toMatchObject({ sessionId: started.sessionId, state: 'completed', result: { success: true, value: 10 } });
      });

      it('a client that goes away cancels a streamed body at once, not at its next chunk (a follower stops following its session)', async () => {
        const before = observed.streamsCancelled;
        const res = await fetch(`${served.url}/enclave/held-stream`, { headers: as('held-1') });
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        expect(new TextDecoder().decode((await reader.read()).value)).toBe('retry: 1000\n\n');
        await reader.cancel();
        await expect.poll(() => observed.streamsCancelled, { timeout: 5000 }).toBe(before + 1);
      });

      it('a session belongs to its owner: 404 for anyone else, whatever the route', async () => {
        const started = await startSession('owner-1', STEPS);
        for (const [method, url] of [['GET', started.statusUrl], ['GET', started.eventsUrl], ['DELETE', started.cancelUrl]] as const) {
          const res = await fetch(absolute(url), { method, headers: as('intruder-1') });
          expect(res.status, `${method} ${url}`).toBe(404);
          expect((await jsonOf(res)).error.code).toBe('NOT_FOUND');
        }
        expect((await fetch(absolute(started.statusUrl))).status).toBe(401);
        await readEvents(await fetch(absolute(started.eventsUrl), { headers: as('owner-1') }));
      });

      it('a reader cut off mid-stream resumes with Last-Event-ID (or ?fromSeq) and sees every event exactly once', async () => {
        const started = await startSession('resume-1', STEPS);
        const first = await readEvents(await fetch(absolute(started.eventsUrl), { headers: as('resume-1', { accept: 'text/event-stream' }) }), { stopAfter: 3 });
        expect(first.map((e) => e.data.seq)).toEqual([1, 2, 3]);
        const rest = await readEvents(await fetch(absolute(started.eventsUrl), { headers: as('resume-1', { accept: 'text/event-stream', 'last-event-id': '3' }) }));
        const all = [...first, ...rest].map((e) => e.data.seq);
        expect(all).toEqual(all.map((_, i) => i + 1));
        expect(rest.at(-1)?.data.type).toBe('final');
        const viaQuery = await readEvents(await fetch(absolute(`${started.eventsUrl}?fromSeq=${all.length - 1}`), { headers: as('resume-1', { accept: 'application/x-ndjson' }) }));
        expect(viaQuery.map((e) => e.data.seq)).toEqual([all.length]);
        // Resuming at or past final: nothing is left, and the stream ends at once rather than waiting.
        for (const after of [all.length, all.length + 100]) {
          const res = await fetch(absolute(started.eventsUrl), { headers: as('resume-1', { 'last-event-id': String(after) }) });
          expect(res.status).toBe(200);
          expect(await readEvents(res), `Last-Event-ID ${after}`).toEqual([]);
        }
      });

      it('POST /sessions with an event-stream Accept streams at once; dropping that connection does not stop the run', async () => {
        const ac = new AbortController();
        const res = await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers: asPost('drop-1', { accept: 'text/event-stream' }), body: JSON.stringify({ code: STEPS }), signal: ac.signal });
        const sessionId = res.headers.get('x-session-id') as string;
        expect(sessionId).toMatch(/^[A-Za-z0-9_-]+$/);
        const head = await readEvents(res, { stopAfter: 1 });
        ac.abort();
        expect(head[0]?.data.sessionId).toBe(sessionId);
        const rest = await readEvents(await fetch(`${served.url}/enclave/sessions/${sessionId}/events`, { headers: as('drop-1', { 'last-event-id': '1' }) }));
        expect(rest.at(-1)?.data.payload).toMatchObject({ success: true, value: 10 });
      });

      it('DELETE cancels a running session: ABORTED in final, its tools aborted', async () => {
        const before = observed.aborts.length;
        const started = await startSession('cancel-1', 'return await callTool("block")');
        await expect.poll(() => observed.pending).toBeGreaterThan(0);
        // While it runs, its state has no result yet.
        expect(await (await fetch(absolute(started.statusUrl), { headers: as('cancel-1') })).json()).toEqual({ sessionId: started.sessionId, state: 'running' });
        const res = await fetch(absolute(started.cancelUrl), { method: 'DELETE', headers: as('cancel-1') });
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ sessionId: started.sessionId, state: 'cancelled', result: { success: false, error: { code: 'ABORTED' } } });
        await expect.poll(() => observed.aborts.length).toBe(before + 1);
        const events = await readEvents(await fetch(absolute(started.eventsUrl), { headers: as('cancel-1') }));
        expect(events.at(-1)?.data.payload.error.code).toBe('ABORTED');
        // Cancelling a finished session changes nothing.
        expect(await (await fetch(absolute(started.cancelUrl), { method: 'DELETE', headers: as('cancel-1') })).json()).toMatchObject({ state: 'cancelled' });
      });

      it('a path with "." or ".." segments never reaches the route it resolves to: no run, no session, no catalog', async () => {
        // As a client sends it unresolved (fetch would resolve it first): raw request targets.
        const targets = ['/enclave/sessions/..', '/enclave/sessions/%2e%2E', '/enclave/sessions/.', '/enclave/sessions/%2e/', '/enclave/sessions/../events', '/enclave/sessions/x/%2e%2e/%2e%2e', '/enclave/mcp/..', '/enclave/sessions\\..'];
        for (const target of targets) {
          for (const method of ['POST', 'GET']) {
            const marker = `dot-segment ${method} ${target}`;
            const before = observed.starts.length;
            const res = await rawTarget(served.url, target, method, method === 'POST' ? JSON.stringify({ code: `return ${JSON.stringify(marker)}` }) : undefined, { 'x-user': 'dots-1' });
            // The host's own canary: onRunStart never saw the script, whatever the framework answered.
            expect(observed.starts.slice(before).map((s) => s.code).filter((c) => c.includes(marker)), marker).toEqual([]);
            expect([400, 404], `${marker}: ${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
          }
        }
      });

      it('bad input: an unknown id is 404, a malformed one or a resume point that is not a non-negative integer is 400', async () => {
        const unknown = await fetch(`${served.url}/enclave/sessions/ses_nope`, { headers: as('bad-1') });
        expect(unknown.status).toBe(404);
        await unknown.body?.cancel();
        // No id a store could hold: said as such (400), on every route that takes one, before any lookup.
        const malformed = ['x'.repeat(129), '..%2F..%2Fetc', 'a%2Fb', 'a%20b', '%00', 'a%00b', '%E2%80%A5', '%EF%BC%8E%EF%BC%8E', '%C0%AE%C0%AE', '%ZZ', '%252e%252e', 'ses_%0A'];
        for (const id of malformed) {
          for (const [method, tail] of [['GET', ''], ['DELETE', ''], ['GET', '/events'], ['POST', '/approvals/1']] as const) {
            const res = await fetch(`${served.url}/enclave/sessions/${id}${tail}`, { method, headers: asPost('bad-1'), ...(method === 'POST' ? { body: '{"approved":true}' } : {}) });
            const text = await res.text();
            // Fastify refuses route parameters over 100 characters itself (414), and Nest's platforms
            // answer some malformed paths (invalid UTF-8, `..%2F`) before the adapter: their own 400.
            expect(res.status === 414 && id.length > 100 ? 400 : res.status, `${method} ${id}${tail}: ${text.slice(0, 200)}`).toBe(400);
            if (JSON.parse(text).success === undefined) continue;
            // A framework that decodes `%2F` before it matches (Nest) hands on `..` segments, refused as such.
            expect(JSON.parse(text).error, `${method} ${id}${tail}`).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/1 to 128 characters|"\." or "\.\." segment/) });
          }
        }
        const started = await startSession('bad-1', 'return 1');
        // An empty value is no resume point: read as 0 it would replay every event to a client that
        // meant to resume. The header, when present, is the one read, even with a good ?fromSeq beside it.
        // Digits of other scripts (Arabic-Indic 1, fullwidth 5) are not decimal digits, and two Last-Event-ID
        // headers arrive as one value, '3, 4', which is no resume point either (red3).
        const resumes: [string | undefined, string][] = [['-1', ''], ['1.5', ''], ['abc', ''], ['', ''], ['1e1', ''], ['', '?fromSeq=1'], [undefined, '?fromSeq=-3'], [undefined, '?fromSeq=x'], [undefined, '?fromSeq='], [undefined, '?fromSeq=%201'], [undefined, '?fromSeq=0x1'], [undefined, '?fromSeq=%D9%A1'], [undefined, '?fromSeq=%EF%BC%95'], ['3, 4', '']];
        for (const [header, query] of resumes) {
          const res = await fetch(absolute(`${started.eventsUrl}${query}`), { headers: as('bad-1', header === undefined ? {} : { 'last-event-id': header }) });
          expect(res.status, `Last-Event-ID ${JSON.stringify(header)} ${query}`).toBe(400);
          expect((await jsonOf(res)).error.code).toBe('BAD_REQUEST');
        }
        // Ten thousand digits are a resume point past every seq: nothing follows it.
        for (const [header, query] of [['9'.repeat(10_000), ''], [undefined, `?fromSeq=${'9'.repeat(10_000)}`]] as const) {
          const res = await fetch(absolute(`${started.eventsUrl}${query}`), { headers: as('bad-1', header === undefined ? {} : { 'last-event-id': header }) });
          expect(res.status, `${header === undefined ? query.slice(0, 20) : 'Last-Event-ID'} of 10,000 digits`).toBe(200);
          expect(await readEvents(res)).toEqual([]);
        }
        // What is a resume point is still one: 0 (from the start) in either place, and leading zeros.
        for (const [header, query] of [['0', ''], [undefined, '?fromSeq=0'], ['00', '']] as const) {
          const events = await readEvents(await fetch(absolute(`${started.eventsUrl}${query}`), { headers: as('bad-1', header === undefined ? {} : { 'last-event-id': header }) }));
          expect(events.at(0)?.data.seq, `Last-Event-ID ${JSON.stringify(header)} ${query}`).toBe(1);
          expect(events.at(-1)?.data.type).toBe('final');
        }
        const put = await fetch(`${served.url}/enclave/sessions`, { method: 'GET', headers: as('bad-1') });
        expect([404, 405]).toContain(put.status);
        await put.body?.cancel();
      });

      it('a call that needs approval pauses the session (approval_required, waiting_for_approval); the owner’s decision resumes it', async () => {
        const code = `console.log('ask'); try { return await callTool('refund', { amount: 5 }); } catch (e) { return e.code; }`;
        for (const approved of [true, false]) {
          const user = `approve-${approved}`;
          const res = await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers: asPost(user, { accept: 'text/event-stream' }), body: JSON.stringify({ code }) });
          const sessionId = res.headers.get('x-session-id') as string;
          const head = await readEvents(res);
          expect(types(head)).toEqual(['session_init', 'log', 'tool_call', 'approval_required']);
          expect(await (await fetch(`${served.url}/enclave/sessions/${sessionId}`, { headers: as(user) })).json()).toMatchObject({ state: 'waiting_for_approval', pendingApproval: { callId: 1, tool: 'refund', args: { amount: 5 } } });
          const decisionUrl = `${served.url}/enclave/sessions/${sessionId}/approvals/1`;
          const foreign = await fetch(decisionUrl, { method: 'POST', headers: asPost('intruder-2'), body: '{"approved":true}' });
          expect(foreign.status).toBe(404);
          await foreign.body?.cancel();
          const decided = await fetch(decisionUrl, { method: 'POST', headers: asPost(user), body: JSON.stringify({ approved }) });
          expect(decided.status).toBe(202);
          await decided.body?.cancel();
          const rest = await readEvents(await fetch(`${served.url}/enclave/sessions/${sessionId}/events?fromSeq=${head.length}`, { headers: as(user) }));
          expect(types(rest)).toEqual(['tool_call', 'tool_result', 'final']);
          expect(rest.at(-1)?.data.payload).toMatchObject({ success: true, value: approved ? 5 : 'APPROVAL_DENIED' });
          expect(observed.toolUsers.filter((u) => u === `refund:${user}`)).toHaveLength(approved ? 1 : 0);
        }
      });

      it('too many running sessions for one user: 429 with Retry-After, others unaffected', async () => {
        const a = await startSession('busy-1', 'return await callTool("block")');
        const b = await startSession('busy-1', 'return await callTool("block")');
        const third = await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers: asPost('busy-1'), body: JSON.stringify({ code: 'return 1' }) });
        expect(third.status).toBe(429);
        expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
        await third.body?.cancel();
        const other = await startSession('busy-2', 'return 1');
        await readEvents(await fetch(absolute(other.eventsUrl), { headers: as('busy-2') }));
        for (const s of [a, b]) await (await fetch(absolute(s.cancelUrl), { method: 'DELETE', headers: as('busy-1') })).body?.cancel();
      });

      it('too many open session streams for one user: 429 with Retry-After, before anything starts; a closed one frees its place', async () => {
        const started = await startSession('follow-1', 'return await callTool("block")');
        const open = async (user: string, url = absolute(started.eventsUrl)) => {
          const res = await fetch(url, { headers: as(user) });
          expect(res.status).toBe(200);
          const reader = (res.body as ReadableStream<Uint8Array>).getReader();
          await reader.read();
          return reader;
        };
        const readers = [await open('follow-1'), await open('follow-1'), await open('follow-1')];
        const fourth = await fetch(absolute(started.eventsUrl), { headers: as('follow-1') });
        expect(fourth.status).toBe(429);
        expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(0);
        expect((await jsonOf(fourth)).error.code).toBe('RATE_LIMITED');
        const ends = observed.ends.length;
        const streamedStart = await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers: asPost('follow-1', { accept: 'text/event-stream' }), body: JSON.stringify({ code: 'return await callTool("whoami")' }) });
        expect(streamedStart.status).toBe(429);
        await streamedStart.body?.cancel();
        // Another user's streams are theirs to count.
        const other = await startSession('follow-2', 'return 1');
        await readEvents(await fetch(absolute(other.eventsUrl), { headers: as('follow-2') }));
        await (readers.shift() as ReadableStreamDefaultReader<Uint8Array>).cancel();
        // The server hears the reader go away soon after, not at once: its place comes back then.
        let again: Response | undefined;
        await expect
          .poll(async () => {
            again = await fetch(absolute(started.eventsUrl), { headers: as('follow-1') });
            if (again.status !== 200) await again.body?.cancel();
            return again.status;
          }, { timeout: 5000 })
          .toBe(200);
        await again?.body?.cancel();
        // Only follow-2's run ended: the refused streamed start ran nothing.
        expect(observed.ends.length).toBe(ends + 1);
        for (const reader of readers) await reader.cancel();
        await (await fetch(absolute(started.cancelUrl), { method: 'DELETE', headers: as('follow-1') })).body?.cancel();
      });
    });

    describe('the check route: POST {path}/check', () => {
      const check = (user: string | null, body: string, contentType = 'application/json') =>
        fetch(`${served.url}/enclave/check`, { method: 'POST', headers: { ...(user !== null && { 'x-user': user }), ...(contentType && { 'content-type': contentType }) }, body });
      const checkCode = (user: string, code: string) => check(user, JSON.stringify({ code }));

      it('answers every issue at the handler’s level, with the user’s tool names and suggestions, and runs nothing', async () => {
        const before = observed.toolUsers.length;
        const res = await checkCode('alice', 'const me = await callTool("whoami");\nconst s = await callTool("secret:alic");\nreturn eval("1");');
        expect(res.status).toBe(200);
        isJson(res);
        const body = await jsonOf(res);
        expect(body.ok).toBe(false);
        expect(body.issues).toEqual([
          expect.objectContaining({ ruleId: 'unknown-tool', severity: 'warning', line: 2, column: 26, suggestions: ['secret:alice'] }),
          expect.objectContaining({ ruleId: 'no-eval', severity: 'error', line: 3, column: 8, message: expect.stringMatching(/eval/), hint: expect.any(String) }),
        ]);
        expect(observed.toolUsers.length).toBe(before);
        expect(await jsonOf(await checkCode('alice', 'return await callTool("whoami");'))).toEqual({ ok: true, issues: [] });
        // What the level allows: `while` is STANDARD's (the contract's handler runs at the default level).
        expect((await jsonOf(await checkCode('alice', 'let i = 0; while (i < 3) i++; return i;'))).ok).toBe(true);
      });

      it('an early error only V8 finds: not ok, at the line and column where a run’s compile finds it', async () => {
        // oxc parses it; V8 refuses the second declaration, after the guards of the concatenation before it.
        const body = await jsonOf(await checkCode('alice', "let a = 'x' + 'y'; let b = a + a;\n  let a = 2;"));
        expect(body).toEqual({ ok: false, issues: [expect.objectContaining({ ruleId: 'syntax', severity: 'error', line: 2, column: 7, message: expect.stringMatching(/'a' has already been declared/) })] });
      });

      it('never shows another user’s tools', async () => {
        const code = 'return await callTool("secret:alic");';
        const mine = JSON.stringify(await jsonOf(await checkCode('alice', code)));
        expect(mine).toContain('secret:alice');
        const theirs = await jsonOf(await checkCode('erin', code));
        expect(theirs.issues).toEqual([expect.objectContaining({ ruleId: 'unknown-tool', severity: 'warning' })]);
        expect(JSON.stringify(theirs)).not.toContain('secret:alice');
      });

      it('refuses bad requests with the run route’s JSON answers: 400, 413, 415, 401, 403, 429', async () => {
        const parserMayAnswer = harness.frameworkParsesBody === true;
        const refused = async (res: Response, status: number, code: string) => {
          expect(res.status).toBe(status);
          isJson(res);
          const body = await jsonOf(res);
          if (!parserMayAnswer || ![400, 413, 415].includes(status)) expect(body.error.code).toBe(code);
        };
        await refused(await check('alice', '{"code": "return 1"'), 400, 'BAD_REQUEST');
        await refused(await checkCode('alice', 42 as unknown as string), 400, 'BAD_REQUEST');
        await refused(await check('alice', JSON.stringify({ code: 'return 1', input: 1 })), 400, 'BAD_REQUEST');
        await refused(await check('alice', JSON.stringify({ code: `return '${'x'.repeat(9000)}'` })), 413, 'PAYLOAD_TOO_LARGE');
        await refused(await check('alice', 'return 1', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
        await refused(await check(null, JSON.stringify({ code: 'return 1' })), 401, 'UNAUTHORIZED');
        await refused(await check('mallory', JSON.stringify({ code: 'return 1' })), 403, 'FORBIDDEN');
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++) statuses.push((await checkCode('limited-check', 'return 1')).status);
        expect(statuses).toEqual([200, 200, 429]);
        // A failing tools factory is a bare 500, as on the run route.
        const broken = await checkCode('broken', 'return 1');
        expect(broken.status).toBe(500);
        expect(await broken.text()).not.toMatch(/hunter2|factory/);
      });

      it('answers only POST', async () => {
        const get = await fetch(`${served.url}/enclave/check`, { headers: { 'x-user': 'alice' } });
        expect(harness.passThrough === false ? [405] : [404, 405]).toContain(get.status);
        await get.body?.cancel();
      });
    });

    describe('the playground page: GET {path}/playground', () => {
      const page = (headers: Record<string, string> = {}, query = '') => fetch(`${served.url}/enclave/playground${query}`, { headers });
      const assetsOf = (html: string) => [...html.matchAll(/(?:src|href)="playground\/assets\/([^"]+)"/g)].map((m) => m[1] as string);

      it('serves the page without credentials, under a strict policy with a fresh nonce per response', async () => {
        const [a, b] = await Promise.all([page(), page()]);
        for (const res of [a, b]) {
          expect(res.status).toBe(200);
          expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
          expect(res.headers.get('x-content-type-options')).toBe('nosniff');
          expect(res.headers.get('cache-control')).toBe('no-store');
        }
        const policy = (res: Response) => res.headers.get('content-security-policy') ?? '';
        const nonce = (res: Response) => /script-src 'nonce-([A-Za-z0-9+/=]{16,})'/.exec(policy(res))?.[1];
        expect(nonce(a)).toBeDefined();
        expect(nonce(a)).not.toBe(nonce(b));
        for (const directive of ["default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'", `style-src 'nonce-${nonce(a)}'`]) expect(policy(a)).toContain(directive);
        expect(policy(a)).not.toMatch(/unsafe-|\*|https?:/);
        const html = await a.text();
        await b.body?.cancel();
        // No inline script or style: the page's code and styles are its own files, loaded by nonce.
        expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>|<style|\son[a-z]+=|style="/i);
        expect(html).toContain(`nonce="${nonce(a)}"`);
        expect(assetsOf(html)).toHaveLength(2);
      });

      it('reflects nothing of the request into the page', async () => {
        const probe = '"><script>alert(1)</script>';
        const [plain, probed] = await Promise.all([page(), page({ 'x-user': probe, referer: `http://evil.test/${probe}` }, `?q=${encodeURIComponent(probe)}`)]);
        const strip = async (res: Response) => (await res.text()).replace(/nonce="[^"]+"/g, 'nonce=""');
        const probedHtml = await strip(probed);
        expect(probedHtml).toBe(await strip(plain));
        expect(probedHtml).not.toContain('alert(1)');
      });

      it('serves its assets with long-lived caching, and 404 for anything else below it', async () => {
        const html = await (await page()).text();
        for (const file of assetsOf(html)) {
          expect(file).toMatch(/^playground-[0-9a-f]{12}\.(js|css)$/);
          const res = await fetch(`${served.url}/enclave/playground/assets/${file}`);
          expect(res.status).toBe(200);
          expect(res.headers.get('content-type')).toBe(file.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
          expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
          expect(res.headers.get('x-content-type-options')).toBe('nosniff');
          expect((await res.text()).length).toBeGreaterThan(1000);
        }
        // The script's leading legal comment names the notices of the code of others it bundles, served beside it.
        const script = assetsOf(html).find((f) => f.endsWith('.js')) as string;
        const head = (await (await fetch(`${served.url}/enclave/playground/assets/${script}`)).text()).slice(0, 2000);
        const notices = /^\/\*! enclave-kit playground[^]*?(third-party-notices-[0-9a-f]{12}\.txt) beside this file/.exec(head)?.[1];
        expect(notices, head.slice(0, 200)).toBeDefined();
        const noticesRes = await fetch(`${served.url}/enclave/playground/assets/${notices}`);
        expect(noticesRes.status).toBe(200);
        expect(noticesRes.headers.get('content-type')).toBe('text/plain; charset=utf-8');
        expect(noticesRes.headers.get('x-content-type-options')).toBe('nosniff');
        const text = await noticesRes.text();
        for (const bundled of ['@codemirror/view', '@lezer/lr', 'style-mod']) expect(text, bundled).toContain(`-- ${bundled} `);
        expect(text).toContain('Permission is hereby granted, free of charge');
        for (const below of ['/assets/nope.js', '/assets/..%2f..%2fpackage.json', '/other']) {
          const res = await fetch(`${served.url}/enclave/playground${below}`);
          // A framework that decodes `%2f` before it matches (Nest) hands on `..` segments: refused (400).
          expect(below.includes('..') ? [400, 404] : [404], below).toContain(res.status);
          await res.body?.cancel();
        }
      });

      it('is the same static page whoever asks: no credentials needed, a refused user gets it too, and it holds no data', async () => {
        const [anonymous, refused] = await Promise.all([page(), page({ 'x-user': 'mallory' })]);
        const strip = async (res: Response) => (await res.text()).replace(/nonce="[^"]+"/g, 'nonce=""');
        expect([anonymous.status, refused.status]).toEqual([200, 200]);
        expect(await strip(refused)).toBe(await strip(anonymous));
        // What the page shows of a user comes from the authenticated routes: the catalog refuses mallory.
        const catalog = await fetch(`${served.url}/enclave`, { headers: { 'x-user': 'mallory' } });
        expect(catalog.status).toBe(403);
        await catalog.body?.cancel();
      });

      describe('the default: off under NODE_ENV=production, on elsewhere, the option wins either way', () => {
        /** A second server with the contract's options under `nodeEnv`, `playground` as given (absent when undefined). */
        async function startUnder(nodeEnv: string, playground?: boolean): Promise<Served> {
          const saved = process.env.NODE_ENV;
          process.env.NODE_ENV = nodeEnv;
          try {
            const options = contractOptions(harness, { aborts: [], ends: [], errors: [], toolUsers: [], release() {}, pending: 0, streamsCancelled: 0, toolsAsked: [], starts: [] });
            delete options.playground;
            if (playground !== undefined) options.playground = playground;
            return await harness.start(options);
          } finally {
            if (saved === undefined) delete process.env.NODE_ENV;
            else process.env.NODE_ENV = saved;
          }
        }
        /** The status of the page and of an asset it names, a check as alice, and whether our policy came with the page. */
        async function probe(other: Served): Promise<{ page: number; asset: number; check: number; policy: boolean }> {
          const html = await (await page()).text();
          const asset = assetsOf(html)[0] as string;
          const res = await fetch(`${other.url}/enclave/playground`);
          const assetRes = await fetch(`${other.url}/enclave/playground/assets/${asset}`);
          const checkRes = await fetch(`${other.url}/enclave/check`, { method: 'POST', headers: { 'x-user': 'alice', 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return 1' }) });
          await Promise.all([res.body?.cancel(), assetRes.body?.cancel(), checkRes.body?.cancel()]);
          return { page: res.status, asset: assetRes.status, check: checkRes.status, policy: /'nonce-/.test(res.headers.get('content-security-policy') ?? '') };
        }
        const cases: { nodeEnv: string; playground?: boolean; status: number }[] = [
          { nodeEnv: 'production', status: 404 },
          { nodeEnv: 'production', playground: true, status: 200 },
          { nodeEnv: 'development', status: 200 },
          { nodeEnv: 'development', playground: false, status: 404 },
        ];
        it.each(cases)('NODE_ENV=$nodeEnv, playground: $playground -> page $status', async ({ nodeEnv, playground, status }) => {
          const other = await startUnder(nodeEnv, playground);
          try {
            // The check route is an authenticated route that runs nothing: it stays on in production.
            expect(await probe(other)).toEqual({ page: status, asset: status, check: 200, policy: status === 200 });
          } finally {
            await other.close();
          }
        });
      });

      it('sends {path}/playground/ to the page, whose relative asset URLs need the path without the slash', async () => {
        const res = await fetch(`${served.url}/enclave/playground/`, { redirect: 'manual' });
        expect([301, 308]).toContain(res.status);
        expect(new URL(res.headers.get('location') ?? '', `${served.url}/enclave/playground/`).pathname).toBe('/enclave/playground');
        await res.body?.cancel();
      });
    });

    it('behind authenticate, a request under any Host name is served: a rebinding page has none of the user’s credentials', async () => {
      const res = await underHost(`${served.url}/enclave`, `rebind.attacker.test:${new URL(served.url).port}`, 'GET', undefined, { 'x-user': 'alice' });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text).tools.map((t: { name: string }) => t.name)).toContain('whoami');
    });

    it('other routes pass through to the framework', async () => {
      const res = await fetch(`${served.url}/other`, { headers: { 'x-user': 'alice' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('other');
      if (harness.passThrough !== false) {
        const put = await fetch(`${served.url}/enclave`, { method: 'PUT', headers: { 'x-user': 'alice' } });
        expect(put.status).toBe(404);
        await put.body?.cancel();
      }
    });
  });

  describe(`${name}: DNS rebinding of a server without authenticate`, () => {
    let served: Served;
    let port = '';
    /** Host-side canary: every time the core asked for the tools of a request. */
    let toolsAsked = 0;
    beforeAll(async () => {
      const tools = () => {
        toolsAsked++;
        return { 'files:read': async () => 'secret file' };
      };
      served = await harness.start({ logger: silent, tools, routes: { '/mcp': mcpRoute() }, playground: true, allowedHosts: ['app.internal', '.corp.test'] });
      port = new URL(served.url).port;
    });
    afterAll(async () => {
      await served?.close();
    });

    it('a page on a rebound DNS name reads nothing: catalog, session, events, MCP, run and playground answer 403 and no tools are asked for', async () => {
      const started = await fetch(`${served.url}/enclave/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'return "the result"' }) });
      expect(started.status).toBe(201);
      const { statusUrl, eventsUrl } = (await started.json()) as { statusUrl: string; eventsUrl: string };
      expect((await readEvents(await fetch(`${served.url}${eventsUrl}`))).at(-1)?.data).toMatchObject({ type: 'final', payload: { value: 'the result' } });
      const asked = toolsAsked;
      const mcpList = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
      for (const rebound of ['rebind.attacker.test', 'localhost.attacker.test', '127.0.0.1.nip.io', 'localhost.', 'app.internal.attacker.test']) {
        const host = `${rebound}:${port}`;
        for (const [method, path, body] of [
          ['GET', '/enclave'],
          ['GET', statusUrl],
          ['GET', eventsUrl],
          ['GET', '/enclave/playground'],
          ['POST', '/enclave', JSON.stringify({ code: 'return await callTool("files:read", {})' })],
          ['POST', '/enclave/mcp', mcpList],
        ] as const) {
          const res = await underHost(`${served.url}${path}`, host, method, body);
          expect(res.status, `${method} ${path} under ${host}`).toBe(403);
          expect(res.text).not.toMatch(/the result|files:read|secret file/);
          const json = JSON.parse(res.text);
          if (path === '/enclave/mcp') expect(json.error).toMatchObject({ data: { status: 403, code: 'FORBIDDEN' } });
          else expect(json).toMatchObject({ success: false, error: { code: 'FORBIDDEN', message: expect.stringMatching(/allowedHosts/) } });
        }
      }
      expect(toolsAsked).toBe(asked);
    });

    it('localhost, IP addresses and the names in allowedHosts are served', async () => {
      for (const host of ['localhost', '127.0.0.1', '[::1]', 'app.internal', 'APP.internal', 'corp.test', 'ci.corp.test']) {
        const res = await underHost(`${served.url}/enclave`, `${host}:${port}`);
        expect(res.status, host).toBe(200);
        expect(JSON.parse(res.text).tools.map((t: { name: string }) => t.name)).toEqual(['files:read']);
      }
    });
  });

  describe(`${name}: MCP route at {path}/mcp`, () => {
    let served: Served;
    let mcp = '';
    const observed = serveContract(harness, (s) => {
      served = s;
      mcp = `${served.url}/enclave/mcp`;
    });
    const rpc = (body: string, user: string | null = 'alice', headers: Record<string, string> = {}) => rawRpc(mcp, body, { ...(user !== null ? { 'x-user': user } : {}), ...headers });

    it.each(ERAS)('the official %s client lists the three tools and executes with the tools of the request’s user', async (era) => {
      const [alice, bob] = await Promise.all([connectMcp(mcp, era, { 'x-user': 'alice' }), connectMcp(mcp, era, { 'x-user': 'bob' })]);
      try {
        expect((await alice.listTools()).map((t) => t.name)).toEqual(['search_tools', 'describe_tools', 'execute']);
        const code = 'const me = await callTool("whoami"); return { me, secret: await callTool("secret:" + me) };';
        const [a, b] = await Promise.all([alice.callTool('execute', { code }), bob.callTool('execute', { code })]);
        expect(a.structuredContent).toMatchObject({ success: true, value: { me: 'alice', secret: 'alice-secret' } });
        expect(b.structuredContent).toMatchObject({ success: true, value: { me: 'bob', secret: 'bob-secret' } });
        const stolen = await bob.callTool('execute', { code: 'return await callTool("secret:alice")' });
        expect([stolen.isError, stolen.structuredContent.error.code]).toEqual([true, 'TOOL_ERROR']);
      } finally {
        await Promise.all([alice.close(), bob.close()]);
      }
    });

    it('search_tools and describe_tools see only the user’s tools', async () => {
      const found = await rpc(callBody('search_tools', { query: 'secret' }), 'erin');
      expect(found.message.result.structuredContent.tools.map((t: { name: string }) => t.name)).toEqual(['secret:erin']);
      const described = await rpc(callBody('describe_tools', { names: ['secret:erin', 'secret:alice'] }), 'erin');
      expect(described.message.result.structuredContent).toMatchObject({ tools: [{ name: 'secret:erin' }], unknown: ['secret:alice'] });
    });

    it('a failed script is a tool error with its code, message and location; a ToolError’s status stays in the result', async () => {
      const res = await rpc(callBody('execute', { code: 'const a = 1;\nreturn await callTool("forbid");' }));
      expect(res.status).toBe(200);
      expect(res.message.result).toMatchObject({ isError: true, structuredContent: { success: false, error: { code: 'TOOL_ERROR', message: 'Not your order.', location: { line: 2 } } } });
      expect(textOf(res.message.result)).toMatch(/^TOOL_ERROR at line 2, column \d+: Not your order\./);
    });

    it('bad JSON-RPC: malformed JSON 400, unknown tool and method as JSON-RPC errors, wrong argument types as a tool error', async () => {
      const malformed = await rpc('{"jsonrpc": "2.0", "id": 1, "method": ');
      expect(malformed.status).toBe(400);
      expect(malformed.contentType).toMatch(/^application\/json/);
      // A body parser before the route may answer itself, in JSON of its own shape (Nest's, Fastify's).
      if (!harness.frameworkParsesBody) expect(malformed.message).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 } });
      expect((await rpc(callBody('nope', {}))).message).toMatchObject({ id: 1, error: { code: -32602 } });
      expect((await rpc(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/nope' }))).message).toMatchObject({ id: 2, error: { code: -32601 } });
      const wrong = await rpc(callBody('execute', { code: ['return 1'] }));
      expect(wrong.message.result).toMatchObject({ isError: true, content: [{ text: expect.stringMatching(/Input validation error/) }] });
    });

    it('refusals are JSON-RPC error bodies with the status of the table: 401, 403, 413, 415', async () => {
      const anonymous = await rpc(callBody('execute', { code: 'return 1' }), null);
      expect([anonymous.status, anonymous.message.error.data?.code]).toEqual([401, 'UNAUTHORIZED']);
      const mallory = await rpc(callBody('execute', { code: 'return 1' }), 'mallory');
      expect([mallory.status, mallory.message.error.message]).toEqual([403, 'mallory may not run scripts']);
      const huge = await rpc(callBody('execute', { code: `return '${'x'.repeat(9000)}'` }));
      expect(huge.status).toBe(413);
      expect(huge.message.jsonrpc).toBe('2.0');
      const text = await fetch(mcp, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-user': 'alice' }, body: 'tools/list' });
      expect(text.status).toBe(415);
      expect((await jsonOf(text)).jsonrpc).toBe('2.0');
    });

    it.skipIf(harness.frameworkParsesBody === true)('a body that does not arrive whole within bodyTimeoutMs: 408 with a JSON-RPC error, and the connection closed', async () => {
      const answer = await stalledBody(served.url, '/enclave/mcp', 'length');
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
      expect(answer).toMatch(/"jsonrpc":"2\.0"/);
      expect(answer).toMatch(/"code":"REQUEST_TIMEOUT"/);
    });

    it('the per-user rate limit counts MCP requests too: 429 with Retry-After', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await rpc(callBody('search_tools', { query: '' }), 'limited-mcp')).status);
      expect(statuses).toEqual([200, 200, 429]);
      const limited = await rpc(callBody('search_tools', { query: '' }), 'limited-mcp');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it('runs count against maxConcurrentRuns with the run route’s: QUEUE_FULL is a tool error', async () => {
      const running = [1, 2, 3, 4].map(() => post(served.url, { user: 'dave', body: { code: 'return await callTool("block")' } }));
      await expect.poll(() => observed.pending).toBe(4);
      const busy = await rpc(callBody('execute', { code: 'return 1' }));
      expect(busy.message.result).toMatchObject({ isError: true, content: [{ text: expect.stringMatching(/^QUEUE_FULL: .* Retry after 2 s\./) }] });
      observed.release();
      for (const r of await Promise.all(running)) expect((await jsonOf(r)).value).toBe('released');
    });

    it('a failing tools factory is an internal error with nothing of the host in it', async () => {
      const res = await rpc(callBody('execute', { code: 'return 1' }), 'broken');
      expect(res.message.result).toMatchObject({ isError: true, content: [{ text: 'INTERNAL_ERROR: An internal error occurred.' }] });
      expect(JSON.stringify(res.message)).not.toMatch(/hunter2|factory|stack/);
      expect(observed.errors.some((e) => e instanceof Error && /tools factory failed/.test(e.message))).toBe(true);
    });

    it('GET on the stateless endpoint is 405 and a path below it 404, both JSON', async () => {
      const get = await fetch(mcp, { headers: { 'x-user': 'alice', accept: 'text/event-stream' } });
      expect(get.status).toBe(405);
      expect((await jsonOf(get)).jsonrpc).toBe('2.0');
      const below = await fetch(`${mcp}/deeper`, { method: 'POST', headers: { 'x-user': 'alice', 'content-type': 'application/json' }, body: callBody('search_tools', { query: '' }) });
      expect(below.status).toBe(404);
      expect(below.headers.get('content-type')).toMatch(/^application\/json/);
      await below.body?.cancel();
    });
  });

  it(`${name}: ran its vm cases in the host's thread, with no async context tracked before them`, () => {
    // Else, on Node 20 and 22, every vm run above went to a worker and the vm path went untested here:
    // the tracing case (adapterTracingContract) belongs after every other case of the file.
    expect(hostTracksAsyncContext()).toBe(false);
  });
}

/**
 * The contract's OpenTelemetry case, apart from the rest: a file calls it after all of its other cases.
 * Its tracer's AsyncLocalStorage stays in use for the rest of the process, and on Node 20 and 22 that
 * hands every later vm run of the process to worker threads (see sandbox/async-context.ts), so the cases
 * before it keep testing the vm path itself.
 */
export function adapterTracingContract(name: string, harness: AdapterHarness): void {
  describe(`${name}: OpenTelemetry`, () => {
    let served: Served;
    serveContract(harness, (s) => {
      served = s;
    });

    it('OpenTelemetry: the request’s traceparent is the parent of the run’s span, tool spans nest under it', async () => {
      const exporter = registerTestTracing();
      const ids = newTraceparent();
      const res = await post(served.url, { user: 'tracy', body: { code: 'await callTool("whoami"); return await callTool("traced");' } }, { headers: { 'content-type': 'application/json', 'x-user': 'tracy', traceparent: ids.header } });
      expect((await jsonOf(res)).value).toBe('tracy');
      await expect.poll(() => spansOf(exporter, ids.traceId).length).toBeGreaterThanOrEqual(4);
      const spans = spansOf(exporter, ids.traceId);
      const run = spans.find((s) => s.name === 'enclave.run');
      expect(run && parentOf(run)).toBe(ids.spanId);
      for (const tool of ['whoami', 'traced']) {
        const span = spans.find((s) => s.name === `execute_tool ${tool}`);
        expect(span?.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool, 'gen_ai.tool.type': 'function' });
        expect(span && parentOf(span)).toBe(run?.spanContext().spanId);
      }
      const own = spans.find((s) => s.name === 'db.query');
      expect(own && parentOf(own)).toBe(spans.find((s) => s.name === 'execute_tool traced')?.spanContext().spanId);
    });
  });
}
