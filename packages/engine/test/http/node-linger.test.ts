/**
 * The Node bridge's close after a 413: the client that is still sending its body reads the 413, even
 * when it reads late.
 *
 * Found in CI on a loaded machine: Express's "a huge body gets 413" ended with `fetch failed` (ECONNRESET)
 * on Node 24. Node destroys a socket as soon as a `Connection: close` response is written; the body's
 * bytes that arrive after that make the kernel answer with a reset, and a reset that reaches a client
 * before it has read the response discards the response. Here the client is a child process that writes
 * a 20 MB body and then blocks its own event loop for half a second, as a busy client would: on the old
 * bridge most such clients saw EPIPE and no 413 (5 of 6, and 3 of 4 on Node 22 and 24). The server is
 * this process's, so its side runs while the client is blocked.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnclaveHandler } from '../../src/index.js';
import { handleNodeRequest } from '../../src/node/index.js';
import { listen } from './contract.js';
import type { Served } from './contract.js';

/** The client: one POST of `bytes` with a Content-Length, then a blocked loop; prints what it read and any error. */
const CLIENT = `
const net = require('node:net');
const [port, bytes, blockMs, trickle] = process.argv.slice(1).map(Number);
// A trickling client keeps its side open when the server ends its own (allowHalfOpen), as a hostile one would.
const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: trickle > 0 });
let got = '';
let error = '';
s.on('data', (d) => { got += d; });
s.on('error', (e) => { error = e.code; });
s.on('close', () => { console.log(JSON.stringify({ head: got.split('\\r\\n')[0], error })); process.exit(0); });
s.on('connect', () => {
  s.write('POST /enclave HTTP/1.1\\r\\nhost: x\\r\\ncontent-type: application/json\\r\\nx-user: alice\\r\\ncontent-length: ' + (bytes + trickle * 1000) + '\\r\\n\\r\\n');
  s.write(Buffer.alloc(bytes, 'z'));
  const t = Date.now();
  while (Date.now() - t < blockMs) {}
  // Then, if asked, a byte every 10 ms for ever: a client that never ends its body.
  if (trickle > 0) setInterval(() => s.writable && s.write('z'), 10);
});
`;

function client(port: number, bytes: number, blockMs: number, trickle = 0): Promise<{ head: string; error: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT, String(port), String(bytes), String(blockMs), String(trickle)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out) as { head: string; error: string });
      } catch {
        reject(new Error(`the client printed ${JSON.stringify(out)}`));
      }
    });
  });
}

let served: Served;
let port: number;
const sockets = new Set<Socket>();

beforeAll(async () => {
  const handler = createEnclaveHandler({ tools: () => ({}), authenticate: () => ({ id: 'alice' }) });
  const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req, res }));
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  served = await listen(server, () => {});
  port = Number(new URL(served.url).port);
});
afterAll(() => served?.close());

describe('the Node bridge after a 413 to a client still sending', () => {
  it('a client that reads late still reads the 413, three times out of three', async () => {
    for (let i = 0; i < 3; i++) {
      const { head } = await client(port, 20 * 1024 * 1024, 500);
      expect(head, `attempt ${i + 1}`).toBe('HTTP/1.1 413 Payload Too Large');
    }
  }, 60_000);

  it('a client that never ends its body is still cut off, and the server keeps no socket of it', async () => {
    const { head } = await client(port, 2 * 1024 * 1024, 0, 1);
    expect(head).toBe('HTTP/1.1 413 Payload Too Large');
    // The client exits only once the server closed the connection (after LINGER_MS, 2 s); nothing of it stays.
    await expect.poll(() => sockets.size).toBe(0);
  }, 60_000);

  it('the server answers the next request as before', async () => {
    const res = await fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice' }, body: JSON.stringify({ code: 'return 6 * 7' }) });
    expect(await res.json()).toMatchObject({ success: true, value: 42 });
  });
});
