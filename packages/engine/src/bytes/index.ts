/**
 * `@enclave-kit/engine/bytes`: plumbing for the packages that read a peer's byte stream under a cap
 * (`@enclave-kit/mcp`'s stdio lines, `@enclave-kit/redis`'s runtime frames), so that they bound it as the
 * HTTP core bounds a request body. An app never imports this.
 *
 * @example
 * ```ts
 * import { BoundedBuffer } from '@enclave-kit/engine/bytes';
 *
 * const line = new BoundedBuffer({ alloc: Buffer.allocUnsafe, minCapacity: 1024 });
 * if (!line.appendWithin(chunk, maxLineBytes)) dropTheLine();
 * ```
 */
export { BoundedBuffer } from './bounded-buffer.js';
export type { BoundedBufferOptions } from './bounded-buffer.js';
