/**
 * Keeping the process's stdout for a protocol (MCP over stdio): `enclave mcp` and `serveMcpStdio` of
 * `@enclave-kit/mcp` use this one guard.
 */
import type { Writable } from 'node:stream';

/** A guard in place: `protocol` is the way to the real stdout; `release()` puts everything back (once). */
export interface StdoutGuard {
  readonly protocol: Writable;
  release(): void;
}

const ignore = (): void => undefined;

/**
 * Keeps `process.stdout` for a protocol until `release()`: a module prints as it loads and as its code
 * runs, and a line there that is not the protocol's breaks the client's connection. Meanwhile every
 * console method (Node's `console.dir`, `dirxml`, and a `table` or `count` through `log`, write to
 * stdout by themselves) and `process.stdout.write` itself go to stderr; `protocol` is the stream that
 * still reaches stdout, for the protocol alone. Bytes written to file descriptor 1 directly, by a child
 * process that inherits it, or through a `write` function kept from before the guard, are beyond it.
 */
export function guardStdout(): StdoutGuard {
  // Node's own Console: the global `console` may be another's (a test runner's), without `Console`.
  const { Console } = process.getBuiltinModule('node:console') as typeof import('node:console');
  const { Writable } = process.getBuiltinModule('node:stream') as typeof import('node:stream');
  const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr }) as unknown as Record<string, unknown>;
  const global = console as unknown as Record<string, unknown>;
  const saved: [string, unknown][] = [];
  for (const key of Object.keys(global)) {
    if (key !== 'Console' && typeof global[key] === 'function' && typeof toStderr[key] === 'function') {
      saved.push([key, global[key]]);
      global[key] = toStderr[key];
    }
  }
  const out = process.stdout;
  const ownWrite = Object.getOwnPropertyDescriptor(out, 'write');
  const write = out.write as (chunk: Buffer, done: (error?: Error | null) => void) => boolean;
  // The protocol's way to stdout: each chunk is done when stdout has taken it, so a client that does not
  // read fills this stream's buffer, and the transport sees backpressure as it did on stdout itself.
  const protocol = new Writable({
    write: (chunk: Buffer, _encoding, done) => void write.call(out, chunk, (error) => done(error ?? null)),
    final: (done) => done(),
  });
  const failed = (error: Error) => protocol.destroy(error);
  out.on('error', failed);
  protocol.on('error', ignore); // reported to the transport by its own listener; never uncaught
  out.write = ((chunk: unknown, encoding?: unknown, done?: unknown) => (process.stderr.write as (...a: unknown[]) => boolean)(chunk, encoding, done)) as typeof out.write;
  let released = false;
  return {
    protocol,
    release() {
      if (released) return;
      released = true;
      for (const [key, value] of saved) global[key] = value;
      if (ownWrite) Object.defineProperty(out, 'write', ownWrite);
      else delete (out as { write?: unknown }).write;
      out.off('error', failed);
      // As the SDK's transport leaves its own: a client gone (EPIPE) after the server closed is no crash.
      if (!out.listeners('error').includes(ignore)) out.on('error', ignore);
    },
  };
}
