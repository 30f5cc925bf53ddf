import type { RedisClient } from './client.js';

/**
 * A message on a channel, or `null`: the channel was (re)subscribed just now, and messages sent while
 * it was not may have been missed (the listener re-reads what it follows).
 */
export type ChannelListener = (message: string | null) => void;

/** The longest message a listener is handed: the session store publishes single letters. */
const MAX_MESSAGE_BYTES = 16;
/** How soon a SUBSCRIBE that failed is tried again. */
const RETRY_MS = 1000;

/**
 * Many listeners over one pub/sub connection: a channel is subscribed when its first listener comes
 * and unsubscribed when its last one goes. Redis delivers a message to a connection once, however many
 * listeners it has here. After the connection comes back (Redis restarted, the network blipped) every
 * channel is subscribed again and its listeners hear `null`, since what was published meanwhile is gone.
 */
export class Channels {
  readonly #connection: RedisClient;
  readonly #listeners = new Map<string, Set<ChannelListener>>();
  /** Channels whose SUBSCRIBE is on its way (queued until the connection is up, or sent). */
  readonly #subscribing = new Set<string>();
  #closed = false;

  constructor(connection: RedisClient) {
    this.#connection = connection;
    // As bytes: a message longer than the store ever publishes (one letter) is dropped before it is
    // decoded, and wakes nobody. Redis cuts the connection for one over its pub/sub output limit (32 MB
    // by default); it comes back as after any drop, and the listeners re-read.
    connection.on('messageBuffer', (channel: unknown, message: unknown) => {
      if (Buffer.isBuffer(channel) && Buffer.isBuffer(message) && message.length <= MAX_MESSAGE_BYTES) this.#deliver(channel.toString(), message.toString());
    });
    // The connection reconnects by itself; meanwhile the stores' commands fail on their own deadlines.
    // Without a listener, ioredis would print every failed reconnect attempt.
    connection.on('error', () => {});
    // Connected (again): subscribe what is not on its way already. ioredis may resubscribe by itself
    // too (autoResubscribe); a second SUBSCRIBE is harmless, and this one tells the listeners.
    connection.on('ready', () => {
      if (this.#closed) return;
      const channels = [...this.#listeners.keys()].filter((channel) => !this.#subscribing.has(channel));
      if (channels.length > 0) this.#subscribe(channels);
    });
  }

  /** Listens on `channel`; returns the function that stops listening. */
  add(channel: string, listener: ChannelListener): () => void {
    let listeners = this.#listeners.get(channel);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(channel, listeners);
      this.#subscribe([channel]);
    }
    listeners.add(listener);
    const own = listeners;
    return () => {
      if (!own.delete(listener) || own.size > 0 || this.#listeners.get(channel) !== own) return;
      this.#listeners.delete(channel);
      if (!this.#closed) this.#connection.unsubscribe(channel).catch(() => {});
    };
  }

  /** Channels with listeners (for tests and operators). */
  get size(): number {
    return this.#listeners.size;
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#connection.disconnect();
  }

  #subscribe(channels: string[]): void {
    for (const channel of channels) this.#subscribing.add(channel);
    const settled = () => {
      for (const channel of channels) this.#subscribing.delete(channel);
    };
    this.#connection.subscribe(...channels).then(
      // Subscribed: whatever happened before this moment is for the listeners to read.
      () => {
        settled();
        for (const channel of channels) this.#deliver(channel, null);
      },
      // Not connected: the `ready` handler subscribes every channel once the connection is back. A
      // SUBSCRIBE lost otherwise (its connection dropped while it was on its way) is tried again.
      () => {
        settled();
        const retry = setTimeout(() => {
          const left = channels.filter((channel) => this.#listeners.has(channel) && !this.#subscribing.has(channel));
          if (!this.#closed && left.length > 0) this.#subscribe(left);
        }, RETRY_MS);
        retry.unref();
      },
    );
  }

  #deliver(channel: string, message: string | null): void {
    const listeners = this.#listeners.get(channel);
    if (listeners === undefined) return;
    for (const listener of Array.from(listeners)) {
      try {
        listener(message);
      } catch {
        // One listener's failure is its own.
      }
    }
  }
}
