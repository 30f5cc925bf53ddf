/**
 * An HTTP proxy that really cuts connections, for the client's and the React hook's tests, and the
 * port-0 listen and close they share. Nothing of the engine: a test run under a browser's types imports it.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** Where the proxy cuts one response: before its head, or after this many bytes of its body. */
export type Cut = { beforeHead: true } | { afterBytes: number } | undefined;

export interface CuttingProxy {
  /** The enclave route through the proxy. */
  url: string;
  /** Requests it forwarded, and connections it cut. */
  stats: { requests: number; cuts: number };
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of `target` that destroys the client's socket where `plan` says: before the
 * response head (the client's fetch fails), or in the middle of the body after a number of bytes (the
 * client's read fails, often in the middle of an event or a line). Nothing is cut after the body ends.
 */
export async function startCuttingProxy(target: string, plan: (req: IncomingMessage) => Cut, onCut?: (req: IncomingMessage) => void): Promise<CuttingProxy> {
  const upstreamOrigin = new URL(target).origin;
  const stats = { requests: 0, cuts: 0 };
  const server = createServer((req, res) => {
    stats.requests++;
    const cut = plan(req);
    const headers = { ...req.headers };
    delete headers.connection;
    const upstream = httpRequest(`${upstreamOrigin}${req.url}`, { method: req.method, headers, agent: false }, (up) => {
      if (cut && 'beforeHead' in cut) {
        stats.cuts++;
        onCut?.(req);
        up.destroy();
        req.socket.destroy();
        return;
      }
      const head = { ...up.headers };
      delete head.connection;
      res.writeHead(up.statusCode ?? 502, head);
      res.flushHeaders();
      let sent = 0;
      let done = false;
      up.on('data', (chunk: Buffer) => {
        if (done) return;
        if (cut && sent + chunk.length >= cut.afterBytes) {
          done = true;
          stats.cuts++;
          onCut?.(req);
          up.destroy();
          const part = chunk.subarray(0, cut.afterBytes - sent);
          // The bytes before the cut go out; then the socket dies without the chunked body's end.
          if (part.length > 0) res.write(part, () => res.socket?.destroy());
          else res.socket?.destroy();
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      up.on('end', () => {
        if (!done) res.end();
      });
      up.on('error', () => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  const origin = await listen(server);
  return { url: `${origin}${new URL(target).pathname}`, stats, close: () => shut(server) };
}
