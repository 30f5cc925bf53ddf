/**
 * `enclave mcp`: serves a local tools module over MCP on stdio (code mode: search_tools,
 * describe_tools, execute), for desktop MCP clients. The MCP side is `@enclave-kit/mcp`, loaded at run
 * time so the engine depends neither on it nor on the MCP SDK.
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CreateEnclaveOptions, ToolSet } from '../types.js';
import { escapeText } from './terminal.js';
import { UsageError } from './usage.js';

const PACKAGE = '@enclave-kit/mcp';

/** What the CLI uses of `@enclave-kit/mcp` (its `serveMcpStdio`). */
export interface McpStdioModule {
  serveMcpStdio(options: {
    enclave?: CreateEnclaveOptions;
    tools?: ToolSet;
    stdin?: Readable;
    stdout?: Writable;
    onError?: (error: Error) => void;
    maxLineBytes?: number;
    maxConcurrentRequests?: number;
  }): { readonly closed: Promise<void>; close(): Promise<void> };
}

/** Where to look for the package: next to the tools module (the user's project), the working directory, then the CLI itself. */
export function mcpSearchPaths(toolsPath: string | undefined, cwd: string): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [...(toolsPath !== undefined ? [dirname(resolve(cwd, toolsPath))] : []), cwd, here];
}

/** Node's resolution of the package from `dir` (its `node_modules` and those above it, `NODE_PATH`). */
const resolveFrom = (dir: string): string => createRequire(join(dir, 'noop.js')).resolve(PACKAGE);

/**
 * Imports `@enclave-kit/mcp` as resolved from the first of `from` that has it. A missing package is the
 * user's to install: a `UsageError` that says how.
 */
export async function loadMcpModule(from: readonly string[], resolvePackage: (dir: string) => string = resolveFrom): Promise<McpStdioModule> {
  for (const dir of from) {
    let resolved: string;
    try {
      resolved = resolvePackage(dir);
    } catch {
      continue;
    }
    const mod = (await import(pathToFileURL(resolved).href)) as Partial<McpStdioModule>;
    if (typeof mod.serveMcpStdio !== 'function') throw new UsageError(`${PACKAGE} at ${resolved} has no serveMcpStdio(); install a version that matches this CLI`);
    return mod as McpStdioModule;
  }
  throw new UsageError(`"enclave mcp" needs the ${PACKAGE} package: run "npm install ${PACKAGE}" in the project of your tools module`, 'mcp');
}

const isReadable = (s: unknown): s is Readable => typeof (s as Readable | undefined)?.on === 'function' && typeof (s as Readable).read === 'function';
const isWritable = (s: unknown): s is Writable => typeof (s as Writable | undefined)?.on === 'function' && typeof (s as Writable).end === 'function';

/** What `mcpCommand` is given, after parsing. */
export interface McpCommandOptions {
  tools: ToolSet | undefined;
  toolsPath: string | undefined;
  enclave: CreateEnclaveOptions;
  /** The connection's limits (`--max-line-bytes`, `--max-concurrent`); the package's defaults where absent. */
  limits?: { maxLineBytes?: number; maxConcurrentRequests?: number };
  cwd: string;
  stdin: unknown;
  stdout: unknown;
  stderr: { write(text: string): unknown };
  signal?: AbortSignal | undefined;
}

/**
 * Runs `fn` with stdout kept for the protocol when the protocol goes to the process's stdout: a tools
 * module prints as it loads and as its tools run, and a line there that is not the protocol's breaks
 * the client's connection. Meanwhile every console method (Node's `console.dir`, `dirxml`, and a
 * `table` or `count` through `log`, write to stdout by themselves) and `process.stdout.write` itself
 * go to stderr; `fn` is given the stream that still reaches stdout, for the protocol alone. (Bytes
 * written to file descriptor 1 directly, or by a child process that inherits it, are beyond this.)
 */
export async function stdoutForProtocol<T>(stdout: unknown, fn: (protocol: unknown) => Promise<T>): Promise<T> {
  if ((isWritable(stdout) ? stdout : process.stdout) !== process.stdout) return fn(stdout);
  // Node's own Console: the global `console` may be another's (a test runner's), without `Console`.
  const { Console } = process.getBuiltinModule('node:console') as typeof import('node:console');
  const { Writable } = process.getBuiltinModule('node:stream') as typeof import('node:stream');
  const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr }) as unknown as Record<string, unknown>;
  const global = console as unknown as Record<string, unknown>;
  const saved: [string, unknown][] = [];
  for (const key of Object.keys(global)) {
    if (key !== 'Console' && typeof global[key] === 'function' && typeof toStderr[key] === 'function') {
      saved.push([key, global[key]]);
      global[key] = toStderr[key];
    }
  }
  const out = process.stdout;
  const ownWrite = Object.getOwnPropertyDescriptor(out, 'write');
  const write = out.write as (chunk: Buffer, done: (error?: Error | null) => void) => boolean;
  // The protocol's way to stdout: each chunk is done when stdout has taken it, so a client that does not
  // read fills this stream's buffer, and the transport sees backpressure as it did on stdout itself.
  const protocol = new Writable({
    write: (chunk: Buffer, _encoding, done) => void write.call(out, chunk, (error) => done(error ?? null)),
    final: (done) => done(),
  });
  const failed = (error: Error) => protocol.destroy(error);
  out.on('error', failed);
  protocol.on('error', () => {}); // reported to the transport by its own listener; never uncaught
  out.write = ((chunk: unknown, encoding?: unknown, done?: unknown) => (process.stderr.write as (...a: unknown[]) => boolean)(chunk, encoding, done)) as typeof out.write;
  try {
    return await fn(protocol);
  } finally {
    for (const [key, value] of saved) global[key] = value;
    if (ownWrite) Object.defineProperty(out, 'write', ownWrite);
    else delete (out as { write?: unknown }).write;
    out.off('error', failed);
    // As the SDK's transport leaves its own: a client gone (EPIPE) after the server closed is no crash.
    if (!out.listeners('error').includes(ignore)) out.on('error', ignore);
  }
}

const ignore = (): void => undefined;

/**
 * Serves until the client closes stdin (or Ctrl-C). Console output of the tools module, and what it
 * writes to `process.stdout`, goes to stderr meanwhile: stdout carries the protocol and nothing else.
 */
export function serveMcp(options: McpCommandOptions): Promise<void> {
  return stdoutForProtocol(options.stdout, (protocol) => serve({ ...options, stdout: protocol }));
}

async function serve(options: McpCommandOptions): Promise<void> {
  const mcp = await loadMcpModule(mcpSearchPaths(options.toolsPath, options.cwd));
  const stdin = isReadable(options.stdin) ? options.stdin : process.stdin;
  const stdout = isWritable(options.stdout) ? options.stdout : process.stdout;
  const server = mcp.serveMcpStdio({
    enclave: options.enclave,
    ...options.limits,
    ...(options.tools !== undefined ? { tools: options.tools } : {}),
    stdin,
    stdout,
    // The client's bytes may be quoted in it: escaped, as everything the CLI prints that it did not write.
    onError: (error) => void options.stderr.write(`enclave mcp: ${escapeText(error.message)}\n`),
  });
  options.signal?.addEventListener('abort', () => void server.close(), { once: true });
  await server.closed;
}
