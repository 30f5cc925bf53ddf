/**
 * A server started the way its user starts it (`node` on a free port), with a host-side canary preloaded.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const canaryModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'canary.mjs');

/** What canary.mjs reports from inside the server process. */
export interface Canary {
  pid: number;
  pwned: unknown;
  polluted: unknown;
}

export interface Started {
  /** `http://127.0.0.1:{port}/enclave` */
  url: string;
  child: ChildProcess;
  canary(): Promise<Canary>;
  stop(): void;
}

/** A port that was free a moment ago, for servers that take a port number rather than listening on 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs `node args` in `cwd` with `PORT` set and the canary preloaded; resolves once the port answers HTTP. */
export async function startNode(args: string[], options: { cwd: string; port: number; env?: Record<string, string> }): Promise<Started> {
  const env = { ...process.env, ...options.env, PORT: String(options.port) };
  const child = spawn(process.execPath, ['--import', canaryModule, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${options.port}/enclave`;
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`))));
  exited.catch(() => {});
  // No output line to wait for (the README's servers print nothing): ask until the port answers.
  for (;;) {
    const answered = await Promise.race([
      exited,
      fetch(url).then(
        (res) => res.body?.cancel().then(() => true),
        () => new Promise<false>((r) => setTimeout(() => r(false), 100)),
      ),
    ]);
    if (answered) break;
  }
  return {
    url,
    child,
    canary: () =>
      new Promise<Canary>((resolve, reject) => {
        const onMessage = (message: { canary?: Canary }) => {
          if (!message?.canary) return;
          child.off('message', onMessage);
          resolve(message.canary);
        };
        child.on('message', onMessage);
        child.send('canary?', (error) => error && reject(error));
      }),
    stop: () => void child.kill(),
  };
}
