/** A redis-server this process started (see redis-server.mjs). */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:{port}` */
  readonly url: string;
  readonly pid: number | undefined;
  /** Stops the server; `start()` brings it back on the same port, empty. */
  halt(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  stop(): Promise<void>;
}

/** Throws a message that says what to install when there is no redis-server; returns its version line. */
export function requireRedisServer(): string;
/** One PING over a fresh socket: true if the server answered PONG within `ms`. */
export function ping(port: number, ms?: number): Promise<boolean>;
export function startRedisServer(options?: { port?: number }): Promise<RedisServer>;
