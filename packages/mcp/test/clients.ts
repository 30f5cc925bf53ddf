/**
 * The official MCP clients as a user runs them, behind one small interface for the tests: the v2
 * client (`@modelcontextprotocol/client`) pinned to the 2026-07-28 revision, and the 1.x client
 * (`@modelcontextprotocol/sdk`), which speaks the 2025 revision with the Streamable HTTP transport.
 * Also raw JSON-RPC over fetch, for what no client would send.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll } from 'vitest';
import type { EnclaveFetchHandler } from '@enclave-kit/engine';
import { handleNodeRequest } from '@enclave-kit/engine/node';
import type { NodeRequest } from '@enclave-kit/engine/node';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as StreamableHTTPClientTransport1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export type Era = 'modern' | 'legacy';

/** What a test reads of a tool result. */
export interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: any;
}

export interface McpTestClient {
  readonly era: Era;
  listTools(): Promise<{ name: string; inputSchema: unknown; outputSchema?: unknown; description?: string }[]>;
  callTool(name: string, args: Record<string, unknown>): Promise<ToolResult>;
  close(): Promise<void>;
}

export const ERAS: readonly Era[] = ['modern', 'legacy'];

/** Connects an official client to `url`; `headers` go with every request (the stub login reads `x-user`). */
export async function connectMcp(url: string, era: Era, headers: Record<string, string> = {}): Promise<McpTestClient> {
  const requestInit = { headers };
  if (era === 'modern') {
    const client = new Client({ name: 'enclave-kit-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit }));
    if (client.getProtocolEra() !== 'modern') throw new Error(`expected the modern era, got ${client.getProtocolEra()}`);
    return {
      era,
      listTools: async () => (await client.listTools()).tools,
      callTool: async (name, args) => (await client.callTool({ name, arguments: args })) as ToolResult,
      close: () => client.close(),
    };
  }
  const client = new Client1({ name: 'enclave-kit-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport1(new URL(url), { requestInit }));
  return {
    era,
    listTools: async () => (await client.listTools()).tools,
    callTool: async (name, args) => (await client.callTool({ name, arguments: args })) as ToolResult,
    close: () => client.close(),
  };
}

/** The text of a tool result's content. */
export const textOf = (result: ToolResult): string => result.content.map((c) => c.text ?? '').join('\n');

/** A raw JSON-RPC POST as a 2025 client sends it (no per-request envelope), and the message it got back, from JSON or SSE. */
export async function rawRpc(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; contentType: string | null; headers: Headers; message: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body });
  const text = await res.text();
  const contentType = res.headers.get('content-type');
  let message: unknown;
  if (contentType?.startsWith('text/event-stream')) {
    const data = text.split('\n').find((line) => line.startsWith('data: '));
    message = data === undefined ? undefined : JSON.parse(data.slice(6));
  } else {
    message = text === '' ? undefined : JSON.parse(text);
  }
  return { status: res.status, contentType, headers: res.headers, message };
}

/** A `tools/call` request body. */
export const callBody = (name: string, args: unknown, id = 1) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

/** The JSON-RPC messages a stdio server writes to `stdout`, parsed line by line as they come. */
export function stdioMessages(stdout: NodeJS.ReadableStream): any[] {
  const messages: any[] = [];
  let buffer = '';
  stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      messages.push(JSON.parse(buffer.slice(0, i)));
      buffer = buffer.slice(i + 1);
    }
  });
  return messages;
}

/** Serves a Fetch handler (`createMcpHandler`'s) on port 0 of 127.0.0.1 through the Node bridge: its MCP URL, and a close that disposes it too. */
export async function serveMcp(handler: EnclaveFetchHandler<{ req: NodeRequest }>): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    close: async () => {
      handler.dispose();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An official client of `era`, connected before the block's tests and closed after them: call the getter inside a test. */
export function useMcpClient(url: () => string, era: Era, headers: Record<string, string> = {}): () => McpTestClient {
  let client: McpTestClient | undefined;
  beforeAll(async () => {
    client = await connectMcp(url(), era, headers);
  });
  afterAll(() => client?.close());
  return () => client as McpTestClient;
}
