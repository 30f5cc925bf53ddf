/**
 * An MCP client that goes away, or cancels, while `execute` runs: the run is aborted (its tool's signal
 * fires, no further tool starts) and what it held is freed, over HTTP (both protocol eras, a real socket)
 * and over stdio (stdin ends; `notifications/cancelled`).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolContext } from '@enclave-kit/engine';
import { handleNodeRequest } from '@enclave-kit/engine/node';
import { createMcpHandler, serveMcpStdio } from '../src/index.js';
import { callBody, connectMcp, stdioMessages } from './clients.js';

/** A tool that waits until its run is aborted; counts how often it started and saw the abort. */
function blockingTool() {
  const seen = { started: 0, aborted: 0 };
  const block = async (_args: unknown, ctx: ToolContext) => {
    seen.started++;
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    seen.aborted++;
    return 1;
  };
  return { seen, block };
}

/** Two calls in a row: the second may start only if the run goes on after the first. */
const TWO_CALLS = 'await callTool("block", {}); await callTool("block", {}); return 1';

describe('over HTTP', () => {
  const { seen, block } = blockingTool();
  let url = '';
  let close: () => Promise<void> = async () => {};
  beforeAll(async () => {
    const handler = createMcpHandler<unknown, string>({
      enclave: { timeout: 60_000 },
      // One run at a time: a run the disconnect did not end would hold the only place.
      maxConcurrentRuns: 1,
      logger: { info() {}, error() {} },
      authenticate: ({ request }) => request.headers.get('x-user') ?? undefined,
      tools: () => ({ block, echo: ({ v }: { v: number }) => v }),
    });
    const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    close = async () => {
      handler.dispose();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    };
  });
  afterAll(() => close());

  const META = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const requests = {
    // A 2025 client's call: no envelope, as the 1.x SDK sends it after its stateless initialize.
    legacy: { headers: {}, body: callBody('execute', { code: TWO_CALLS }) },
    // A 2026-07-28 call: the revision's headers and per-request metadata.
    modern: {
      headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'execute' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute', arguments: { code: TWO_CALLS }, _meta: META } }),
    },
  };

  it.each(Object.entries(requests))('%s: a client that hangs up mid-run aborts it; no further tool starts, and its place is free again', async (era, request) => {
    const before = { ...seen };
    const hangUp = new AbortController();
    const answer = fetch(url, {
      method: 'POST',
      signal: hangUp.signal,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-user': 'alice', ...request.headers },
      body: request.body,
    }).then((res) => res.text());
    answer.catch(() => {});
    await expect.poll(() => seen.started).toBe(before.started + 1);
    hangUp.abort();
    await expect(answer).rejects.toThrow();
    await expect.poll(() => seen.aborted).toBe(before.aborted + 1);
    // The only run place is free: an official client's call runs (QUEUE_FULL otherwise).
    const client = await connectMcp(url, era === 'modern' ? 'modern' : 'legacy', { 'x-user': 'alice' });
    try {
      const next = await client.callTool('execute', { code: 'return await callTool("echo", { v: 7 })' });
      expect(next.structuredContent).toMatchObject({ success: true, value: 7 });
    } finally {
      await client.close();
    }
    // The hung-up run never reached its second call.
    expect(seen.started).toBe(before.started + 1);
  });
});

describe('over stdio', () => {
  function serve() {
    const { seen, block } = blockingTool();
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const served = serveMcpStdio({ enclave: { timeout: 60_000 }, tools: { block, echo: ({ v }: { v: number }) => v }, stdin, stdout });
    const messages = stdioMessages(stdout);
    const send = (message: unknown) => stdin.write(`${JSON.stringify(message)}\n`);
    const opened = (async () => {
      send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
      await expect.poll(() => messages.length).toBe(1);
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    })();
    return { seen, stdin, served, messages, send, opened };
  }

  it('stdin ends mid-run: the run is aborted and the connection closes; no further tool starts', async () => {
    const { seen, stdin, served, send, opened } = serve();
    await opened;
    send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute', arguments: { code: TWO_CALLS } } });
    await expect.poll(() => seen.started).toBe(1);
    stdin.end();
    await served.closed;
    await expect.poll(() => seen.aborted).toBe(1);
    expect(seen.started).toBe(1);
  });

  it('notifications/cancelled aborts the call’s run; the connection serves the next call', async () => {
    const { seen, stdin, served, messages, send, opened } = serve();
    await opened;
    send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute', arguments: { code: TWO_CALLS } } });
    await expect.poll(() => seen.started).toBe(1);
    send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'the user stopped it' } });
    await expect.poll(() => seen.aborted).toBe(1);
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute', arguments: { code: 'return await callTool("echo", { v: 7 })' } } });
    await expect.poll(() => messages.find((m) => m.id === 2)?.result?.structuredContent).toMatchObject({ success: true, value: 7 });
    expect(seen.started).toBe(1);
    stdin.end();
    await served.closed;
  });
});
