/**
 * A client decides how its request body is cut: with `Transfer-Encoding: chunked`, into one-byte chunks
 * (six bytes on the wire per byte of body). What the server spends on reading the body must follow its
 * bytes, not its chunks: before, 1 MiB sent so held 760 MB of the server's memory and 13 s of its CPU
 * (the Node bridge put every chunk through a web stream, and the core kept each one it read).
 */
import { createServer } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnclaveHandler } from '../../src/index.js';
import { handleNodeRequest } from '../../src/node/index.js';

const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, authenticate: () => 'alice', sessions: false });
const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req }));

beforeAll(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
afterAll(() => {
  handler.dispose();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(resolve));
});

/** One POST of `body` as one-byte chunks; resolves with the whole answer once the server has sent it. */
function postByteByByte(body: string): Promise<string> {
  const parts = ['POST / HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n'];
  for (const c of body) parts.push(`1\r\n${c}\r\n`);
  parts.push('0\r\n\r\n');
  return new Promise((resolve, reject) => {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => void (answer += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.end(parts.join(''));
  });
}

describe('a request body of one-byte chunks', () => {
  it('runs, and the server holds about its bytes while reading it, not a few hundred per chunk', async () => {
    const input = 'x'.repeat(512 * 1024);
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampling = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
    const answer = await postByteByByte(JSON.stringify({ code: 'return input.length', input }));
    clearInterval(sampling);
    peak = Math.max(peak, process.memoryUsage.rss());
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    // The answer's body, in chunks of its own or not.
    expect(answer).toMatch(new RegExp(`"success":true,"value":${input.length},`));
    // Node's own parser leaves garbage per chunk too, not yet collected at the peak: 12 MB on Node 20 and
    // 65 MB on Node 24 for this body on a plain Node server (up to 140 MB inside a test worker); the
    // bridge and the core before kept 460 MB.
    expect(peak - before).toBeLessThan(256 * 1024 * 1024);
  });
});
