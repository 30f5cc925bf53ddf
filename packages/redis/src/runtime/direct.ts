/**
 * Direct connections between an app instance and the runtime nodes that run its runs. Redis still
 * distributes runs (the stream) and carries presence; once a node has a verified connection
 * to a run's app, that run's conversation (acceptance, entries, tool replies, cancel) goes over it
 * instead of two pub/sub hops through Redis each way. A node that cannot reach the app's address keeps
 * using pub/sub: the direct path is a shortcut, never a requirement.
 *
 * A connection is one TCP stream of frames, each the UTF-8 length of its text in 4 bytes (big-endian),
 * then the text: the same messages as on pub/sub, checked the same way. The node opens it and says
 * `['hello', node, app]`; the app answers `['welcome', app]`. Knowing the app's id is what lets a
 * connection say hello (it is random, and only Redis knows it); a run is bound to a connection only by
 * an acceptance that carries the run's token, which only the node that read the run has.
 */
import type { Socket } from 'node:net';
import { BoundedBuffer } from '@enclave-kit/engine/bytes';
import { checkMessage } from '@enclave-kit/engine/isolation';

/** How long a new connection has to say hello (app side) or to be welcomed (node side). */
export const HANDSHAKE_MS = 2000;
/** The largest frame before the handshake: a hello or a welcome is a few dozen bytes. */
export const HANDSHAKE_FRAME_BYTES = 1024;
/** Connections an app instance keeps, and a node opens, at most; beyond them runs use pub/sub. */
export const MAX_LINKS = 256;
/**
 * How far a signed hello's time may be from the app's clock (machines' clocks differ a little): a hello
 * captured on the network and sent again later is refused.
 */
export const HELLO_FRESH_MS = 30_000;

/** A reader's buffer kept between frames at most; a larger one goes once its frame is read. */
const KEEP_BYTES = 64 * 1024;
/** A reader's first buffer, whatever the frame: most are a few hundred bytes. */
const MIN_HELD_BYTES = 256;

/**
 * The largest frame for messages of at most `maxChars` UTF-16 units (what `checkMessage` counts): a
 * unit takes at most 3 bytes in UTF-8; and the envelope of a signed message (auth.ts), ASCII.
 */
export function frameCap(maxChars: number): number {
  return 3 * maxChars + 256;
}

/**
 * Writes `text` as one frame. A peer that does not read what it is sent (more than `maxQueued` bytes
 * waiting) is cut off rather than buffered without bound; returns false then or when the socket is gone.
 */
export function writeFrame(socket: Socket, text: string, maxQueued: number): boolean {
  if (socket.destroyed) return false;
  const size = Buffer.byteLength(text);
  if (socket.writableLength + size > maxQueued) {
    socket.destroy();
    return false;
  }
  const frame = Buffer.allocUnsafe(4 + size);
  frame.writeUInt32BE(size, 0);
  frame.write(text, 4);
  socket.write(frame);
  return true;
}

/**
 * Cuts a byte stream into frames, each handed to `onFrame` as text as soon as it is complete (so that a
 * handshake handler can raise `maxBytes` before the next frame is read). A frame larger than `maxBytes`
 * is never buffered: `onOversize` hears of it and its bytes are skipped as they come, so the frames
 * after it still line up. Buffers at most one frame and one chunk.
 *
 * What is buffered is bytes in one buffer, never the chunks as they came: a peer can make every chunk
 * one byte (a write per byte with Nagle off: 120,000 a second over loopback), and each chunk kept as a
 * Buffer of its own took about 240 bytes of memory, so one connection inside a frame's cap (tens of
 * MiB) grew its reader by about 30 MB a second, toward gigabytes for one frame.
 */
export class FrameReader {
  /** Bytes of the frame (or header) being read, when a chunk ended inside it. */
  readonly #held = new BoundedBuffer({ alloc: (size) => Buffer.allocUnsafe(size), minCapacity: MIN_HELD_BYTES, keepCapacity: KEEP_BYTES });
  /** The length of the frame being read, once its header is in. */
  #need = -1;
  /** Bytes of an oversized frame still to skip. */
  #skip = 0;

