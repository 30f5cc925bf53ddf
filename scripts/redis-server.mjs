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

/**
 * Sends `command` over a fresh socket and resolves what `read` makes of the text received so far, as soon
 * as that is not undefined; undefined if nothing answered within `ms`.
 */
function ask(port, command, read, ms) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let text = '';
    const done = (value) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), ms);
    socket.once('error', () => done(undefined));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (data) => {
      text += data.toString();
      const value = read(text);
      if (value !== undefined) done(value);
    });
  });
}

/** One PING over a fresh socket: true if the server answered PONG within `ms`. */
export async function ping(port, ms = 500) {
  return (await ask(port, 'PING', (text) => text.startsWith('+PONG'), ms)) === true;
}

/**
 * The `process_id` the server on `port` reports (INFO server), or undefined if none answered within `ms`:
 * tells our server from another one that took the port first.
 */
function serverPid(port, ms = 1000) {
  return ask(port, 'INFO server', (text) => {
    const m = /process_id:(\d+)/.exec(text);
    return m ? Number(m[1]) : undefined;
  }, ms);
}

/** How many free ports startRedisServer tries when another process takes the one it picked first. */
const PORT_ATTEMPTS = 5;

/**
 * Starts redis-server on a free port (or `port`) and resolves once it answers PING and reports its own
 * process id. A free port is free only until something binds it: between `freePort()` closing it and
 * redis-server binding it, any socket of the machine (a client's ephemeral port, another test's server)
 * may take it, so a start on a port of our choosing that fails is tried again on another. The server's
 * directory is removed by `stop()`.
 */
export async function startRedisServer(options = {}) {
  requireRedisServer();
  let port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(tmpdir(), 'enclave-redis-'));
  let child;
  let output = '';

  async function start() {
    // DEBUG SLEEP (a Redis that hangs) is allowed from localhost only.
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'];
    output = '';
    child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d) => {
      output = (output + d.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const until = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      // An answer counts only from the process started here, not from a server that holds the port.
      if (child.exitCode === null && (await ping(port)) && (await serverPid(port)) === child.pid) return;
      if (child.exitCode !== null || Date.now() > until) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`redis-server did not start on port ${port}:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The first start: on a port of our choosing, another one when that one was taken meanwhile. */
  async function firstStart() {
    for (let attempt = 1; ; attempt++) {
      try {
        return await start();
      } catch (e) {
        if (options.port !== undefined || attempt >= PORT_ATTEMPTS) throw e;
        port = await freePort();
      }
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

  await firstStart();
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
