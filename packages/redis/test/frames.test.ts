/**
 * The frames of a direct connection between an app and a runtime node (direct.ts), as a peer of either
 * side may cut them: at any byte, a byte at a time, frames over the cap in between. The peer is input:
 * how it cuts its bytes must not decide how much memory the reader holds.
 */
import { describe, expect, it } from 'vitest';
import { FrameReader } from '../src/runtime/direct.js';
import { prng } from '../../engine/test/prng.js';

function frame(text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

function oversize(length: number): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(length);
  return Buffer.concat([head, Buffer.alloc(length, 0x7b)]);
}

describe('FrameReader', () => {
  it('reads the same frames however the bytes are cut, skips frames over the cap, and takes a cap raised by a frame', () => {
    const texts = ['["hello","n1"]', 'é€😀 split across chunks', '', 'x'.repeat(5000), '["last"]'];
    const stream = Buffer.concat([oversize(200), frame(texts[0] as string), oversize(12_000), frame(texts[1] as string), frame(texts[2] as string), oversize(70_000), frame(texts[3] as string), frame(texts[4] as string)]);
    const random = prng(7);
    const cuts: [string, (i: number) => number][] = [
      ['whole', () => stream.length],
      ['a byte at a time', () => 1],
      ['random', () => 1 + Math.floor(random() * 700)],
    ];
    for (const [name, size] of cuts) {
      const got: string[] = [];
      let over = 0;
      // The first frame read (a hello) raises the cap, as readConnection does after the handshake.
      const reader = new FrameReader(100, (text) => {
        got.push(text);
        reader.maxBytes = 10_000;
      }, () => void over++);
      for (let i = 0; i < stream.length; ) {
        const n = Math.min(size(i), stream.length - i);
        reader.push(stream.subarray(i, i + n));
        i += n;
      }
      expect(got, name).toEqual(texts);
      expect(over, name).toBe(3);
    }
  });

  it('a frame sent a byte at a time costs its bytes, not a Buffer per byte (before: about 240 bytes of memory per byte, 240 MB here)', () => {
    const size = 1_000_000;
    let read = 0;
    const reader = new FrameReader(2 * size, (text) => void (read = text.length), () => {});
    const head = Buffer.alloc(4);
    head.writeUInt32BE(size);
    reader.push(head);
    const before = process.memoryUsage.rss();
    // A Buffer of its own per chunk, as a socket hands them over.
    for (let i = 0; i < size - 1; i++) reader.push(Buffer.allocUnsafeSlow(1).fill(0x78));
    const grown = process.memoryUsage.rss() - before;
    reader.push(Buffer.from('x'));
    expect(read).toBe(size);
    expect(grown).toBeLessThan(64 * 1024 * 1024);
  });
});
