// A real redis-server for tests and benchmarks: started on a free port with its own temporary directory
// and no persistence, stopped (or killed, or restarted on the same port) on request. No mock: the
// stores are tested against the server they will meet. The binary is Debian's `redis-server`
// (`.ci/run` installs it when missing); REDIS_SERVER names another.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const BINARY = process.env.REDIS_SERVER || 'redis-server';
const READY_TIMEOUT_MS = 10_000;

/** Throws a message that says what to install when there is no redis-server to start. */
export function requireRedisServer() {
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `redis-server is needed for the Redis tests and benchmarks and was not found (${BINARY}: ${probe.error?.message ?? probe.stderr}). ` +
        'Install it with `apt-get update && apt-get install -y redis-server` (.ci/run does this), or set REDIS_SERVER to its path.',
    );
  }
  return probe.stdout.trim();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** One PING over a fresh socket: true if the server answered PONG within `ms`. */
export function ping(port, ms = 500) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/**
 * Starts redis-server on a free port (or `port`) and resolves once it answers PING. The server's
 * directory is removed by `stop()`.
 */
export async function startRedisServer(options = {}) {
  requireRedisServer();
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(tmpdir(), 'enclave-redis-'));
  let child;
  let output = '';

  async function start() {
    // DEBUG SLEEP (a Redis that hangs) is allowed from localhost only.
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'];
    child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d) => {
      output = (output + d.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const until = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (await ping(port)) return;
      if (child.exitCode !== null || Date.now() > until) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`redis-server did not start on port ${port}:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Ends the process with `signal` and waits until it has exited. */
  async function end(signal) {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill(signal);
    await exited;
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child.pid;
    },
    /** Stops the server (SIGTERM: no save, since persistence is off); the port may be started again. */
    halt: () => end('SIGTERM'),
    /** Starts it again on the same port, empty (nothing was saved). */
    start,
    /** Stops it for good and removes its directory. */
    async stop() {
      await end('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
