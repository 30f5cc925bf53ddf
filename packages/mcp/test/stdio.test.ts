/**
 * Code mode over stdio: `enclave mcp --tools tools.mjs` (the engine's CLI, built, loading this package)
 * started by the official clients' stdio transports, as a desktop MCP client starts it; and
 * `serveMcpStdio` on in-memory streams.
 */
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Stream } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransport1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { serveMcpStdio } from '../src/index.js';
import { stdioMessages, textOf } from './clients.js';
import type { ToolResult } from './clients.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '../../engine/dist/bundle/cli.js');
const server = { command: process.execPath, args: [cli, 'mcp', '--tools', path.join(here, 'fixtures/tools.mjs'), '--level', 'SECURE'], stderr: 'pipe' as const };
const SCRIPT = 'const paid = await callTool("orders:list", { status: "paid" }); return paid.reduce((s, o) => s + o.total, 0);';

/** Connects `client` over `transport`, collecting what the server process writes to stderr. */
async function start<C extends { connect(transport: never): Promise<void> }>(client: C, transport: { stderr: Stream | null }) {
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  await client.connect(transport as never);
  return { client, stderr: () => stderr };
}

const CLIENTS = {
  'v2 client, 2026-07-28': async () => {
    const started = await start(new Client({ name: 'stdio-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } }), new StdioClientTransport(server));
    expect(started.client.getProtocolEra()).toBe('modern');
    return started;
  },
  'v2 client, default handshake (2025)': async () => {
    const started = await start(new Client({ name: 'stdio-test', version: '1.0.0' }), new StdioClientTransport(server));
    expect(started.client.getProtocolEra()).toBe('legacy');
    return started;
  },
  '1.x client (2025)': () => start(new Client1({ name: 'stdio-test', version: '1.0.0' }), new StdioClientTransport1(server)),
};

describe.each(Object.entries(CLIENTS))('enclave mcp --tools, %s', (_name, connect) => {
  it('lists the three tools, searches, describes and executes with the module’s tools', async () => {
    const { client, stderr } = await connect();
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as ToolResult;
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['search_tools', 'describe_tools', 'execute']);
      expect((await call('search_tools', { query: 'orders' })).structuredContent.tools.map((t: { name: string }) => t.name)).toEqual(['orders:list']);
      const described = await call('describe_tools', { names: ['orders:list'] });
      expect(described.structuredContent.securityLevel).toBe('SECURE');
      expect(textOf(described)).toContain('declare function callTool(name: "orders:list"');
      const result = await call('execute', { code: SCRIPT });
      expect(result.structuredContent).toMatchObject({ success: true, value: 200 });
      // A tools module that prints does not break the protocol: its output goes to stderr.
      expect((await call('execute', { code: 'return await callTool("debug:echo", { text: "hi" })' })).structuredContent.value).toBe('hi');
      await expect.poll(stderr).toContain('debug:echo hi');
      const failed = await call('execute', { code: 'return input.x.y' });
      expect(failed.isError).toBe(true);
      expect(textOf(failed)).toMatch(/^RUNTIME_ERROR at line 1, column \d+: /);
    } finally {
      await client.close();
    }
  });
});

describe('serveMcpStdio', () => {
  it('answers a 2025 opening and calls on its streams, survives a malformed line, and ends when stdin ends', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const served = serveMcpStdio({ tools: { twice: async ({ n }: { n: number }) => n * 2 }, stdin, stdout });
    const messages = stdioMessages(stdout);
    const send = (message: unknown) => stdin.write(`${JSON.stringify(message)}\n`);
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0]).toMatchObject({ id: 1, result: { serverInfo: { name: 'enclave-kit' }, instructions: expect.stringMatching(/^Code mode/) } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    stdin.write('{not json\n');
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute', arguments: { code: 'return await callTool("twice", { n: 21 })' } } });
    await expect.poll(() => messages.length).toBe(2);
    expect(messages[1]).toMatchObject({ id: 2, result: { structuredContent: { success: true, value: 42 } } });
    stdin.end();
    await served.closed;
  });

  it('refuses a malformed tools record at start', () => {
    expect(() => serveMcpStdio({ tools: { bad: 1 } as never, stdin: new PassThrough(), stdout: new PassThrough() })).toThrow(/must be a function or a defineTool/);
  });
});
