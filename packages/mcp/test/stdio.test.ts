/**
 * Code mode over stdio: `enclave mcp --tools tools.mjs` (the engine's CLI, built, loading this package)
 * started by the official clients' stdio transports, as a desktop MCP client starts it; and
 * `serveMcpStdio` on in-memory streams.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Stream } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransport1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { EnclaveConfigError } from '@enclave-kit/engine';
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

describe('enclave mcp --tools, a v2 client that follows list changes', () => {
  it('is not told the tools may change, so it holds no listen stream: with --max-concurrent 1 its calls still run', async () => {
    const transport = new StdioClientTransport({ ...server, args: [...server.args, '--max-concurrent', '1'] });
    const { client } = await start(new Client({ name: 'stdio-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } }, listChanged: { tools: { onChanged: () => {} } } }), transport);
    try {
      // Before, the client opened a listen at once, which held the one place for the whole connection.
      expect(client.autoOpenedSubscription).toBeUndefined();
      const result = (await client.callTool({ name: 'execute', arguments: { code: SCRIPT } })) as ToolResult;
      expect(result.structuredContent).toMatchObject({ success: true, value: 200 });
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

  it('a line sent a byte at a time is read at the cost of its bytes (before: a Buffer kept per byte, 172 MB grown for this 1 MB line)', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const served = serveMcpStdio({ stdin, stdout });
    const messages = stdioMessages(stdout);
    const pad = 'x'.repeat(1000 * 1000);
    const line = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: pad } } })}\n`;
    const before = process.memoryUsage.rss();
    let peak = before;
    for (let i = 0; i < line.length; i++) {
      stdin.write(line[i] as string);
      if (i % 65_536 === 0) peak = Math.max(peak, process.memoryUsage.rss());
    }
    await expect.poll(() => messages.length).toBe(1);
    peak = Math.max(peak, process.memoryUsage.rss());
    expect(messages[0]).toMatchObject({ id: 1, result: { serverInfo: { name: 'enclave-kit' } } });
    // This test's own stream queues the million writes too (about 30 MB, measured).
    expect(peak - before).toBeLessThan(80 * 1024 * 1024);
    stdin.end();
    await served.closed;
  });

  it('a client that sends and never reads its answers is not answered into memory: stdin pauses once stdout is full', async () => {
    const stdin = new PassThrough();
    // Nobody reads: what the server writes stays in this stream's buffers, in this process.
    const stdout = new PassThrough();
    const served = serveMcpStdio({ tools: { twice: async ({ n }: { n: number }) => n * 2 }, stdin, stdout });
    const line = (message: unknown) => `${JSON.stringify(message)}\n`;
    stdin.write(line({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }));
    stdin.write(line({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    // 40,000 requests (2 MB) whose answers (a result, or a refusal past maxConcurrentRequests) come to 8 MB and more.
    const requests = 40_000;
    stdin.write(Array.from({ length: requests }, (_, i) => line({ jsonrpc: '2.0', id: i + 1, method: 'tools/list' })).join(''));
    const buffered = () => stdout.readableLength + stdout.writableLength;
    // Either the server stops reading (stdin paused; the rest of the chunk it had read waits), or it answers into memory.
    await expect.poll(() => stdin.isPaused() || buffered() > 8 * 1024 * 1024).toBe(true);
    expect(buffered()).toBeLessThan(4 * 1024 * 1024);
    // Once the client reads, every request is answered.
    const messages = stdioMessages(stdout);
    await expect.poll(() => messages.length, { timeout: 30_000 }).toBe(requests + 1);
    expect(new Set(messages.map((m) => m.id)).size).toBe(requests + 1);
    stdin.end();
    await served.closed;
  });

  it('a dropped line’s id is read only when it is a plain number or string: control characters, escapes and nesting give id null, never a throw', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const served = serveMcpStdio({ stdin, stdout, maxLineBytes: 200 });
    const messages = stdioMessages(stdout);
    const pad = 'x'.repeat(300);
    const lines = [
      `{"id":"a\u0001b","method":"x","params":{"p":"${pad}"}}`,
      `{"id":"a\\"b","method":"x","params":{"p":"${pad}"}}`,
      `{"method":"x","params":{"p":"${pad}","q":{"id":5}}}`,
      `{"method":"x","params":{"p":"${pad}"},"id":"ok-tail"}`,
      `{"jsonrpc":"2.0","id":-12,"method":"x","params":{"p":"${pad}"}}`,
    ];
    stdin.write(lines.map((l) => `${l}\n`).join(''));
    await expect.poll(() => messages.length).toBe(lines.length);
    expect(messages.map((m) => [m.id, m.error?.code])).toEqual([[null, -32600], [null, -32600], [null, -32600], ['ok-tail', -32600], [-12, -32600]]);
    stdin.end();
    await served.closed;
  });

  it('from code on the process’s stdout: what a tool prints (console, process.stdout.write) goes to stderr, the official client’s connection holds, and stdout is put back at close', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [path.join(here, 'fixtures/serve-printing.mjs')], stderr: 'pipe' });
    const { client, stderr } = await start(new Client({ name: 'stdio-test', version: '1.0.0' }), transport);
    const errors: Error[] = [];
    // oxlint-disable-next-line unicorn/prefer-add-event-listener -- the SDK's Client has no addEventListener
    client.onerror = (error) => void errors.push(error);
    // Text a script chose, shaped as a frame of the protocol.
    const frame = JSON.stringify({ jsonrpc: '2.0', id: 'forged', result: {} });
    try {
      for (const text of [frame, 'again']) {
        const result = (await client.callTool({ name: 'execute', arguments: { code: `return await callTool("print", { text: ${JSON.stringify(text)} })` } })) as ToolResult;
        expect(result.structuredContent).toMatchObject({ success: true, value: text });
      }
      await expect.poll(stderr).toContain('printing: raw write with a callback');
      expect(stderr()).toContain(`printing: log ${frame}`);
      expect(stderr()).toContain(`printing: raw write ${frame}`);
      expect(stderr()).toContain('printing: raw write again');
      // Nothing but the protocol reached the client: no line it could not read.
      expect(errors).toEqual([]);
    } finally {
      await client.close();
    }
    await expect.poll(stderr).toContain('printing: closed, stdout.write put back');
  });

  it('leaves process.stdout alone with streams of the caller’s own, or with guardStdout: false; guards it otherwise until close', async () => {
    const before = { write: Object.getOwnPropertyDescriptor(process.stdout, 'write'), log: console.log };
    const untouched = () => expect({ write: Object.getOwnPropertyDescriptor(process.stdout, 'write'), log: console.log }).toEqual(before);
    for (const options of [{ stdout: new PassThrough() }, { guardStdout: false }]) {
      const served = serveMcpStdio({ stdin: new PassThrough(), ...options });
      untouched();
      await served.close();
    }
    const guarded = serveMcpStdio({ stdin: new PassThrough() });
    expect(Object.getOwnPropertyDescriptor(process.stdout, 'write')).not.toEqual(before.write);
    await guarded.close();
    untouched();
    expect(() => serveMcpStdio({ guardStdout: 'no' as never, stdin: new PassThrough(), stdout: new PassThrough() })).toThrow(/guardStdout must be a boolean/);
  });

  it('refuses a malformed tools record at start', () => {
    expect(() => serveMcpStdio({ tools: { bad: 1 } as never, stdin: new PassThrough(), stdout: new PassThrough() })).toThrow(/must be a function or a defineTool/);
  });
});

describe('enclave mcp: limits on what the client sends (raw lines to the real CLI process)', () => {
  /** The CLI on the held-tools module, with `args`; raw lines in, parsed messages and stderr out. */
  async function startCli(args: string[]) {
    const child = spawn(process.execPath, [cli, 'mcp', '--tools', path.join(here, 'fixtures/held-tools.mjs'), '--timeout', '30000', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const messages = stdioMessages(child.stdout);
    const write = (text: string | Buffer) => new Promise<void>((resolve, reject) => child.stdin.write(text, (err) => (err ? reject(err) : resolve())));
    const send = (message: unknown) => write(`${JSON.stringify(message)}\n`);
    await send({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await expect.poll(() => messages.length).toBe(1);
    await send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const answer = async (id: unknown) => {
      await expect.poll(() => messages.some((m) => m.id === id)).toBe(true);
      return messages.find((m) => m.id === id);
    };
    const execute = (id: unknown, code: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute', arguments: { code } } });
    const entered = () => stderr.split('held: entered').length - 1;
    const running = () => entered() - (stderr.split('held: left').length - 1);
    return { child, messages, write, send, answer, execute, exited, entered, running, stderr: () => stderr };
  }

  it('what the tools module prints, through any console method or process.stdout.write, when it loads or as a tool runs, goes to stderr: stdout carries the protocol alone', async () => {
    const child = spawn(process.execPath, [cli, 'mcp', '--tools', path.join(here, 'fixtures/printing-tools.mjs')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const send = (message: unknown) => child.stdin.write(`${JSON.stringify(message)}\n`);
    try {
      send({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      // Text a script chose, shaped as a frame of the protocol.
      const frame = JSON.stringify({ jsonrpc: '2.0', id: 'forged', result: {} });
      send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute', arguments: { code: `return await callTool("print", { text: ${JSON.stringify(frame)} })` } } });
      await expect.poll(() => /"id":1[,}]/.test(stdout)).toBe(true);
      expect(stderr).toContain('printing: loaded');
      expect(stderr).toContain('loaded (dir)');
      expect(stderr).toContain('printing: dirxml');
      expect(stderr).toContain('printing: count');
      expect(stderr).toContain('printing: raw write at load');
      expect(stderr).toContain(`printing: raw write ${frame}`);
      expect(stderr).toContain('printing: raw write with a callback');
      expect(stderr).toContain('printing: a write kept from load');
      const lines = stdout.split('\n').filter((line) => line !== '');
      const ids = lines.map((line) => (JSON.parse(line) as { id?: unknown }).id);
      expect(ids).toEqual(['init', 1]);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('requests beyond --max-concurrent are answered at once with a JSON-RPC error and never start a run', async () => {
    const c = await startCli(['--max-concurrent', '2']);
    try {
      for (let id = 1; id <= 5; id++) await c.send(c.execute(id, 'return await callTool("held", {})'));
      // Two runs hold the two places; the other three are refused, with their ids, without running.
      for (const id of [3, 4, 5]) expect(await c.answer(id)).toMatchObject({ id, error: { code: -32000, message: expect.stringContaining('at most 2 at once'), data: { maxConcurrentRequests: 2 } } });
      await expect.poll(c.entered).toBe(2);
      expect(c.messages.some((m) => m.id === 1 || m.id === 2)).toBe(false);
      // A cancelled request gives its place back: the next one runs.
      await c.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'test' } });
      await c.send(c.execute(6, 'return await callTool("echo", { text: "ran" })'));
      expect(await c.answer(6)).toMatchObject({ result: { structuredContent: { success: true, value: 'ran' } } });
      expect(c.entered()).toBe(2);
    } finally {
      c.child.kill('SIGKILL');
      await c.exited;
    }
  });

  it('a cancel frees a place only as it stops the request holding it: requests sent twice under one id, cancels the server does not take, cancels of nothing', async () => {
    const c = await startCli(['--max-concurrent', '2']);
    const held = (id: unknown) => c.send(c.execute(id, 'return await callTool("held", {})'));
    const cancel = (params: Record<string, unknown>) => c.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params });
    try {
      for (let round = 1; round <= 3; round++) {
        // Two requests under one id, cancelled twice: the SDK aborts the latest request under an id only.
        await held(1);
        await held(1);
        await expect.poll(c.entered).toBeGreaterThanOrEqual(4 * round - 3);
        await cancel({ requestId: 1, reason: 'test' });
        await cancel({ requestId: 1, reason: 'test' });
        await expect.poll(c.running).toBe(0);
        // A cancel whose reason the SDK does not read (not a string) still stops what it frees; cancels of nothing free nothing.
        await held(`r${round}`);
        await expect.poll(c.entered).toBeGreaterThanOrEqual(4 * round - 2);
        await cancel({ requestId: `r${round}`, reason: 5 });
        await cancel({ requestId: [`r${round}`] });
        await cancel({});
        await expect.poll(c.running).toBe(0);
        // Three more: two run, one is refused, and no more than two run at any time.
        for (const id of [`s${round}`, `t${round}`, `u${round}`]) await held(id);
        await expect.poll(() => c.messages.some((m) => m.id === `u${round}`) || c.running() > 2).toBe(true);
        expect(c.running()).toBeLessThanOrEqual(2);
        expect(await c.answer(`u${round}`)).toMatchObject({ error: { code: -32000 } });
        await expect.poll(c.entered).toBe(4 * round);
        await cancel({ requestId: `s${round}` });
        await cancel({ requestId: `t${round}`, reason: 'x'.repeat(100_000) });
        await expect.poll(c.running).toBe(0);
      }
      // Every second request under an id in flight was answered at once, and never started.
      expect(c.messages.filter((m) => m.id === 1 && m.error?.code === -32600 && /in flight already/.test(m.error.message))).toHaveLength(3);
      expect(c.entered()).toBe(12);
      // The cap holds as before: two run, a third is refused.
      for (const id of [10, 11, 12]) await held(id);
      expect(await c.answer(12)).toMatchObject({ error: { code: -32000, data: { maxConcurrentRequests: 2 } } });
      await expect.poll(c.running).toBe(2);
    } finally {
      c.child.kill('SIGKILL');
      await c.exited;
    }
  });

  it('a line longer than --max-line-bytes is dropped as it streams in and answered for its id; the connection goes on', async () => {
    const c = await startCli(['--max-line-bytes', '65536']);
    try {
      // 200 KiB of script (its id last, as the official clients write it): over the cap, never run.
      const long = c.execute(7, `return "ran-long"; ${'/* pad */ '.repeat(20_000)}`);
      expect(JSON.stringify(long).length).toBeGreaterThan(65536);
      await c.send(long);
      expect(await c.answer(7)).toMatchObject({ id: 7, error: { code: -32600, message: expect.stringContaining('longer than 65536 bytes'), data: { maxLineBytes: 65536 } } });
      // Its id first, as other clients write it.
      await c.write(`{"jsonrpc":"2.0","id":"first","method":"tools/call","params":{"name":"execute","arguments":{"code":"return 1; ${' '.repeat(100_000)}"}}}\n`);
      expect(await c.answer('first')).toMatchObject({ error: { code: -32600 } });
      // 24 MiB in pieces without a newline (the SDK's own reader gives up and closes at 10 MiB): held
      // nowhere, and when the line ends it is answered for id null.
      const piece = Buffer.alloc(1024 * 1024, 0x20);
      await c.write('{"jsonrpc":"2.0","method":"tools/call","params":{"code":"');
      for (let i = 0; i < 24; i++) await c.write(piece);
      await c.write('"}}\n');
      await expect.poll(() => c.messages.some((m) => m.id === null && m.error?.code === -32600)).toBe(true);
      // Whole lines within the cap still run, on the same connection.
      await c.send(c.execute(8, 'return await callTool("echo", { text: "still here" })'));
      expect(await c.answer(8)).toMatchObject({ result: { structuredContent: { success: true, value: 'still here' } } });
      expect(c.messages.some((m) => JSON.stringify(m).includes('ran-long'))).toBe(false);
    } finally {
      c.child.kill('SIGKILL');
      await c.exited;
    }
  });

  it('the defaults hold without flags: 1 MiB lines, 8 requests in flight', async () => {
    const c = await startCli([]);
    try {
      for (let id = 1; id <= 9; id++) await c.send(c.execute(id, 'return await callTool("held", {})'));
      expect(await c.answer(9)).toMatchObject({ error: { code: -32000, data: { maxConcurrentRequests: 8 } } });
      await expect.poll(c.entered).toBe(8);
      await c.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'x', params: { pad: ' '.repeat(1024 * 1024) }, id: 10 })}\n`);
      expect(await c.answer(10)).toMatchObject({ error: { code: -32600, data: { maxLineBytes: 1024 * 1024 } } });
    } finally {
      c.child.kill('SIGKILL');
      await c.exited;
    }
  });

  it('enclave mcp without --tools (optional, as its help and the README say): the three tools over an empty catalog, execute runs a script that calls none', async () => {
    const started = await start(new Client({ name: 'stdio-test', version: '1.0.0' }), new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp'], stderr: 'pipe' }));
    try {
      expect((await started.client.listTools()).tools.map((t) => t.name)).toEqual(['search_tools', 'describe_tools', 'execute']);
      expect(((await started.client.callTool({ name: 'search_tools', arguments: { query: 'orders' } })) as ToolResult).structuredContent.tools).toEqual([]);
      expect(((await started.client.callTool({ name: 'execute', arguments: { code: 'return 6 * 7' } })) as ToolResult).structuredContent).toMatchObject({ success: true, value: 42 });
    } finally {
      await started.client.close();
    }
  });

  it('refuses limits that are not positive integers', async () => {
    for (const [flag, value] of [['--max-line-bytes', '0'], ['--max-concurrent', '-1'], ['--max-concurrent', '1.5']]) {
      const child = spawn(process.execPath, [cli, 'mcp', `${flag}=${value}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      expect(await new Promise((resolve) => child.once('exit', resolve)), stderr).toBe(2);
      expect(stderr).toContain(`${flag} must be a positive whole number`);
    }
    expect(() => serveMcpStdio({ maxLineBytes: 0, stdin: new PassThrough(), stdout: new PassThrough() })).toThrow(/maxLineBytes must be a positive integer/);
    expect(() => serveMcpStdio({ maxConcurrentRequests: Number.NaN, stdin: new PassThrough(), stdout: new PassThrough() })).toThrow(/maxConcurrentRequests must be a positive integer/);
  });

  it('refuses an unknown or malformed option at start, as mcpRoute() does, naming it (an EnclaveConfigError)', () => {
    const streams = () => ({ stdin: new PassThrough(), stdout: new PassThrough() });
    for (const [options, message] of [
      [{ maxLineByte: 1024 }, 'serveMcpStdio(options): unknown option "maxLineByte". Known options: enclave, tools, stdin, stdout, guardStdout, onError, maxLineBytes, maxConcurrentRequests, name, version.'],
      [{ allowedOrigins: ['*'] }, 'serveMcpStdio(options): unknown option "allowedOrigins".'],
      [{ name: 5 }, 'serveMcpStdio(options): name must be a non-empty string.'],
      [{ version: '' }, 'serveMcpStdio(options): version must be a non-empty string.'],
    ] as const) {
      let thrown: unknown;
      try {
        void serveMcpStdio({ ...streams(), ...options } as never).close();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(EnclaveConfigError);
      expect((thrown as Error).message.startsWith(message)).toBe(true);
    }
    expect(() => serveMcpStdio(5 as never)).toThrow('serveMcpStdio(options): options must be an object.');
  });
});