  constructor(
    public maxBytes: number,
    private readonly onFrame: (text: string) => void,
    private readonly onOversize: () => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.#skip > 0) {
      if (chunk.length <= this.#skip) {
        this.#skip -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.#skip);
      this.#skip = 0;
    }
    // Frames whole in this chunk are read from it as it is; only a part left over is copied.
    const held = this.#held.length > 0;
    if (held) this.#held.append(chunk, this.#growthCap());
    const data = held ? this.#held.view() : chunk;
    const end = data.length;
    let at = 0;
    for (;;) {
      if (this.#need < 0) {
        if (end - at < 4) break;
        const length = data.readUInt32BE(at);
        at += 4;
        if (length > this.maxBytes) {
          this.onOversize();
          const here = Math.min(length, end - at);
          at += here;
          this.#skip = length - here;
          if (this.#skip > 0) break;
          continue;
        }
        this.#need = length;
      }
      if (end - at < this.#need) break;
      const text = data.toString('utf8', at, at + this.#need);
      at += this.#need;
      this.#need = -1;
      this.onFrame(text);
    }
    // Keeps `data[at, end)`, the start of the next frame; a large buffer goes once it is read.
    if (held) {
      this.#held.discard(at);
    } else if (at < end) {
      this.#held.append(data.subarray(at, end), this.#growthCap());
    }
  }

  /** The held bytes double within the frame being read (or its header), from MIN_HELD_BYTES. */
  #growthCap(): number {
    return Math.max(this.#need >= 0 ? this.#need : 4, MIN_HELD_BYTES);
  }
}

/** `host:port` of an app's listener as a job names it, checked; undefined if it is not one. */
export function parseAddress(value: unknown): { host: string; port: number } | undefined {
  if (typeof value !== 'string' || value.length > 300) return undefined;
  const match = /^(?:\[([0-9A-Fa-f:.]{2,45})\]|([A-Za-z0-9.-]{1,253})):(\d{1,5})$/.exec(value);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: (match[1] ?? match[2]) as string, port };
}

/** `host:port` for a job, IPv6 literals in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Reads `socket`'s frames: first the handshake (frames of at most HANDSHAKE_FRAME_BYTES, over within
 * HANDSHAKE_MS), each given to `handshake` parsed, until it returns true; then every frame, up to
 * `maxBytes`, to `onMessage`. A handshake frame refused or too large, or no handshake in time, ends the
 * connection; after the handshake a frame over `maxBytes` is skipped (a message dropped, as Redis
 * pub/sub would drop it, not every run on the connection). Also sets the socket's keep-alive, so that a
 * peer whose machine vanished is noticed. With `unwrap` (a shared secret), a handshake frame counts
 * only if it opens (its MAC verifies); the frames after it are the caller's to open.
 */
export function readConnection(socket: Socket, handshake: (message: unknown[]) => boolean, maxBytes: number, onMessage: (text: string) => void, unwrap?: (text: string) => string | undefined): void {
  socket.setKeepAlive(true, 10_000);
  let shaken = false;
  const timer = setTimeout(() => socket.destroy(), HANDSHAKE_MS);
  timer.unref();
  const onFrame = (text: string) => {
    if (socket.destroyed) return;
    if (shaken) {
      onMessage(text);
      return;
    }
    let message: unknown[] | undefined;
    try {
      message = checkMessage(unwrap === undefined ? text : unwrap(text), HANDSHAKE_FRAME_BYTES).message;
    } catch {
      message = undefined;
    }
    if (message === undefined || !handshake(message)) {
      socket.destroy();
      return;
    }
    shaken = true;
    clearTimeout(timer);
    reader.maxBytes = maxBytes;
  };
  const reader = new FrameReader(HANDSHAKE_FRAME_BYTES, onFrame, () => {
    if (!shaken) socket.destroy();
  });
  socket.on('close', () => clearTimeout(timer));
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    if (!socket.destroyed) reader.push(chunk);
  });
}
