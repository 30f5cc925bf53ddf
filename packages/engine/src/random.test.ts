import { expect, it } from 'vitest';
import { randomBytes } from './random.js';

it('hands out bytes no other use took, across refills of the pool', () => {
  // 600 draws of 16 bytes cross the 4 KiB pool twice; 16 random bytes repeat with probability ~2^-128.
  const seen = new Set<string>();
  for (let i = 0; i < 600; i++) {
    const b = randomBytes(16);
    expect(b.length).toBe(16);
    seen.add(b.toString('hex'));
  }
  expect(seen.size).toBe(600);
});
