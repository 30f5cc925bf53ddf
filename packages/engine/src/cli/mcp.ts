/**
 * `enclave mcp`: serves a local tools module over MCP on stdio (code mode: search_tools,
 * describe_tools, execute), for desktop MCP clients. The MCP side is `@enclave-kit/mcp`, loaded at run
 * time so the engine depends neither on it nor on the MCP SDK.
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { guardStdout } from '../node/stdout.js';
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
 * Runs `fn` with stdout kept for the protocol (`guardStdout`) when the protocol goes to the process's
 * stdout; `fn` is given the stream that still reaches stdout.
 */
export async function stdoutForProtocol<T>(stdout: unknown, fn: (protocol: unknown) => Promise<T>): Promise<T> {
  if ((isWritable(stdout) ? stdout : process.stdout) !== process.stdout) return fn(stdout);
  const guard = guardStdout();
  try {
    return await fn(guard.protocol);
  } finally {
    guard.release();
  }
}

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
