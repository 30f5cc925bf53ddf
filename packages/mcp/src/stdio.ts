/**
 * Code mode over MCP on stdio, for a desktop MCP client that starts the server itself (`enclave mcp
 * --tools tools.mjs`): one connection, one user, the tools of a local module.
 */
import type { Readable, Writable } from 'node:stream';
import type { CreateEnclaveOptions, ToolSet } from '@enclave-kit/engine';
import { Enclave, EnclaveConfigError } from '@enclave-kit/engine';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import type { CodeModeBackend, CodeModeInfo } from './code-mode.js';
import { codeModeServer } from './code-mode.js';
import { MCP_PACKAGE_VERSION } from './version.js';

/** Options of `serveMcpStdio()`. */
export interface McpStdioOptions extends CodeModeInfo {
  /** An `Enclave` to run scripts on, or the options of the one created (and disposed on close). Default `new Enclave()`. */
  enclave?: Enclave | CreateEnclaveOptions;
  /** The tools scripts may call (a record of functions or `defineTool()` definitions). */
  tools?: ToolSet;
  /** Default `process.stdin` / `process.stdout`. */
  stdin?: Readable;
  stdout?: Writable;
  /** Errors the connection reports out of band (a malformed line, a broken pipe). Default: ignored. */
  onError?: (error: Error) => void;
}

/** A served connection. */
export interface McpStdioServer {
  /** Settles when the client closes the connection (its end of stdin), or after `close()`. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** The SDK's stdio transport, telling us when the connection is over. */
class ClosingTransport extends StdioServerTransport {
  readonly closed: Promise<void>;
  #resolve!: () => void;
  constructor(stdin?: Readable, stdout?: Writable) {
    super(stdin, stdout);
    this.closed = new Promise((resolve) => (this.#resolve = resolve));
  }

  override async close(): Promise<void> {
    await super.close();
    this.#resolve();
  }
}

/**
 * Serves `search_tools`, `describe_tools` and `execute` over stdio (2026-07-28, and 2025 clients that
 * open with `initialize`), running scripts with `tools`. Nothing else may write to stdout meanwhile.
 *
 * @example
 * ```ts
 * const server = serveMcpStdio({ enclave: { securityLevel: 'SECURE' }, tools: { 'notes:list': async () => notes } });
 * await server.closed;
 * ```
 */
export function serveMcpStdio(options: McpStdioOptions = {}): McpStdioServer {
  const { enclave: given, tools, stdin, stdout, onError, name, version } = options;
  if (onError !== undefined && typeof onError !== 'function') throw new EnclaveConfigError('serveMcpStdio(options): onError must be a function.');
  const enclave = given instanceof Enclave ? given : new Enclave(given);
  // Fail at start, not at the first call, on a malformed tools record.
  enclave.describe(tools);
  const backend: CodeModeBackend = {
    catalog: async () => enclave.describe(tools),
    run: (code, input, signal) => enclave.run(code, { ...(tools !== undefined ? { tools } : {}), ...(input !== undefined ? { input } : {}), signal }),
  };
  const info = { name: name ?? 'enclave-kit', version: version ?? MCP_PACKAGE_VERSION };
  const transport = new ClosingTransport(stdin, stdout);
  const handle = serveStdio(() => codeModeServer(backend, info), { transport, ...(onError ? { onerror: onError } : {}) });
  const closed = transport.closed.then(() => {
    if (!(given instanceof Enclave)) enclave.dispose();
  });
  return { closed, close: () => handle.close().then(() => closed) };
}
