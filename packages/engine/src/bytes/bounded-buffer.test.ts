import { describe, expect, it } from 'vitest';
import { BoundedBuffer } from './bounded-buffer.js';

const bytes = (...values: number[]) => Uint8Array.from(values);
const zeroed = (size: number) => new Uint8Array(size);

describe('BoundedBuffer', () => {
  it('holds what was appended, in order, across growths', () => {
    const buffer = new BoundedBuffer({ alloc: zeroed, minCapacity: 4 });
    for (let i = 0; i < 100; i++) buffer.append(bytes(i, i + 1), 1000);
    expect(buffer.length).toBe(200);
    expect([...buffer.view()]).toEqual(Array.from({ length: 100 }, (_, i) => [i, i + 1]).flat());
  });

  it('starts at minCapacity and doubles, never past the cap but always for the whole chunk', () => {
    const buffer = new BoundedBuffer({ alloc: zeroed, minCapacity: 16 });
    const capacities: number[] = [];
    for (let i = 0; i < 100; i++) {
      buffer.append(bytes(1), 100);
      if (capacities.at(-1) !== buffer.capacity) capacities.push(buffer.capacity);
    }
    expect(capacities).toEqual([16, 32, 64, 100]);
    // A chunk larger than the cap still goes in whole, in a buffer just large enough.
    buffer.append(new Uint8Array(50), 100);
    expect(buffer.capacity).toBe(150);
    // A cap below minCapacity bounds the first allocation.
    const small = new BoundedBuffer({ alloc: zeroed, minCapacity: 16 });
    small.append(bytes(1, 2), 5);
    expect(small.capacity).toBe(5);
  });

  it('appendWithin refuses a chunk past the limit and keeps what it held', () => {
    const buffer = new BoundedBuffer({ alloc: zeroed, minCapacity: 1024 });
    expect(buffer.appendWithin(bytes(1, 2, 3), 5)).toBe(true);
    expect(buffer.capacity).toBe(5);
    expect(buffer.appendWithin(bytes(4, 5, 6), 5)).toBe(false);
    expect([...buffer.view()]).toEqual([1, 2, 3]);
    expect(buffer.appendWithin(bytes(4, 5), 5)).toBe(true);
    expect([...buffer.view()]).toEqual([1, 2, 3, 4, 5]);
    expect(buffer.appendWithin(new Uint8Array(0), 5)).toBe(true);
    expect(buffer.appendWithin(bytes(6), 5)).toBe(false);
  });

  it('costs its limit at most, however the bytes are cut: a million one-byte appends within 1 MiB', () => {
    const limit = 1024 * 1024;
    const buffer = new BoundedBuffer({ alloc: zeroed, minCapacity: 16 * 1024 });
    const one = bytes(7);
    let refused = 0;
    for (let i = 0; i < limit + 10; i++) if (!buffer.appendWithin(one, limit)) refused++;
    expect(buffer.length).toBe(limit);
    expect(buffer.capacity).toBe(limit);
    expect(refused).toBe(10);
  });

  it('discard moves what is left to the front, shrinks a large buffer mostly read, and lets an emptied large one go', () => {
    const buffer = new BoundedBuffer({ alloc: zeroed, minCapacity: 8, keepCapacity: 64 });
    buffer.append(bytes(1, 2, 3, 4, 5), 100);
    buffer.discard(2);
    expect([...buffer.view()]).toEqual([3, 4, 5]);
    expect(buffer.capacity).toBe(8);
    // Over keepCapacity, less than a quarter left: a buffer of just what is left.
    buffer.append(new Uint8Array(97).fill(9), 100);
    expect(buffer.capacity).toBe(100);
    buffer.discard(80);
    expect(buffer.length).toBe(20);
    expect(buffer.capacity).toBe(20);
    expect([...buffer.view()]).toEqual(Array.from({ length: 20 }, () => 9));
    // Over keepCapacity with a quarter or more left: kept, compacted.
    buffer.append(new Uint8Array(80).fill(8), 100);
    buffer.discard(75);
    expect(buffer.capacity).toBe(100);
    expect([...buffer.view()]).toEqual(Array.from({ length: 25 }, () => 8));
    buffer.clear();
    expect(buffer.length).toBe(0);
    expect(buffer.capacity).toBe(0);
    // Within keepCapacity an emptied buffer is kept for the next bytes.
    buffer.append(bytes(1), 10);
    buffer.clear();
    expect(buffer.capacity).toBe(8);
    buffer.append(bytes(2), 10);
    expect([...buffer.view()]).toEqual([2]);
    buffer.release();
    expect([buffer.length, buffer.capacity]).toEqual([0, 0]);
  });

  it('allocates with the given function (Buffer.allocUnsafe), and views are of that type', () => {
    const buffer = new BoundedBuffer({ alloc: (size) => Buffer.allocUnsafe(size), minCapacity: 4 });
    buffer.append(Buffer.from('hello'), 100);
    expect(Buffer.isBuffer(buffer.view())).toBe(true);
    expect(buffer.view().toString('utf8')).toBe('hello');
  });
});
