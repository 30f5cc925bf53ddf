/**
 * Random bytes from the CSPRNG, drawn 4 KiB at a time: a draw per use cost a system call per run (a
 * session id, the seed of a run's own `Math.random()`). Each use takes bytes no other use took.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** `n` random bytes (at most 4 KiB) never handed out before, as a view into the pool. */
export function randomBytes(n: number): Buffer {
  if (offset + n > pool.length) {
    pool = Buffer.from(crypto.getRandomValues(new Uint8Array(POOL_BYTES)));
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + n);
  offset += n;
  return bytes;
}
