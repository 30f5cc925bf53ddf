/** What a BoundedBuffer allocates, how large it starts, and what it keeps when emptied. */
export interface BoundedBufferOptions<B extends Uint8Array> {
  /**
   * Allocates `size` bytes. Every byte is written before the buffer lets it be read, so `Buffer.allocUnsafe`
   * is fine; code that has no Buffer (the Fetch core) passes `(size) => new Uint8Array(size)`.
   */
  alloc: (size: number) => B;
  /** The first allocation at least, unless the cap of that append is lower. */
  minCapacity: number;
  /**
   * A buffer larger than this is let go once it is emptied (one long line or frame does not hold its
   * memory for good), and one four times larger than what is left of it is shrunk. Default 64 KiB.
   */
  keepCapacity?: number;
}

const KEEP_CAPACITY = 64 * 1024;

/**
 * Bytes read from a stream, copied as they come into one buffer that doubles, within a cap. A peer
 * decides how a stream is cut (a body of one-byte chunks, a write per byte): each chunk kept as an
 * object of its own costs a few hundred bytes of memory per byte, so the bytes are copied out of the
 * chunks at once and the chunks are garbage. Growth never doubles past the cap an append names: a
 * buffer filled to a limit holds at most the limit (or what one append must hold, if that is more).
 *
 * Used by the HTTP core's body reader, the stdio MCP server's line reader and the Redis runtime's frame
 * reader; exported through `@enclave-kit/engine/bytes` for the latter two.
 *
 * @example
 * ```ts
 * const body = new BoundedBuffer({ alloc: (n) => new Uint8Array(n), minCapacity: 16 * 1024 });
 * for await (const chunk of stream) if (!body.appendWithin(chunk, maxBodySize)) throw new PayloadTooLargeError(maxBodySize);
 * const bytes = body.view();
 * ```
 */
export class BoundedBuffer<B extends Uint8Array = Uint8Array> {
  readonly #alloc: (size: number) => B;
  readonly #minCapacity: number;
  readonly #keepCapacity: number;
  /** The bytes held are `#bytes[0, #length)`. */
  #bytes: B;
  #length = 0;

  constructor(options: BoundedBufferOptions<B>) {
    this.#alloc = options.alloc;
    this.#minCapacity = options.minCapacity;
    this.#keepCapacity = options.keepCapacity ?? KEEP_CAPACITY;
    this.#bytes = this.#alloc(0);
  }

  /** Bytes held. */
  get length(): number {
    return this.#length;
  }

  /** Bytes allocated: what the buffer costs, held or not. */
  get capacity(): number {
    return this.#bytes.length;
  }

  /** The bytes held: a view that the next append, discard or clear may change or leave behind. */
  view(): B {
    return this.#bytes.subarray(0, this.#length) as B;
  }

  /**
   * Appends `chunk` if the bytes held stay within `limit`; returns false and holds the same bytes as
   * before if not. Never allocates more than `limit` bytes.
   */
  appendWithin(chunk: Uint8Array, limit: number): boolean {
    if (this.#length + chunk.length > limit) return false;
    this.append(chunk, limit);
    return true;
  }

  /**
   * Appends all of `chunk`. Room is made by doubling (from `minCapacity`), never past `cap`, but always
   * for the whole chunk: the caller bounds what it appends (appendWithin does).
   */
  append(chunk: Uint8Array, cap: number): void {
    const size = this.#length + chunk.length;
    if (size > this.#bytes.length) {
      const bigger = this.#alloc(Math.max(size, Math.min(cap, Math.max(2 * this.#bytes.length, this.#minCapacity))));
      bigger.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = bigger;
    }
    this.#bytes.set(chunk, this.#length);
    this.#length = size;
  }

  /**
   * Drops the first `count` bytes held (those read). What is left moves to the front; a buffer over
   * `keepCapacity` is replaced by one just large enough when less than a quarter of it is left, and let
   * go when nothing is.
   */
  discard(count: number): void {
    const left = this.#length - Math.min(count, this.#length);
    const large = this.#bytes.length > this.#keepCapacity;
    if (left > 0 && large && left * 4 < this.#bytes.length) {
      const smaller = this.#alloc(left);
      smaller.set(this.#bytes.subarray(this.#length - left, this.#length));
      this.#bytes = smaller;
    } else if (left > 0) {
      this.#bytes.copyWithin(0, this.#length - left, this.#length);
    } else if (large) {
      this.#bytes = this.#alloc(0);
    }
    this.#length = left;
  }

  /** Drops every byte held; keeps the buffer for the next bytes unless it is over `keepCapacity`. */
  clear(): void {
    this.discard(this.#length);
  }

  /** Drops every byte held and the buffer, whatever its size (the stream is over). */
  release(): void {
    this.#bytes = this.#alloc(0);
    this.#length = 0;
  }
}
