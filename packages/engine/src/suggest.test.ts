import { describe, expect, it } from 'vitest';
import { closeNames, editDistance } from './suggest.js';

describe('closeNames (one "did you mean" for globals and tools)', () => {
  it('ranks a case-only slip first, then by edit distance, then alphabetically', () => {
    expect(closeNames('json', ['Jason', 'Math', 'JSON'])).toEqual(['JSON', 'Jason']);
    expect(closeNames('orders:gte', ['orders:get', 'orders:list', 'docs:search'])).toEqual(['orders:get']);
    expect(closeNames('ecko', ['echo', 'fail'])).toEqual(['echo']);
  });

  it('allows more edits for longer names, none below three characters', () => {
    expect(closeNames('ab', ['ac', 'abc'])).toEqual([]);
    expect(closeNames('abc', ['abd', 'xyz'])).toEqual(['abd']);
    expect(closeNames('parseIntt', ['parseInt', 'parseFloat'])).toEqual(['parseInt']);
  });

  it('counts containment only with partial: namespaced tool names', () => {
    expect(closeNames('list', ['users:list', 'orders:list', 'ping'])).toEqual([]);
    expect(closeNames('list', ['users:list', 'orders:list', 'ping'], { partial: true })).toEqual(['orders:list', 'users:list']);
    expect(closeNames('user:get', ['users:get'], { partial: true })).toEqual(['users:get']);
  });

  it('never offers the name itself, and stops at max', () => {
    expect(closeNames('Math', ['Math', 'math'])).toEqual(['math']);
    expect(closeNames('a:b', ['a:b:1', 'a:b:2', 'a:b:3', 'a:b:4'], { partial: true, max: 2 })).toEqual(['a:b:1', 'a:b:2']);
  });

  it('compares no edit distance for very long names', () => {
    const long = 'x'.repeat(60);
    expect(closeNames(long, [`${long}y`])).toEqual([]);
    expect(closeNames(long, [long.toUpperCase()])).toEqual([long.toUpperCase()]);
  });

  it('editDistance gives up past its limit', () => {
    expect(editDistance('kitten', 'sitting', 3)).toBe(3);
    expect(editDistance('kitten', 'sitting', 1)).toBe(2);
  });
});
