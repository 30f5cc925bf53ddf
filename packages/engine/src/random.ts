/**
 * Random bytes from the CSPRNG, drawn 4 KiB at a time: a draw per use cost a system call per run (a
 * session id, the seed of a run's own `Math.random()`). Each use takes bytes no other use took.
 */
const POOL_BYTES = 4096;
let pool: Buffer = Buffer.alloc(0);
let offset = 0;
/** The kernel's CSPRNG device, until reading it fails once (no such device, a permission model). */
let device = process.platform !== 'win32';

/** `n` random bytes (at most 4 KiB) never handed out before, as a view into the pool. */
export function randomBytes(n: number): Buffer {
  if (offset + n > pool.length) {
    pool = draw();
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + n);
  offset += n;
  return bytes;
}

/**
 * A new pool. The first `crypto.getRandomValues` of a process loads Node's WebCrypto (14-26 M
 * instructions, a tenth of a cold start, for the first run's seed); the kernel's device, the source the
 * CSPRNG behind it reads too, costs two system calls through `fs`, which Node has loaded at startup.
 */
function draw(): Buffer {
  if (device) {
    try {
      const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
      const fd = fs.openSync('/dev/urandom', 'r');
      try {
        const bytes = Buffer.allocUnsafe(POOL_BYTES);
        if (fs.readSync(fd, bytes, 0, POOL_BYTES, null) === POOL_BYTES) return bytes;
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // Below.
    }
    device = false;
  }
  return Buffer.from(crypto.getRandomValues(new Uint8Array(POOL_BYTES)));
}
