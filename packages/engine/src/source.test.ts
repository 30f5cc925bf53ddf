import { describe, expect, it } from 'vitest';
import { LruCache, textSize } from './source.js';

describe('LruCache', () => {
  it('keeps every entry by default, bounded in entries and in size, oldest use first out', () => {
    const cache = new LruCache<string, number>(2, 10, textSize);
    expect(cache.set('aa', 1)).toBe(true);
    expect(cache.set('bb', 2)).toBe(true);
    expect(cache.get('aa')).toBe(1);
    expect(cache.set('cc', 3)).toBe(true);
    // 'bb' was used least recently.
    expect(cache.get('bb')).toBeUndefined();
    expect(cache.get('aa')).toBe(1);
    // Too large alone: not kept, and the others stay.
    expect(cache.set('x'.repeat(11), 4)).toBe(false);
    expect(cache.size).toBe(2);
    expect(cache.get('cc')).toBe(3);
  });

  it('with admitOnSecondSight keeps a key only when it is offered again', () => {
    const cache = new LruCache<string, number>(2, Infinity, textSize, { admitOnSecondSight: true });
    const long = `${'agent script '.repeat(20)}// never seen`;
    expect(cache.set(long, 1)).toBe(false);
    expect(cache.get(long)).toBeUndefined();
    expect(cache.set(`${long}!`, 2)).toBe(false);
    expect(cache.set(long, 3)).toBe(true);
    expect(cache.get(long)).toBe(3);
    // Once kept, offered again it is replaced, not sighted again.
    expect(cache.set(long, 4)).toBe(true);
    expect(cache.get(long)).toBe(4);
  });

  it('forgets keys sighted once after four times its size in newer sightings', () => {
    const cache = new LruCache<string, number>(2, Infinity, textSize, { admitOnSecondSight: true });
    cache.set('first', 1);
    for (let i = 0; i < 8; i++) cache.set(`other ${i}`, i);
    // 'first' was forgotten: this is its first sight again.
    expect(cache.set('first', 1)).toBe(false);
    expect(cache.set('first', 1)).toBe(true);
  });
});
